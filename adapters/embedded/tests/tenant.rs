//! The embedded driver against the local HTTPS mock tenant: TLS 1.3 by `embedded-tls` on the
//! host's TCP stack (through `embedded-nal-async`), the tenant's rustls server on loopback.
//! The tenant is trusted by the pin of its key, as documented, unless a test is about
//! `embedded-tls`'s own verifiers.

#![cfg(feature = "reqwless")]

use std::error::Error as _;
use std::io::Read as _;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use auth0_api::DomainPolicy;
use auth0_api::Reason;
use auth0_api::RequestContext;
use auth0_api::UnixTime;
use auth0_api::{HttpRequest, TransportError, TransportErrorKind};
use auth0_api::{Verifier, VerifierConfig};
use auth0_api_embedded::https::{Buffers, HttpsError, HttpsTransport, Verified};
use auth0_api_embedded::pin::{PinError, Pinned, SpkiPin};
use auth0_api_embedded::{Transport, verify};
use auth0_api_mock_tenant::{Alg, DEFAULT_AUDIENCE, MockTenant, TenantOptions, TokenSpec};
use embedded_nal_async::{AddrType, Dns};
use embedded_tls::{
    Aes128GcmSha256, Certificate, TlsClock, TlsError, TlsVerifier, UnsecureProvider,
};
use futures_lite::future::block_on;
use rand_core::OsRng;
use std_embedded_nal_async::Stack;

const DISCOVERY: &str = "/.well-known/openid-configuration";
const JWKS: &str = "/.well-known/jwks.json";

/// The certificate validity check needs the time; a device would read its RTC.
struct HostTime;

impl TlsClock for HostTime {
    fn now() -> Option<u64> {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }
}

type WebPki<'a> = embedded_tls::webpki::CertVerifier<'a, Aes128GcmSha256, HostTime, 4096>;
type RustPki<'a> = embedded_tls::pki::CertVerifier<'a, Aes128GcmSha256, HostTime, 4096>;

fn now() -> UnixTime {
    UnixTime::from_secs(HostTime::now().unwrap())
}

/// Resolves `localhost` to 127.0.0.1 only (the tenant listens on IPv4).
struct LoopbackDns;

impl Dns for LoopbackDns {
    type Error = std::io::Error;

    async fn get_host_by_name(&self, host: &str, _: AddrType) -> Result<IpAddr, Self::Error> {
        match host {
            "localhost" => Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            _ => Err(std::io::Error::other("unknown host")),
        }
    }

    async fn get_host_by_address(&self, _: IpAddr, _: &mut [u8]) -> Result<usize, Self::Error> {
        Err(std::io::Error::other("unsupported"))
    }
}

/// Owned buffers a test lends to a transport.
struct Memory {
    tls_read: Vec<u8>,
    tls_write: Vec<u8>,
    headers: Vec<u8>,
    body: Vec<u8>,
}

impl Memory {
    fn new(body: usize) -> Self {
        Self {
            tls_read: vec![0; 16_640],
            tls_write: vec![0; 4096],
            headers: vec![0; 2048],
            body: vec![0; body],
        }
    }

    fn buffers(&mut self) -> Buffers<'_> {
        Buffers {
            tls_read: &mut self.tls_read,
            tls_write: &mut self.tls_write,
            headers: &mut self.headers,
            body: &mut self.body,
        }
    }
}

/// The pin of the tenant's own key.
fn pin_of(tenant: &MockTenant) -> SpkiPin {
    SpkiPin::of_certificate(tenant.leaf_der()).unwrap()
}

/// The documented set-up: a transport trusting the servers whose key is pinned.
fn pinned<'b, D: Dns>(
    stack: &'b Stack,
    dns: &'b D,
    pins: &'b [SpkiPin],
    memory: &'b mut Memory,
) -> HttpsTransport<'b, Stack, D, Pinned<'b, OsRng>> {
    HttpsTransport::new(stack, dns, Pinned::new(OsRng, pins), memory.buffers())
}

/// A transport trusting what one of `embedded-tls`'s verifiers accepts.
fn trusting<'b, D: Dns, V: TlsVerifier<Aes128GcmSha256>>(
    stack: &'b Stack,
    dns: &'b D,
    verifier: V,
    memory: &'b mut Memory,
) -> HttpsTransport<'b, Stack, D, Verified<OsRng, V>> {
    HttpsTransport::new(stack, dns, Verified::new(OsRng, verifier), memory.buffers())
}

fn verifier_for(tenant: &MockTenant) -> Verifier {
    VerifierConfig::new()
        .domain(tenant.issuer())
        .audience(DEFAULT_AUDIENCE)
        .algorithms(["RS256", "PS256", "ES256"])
        .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
        .build()
        .unwrap()
}

fn https_error(e: &TransportError) -> &HttpsError {
    e.source()
        .and_then(|s| s.downcast_ref::<HttpsError>())
        .expect("an HttpsError source")
}

#[test]
fn verifies_over_tls_then_serves_warm_verifications_from_the_caches() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    let next = MockTenant::start(TenantOptions::default()).unwrap();
    let verifier = verifier_for(&tenant);
    let mut caches = verifier.new_caches();
    let stack = Stack::default();
    let mut memory = Memory::new(64 * 1024);
    // Two pins, as for a rotation: another key first, the tenant's second.
    let pins = [pin_of(&next), pin_of(&tenant)];
    let mut transport = pinned(&stack, &stack, &pins, &mut memory);
    let ctx = RequestContext::default();

    let token = tenant
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE))
        .unwrap();
    let claims = block_on(verify(
        &verifier,
        &mut caches,
        &mut transport,
        &now,
        &token,
        &ctx,
    ))
    .unwrap();
    assert_eq!(claims.sub().unwrap(), Some("auth0|mock-user"));
    assert_eq!(claims.iss().unwrap(), Some(tenant.issuer()));
    assert_eq!(tenant.request_count(DISCOVERY), 1);
    assert_eq!(tenant.request_count(JWKS), 1);

    // Warm: a token under another of the tenant's keys, already in the cached set: no
    // request at all.
    let es256 = tenant
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE).alg(Alg::Es256))
        .unwrap();
    block_on(verify(
        &verifier,
        &mut caches,
        &mut transport,
        &now,
        &es256,
        &ctx,
    ))
    .unwrap();
    assert_eq!(
        tenant.total_requests(),
        2,
        "warm verification sends nothing"
    );

    // A token the tenant signed for another audience: rejected with its challenge, and
    // still nothing sent.
    let other = tenant
        .mint_access_token(&TokenSpec::new("https://other.example/"))
        .unwrap();
    let err = block_on(verify(
        &verifier,
        &mut caches,
        &mut transport,
        &now,
        &other,
        &ctx,
    ))
    .unwrap_err();
    assert!(matches!(err.reason(), Reason::Claims(_)), "{err:?}");
    assert_eq!(err.status(), 401);
    let challenge = &err.www_authenticate()[0];
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert_eq!(tenant.total_requests(), 2);

    // A tampered signature: rejected as such.
    let (signed, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{signed}.{}", "A".repeat(342));
    let err = block_on(verify(
        &verifier,
        &mut caches,
        &mut transport,
        &now,
        &forged,
        &ctx,
    ))
    .unwrap_err();
    assert_eq!(err.reason(), &Reason::InvalidSignature);
    assert!(err.www_authenticate()[0].contains(r#"error="invalid_token""#));
    assert_eq!(tenant.total_requests(), 2);
}

#[test]
fn an_unknown_kid_refetches_the_key_set_once_over_tls() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    let verifier = verifier_for(&tenant);
    let mut caches = verifier.new_caches();
    let stack = Stack::default();
    let mut memory = Memory::new(64 * 1024);
    let pins = [pin_of(&tenant)];
    let mut transport = pinned(&stack, &stack, &pins, &mut memory);
    let ctx = RequestContext::default();
    let before = tenant
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE))
        .unwrap();
    block_on(verify(
        &verifier,
        &mut caches,
        &mut transport,
        &now,
        &before,
        &ctx,
    ))
    .unwrap();

    tenant.rotate_keys().unwrap();
    let after = tenant
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE))
        .unwrap();
    // The cooldown since the first fetch has not passed: a clock 31 s ahead lets it.
    let later = || UnixTime::from_secs(now().as_secs() + 31);
    block_on(verify(
        &verifier,
        &mut caches,
        &mut transport,
        &later,
        &after,
        &ctx,
    ))
    .unwrap();
    assert_eq!(tenant.request_count(DISCOVERY), 1);
    assert_eq!(tenant.request_count(JWKS), 2);
}

#[test]
fn a_server_outside_the_trust_anchor_is_refused_in_the_handshake() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    let stranger = MockTenant::start(TenantOptions::default()).unwrap();
    let stack = Stack::default();
    let mut memory = Memory::new(64 * 1024);
    let mut transport = trusting(
        &stack,
        &stack,
        WebPki::new(Certificate::X509(stranger.ca_der())),
        &mut memory,
    );
    let err = block_on(transport.send(&HttpRequest::get(tenant.discovery_url()))).unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Connect);
    assert!(
        matches!(
            https_error(&err),
            HttpsError::Tls(TlsError::InvalidCertificate)
        ),
        "{:?}",
        https_error(&err)
    );
    assert_eq!(tenant.total_requests(), 0);

    // Through the flow: a failed discovery, 401 invalid_token.
    let verifier = verifier_for(&tenant);
    let mut caches = verifier.new_caches();
    let token = tenant
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE))
        .unwrap();
    let err = block_on(verify(
        &verifier,
        &mut caches,
        &mut transport,
        &now,
        &token,
        &RequestContext::default(),
    ))
    .unwrap_err();
    assert_eq!(err.reason(), &Reason::DiscoveryFailed(None));
    assert_eq!(err.status(), 401);
}

#[test]
fn a_provider_without_a_verifier_is_refused_before_connecting() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    let stack = Stack::default();
    let mut memory = Memory::new(64 * 1024);
    let provider = UnsecureProvider::new::<Aes128GcmSha256>(OsRng);
    let mut transport = HttpsTransport::new(&stack, &stack, provider, memory.buffers());
    let err = block_on(transport.send(&HttpRequest::get(tenant.discovery_url()))).unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Connect);
    assert!(matches!(https_error(&err), HttpsError::NoVerifier));
    assert_eq!(tenant.total_requests(), 0);
}

#[test]
fn the_pki_verifier_matches_localhost_and_refuses_the_ip() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    let stack = Stack::default();
    let mut memory = Memory::new(64 * 1024);
    let mut transport = trusting(
        &stack,
        &LoopbackDns,
        RustPki::new(Certificate::X509(tenant.ca_der())),
        &mut memory,
    );
    // The leaf names `localhost`: reached by name, it verifies.
    let by_name = format!("https://localhost:{}{DISCOVERY}", tenant.addr().port());
    let response = block_on(transport.send(&HttpRequest::get(by_name))).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.media_type().as_deref(), Some("application/json"));
    // By IP it does not: this verifier reads DNS names only, not IP addresses.
    let err = block_on(transport.send(&HttpRequest::get(tenant.discovery_url()))).unwrap_err();
    assert!(matches!(
        https_error(&err),
        HttpsError::Tls(TlsError::InvalidCertificate)
    ));
    assert_eq!(tenant.request_count(DISCOVERY), 1);
}

#[test]
fn redirects_are_reported_not_followed() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    tenant.redirect(DISCOVERY, &tenant.url(JWKS));
    let stack = Stack::default();
    let mut memory = Memory::new(64 * 1024);
    let pins = [pin_of(&tenant)];
    let mut transport = pinned(&stack, &stack, &pins, &mut memory);
    let err = block_on(transport.send(&HttpRequest::get(tenant.discovery_url()))).unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Redirect);
    assert_eq!(tenant.request_count(DISCOVERY), 1);
    assert_eq!(tenant.request_count(JWKS), 0);
}

#[test]
fn a_body_past_the_buffer_is_refused() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    tenant.huge_body(JWKS);
    let stack = Stack::default();
    let mut memory = Memory::new(64 * 1024);
    let pins = [pin_of(&tenant)];
    let mut transport = pinned(&stack, &stack, &pins, &mut memory);
    let err = block_on(transport.send(&HttpRequest::get(tenant.jwks_uri()))).unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::BodyTooLarge);

    // The same key set fits a body buffer of its own size, and not one byte less.
    tenant.reset_faults();
    let jwks_len = serde_json_len(&tenant);
    for (size, fits) in [(jwks_len, true), (jwks_len - 1, false)] {
        let mut memory = Memory::new(size);
        let mut transport = pinned(&stack, &stack, &pins, &mut memory);
        let outcome = block_on(transport.send(&HttpRequest::get(tenant.jwks_uri())));
        match outcome {
            Ok(response) => {
                assert!(fits, "{size}");
                assert_eq!(response.body.len(), jwks_len);
            }
            Err(e) => {
                assert!(!fits, "{size}: {e:?}");
                assert_eq!(e.kind(), TransportErrorKind::BodyTooLarge);
            }
        }
    }
}

/// The served JWKS length, read once through a roomy transport.
fn serde_json_len(tenant: &MockTenant) -> usize {
    let stack = Stack::default();
    let mut memory = Memory::new(64 * 1024);
    let pins = [pin_of(tenant)];
    let mut transport = pinned(&stack, &stack, &pins, &mut memory);
    let response = block_on(transport.send(&HttpRequest::get(tenant.jwks_uri()))).unwrap();
    assert_eq!(response.status, 200);
    response.body.len()
}

#[test]
fn error_statuses_come_back_as_responses_for_the_core_to_judge() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    tenant.fail(DISCOVERY, 503);
    let stack = Stack::default();
    let mut memory = Memory::new(64 * 1024);
    let pins = [pin_of(&tenant)];
    let mut transport = pinned(&stack, &stack, &pins, &mut memory);
    let response = block_on(transport.send(&HttpRequest::get(tenant.discovery_url()))).unwrap();
    assert_eq!(response.status, 503);
}

/// The pinned error behind a refused connection.
fn pin_refusal(e: &TransportError) -> PinError {
    assert_eq!(e.kind(), TransportErrorKind::Connect, "{e:?}");
    match https_error(e) {
        HttpsError::Pin(refusal) => *refusal,
        other => panic!("not a pin refusal: {other:?}"),
    }
}

#[test]
fn keys_other_than_the_pinned_ones_are_refused_before_any_request() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    let stranger = MockTenant::start(TenantOptions::default()).unwrap();
    let stack = Stack::default();
    // Another server's key, and the key of the CA that issued the tenant's own certificate:
    // only the leaf's key is trusted, never a key up its chain.
    let cases = [
        pin_of(&stranger),
        SpkiPin::of_certificate(tenant.ca_der()).unwrap(),
    ];
    for pin in cases {
        let pins = [pin];
        let mut memory = Memory::new(64 * 1024);
        let mut transport = pinned(&stack, &stack, &pins, &mut memory);
        let err = block_on(transport.send(&HttpRequest::get(tenant.discovery_url()))).unwrap_err();
        assert_eq!(pin_refusal(&err), PinError::NotPinned, "{pin}");
        assert_eq!(
            tenant.total_requests(),
            0,
            "nothing sent to an unpinned server"
        );
    }

    // No pins at all: nothing is trusted.
    let mut memory = Memory::new(64 * 1024);
    let mut transport = pinned(&stack, &stack, &[], &mut memory);
    let err = block_on(transport.send(&HttpRequest::get(tenant.discovery_url()))).unwrap_err();
    assert_eq!(pin_refusal(&err), PinError::NotPinned);

    // Through the flow: a failed discovery, 401 invalid_token, still nothing sent.
    let pins = [pin_of(&stranger)];
    let mut memory = Memory::new(64 * 1024);
    let mut transport = pinned(&stack, &stack, &pins, &mut memory);
    let verifier = verifier_for(&tenant);
    let mut caches = verifier.new_caches();
    let token = tenant
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE))
        .unwrap();
    let err = block_on(verify(
        &verifier,
        &mut caches,
        &mut transport,
        &now,
        &token,
        &RequestContext::default(),
    ))
    .unwrap_err();
    assert_eq!(err.reason(), &Reason::DiscoveryFailed(None));
    assert_eq!(err.status(), 401);
    assert_eq!(tenant.total_requests(), 0);
}

/// Serves one TLS 1.3 connection presenting `certificate` while signing with a key of its own
/// (one that does not match the certificate), and returns how many bytes of request it read.
fn impostor(certificate: &[u8]) -> (u16, JoinHandle<usize>) {
    #[derive(Debug)]
    struct Fixed(Arc<rustls::sign::CertifiedKey>);

    impl rustls::server::ResolvesServerCert for Fixed {
        fn resolve(
            &self,
            _: rustls::server::ClientHello<'_>,
        ) -> Option<Arc<rustls::sign::CertifiedKey>> {
            Some(self.0.clone())
        }
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let own_key = rcgen::KeyPair::generate().unwrap();
    let signing_key = provider
        .key_provider
        .load_private_key(rustls::pki_types::PrivateKeyDer::Pkcs8(
            own_key.serialize_der().into(),
        ))
        .unwrap();
    let chain = vec![rustls::pki_types::CertificateDer::from(
        certificate.to_vec(),
    )];
    let certified = rustls::sign::CertifiedKey::new(chain, signing_key);
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(Arc::new(certified))));
    let config = Arc::new(config);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let connection = rustls::ServerConnection::new(config).unwrap();
        let mut stream = rustls::StreamOwned::new(connection, tcp);
        let mut request = Vec::new();
        // The client aborts the handshake: reading ends with an error or end of stream.
        let _ = stream.read_to_end(&mut request);
        request.len()
    });
    (port, server)
}

#[test]
fn the_pinned_certificate_without_its_private_key_is_refused() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    let (port, server) = impostor(tenant.leaf_der());
    let stack = Stack::default();
    let pins = [pin_of(&tenant)];
    let mut memory = Memory::new(64 * 1024);
    let mut transport = pinned(&stack, &stack, &pins, &mut memory);
    let url = format!("https://127.0.0.1:{port}{DISCOVERY}");
    let err = block_on(transport.send(&HttpRequest::get(url))).unwrap_err();
    // The certificate's key is pinned; the handshake signature is not made with it.
    assert_eq!(pin_refusal(&err), PinError::BadSignature);
    assert_eq!(
        server.join().unwrap(),
        0,
        "no request data reached the impostor"
    );
}

#[test]
fn a_pinned_server_is_trusted_by_name_and_by_ip_alike() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    let stack = Stack::default();
    let pins = [pin_of(&tenant)];
    let by_name = format!("https://localhost:{}{DISCOVERY}", tenant.addr().port());
    for url in [by_name, tenant.discovery_url()] {
        let mut memory = Memory::new(64 * 1024);
        let mut transport = pinned(&stack, &LoopbackDns, &pins, &mut memory);
        let response = block_on(transport.send(&HttpRequest::get(url.as_str()))).unwrap();
        assert_eq!(response.status, 200, "{url}");
    }
    assert_eq!(tenant.request_count(DISCOVERY), 2);
}
