#!/usr/bin/env bash
# Builds the bundle floor as the Makefile builds the release Worker (worker-build --release, then
# wasm-opt stripping the names and producers, with the Makefile's WASM_FEATURES) and prints the
# stripped wasm's size, raw and gzipped (gzip -9).
#
#   tests/bench/bundle-floor/measure.sh [--hello | --core] [--keep DIR]
#
# --hello      the fetch event alone (the `hello` feature): workers-rs's own base
# --core       the floor plus patgate's pure core, each part of its API that the Worker uses
#              called once (the `core` feature)
# --keep DIR   keep the build in DIR (index_bg.wasm as worker-build left it, with its names,
#              for twiggy; stripped.wasm as measured) instead of a temporary directory
#
# Tools as the Makefile provides them: worker-build and wasm-bindgen from $CARGO_HOME/bin
# (`make bootstrap` installs them), esbuild and wasm-opt from the repository's node_modules, each
# overridable by WASM_BINDGEN_BIN, ESBUILD_BIN and WASM_OPT_BIN.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)

features=()
variant=
keep=
while (($#)); do
  case $1 in
    --hello) features=(--features hello); variant=" (hello)" ;;
    --core) features=(--features core); variant=" (core)" ;;
    --keep) keep=${2:?--keep needs a directory}; shift ;;
    *) echo "usage: $0 [--hello | --core] [--keep DIR]" >&2; exit 2 ;;
  esac
  shift
done

cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
export PATH="$cargo_bin:$repo/node_modules/.bin:$PATH"
# With these set, worker-build downloads nothing.
export WASM_BINDGEN_BIN=${WASM_BINDGEN_BIN:-$cargo_bin/wasm-bindgen}
export ESBUILD_BIN=${ESBUILD_BIN:-$repo/node_modules/.bin/esbuild}
export WASM_OPT_BIN=${WASM_OPT_BIN:-$repo/node_modules/.bin/wasm-opt}

# The wasm-bindgen CLI must match the crate exactly (as the Makefile checks against its lock).
wanted=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' "$here/Cargo.lock")
if ! "$WASM_BINDGEN_BIN" --version | grep -qx "wasm-bindgen $wanted"; then
  echo "$WASM_BINDGEN_BIN is not wasm-bindgen $wanted, which Cargo.lock here pins: make bootstrap" \
    "installs the root's; if that is the one, sync this Cargo.lock with the root's (check-lock.mjs)" >&2
  exit 1
fi

# The Makefile's own list, so that both builds strip alike.
listed=$(make -s -C "$repo" --no-print-directory \
  --eval 'print-wasm-features: ; @echo $(WASM_FEATURES)' print-wasm-features)
read -ra wasm_features <<<"$listed"
if ((${#wasm_features[@]} == 0)); then
  echo "the Makefile's WASM_FEATURES is empty or unreadable" >&2
  exit 1
fi

if [[ -n $keep ]]; then
  mkdir -p "$keep"
  out=$(cd "$keep" && pwd)
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

(cd "$here" && worker-build --release --out-dir "$out" --locked "${features[@]}") >&2
"$WASM_OPT_BIN" "${wasm_features[@]}" --strip-debug --strip-producers "$out/index_bg.wasm" \
  -o "$out/stripped.wasm"

size() { printf '%s bytes raw, %s bytes gzipped' "$(wc -c <"$1")" "$(gzip -9c "$1" | wc -c)"; }
echo "bundle floor$variant"
echo "  stripped wasm (as the release bundle): $(size "$out/stripped.wasm")"
echo "  worker-build's wasm (with names):      $(size "$out/index_bg.wasm")"
