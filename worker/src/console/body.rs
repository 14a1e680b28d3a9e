//! Console request bodies: read with a size limit, as UTF-8 text. Parsing them is the core's
//! (`patgate_core::request`).

use patgate_core::request::InvalidBody;

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
            return Err(ApiError::body_over(limit));
        }
        Ok(self)
    }
}

pub async fn read_text(body: impl BodySource) -> Result<String, ApiError> {
    read_text_up_to(body, MAX_BODY_BYTES).await
}

/// The body as UTF-8 text, up to `limit` bytes (for the routes outside the console).
pub async fn read_text_up_to(body: impl BodySource, limit: usize) -> Result<String, ApiError> {
    let bytes = body.read_limited(limit).await?;
    String::from_utf8(bytes)
        .map_err(|_| ApiError::InvalidBody("the body must be UTF-8 JSON".into()))
}

impl From<InvalidBody> for ApiError {
    fn from(InvalidBody(message): InvalidBody) -> Self {
        Self::InvalidBody(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;

    #[test]
    fn bodies_are_limited_and_must_be_utf8() {
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            block_on(read_text(big)),
            Err(ApiError::body_over(MAX_BODY_BYTES))
        );
        let Err(ApiError::InvalidBody(message)) = block_on(read_text(vec![0x7b, 0xff, 0x7d]))
        else {
            panic!("invalid UTF-8 accepted")
        };
        assert!(message.contains("UTF-8"));
    }
}
