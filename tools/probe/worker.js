// The revocation probe (README, "Measuring the bound in production").
//
// POST /run (Authorization: Bearer <PROBE_SECRET>) with {api, token, tokenId, cookie, regions,
// pollMs, warmMs, watchMs}: one RegionProbe Durable Object per region, placed with that location
// hint, polls `${api}/auth/v1/verify` with the token; after `warmMs` the coordinator deletes the
// token through the console API (the session cookie) and notes when DELETE answered; each region
// reports the last "valid" answer to a request sent after that, and the first refusal. The
// clocks are Cloudflare's (NTP), so times compare across regions to a few milliseconds.

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

export class RegionProbe {
  async fetch(request) {
    const { api, token, pollMs, untilMs } = await request.json();
    // Which Cloudflare location serves this region's requests to the API.
    let colo = null;
    try {
      colo = /^colo=(\w+)$/m.exec(await (await fetch(`${api}/cdn-cgi/trace`)).text())?.[1] ?? null;
    } catch { /* not a Cloudflare zone (local runs) */ }
    const samples = [];
    while (Date.now() < untilMs) {
      const sentAt = Date.now();
      let status = 0;
      try {
        const res = await fetch(`${api}/auth/v1/verify`, { headers: { Authorization: `Bearer ${token}` } });
        status = res.status;
        await res.arrayBuffer();
      } catch { /* status 0: the API could not be reached */ }
      samples.push([sentAt, status]);
      await sleep(pollMs);
    }
    return Response.json({ colo, samples });
  }
}

/** What one region saw, relative to the moment DELETE answered. */
export function summarize(region, { colo, samples }, answeredAt) {
  const after = samples.filter(([sentAt]) => sentAt >= answeredAt);
  const lastValid = after.filter(([, status]) => status === 200).at(-1);
  const firstRefused = after.find(([, status]) => status === 401);
  return {
    region,
    colo,
    validBefore: samples.filter(([sentAt, status]) => sentAt < answeredAt && status === 200).length,
    staleMs: lastValid ? lastValid[0] - answeredAt : 0,
    refusedAfterMs: firstRefused ? firstRefused[0] - answeredAt : null,
    // patgate's FAILED_TOKEN_LIMITER answers 429 once an address has had 60 refusals in a minute.
    limited: samples.filter(([, status]) => status === 429).length,
    errors: samples.filter(([, status]) => ![200, 401, 429].includes(status)).length,
    requests: samples.length,
  };
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.method === 'GET' && url.pathname === '/') return new Response('patgate revocation probe: POST /run\n');
    if (request.method !== 'POST' || url.pathname !== '/run') return new Response('not found\n', { status: 404 });
    if (!env.PROBE_SECRET || request.headers.get('Authorization') !== `Bearer ${env.PROBE_SECRET}`) {
      return new Response('unauthorized\n', { status: 401 });
    }
    const { api, token, tokenId, cookie, regions, pollMs = 200, warmMs = 3_000, watchMs = 5_000 } = await request.json();
    const untilMs = Date.now() + warmMs + watchMs;
    const polls = regions.map((region) => {
      const stub = env.PROBE.get(env.PROBE.idFromName(region), { locationHint: region });
      const body = JSON.stringify({ api, token, pollMs, untilMs });
      return stub.fetch('https://probe.internal/poll', { method: 'POST', body }).then((res) => res.json());
    });
    await sleep(warmMs);
    const deleted = await fetch(`${api}/console/api/tokens/${encodeURIComponent(tokenId)}`, {
      method: 'DELETE',
      headers: { Cookie: cookie, Origin: api, 'X-Requested-With': 'patgate-console', 'Content-Type': 'application/json' },
      body: '{}',
    });
    const answeredAt = Date.now();
    const seen = await Promise.all(polls);
    if (deleted.status !== 204) return Response.json({ error: `DELETE answered ${deleted.status}` }, { status: 502 });
    return Response.json({ regions: seen.map((result, i) => summarize(regions[i], result, answeredAt)) });
  },
};
