// The reference: a plain-JS Worker that does nothing but answer. Its cost is the runtime's floor.
export default {
  async fetch() {
    return new Response('{"ok":true}', { headers: { 'Content-Type': 'application/json' } });
  },
};
