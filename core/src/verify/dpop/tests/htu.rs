//! `htu` normalisation.

use super::*;
use crate::verify::dpop::htu::is_unreserved;

/// T-65: pairs that normalise equal.
#[test]
fn htu_equal_pairs() {
    let cases: &[(&str, &str)] = &[
        ("https://h:443/p", "https://h/p"),
        ("http://h:80/p", "http://h/p"),
        ("https://h:/p", "https://h/p"),
        ("https://h:0443/p", "https://h/p"),
        ("HTTPS://H.EXAMPLE.com/p", "https://h.example.com/p"),
        ("https://h/%7E", "https://h/~"),
        ("https://h/%41%62", "https://h/Ab"),
        ("https://h/%2f", "https://h/%2F"),
        ("https://h/a%2d%2E%5f", "https://h/a-._"),
        ("https://h/p?x=1", "https://h/p?y=2"),
        ("https://h/p#frag", "https://h/p"),
        ("https://h/p?", "https://h/p#"),
        ("https://h", "https://h/"),
        ("https://h?q", "https://h/"),
        ("https://h#f", "https://h/"),
        ("https://[::1]/p", "https://[::1]:443/p"),
        ("https://[FE80::AB]/p", "https://[fe80::ab]/p"),
        ("https://h/a{b}", "https://h/a%7Bb%7D"),
        ("https://h/a|b", "https://h/a%7cb"),
        (
            "https://resource.example.org/protectedresource",
            "https://resource.example.org:443/protectedresource?x#y",
        ),
    ];
    for (a, b) in cases {
        let na = normalize_htu(a).unwrap_or_else(|e| panic!("{a}: {e}"));
        let nb = normalize_htu(b).unwrap_or_else(|e| panic!("{b}: {e}"));
        assert_eq!(na, nb, "{a} vs {b}");
    }
}

/// T-66: pairs that normalise to different values (both valid).
#[test]
fn htu_different_pairs() {
    let cases: &[(&str, &str)] = &[
        ("http://h/p", "https://h/p"),
        ("https://h/p", "https://h:8443/p"),
        ("http://h:443/p", "http://h/p"),
        ("https://h/p", "https://h/P"),
        ("https://h/p", "https://h/p/"),
        ("https://h/a%2Fb", "https://h/a/b"),
        ("https://h/a/../b", "https://h/b"),
        ("https://h/./b", "https://h/b"),
        ("https://h/a/%2E%2E/b", "https://h/b"),
        ("https://h//p", "https://h/p"),
        ("https://h/p", "https://g/p"),
        ("https://h./p", "https://h/p"),
        (
            "https://xn--bcher-kva.example/p",
            "https://bucher.example/p",
        ),
        ("https://[::1]/p", "https://[0:0:0:0:0:0:0:1]/p"),
        ("https://h/%25", "https://h/%"),
    ];
    for (a, b) in cases {
        let na = normalize_htu(a);
        let nb = normalize_htu(b);
        assert!(na.is_ok(), "{a}: {na:?}");
        assert_ne!(na, nb, "{a} vs {b}");
    }
}

/// T-66: inputs that are rejected, with the reason.
#[test]
fn htu_rejected() {
    let long = format!("https://h/{}", "a".repeat(MAX_HTU_LEN));
    let cases: &[(&str, UrlError)] = &[
        ("", UrlError::Scheme),
        ("h/p", UrlError::Scheme),
        ("ws://h/p", UrlError::Scheme),
        ("wss://h/p", UrlError::Scheme),
        ("ftp://h/p", UrlError::Scheme),
        ("foo:bar", UrlError::Scheme),
        ("file:///etc/passwd", UrlError::Scheme),
        ("https:h/p", UrlError::MissingAuthority),
        ("https:/h/p", UrlError::MissingAuthority),
        ("https:///p", UrlError::Host),
        ("https://", UrlError::Host),
        ("https://:443/p", UrlError::Host),
        ("https://u:p@h/p", UrlError::Userinfo),
        ("https://u@h/p", UrlError::Userinfo),
        ("https://@h/p", UrlError::Userinfo),
        ("https://h\\p", UrlError::Character),
        ("https://h/a\\b", UrlError::Character),
        ("https://h/a b", UrlError::Character),
        ("https://h/a\tb", UrlError::Character),
        ("https://h/a\nb", UrlError::Character),
        ("https://h/a\rb", UrlError::Character),
        ("https://h/a\0b", UrlError::Character),
        ("https://h/a\x7fb", UrlError::Character),
        (" https://h/p", UrlError::Character),
        ("https://h/p ", UrlError::Character),
        ("https://h/p?q= x", UrlError::Character),
        ("https://bücher.example/p", UrlError::Character),
        ("https://h/ü", UrlError::Character),
        ("https://h:99999/p", UrlError::Port),
        ("https://h:65536/p", UrlError::Port),
        ("https://h:-1/p", UrlError::Port),
        ("https://h:8a/p", UrlError::Port),
        ("https://h:1:2/p", UrlError::Port),
        ("https://h%2e/p", UrlError::Host),
        ("https://h!/p", UrlError::Host),
        ("https://[::1/p", UrlError::Host),
        ("https://[]/p", UrlError::Host),
        ("https://[v1.x]/p", UrlError::Host),
        ("https://[fe80::1%25eth0]/p", UrlError::Host),
        ("https://[::1]x/p", UrlError::Host),
        ("https://h/%", UrlError::PercentEncoding),
        ("https://h/%4", UrlError::PercentEncoding),
        ("https://h/%zz", UrlError::PercentEncoding),
        ("https://h/%4g", UrlError::PercentEncoding),
        (&long, UrlError::TooLong),
    ];
    for (input, expected) in cases {
        assert_eq!(normalize_htu(input), Err(*expected), "{input:?}");
    }
    // The cap is inclusive.
    let at_cap = format!("https://h/{}", "a".repeat(MAX_HTU_LEN - 10));
    assert_eq!(at_cap.len(), MAX_HTU_LEN);
    assert!(normalize_htu(&at_cap).is_ok());
}

#[test]
fn htu_exact_outputs() {
    let cases: &[(&str, &str)] = &[
        (
            "HTTPS://Example.COM:443/a%7eb%2f?q=1#f",
            "https://example.com/a~b%2F",
        ),
        ("http://h:8080", "http://h:8080/"),
        ("https://h:00080/x", "https://h:80/x"),
        ("http://h:0/", "http://h:0/"),
        ("https://1.2.3.4/p", "https://1.2.3.4/p"),
        (
            "https://[2001:DB8::1]:8443/p",
            "https://[2001:db8::1]:8443/p",
        ),
        ("https://h/a\"<>^`b", "https://h/a%22%3C%3E%5E%60b"),
        ("https://h/[x]", "https://h/%5Bx%5D"),
        ("https://h/!$&'()*+,;=:@", "https://h/!$&'()*+,;=:@"),
        ("https://h/%c3%bc", "https://h/%C3%BC"),
        ("https://h/%00", "https://h/%00"),
    ];
    for (input, expected) in cases {
        assert_eq!(normalize_htu(input).as_deref(), Ok(*expected), "{input}");
    }
}

fn path_strategy() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(
        prop_oneof![
            "[A-Za-z0-9._~-]",
            Just("/".into()),
            Just("%2F".into()),
            Just("%2f".into()),
            Just("%41".into()),
            Just("%7e".into()),
            Just("{".into()),
            Just("!".into()),
            Just(":".into()),
        ],
        0..12,
    )
}

fn url_strategy() -> impl Strategy<Value = (String, String, Option<u16>, Vec<String>)> {
    (
        prop_oneof![Just("http"), Just("https"), Just("HTTPS"), Just("hTtP")],
        "[a-zA-Z0-9-]{1,10}(\\.[a-zA-Z0-9-]{1,10}){0,2}",
        proptest::option::of(any::<u16>()),
        path_strategy(),
    )
        .prop_map(|(s, h, p, path)| (s.into(), h, p, path))
}

fn build(scheme: &str, host: &str, port: Option<u16>, parts: &[String]) -> String {
    let path = format!("/{}", parts.concat());
    match port {
        Some(p) => format!("{scheme}://{host}:{p}{path}"),
        None => format!("{scheme}://{host}{path}"),
    }
}

/// Percent-encodes every single-character unreserved part selected by `mask`.
fn encode_unreserved(parts: &[String], mask: &[bool]) -> Vec<String> {
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| match part.as_bytes() {
            [b] if is_unreserved(*b) && mask.get(i).copied().unwrap_or(false) => {
                format!("%{b:02x}")
            }
            _ => part.clone(),
        })
        .collect()
}

proptest! {
    #[test]
    fn htu_never_panics(s in any::<String>()) {
        let _ = normalize_htu(&s);
    }

    #[test]
    fn htu_never_panics_on_url_like(s in "(https?|HTTP|ws)://[ -~]{0,40}") {
        if let Ok(n) = normalize_htu(&s) {
            prop_assert_eq!(normalize_htu(&n), Ok(n.clone()));
        }
    }

    #[test]
    fn htu_is_idempotent((scheme, host, port, path) in url_strategy()) {
        let n = normalize_htu(&build(&scheme, &host, port, &path)).unwrap();
        prop_assert_eq!(normalize_htu(&n), Ok(n.clone()));
    }

    #[test]
    fn htu_ignores_query_fragment_default_port_and_unreserved_encoding(
        (scheme, host, port, path) in url_strategy(),
        query in "[A-Za-z0-9=&%/?]{0,12}",
        fragment in "[A-Za-z0-9=&%/?#]{0,12}",
        mask in proptest::collection::vec(any::<bool>(), 0..40),
    ) {
        let base = normalize_htu(&build(&scheme, &host, port, &path)).unwrap();
        let with_extras = format!("{}?{query}#{fragment}", build(&scheme, &host, port, &path));
        prop_assert_eq!(normalize_htu(&with_extras), Ok(base.clone()));
        let encoded = build(&scheme, &host, port, &encode_unreserved(&path, &mask));
        prop_assert_eq!(normalize_htu(&encoded), Ok(base.clone()));
        if port.is_none() {
            let default = if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 };
            let explicit = build(&scheme, &host, Some(default), &path);
            prop_assert_eq!(normalize_htu(&explicit), Ok(base.clone()));
        }
    }
}
