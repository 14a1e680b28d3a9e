//! A secret scanner's report (GitHub's partner program): a JSON array of
//! `{"token", "type", "url", "source"}`, one entry per match, and the answer patgate gives,
//! `[{"token_hash", "token_type", "label"}]`, one per entry in the same order.
//!
//! The report is parsed only after its signature has been verified over the raw bytes, so its
//! content is the scanner's word. It is still parsed defensively: members the format may gain
//! are ignored (a report is never refused for a field we do not know), `url` and `source` may
//! be absent or null, and what will be shown to the token's owner (`url`, `source`) is stripped
//! of invisible characters and shortened.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hex;
use crate::invisible::is_invisible;
use crate::token::{StorageKey, UntrustedToken};

/// Entries accepted in one report; more is refused as too large.
pub const MAX_REPORT_ENTRIES: usize = 5_000;
/// Characters of a match's `url` kept for its owner to read.
pub const MAX_URL_CHARS: usize = 1_000;
/// Characters of a match's `source` kept.
pub const MAX_SOURCE_CHARS: usize = 64;

/// Why a verified report could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidReport {
    /// Not a JSON array of objects with string `token` and `type`.
    Malformed,
    /// More than [`MAX_REPORT_ENTRIES`] entries.
    TooManyEntries,
}

impl fmt::Display for InvalidReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str(
                "a report is a JSON array of objects with string members token and type, \
                 and url and source as strings or null",
            ),
            Self::TooManyEntries => {
                write!(f, "a report holds at most {MAX_REPORT_ENTRIES} entries")
            }
        }
    }
}

/// One match, as the scanner sent it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct ReportedMatch {
    pub token: String,
    #[serde(rename = "type")]
    pub token_type: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

impl fmt::Debug for ReportedMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The match may be a live token: only its hint is ever printed.
        f.debug_struct("ReportedMatch")
            .field("token", &crate::token::hint_of(&self.token))
            .field("token_type", &self.token_type)
            .field("url", &self.url)
            .field("source", &self.source)
            .finish()
    }
}

impl ReportedMatch {
    /// The match as a patgate token, if it is one (prefix, length, alphabet and checksum):
    /// anything else is a false positive, decided without a storage read.
    pub fn token(&self) -> Option<UntrustedToken<'_>> {
        UntrustedToken::parse(&self.token).ok()
    }

    /// Where the scanner found it, in a form fit to show the token's owner.
    pub fn found_at(&self) -> FoundAt {
        FoundAt {
            source: shown(self.source.as_deref(), MAX_SOURCE_CHARS)
                .unwrap_or_else(|| String::from("content")),
            url: shown(self.url.as_deref(), MAX_URL_CHARS),
        }
    }
}

/// Where a token was found: the scanner's `source` (`content`, `commit`, `npm`, …) and `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundAt {
    pub source: String,
    pub url: Option<String>,
}

/// `text` without invisible characters (Unicode Cc, Cf, Zl, Zp) and trimmed, at most `max`
/// characters (the last one an ellipsis when cut); `None` when nothing is left.
fn shown(text: Option<&str>, max: usize) -> Option<String> {
    let visible: String = text?.chars().filter(|c| !is_invisible(*c)).collect();
    let visible = visible.trim();
    if visible.is_empty() {
        return None;
    }
    if visible.chars().count() <= max {
        return Some(String::from(visible));
    }
    let mut cut: String = visible.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    Some(cut)
}

/// Parses a verified report body.
pub fn parse(body: &[u8]) -> Result<Vec<ReportedMatch>, InvalidReport> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'[') {
        return Err(InvalidReport::Malformed);
    }
    let matches: Vec<ReportedMatch> =
        serde_json::from_slice(body).map_err(|_| InvalidReport::Malformed)?;
    if matches.len() > MAX_REPORT_ENTRIES {
        return Err(InvalidReport::TooManyEntries);
    }
    Ok(matches)
}

/// The scanner's feedback label for one match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// A patgate token that was live when reported (and is now revoked), or that an earlier
    /// report or its holder revoked.
    TruePositive,
    FalsePositive,
}

/// The answer about one match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The lowercase hex SHA-256 of the reported string (for a patgate token, its storage key).
    pub token_hash: String,
    pub token_type: String,
    pub label: Label,
}

impl Verdict {
    /// The answer about `reported`, given whether it is a true positive.
    pub fn of(reported: &ReportedMatch, true_positive: bool) -> Self {
        Self {
            token_hash: hex::encode(&Sha256::digest(reported.token.as_bytes())),
            token_type: reported.token_type.clone(),
            label: if true_positive {
                Label::TruePositive
            } else {
                Label::FalsePositive
            },
        }
    }
}

/// The distinct storage keys of the patgate tokens in a report, each with where it was first
/// found (a token reported twice is one revocation).
pub fn distinct_tokens(matches: &[ReportedMatch]) -> Vec<(StorageKey, FoundAt)> {
    let mut tokens: Vec<(StorageKey, FoundAt)> = Vec::new();
    for reported in matches {
        if let Some(token) = reported.token() {
            if !tokens.iter().any(|(key, _)| key == token.storage_key()) {
                tokens.push((token.storage_key().clone(), reported.found_at()));
            }
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::generate;
    use alloc::format;
    use alloc::string::ToString;
    use proptest::prelude::*;

    fn live_token() -> String {
        generate(&[42u8; 96]).unwrap().as_str().to_string()
    }

    #[test]
    fn reads_github_reports_and_ignores_members_it_does_not_know() {
        let token = live_token();
        let body = format!(
            r#"[{{"token":"{token}","type":"patgate_pat","url":"https://github.com/o/r/blob/abc/ci.yml","source":"content","seen":"2026-01-01"}},
                {{"token":"pat_nope","type":"patgate_pat","url":null}},
                {{"token":"{token}","type":"patgate_pat","url":"https://www.npmjs.com/package/x","source":"npm"}}]"#
        );
        let matches = parse(body.as_bytes()).unwrap();
        assert_eq!(matches.len(), 3);
        assert!(matches[0].token().is_some());
        assert!(matches[1].token().is_none());
        assert_eq!(
            matches[1].found_at(),
            FoundAt {
                source: "content".into(),
                url: None
            }
        );
        let distinct = distinct_tokens(&matches);
        assert_eq!(distinct.len(), 1, "one token reported twice");
        assert_eq!(
            distinct[0].1,
            FoundAt {
                source: "content".into(),
                url: Some("https://github.com/o/r/blob/abc/ci.yml".into())
            }
        );
        assert!(!format!("{:?}", matches[0]).contains(&token[8..]));
    }

    #[test]
    fn verdicts_hash_what_was_reported() {
        let token = live_token();
        let reported = ReportedMatch {
            token: token.clone(),
            token_type: "patgate_pat".into(),
            url: None,
            source: None,
        };
        let verdict = Verdict::of(&reported, true);
        assert_eq!(
            verdict.token_hash,
            UntrustedToken::parse(&token)
                .unwrap()
                .storage_key()
                .as_str()
        );
        assert_eq!(
            serde_json::to_string(&verdict).unwrap(),
            format!(
                r#"{{"token_hash":"{}","token_type":"patgate_pat","label":"true_positive"}}"#,
                verdict.token_hash
            )
        );
        let garbage = ReportedMatch {
            token: "abc".into(),
            ..reported
        };
        assert_eq!(
            Verdict::of(&garbage, false).token_hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn what_the_owner_will_read_is_visible_and_bounded() {
        let reported = ReportedMatch {
            token: String::new(),
            token_type: String::new(),
            url: Some(format!("https://example.com/\u{202e}{}", "a".repeat(2000))),
            source: Some("\u{200b} \n".into()),
        };
        let found = reported.found_at();
        assert_eq!(found.source, "content");
        let url = found.url.unwrap();
        assert_eq!(url.chars().count(), MAX_URL_CHARS);
        assert!(url.ends_with('…') && !url.contains('\u{202e}'));
    }

    #[test]
    fn refuses_what_is_not_a_report() {
        for body in [
            "",
            "{}",
            r#"{"token":"x","type":"y"}"#,
            r#"[{"type":"y"}]"#,
            r#"[{"token":1,"type":"y"}]"#,
            r#"[{"token":"x"}]"#,
            r#"[{"token":"x","type":"y","url":3}]"#,
            r#"[{"token":"x","type":"y"}] trailing"#,
            "[1]",
        ] {
            assert_eq!(
                parse(body.as_bytes()),
                Err(InvalidReport::Malformed),
                "{body}"
            );
        }
        assert_eq!(parse(b" []"), Ok(Vec::new()));
        let entry = r#"{"token":"x","type":"y"}"#;
        let at_limit = format!("[{}]", [entry; MAX_REPORT_ENTRIES].join(","));
        assert_eq!(
            parse(at_limit.as_bytes()).unwrap().len(),
            MAX_REPORT_ENTRIES
        );
        let over = format!("[{}]", [entry; MAX_REPORT_ENTRIES + 1].join(","));
        assert_eq!(parse(over.as_bytes()), Err(InvalidReport::TooManyEntries));
    }

    proptest! {
        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(matches) = parse(&bytes) {
                for reported in &matches {
                    let found = reported.found_at();
                    prop_assert!(found.source.chars().count() <= MAX_SOURCE_CHARS);
                    prop_assert!(!found.source.chars().any(is_invisible));
                }
                let _ = distinct_tokens(&matches);
            }
        }
    }
}
