//! Self-service revocation (`POST /auth/v1/revoke`): whoever holds a token may revoke it, as
//! GitHub's credential-revocation API lets anyone holding a leaked GitHub token do. The body is
//! `{"tokens": ["pat_…", …]}`, parsed strictly like the console's bodies.

use alloc::string::String;
use alloc::vec::Vec;

use serde::Deserialize;

use crate::request::{parse_json, InvalidBody};
use crate::token::{StorageKey, UntrustedToken};

/// Tokens one request may revoke.
pub const MAX_TOKENS_PER_REQUEST: usize = 1_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolderBody {
    tokens: Vec<String>,
}

/// The distinct storage keys of the well-formed tokens listed. Strings that are not patgate
/// tokens are dropped without a word: the answer must not say which tokens existed, and a
/// malformed one cannot.
pub fn tokens_to_revoke(text: &str) -> Result<Vec<StorageKey>, InvalidBody> {
    let body: HolderBody = parse_json(text)?;
    if body.tokens.len() > MAX_TOKENS_PER_REQUEST {
        return Err(InvalidBody(alloc::format!(
            "tokens: at most {MAX_TOKENS_PER_REQUEST} tokens per request"
        )));
    }
    let mut keys: Vec<StorageKey> = Vec::new();
    for listed in &body.tokens {
        if let Ok(token) = UntrustedToken::parse(listed) {
            if !keys.contains(token.storage_key()) {
                keys.push(token.storage_key().clone());
            }
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::generate;
    use alloc::format;
    use proptest::prelude::*;

    #[test]
    fn keeps_each_well_formed_token_once() {
        let token = generate(&[42u8; 96]).unwrap();
        let mistyped = token.as_str().replacen("pat_g", "pat_h", 1);
        let body = format!(
            r#"{{"tokens":["{0}","pat_short","{mistyped}","{0}",""]}}"#,
            token.as_str()
        );
        assert_eq!(
            tokens_to_revoke(&body),
            Ok(alloc::vec![token.storage_key()])
        );
        assert_eq!(tokens_to_revoke(r#"{"tokens":[]}"#), Ok(Vec::new()));
    }

    #[test]
    fn refuses_other_shapes_and_too_many_tokens() {
        for (body, message) in [
            ("[]", "must be a JSON object"),
            ("{}", "missing field `tokens`"),
            (r#"{"tokens":"pat_x"}"#, "invalid type"),
            (r#"{"tokens":[1]}"#, "invalid type"),
            (r#"{"tokens":[],"user_id":"u"}"#, "unknown field `user_id`"),
        ] {
            let refused = tokens_to_revoke(body).unwrap_err();
            assert!(refused.0.contains(message), "{body}: {}", refused.0);
        }
        let many = format!(
            r#"{{"tokens":[{}]}}"#,
            [r#""x""#; MAX_TOKENS_PER_REQUEST + 1].join(",")
        );
        assert!(tokens_to_revoke(&many)
            .unwrap_err()
            .0
            .contains("at most 1000"));
        let enough = format!(
            r#"{{"tokens":[{}]}}"#,
            [r#""x""#; MAX_TOKENS_PER_REQUEST].join(",")
        );
        assert_eq!(tokens_to_revoke(&enough), Ok(Vec::new()));
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,200}") {
            let _ = tokens_to_revoke(&text);
        }
    }
}
