//! Wire-level attacks on the HTTP adapters (SECURITY.md T-81, T-70, T-50): untrusted TLS
//! certificates, token-endpoint redirects, compressed JWK Sets and bodies that stall part
//! way. Every scenario runs through both ureq and reqwest against the local tenant over
//! HTTPS on loopback: real servers, real clients, no mocks of the SDK's own traits.
//!
//! Where the verification error collapses the transport failure (`DiscoveryFailed(None)`,
//! `JwksFetchFailed(None)`), the same request is also sent through the adapter's own
//! transport, to pin the transport error kind (and, for TLS, the certificate error).

use std::io::Write as _;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;

use auth0_api::exchange::{
    CustomTokenExchange, ExchangeConfig, ExchangeError, ResponseError, TokenExchanger,
};
use auth0_api::jose::JoseError;
use auth0_api::{
    DomainPolicy, Flow, HttpOutcome, HttpRequest, Reason, RequestContext, TransportError,
    TransportErrorKind, Verifier, VerifierConfig, VerifyError,
};
use auth0_api_mock_tenant::{
    Alg, DEFAULT_AUDIENCE, DEFAULT_CUSTOM_TOKEN_TYPE, MockTenant, TenantOptions, TokenSpec,
};
use auth0_api_reqwest::AsyncTransport as _;
use auth0_api_ureq::Transport as _;

const DISCOVERY: &str = "/.well-known/openid-configuration";
const JWKS: &str = "/.well-known/jwks.json";
const TOKEN: &str = "/oauth/token";

#[derive(Clone, Copy, Debug)]
enum Kind {
    Ureq,
    Reqwest,
}

const ADAPTERS: [Kind; 2] = [Kind::Ureq, Kind::Reqwest];

/// A real client of either adapter.
enum Adapter {
    Ureq(auth0_api_ureq::Client),
    Reqwest(auth0_api_reqwest::Client, tokio::runtime::Runtime),
}

impl Adapter {
    /// A client for `verifier` trusting exactly the CA certificates `ca` (PEM); with none,
    /// the adapter's default roots (the public web PKI).
    fn new(kind: Kind, verifier: Verifier, ca: Vec<Vec<u8>>, timeout: Duration) -> Self {
        match kind {
            Kind::Ureq => Adapter::Ureq(
                auth0_api_ureq::client(
                    verifier,
                    auth0_api_ureq::ClientOptions {
                        timeout,
                        root_certificates_pem: ca,
                        ..Default::default()
                    },
                )
                .unwrap(),
            ),
            Kind::Reqwest => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                let client = auth0_api_reqwest::client(
                    verifier,
                    auth0_api_reqwest::ClientOptions {
                        timeout,
                        root_certificates_pem: ca,
                        ..Default::default()
                    },
                )
                .unwrap();
                Adapter::Reqwest(client, rt)
            }
        }
    }

    fn verify(&self, token: &str) -> Result<auth0_api::Claims, VerifyError> {
        let ctx = RequestContext::default();
        match self {
            Adapter::Ureq(c) => c.verify(token, &ctx),
            Adapter::Reqwest(c, rt) => rt.block_on(c.verify_async(token, &ctx)),
        }
    }

    fn reason(&self, token: &str) -> Reason {
        self.verify(token).unwrap_err().reason().clone()
    }

    /// One request through the adapter's own transport (no caches, no flow).
    fn send(&self, request: HttpRequest) -> HttpOutcome {
        match self {
            Adapter::Ureq(c) => c.driver().transport().send(request),
            Adapter::Reqwest(c, rt) => rt.block_on(c.driver().transport().send(request)),
        }
    }

    fn drive<F: Flow>(&self, flow: &mut F) -> Result<F::Output, F::Error> {
        match self {
            Adapter::Ureq(c) => c.driver().drive(flow),
            Adapter::Reqwest(c, rt) => rt.block_on(c.driver().drive_async(flow)),
        }
    }
}

fn tenant() -> MockTenant {
    MockTenant::start(TenantOptions::default()).unwrap()
}

fn local() -> DomainPolicy {
    DomainPolicy::STRICT.with_ip_literals(true)
}

fn verifier(tenant: &MockTenant) -> Verifier {
    VerifierConfig::new()
        .domain(tenant.issuer())
        .audience(DEFAULT_AUDIENCE)
        .algorithms(["RS256", "ES256"])
        .domain_policy(local())
        .build()
        .unwrap()
}

fn ca(tenants: &[&MockTenant]) -> Vec<Vec<u8>> {
    tenants
        .iter()
        .map(|t| t.ca_pem().as_bytes().to_vec())
        .collect()
}

fn token(tenant: &MockTenant) -> String {
    tenant
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE).alg(Alg::Es256))
        .unwrap()
}

/// An exchanger for `tenant`'s secret client (`client_secret_post`).
fn exchanger(tenant: &MockTenant) -> TokenExchanger {
    let secret = tenant.secret_client();
    ExchangeConfig::new()
        .client_id(secret.client_id())
        .client_secret(secret.secret())
        .domain(tenant.issuer())
        .domain_policy(local())
        .build()
        .unwrap()
}

/// A custom token exchange of a legacy token, as the tenant accepts it.
fn exchange(c: &Adapter, ex: &TokenExchanger, random: u8) -> Result<(), ExchangeError> {
    let custom = CustomTokenExchange {
        subject_token: "legacy".into(),
        subject_token_type: DEFAULT_CUSTOM_TOKEN_TYPE.into(),
        ..Default::default()
    };
    let mut flow = ex.custom_token_exchange(&custom, [random; 16]).unwrap();
    c.drive(&mut flow).map(|_| ())
}

/// The transport failure of `outcome`, which must be one.
fn failure(outcome: HttpOutcome, what: &str) -> TransportError {
    match outcome {
        Ok(response) => panic!(
            "{what}: expected a transport failure, got {}",
            response.status
        ),
        Err(e) => e,
    }
}

/// The rustls certificate error somewhere behind a transport failure: reqwest chains it
/// through `source()` inside nested `io::Error`s, ureq holds it in its own error (an
/// `io::Error` again), and `io::Error::source` skips the error it wraps.
fn certificate_error(e: &TransportError) -> Option<rustls::CertificateError> {
    fn find(err: &(dyn std::error::Error + 'static)) -> Option<rustls::CertificateError> {
        if let Some(rustls::Error::InvalidCertificate(c)) = err.downcast_ref::<rustls::Error>() {
            return Some(c.clone());
        }
        let wrapped = match err.downcast_ref::<ureq::Error>() {
            Some(ureq::Error::Rustls(rustls::Error::InvalidCertificate(c))) => {
                return Some(c.clone());
            }
            Some(ureq::Error::Io(io)) => find(io),
            _ => err
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .and_then(|inner| find(inner)),
        };
        wrapped.or_else(|| find(err.source()?))
    }
    find(e)
}

/// T-81: a tenant whose certificate the client does not trust fails discovery at the TLS
/// handshake: `DiscoveryFailed(None)`, transport kind `Connect` (the adapters have no TLS
/// kind; `Connect` documents "DNS, refused, TLS handshake") with the rustls certificate error
/// behind it, and the tenant's handler sees zero requests. Cases: no CA configured, so the
/// public roots (`UnknownIssuer`); another tenant's CA (`BadSignature`); the right CA but a
/// certificate for another name (`NotValidForName`). A token exchange against the same
/// tenant fails with `ResponseError::Discovery(None)`, before any credential is sent.
#[test]
fn untrusted_tenant_certificates_fail_discovery_before_any_request() {
    let other = tenant();
    for kind in ADAPTERS {
        let t = tenant();
        let misnamed = MockTenant::start(TenantOptions {
            tls_names: vec!["tenant.invalid".to_owned()],
            ..TenantOptions::default()
        })
        .unwrap();
        let cases: [(&str, &MockTenant, Vec<Vec<u8>>); 3] = [
            ("public roots only", &t, Vec::new()),
            ("another tenant's CA", &t, ca(&[&other])),
            ("certificate for another name", &misnamed, ca(&[&misnamed])),
        ];
        for (case, target, trusted) in cases {
            let c = Adapter::new(kind, verifier(target), trusted, Duration::from_secs(10));
            assert_eq!(
                c.reason(&token(target)),
                Reason::DiscoveryFailed(None),
                "{kind:?}, {case}"
            );
            let e = failure(
                c.send(HttpRequest::get(target.discovery_url())),
                &format!("{kind:?}, {case}"),
            );
            assert_eq!(e.kind(), TransportErrorKind::Connect, "{kind:?}, {case}");
            let cert = certificate_error(&e);
            let expected = match case {
                "public roots only" => {
                    matches!(cert, Some(rustls::CertificateError::UnknownIssuer))
                }
                // Every tenant's CA has the same subject name: the chain is built to the
                // wrong CA and its signature does not verify.
                "another tenant's CA" => {
                    matches!(cert, Some(rustls::CertificateError::BadSignature))
                }
                _ => matches!(
                    cert,
                    Some(
                        rustls::CertificateError::NotValidForName
                            | rustls::CertificateError::NotValidForNameContext { .. }
                    )
                ),
            };
            assert!(expected, "{kind:?}, {case}: {cert:?} from {e:?}");
            // A token exchange stops at the same handshake, before any credential is sent.
            let err = exchange(&c, &exchanger(target), 1).unwrap_err();
            assert!(
                matches!(err, ExchangeError::Response(ResponseError::Discovery(None))),
                "{kind:?}, {case}: {err:?}"
            );
            assert_eq!(target.total_requests(), 0, "{kind:?}, {case}");
        }
        // Control: trusting the tenant's own CA, the same tenant answers.
        let c = Adapter::new(kind, verifier(&t), ca(&[&t]), Duration::from_secs(10));
        c.verify(&token(&t)).unwrap();
        assert_eq!((t.request_count(DISCOVERY), t.request_count(JWKS)), (1, 1));
    }
    assert_eq!(other.total_requests(), 0);
}

/// T-70: a token endpoint answering a redirect (301, 302, 303, 307, 308) to another path of
/// the tenant or to another loopback server the client trusts fails the exchange with the
/// transport's redirect error, and the target receives zero requests: the client
/// credentials (in the form and in a Basic header) are sent once, to the token endpoint.
///
/// Pinned: through the HTTP adapters the 3xx never reaches the core, so the error is
/// `ExchangeError::Transport` of kind `Redirect` without the status (`status()` is `None`),
/// not the core's `ResponseError::Redirect { status }` (which transports that hand 3xx
/// answers through would produce).
#[test]
fn token_endpoint_redirects_are_not_followed() {
    for kind in ADAPTERS {
        let (a, b) = (tenant(), tenant());
        let c = Adapter::new(kind, verifier(&a), ca(&[&a, &b]), Duration::from_secs(10));
        let secret = a.secret_client();
        for basic in [false, true] {
            let ex = ExchangeConfig::new()
                .client_id(secret.client_id())
                .client_secret(secret.secret())
                .client_secret_basic(basic)
                .domain(a.issuer())
                .domain_policy(local())
                .build()
                .unwrap();
            for status in [301, 302, 303, 307, 308] {
                for target in [a.url("/elsewhere"), b.token_endpoint()] {
                    let case = format!("{kind:?}, basic={basic}, {status} to {target}");
                    a.reset_faults();
                    a.reset_counts();
                    a.redirect_with(TOKEN, status, &target);
                    let custom = CustomTokenExchange {
                        subject_token: "legacy".into(),
                        subject_token_type: DEFAULT_CUSTOM_TOKEN_TYPE.into(),
                        ..Default::default()
                    };
                    let mut flow = ex.custom_token_exchange(&custom, [7; 16]).unwrap();
                    let err = c.drive(&mut flow).unwrap_err();
                    match &err {
                        ExchangeError::Transport(e) => {
                            assert_eq!(e.kind(), TransportErrorKind::Redirect, "{case}");
                        }
                        other => panic!("{case}: expected a transport redirect, got {other:?}"),
                    }
                    assert_eq!(err.status(), None, "{case}");
                    assert_eq!(a.request_count(TOKEN), 1, "{case}");
                    assert_eq!(a.request_count("/elsewhere"), 0, "{case}");
                    assert_eq!(b.total_requests(), 0, "{case}: credentials re-sent");
                    // The one request did carry the credentials that must not travel on.
                    let sent = a.last_request(TOKEN).unwrap();
                    if basic {
                        assert!(sent.header("authorization").unwrap().starts_with("Basic "));
                    } else {
                        assert_eq!(
                            sent.form_value("client_secret").as_deref(),
                            Some(secret.secret())
                        );
                    }
                }
            }
        }
        // Control: without the redirect the same exchange succeeds.
        a.reset_faults();
        exchange(&c, &exchanger(&a), 8).unwrap();
    }
}

/// `data` gzipped.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// T-50: neither adapter asks for or decodes compressed bodies. The request carries no
/// `Accept-Encoding`; a JWKS answered with `Content-Encoding: gzip` anyway reaches the core
/// as the compressed bytes (no decoder to blow up: a 10 MiB zero bomb stays its ~10 KiB
/// wire size) and is refused as an unusable key set, `InvalidJwks(InvalidKeySet)`, after one
/// request. A gzipped token response is likewise refused as invalid JSON.
#[test]
fn gzip_jwks_is_neither_requested_nor_decompressed() {
    const BOMB_LEN: usize = 10 * 1024 * 1024;
    let bomb = gzip(&vec![0; BOMB_LEN]);
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    assert_eq!(bomb[bomb.len() - 4..], (BOMB_LEN as u32).to_le_bytes());
    for kind in ADAPTERS {
        let t = tenant();
        let small = gzip(t.jwks().to_string().as_bytes());
        for (case, body) in [("valid JWKS", &small), ("10 MiB bomb", &bomb)] {
            let case = format!("{kind:?}, gzip {case}");
            t.reset_counts();
            t.respond_with_headers(
                JWKS,
                200,
                &[
                    ("content-type", "application/json"),
                    ("content-encoding", "gzip"),
                ],
                body.clone(),
            );
            let c = Adapter::new(kind, verifier(&t), ca(&[&t]), Duration::from_secs(10));
            assert_eq!(
                c.reason(&token(&t)),
                Reason::InvalidJwks(JoseError::InvalidKeySet),
                "{case}"
            );
            assert_eq!((t.request_count(DISCOVERY), t.request_count(JWKS)), (1, 1));
            for path in [DISCOVERY, JWKS] {
                let sent = t.last_request(path).unwrap();
                assert_eq!(sent.header("accept-encoding"), None, "{case}: {path}");
            }
            // What the transport hands the core: the bytes as sent, header kept.
            let response = c.send(HttpRequest::get(t.jwks_uri())).unwrap();
            assert_eq!(response.status, 200, "{case}");
            assert_eq!(response.header("content-encoding"), Some("gzip"), "{case}");
            assert_eq!(&response.body, body, "{case}: body decoded");
        }
        // A token response gzipped anyway is not JSON to the core either.
        let c = Adapter::new(kind, verifier(&t), ca(&[&t]), Duration::from_secs(10));
        let ex = exchanger(&t);
        exchange(&c, &ex, 1).unwrap();
        let answer = t.last_request(TOKEN).unwrap();
        assert_eq!(answer.header("accept-encoding"), None, "{kind:?}");
        let tokens = serde_json::json!({
            "access_token": "at", "token_type": "Bearer", "expires_in": 60,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        });
        t.respond_with_headers(
            TOKEN,
            200,
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            gzip(tokens.to_string().as_bytes()),
        );
        let err = exchange(&c, &ex, 2).unwrap_err();
        assert!(
            matches!(err, ExchangeError::Response(ResponseError::InvalidJson(_))),
            "{kind:?}: {err:?}"
        );
        assert_eq!(t.request_count(TOKEN), 2, "{kind:?}");
    }
}

/// T-81: a JWKS whose headers and first bytes arrive, then nothing for longer than the
/// client's timeout (300 ms), fails with a timeout: `JwksFetchFailed(None)` for the
/// verification, transport kind `Timeout`. The partial body is never used. A token endpoint
/// stalling the same way fails the exchange with `ExchangeError::Transport` of kind
/// `Timeout`. The stalls (30 s) end when the tenant is dropped at the end of each case.
#[test]
fn a_jwks_body_stalled_past_the_timeout_times_out() {
    for kind in ADAPTERS {
        let t = tenant();
        let jwks_len = t.jwks().to_string().len();
        t.stall_body(JWKS, jwks_len / 2, Duration::from_secs(30));
        let c = Adapter::new(kind, verifier(&t), ca(&[&t]), Duration::from_millis(300));
        assert_eq!(
            c.reason(&token(&t)),
            Reason::JwksFetchFailed(None),
            "{kind:?}"
        );
        let e = failure(c.send(HttpRequest::get(t.jwks_uri())), "stalled JWKS");
        assert_eq!(e.kind(), TransportErrorKind::Timeout, "{kind:?}: {e:?}");
        assert_eq!((t.request_count(DISCOVERY), t.request_count(JWKS)), (1, 2));

        // The same stall on the token endpoint: the exchange fails with a transport timeout.
        t.stall_body(TOKEN, 5, Duration::from_secs(30));
        match exchange(&c, &exchanger(&t), 9).unwrap_err() {
            ExchangeError::Transport(e) => {
                assert_eq!(e.kind(), TransportErrorKind::Timeout, "{kind:?}: {e:?}");
            }
            other => panic!("{kind:?}: expected a transport timeout, got {other:?}"),
        }
        assert_eq!(t.request_count(TOKEN), 1, "{kind:?}");
    }
}
