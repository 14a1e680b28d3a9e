//! Strings from the runtime into Rust, on the hot path.
//!
//! wasm-bindgen copies a JavaScript string into wasm memory one UTF-16 unit at a time, in a
//! JavaScript loop that the runtime runs unoptimized: a few hundred instructions per character,
//! which made the request's URL and `Authorization` header the largest cost of refusing a
//! mistyped token. `TextEncoder.encodeInto` writes the whole string in one native call.

use js_sys::JsString;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(inline_js = r#"
const encoder = new TextEncoder();
export function utf8_into(text, buffer) {
  return encoder.encodeInto(text, buffer).written;
}
"#)]
extern "C" {
    /// Writes `text` as UTF-8 at the start of `buffer` (a view of wasm memory, which nothing
    /// here can grow while it is in use) and returns the bytes written.
    fn utf8_into(text: &JsString, buffer: &mut [u8]) -> u32;
}

/// The string as Rust's. `None` only if the encoder broke its contract: it writes well-formed
/// UTF-8 (a lone surrogate becomes U+FFFD, as in any other conversion) and never more than
/// three bytes for one UTF-16 unit.
pub fn from_js(text: &JsString) -> Option<String> {
    let mut buffer = vec![0; text.length() as usize * 3];
    let written = utf8_into(text, &mut buffer) as usize;
    buffer.truncate(written);
    String::from_utf8(buffer).ok()
}
