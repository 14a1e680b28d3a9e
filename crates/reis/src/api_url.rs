//! The API base URL, parsed once.

use std::fmt;

use crate::client::{exit, Failure};

/// The base URL of a patgate API. It can only hold a URL that starts with `https://` or
/// `http://`; it never ends with `/`, so a request path can be appended as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUrl(String);

impl ApiUrl {
    pub fn parse(text: &str) -> Result<Self, Failure> {
        let text = text.trim();
        if text.starts_with("https://") || text.starts_with("http://") {
            Ok(Self(text.trim_end_matches('/').to_owned()))
        } else {
            Err(Failure::new(
                exit::USAGE,
                format!("the API URL must start with https:// or http://, not {text:?}"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the console of this API lives, for messages that send the user there.
    pub fn console(&self) -> String {
        format!("{}/console/", self.0)
    }
}

impl fmt::Display for ApiUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_without_a_trailing_slash() {
        assert_eq!(
            ApiUrl::parse(" http://localhost:8787/ ").unwrap().as_str(),
            "http://localhost:8787"
        );
        let failure = ApiUrl::parse("api.example.com").unwrap_err();
        assert_eq!(failure.code, exit::USAGE);
        assert!(failure.message.contains("https://"));
    }
}
