#!/usr/bin/env node
// Measures patgate's revocation bound from several regions (README, "Measuring the bound in
// production"). Each round creates a token through the console API, has the probe Worker poll
// it from every region, deletes it, and records how long each region still said "valid".
//
//   PATGATE_SESSION='__Host-patgate_session=…' PROBE_SECRET=… node tools/probe/run.mjs \
//     --probe https://patgate-revocation-probe.<account>.workers.dev --api https://api.example.com \
//     --regions wnam,enam,sam,weur,eeur,apac,oc,afr,me --rounds 5 [--bound-ms 3000] [--json]
//
// Each region sends about 25 refused requests per round (every 200 ms for 5 s after the
// deletion), and patgate allows 60 refusals per minute per address (FAILED_TOKEN_LIMITER): the
// rounds are spaced by --pause-ms (30 s) so that the probe is never rate limited.
// Exit status 1 if any region answered "valid" more than --bound-ms after DELETE answered, or
// never saw the token valid (the measurement would prove nothing), or never saw it refused.
import { parseArgs } from 'node:util';

const { values: options } = parseArgs({
  options: {
    probe: { type: 'string' },
    api: { type: 'string' },
    regions: { type: 'string', default: 'wnam,enam,weur,apac' },
    rounds: { type: 'string', default: '3' },
    'bound-ms': { type: 'string', default: '3000' },
    'poll-ms': { type: 'string', default: '200' },
    'watch-ms': { type: 'string', default: '5000' },
    'pause-ms': { type: 'string', default: '30000' },
    json: { type: 'boolean', default: false },
  },
});
const session = process.env.PATGATE_SESSION;
const secret = process.env.PROBE_SECRET;
if (!options.probe || !options.api || !session || !secret) {
  console.error('usage: PATGATE_SESSION=… PROBE_SECRET=… node tools/probe/run.mjs --probe URL --api URL [--regions a,b] [--rounds N]');
  process.exit(2);
}
const api = options.api.replace(/\/$/, '');
const regions = options.regions.split(',').filter(Boolean);
const bound = Number(options['bound-ms']);

async function createToken(round) {
  const res = await fetch(`${api}/console/api/tokens`, {
    method: 'POST',
    headers: { Cookie: session, Origin: api, 'X-Requested-With': 'patgate-console', 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: `revocation probe ${round + 1}`, expires_in_days: 1 }),
  });
  if (res.status !== 201) throw new Error(`creating the probe token: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

const byRegion = new Map(regions.map((region) => [region, []]));
for (let round = 0; round < Number(options.rounds); round += 1) {
  if (round > 0) await new Promise((resolve) => { setTimeout(resolve, Number(options['pause-ms'])); });
  const created = await createToken(round);
  const res = await fetch(`${options.probe.replace(/\/$/, '')}/run`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      api, token: created.token, tokenId: created.id, cookie: session, regions,
      pollMs: Number(options['poll-ms']), watchMs: Number(options['watch-ms']),
    }),
  });
  const outcome = await res.json();
  if (res.status !== 200) throw new Error(`probe: HTTP ${res.status} ${JSON.stringify(outcome)}`);
  for (const seen of outcome.regions) byRegion.get(seen.region).push(seen);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const report = [...byRegion].map(([region, rounds]) => ({
  region,
  colos: [...new Set(rounds.map((r) => r.colo).filter(Boolean))].join(' ') || '?',
  staleP50Ms: median(rounds.map((r) => r.staleMs)),
  staleMaxMs: Math.max(...rounds.map((r) => r.staleMs)),
  refusedP50Ms: median(rounds.map((r) => r.refusedAfterMs ?? Infinity)),
  sawValid: rounds.every((r) => r.validBefore > 0),
  sawRefused: rounds.every((r) => r.refusedAfterMs !== null),
  limited: rounds.reduce((sum, r) => sum + r.limited, 0),
  errors: rounds.reduce((sum, r) => sum + r.errors, 0),
}));
if (options.json) {
  console.log(JSON.stringify(report));
} else {
  console.log('| region | colo | last valid after DELETE, p50 / max | first refusal, p50 | 429s | errors |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: |');
  for (const r of report) console.log(`| ${r.region} | ${r.colos} | ${r.staleP50Ms} / ${r.staleMaxMs} ms | ${r.refusedP50Ms} ms | ${r.limited} | ${r.errors} |`);
}
const failed = report.filter((r) => r.staleMaxMs > bound || !r.sawValid || !r.sawRefused);
for (const r of failed) console.error(`${r.region}: ${!r.sawValid ? 'never saw the token valid' : !r.sawRefused ? 'never saw it refused' : `valid ${r.staleMaxMs} ms after DELETE answered (bound ${bound} ms)`}`);
process.exit(failed.length === 0 ? 0 : 1);
