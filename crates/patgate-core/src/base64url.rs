//! Base64url without padding (RFC 4648 §5), the encoding of everything in JOSE and PKCE.
//!
//! Decoding is strict: padding, characters outside the URL-safe alphabet and non-zero trailing
//! bits are refused, so that each byte string has exactly one accepted encoding.

use alloc::string::String;
use alloc::vec::Vec;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_4648_vectors_without_padding() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded).as_deref(), Some(plain.as_bytes()));
        }
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn only_the_canonical_unpadded_url_safe_form_decodes() {
        for bad in ["Zg==", "Zm8=", "+/8", "Zh", "Z", "Zm9v\n", " Zm9v", "Zm9v."] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let encoded = encode(&bytes);
            prop_assert_eq!(decode(&encoded), Some(bytes));
        }

        #[test]
        fn decoding_never_panics(text in "\\PC{0,100}") {
            if let Some(bytes) = decode(&text) {
                prop_assert_eq!(encode(&bytes), text);
            }
        }
    }
}
