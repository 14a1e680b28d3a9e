//! The route table: the one place that says which handler owns which path and method.
//!
//! The Worker owns `/console…` and `/auth/…`; every other path belongs to the platform's API
//! and is forwarded once the PAT is validated.

use crate::error::ApiError;
use crate::http::Method;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Verify,
    Health,
    /// Self-service revocation by whoever holds a token (no authentication).
    HolderRevocation,
    /// A secret scanner's report of tokens found in public (GitHub's format, signed).
    LeakReport,
    /// The platform revokes everything of a user (the admin API); the id as in the path.
    AdminRevokeAll(String),
    /// A console API or sign-in path. The refusal of PATs runs before a wrong method or an
    /// unknown path is reported, so that a PAT always meets 403 there.
    Console(Result<ConsoleRoute, ApiError>),
    /// `/console` without the slash.
    ConsoleHome,
    /// The console's static files (web/).
    ConsoleAsset,
    /// Any other path: the platform's API, behind a PAT.
    Forward,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleRoute {
    /// Which ways of signing in this deployment offers.
    SignInMethods,
    /// The start of a sign-in with the identity provider.
    ProviderLogin,
    /// The identity provider's redirect back.
    ProviderCallback,
    DevLogin,
    Logout,
    Me,
    ListTokens,
    CreateToken,
    /// The id as it appeared in the path, not yet parsed.
    UpdateToken(String),
    DeleteToken(String),
    RevokeAllTokens,
    /// The id as it appeared in the path, not yet parsed.
    RegenerateToken(String),
    Audit,
    /// Tokens revoked for exposure whose notices are not dismissed.
    Notices,
    /// The token id of the notice, as in the path.
    DismissNotice(String),
}

/// The methods forwarded to the origin: RFC 9110's, less CONNECT and TRACE, plus QUERY (the safe
/// method with a body). Anything else (WebDAV's PROPFIND, TRACE, a made-up name) is 405 with
/// this list in `Allow`, before any token is read.
pub const FORWARDED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, QUERY";

pub fn route(method: &Method, path: &str) -> Result<Route, ApiError> {
    use Method::{Delete, Get, Head, Patch, Post};
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let only = |allowed: &'static str, ok: bool, route: Route| {
        if ok {
            Ok(route)
        } else {
            Err(ApiError::MethodNotAllowed(allowed))
        }
    };
    match segments.as_slice() {
        ["auth", "v1", "verify"] => only("GET", *method == Get, Route::Verify),
        ["auth", "v1", "health"] => only("GET", *method == Get, Route::Health),
        ["auth", "v1", "revoke"] => only("POST", *method == Post, Route::HolderRevocation),
        ["auth", "v1", "leaks", "github"] => only("POST", *method == Post, Route::LeakReport),
        ["auth", "v1", "admin", "users", user_id, "revoke-all"] => only(
            "POST",
            *method == Post,
            Route::AdminRevokeAll((*user_id).to_owned()),
        ),
        ["auth", ..] => Err(ApiError::NotFound),
        ["console", "auth", rest @ ..] => Ok(Route::Console(match (rest, method) {
            (["methods"], Get) => Ok(ConsoleRoute::SignInMethods),
            (["login"], Get) => Ok(ConsoleRoute::ProviderLogin),
            (["callback"], Get) => Ok(ConsoleRoute::ProviderCallback),
            (["methods"] | ["login"] | ["callback"], _) => Err(ApiError::MethodNotAllowed("GET")),
            (["dev-login"], Post) => Ok(ConsoleRoute::DevLogin),
            (["logout"], Post) => Ok(ConsoleRoute::Logout),
            (["dev-login"] | ["logout"], _) => Err(ApiError::MethodNotAllowed("POST")),
            _ => Err(ApiError::NotFound),
        })),
        ["console", "api", rest @ ..] => Ok(Route::Console(match (rest, method) {
            (["me"], Get) => Ok(ConsoleRoute::Me),
            (["me"], _) => Err(ApiError::MethodNotAllowed("GET")),
            (["tokens"], Get) => Ok(ConsoleRoute::ListTokens),
            (["tokens"], Post) => Ok(ConsoleRoute::CreateToken),
            (["tokens"], _) => Err(ApiError::MethodNotAllowed("GET, POST")),
            (["tokens", "revoke-all"], Post) => Ok(ConsoleRoute::RevokeAllTokens),
            (["tokens", "revoke-all"], _) => Err(ApiError::MethodNotAllowed("POST")),
            (["tokens", id, "regenerate"], Post) => {
                Ok(ConsoleRoute::RegenerateToken((*id).to_owned()))
            }
            (["tokens", _, "regenerate"], _) => Err(ApiError::MethodNotAllowed("POST")),
            (["tokens", id], Patch) => Ok(ConsoleRoute::UpdateToken((*id).to_owned())),
            (["tokens", id], Delete) => Ok(ConsoleRoute::DeleteToken((*id).to_owned())),
            (["tokens", _], _) => Err(ApiError::MethodNotAllowed("PATCH, DELETE")),
            (["audit"], Get) => Ok(ConsoleRoute::Audit),
            (["audit"], _) => Err(ApiError::MethodNotAllowed("GET")),
            (["notices"], Get) => Ok(ConsoleRoute::Notices),
            (["notices"], _) => Err(ApiError::MethodNotAllowed("GET")),
            (["notices", id], Delete) => Ok(ConsoleRoute::DismissNotice((*id).to_owned())),
            (["notices", _], _) => Err(ApiError::MethodNotAllowed("DELETE")),
            _ => Err(ApiError::NotFound),
        })),
        ["console"] => Ok(Route::ConsoleHome),
        ["console", ..] => only(
            "GET, HEAD",
            matches!(method, Get | Head),
            Route::ConsoleAsset,
        ),
        _ => only(FORWARDED_METHODS, method.is_forwarded(), Route::Forward),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: &str, path: &str, expected: Result<Route, ApiError>) {
        assert_eq!(
            route(&Method::parse(method), path),
            expected,
            "{method} {path}"
        );
    }

    #[test]
    fn the_worker_owns_auth_and_console_and_forwards_the_rest() {
        check("GET", "/auth/v1/verify", Ok(Route::Verify));
        check(
            "POST",
            "/auth/v1/verify",
            Err(ApiError::MethodNotAllowed("GET")),
        );
        check("GET", "/auth/v1/health", Ok(Route::Health));
        check("GET", "/auth/v1/nothing", Err(ApiError::NotFound));
        check("POST", "/auth/v1/revoke", Ok(Route::HolderRevocation));
        check(
            "GET",
            "/auth/v1/revoke",
            Err(ApiError::MethodNotAllowed("POST")),
        );
        check("POST", "/auth/v1/leaks/github", Ok(Route::LeakReport));
        check(
            "PUT",
            "/auth/v1/leaks/github",
            Err(ApiError::MethodNotAllowed("POST")),
        );
        check("POST", "/auth/v1/leaks/gitlab", Err(ApiError::NotFound));
        check(
            "POST",
            "/auth/v1/admin/users/usr_x/revoke-all",
            Ok(Route::AdminRevokeAll("usr_x".into())),
        );
        check(
            "DELETE",
            "/auth/v1/admin/users/usr_x/revoke-all",
            Err(ApiError::MethodNotAllowed("POST")),
        );
        check(
            "POST",
            "/auth/v1/admin/users/usr_x",
            Err(ApiError::NotFound),
        );
        check("GET", "/console", Ok(Route::ConsoleHome));
        check("GET", "/console/", Ok(Route::ConsoleAsset));
        check("HEAD", "/console/app.js", Ok(Route::ConsoleAsset));
        check(
            "POST",
            "/console/app.js",
            Err(ApiError::MethodNotAllowed("GET, HEAD")),
        );
        for path in ["/", "/v1/projects", "/consoles", "/authx"] {
            check("QUERY", path, Ok(Route::Forward));
        }
    }

    #[test]
    fn only_allowlisted_methods_are_forwarded() {
        for method in FORWARDED_METHODS.split(", ") {
            check(method, "/v1/projects", Ok(Route::Forward));
        }
        for method in [
            "PROPFIND", "TRACE", "CONNECT", "MKCOL", "get", "Query", "BREW",
        ] {
            check(
                method,
                "/v1/projects",
                Err(ApiError::MethodNotAllowed(FORWARDED_METHODS)),
            );
        }
    }

    #[test]
    fn console_routes_defer_their_errors_until_after_the_token_refusal() {
        let console = |r| Ok(Route::Console(r));
        check(
            "GET",
            "/console/api/tokens",
            console(Ok(ConsoleRoute::ListTokens)),
        );
        check(
            "POST",
            "/console/api/tokens",
            console(Ok(ConsoleRoute::CreateToken)),
        );
        check(
            "PUT",
            "/console/api/tokens",
            console(Err(ApiError::MethodNotAllowed("GET, POST"))),
        );
        check(
            "PATCH",
            "/console/api/tokens/tok_x",
            console(Ok(ConsoleRoute::UpdateToken("tok_x".into()))),
        );
        check(
            "GET",
            "/console/api/tokens/tok_x",
            console(Err(ApiError::MethodNotAllowed("PATCH, DELETE"))),
        );
        check(
            "POST",
            "/console/api/tokens/revoke-all",
            console(Ok(ConsoleRoute::RevokeAllTokens)),
        );
        for method in ["DELETE", "PATCH", "GET"] {
            check(
                method,
                "/console/api/tokens/revoke-all",
                console(Err(ApiError::MethodNotAllowed("POST"))),
            );
        }
        check(
            "POST",
            "/console/api/tokens/tok_x/regenerate",
            console(Ok(ConsoleRoute::RegenerateToken("tok_x".into()))),
        );
        check(
            "PATCH",
            "/console/api/tokens/tok_x/regenerate",
            console(Err(ApiError::MethodNotAllowed("POST"))),
        );
        check(
            "GET",
            "/console/api/notices",
            console(Ok(ConsoleRoute::Notices)),
        );
        check(
            "DELETE",
            "/console/api/notices/tok_x",
            console(Ok(ConsoleRoute::DismissNotice("tok_x".into()))),
        );
        check(
            "GET",
            "/console/api/notices/tok_x",
            console(Err(ApiError::MethodNotAllowed("DELETE"))),
        );
        check(
            "GET",
            "/console/auth/logout",
            console(Err(ApiError::MethodNotAllowed("POST"))),
        );
        check(
            "GET",
            "/console/api/nothing",
            console(Err(ApiError::NotFound)),
        );
        check(
            "POST",
            "/console/auth/dev-login",
            console(Ok(ConsoleRoute::DevLogin)),
        );
        check(
            "GET",
            "/console/auth/login",
            console(Ok(ConsoleRoute::ProviderLogin)),
        );
        check(
            "GET",
            "/console/auth/callback",
            console(Ok(ConsoleRoute::ProviderCallback)),
        );
        check(
            "GET",
            "/console/auth/methods",
            console(Ok(ConsoleRoute::SignInMethods)),
        );
        check(
            "POST",
            "/console/auth/callback",
            console(Err(ApiError::MethodNotAllowed("GET"))),
        );
    }
}
