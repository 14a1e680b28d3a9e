// Where the Worker's wasm goes: its code and data grouped by what put them there.
// `node tests/bench/bundle-profile.mjs [wasm]` reads a wasm that still has its name section
// (default: build/index_bg.named.wasm, the release build before the Makefile strips its names)
// and prints each group's bytes of function bodies and data segments, with their share. Part of
// `make bench`, beside the bundle floor (tests/bench/bundle-floor).
//
// Names are wasm-bindgen's demangled Rust paths. A function belongs to the crate its path starts
// with (for `<T as Trait>::f`, T's); code the compiler inlined is counted where it was inlined.
// That is why the async handlers form a group of their own: each request handler, with all it
// awaits, is compiled into one of wasm-bindgen-futures' closures, so their bytes are the
// handler's own code mixed with the library code it calls.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ROOT } from '../e2e/harness.mjs';

const path = process.argv[2] ?? join(ROOT, 'build/index_bg.named.wasm');
const bytes = readFileSync(path);

// The groups, first match wins; anything else is "other".
const GROUPS = [
  // workers-rs's `#[event(fetch)]` (which the bundle floor uses) names its future `_worker_fetch`.
  ['async handlers (with what they inline)', /future_to_promise|_worker_fetch/],
  ['patgate-worker', /^<?(&(mut )?)?(patgate_worker|serve|userledger|revocationfeed)/],
  ['patgate-core', /^<?(&(mut )?)?patgate_core/],
  ['std (core, alloc, formatting, allocator, hash maps)', /^<?(&(mut )?)?(core|alloc|std|dlmalloc|hashbrown|f64|f32|char|str|u8|u32|u64|usize|i64)\b/],
  ['serde, serde_json', /^<?(&(mut )?)?serde/],
  ['wasm-bindgen, js-sys, web-sys glue', /^<?(&(mut )?)?(wasm_bindgen|js_sys|web_sys|__wbg|__wbindgen)|^(import|export)\b/],
  ['workers-rs, futures, streams', /^<?(&(mut )?)?(worker|futures|wasm_streams|pin_project)/],
  ['hashes, HMAC, encodings', /^<?(&(mut )?)?(sha2|hmac|digest|block_buffer|subtle|base64|crc|form_urlencoded|percent_encoding|getrandom|zeroize)/],
];

function reader(buffer, start = 0) {
  let at = start;
  const leb = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = buffer[at++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (byte < 0x80) return value;
    }
  };
  const name = () => {
    const length = leb();
    at += length;
    return buffer.toString('utf8', at - length, at);
  };
  return { leb, name, skip: (n) => { at += n; }, byte: () => buffer[at++], get at() { return at; } };
}

// An active data segment's offset: one constant or global, then `end`.
function skipOffset(section) {
  const op = section.byte();
  if (op !== 0x41 && op !== 0x42 && op !== 0x23) throw new Error(`unexpected opcode 0x${op.toString(16)} in a data segment's offset`);
  section.leb(); // the constant's LEB128 bytes (signed or not, the same length) or the global's index
  if (section.byte() !== 0x0b) throw new Error("a data segment's offset is longer than one instruction");
}

if (bytes.readUInt32LE(0) !== 0x6d736100) throw new Error(`${path} is not a wasm module`);
let importedFunctions = 0;
const functionSizes = [];
const dataSizes = [];
const functionNames = new Map();
for (const r = reader(bytes, 8); r.at < bytes.length;) {
  const id = r.byte();
  const size = r.leb();
  const end = r.at + size;
  const section = reader(bytes, r.at);
  if (id === 2) {
    // Imports: functions imported come first in the function index space.
    for (let count = section.leb(); count > 0; count--) {
      section.name();
      section.name();
      const kind = section.byte();
      if (kind === 0) {
        section.leb();
        importedFunctions++;
      } else if (kind === 1) {
        section.byte();
        const flags = section.leb();
        section.leb();
        if (flags & 1) section.leb();
      } else if (kind === 2) {
        const flags = section.leb();
        section.leb();
        if (flags & 1) section.leb();
      } else if (kind === 3) {
        section.byte();
        section.byte();
      } else if (kind === 4) {
        section.byte();
        section.leb();
      } else {
        throw new Error(`unknown import kind ${kind}`);
      }
    }
  } else if (id === 10) {
    for (let count = section.leb(); count > 0; count--) {
      const bodySize = section.leb();
      functionSizes.push(bodySize);
      section.skip(bodySize);
    }
  } else if (id === 11) {
    for (let count = section.leb(); count > 0; count--) {
      const mode = section.leb();
      if (mode === 2) section.leb();
      if (mode !== 1) skipOffset(section);
      const dataSize = section.leb();
      dataSizes.push(dataSize);
      section.skip(dataSize);
    }
  } else if (id === 0 && section.name() === 'name') {
    while (section.at < end) {
      const kind = section.byte();
      const subsectionEnd = section.leb() + section.at;
      if (kind === 1) {
        for (let count = section.leb(); count > 0; count--) functionNames.set(section.leb(), section.name());
      }
      section.skip(subsectionEnd - section.at);
    }
  }
  r.skip(size);
}
if (functionNames.size === 0) throw new Error(`${path} has no function names: profile the build before its names are stripped`);

const totals = new Map();
const add = (group, size) => totals.set(group, (totals.get(group) ?? 0) + size);
functionSizes.forEach((size, index) => {
  const name = functionNames.get(index + importedFunctions) ?? '';
  add(GROUPS.find(([, pattern]) => pattern.test(name))?.[0] ?? 'other', size);
});
dataSizes.forEach((size) => add('data (strings, tables, vtables)', size));

const total = [...totals.values()].reduce((a, b) => a + b, 0);
console.log(`bundle profile: ${path}`);
console.log(`  ${'group'.padEnd(52)} ${'bytes'.padStart(9)}  share`);
for (const [group, size] of [...totals].sort((a, b) => b[1] - a[1])) {
  console.log(`  ${group.padEnd(52)} ${String(size).padStart(9)}  ${((100 * size) / total).toFixed(1).padStart(5)}%`);
}
console.log(`  ${'code and data'.padEnd(52)} ${String(total).padStart(9)}`);
