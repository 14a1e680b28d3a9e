//! Validated names and identifiers: users, emails, tokens.
//!
//! Each type can only be built by its parser, so holding one proves the value is acceptable.

use alloc::string::{String, ToString};
use core::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hex;
use crate::invisible;
use crate::token::{push_base62_sample, InsufficientRandomness};

/// Longest accepted token name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest accepted email address, in bytes (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// Why a value was refused; the message says what to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidInput {
    NameEmpty,
    NameTooLong,
    NameInvisibleCharacter,
    EmailMalformed,
    EmailTooLong,
}

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NameEmpty => "name must not be empty",
            Self::NameTooLong => "name must be at most 100 characters",
            Self::NameInvisibleCharacter => {
                "name must not contain control, format or line/paragraph separator characters \
                 (Unicode categories Cc, Cf, Zl, Zp: text-direction marks, zero-width characters, \
                 soft hyphens, tags)"
            }
            Self::EmailMalformed => "email must look like name@example.com",
            Self::EmailTooLong => "email must be at most 254 characters",
        })
    }
}

/// A token's display name: trimmed, 1–100 characters, none of Unicode's control, format or
/// line/paragraph separator characters (categories Cc, Cf, Zl, Zp). Those are invisible or
/// reorder text, so two different names could look the same in a list, or one read as another.
///
/// Deserializing reads a name as stored (KV records, ledger entries and commands, all written by
/// patgate), with the rule it was first written under: see [`TokenName::stored`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenName(String);

impl TokenName {
    /// A name given by a user: the current rule.
    pub fn parse(input: &str) -> Result<Self, InvalidInput> {
        Self::check(input, invisible::is_invisible)
    }

    /// A name as patgate stored it. Names written before Cf, Zl and Zp were refused may hold
    /// them: reading those must not fail, or a valid token's record would become unreadable
    /// (503, never 401, for good). Such a name stays as it is until the user renames it.
    fn stored(input: &str) -> Result<Self, InvalidInput> {
        Self::check(input, |c| {
            c.is_control()
                || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
    }

    fn check(input: &str, is_forbidden: impl Fn(char) -> bool) -> Result<Self, InvalidInput> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(InvalidInput::NameEmpty);
        }
        if trimmed.chars().count() > MAX_NAME_CHARS {
            return Err(InvalidInput::NameTooLong);
        }
        if trimmed.chars().any(is_forbidden) {
            return Err(InvalidInput::NameInvisibleCharacter);
        }
        Ok(Self(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TokenName {
    type Error = InvalidInput;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::stored(&value)
    }
}

impl From<TokenName> for String {
    fn from(name: TokenName) -> Self {
        name.0
    }
}

/// An email address, trimmed and lowercased. Only the shape is checked: the identity provider
/// is what vouches for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, InvalidInput> {
        let email = input.trim().to_ascii_lowercase();
        if email.len() > MAX_EMAIL_LEN {
            return Err(InvalidInput::EmailTooLong);
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(InvalidInput::EmailMalformed);
        };
        let acceptable = |part: &str| {
            !part.is_empty()
                && !part.starts_with('.')
                && !part.ends_with('.')
                && !part.contains("..")
                && part.chars().all(|c| c.is_ascii_graphic() && c != '@')
        };
        if !acceptable(local) || !acceptable(domain) {
            return Err(InvalidInput::EmailMalformed);
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = InvalidInput;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> Self {
        email.0
    }
}

/// Prefix of user ids.
pub const USER_ID_PREFIX: &str = "usr_";
const USER_ID_HEX_LEN: usize = 24;

/// A user's stable id: `usr_` + 24 hex digits (96 bits) of a domain-separated SHA-256, so the
/// same person gets the same id at every sign-in without a lookup table. Users who sign in with
/// the identity provider are keyed on (issuer, subject); development sign-in users on their
/// email. The two derivations have distinct domain tags, so their ids never meet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// A development sign-in user, known only by an email.
    pub fn for_email(email: &Email) -> Self {
        Self::from_digest(
            Sha256::new()
                .chain_update(b"patgate/user-id/v1\0")
                .chain_update(email.as_str().as_bytes()),
        )
    }

    /// A user of the identity provider `issuer`, whose stable id there is `subject` (OpenID
    /// Connect's `sub`; an email can pass to another person, a subject cannot). The issuer's
    /// length goes first, so no (issuer, subject) pair hashes the same input as another.
    pub fn for_provider_subject(issuer: &str, subject: &str) -> Self {
        Self::from_digest(
            Sha256::new()
                .chain_update(b"patgate/user-id/oidc/v1\0")
                .chain_update((issuer.len() as u64).to_be_bytes())
                .chain_update(issuer.as_bytes())
                .chain_update(subject.as_bytes()),
        )
    }

    fn from_digest(hasher: Sha256) -> Self {
        let mut id = String::from(USER_ID_PREFIX);
        id.push_str(
            hex::encode(&hasher.finalize())
                .get(..USER_ID_HEX_LEN)
                .unwrap_or_default(),
        );
        Self(id)
    }

    /// Accepts exactly the form both derivations produce.
    pub fn parse(input: &str) -> Option<Self> {
        let digits = input.strip_prefix(USER_ID_PREFIX)?;
        hex::is_lower_hex(digits, USER_ID_HEX_LEN).then(|| Self(input.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = &'static str;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or("malformed user id")
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> Self {
        id.0
    }
}

/// Prefix of token ids.
pub const TOKEN_ID_PREFIX: &str = "tok_";
const TOKEN_ID_RANDOM_LEN: usize = 20;
/// Random bytes a caller should supply to [`TokenId::generate`].
pub const RANDOM_BYTES_FOR_TOKEN_ID: usize = 40;

/// A token's public id (`tok_` + 20 base62 characters, about 119 bits): used in URLs, audit
/// events and the origin headers. Unrelated to the secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenId(String);

impl TokenId {
    pub fn generate(random: &[u8]) -> Result<Self, InsufficientRandomness> {
        let mut id = String::from(TOKEN_ID_PREFIX);
        push_base62_sample(&mut id, random, TOKEN_ID_RANDOM_LEN)?;
        Ok(Self(id))
    }

    pub fn parse(input: &str) -> Option<Self> {
        let body = input.strip_prefix(TOKEN_ID_PREFIX)?;
        (body.len() == TOKEN_ID_RANDOM_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| Self(input.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TokenId {
    type Error = &'static str;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or("malformed token id")
    }
}

impl From<TokenId> for String {
    fn from(id: TokenId) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            TokenName::parse("  GitHub Actions ").unwrap().as_str(),
            "GitHub Actions"
        );
        assert_eq!(TokenName::parse(" \t "), Err(InvalidInput::NameEmpty));
        assert!(TokenName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            TokenName::parse(&"é".repeat(101)),
            Err(InvalidInput::NameTooLong)
        );
        assert!(TokenName::parse("<img src=x onerror=alert(1)>").is_ok());
    }

    #[test]
    fn names_refuse_invisible_and_reordering_characters() {
        for deceptive in [
            "a\u{0}b",
            "abc\u{202E}gpj.exe",
            "CI\u{061C}",
            "line\u{2028}break",
            "para\u{2029}graph",
            "zero\u{200B}width",
            "join\u{200D}er",
            "\u{FEFF}bom",
            "soft\u{00AD}hyphen",
            "tag\u{E0041}",
            "word\u{2060}joiner",
        ] {
            assert_eq!(
                TokenName::parse(deceptive),
                Err(InvalidInput::NameInvisibleCharacter),
                "{deceptive:?}"
            );
        }
        for fine in [
            "Déploiement",
            "部署",
            "نشر",
            "CI — prod",
            "a\u{00A0}b",
            "e\u{0301}",
        ] {
            assert!(TokenName::parse(fine).is_ok(), "{fine:?}");
        }
    }

    #[test]
    fn a_name_stored_under_the_earlier_rule_is_still_read() {
        let stored: TokenName = serde_json::from_str("\"CI\u{200B}prod\"").unwrap();
        assert_eq!(stored.as_str(), "CI\u{200B}prod");
        assert!(TokenName::parse(stored.as_str()).is_err());
        assert!(serde_json::from_str::<TokenName>("\"a\u{202E}b\"").is_err());
    }

    #[test]
    fn provider_users_and_development_users_have_separate_ids() {
        let issuer = "https://id.example.com";
        let id = UserId::for_provider_subject(issuer, "248289761001");
        assert_eq!(UserId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id, UserId::for_provider_subject(issuer, "248289761001"));
        assert_ne!(id, UserId::for_provider_subject(issuer, "248289761002"));
        assert_ne!(
            id,
            UserId::for_provider_subject("https://other.example", "248289761001")
        );
        // The length prefix keeps the boundary between issuer and subject.
        assert_ne!(
            UserId::for_provider_subject("https://a.example/x", "y"),
            UserId::for_provider_subject("https://a.example/", "xy")
        );
        // A subject that happens to be an email is still another user than that email's.
        let email = Email::parse("ada@example.com").unwrap();
        assert_ne!(
            UserId::for_provider_subject(issuer, email.as_str()),
            UserId::for_email(&email)
        );
    }

    #[test]
    fn token_ids_have_a_fixed_shape() {
        let id = TokenId::generate(&[7u8; RANDOM_BYTES_FOR_TOKEN_ID]).unwrap();
        assert_eq!(id.as_str(), "tok_77777777777777777777");
        assert_eq!(TokenId::parse(id.as_str()), Some(id));
        assert_eq!(TokenId::parse("tok_short"), None);
        assert_eq!(TokenId::parse("usr_77777777777777777777"), None);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC{0,300}") {
            let _ = TokenName::parse(&text);
            let _ = Email::parse(&text);
            let _ = UserId::parse(&text);
            let _ = TokenId::parse(&text);
        }

        #[test]
        fn accepted_names_hold_no_cc_cf_zl_or_zp_character(
            text in proptest::collection::vec(
                prop_oneof![
                    any::<char>(),
                    proptest::sample::select(&['\u{200B}', '\u{2028}', '\u{061C}', '\u{E0041}', 'a', ' '][..]),
                ],
                0..40,
            ).prop_map(|chars| chars.into_iter().collect::<String>())
        ) {
            if let Ok(name) = TokenName::parse(&text) {
                prop_assert!(!name.as_str().chars().any(invisible::by_unicode_data), "{:?}", name);
            }
        }

        #[test]
        fn accepted_names_are_trimmed_and_short(text in "\\PC{0,120}") {
            if let Ok(name) = TokenName::parse(&text) {
                prop_assert_eq!(name.as_str(), name.as_str().trim());
                prop_assert!(name.as_str().chars().count() <= MAX_NAME_CHARS);
            }
        }
    }
}
