// The no-op Worker's answer, from an isolate that has loaded patgate's bundle (worker-build's
// glue evaluated, its wasm instantiated) without ever calling it: what the bundle's size alone
// costs every request, before any of patgate's code runs.
import '../../../worker/build/index.js';

export default {
  fetch() {
    return new Response('{"ok":true}', { headers: { 'Content-Type': 'application/json' } });
  },
};
