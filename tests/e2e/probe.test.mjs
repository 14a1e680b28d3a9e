// The production probe (tools/probe, README "Measuring the bound in production"), run here
// against a local patgate: location hints mean nothing under wrangler dev, so this proves the
// probe and its driver work, not the bound (the simulation and lag.test.mjs do that).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { ConsoleClient, ROOT, startWorker } from './harness.mjs';

const SECRET = 'probe-secret';

describe('the revocation probe', () => {
  let patgate;
  let probe;
  before(async () => {
    patgate = await startWorker();
    probe = await startWorker({ config: join(ROOT, 'tools/probe/wrangler.toml'), devLogin: false, vars: { PROBE_SECRET: SECRET } });
  });
  after(async () => {
    await probe?.stop();
    await patgate?.stop();
  });

  test('every region sees the token valid, then refused within the bound', async () => {
    const user = await ConsoleClient.signIn(patgate.base, 'probe@example.com');
    const { stdout } = await promisify(execFile)(process.execPath, [
      join(ROOT, 'tools/probe/run.mjs'), '--probe', probe.base, '--api', patgate.base,
      '--regions', 'wnam,weur', '--rounds', '1', '--watch-ms', '3000', '--json',
    ], { env: { ...process.env, PATGATE_SESSION: user.cookie, PROBE_SECRET: SECRET } });
    const report = JSON.parse(stdout);
    assert.deepEqual(report.map((r) => r.region), ['wnam', 'weur']);
    for (const region of report) {
      assert.ok(region.sawValid && region.sawRefused, JSON.stringify(region));
      assert.ok(region.staleMaxMs <= 3_000, JSON.stringify(region));
      assert.equal(region.errors + region.limited, 0);
    }
    const { tokens } = await (await user.request('GET', '/console/api/tokens')).json();
    assert.deepEqual(tokens, [], 'the probe deleted its token');
  });

  test('the probe runs only for whoever holds its secret', async () => {
    for (const headers of [{}, { Authorization: 'Bearer wrong' }]) {
      const res = await fetch(`${probe.base}/run`, { method: 'POST', headers, body: '{}' });
      assert.equal(res.status, 401);
    }
  });
});
