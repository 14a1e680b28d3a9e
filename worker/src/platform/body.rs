//! Reading a console request body from the runtime's stream, with a size limit.

use futures_util::StreamExt;
use worker::Request;

use crate::console::body::BodySource;
use crate::error::ApiError;

/// Beyond this much past the limit, an oversized body is no longer drained before answering 413.
const MAX_DRAINED_BYTES: usize = 1024 * 1024;

/// The body of a request still in the runtime.
pub struct WorkerBody(pub Request);

impl BodySource for WorkerBody {
    async fn read_limited(mut self, limit: usize) -> Result<Vec<u8>, ApiError> {
        let declared = self
            .0
            .headers()
            .get("Content-Length")?
            .and_then(|len| len.parse::<usize>().ok());
        if declared.is_some_and(|len| len > limit) {
            return Err(ApiError::body_over(limit));
        }
        let mut body = Vec::new();
        if self.0.inner().body().is_none() {
            return Ok(body);
        }
        let mut stream = self.0.stream()?;
        let mut seen = 0usize;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            seen = seen.saturating_add(chunk.len());
            if seen <= limit {
                body.extend_from_slice(&chunk);
                continue;
            }
            // Keep reading (and discarding) a while after the limit, so that the client can
            // finish sending and read our 413 instead of seeing its connection cut.
            body.clear();
            if seen - limit > MAX_DRAINED_BYTES {
                break;
            }
        }
        if seen > limit {
            return Err(ApiError::body_over(limit));
        }
        Ok(body)
    }
}
