// Serves a Worker under Miniflare directly (workerd without the `wrangler dev` proxy), for
// measurements where the proxy's own cost and memory would hide the Worker's: `make load` and
// `make bench`. Bindings come from the Worker's wrangler.toml, as `wrangler dev` reads them.
//
// Usage: node serve-direct.mjs '<json: { config, script, vars, stateDir, inspectorPort }>';
// prints "ready <url>" once listening, and serves until killed. State persists under stateDir
// in the layout `wrangler dev --persist-to` uses, so wrangler's `--local` commands reach it.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';

const { config, script, vars = {}, stateDir, inspectorPort } = JSON.parse(process.argv[2]);
const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
const miniflare = new Miniflare({
  ...workerOptions,
  modules: true,
  scriptPath: script,
  // Module names relative to the repository, so that a bench Worker may import patgate's bundle.
  modulesRoot: join(dirname(fileURLToPath(import.meta.url)), '..', '..'),
  // worker-build's output is ES modules (its package.json says so; Miniflare reads no package.json).
  modulesRules: [{ type: 'ESModule', include: ['**/*.js', '**/*.mjs'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }],
  bindings: { ...workerOptions.bindings, ...vars },
  host: '127.0.0.1',
  port: 0,
  kvPersist: join(stateDir, 'v3', 'kv'),
  durableObjectsPersist: join(stateDir, 'v3', 'do'),
  cachePersist: join(stateDir, 'v3', 'cache'),
  ...(inspectorPort ? { inspectorPort } : {}),
});
const url = await miniflare.ready;
console.log(`ready ${url.origin}`);
process.on('SIGTERM', async () => {
  await miniflare.dispose();
  process.exit(0);
});
