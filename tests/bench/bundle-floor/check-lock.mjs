// `make lint`: the bundle floor links the crates patgate links, at the same versions. Its
// Cargo.lock is the root's, pruned; this fails when the two disagree on a package's version (for
// example after the root's wasm-bindgen or serde moves), naming each one, so the floor is synced
// in the same change instead of measuring other crates or failing later in `make bench`.
// (`cargo metadata --locked` in the same lint target checks that the floor's lock is complete.)
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const versions = (path) => {
  const byName = new Map();
  for (const [, name, version] of readFileSync(path, 'utf8').matchAll(/^name = "([^"]+)"\nversion = "([^"]+)"/gm)) {
    byName.set(name, [...(byName.get(name) ?? []), version]);
  }
  return byName;
};
const root = versions(join(here, '../../../Cargo.lock'));
const floor = versions(join(here, 'Cargo.lock'));
const drifted = [...floor]
  .filter(([name]) => name !== 'patgate-bundle-floor')
  .flatMap(([name, list]) => list.filter((version) => !root.get(name)?.includes(version)).map((version) => `${name} ${version}`));
if (drifted.length > 0) {
  console.error(`tests/bench/bundle-floor/Cargo.lock has versions the root's Cargo.lock does not: ${drifted.join(', ')}`);
  console.error("copy the root's Cargo.lock there and run `cargo metadata --manifest-path tests/bench/bundle-floor/Cargo.toml --all-features` to prune it");
  process.exit(1);
}
