//! Reading `Authorization: Bearer <token>` the way RFC 6750 §2.1 and §3.1 describe.

use core::fmt;

/// Longest Authorization value examined. Anything longer is refused before any hashing.
pub const MAX_AUTHORIZATION_LEN: usize = 1024;

/// Why the header does not carry one usable bearer credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationError {
    /// No Authorization header: the client should authenticate (401, bare challenge).
    Missing,
    /// Another scheme, such as `Basic`: treated like no credentials (401, bare challenge).
    OtherScheme,
    /// A bearer credential that cannot be read (400 `invalid_request`).
    Malformed(MalformedReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedReason {
    Empty,
    /// Two Authorization headers (joined with a comma by the Fetch API) or two credentials.
    Multiple,
    TooLong,
    /// Extra whitespace, a tab, or characters outside RFC 6750's `b64token`.
    Syntax,
}

impl fmt::Display for AuthorizationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "authentication required: send Authorization: Bearer <token>",
            Self::OtherScheme => "only the Bearer authentication scheme is accepted",
            Self::Malformed(MalformedReason::Empty) => "the Bearer credential is empty",
            Self::Malformed(MalformedReason::Multiple) => "send exactly one Bearer credential",
            Self::Malformed(MalformedReason::TooLong) => "the Authorization header is too long",
            Self::Malformed(MalformedReason::Syntax) => {
                "the Authorization header must be \"Bearer\", one space, then the token"
            }
        })
    }
}

/// Extracts the bearer credential from the (possibly joined) Authorization header value.
/// The scheme name is case-insensitive; the credential is returned unchecked.
pub fn bearer_credential(header: Option<&str>) -> Result<&str, AuthorizationError> {
    use AuthorizationError::{Malformed, Missing, OtherScheme};

    let value = header.ok_or(Missing)?;
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(Malformed(MalformedReason::TooLong));
    }
    let (scheme, credential) = match value.split_once(' ') {
        Some((scheme, credential)) => (scheme, Some(credential)),
        None => (value, None),
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        let bearer_then_other_whitespace = value
            .get(..6)
            .is_some_and(|start| start.eq_ignore_ascii_case("bearer"))
            && value.as_bytes().get(6).is_some_and(u8::is_ascii_whitespace);
        if bearer_then_other_whitespace {
            return Err(Malformed(MalformedReason::Syntax));
        }
        // `Token pat_…`, `Basic …` or a bare token: no bearer credentials were offered.
        return Err(if value.is_empty() {
            Missing
        } else {
            OtherScheme
        });
    }
    let credential = credential.unwrap_or_default();
    if credential.is_empty() {
        return Err(Malformed(MalformedReason::Empty));
    }
    if credential.contains(',') {
        return Err(Malformed(MalformedReason::Multiple));
    }
    if !is_b64token(credential) {
        return Err(Malformed(MalformedReason::Syntax));
    }
    Ok(credential)
}

/// RFC 6750 `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use proptest::prelude::*;
    use AuthorizationError::*;
    use MalformedReason::*;

    fn check(header: Option<&str>, expected: Result<&str, AuthorizationError>) {
        assert_eq!(bearer_credential(header), expected, "{header:?}");
    }

    #[test]
    fn follows_rfc_6750() {
        check(Some("Bearer pat_abc"), Ok("pat_abc"));
        check(Some("bearer pat_abc"), Ok("pat_abc"));
        check(Some("BEARER pat_abc"), Ok("pat_abc"));
        check(None, Err(Missing));
        check(Some(""), Err(Missing));
        check(Some("Basic dXNlcjpwYXNz"), Err(OtherScheme));
        check(Some("Token pat_abc"), Err(OtherScheme));
        check(Some("pat_abc"), Err(OtherScheme));
        check(Some("Bearer"), Err(Malformed(Empty)));
        check(Some("Bearer "), Err(Malformed(Empty)));
        check(Some("Bearer  pat_abc"), Err(Malformed(Syntax)));
        check(Some("Bearer\tpat_abc"), Err(Malformed(Syntax)));
        check(Some("Bearerpat_abc"), Err(OtherScheme));
        check(Some("Bearer pat_abc\t"), Err(Malformed(Syntax)));
        check(Some("Bearer pat_abc "), Err(Malformed(Syntax)));
        check(Some("Bearer pat_a, Bearer pat_b"), Err(Malformed(Multiple)));
        check(Some("Bearer pat_\u{0}"), Err(Malformed(Syntax)));
        check(Some("Bearer pаt_abc"), Err(Malformed(Syntax)));
        check(Some("Bearer abc=="), Ok("abc=="));
        check(Some("Bearer =="), Err(Malformed(Syntax)));
    }

    #[test]
    fn oversized_values_are_refused_before_anything_else() {
        let mut huge = String::from("Bearer ");
        huge.push_str(&"a".repeat(8 * 1024));
        check(Some(&huge), Err(Malformed(TooLong)));
        check(
            Some(&"x".repeat(MAX_AUTHORIZATION_LEN + 1)),
            Err(Malformed(TooLong)),
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_returns_a_substring(text in "\\PC{0,80}") {
            if let Ok(credential) = bearer_credential(Some(&text)) {
                prop_assert!(text.ends_with(credential));
                prop_assert!(!credential.is_empty());
            }
        }
    }
}
