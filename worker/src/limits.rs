//! Rate limits per client address, so that nobody can make patgate do costly work in bulk: wake
//! a Durable Object with any well-formed cookie, or cost a KV read with any random token that
//! has a valid checksum.
//!
//! - sign-in: development sign-in, and the identity provider's callback (the step that costs a
//!   request to the provider's token endpoint and a Durable Object);
//! - the console: every other console API request (sign-out included);
//! - failed token validations: only tokens that were looked up and refused (unknown, expired,
//!   deleted). A valid token is never counted, and never refused by a limit; a malformed one
//!   costs nothing and is not counted either. Refused credentials of the other routes count
//!   here too: a secret-scanning report whose signature does not verify, an admin request
//!   without the admin secret. A report that verifies is never counted, so a scanner's
//!   deliveries are never starved, whatever else comes from its addresses;
//! - self-service revocation: every request, before any work (each may list 1,000 tokens).
//!
//! Each limit is a Workers rate-limiting binding (wrangler.toml, `[[ratelimits]]`). A limiter
//! that fails lets the request through (it is logged): limits guard cost, never access, and
//! authentication never depends on them.

use std::net::IpAddr;

use crate::error::ApiError;
#[cfg(doc)]
use crate::http::CLIENT_ADDRESS_HEADER;
use crate::log;
use crate::router::ConsoleRoute;

/// The window of every limit (`simple.period` in wrangler.toml), and so the `Retry-After` of a
/// 429: the binding does not say when the window ends.
pub const PERIOD_SECONDS: u32 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    SignIn,
    Console,
    FailedTokens,
    Revoke,
}

impl Limit {
    /// The rate-limiting binding that counts this limit.
    pub fn binding(self) -> &'static str {
        match self {
            Self::SignIn => "SIGN_IN_LIMITER",
            Self::Console => "CONSOLE_LIMITER",
            Self::FailedTokens => "FAILED_TOKEN_LIMITER",
            Self::Revoke => "REVOKE_LIMITER",
        }
    }

    /// The limit a console route counts against. Every route is named, so a new one must be
    /// placed here; an unknown path or a wrong method still costs a console request.
    pub fn for_console(route: &Result<ConsoleRoute, ApiError>) -> Self {
        match route {
            Ok(ConsoleRoute::DevLogin | ConsoleRoute::ProviderCallback) => Self::SignIn,
            Ok(
                ConsoleRoute::SignInMethods
                | ConsoleRoute::ProviderLogin
                | ConsoleRoute::Logout
                | ConsoleRoute::Me
                | ConsoleRoute::ListTokens
                | ConsoleRoute::CreateToken
                | ConsoleRoute::UpdateToken(_)
                | ConsoleRoute::DeleteToken(_)
                | ConsoleRoute::RevokeAllTokens
                | ConsoleRoute::RegenerateToken(_)
                | ConsoleRoute::Audit
                | ConsoleRoute::Notices
                | ConsoleRoute::DismissNotice(_),
            )
            | Err(_) => Self::Console,
        }
    }
}

/// The key a client is counted under: its address as Cloudflare saw it, an IPv6 client by its
/// /64 (one host commonly holds a whole /64). Without an address, all such requests share one key.
/// `address` is the value of `CF-Connecting-IP` ([`CLIENT_ADDRESS_HEADER`]).
pub fn client_key(address: Option<&str>) -> String {
    match address.and_then(|value| value.trim().parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(address)) => format!("ip4:{address}"),
        Some(IpAddr::V6(address)) => match address.to_ipv4_mapped() {
            Some(mapped) => format!("ip4:{mapped}"),
            None => {
                let [a, b, c, d, ..] = address.segments();
                format!("ip6:{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
        None => "unknown".to_owned(),
    }
}

/// The limiter could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimiterError(pub String);

/// Counts one event of `key` against `limit` and says whether it is within the limit.
#[allow(async_fn_in_trait)]
pub trait RateLimiter {
    async fn admit(&self, limit: Limit, key: &str) -> Result<bool, LimiterError>;
}

/// Counts one request of `client` against `limit`: 429 once over it. A failing limiter lets the
/// request through.
pub async fn count<R: RateLimiter>(
    limiter: &R,
    limit: Limit,
    client: &str,
) -> Result<(), ApiError> {
    match limiter.admit(limit, client).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::RateLimited(PERIOD_SECONDS)),
        Err(LimiterError(error)) => {
            log::error(&format!(
                "rate limiter {} failed, not limiting: {error}",
                limit.binding()
            ));
            Ok(())
        }
    }
}

/// The outcome of a token validation, with failed look-ups counted against the client: once over
/// the limit, a refused token is answered 429 rather than 401. Every other outcome, success
/// above all, passes unchanged and uncounted. `client` gives the client's key, and is asked
/// only for a refusal it counts: reading it costs the hot path a call into the runtime.
pub async fn after_validation<P, R: RateLimiter>(
    outcome: Result<P, ApiError>,
    looked_up: bool,
    limiter: &R,
    client: impl FnOnce() -> String,
) -> Result<P, ApiError> {
    match outcome {
        Err(ApiError::InvalidToken) if looked_up => {
            count(limiter, Limit::FailedTokens, &client()).await?;
            Err(ApiError::InvalidToken)
        }
        other => other,
    }
}

/// The outcome of a request whose own credential was checked (a report's signature, the admin
/// secret): a refusal is counted against the client as a refused token is, and answered 429
/// once over the limit. Every other outcome passes unchanged and uncounted.
pub async fn after_credential_check<P, R: RateLimiter>(
    outcome: Result<P, ApiError>,
    limiter: &R,
    client: &str,
) -> Result<P, ApiError> {
    match outcome {
        Err(refused @ (ApiError::SignatureRefused | ApiError::AdminCredentialRefused)) => {
            count(limiter, Limit::FailedTokens, client).await?;
            Err(refused)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    use futures_executor::block_on;

    use super::*;

    /// Admits `allowance` events per key, or fails every call.
    #[derive(Default)]
    struct FakeLimiter {
        allowance: u32,
        failing: bool,
        counted: RefCell<HashMap<(&'static str, String), u32>>,
        calls: Cell<u32>,
    }

    impl RateLimiter for FakeLimiter {
        async fn admit(&self, limit: Limit, key: &str) -> Result<bool, LimiterError> {
            self.calls.set(self.calls.get() + 1);
            if self.failing {
                return Err(LimiterError("injected".into()));
            }
            let mut counted = self.counted.borrow_mut();
            let seen = counted
                .entry((limit.binding(), key.to_owned()))
                .or_default();
            *seen += 1;
            Ok(*seen <= self.allowance)
        }
    }

    fn limiter(allowance: u32) -> FakeLimiter {
        FakeLimiter {
            allowance,
            ..FakeLimiter::default()
        }
    }

    #[test]
    fn over_the_limit_is_429_with_retry_after() {
        let limiter = limiter(2);
        for _ in 0..2 {
            assert_eq!(
                block_on(count(&limiter, Limit::SignIn, "ip4:192.0.2.1")),
                Ok(())
            );
        }
        let refused = block_on(count(&limiter, Limit::SignIn, "ip4:192.0.2.1")).unwrap_err();
        assert_eq!(refused, ApiError::RateLimited(PERIOD_SECONDS));
        let parts = refused.to_response_parts();
        assert_eq!(parts.status, 429);
        assert!(parts.headers.contains(&("Retry-After", "60".to_owned())));
        // Another client, or another limit, has its own count.
        assert_eq!(
            block_on(count(&limiter, Limit::SignIn, "ip4:192.0.2.2")),
            Ok(())
        );
        assert_eq!(
            block_on(count(&limiter, Limit::Console, "ip4:192.0.2.1")),
            Ok(())
        );
    }

    #[test]
    fn a_failing_limiter_lets_requests_through() {
        let limiter = FakeLimiter {
            failing: true,
            ..FakeLimiter::default()
        };
        assert_eq!(block_on(count(&limiter, Limit::Console, "unknown")), Ok(()));
        let refused: Result<(), _> = Err(ApiError::InvalidToken);
        assert_eq!(
            block_on(after_validation(refused, true, &limiter, || "unknown".into())),
            Err(ApiError::InvalidToken),
            "a failing limiter never turns a refusal into anything else"
        );
    }

    #[test]
    fn only_refused_look_ups_are_counted_and_valid_tokens_never_limited() {
        let limiter = limiter(1);
        let client = "ip4:192.0.2.1";
        let check = |outcome: Result<&'static str, ApiError>, looked_up| {
            block_on(after_validation(outcome, looked_up, &limiter, || {
                client.into()
            }))
        };
        assert_eq!(
            check(Err(ApiError::InvalidToken), true),
            Err(ApiError::InvalidToken)
        );
        assert_eq!(
            check(Err(ApiError::InvalidToken), true),
            Err(ApiError::RateLimited(PERIOD_SECONDS))
        );
        let calls = limiter.calls.get();
        // Over the limit, a valid token still passes, and is not even counted.
        assert_eq!(check(Ok("principal"), true), Ok("principal"));
        // Malformed tokens cost no look-up; a store failure is 503 as ever.
        assert_eq!(
            check(Err(ApiError::InvalidToken), false),
            Err(ApiError::InvalidToken)
        );
        assert_eq!(
            check(Err(ApiError::StoreUnavailable), true),
            Err(ApiError::StoreUnavailable)
        );
        assert_eq!(
            check(Err(ApiError::BearerRequired), false),
            Err(ApiError::BearerRequired)
        );
        assert_eq!(limiter.calls.get(), calls);
    }

    #[test]
    fn refused_reports_and_admin_credentials_count_as_failures_and_nothing_else_does() {
        let limiter = limiter(1);
        let client = "ip4:192.0.2.1";
        let check = |outcome: Result<&'static str, ApiError>| {
            block_on(after_credential_check(outcome, &limiter, client))
        };
        assert_eq!(
            check(Err(ApiError::SignatureRefused)),
            Err(ApiError::SignatureRefused)
        );
        assert_eq!(
            check(Err(ApiError::AdminCredentialRefused)),
            Err(ApiError::RateLimited(PERIOD_SECONDS))
        );
        let calls = limiter.calls.get();
        // A verified report still passes, uncounted; so do other failures.
        assert_eq!(check(Ok("labels")), Ok("labels"));
        assert_eq!(
            check(Err(ApiError::StoreUnavailable)),
            Err(ApiError::StoreUnavailable)
        );
        assert_eq!(
            check(Err(ApiError::TokenNotAdmin)),
            Err(ApiError::TokenNotAdmin)
        );
        assert_eq!(limiter.calls.get(), calls);
    }

    #[test]
    fn clients_are_keyed_by_address_and_ipv6_by_its_64() {
        let key = |address: &str| client_key(Some(address));
        assert_eq!(key("203.0.113.7"), "ip4:203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "ip4:203.0.113.7");
        assert_eq!(key("2001:db8:1:2:3:4:5:6"), "ip6:2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff::1"), key("2001:db8:1:2::9"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("not an address"), "unknown");
        assert_eq!(client_key(None), "unknown");
    }

    #[test]
    fn sign_in_has_its_own_limit_and_everything_else_in_the_console_shares_one() {
        for route in [ConsoleRoute::DevLogin, ConsoleRoute::ProviderCallback] {
            assert_eq!(Limit::for_console(&Ok(route)), Limit::SignIn);
        }
        for route in [
            Ok(ConsoleRoute::SignInMethods),
            Ok(ConsoleRoute::ProviderLogin),
            Ok(ConsoleRoute::Logout),
            Ok(ConsoleRoute::ListTokens),
            Ok(ConsoleRoute::DeleteToken("tok_x".into())),
            Err(ApiError::NotFound),
        ] {
            assert_eq!(Limit::for_console(&route), Limit::Console, "{route:?}");
        }
    }
}
