//! [`RateLimiter`] over Workers' rate-limiting bindings (wrangler.toml, `[[ratelimits]]`).

use worker::Env;

use crate::limits::{Limit, LimiterError, RateLimiter};

pub struct WorkersRateLimiter<'a>(pub &'a Env);

impl RateLimiter for WorkersRateLimiter<'_> {
    async fn admit(&self, limit: Limit, key: &str) -> Result<bool, LimiterError> {
        let binding = self
            .0
            .rate_limiter(limit.binding())
            .map_err(|error| LimiterError(format!("binding: {error}")))?;
        let outcome = binding
            .limit(key.to_owned())
            .await
            .map_err(|error| LimiterError(error.to_string()))?;
        Ok(outcome.success)
    }
}
