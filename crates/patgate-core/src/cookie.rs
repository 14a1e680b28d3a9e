//! Reading one cookie from a request's `Cookie` header.

/// Cookie headers longer than this are not searched.
const MAX_COOKIE_HEADER_LEN: usize = 8 * 1024;

/// The value of the one cookie called `name`. Missing, duplicated (perhaps planted by a
/// sibling domain) or in an oversized header, it is `None`.
pub fn single<'a>(cookie_header: Option<&'a str>, name: &str) -> Option<&'a str> {
    let header = cookie_header.filter(|h| h.len() <= MAX_COOKIE_HEADER_LEN)?;
    let mut values = header.split(';').filter_map(|pair| {
        let (candidate, value) = pair.trim().split_once('=')?;
        (candidate == name).then_some(value)
    });
    let value = values.next()?;
    values.next().is_none().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn exactly_one_cookie_of_that_name() {
        assert_eq!(single(Some("a=1; b=2"), "b"), Some("2"));
        assert_eq!(single(Some("a=1;b=2"), "b"), Some("2"));
        assert_eq!(single(Some("ab=1"), "b"), None);
        assert_eq!(single(Some("b=1; b=2"), "b"), None);
        assert_eq!(single(None, "b"), None);
        let huge = format!("b=1; pad={}", "x".repeat(9000));
        assert_eq!(single(Some(&huge), "b"), None);
    }
}
