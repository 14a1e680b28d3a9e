//! A token the CLI may send: owned, and checked offline before anything else happens.

use std::fmt;

use patgate_core::token::{hint_of, UntrustedToken};

use crate::client::{exit, Failure};

/// A token whose format and checksum are valid, so a typo never leaves the machine. Whether the
/// API accepts it is another question, answered by `/auth/v1/verify`. `Debug` shows only the
/// hint.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Checks prefix, length, alphabet and checksum; the failure names the reason and the hint,
    /// never the token.
    pub fn parse(text: &str) -> Result<Self, Failure> {
        let text = text.trim();
        match UntrustedToken::parse(text) {
            Ok(_) => Ok(Self(text.to_owned())),
            Err(reason) => Err(Failure::new(
                exit::TOKEN,
                format!("{}… is not a valid token: {reason}", hint_of(text)),
            )),
        }
    }

    /// The secret itself, for the `Authorization` header, the config file and `auth token`.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The non-secret prefix shown in messages.
    pub fn hint(&self) -> &str {
        hint_of(&self.0)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({}…)", self.hint())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A well-formed token with a valid checksum (unknown to any API).
    pub(crate) const VALID: &str =
        "pat_mavzfVABqZ5YsOOlB1f46RfHk7hp3ILTgK2y3mH3UqtmaFCrvkUb7keKpQ4Fhj1P";

    #[test]
    fn typos_are_caught_offline_with_the_reason() {
        let token = "pat_mavzfVABqZ5YsOOlB1f46RfHk7hp3ILTgK2y3mH3UqtmaFCrvkUb7keKpQ4Fhj1Q";
        let failure = Token::parse(token).unwrap_err();
        assert_eq!(failure.code, exit::TOKEN);
        assert!(failure.message.contains("checksum"));
        assert!(!failure.message.contains(token));
    }

    #[test]
    fn a_valid_token_is_trimmed_and_never_debug_printed() {
        let token = Token::parse(&format!(" {VALID}\n")).unwrap();
        assert_eq!(token.expose(), VALID);
        assert_eq!(format!("{token:?}"), "Token(pat_mavz…)");
    }
}
