//! The token format: `pat_` + 58 random base62 characters + a 6-character base62 CRC-32.
//!
//! The checksum is GitHub's idea: the edge and secret scanners can tell a real token from a
//! typo or from garbage without any storage read.

use alloc::string::String;
use core::cell::OnceCell;
use core::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::hex;

/// Every token starts with this. Secret scanners match on it.
pub const PREFIX: &str = "pat_";
/// Total length of a token in bytes (all ASCII).
pub const TOKEN_LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;
/// Characters that carry randomness.
pub const RANDOM_LEN: usize = 58;
/// Characters of base62 CRC-32 at the end.
pub const CHECKSUM_LEN: usize = 6;
/// Length of the non-secret prefix shown to users so they can tell tokens apart.
pub const HINT_LEN: usize = 8;
/// The base62 alphabet, in the order used for the checksum digits.
pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Random bytes a caller should supply to [`generate`]. Rejection sampling discards about one
/// byte in 32, so 96 bytes fail to yield 58 characters with probability below 10^-40; the
/// caller still handles [`InsufficientRandomness`] by drawing again.
pub const RANDOM_BYTES_FOR_TOKEN: usize = 96;

/// Bytes at or above this are rejected so that each of the 62 characters is drawn from exactly
/// four byte values (248 = 4 × 62): the distribution is uniform, unlike `byte % 62`.
const REJECTION_BOUND: u8 = 248;

/// Why a string is not a well-formed token. Callers facing the network must not tell these
/// apart in their answers (all are "invalid token"); they exist for the CLI and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormatError {
    /// It does not start with `pat_`.
    Prefix,
    /// It is not exactly [`TOKEN_LEN`] bytes long.
    Length,
    /// A character outside `0-9A-Za-z` follows the prefix.
    Alphabet,
    /// The last six characters are not the checksum of the 58 before them: a typo.
    Checksum,
}

impl fmt::Display for TokenFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Prefix => "a token starts with \"pat_\"",
            Self::Length => "a token is \"pat_\" followed by exactly 64 characters",
            Self::Alphabet => {
                "a token contains only the characters 0-9, A-Z and a-z after \"pat_\""
            }
            Self::Checksum => {
                "the token's checksum does not match: it was probably mistyped or truncated"
            }
        })
    }
}

/// The caller's random bytes ran out before enough characters were accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsufficientRandomness;

impl fmt::Display for InsufficientRandomness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not enough random bytes to generate a token; draw again")
    }
}

/// A token that is well formed and carries a valid checksum, but has not been checked against
/// storage. The only way forward is [`crate::verify::verify`], which needs its stored record.
///
/// Its [`StorageKey`] is computed once, when first asked for: every well-formed token that is
/// looked up needs it, and verification checks the record against the same key, but a check
/// that only decides whether a header can be refused without I/O never pays for the hash.
#[derive(Clone)]
pub struct UntrustedToken<'a> {
    text: &'a str,
    key: OnceCell<StorageKey>,
}

impl<'a> UntrustedToken<'a> {
    /// Checks prefix, length, alphabet and checksum, in that order. Never panics.
    pub fn parse(input: &'a str) -> Result<Self, TokenFormatError> {
        let Some(body) = input.strip_prefix(PREFIX) else {
            return Err(TokenFormatError::Prefix);
        };
        if input.len() != TOKEN_LEN {
            return Err(TokenFormatError::Length);
        }
        if !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(TokenFormatError::Alphabet);
        }
        let (random_part, checksum) = body.split_at(RANDOM_LEN);
        if checksum.as_bytes() != checksum_digits(random_part.as_bytes()) {
            return Err(TokenFormatError::Checksum);
        }
        Ok(Self {
            text: input,
            key: OnceCell::new(),
        })
    }

    /// The key under which this token's record is stored.
    pub fn storage_key(&self) -> &StorageKey {
        self.key.get_or_init(|| StorageKey::of(self.text))
    }

    /// The non-secret prefix shown in lists and error messages.
    pub fn hint(&self) -> &'a str {
        hint_of(self.text)
    }
}

/// Two tokens are equal when their text is: the key is derived from it, computed or not yet.
impl PartialEq for UntrustedToken<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for UntrustedToken<'_> {}

impl fmt::Debug for UntrustedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret, not even in a debug log.
        write!(f, "UntrustedToken({}…)", self.hint())
    }
}

/// The first [`HINT_LEN`] characters of a string that looks like a token (fewer if shorter),
/// safe to show in lists, logs and error messages.
pub fn hint_of(token: &str) -> &str {
    let end = token
        .char_indices()
        .nth(HINT_LEN)
        .map_or(token.len(), |(index, _)| index);
    token.get(..end).unwrap_or_default()
}

/// A freshly generated token. Its plaintext is shown to the user once and then dropped; the
/// memory is wiped on drop.
pub struct NewToken(String);

impl NewToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn storage_key(&self) -> StorageKey {
        StorageKey::of(&self.0)
    }

    pub fn hint(&self) -> &str {
        hint_of(&self.0)
    }
}

impl Drop for NewToken {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewToken({}…)", self.hint())
    }
}

/// Builds a token from caller-supplied random bytes (see [`RANDOM_BYTES_FOR_TOKEN`]).
pub fn generate(random: &[u8]) -> Result<NewToken, InsufficientRandomness> {
    let mut token = String::with_capacity(TOKEN_LEN);
    token.push_str(PREFIX);
    push_base62_sample(&mut token, random, RANDOM_LEN)?;
    let checksum = checksum_digits(token.as_bytes().get(PREFIX.len()..).unwrap_or_default());
    for digit in checksum {
        token.push(char::from(digit));
    }
    Ok(NewToken(token))
}

/// Appends `count` uniformly distributed base62 characters drawn from `random` by rejection
/// sampling. Shared with identifiers that need the same alphabet.
pub(crate) fn push_base62_sample(
    out: &mut String,
    random: &[u8],
    count: usize,
) -> Result<(), InsufficientRandomness> {
    let accepted = random
        .iter()
        .filter(|&&byte| byte < REJECTION_BOUND)
        .map(|&byte| base62_digit(byte % 62))
        .take(count);
    let before = out.len();
    out.extend(accepted.map(char::from));
    if out.len() - before == count {
        Ok(())
    } else {
        out.truncate(before);
        Err(InsufficientRandomness)
    }
}

/// CRC-32 as zlib computes it (ISO-HDLC, the IEEE polynomial), a byte at a time from one
/// 256-entry table: 1 KiB of wasm, where sliced tables are 16 KiB, for 58 bytes per token.
const CRC_32: crc::Crc<u32, crc::Table<1>> =
    crc::Crc::<u32, crc::Table<1>>::new(&crc::CRC_32_ISO_HDLC);

/// The CRC-32 (IEEE, as zlib computes it) of `random_part`, as six base62 digits, most
/// significant first, left-padded with `0`.
pub fn checksum_digits(random_part: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut value = CRC_32.checksum(random_part);
    let mut digits = [b'0'; CHECKSUM_LEN];
    for slot in digits.iter_mut().rev() {
        // 62^6 > 2^32, so six digits always hold the value.
        *slot = base62_digit((value % 62) as u8);
        value /= 62;
    }
    digits
}

fn base62_digit(value: u8) -> u8 {
    ALPHABET.get(usize::from(value)).copied().unwrap_or(b'0')
}

/// Lowercase hex SHA-256 of the whole token string, `pat_` included: the only form in which a
/// token is ever stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StorageKey(String);

impl StorageKey {
    fn of(token: &str) -> Self {
        Self(hex::encode(&Sha256::digest(token.as_bytes())))
    }

    /// Accepts a key as stored: exactly 64 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        hex::is_lower_hex(text, 64).then(|| Self(String::from(text)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StorageKey {
    type Error = &'static str;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or("malformed storage key")
    }
}

impl From<StorageKey> for String {
    fn from(key: StorageKey) -> Self {
        key.0
    }
}

impl fmt::Display for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    const REFERENCE_TOKEN: &str =
        "pat_mavzfVABqZ5YsOOlB1f46RfHk7hp3ILTgK2y3mH3UqtmaFCrvkUb7keKpQ4Fhj1P";

    #[test]
    fn accepts_a_reference_token() {
        let token = UntrustedToken::parse(REFERENCE_TOKEN).unwrap();
        assert_eq!(token.hint(), "pat_mavz");
        assert_eq!(
            token.storage_key().as_str(),
            "2e91e45f26ada19e26987b2dd10deedeac5f1052aec67aff5093fa04ac6e5ad2"
        );
    }

    #[test]
    fn reports_each_failure_class() {
        let check = |input: &str, expected| assert_eq!(UntrustedToken::parse(input), Err(expected));
        check("", TokenFormatError::Prefix);
        check("pat", TokenFormatError::Prefix);
        check(
            &REFERENCE_TOKEN.replacen("pat_", "PAT_", 1),
            TokenFormatError::Prefix,
        );
        check(
            &REFERENCE_TOKEN.replacen("pat_", "pat-", 1),
            TokenFormatError::Prefix,
        );
        check("pat_", TokenFormatError::Length);
        check(&REFERENCE_TOKEN[..67], TokenFormatError::Length);
        check(&[REFERENCE_TOKEN, "A"].concat(), TokenFormatError::Length);
        check(
            &REFERENCE_TOKEN.replacen('m', "-", 1),
            TokenFormatError::Alphabet,
        );
        check(
            &REFERENCE_TOKEN.replacen("mavz", "mavy", 1),
            TokenFormatError::Checksum,
        );
    }

    #[test]
    fn a_multibyte_character_is_a_length_or_alphabet_error_not_a_panic() {
        let mut input = String::from("pat_é");
        input.push_str(&"a".repeat(62));
        assert_eq!(input.len(), TOKEN_LEN);
        assert_eq!(
            UntrustedToken::parse(&input),
            Err(TokenFormatError::Alphabet)
        );
        assert_eq!(hint_of("pat_ééééééé"), "pat_éééé");
    }

    #[test]
    fn generation_needs_enough_accepted_bytes() {
        let all_rejected: Vec<u8> = [255u8; 200].to_vec();
        assert_eq!(
            generate(&all_rejected).map(|_| ()),
            Err(InsufficientRandomness)
        );
        let zeros = [0u8; RANDOM_LEN];
        let token = generate(&zeros).unwrap();
        assert_eq!(
            token.as_str(),
            "pat_00000000000000000000000000000000000000000000000000000000003KXZrt"
        );
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        let token = UntrustedToken::parse(REFERENCE_TOKEN).unwrap();
        let shown = alloc::format!("{token:?}");
        assert!(!shown.contains(REFERENCE_TOKEN));
        assert!(shown.contains("pat_mavz"));
    }
}
