//! One scenario table through the ureq adapter, against the local tenant over HTTPS.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auth0_api::UnixTime;
use auth0_api::config::{Verifier, VerifierConfig};
use auth0_api::domain::DomainPolicy;
use auth0_api::exchange::{
    ConnectionTokenRequest, CustomTokenExchange, ExchangeConfig, OnBehalfOf,
};
use auth0_api::jose::Algorithm;
use auth0_api::jose::sign::signer_from_pkcs8_pem;
use auth0_api::verify::context::RequestContext;
use auth0_api::verify::error::Reason;
use auth0_api_mock_tenant::{
    Alg, DEFAULT_AUDIENCE, DEFAULT_CUSTOM_TOKEN_TYPE, MockTenant, TenantOptions, TokenSpec,
};
use auth0_api_ureq::{Client, ClientOptions, system_clock};

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

fn client(tenant: &MockTenant, v: &Verifier, timeout: Duration) -> Client {
    let options = ClientOptions {
        timeout,
        root_certificates_pem: vec![tenant.ca_pem().as_bytes().to_vec()],
        clock,
        ..ClientOptions::default()
    };
    Client::new(v, options).unwrap()
}

fn token(tenant: &MockTenant, alg: Alg) -> String {
    tenant
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE).alg(alg).subject("user"))
        .unwrap()
}

fn reason(c: &Client, v: &Verifier, token: &str) -> Reason {
    c.verify(v, token, &RequestContext::default())
        .unwrap_err()
        .reason()
        .clone()
}

#[test]
fn bearer_tokens_verify_and_stay_cached() {
    let t = tenant();
    let v = verifier(&t);
    let c = client(&t, &v, Duration::from_secs(10));
    for alg in [Alg::Rs256, Alg::Ps256, Alg::Es256] {
        let claims = c
            .verify(&v, &token(&t, alg), &RequestContext::default())
            .unwrap();
        assert_eq!(claims.sub().unwrap(), Some("user"));
    }
    assert_eq!((t.request_count(DISCOVERY), t.request_count(JWKS)), (1, 1));
}

#[test]
fn key_rotation_and_unknown_kid_flood() {
    let t = tenant();
    let v = verifier(&t);
    let c = client(&t, &v, Duration::from_secs(10));
    c.verify(&v, &token(&t, Alg::Rs256), &RequestContext::default())
        .unwrap();
    // A flood of random kids within the cooldown makes no request at all.
    for i in 0..1000 {
        let spec = TokenSpec::new(DEFAULT_AUDIENCE)
            .alg(Alg::Rs256)
            .kid(format!("random-{i}"));
        let forged = t.mint_access_token(&spec).unwrap();
        assert_eq!(reason(&c, &v, &forged), Reason::UnknownKid);
    }
    let flood_requests = t.request_count(JWKS);
    println!("kid flood: 1000 tokens with random kids, {flood_requests} JWKS request(s) in all");
    assert_eq!(flood_requests, 1);
    // Rotation: a token signed by the new key verifies after one refetch, once the cooldown
    // since the last fetch has passed.
    t.rotate_keys().unwrap();
    let rotated = token(&t, Alg::Rs256);
    SKEW.fetch_add(31, Ordering::SeqCst);
    c.verify(&v, &rotated, &RequestContext::default()).unwrap();
    assert_eq!(t.request_count(JWKS), 2);
}

#[test]
fn jwks_failures() {
    let t = tenant();
    let v = verifier(&t);
    let warm = client(&t, &v, Duration::from_secs(10));
    let tok = token(&t, Alg::Es256);
    warm.verify(&v, &tok, &RequestContext::default()).unwrap();
    t.fail(JWKS, 500);
    // Keys cached: still verifies within the TTL.
    warm.verify(&v, &tok, &RequestContext::default()).unwrap();
    // No keys cached: a clear error with its challenges.
    let cold = client(&t, &v, Duration::from_secs(10));
    let err = cold
        .verify(&v, &tok, &RequestContext::default())
        .unwrap_err();
    assert!(
        matches!(err.reason(), Reason::JwksFetchFailed(_)),
        "{err:?}"
    );
    assert_eq!(err.status(), 401);
    assert!(err.www_authenticate()[0].contains("error=\"invalid_token\""));
    // A 5 MiB body is refused.
    t.reset_faults();
    t.huge_body(JWKS);
    let cold = client(&t, &v, Duration::from_secs(10));
    assert!(matches!(
        reason(&cold, &v, &tok),
        Reason::JwksFetchFailed(None)
    ));
}

#[test]
fn stalls_time_out_and_redirects_are_not_followed() {
    let t = tenant();
    let v = verifier(&t);
    t.stall(DISCOVERY, Duration::from_secs(5));
    let c = client(&t, &v, Duration::from_millis(500));
    let tok = token(&t, Alg::Rs256);
    assert_eq!(reason(&c, &v, &tok), Reason::DiscoveryFailed(None));
    t.reset_faults();
    t.redirect(DISCOVERY, &t.url("/elsewhere"));
    let c = client(&t, &v, Duration::from_secs(10));
    assert_eq!(reason(&c, &v, &tok), Reason::DiscoveryFailed(None));
    assert_eq!(t.request_count("/elsewhere"), 0);
}

#[test]
fn concurrent_cold_verifications_make_one_request_each() {
    let t = tenant();
    let v = Arc::new(verifier(&t));
    let c = Arc::new(client(&t, &v, Duration::from_secs(10)));
    let tok = Arc::new(token(&t, Alg::Rs256));
    let threads: Vec<_> = (0..100)
        .map(|_| {
            let (v, c, tok) = (v.clone(), c.clone(), tok.clone());
            std::thread::spawn(move || c.verify(&v, &tok, &RequestContext::default()).map(|_| ()))
        })
        .collect();
    for th in threads {
        th.join().unwrap().unwrap();
    }
    let counts = (t.request_count(DISCOVERY), t.request_count(JWKS));
    println!(
        "100 concurrent cold verifications: {} discovery, {} JWKS request(s)",
        counts.0, counts.1
    );
    assert_eq!(counts, (1, 1));
}

#[test]
fn exchanges_with_each_client_authentication() {
    let t = tenant();
    let v = verifier(&t);
    let c = client(&t, &v, Duration::from_secs(10));
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
    for (name, config) in configs {
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
        let set = c
            .drive(&mut ex.custom_token_exchange(&custom, [1; 16]).unwrap())
            .unwrap();
        assert!(set.id_token_claims.is_some(), "{name}");
        let new_token = set.access_token.expose_secret().to_owned();
        c.verify(&v, &new_token, &RequestContext::default())
            .unwrap();
        let obo = OnBehalfOf {
            access_token: subject.clone(),
            audience: "https://billing/".into(),
            scope: None,
        };
        c.drive(&mut ex.on_behalf_of(&obo, [2; 16]).unwrap())
            .unwrap();
        let vault = ConnectionTokenRequest {
            connection: "github".into(),
            subject_token: subject.clone(),
            ..Default::default()
        };
        let token = c
            .drive(&mut ex.connection_token(&vault, [3; 16]).unwrap())
            .unwrap();
        assert_eq!(token.connection, "github", "{name}");
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
