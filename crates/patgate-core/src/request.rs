//! The console API's request bodies, parsed strictly into the core's types: unknown fields,
//! duplicate keys, wrong types and out-of-range values are refused with a message that says
//! what to change. Reading the body (and its size limit) is the Worker's job; this is the text.

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::expiry::{Expiry, ExpiryDays, ExpiryOutOfRange};
use crate::identity::{Email, TokenName};

/// The body was refused; the message says why and may be shown to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidBody(pub String);

impl fmt::Display for InvalidBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn refuse(message: impl ToString) -> InvalidBody {
    InvalidBody(message.to_string())
}

/// A JSON object of the shape `T`, with serde's own explanation when it does not fit. Only an
/// object: serde would also read a struct from an array of its fields in order (`["CI", 30]`),
/// a form the API does not document and a client should not come to rely on.
pub fn parse_json<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, InvalidBody> {
    if !text.trim_start().starts_with('{') {
        return Err(refuse("invalid body: the body must be a JSON object"));
    }
    crate::json::from_text(text).map_err(|e| InvalidBody(format!("invalid body: {e}")))
}

/// For commands without parameters: an empty body or `{}`.
pub fn expect_empty(text: &str) -> Result<(), InvalidBody> {
    if text.trim().is_empty() {
        return Ok(());
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Empty {}
    parse_json::<Empty>(text).map(|_| ())
}

/// Distinguishes `"field": null` (`Some(Null)`) from an absent field (`None`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// The fields of a create or update body, before their values are judged.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFields {
    #[serde(default, deserialize_with = "present")]
    name: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    expires_in_days: Option<Value>,
}

fn name_of(value: &Value) -> Result<TokenName, InvalidBody> {
    let Value::String(text) = value else {
        return Err(refuse("name must be a string"));
    };
    TokenName::parse(text).map_err(refuse)
}

/// `null` is "never"; a whole number of days in range is that many days from now.
fn expiry_of(value: &Value) -> Result<Expiry, InvalidBody> {
    let days = match value {
        Value::Null => return Ok(Expiry::Never),
        Value::Number(number) => number.as_u64().ok_or(ExpiryOutOfRange),
        _ => Err(ExpiryOutOfRange),
    };
    days.and_then(ExpiryDays::new)
        .map(Expiry::InDays)
        .map_err(refuse)
}

/// `POST /console/api/tokens`: `{"name", "expires_in_days"}`, both required.
pub fn new_token(text: &str) -> Result<(TokenName, Expiry), InvalidBody> {
    let fields: TokenFields = parse_json(text)?;
    let name = fields
        .name
        .as_ref()
        .ok_or_else(|| refuse("name is required"))
        .and_then(name_of)?;
    let expiry = fields.expires_in_days.as_ref().ok_or_else(|| {
        refuse(
            "expires_in_days is required: a whole number of days from 1 to 3650, or null for never",
        )
    })?;
    Ok((name, expiry_of(expiry)?))
}

/// `POST /console/api/tokens/{id}/regenerate`: `{"expires_in_days"}`, required, chosen as at
/// creation.
pub fn regenerated_expiry(text: &str) -> Result<Expiry, InvalidBody> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RegenerateFields {
        #[serde(default, deserialize_with = "present")]
        expires_in_days: Option<Value>,
    }
    let fields: RegenerateFields = parse_json(text)?;
    let expiry = fields.expires_in_days.as_ref().ok_or_else(|| {
        refuse(
            "expires_in_days is required: a whole number of days from 1 to 3650, or null for never",
        )
    })?;
    expiry_of(expiry)
}

/// What a `PATCH /console/api/tokens/{id}` body asks to change; `None` keeps the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenChanges {
    pub name: Option<TokenName>,
    pub expiry: Option<Expiry>,
}

/// The body of a PATCH, parsed as far as its shape. The values are judged by
/// [`TokenChangesBody::judge`], after the Worker has checked the path, so that a malformed id
/// is reported before a bad value.
pub struct TokenChangesBody(TokenFields);

impl fmt::Debug for TokenChangesBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenChangesBody").finish_non_exhaustive()
    }
}

pub fn token_changes(text: &str) -> Result<TokenChangesBody, InvalidBody> {
    parse_json(text).map(TokenChangesBody)
}

impl TokenChangesBody {
    pub fn judge(self) -> Result<TokenChanges, InvalidBody> {
        let TokenFields {
            name,
            expires_in_days,
        } = self.0;
        if name.is_none() && expires_in_days.is_none() {
            return Err(refuse(
                "nothing to change: send name and/or expires_in_days",
            ));
        }
        Ok(TokenChanges {
            name: name.as_ref().map(name_of).transpose()?,
            expiry: expires_in_days.as_ref().map(expiry_of).transpose()?,
        })
    }
}

/// The development sign-in body: `{"email"}`.
pub fn sign_in_email(text: &str) -> Result<Email, InvalidBody> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DevLoginBody {
        email: String,
    }
    let body: DevLoginBody = parse_json(text)?;
    Email::parse(&body.email).map_err(refuse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn refusal<T: fmt::Debug>(result: Result<T, InvalidBody>) -> String {
        result.unwrap_err().0
    }

    #[test]
    fn creation_needs_both_fields_with_good_values() {
        let (name, expiry) = new_token(r#"{"name":" CI ","expires_in_days":30}"#).unwrap();
        assert_eq!(name.as_str(), "CI");
        assert_eq!(expiry, Expiry::InDays(ExpiryDays::new(30).unwrap()));
        assert_eq!(
            new_token(r#"{"name":"x","expires_in_days":null}"#)
                .unwrap()
                .1,
            Expiry::Never
        );
        for (body, message) in [
            (r#"{"expires_in_days":null}"#, "name is required"),
            (r#"{"name":"x"}"#, "expires_in_days is required"),
            (
                r#"{"name":1,"expires_in_days":null}"#,
                "name must be a string",
            ),
            (
                r#"{"name":"x","expires_in_days":"30"}"#,
                "whole number from 1 to 3650",
            ),
            (
                r#"{"name":"x","expires_in_days":1.5}"#,
                "whole number from 1 to 3650",
            ),
            (
                r#"{"name":"x","expires_in_days":-1}"#,
                "whole number from 1 to 3650",
            ),
            (
                r#"{"name":"x","expires_in_days":null,"user_id":"u"}"#,
                "unknown field `user_id`",
            ),
            (
                r#"{"name":"a","name":"b","expires_in_days":null}"#,
                "duplicate field `name`",
            ),
            ("", "invalid body"),
        ] {
            assert!(refusal(new_token(body)).contains(message), "{body}");
        }
    }

    #[test]
    fn regeneration_needs_an_expiry() {
        assert_eq!(
            regenerated_expiry(r#"{"expires_in_days":7}"#),
            Ok(Expiry::InDays(ExpiryDays::new(7).unwrap()))
        );
        assert_eq!(
            regenerated_expiry(r#"{"expires_in_days":null}"#),
            Ok(Expiry::Never)
        );
        for (body, message) in [
            ("{}", "expires_in_days is required"),
            (r#"{"expires_in_days":0}"#, "whole number from 1 to 3650"),
            (
                r#"{"expires_in_days":7,"name":"x"}"#,
                "unknown field `name`",
            ),
            ("[7]", "must be a JSON object"),
        ] {
            assert!(
                refusal(regenerated_expiry(body)).contains(message),
                "{body}"
            );
        }
    }

    #[test]
    fn only_objects_are_bodies() {
        for body in [r#"["CI", 30]"#, "[]", "null", "30", r#""CI""#] {
            assert!(
                refusal(new_token(body)).contains("must be a JSON object"),
                "{body}"
            );
            assert!(
                refusal(token_changes(body)).contains("must be a JSON object"),
                "{body}"
            );
            assert!(
                refusal(sign_in_email(body)).contains("must be a JSON object"),
                "{body}"
            );
        }
        assert!(refusal(expect_empty("[]")).contains("must be a JSON object"));
    }

    #[test]
    fn changes_need_something_to_change() {
        let changes = token_changes(r#"{"expires_in_days":null}"#)
            .and_then(TokenChangesBody::judge)
            .unwrap();
        assert_eq!(changes.expiry, Some(Expiry::Never));
        assert!(changes.name.is_none());
        let nothing = token_changes("{}").and_then(TokenChangesBody::judge);
        assert!(refusal(nothing).contains("nothing to change"));
    }

    #[test]
    fn empty_bodies_and_sign_in() {
        assert_eq!(expect_empty("  "), Ok(()));
        assert_eq!(expect_empty("{}"), Ok(()));
        assert!(expect_empty(r#"{"x":1}"#).is_err());
        assert_eq!(
            sign_in_email(r#"{"email":" Ada@Example.com"}"#)
                .unwrap()
                .as_str(),
            "ada@example.com"
        );
        assert!(refusal(sign_in_email(r#"{"email":"no"}"#)).contains("name@example.com"));
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC{0,200}") {
            let _ = new_token(&text);
            let _ = token_changes(&text).and_then(TokenChangesBody::judge);
            let _ = expect_empty(&text);
            let _ = sign_in_email(&text);
            let _ = regenerated_expiry(&text);
        }
    }
}
