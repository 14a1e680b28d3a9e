//! Console request bodies: read with a size limit, parsed strictly into the core's types, with
//! messages that say what is wrong.

use patgate_core::expiry::{Expiry, ExpiryDays, ExpiryOutOfRange};
use patgate_core::identity::TokenName;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::ApiError;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Where a request body comes from: the runtime's stream, or bytes in tests.
#[allow(async_fn_in_trait)]
pub trait BodySource {
    /// The whole body, or [`ApiError::PayloadTooLarge`] beyond `limit` bytes, whether or not a
    /// Content-Length was sent.
    async fn read_limited(self, limit: usize) -> Result<Vec<u8>, ApiError>;
}

impl BodySource for Vec<u8> {
    async fn read_limited(self, limit: usize) -> Result<Vec<u8>, ApiError> {
        if self.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        Ok(self)
    }
}

pub async fn read_text(body: impl BodySource) -> Result<String, ApiError> {
    let bytes = body.read_limited(MAX_BODY_BYTES).await?;
    String::from_utf8(bytes)
        .map_err(|_| ApiError::InvalidBody("the body must be UTF-8 JSON".into()))
}

pub fn parse<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::InvalidBody(format!("invalid body: {e}")))
}

/// For commands without parameters: an empty body or `{}`.
pub fn expect_empty(text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Ok(());
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Empty {}
    parse::<Empty>(text).map(|_| ())
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

fn name_of(value: &Value) -> Result<TokenName, ApiError> {
    let Value::String(text) = value else {
        return Err(ApiError::InvalidBody("name must be a string".into()));
    };
    TokenName::parse(text).map_err(|e| ApiError::InvalidBody(e.to_string()))
}

/// `null` is "never"; a whole number of days in range is that many days from now.
fn expiry_of(value: &Value) -> Result<Expiry, ApiError> {
    let days = match value {
        Value::Null => return Ok(Expiry::Never),
        Value::Number(number) => number.as_u64().ok_or(ExpiryOutOfRange),
        _ => Err(ExpiryOutOfRange),
    };
    days.and_then(ExpiryDays::new)
        .map(Expiry::InDays)
        .map_err(|e| ApiError::InvalidBody(e.to_string()))
}

/// `POST /console/api/tokens`: `{"name", "expires_in_days"}`, both required.
pub fn new_token(text: &str) -> Result<(TokenName, Expiry), ApiError> {
    let fields: TokenFields = parse(text)?;
    let name = fields
        .name
        .as_ref()
        .ok_or_else(|| ApiError::InvalidBody("name is required".into()))
        .and_then(name_of)?;
    let expiry = fields.expires_in_days.as_ref().ok_or_else(|| {
        ApiError::InvalidBody(
            "expires_in_days is required: a whole number of days from 1 to 3650, or null for never"
                .into(),
        )
    })?;
    Ok((name, expiry_of(expiry)?))
}

/// What a `PATCH /console/api/tokens/{id}` body asks to change; `None` keeps the value.
#[derive(Debug)]
pub struct TokenChanges {
    pub name: Option<TokenName>,
    pub expiry: Option<Expiry>,
}

/// The body of a PATCH, parsed as far as its shape. The values are judged by
/// [`TokenChangesBody::judge`] after the path has been checked, so that a malformed id is
/// reported before a bad value, as before.
pub struct TokenChangesBody(TokenFields);

pub fn token_changes(text: &str) -> Result<TokenChangesBody, ApiError> {
    parse(text).map(TokenChangesBody)
}

impl TokenChangesBody {
    pub fn judge(self) -> Result<TokenChanges, ApiError> {
        let TokenFields {
            name,
            expires_in_days,
        } = self.0;
        if name.is_none() && expires_in_days.is_none() {
            return Err(ApiError::InvalidBody(
                "nothing to change: send name and/or expires_in_days".into(),
            ));
        }
        Ok(TokenChanges {
            name: name.as_ref().map(name_of).transpose()?,
            expiry: expires_in_days.as_ref().map(expiry_of).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;

    fn refusal(result: Result<impl std::fmt::Debug, ApiError>) -> String {
        match result {
            Err(ApiError::InvalidBody(message)) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
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
    fn bodies_are_limited_and_must_be_utf8() {
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(block_on(read_text(big)), Err(ApiError::PayloadTooLarge));
        assert!(refusal(block_on(read_text(vec![0x7b, 0xff, 0x7d]))).contains("UTF-8"));
        assert_eq!(expect_empty("  "), Ok(()));
        assert_eq!(expect_empty("{}"), Ok(()));
        assert!(expect_empty(r#"{"x":1}"#).is_err());
    }
}
