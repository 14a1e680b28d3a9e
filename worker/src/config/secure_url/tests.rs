use proptest::prelude::*;

use super::SecureUrl;

#[test]
fn accepts_plain_urls_and_says_them_as_the_url_standard_does() {
    for (text, serialized, origin, path, query) in [
        (
            "https://api.internal",
            "https://api.internal/",
            "https://api.internal",
            "/",
            None,
        ),
        (
            "https://api.internal:443/v1",
            "https://api.internal/v1",
            "https://api.internal",
            "/v1",
            None,
        ),
        (
            "https://api.internal:8443",
            "https://api.internal:8443/",
            "https://api.internal:8443",
            "/",
            None,
        ),
        (
            "http://127.0.0.1:9",
            "http://127.0.0.1:9/",
            "http://127.0.0.1:9",
            "/",
            None,
        ),
        (
            "http://localhost:80/",
            "http://localhost/",
            "http://localhost",
            "/",
            None,
        ),
        (
            "http://[::1]:3000",
            "http://[::1]:3000/",
            "http://[::1]:3000",
            "/",
            None,
        ),
        (
            "https://[2001:db8::1]/x",
            "https://[2001:db8::1]/x",
            "https://[2001:db8::1]",
            "/x",
            None,
        ),
        (
            "https://id.example.com?tenant=t1",
            "https://id.example.com/?tenant=t1",
            "https://id.example.com",
            "/",
            Some("tenant=t1"),
        ),
        (
            "https://xn--bcher-kva.example/a%20b",
            "https://xn--bcher-kva.example/a%20b",
            "https://xn--bcher-kva.example",
            "/a%20b",
            None,
        ),
        (
            " https://api.internal\n",
            "https://api.internal/",
            "https://api.internal",
            "/",
            None,
        ),
        (
            "https://keys.example/?",
            "https://keys.example/?",
            "https://keys.example",
            "/",
            Some(""),
        ),
    ] {
        let url = SecureUrl::parse(text).unwrap_or_else(|| panic!("{text}"));
        assert_eq!(url.as_str(), serialized, "{text}");
        assert_eq!(url.origin(), origin, "{text}");
        assert_eq!(url.path(), path, "{text}");
        assert_eq!(url.query(), query, "{text}");
    }
}

#[test]
fn an_international_name_in_its_punycode_form_is_read_as_the_standard_reads_it() {
    for unicode in [
        "https://bücher.example/x",
        "https://例え.テスト:8443/",
        "https://ñ.example/?q=1",
    ] {
        let standard = url::Url::parse(unicode).unwrap();
        let ours = SecureUrl::parse(standard.as_str()).unwrap();
        assert_eq!(ours.as_str(), standard.as_str());
        assert_eq!(ours.origin(), standard.origin().ascii_serialization());
    }
}

#[test]
fn refuses_what_is_not_secure_or_not_plain() {
    for text in [
        "http://api.internal",
        "http://10.0.0.1",
        "http://localhost.example",
        "ftp://api.internal",
        "HTTPS://api.internal",
        "api.internal",
        "https://",
        "https:///x",
        "https://user:pw@api.internal",
        "https://api.internal/#x",
        "https://API.internal",
        "https://bücher.example",
        "https://api internal",
        "https://api.internal/a b",
        "https://api.internal/./x",
        "https://api.internal/x/..",
        "https://api.internal/%2E%2e/x",
        "https://api.internal/a\\b",
        "https://api.internal/?q='x'",
        "https://api.internal/%zz",
        "https://api.internal:",
        "https://api.internal:0443",
        "https://api.internal:65536",
        "https://127.1",
        "https://0x7f.0.0.1",
        "https://1.2.3.4.5",
        "https://[::ffff:1.2.3.4]",
        "https://[0:0:0:0:0:0:0:1]",
        "https://[::1",
        "https://-api.internal",
        "https://api..internal",
        "https://api.internal.",
        "https://api.in\nternal",
        "https://api.internal/\tx",
        "https://api_internal",
        "https://api.internal/\u{7f}",
    ] {
        assert_eq!(SecureUrl::parse(text), None, "{text}");
    }
}

#[test]
fn query_pairs_are_added_after_the_query_the_url_has() {
    let unchanged = SecureUrl::parse("https://id.example.com/authorize?tenant=t1").unwrap();
    assert_eq!(unchanged.with_query_pairs(&[]), unchanged.as_str());
    let pairs = [("client_id", "a b&c"), ("scope", "openid email")];
    for base in [
        "https://id.example.com/authorize",
        "https://id.example.com/authorize?tenant=t1",
        "https://id.example.com/authorize?",
    ] {
        let mut expected = url::Url::parse(base).unwrap();
        expected.query_pairs_mut().extend_pairs(pairs);
        let ours = SecureUrl::parse(base).unwrap().with_query_pairs(&pairs);
        assert_eq!(ours, expected.as_str(), "{base}");
    }
}

/// Strings near the grammar's edges: cases, numbers that are IPv4 addresses to the standard,
/// escapes, dot segments, characters the standard escapes or drops.
fn near_urls() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec!["https://", "http://", "HTTPS://", "https:/", "ftp://"]);
    let label = "[a-zA-Z0-9_@\\[\\]\t-]{0,6}|xn--[a-z0-9]{1,5}|0x[0-9a-f]{1,3}|[0-9]{1,4}";
    let host = prop_oneof![
        prop::collection::vec(label, 1..4).prop_map(|labels| labels.join(".")),
        prop::collection::vec("[a-z]{1,4}", 1..3)
            .prop_map(|labels| format!("{}.", labels.join("."))),
        "[a-z]{1,4}(:[a-z]{0,3})?@[a-z]{1,4}\\.[a-z]{2}",
        Just("localhost".to_owned()),
        any::<[u8; 4]>().prop_map(|b| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])),
        any::<u128>().prop_map(|bits| format!("[{}]", std::net::Ipv6Addr::from(bits))),
        Just("[::1]".to_owned()),
        Just("[::ffff:127.0.0.1]".to_owned()),
        "[0-9.]{1,9}",
    ];
    let port = prop::option::of("[0-9]{0,6}");
    let piece = "[a-z0-9._~%'\"<>@:!$&()*+,;=A-F ?#\\\\/\t\n-]{0,4}|%2[eE]|\\.\\.?";
    let path = prop::collection::vec(piece, 0..4)
        .prop_map(|pieces| pieces.iter().map(|p| format!("/{p}")).collect::<String>());
    let query = prop::option::of(piece);
    let around = prop::sample::select(vec!["", " ", "\n", "\t", "\u{7f}"]);
    (scheme, host, port, path, query, around).prop_map(
        |(scheme, host, port, path, query, around)| {
            let port = port.map(|port| format!(":{port}")).unwrap_or_default();
            let query = query.map(|query| format!("?{query}")).unwrap_or_default();
            format!("{around}{scheme}{host}{port}{path}{query}{around}")
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    /// Whatever the grammar accepts, the `url` crate accepts too and serializes the same way,
    /// with the same origin, path and query, no credentials and no fragment.
    #[test]
    fn whatever_is_accepted_the_url_standard_reads_the_same_way(text in near_urls()) {
        // An `xn--` label is taken as written, not decoded (see the module's documentation):
        // the standard refuses one that is not valid Punycode.
        let host = text.split("//").nth(1).unwrap_or_default();
        let punycode = host.split(['/', '?']).next().unwrap_or_default().contains("xn--");
        if let Some(ours) = SecureUrl::parse(&text).filter(|_| !punycode) {
            let theirs = url::Url::parse(&text).unwrap();
            prop_assert_eq!(ours.as_str(), theirs.as_str());
            prop_assert_eq!(ours.origin(), theirs.origin().ascii_serialization());
            prop_assert_eq!(ours.path(), theirs.path());
            prop_assert_eq!(ours.query(), theirs.query());
            prop_assert!(theirs.username().is_empty() && theirs.password().is_none());
            prop_assert!(theirs.fragment().is_none());
            let loopback = match theirs.host() {
                Some(url::Host::Domain(name)) => name == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            prop_assert!(theirs.scheme() == "https" || (theirs.scheme() == "http" && loopback));
        }
    }

    /// And the plain URLs an operator writes are accepted.
    #[test]
    fn plain_https_urls_are_accepted(
        labels in prop::collection::vec("[a-z]([a-z0-9-]{0,8}[a-z0-9])?", 1..4),
        port in prop::option::of(1u16..),
        segments in prop::collection::vec("[A-Za-z0-9_~-]{1,8}", 0..4),
        query in prop::option::of("[a-z0-9=&]{0,12}"),
    ) {
        let port = port.map(|port| format!(":{port}")).unwrap_or_default();
        let path: String = segments.iter().map(|segment| format!("/{segment}")).collect();
        let query = query.map(|query| format!("?{query}")).unwrap_or_default();
        let text = format!("https://{}{port}{path}{query}", labels.join("."));
        prop_assert!(SecureUrl::parse(&text).is_some(), "{}", text);
    }
}
