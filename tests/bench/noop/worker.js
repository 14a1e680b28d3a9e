// `make bench`'s floor: answers at once, reading nothing.
export default {
  fetch() {
    return new Response('{"ok":true}', { headers: { 'Content-Type': 'application/json' } });
  },
};
