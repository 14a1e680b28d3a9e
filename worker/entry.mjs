// The Worker's entry module (wrangler.toml `main`), copied next to worker-build's output
// (worker/build/, worker/build-lag/) by the Makefile.
//
// worker-build's default export is an entrypoint class behind Proxies: per request the runtime
// constructs it, and every method read and call goes through a trap and an extra promise. The
// fetch handler here calls the wasm export `serve` (worker/src/platform/entry.rs) directly,
// handing it the three strings every route needs; it answers with a Response, or with a promise
// of one only when it has I/O to wait for. worker-build sets each wasm export that is not a
// known handler on that class's prototype, which the Proxy passes through untouched: that is
// where `serve` is read from.
//
// Recovery: a panic aborts the wasm instance. workers-rs's panic hook raises `criticalError` in
// its state on globalThis, and entry.rs schedules the instance's replacement, which the glue
// performs at the start of the next export call. That call is `replaceInstance`, made before
// `serve`, because `serve`'s glue writes the request's strings into wasm memory before it
// checks. The Durable Object classes keep worker-build's wrappers, which make their objects again
// on a new instance. tests/e2e/faults.test.mjs proves the recovery.
import Entrypoint, { RevocationFeed, UserLedger } from './index.js';

const { serve, replace_instance: replaceInstance } = Entrypoint.prototype;
if (typeof serve !== 'function' || typeof replaceInstance !== 'function') {
  throw new Error("worker-build's output lacks the `serve` and `replace_instance` exports on its entrypoint's prototype");
}
const state = globalThis.__worker_init_state;

export default {
  fetch(request, env, ctx) {
    if (state.criticalError) {
      state.criticalError = false;
      replaceInstance();
    }
    return serve(request, env, ctx, request.url, request.method, request.headers.get('Authorization'));
  },
};

export { RevocationFeed, UserLedger };
