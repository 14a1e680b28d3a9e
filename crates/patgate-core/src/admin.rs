//! The platform's admin API (account lifecycle): its credential, a shared secret that is never
//! a personal access token, and its request body.

use alloc::string::{String, ToString};

use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::invisible::is_invisible;
use crate::request::{parse_json, InvalidBody};

/// Longest `requested_by`, in characters.
pub const MAX_REQUESTER_CHARS: usize = 100;
/// Longest `reason`, in characters.
pub const MAX_REASON_CHARS: usize = 200;

/// Whether the presented credential is the admin secret, in time that depends on neither
/// (both are hashed first, so not even their lengths are compared early).
pub fn credential_matches(presented: &str, secret: &str) -> bool {
    let presented = Sha256::digest(presented.as_bytes());
    let secret = Sha256::digest(secret.as_bytes());
    presented.ct_eq(&secret).into()
}

/// `POST /auth/v1/admin/users/{user_id}/revoke-all`: who asks, and why. Both end up in the
/// user's audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeAllRequest {
    pub requested_by: String,
    pub reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeAllBody {
    requested_by: String,
    /// Absent, or a string: `null` is refused like any other non-string.
    #[serde(default, deserialize_with = "a_string")]
    reason: Option<String>,
}

fn a_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    String::deserialize(deserializer).map(Some)
}

/// Trimmed `text`, if it holds 1–`max` characters and none invisible.
fn shown_text(field: &str, text: &str, max: usize) -> Result<String, InvalidBody> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(InvalidBody(alloc::format!(
            "{field} must be 1 to {max} characters"
        )));
    }
    if text.chars().any(is_invisible) {
        return Err(InvalidBody(alloc::format!(
            "{field} must not contain control, format or line/paragraph separator characters"
        )));
    }
    Ok(text.to_string())
}

pub fn revoke_all_request(text: &str) -> Result<RevokeAllRequest, InvalidBody> {
    let body: RevokeAllBody = parse_json(text)?;
    Ok(RevokeAllRequest {
        requested_by: shown_text("requested_by", &body.requested_by, MAX_REQUESTER_CHARS)?,
        reason: body
            .reason
            .map(|reason| shown_text("reason", &reason, MAX_REASON_CHARS))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_the_secret_itself_matches() {
        let secret = "test-only-admin-secret-0123456789abcdef";
        assert!(credential_matches(secret, secret));
        for other in ["", "test-only-admin-secret-0123456789abcdeF", &secret[1..]] {
            assert!(!credential_matches(other, secret), "{other}");
        }
    }

    #[test]
    fn the_request_names_who_asked() {
        assert_eq!(
            revoke_all_request(
                r#"{"requested_by":" offboarding-bot ","reason":"account disabled"}"#
            ),
            Ok(RevokeAllRequest {
                requested_by: "offboarding-bot".into(),
                reason: Some("account disabled".into())
            })
        );
        assert_eq!(
            revoke_all_request(r#"{"requested_by":"ops"}"#)
                .unwrap()
                .reason,
            None
        );
        for (body, message) in [
            ("{}", "missing field `requested_by`"),
            (r#"{"requested_by":"  "}"#, "1 to 100 characters"),
            (r#"{"requested_by":"a\u202eb"}"#, "must not contain"),
            (
                r#"{"requested_by":"ops","reason":""}"#,
                "reason must be 1 to 200",
            ),
            (
                r#"{"requested_by":"ops","reason":null}"#,
                "invalid type: null",
            ),
            (r#"{"requested_by":"ops","user_id":"x"}"#, "unknown field"),
            ("[]", "JSON object"),
        ] {
            let refused = revoke_all_request(body).unwrap_err();
            assert!(refused.0.contains(message), "{body}: {}", refused.0);
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,200}") {
            let _ = revoke_all_request(&text);
        }
    }
}
