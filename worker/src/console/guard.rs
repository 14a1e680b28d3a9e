//! What every console request must pass before its handler runs: no PATs here (checked first),
//! and the CSRF defences on anything that changes state (shared/reference/security.md).

use crate::error::ApiError;
use crate::http::{Headers, Method};

/// The custom header that forces a CORS preflight on cross-origin requests.
pub const CSRF_HEADER: (&str, &str) = ("X-Requested-With", "patgate-console");

/// Refuses PATs on every console route, before anything else is said about the request (even
/// that its path or method is wrong): a token never learns more here than that it is refused.
pub fn refuse_tokens(headers: &Headers) -> Result<(), ApiError> {
    if headers.get("Authorization").is_some() {
        return Err(ApiError::TokensCannotManageTokens);
    }
    Ok(())
}

/// Refuses cross-site or non-JSON state changes. It runs once the route is known, so that a
/// method the route does not accept is 405, whatever headers came with it. `own_origin` is the
/// console's origin as a browser names it in `Origin` (`http://localhost:8787`).
pub fn csrf(method: &Method, headers: &Headers, own_origin: &str) -> Result<(), ApiError> {
    if method.is_safe() {
        return Ok(());
    }
    if headers.get(CSRF_HEADER.0) != Some(CSRF_HEADER.1) {
        return Err(ApiError::CrossSiteRequest(
            "missing header X-Requested-With: patgate-console",
        ));
    }
    if headers
        .get("Sec-Fetch-Site")
        .is_some_and(|site| site.eq_ignore_ascii_case("cross-site"))
    {
        return Err(ApiError::CrossSiteRequest(
            "cross-site requests are refused",
        ));
    }
    if headers.get("Origin") != Some(own_origin) {
        return Err(ApiError::CrossSiteRequest(
            "the Origin header must be the console's own origin",
        ));
    }
    let media_type = headers
        .get("Content-Type")
        .and_then(|value| value.split(';').next())
        .map(str::trim);
    if !media_type.is_some_and(|media| media.eq_ignore_ascii_case("application/json")) {
        return Err(ApiError::UnsupportedMediaType);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "http://localhost:8787";

    fn check(method: &str, headers: &[(&str, &str)]) -> Result<(), ApiError> {
        let headers: Headers = headers.iter().copied().collect();
        refuse_tokens(&headers)?;
        csrf(&Method::parse(method), &headers, ORIGIN)
    }

    const GOOD: [(&str, &str); 3] = [
        ("X-Requested-With", "patgate-console"),
        ("Origin", ORIGIN),
        ("Content-Type", "application/json; charset=utf-8"),
    ];

    fn good_but(change: (&'static str, Option<&'static str>)) -> Vec<(&'static str, &'static str)> {
        let mut headers: Vec<_> = GOOD
            .iter()
            .copied()
            .filter(|(n, _)| *n != change.0)
            .collect();
        if let Some(value) = change.1 {
            headers.push((change.0, value));
        }
        headers
    }

    #[test]
    fn a_pat_is_refused_even_on_reads() {
        assert_eq!(
            check("GET", &[("authorization", "Bearer pat_x")]),
            Err(ApiError::TokensCannotManageTokens)
        );
    }

    #[test]
    fn reads_need_no_csrf_headers_and_writes_need_all_of_them() {
        assert_eq!(check("GET", &[]), Ok(()));
        assert_eq!(check("POST", &GOOD), Ok(()));
        for (change, expected) in [
            (("X-Requested-With", None), "missing header"),
            (
                ("X-Requested-With", Some("XMLHttpRequest")),
                "missing header",
            ),
            (("Origin", None), "Origin header"),
            (("Origin", Some("null")), "Origin header"),
            (
                ("Origin", Some("http://localhost:8787.evil.example")),
                "Origin header",
            ),
            (("Sec-Fetch-Site", Some("cross-site")), "cross-site"),
        ] {
            let Err(ApiError::CrossSiteRequest(why)) = check("DELETE", &good_but(change)) else {
                panic!("{change:?} was accepted")
            };
            assert!(why.contains(expected), "{change:?}: {why}");
        }
        for media in ["text/plain", "application/x-www-form-urlencoded"] {
            assert_eq!(
                check("POST", &good_but(("Content-Type", Some(media)))),
                Err(ApiError::UnsupportedMediaType)
            );
        }
        assert_eq!(
            check("PATCH", &good_but(("Content-Type", None))),
            Err(ApiError::UnsupportedMediaType)
        );
    }
}
