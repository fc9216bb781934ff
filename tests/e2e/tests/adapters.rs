//! One scenario table run through every adapter (ureq, reqwest), against the local tenant
//! over HTTPS on loopback. No mocks of the SDK's own traits: real TLS, real HTTP. The
//! scenarios that need no network fault also run through the driver's fixture transport,
//! answering from the same tenant's documents.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auth0_api::Claims;
use auth0_api::DomainPolicy;
use auth0_api::Flow;
use auth0_api::Reason;
use auth0_api::RequestContext;
use auth0_api::UnixTime;
use auth0_api::VerifyError;
use auth0_api::exchange::{
    ConnectionTokenRequest, CustomTokenExchange, ExchangeConfig, OnBehalfOf,
};
use auth0_api::jose::Algorithm;
use auth0_api::jose::sign::signer_from_pkcs8_pem;
use auth0_api::{HttpResponse, Method, Verifier, VerifierConfig};
use auth0_api_driver::FixtureTransport;
use auth0_api_mock_tenant::{
    Alg, DEFAULT_AUDIENCE, DEFAULT_CUSTOM_TOKEN_TYPE, MockTenant, TenantOptions, TokenSpec,
};
use auth0_api_ureq::system_clock;

const DISCOVERY: &str = "/.well-known/openid-configuration";
const JWKS: &str = "/.well-known/jwks.json";

/// Seconds added to the system clock, moved by the tests that need the cooldown to pass.
static SKEW: AtomicU64 = AtomicU64::new(0);

fn clock() -> UnixTime {
    UnixTime::from_secs(system_clock().as_secs() + SKEW.load(Ordering::SeqCst))
}

fn tenant() -> MockTenant {
    MockTenant::start(TenantOptions::default()).unwrap()
}

fn verifier(tenant: &MockTenant) -> Verifier {
    VerifierConfig::new()
        .domain(tenant.issuer())
        .audience(DEFAULT_AUDIENCE)
        .algorithms(["RS256", "PS256", "ES256"])
        .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
        .build()
        .unwrap()
}

/// The adapters under test, driven through one interface.
enum Adapter {
    Ureq(auth0_api_ureq::Client),
    Reqwest(auth0_api_reqwest::Client, tokio::runtime::Runtime),
    /// The driver's in-memory transport, answering from the tenant's documents (kept in step
    /// by `sync` and `fail`): the scenarios that need no network fault.
    Fixture(auth0_api_driver::Client<FixtureTransport>),
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Ureq,
    Reqwest,
    Fixture,
}

const ADAPTERS: [Kind; 2] = [Kind::Ureq, Kind::Reqwest];
/// The scenarios that need no network fault also run through the fixture transport.
const EVERY_TRANSPORT: [Kind; 3] = [Kind::Ureq, Kind::Reqwest, Kind::Fixture];

impl Adapter {
    fn verify(&self, token: &str, ctx: &RequestContext<'_>) -> Result<Claims, VerifyError> {
        match self {
            Adapter::Ureq(c) => c.verify(token, ctx),
            Adapter::Reqwest(c, rt) => rt.block_on(c.verify_async(token, ctx)),
            Adapter::Fixture(c) => c.verify(token, ctx),
        }
    }

    /// Requests for `path` so far: as the tenant saw them, or as the fixture answered them.
    fn count(&self, tenant: &MockTenant, path: &str) -> u64 {
        match self {
            Adapter::Fixture(c) => c.driver().transport().requests(&tenant.url(path)),
            _ => tenant.request_count(path),
        }
    }

    /// Brings the fixture's answers in step with the tenant (after a key rotation).
    fn sync(&self, tenant: &MockTenant) {
        if let Adapter::Fixture(c) = self {
            set_documents(c.driver().transport(), tenant);
        }
    }

    /// Makes `path` answer `status`, at the tenant or in the fixture.
    fn fail(&self, tenant: &MockTenant, path: &str, status: u16) {
        tenant.fail(path, status);
        if let Adapter::Fixture(c) = self {
            let response = HttpResponse::new(status, "application/json", "{}");
            c.driver()
                .transport()
                .set(Method::Get, tenant.url(path), response);
        }
    }

    fn drive<F: Flow>(&self, flow: &mut F) -> Result<F::Output, F::Error> {
        match self {
            Adapter::Ureq(c) => c.driver().drive(flow),
            Adapter::Reqwest(c, rt) => rt.block_on(c.driver().drive_async(flow)),
            Adapter::Fixture(c) => c.driver().drive(flow),
        }
    }

    /// `n` verifications of `token` at once: threads for ureq, tasks for reqwest.
    fn verify_concurrently(self: &Arc<Self>, token: &Arc<String>, n: usize) {
        match &**self {
            Adapter::Ureq(_) | Adapter::Fixture(_) => {
                let threads: Vec<_> = (0..n)
                    .map(|_| {
                        let (a, t) = (self.clone(), token.clone());
                        std::thread::spawn(move || {
                            a.verify(&t, &RequestContext::default()).map(|_| ())
                        })
                    })
                    .collect();
                for th in threads {
                    th.join().unwrap().unwrap();
                }
            }
            Adapter::Reqwest(_, rt) => rt.block_on(async {
                let tasks: Vec<_> = (0..n)
                    .map(|_| {
                        let (a, t) = (self.clone(), token.clone());
                        tokio::spawn(async move {
                            let Adapter::Reqwest(c, _) = &*a else {
                                unreachable!()
                            };
                            c.verify_async(&t, &RequestContext::default())
                                .await
                                .map(|_| ())
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap().unwrap();
                }
            }),
        }
    }
}

fn client_of(kind: Kind, tenant: &MockTenant, v: Verifier, timeout: Duration) -> Adapter {
    client_for(kind, &[tenant], v, timeout)
}

/// The tenant's discovery document and key set as fixture answers.
fn set_documents(fixtures: &FixtureTransport, tenant: &MockTenant) {
    let json = |v: serde_json::Value| HttpResponse::json(v.to_string());
    fixtures.set(Method::Get, tenant.url(DISCOVERY), json(tenant.discovery()));
    fixtures.set(Method::Get, tenant.url(JWKS), json(tenant.jwks()));
}

/// A client trusting the CA of each of `tenants`.
fn client_for(kind: Kind, tenants: &[&MockTenant], v: Verifier, timeout: Duration) -> Adapter {
    let ca: Vec<Vec<u8>> = tenants
        .iter()
        .map(|t| t.ca_pem().as_bytes().to_vec())
        .collect();
    match kind {
        Kind::Fixture => {
            let fixtures = FixtureTransport::new();
            for tenant in tenants {
                set_documents(&fixtures, tenant);
            }
            Adapter::Fixture(auth0_api_driver::Client::new(v, fixtures, clock))
        }
        Kind::Ureq => Adapter::Ureq(
            auth0_api_ureq::client(
                v,
                auth0_api_ureq::ClientOptions {
                    timeout,
                    root_certificates_pem: ca,
                    clock,
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
                v,
                auth0_api_reqwest::ClientOptions {
                    timeout,
                    root_certificates_pem: ca,
                    clock,
                    ..Default::default()
                },
            )
            .unwrap();
            Adapter::Reqwest(client, rt)
        }
    }
}

fn token(tenant: &MockTenant, alg: Alg) -> String {
    tenant
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE).alg(alg).subject("user"))
        .unwrap()
}

fn reason(c: &Adapter, token: &str) -> Reason {
    c.verify(token, &RequestContext::default())
        .unwrap_err()
        .reason()
        .clone()
}

#[test]
fn bearer_tokens_verify_and_stay_cached() {
    for kind in EVERY_TRANSPORT {
        let t = tenant();
        let c = client_of(kind, &t, verifier(&t), Duration::from_secs(10));
        for alg in [Alg::Rs256, Alg::Ps256, Alg::Es256] {
            let claims = c
                .verify(&token(&t, alg), &RequestContext::default())
                .unwrap();
            assert_eq!(claims.sub().unwrap(), Some("user"), "{kind:?}");
        }
        assert_eq!(
            (c.count(&t, DISCOVERY), c.count(&t, JWKS)),
            (1, 1),
            "{kind:?}"
        );
    }
}

/// `iss` and `aud` are checked against the configuration, end to end: a correctly signed
/// token naming another issuer or audience is refused, and a token of one tenant never
/// passes a verifier of another, with one domain or with multiple custom domains.
#[test]
fn issuer_and_audience_come_from_the_configuration() {
    use auth0_api::ClaimError;
    for kind in ADAPTERS {
        let (a, b) = (tenant(), tenant());
        let vb = verifier(&b);
        let c = client_for(kind, &[&a, &b], vb, Duration::from_secs(10));
        let spec = || {
            TokenSpec::new(DEFAULT_AUDIENCE)
                .alg(Alg::Es256)
                .subject("user")
        };
        // Signed by B's own key, but naming A (or nothing like B) as the issuer.
        for iss in [
            a.issuer().to_string(),
            b.issuer().trim_end_matches('/').to_string(),
        ] {
            let forged = b
                .mint_access_token(&spec().claim("iss", iss.clone()))
                .unwrap();
            assert_eq!(
                reason(&c, &forged),
                Reason::Claims(ClaimError::IssuerMismatch),
                "{kind:?} iss {iss}"
            );
        }
        // Signed by B for another audience.
        let other_aud = b
            .mint_access_token(&TokenSpec::new("https://other.example/api").alg(Alg::Es256))
            .unwrap();
        assert_eq!(
            reason(&c, &other_aud),
            Reason::Claims(ClaimError::AudienceMismatch),
            "{kind:?}"
        );
        // Several audiences: B's verifier for two APIs accepts either, and no other.
        let two = VerifierConfig::new()
            .domain(b.issuer())
            .audiences(["https://other.example/api", DEFAULT_AUDIENCE])
            .algorithms(["ES256"])
            .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
            .build()
            .unwrap();
        let c2 = client_for(kind, &[&b], two, Duration::from_secs(10));
        c2.verify(&other_aud, &RequestContext::default()).unwrap();
        c2.verify(&token(&b, Alg::Es256), &RequestContext::default())
            .unwrap();
        let third_aud = b
            .mint_access_token(&TokenSpec::new("https://third.example/api").alg(Alg::Es256))
            .unwrap();
        assert_eq!(
            reason(&c2, &third_aud),
            Reason::Claims(ClaimError::AudienceMismatch),
            "{kind:?}"
        );
        // A's genuine token at B's verifier: A's key is not in B's set.
        let from_a = token(&a, Alg::Es256);
        assert_eq!(reason(&c, &from_a), Reason::UnknownKid, "{kind:?}");
        assert_eq!(a.total_requests(), 0, "{kind:?}: B's verifier asked A");

        // Multiple custom domains: B and a third tenant allowed, A not. A's token is refused
        // before any request; B's key signing for A's issuer is refused too.
        let third = tenant();
        let mcd = VerifierConfig::new()
            .domains([b.issuer(), third.issuer()])
            .audience(DEFAULT_AUDIENCE)
            .algorithms(["ES256"])
            .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
            .build()
            .unwrap();
        let c = client_for(kind, &[&a, &b, &third], mcd, Duration::from_secs(10));
        assert_eq!(reason(&c, &from_a), Reason::IssuerNotAllowed, "{kind:?}");
        assert_eq!(a.total_requests(), 0, "{kind:?}");
        // B's token claiming the third tenant: the third tenant's keys do not know B's kid.
        let cross = b
            .mint_access_token(&spec().claim("iss", third.issuer()))
            .unwrap();
        assert_eq!(reason(&c, &cross), Reason::UnknownKid, "{kind:?}");
        // The genuine tokens of both allowed tenants pass.
        for t in [&b, &third] {
            c.verify(&token(t, Alg::Es256), &RequestContext::default())
                .unwrap();
        }
    }
}

#[test]
fn key_rotation_and_unknown_kid_flood() {
    for kind in EVERY_TRANSPORT {
        let t = tenant();
        let c = client_of(kind, &t, verifier(&t), Duration::from_secs(10));
        c.verify(&token(&t, Alg::Rs256), &RequestContext::default())
            .unwrap();
        // A flood of random kids within the cooldown makes no request at all.
        for i in 0..1000 {
            let spec = TokenSpec::new(DEFAULT_AUDIENCE)
                .alg(Alg::Rs256)
                .kid(format!("random-{i}"));
            let forged = t.mint_access_token(&spec).unwrap();
            assert_eq!(reason(&c, &forged), Reason::UnknownKid, "{kind:?}");
        }
        let flood = c.count(&t, JWKS);
        println!("{kind:?}: 1,000 tokens with random kids -> {flood} JWKS request(s) in all");
        assert_eq!(flood, 1, "{kind:?}");
        // Rotation: a token signed by the new key verifies after one refetch, once the
        // cooldown since the last fetch has passed.
        t.rotate_keys().unwrap();
        c.sync(&t);
        let rotated = token(&t, Alg::Rs256);
        SKEW.fetch_add(31, Ordering::SeqCst);
        c.verify(&rotated, &RequestContext::default()).unwrap();
        assert_eq!(c.count(&t, JWKS), 2, "{kind:?}");
    }
}

#[test]
fn jwks_failures() {
    for kind in EVERY_TRANSPORT {
        let t = tenant();
        let warm = client_of(kind, &t, verifier(&t), Duration::from_secs(10));
        let tok = token(&t, Alg::Es256);
        warm.verify(&tok, &RequestContext::default()).unwrap();
        warm.fail(&t, JWKS, 500);
        // Keys cached: still verifies within the TTL.
        warm.verify(&tok, &RequestContext::default()).unwrap();
        // No keys cached: a clear error with its challenges.
        let cold = client_of(kind, &t, verifier(&t), Duration::from_secs(10));
        cold.fail(&t, JWKS, 500);
        let err = cold.verify(&tok, &RequestContext::default()).unwrap_err();
        assert!(
            matches!(err.reason(), Reason::JwksFetchFailed(_)),
            "{kind:?}: {err:?}"
        );
        assert_eq!(err.status(), 401);
        assert!(err.www_authenticate()[0].contains("error=\"invalid_token\""));
        if matches!(kind, Kind::Fixture) {
            continue; // The body cap is the HTTP transports' (the core refuses it too).
        }
        // A 5 MiB body is refused.
        t.reset_faults();
        t.huge_body(JWKS);
        let cold = client_of(kind, &t, verifier(&t), Duration::from_secs(10));
        assert_eq!(
            reason(&cold, &tok),
            Reason::JwksFetchFailed(None),
            "{kind:?}"
        );
    }
}

#[test]
fn stalls_time_out_and_redirects_are_not_followed() {
    for kind in ADAPTERS {
        let t = tenant();
        t.stall(DISCOVERY, Duration::from_secs(5));
        let c = client_of(kind, &t, verifier(&t), Duration::from_millis(500));
        let tok = token(&t, Alg::Rs256);
        assert_eq!(reason(&c, &tok), Reason::DiscoveryFailed(None), "{kind:?}");
        t.reset_faults();
        t.redirect(DISCOVERY, &t.url("/elsewhere"));
        let c = client_of(kind, &t, verifier(&t), Duration::from_secs(10));
        assert_eq!(reason(&c, &tok), Reason::DiscoveryFailed(None), "{kind:?}");
        assert_eq!(t.request_count("/elsewhere"), 0, "{kind:?}");
    }
}

#[test]
fn concurrent_cold_verifications_make_one_request_each() {
    for kind in EVERY_TRANSPORT {
        let t = tenant();
        let c = Arc::new(client_of(kind, &t, verifier(&t), Duration::from_secs(10)));
        let tok = Arc::new(token(&t, Alg::Rs256));
        c.verify_concurrently(&tok, 100);
        let counts = (c.count(&t, DISCOVERY), c.count(&t, JWKS));
        println!(
            "{kind:?}: 100 concurrent cold verifications -> {} discovery, {} JWKS request(s)",
            counts.0, counts.1
        );
        assert_eq!(counts, (1, 1), "{kind:?}");
    }
}

#[test]
fn exchanges_with_each_client_authentication() {
    for kind in ADAPTERS {
        let t = tenant();
        let c = client_of(kind, &t, verifier(&t), Duration::from_secs(10));
        let local = DomainPolicy::STRICT.with_ip_literals(true);
        let secret = t.secret_client();
        let es = t.es256_client();
        let configs = vec![
            (
                "client_secret_post",
                ExchangeConfig::new()
                    .client_id(secret.client_id())
                    .client_secret(secret.secret()),
            ),
            (
                "client_secret_basic",
                ExchangeConfig::new()
                    .client_id(secret.client_id())
                    .client_secret(secret.secret())
                    .client_secret_basic(true),
            ),
            (
                "private_key_jwt",
                ExchangeConfig::new()
                    .client_id(es.client_id())
                    .client_assertion_signer(Arc::from(
                        signer_from_pkcs8_pem(es.private_key_pem(), Algorithm::ES256).unwrap(),
                    )),
            ),
        ];
        let subject = token(&t, Alg::Rs256);
        for (i, (name, config)) in configs.into_iter().enumerate() {
            let ex = config
                .domain(t.issuer())
                .domain_policy(local)
                .build()
                .unwrap();
            let custom = CustomTokenExchange {
                subject_token: "legacy".into(),
                subject_token_type: DEFAULT_CUSTOM_TOKEN_TYPE.into(),
                scope: Some("openid".into()),
                ..Default::default()
            };
            let random = |n: u8| [n + 10 * i as u8; 16];
            let set = c
                .drive(&mut ex.custom_token_exchange(&custom, random(1)).unwrap())
                .unwrap();
            assert!(set.id_token_claims.is_some(), "{kind:?} {name}");
            let new_token = set.access_token.expose_secret().to_owned();
            c.verify(&new_token, &RequestContext::default()).unwrap();
            let obo = OnBehalfOf {
                access_token: subject.clone(),
                audience: "https://billing/".into(),
                scope: None,
            };
            c.drive(&mut ex.on_behalf_of(&obo, random(2)).unwrap())
                .unwrap();
            let vault = ConnectionTokenRequest {
                connection: "github".into(),
                subject_token: subject.clone(),
                ..Default::default()
            };
            let token = c
                .drive(&mut ex.connection_token(&vault, random(3)).unwrap())
                .unwrap();
            assert_eq!(token.connection, "github", "{kind:?} {name}");
            let last = t.last_request("/oauth/token").unwrap();
            match name {
                "client_secret_basic" => {
                    assert!(last.header("authorization").unwrap().starts_with("Basic "))
                }
                "private_key_jwt" => assert!(last.form_value("client_assertion").is_some()),
                _ => assert_eq!(
                    last.form_value("client_secret").as_deref(),
                    Some(secret.secret())
                ),
            }
        }
    }
}

/// A directory lookup that really awaits (a timer) before answering.
struct Directory {
    answer: Result<Vec<String>, &'static str>,
    seen: std::sync::Mutex<Vec<String>>,
}

impl auth0_api_reqwest::AsyncDomainResolver for Directory {
    async fn resolve<'a>(
        &'a self,
        input: auth0_api::ResolverInput<'a>,
    ) -> Result<Vec<String>, auth0_api::ResolverError> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.seen
            .lock()
            .unwrap()
            .push(input.unverified_issuer.to_owned());
        self.answer
            .clone()
            .map_err(|e| auth0_api::ResolverError(e.into()))
    }
}

#[test]
fn reqwest_awaits_a_deferred_domain_resolver() {
    let t = tenant();
    let v = VerifierConfig::new()
        .deferred_domain_resolver()
        .audience(DEFAULT_AUDIENCE)
        .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
        .build()
        .unwrap();
    let Adapter::Reqwest(c, rt) = client_of(Kind::Reqwest, &t, v, Duration::from_secs(10)) else {
        unreachable!()
    };
    let issuer = t.issuer().to_string();
    let token = token(&t, Alg::Rs256);
    let ctx = RequestContext::default();
    let verify = |answer| {
        let directory = Directory {
            answer,
            seen: Default::default(),
        };
        // Send, so that servers can spawn it.
        fn sendable<F: Future + Send>(f: F) -> F {
            f
        }
        let result = rt.block_on(sendable(c.verify_resolving(&token, &ctx, &directory)));
        (result, directory.seen.into_inner().unwrap())
    };

    let (claims, seen) = verify(Ok(vec!["other.example".into(), issuer.clone()]));
    assert_eq!(claims.unwrap().sub().unwrap(), Some("user"));
    assert_eq!(seen, std::slice::from_ref(&issuer));
    assert_eq!((t.request_count(DISCOVERY), t.request_count(JWKS)), (1, 1));

    // Refusals make no request; a failure is kept as the source.
    let (refused, _) = verify(Ok(vec!["other.example".into()]));
    assert_eq!(refused.unwrap_err().reason(), &Reason::IssuerNotAllowed);
    let (failed, seen) = verify(Err("directory unavailable"));
    let failed = failed.unwrap_err();
    assert_eq!(failed.reason(), &Reason::ResolverFailed);
    assert_eq!(
        std::error::Error::source(&failed).map(ToString::to_string),
        Some("domain resolver failed: directory unavailable".to_string())
    );
    assert_eq!(seen.len(), 1);
    assert_eq!((t.request_count(DISCOVERY), t.request_count(JWKS)), (1, 1));

    // The one-step entry point cannot await a resolver: a driver bug, named as such.
    let misuse = rt.block_on(c.verify_async(&token, &ctx)).unwrap_err();
    assert_eq!(misuse.reason(), &Reason::Misuse);
}

/// A verification cancelled during a slow discovery (its future dropped by a timeout, as a
/// server does when a client disconnects) abandons the request: the next verification for
/// the same tenant sends its own request at once instead of waiting for the in-flight mark
/// to expire (`fetch_timeout`, 30 s). The guard below is a liveness bound shorter than that.
#[test]
fn a_cancelled_async_verification_does_not_stall_the_next() {
    let t = tenant();
    let Adapter::Reqwest(c, rt) =
        client_of(Kind::Reqwest, &t, verifier(&t), Duration::from_secs(10))
    else {
        unreachable!()
    };
    let tok = token(&t, Alg::Es256);
    t.stall(DISCOVERY, Duration::from_secs(5));
    let ctx = RequestContext::default();
    let cancelled = rt.block_on(async {
        tokio::time::timeout(Duration::from_millis(300), c.verify_async(&tok, &ctx)).await
    });
    assert!(
        cancelled.is_err(),
        "the first verification should have been cancelled"
    );
    t.reset_faults();
    let second = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), c.verify_async(&tok, &ctx)).await
    });
    let claims = second.expect("the second verification waited on the abandoned fetch");
    assert_eq!(claims.unwrap().sub().unwrap(), Some("user"));
    assert_eq!(
        t.request_count(DISCOVERY),
        2,
        "the abandoned request and a new one"
    );
    assert_eq!(t.request_count(JWKS), 1);
}

/// A transport that gives up (panics) on its first request, standing in for a blocking
/// worker torn down mid-request.
struct GivesUpOnce {
    inner: auth0_api_ureq::UreqTransport,
    first: std::sync::atomic::AtomicBool,
}

impl auth0_api_ureq::Transport for GivesUpOnce {
    fn send(&self, request: auth0_api::HttpRequest) -> auth0_api::HttpOutcome {
        if self.first.swap(false, Ordering::SeqCst) {
            panic!("the worker gives up on {}", request.url);
        }
        self.inner.send(request)
    }
}

/// The blocking driver abandons a request whose sender unwinds: a verification on another
/// thread fetches at once rather than after `fetch_timeout`.
#[test]
fn a_request_abandoned_by_a_blocking_worker_does_not_stall_the_next() {
    let t = tenant();
    let options = auth0_api_ureq::ClientOptions {
        root_certificates_pem: vec![t.ca_pem().as_bytes().to_vec()],
        clock,
        ..Default::default()
    };
    let transport = GivesUpOnce {
        inner: auth0_api_ureq::UreqTransport::new(&options).unwrap(),
        first: std::sync::atomic::AtomicBool::new(true),
    };
    let c = Arc::new(auth0_api_driver::Client::new(
        verifier(&t),
        transport,
        clock,
    ));
    let tok = Arc::new(token(&t, Alg::Es256));
    let first = {
        let (c, tok) = (c.clone(), tok.clone());
        std::thread::spawn(move || c.verify(&tok, &RequestContext::default()))
    };
    assert!(
        first.join().is_err(),
        "the first worker should have unwound"
    );
    let (done, result) = std::sync::mpsc::channel();
    {
        let (c, tok) = (c.clone(), tok.clone());
        std::thread::spawn(move || {
            let _ = done.send(c.verify(&tok, &RequestContext::default()).map(|_| ()));
        });
    }
    let second = result
        .recv_timeout(Duration::from_secs(20))
        .expect("the second verification waited on the abandoned fetch");
    second.unwrap();
    assert_eq!(
        t.request_count(DISCOVERY),
        1,
        "the abandoned request was never sent"
    );
    assert_eq!(c.driver().wakeups(), 0, "nobody had to wait");
}

/// Per-key wake-ups: a verification waiting for tenant A's discovery is not woken when
/// tenant B's keys arrive, only when A's discovery does.
#[test]
fn a_waiter_wakes_for_its_own_key_only() {
    let (a, b) = (tenant(), tenant());
    let mcd = VerifierConfig::new()
        .domains([a.issuer(), b.issuer()])
        .audience(DEFAULT_AUDIENCE)
        .algorithms(["ES256"])
        .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
        .build()
        .unwrap();
    let Adapter::Reqwest(c, rt) =
        client_for(Kind::Reqwest, &[&a, &b], mcd, Duration::from_secs(10))
    else {
        unreachable!()
    };
    let c = Arc::new(c);
    let (tok_a, tok_b) = (Arc::new(token(&a, Alg::Es256)), token(&b, Alg::Es256));
    a.stall(DISCOVERY, Duration::from_secs(2));
    rt.block_on(async {
        let spawn = |tok: Arc<String>| {
            let c = c.clone();
            tokio::spawn(async move {
                c.verify_async(&tok, &RequestContext::default())
                    .await
                    .map(|_| ())
            })
        };
        let fetching = spawn(tok_a.clone());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let waiting = spawn(tok_a.clone());
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.verify_async(&tok_b, &RequestContext::default())
            .await
            .unwrap();
        assert_eq!(b.request_count(JWKS), 1);
        assert_eq!(c.driver().wakeups(), 0, "woken by tenant B's fetches");
        fetching.await.unwrap().unwrap();
        waiting.await.unwrap().unwrap();
    });
    assert_eq!(
        a.request_count(DISCOVERY),
        1,
        "the waiter made no request of its own"
    );
    assert!(c.driver().wakeups() >= 1);
}
