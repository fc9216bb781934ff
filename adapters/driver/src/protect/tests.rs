use auth0_api::verify::dpop::UrlError;
use auth0_api::{DpopMode, DpopOptions, VerifierConfig};
use proptest::prelude::*;

use super::*;

const TOKEN: &str = "eyJ0.eyJ1.c2ln";

fn verifier(mode: DpopMode) -> Verifier {
    VerifierConfig::new()
        .domain("example.auth0.com")
        .audience("https://api.example.com")
        .dpop(DpopOptions {
            mode,
            ..DpopOptions::default()
        })
        .build()
        .unwrap()
}

fn prepare(
    options: &ProtectOptions,
    mode: DpopMode,
    target: &str,
    headers: &[(&str, &str)],
) -> Result<Option<Credentials>, ProtectError> {
    let headers = headers.iter().map(|(n, v)| (*n, v.as_bytes()));
    options.prepare(&verifier(mode), "GET", target, headers)
}

/// The URL `prepare` would build for a request that needs one.
fn url_from(
    options: &ProtectOptions,
    target: &str,
    headers: &[(&str, &str)],
) -> Result<String, UrlFailure> {
    let mut lines = Lines::default();
    for (name, value) in headers {
        lines.add(name, value.as_bytes());
    }
    options.request_url(target, &lines)
}

fn rejected(result: Result<Option<Credentials>, ProtectError>) -> ErrorResponse {
    match result {
        Err(e @ ProtectError::Rejected(_)) => ErrorResponse::from(&e),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn body(response: &ErrorResponse) -> serde_json::Value {
    serde_json::from_str(&response.body).unwrap()
}

#[test]
fn origins() {
    let ok = [
        ("https://api.example.com", "https://api.example.com"),
        ("https://api.example.com/", "https://api.example.com"),
        ("HTTP://API.example.com:8080", "http://API.example.com:8080"),
        ("https://127.0.0.1:443", "https://127.0.0.1:443"),
        ("https://[::1]:8443", "https://[::1]:8443"),
    ];
    for (input, text) in ok {
        assert_eq!(
            input.parse::<PublicOrigin>().unwrap().as_str(),
            text,
            "{input}"
        );
    }
    let bad = [
        ("api.example.com", UrlError::Scheme),
        ("ftp://api.example.com", UrlError::Scheme),
        ("https://user@api.example.com", UrlError::Userinfo),
        ("https://api.example.com/v1", UrlError::Host),
        ("https://api.example.com?x", UrlError::Host),
        ("https://", UrlError::Host),
        ("https://api example.com", UrlError::Host),
        ("https://api.example.com:", UrlError::Port),
        ("https://api.example.com:65536", UrlError::Port),
        ("https://api.example.com:123456", UrlError::Port),
        ("https://[::1", UrlError::Host),
        ("https://[]", UrlError::Host),
        ("https://[::1]x", UrlError::Host),
        ("https://a%41.example.com", UrlError::Host),
        ("https://api.example.com\r\nx", UrlError::Host),
    ];
    for (input, error) in bad {
        assert_eq!(input.parse::<PublicOrigin>().unwrap_err(), error, "{input}");
    }
    let long = format!("https://{}", "a".repeat(MAX_AUTHORITY_LEN + 1));
    assert_eq!(long.parse::<PublicOrigin>().unwrap_err(), UrlError::TooLong);
}

#[test]
fn origin_urls() {
    let origin: PublicOrigin = "https://api.example.com".parse().unwrap();
    assert_eq!(origin.url("/").unwrap(), "https://api.example.com/");
    assert_eq!(origin.url("*").unwrap_err(), UrlError::MissingAuthority);
    assert_eq!(origin.url("/a#b").unwrap_err(), UrlError::Character);
    assert_eq!(origin.url("/a b").unwrap_err(), UrlError::Character);
    assert_eq!(origin.url("/a\r\n").unwrap_err(), UrlError::Character);
    let long = format!("/{}", "a".repeat(MAX_HTU_LEN));
    assert_eq!(origin.url(&long).unwrap_err(), UrlError::TooLong);
}

#[test]
fn forwarded_table() {
    type Expected = Result<(Option<&'static str>, Option<&'static str>), UrlError>;
    let cases: &[(&[&str], Expected)] = &[
        (
            &["proto=https;host=api.example.com"],
            Ok((Some("https"), Some("api.example.com"))),
        ),
        (
            &["Proto=HTTPS;HOST=api.example.com"],
            Ok((Some("https"), Some("api.example.com"))),
        ),
        (
            &["for=1.1.1.1;proto=http;host=evil, for=2.2.2.2;proto=https;host=good"],
            Ok((Some("https"), Some("good"))),
        ),
        (
            &["proto=http;host=evil", "proto=https;host=good"],
            Ok((Some("https"), Some("good"))),
        ),
        (
            &["proto=https;host=good, "],
            Ok((Some("https"), Some("good"))),
        ),
        (
            &["proto=https;host=\"[::1]:8443\""],
            Ok((Some("https"), Some("[::1]:8443"))),
        ),
        (
            &["for=\"a,b;proto=http\";proto=https"],
            Ok((Some("https"), None)),
        ),
        (
            &["for=\"x\\\"y, z\"; proto=https ; host=a.b"],
            Ok((Some("https"), Some("a.b"))),
        ),
        (&["for=1.2.3.4"], Ok((None, None))),
        (&[], Ok((None, None))),
        (&["proto=https;proto=http"], Err(UrlError::Scheme)),
        (&["host=a;host=b"], Err(UrlError::Host)),
        (&["proto=ftp"], Err(UrlError::Scheme)),
        (&["proto=https;host=\"a b\""], Err(UrlError::Host)),
        (&["proto=https;host=a@b"], Err(UrlError::Userinfo)),
        (
            &["proto=https;host=\"unterminated"],
            Err(UrlError::Character),
        ),
        (&["proto=https\r\nhost=a"], Err(UrlError::Character)),
        (&["proto=https;host=a\n"], Err(UrlError::Character)),
        (&["proto"], Err(UrlError::Character)),
        (&["=https"], Err(UrlError::Character)),
        (&["proto=htt\u{e9}ps"], Err(UrlError::Character)),
    ];
    for (lines, expected) in cases {
        let got = parse_forwarded(lines.iter().map(|l| l.as_bytes()));
        let got = got
            .as_ref()
            .map(|(p, h)| (*p, h.as_deref()))
            .map_err(|e| *e);
        assert_eq!(got, *expected, "{lines:?}");
    }
    let long = format!("proto=https;for={}", "a".repeat(MAX_FORWARDED_LEN));
    assert_eq!(
        parse_forwarded([long.as_bytes()]).unwrap_err(),
        UrlError::TooLong
    );
}

#[test]
fn no_credentials_is_401_without_error_code() {
    let response = rejected(prepare(&ProtectOptions::new(), DpopMode::Allowed, "/", &[]));
    assert_eq!(response.status, 401);
    assert_eq!(
        response.www_authenticate,
        [r#"Bearer realm="api""#, r#"DPoP algs="ES256""#]
    );
    assert_eq!(body(&response)["error"], "invalid_token");
    // Optional: passes without claims.
    let optional = ProtectOptions::new().optional(true);
    assert!(
        prepare(&optional, DpopMode::Allowed, "/", &[])
            .unwrap()
            .is_none()
    );
    // Optional, but a DPoP header without a token is an attempt: refused.
    let response = rejected(prepare(
        &optional,
        DpopMode::Allowed,
        "/",
        &[("dpop", "x.y.z")],
    ));
    assert_eq!(response.status, 401);
}

/// An unknown or empty scheme gets exactly the refusal the core gives that scheme.
#[test]
fn another_scheme_is_refused_as_the_core_refuses_it() {
    for mode in [DpopMode::Allowed, DpopMode::Required, DpopMode::Disabled] {
        for header in [
            "Basic dXNlcjpwYXNz",
            "",
            "Digest a=b",
            "Negotiate",
            " Bearer x",
        ] {
            let refused = match prepare(
                &ProtectOptions::new(),
                mode,
                "/",
                &[("authorization", header)],
            ) {
                Err(ProtectError::Rejected(e)) => e,
                other => panic!("{header:?} in {mode:?}: {other:?}"),
            };
            let scheme = header.split(' ').next().unwrap_or_default();
            let ctx = RequestContext {
                scheme: Some(scheme),
                ..RequestContext::default()
            };
            let core = verifier(mode).verify_access_token("", &ctx).unwrap_err();
            assert_eq!(
                (
                    refused.status(),
                    refused.www_authenticate(),
                    refused.error_code()
                ),
                (core.status(), core.www_authenticate(), core.error_code()),
                "{header:?} in {mode:?}"
            );
        }
    }
}

#[test]
fn wrong_scheme_is_400_without_error_code() {
    for options in [ProtectOptions::new(), ProtectOptions::new().optional(true)] {
        let response = rejected(prepare(
            &options,
            DpopMode::Allowed,
            "/",
            &[("Authorization", "Basic dXNlcjpwYXNz")],
        ));
        assert_eq!(response.status, 400);
        assert_eq!(
            response.www_authenticate,
            [r#"Bearer realm="api""#, r#"DPoP algs="ES256""#]
        );
        assert_eq!(body(&response)["error"], "invalid_request");
    }
    // A scheme the mode refuses: DPoP when disabled, Bearer when required.
    // The core refuses them when verification starts, from the explicit scheme.
    for (mode, header) in [
        (DpopMode::Disabled, "DPoP eyJ0.eyJ1.c2ln"),
        (DpopMode::Required, "Bearer eyJ0.eyJ1.c2ln"),
    ] {
        let found = prepare(
            &ProtectOptions::new(),
            mode,
            "/",
            &[("authorization", header)],
        );
        let found = found.unwrap().unwrap();
        let err = verifier(mode)
            .verify_access_token(found.token(), &found.context())
            .unwrap_err();
        assert_eq!(
            (err.status(), err.www_authenticate().len()),
            (400, 1),
            "{mode:?}"
        );
    }
}

#[test]
fn malformed_requests_are_400_invalid_request() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("/", &[("authorization", "Bearer  two-spaces")]),
        (
            "/",
            &[("authorization", "Bearer a"), ("Authorization", "Bearer b")],
        ),
        ("/?access_token=a", &[("authorization", "Bearer b")]),
        ("/?access_token=a&access_token=b", &[]),
        ("/", &[("authorization", "Bearer \u{e9}")]),
    ];
    for (target, headers) in cases {
        let response = rejected(prepare(
            &ProtectOptions::new(),
            DpopMode::Allowed,
            target,
            headers,
        ));
        assert_eq!(response.status, 400, "{target} {headers:?}");
        assert_eq!(body(&response)["error"], "invalid_request");
        assert!(
            response.www_authenticate[0]
                .starts_with(r#"Bearer realm="api", error="invalid_request""#),
            "{:?}",
            response.www_authenticate
        );
    }
}

#[test]
fn bearer_credentials() {
    let options = ProtectOptions::new().public_origin("https://api.example.com".parse().unwrap());
    let found = prepare(
        &options,
        DpopMode::Allowed,
        "/o?p=1",
        &[("authorization", "bearer eyJ0.eyJ1.c2ln")],
    )
    .unwrap()
    .unwrap();
    assert_eq!((found.token(), found.scheme()), (TOKEN, AuthScheme::Bearer));
    let ctx = found.context();
    assert_eq!(ctx.scheme, Some("Bearer"));
    assert_eq!(ctx.http_method, Some("GET"));
    // A bearer request to a single-domain verifier: no URL is built (nothing reads it).
    assert_eq!(ctx.http_url, None);
    assert_eq!(ctx.dpop_proof, None);
    assert!(!format!("{found:?}").contains(TOKEN));
    // A query token is a bearer token, with the scheme made explicit for the core.
    let found = prepare(
        &options,
        DpopMode::Allowed,
        "/o?access_token=eyJ0.eyJ1.c2ln",
        &[],
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (found.token(), found.context().scheme),
        (TOKEN, Some("Bearer"))
    );
}

#[test]
fn dpop_never_trusts_the_host_header() {
    let headers = [
        ("authorization", "DPoP eyJ0.eyJ1.c2ln"),
        ("dpop", "a.b.c"),
        ("host", "api.example.com"),
    ];
    let err = prepare(&ProtectOptions::new(), DpopMode::Allowed, "/", &headers).unwrap_err();
    assert!(
        matches!(
            err,
            ProtectError::Misconfigured(Misconfiguration::UntrustedHost)
        ),
        "{err:?}"
    );
    let response = ErrorResponse::from(&err);
    assert_eq!(response.status, 500);
    assert!(!response.body.contains("Host"), "no internals in the body");
    // A bearer request with a DPoP header is DPoP in use too.
    let headers = [
        ("authorization", "Bearer eyJ0.eyJ1.c2ln"),
        ("dpop", "a.b.c"),
        ("host", "a"),
    ];
    let err = prepare(&ProtectOptions::new(), DpopMode::Allowed, "/", &headers).unwrap_err();
    assert_eq!(err.status(), 500);
    // With DPoP disabled the header is ignored: a bearer request, no URL needed.
    let found = prepare(&ProtectOptions::new(), DpopMode::Disabled, "/x", &headers)
        .unwrap()
        .unwrap();
    assert_eq!((found.scheme(), found.url()), (AuthScheme::Bearer, None));
    // Where a URL is built from Host (a resolver's input), a malformed Host gives none.
    let headers = [("authorization", "Bearer eyJ0.eyJ1.c2ln"), ("host", "a b")];
    assert!(url_from(&ProtectOptions::new(), "/", &headers).is_err());
    let found = prepare(&ProtectOptions::new(), DpopMode::Allowed, "/", &headers)
        .unwrap()
        .unwrap();
    assert_eq!(found.url(), None);
}

#[test]
fn dpop_with_a_fixed_origin() {
    let options =
        ProtectOptions::new().public_origin("https://api.example.com:8443".parse().unwrap());
    let headers = [
        ("authorization", "DPoP eyJ0.eyJ1.c2ln"),
        ("DPoP", "a.b.c"),
        ("host", "evil.example"),
        ("forwarded", "proto=http;host=evil.example"),
    ];
    let found = prepare(&options, DpopMode::Allowed, "/orders", &headers)
        .unwrap()
        .unwrap();
    let ctx = found.context();
    assert_eq!(ctx.scheme, Some("DPoP"));
    assert_eq!(ctx.dpop_proof, Some("a.b.c"));
    assert_eq!(ctx.http_url, Some("https://api.example.com:8443/orders"));
    assert!(!format!("{found:?}").contains("a.b.c"));
    // Several DPoP lines form one list, which the core refuses as several proofs.
    let headers = [
        ("authorization", "DPoP eyJ0.eyJ1.c2ln"),
        ("dpop", "a.b.c"),
        ("dpop", "d.e.f"),
    ];
    let found = prepare(&options, DpopMode::Allowed, "/", &headers)
        .unwrap()
        .unwrap();
    assert_eq!(found.context().dpop_proof, Some("a.b.c,d.e.f"));
}

#[test]
fn forwarded_headers_only_when_trusted() {
    let dpop = ("authorization", "DPoP eyJ0.eyJ1.c2ln");
    let forwarded = ProtectOptions::new().trust_forwarded();
    let headers = [
        dpop,
        ("host", "internal:8080"),
        (
            "forwarded",
            "proto=http;host=evil, proto=https;host=api.example.com",
        ),
    ];
    let found = prepare(&forwarded, DpopMode::Allowed, "/o", &headers)
        .unwrap()
        .unwrap();
    assert_eq!(found.url(), Some("https://api.example.com/o"));
    // No host in the element: the Host header the proxy passed through.
    let headers = [
        dpop,
        ("host", "api.example.com"),
        ("forwarded", "for=1.2.3.4;proto=https"),
    ];
    let found = prepare(&forwarded, DpopMode::Allowed, "/o", &headers)
        .unwrap()
        .unwrap();
    assert_eq!(found.url(), Some("https://api.example.com/o"));
    // Missing: a configuration matter (500). Malformed: the request's (400).
    let err = prepare(&forwarded, DpopMode::Allowed, "/o", &[dpop, ("host", "a")]).unwrap_err();
    assert!(matches!(
        err,
        ProtectError::Misconfigured(Misconfiguration::MissingHeader("forwarded"))
    ));
    let headers = [dpop, ("forwarded", "proto=https;host=\"a b\"")];
    let response = rejected(prepare(&forwarded, DpopMode::Allowed, "/o", &headers));
    assert_eq!(
        (response.status, body(&response)["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // Malformed but not needed (bearer): ignored, no URL.
    let headers = [
        ("authorization", "Bearer eyJ0.eyJ1.c2ln"),
        ("forwarded", "proto=\""),
    ];
    assert_eq!(
        prepare(&forwarded, DpopMode::Allowed, "/o", &headers)
            .unwrap()
            .unwrap()
            .url(),
        None
    );

    let x = ProtectOptions::new().trust_x_forwarded();
    let headers = [
        dpop,
        ("host", "internal"),
        ("x-forwarded-proto", "http, https"),
        ("x-forwarded-host", "evil, api.example.com"),
    ];
    let found = prepare(&x, DpopMode::Allowed, "/o", &headers)
        .unwrap()
        .unwrap();
    assert_eq!(found.url(), Some("https://api.example.com/o"));
    let headers = [
        dpop,
        ("host", "api.example.com"),
        ("x-forwarded-proto", "https"),
    ];
    let found = prepare(&x, DpopMode::Allowed, "/o", &headers)
        .unwrap()
        .unwrap();
    assert_eq!(found.url(), Some("https://api.example.com/o"));
    let err = prepare(&x, DpopMode::Allowed, "/o", &[dpop, ("host", "a")]).unwrap_err();
    assert!(matches!(
        err,
        ProtectError::Misconfigured(Misconfiguration::MissingHeader("x-forwarded-proto"))
    ));
    let headers = [
        dpop,
        ("x-forwarded-proto", "https"),
        ("host", "a"),
        ("host", "b"),
    ];
    assert_eq!(
        rejected(prepare(&x, DpopMode::Allowed, "/o", &headers)).status,
        400
    );

    // Untrusted: the forwarded headers are not read (and DPoP is refused without an origin).
    let headers = [
        ("authorization", "Bearer eyJ0.eyJ1.c2ln"),
        ("host", "api.example.com"),
        ("forwarded", "proto=http;host=evil"),
    ];
    assert_eq!(
        url_from(&ProtectOptions::new(), "/o", &headers).ok(),
        Some("https://api.example.com/o".to_owned())
    );
}

#[test]
fn error_bodies_are_json() {
    let response = ErrorResponse::server_error(503, "quote \" backslash \\ newline \n");
    let parsed = body(&response);
    assert_eq!(parsed["error"], "server_error");
    assert_eq!(
        parsed["error_description"],
        "quote \" backslash \\ newline \n"
    );
    assert!(!response.body.contains('\n'));
}

/// A `Forwarded` element as a proxy might write it, with optional quoting and spacing.
fn element() -> impl Strategy<Value = (String, Option<&'static str>, Option<String>)> {
    let proto = prop::option::of(prop_oneof![Just("http"), Just("https")]);
    let host = prop::option::of("[a-z0-9.-]{1,20}(:[0-9]{1,4})?");
    let noise = "[ -~&&[^\"\\\\]]{0,12}";
    (proto, host, noise, any::<[bool; 3]>()).prop_map(
        |(proto, host, noise, [quote, space, upper])| {
            let mut pairs = vec![format!("for=\"{noise}\"")];
            if let Some(p) = proto {
                let name = if upper { "PROTO" } else { "proto" };
                pairs.push(if quote {
                    format!("{name}=\"{p}\"")
                } else {
                    format!("{name}={p}")
                });
            }
            if let Some(h) = &host {
                pairs.push(if quote {
                    format!("host=\"{h}\"")
                } else {
                    format!("host={h}")
                });
            }
            let sep = if space { " ; " } else { ";" };
            (pairs.join(sep), proto, host)
        },
    )
}

proptest! {
    #[test]
    fn forwarded_never_panics(lines in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..4)) {
        let _ = parse_forwarded(lines.iter().map(Vec::as_slice));
    }

    #[test]
    fn forwarded_never_accepts_cr_or_lf(
        before in "[ -~]{0,30}",
        after in "[ -~]{0,30}",
        ctl in prop_oneof![Just('\r'), Just('\n'), Just('\0'), Just('\x7f')],
    ) {
        let line = format!("{before}{ctl}{after}");
        prop_assert!(parse_forwarded([line.as_bytes()]).is_err());
    }

    #[test]
    fn forwarded_reads_the_last_element(
        elements in prop::collection::vec(element(), 1..6),
        lines in 1usize..3,
    ) {
        let texts: Vec<&str> = elements.iter().map(|(t, _, _)| t.as_str()).collect();
        let per_line = texts.len().div_ceil(lines);
        let joined: Vec<String> = texts.chunks(per_line).map(|c| c.join(", ")).collect();
        let (proto, host) = parse_forwarded(joined.iter().map(String::as_bytes)).unwrap();
        let (_, want_proto, want_host) = elements.last().unwrap();
        prop_assert_eq!(proto, *want_proto);
        // A host whose port is out of range is refused, never silently changed.
        prop_assert_eq!(host.as_ref(), want_host.as_ref());
    }

    #[test]
    fn authority_never_panics(input in "\\PC{0,40}") {
        let _ = input.parse::<PublicOrigin>();
        let _ = parse_forwarded([format!("proto=https;host={input}").as_bytes()]);
    }
}
