//! Transcript tests: the flow driven with canned responses and chosen times.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};
use core::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::{Signature, SigningKey, signature::Signer as _};
use serde_json::{Value, json};

use super::context::RequestContext;
use super::error::Reason;
use crate::cache::{CachePolicy, Caches};
use crate::config::{DpopMode, DpopOptions, Verifier, VerifierConfig};
use crate::flow::{Action, FetchKey};
use crate::http::{HttpOutcome, HttpResponse, TransportError, TransportErrorKind};
use crate::time::UnixTime;

const ISS: &str = "https://tenant.example/";
const DISCOVERY: &str = "https://tenant.example/.well-known/openid-configuration";
const JWKS: &str = "https://tenant.example/.well-known/jwks.json";
const NOW: u64 = 1_700_000_000;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn jwk(seed: u8, kid: &str) -> Value {
    let point = key(seed).verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    json!({"kty":"EC","crv":"P-256","kid":kid,"use":"sig","alg":"ES256",
           "x": B64.encode(&bytes[1..33]), "y": B64.encode(&bytes[33..65])})
}

fn jwks_body(keys: &[(u8, &str)]) -> Vec<u8> {
    let keys: Vec<Value> = keys.iter().map(|(s, k)| jwk(*s, k)).collect();
    serde_json::to_vec(&json!({ "keys": keys })).unwrap()
}

fn discovery_body() -> Vec<u8> {
    serde_json::to_vec(&json!({"issuer": ISS, "jwks_uri": JWKS, "token_endpoint": "https://tenant.example/oauth/token"})).unwrap()
}

fn claims() -> Value {
    json!({"iss": ISS, "sub": "user", "aud": ["api://orders", "https://tenant.example/userinfo"],
           "iat": NOW - 10, "exp": NOW + 3600, "scope": "read:orders"})
}

fn sign(seed: u8, header: Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let sig: Signature = key(seed).sign(input.as_bytes());
    format!("{input}.{}", B64.encode(sig.to_bytes()))
}

fn token(kid: &str) -> String {
    sign(
        1,
        json!({"alg":"ES256","kid":kid,"typ":"at+jwt"}),
        &claims(),
    )
}

fn verifier(policy: CachePolicy) -> Verifier {
    VerifierConfig::new()
        .domain("Tenant.Example")
        .audience("api://orders")
        .algorithms(["ES256"])
        .cache(policy)
        .build()
        .unwrap()
}

/// Answers requests from a table and records every URL requested.
struct Server {
    jwks: Vec<u8>,
    jwks_status: u16,
    log: Vec<String>,
}

impl Server {
    fn new() -> Self {
        Self {
            jwks: jwks_body(&[(1, "k1")]),
            jwks_status: 200,
            log: Vec::new(),
        }
    }

    fn answer(&mut self, url: &str) -> HttpOutcome {
        self.log.push(url.to_string());
        match url {
            DISCOVERY => Ok(HttpResponse::json(discovery_body())),
            JWKS => Ok(HttpResponse::new(
                self.jwks_status,
                "application/json",
                self.jwks.clone(),
            )),
            _ => Err(TransportError::new(TransportErrorKind::Unavailable)),
        }
    }
}

fn run(
    v: &Verifier,
    caches: &mut Caches,
    server: &mut Server,
    token: &str,
    now: u64,
) -> Result<Value, Reason> {
    let mut flow = v
        .verify_access_token(token, &RequestContext::default())
        .map_err(|e| e.reason().clone())?;
    drive(&mut flow, caches, server, now)
}

/// Drives `flow` to its end, answering from `server`.
fn drive(
    flow: &mut super::VerifyAccessToken<'_>,
    caches: &mut Caches,
    server: &mut Server,
    now: u64,
) -> Result<Value, Reason> {
    let now = UnixTime::from_secs(now);
    for _ in 0..10 {
        match flow.poll(caches, now).map_err(|e| e.reason().clone())? {
            Action::NeedHttp(req) => {
                let outcome = server.answer(&req.url);
                flow.handle_response(caches, outcome, now);
            }
            Action::Wait(k) => panic!("unexpected wait for {k:?}"),
            Action::CheckReplay(c) => panic!("unexpected replay check {c:?}"),
            Action::Done(claims) => return Ok(Value::Object(claims.into_map())),
        }
    }
    panic!("flow did not finish")
}

#[test]
fn cold_then_warm() {
    let v = verifier(CachePolicy::default());
    let mut caches = v.new_caches();
    let mut server = Server::new();
    let claims = run(&v, &mut caches, &mut server, &token("k1"), NOW).unwrap();
    assert_eq!(claims["sub"], "user");
    assert_eq!(server.log, vec![DISCOVERY, JWKS]);
    // Warm: no request, and shared access suffices.
    run(&v, &mut caches, &mut server, &token("k1"), NOW + 1).unwrap();
    assert_eq!(server.log.len(), 2);
    let t = token("k1");
    let mut flow = v
        .verify_access_token(&t, &RequestContext::default())
        .unwrap();
    assert!(
        flow.poll_shared(&caches, UnixTime::from_secs(NOW + 2))
            .unwrap()
            .is_ok()
    );
}

#[test]
fn ttl_expiry_and_ttl_zero() {
    let v = verifier(CachePolicy::default());
    let mut caches = v.new_caches();
    let mut server = Server::new();
    run(&v, &mut caches, &mut server, &token("k1"), NOW).unwrap();
    run(&v, &mut caches, &mut server, &token("k1"), NOW + 599).unwrap();
    assert_eq!(server.log.len(), 2);
    run(&v, &mut caches, &mut server, &token("k1"), NOW + 600).unwrap();
    assert_eq!(server.log, vec![DISCOVERY, JWKS, DISCOVERY, JWKS]);

    let v = verifier(CachePolicy {
        ttl: Duration::ZERO,
        ..CachePolicy::default()
    });
    let mut caches = v.new_caches();
    let mut server = Server::new();
    for i in 0..3 {
        run(&v, &mut caches, &mut server, &token("k1"), NOW + i).unwrap();
    }
    assert_eq!(server.log.len(), 6);
}

#[test]
fn lru_eviction_refetches_the_evicted_issuer() {
    let v = verifier(CachePolicy {
        max_entries: 1,
        ..CachePolicy::default()
    });
    let mut caches = v.new_caches();
    let mut server = Server::new();
    run(&v, &mut caches, &mut server, &token("k1"), NOW).unwrap();
    // Within the cooldown the entries may not be evicted: no room for other resources.
    let soon = UnixTime::from_secs(NOW + 29);
    assert!(!caches.begin_discovery("https://other.example/", soon));
    assert!(!caches.begin_jwks("https://other.example/jwks", soon));
    // After it, fill the single slot of each cache with other resources.
    let later = UnixTime::from_secs(NOW + 30);
    assert!(caches.begin_discovery("https://other.example/", later));
    assert!(caches.begin_jwks("https://other.example/jwks", later));
    run(&v, &mut caches, &mut server, &token("k1"), NOW + 61).unwrap();
    assert_eq!(server.log, vec![DISCOVERY, JWKS, DISCOVERY, JWKS]);
}

#[test]
fn unknown_kid_refetches_once_per_cooldown() {
    let v = verifier(CachePolicy::default());
    let mut caches = v.new_caches();
    let mut server = Server::new();
    run(&v, &mut caches, &mut server, &token("k1"), NOW).unwrap();
    // Rotation: the tenant now signs with k2.
    server.jwks = jwks_body(&[(1, "k1"), (2, "k2")]);
    let rotated = sign(2, json!({"alg":"ES256","kid":"k2"}), &claims());
    run(&v, &mut caches, &mut server, &rotated, NOW + 31).unwrap();
    assert_eq!(server.log, vec![DISCOVERY, JWKS, JWKS]);
    // A flood of unknown kids within the cooldown makes no request.
    for i in 0..1000 {
        let t = token(&format!("random-{i}"));
        assert_eq!(
            run(&v, &mut caches, &mut server, &t, NOW + 32),
            Err(Reason::UnknownKid)
        );
    }
    assert_eq!(server.log.len(), 3);
    // After the cooldown, one refetch, then rejection.
    assert_eq!(
        run(&v, &mut caches, &mut server, &token("nope"), NOW + 62),
        Err(Reason::UnknownKid)
    );
    assert_eq!(
        run(&v, &mut caches, &mut server, &token("nope2"), NOW + 63),
        Err(Reason::UnknownKid)
    );
    assert_eq!(server.log.len(), 4);
    // Known keys still verify.
    run(&v, &mut caches, &mut server, &rotated, NOW + 64).unwrap();
}

#[test]
fn discovery_and_jwks_failures() {
    use crate::discovery::DocumentError;
    let v = verifier(CachePolicy::default());
    let mut server = Server::new();
    server.jwks_status = 500;
    let mut caches = v.new_caches();
    assert_eq!(
        run(&v, &mut caches, &mut server, &token("k1"), NOW),
        Err(Reason::JwksFetchFailed(Some(DocumentError::Status(500))))
    );
    // Failure is not cached as success; the cooldown holds back another request.
    assert_eq!(
        run(&v, &mut caches, &mut server, &token("k1"), NOW + 1),
        Err(Reason::JwksFetchFailed(None))
    );
    assert_eq!(server.log, vec![DISCOVERY, JWKS]);
    server.jwks_status = 200;
    run(&v, &mut caches, &mut server, &token("k1"), NOW + 31).unwrap();

    // Issuer mismatch and missing jwks_uri.
    for body in [
        json!({"issuer": "https://tenant.example", "jwks_uri": JWKS}),
        json!({"issuer": ISS}),
    ] {
        let mut caches = v.new_caches();
        let t = token("k1");
        let mut flow = v
            .verify_access_token(&t, &RequestContext::default())
            .unwrap();
        let now = UnixTime::from_secs(NOW);
        assert!(matches!(
            flow.poll(&mut caches, now),
            Ok(Action::NeedHttp(_))
        ));
        flow.handle_response(
            &mut caches,
            Ok(HttpResponse::json(serde_json::to_vec(&body).unwrap())),
            now,
        );
        let err = flow.poll(&mut caches, now).unwrap_err();
        assert!(
            matches!(err.reason(), Reason::DiscoveryFailed(Some(_))),
            "{err:?}"
        );
        // Sticky.
        assert_eq!(flow.poll(&mut caches, now).unwrap_err(), err);
        assert_eq!(err.status(), 401);
    }

    // Transport failure.
    let mut caches = v.new_caches();
    let t = token("k1");
    let mut flow = v
        .verify_access_token(&t, &RequestContext::default())
        .unwrap();
    let now = UnixTime::from_secs(NOW);
    let _ = flow.poll(&mut caches, now).unwrap();
    flow.handle_response(
        &mut caches,
        Err(TransportError::new(TransportErrorKind::Timeout)),
        now,
    );
    assert_eq!(
        flow.poll(&mut caches, now).unwrap_err().reason(),
        &Reason::DiscoveryFailed(None)
    );
}

#[test]
fn two_cold_flows_make_one_fetch() {
    let v = verifier(CachePolicy::default());
    let mut caches = v.new_caches();
    let now = UnixTime::from_secs(NOW);
    let (t1, t2) = (token("k1"), token("k1"));
    let mut a = v
        .verify_access_token(&t1, &RequestContext::default())
        .unwrap();
    let mut b = v
        .verify_access_token(&t2, &RequestContext::default())
        .unwrap();
    let Ok(Action::NeedHttp(req)) = a.poll(&mut caches, now) else {
        panic!()
    };
    assert_eq!(req.url, DISCOVERY);
    assert!(matches!(
        b.poll(&mut caches, now),
        Ok(Action::Wait(FetchKey::Discovery(_)))
    ));
    a.handle_response(&mut caches, Ok(HttpResponse::json(discovery_body())), now);
    let Ok(Action::NeedHttp(req)) = a.poll(&mut caches, now) else {
        panic!()
    };
    assert_eq!(req.url, JWKS);
    assert!(matches!(
        b.poll(&mut caches, now),
        Ok(Action::Wait(FetchKey::Jwks(_)))
    ));
    a.handle_response(
        &mut caches,
        Ok(HttpResponse::json(jwks_body(&[(1, "k1")]))),
        now,
    );
    assert!(matches!(a.poll(&mut caches, now), Ok(Action::Done(_))));
    assert!(matches!(b.poll(&mut caches, now), Ok(Action::Done(_))));
    // A lost fetch does not wedge the cache: the mark expires after the fetch timeout.
    let mut caches = v.new_caches();
    let mut lost = v
        .verify_access_token(&t1, &RequestContext::default())
        .unwrap();
    assert!(matches!(
        lost.poll(&mut caches, now),
        Ok(Action::NeedHttp(_))
    ));
    let mut later = v
        .verify_access_token(&t2, &RequestContext::default())
        .unwrap();
    assert!(matches!(later.poll(&mut caches, now), Ok(Action::Wait(_))));
    let mut later = v
        .verify_access_token(&t2, &RequestContext::default())
        .unwrap();
    assert!(matches!(
        later.poll(&mut caches, UnixTime::from_secs(NOW + 30)),
        Ok(Action::NeedHttp(_))
    ));
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let v = verifier(CachePolicy::default());
    let mut caches = v.new_caches();
    let t = token("k1");
    let mut flow = v
        .verify_access_token(&t, &RequestContext::default())
        .unwrap();
    let now = UnixTime::from_secs(NOW);
    flow.handle_response(&mut caches, Ok(HttpResponse::json(discovery_body())), now);
    assert_eq!(
        flow.poll(&mut caches, now).unwrap_err().reason(),
        &Reason::Misuse
    );
}

#[test]
fn pre_network_rejections_and_challenges() {
    let v = verifier(CachePolicy::default());
    let ctx = RequestContext::default();
    let hs = format!(
        "{}.{}.c2ln",
        B64.encode(r#"{"alg":"HS256"}"#),
        B64.encode(claims().to_string())
    );
    let err = v.verify_access_token(&hs, &ctx).unwrap_err();
    assert!(matches!(
        err.reason(),
        Reason::Malformed(crate::jose::JoseError::SymmetricAlgorithm)
    ));
    assert_eq!(
        (err.code(), err.status()),
        ("verify_access_token_error", 401)
    );
    assert_eq!(err.www_authenticate()[1], r#"DPoP algs="ES256""#);
    assert!(
        err.www_authenticate()[0]
            .starts_with(r#"Bearer realm="api", error="invalid_token", error_description=""#)
    );

    let rs = sign(1, json!({"alg":"RS256"}), &claims());
    let rs = rs.replace(
        &rs[..rs.find('.').unwrap()],
        &B64.encode(r#"{"alg":"RS256"}"#),
    );
    assert_eq!(
        v.verify_access_token(&rs, &ctx).unwrap_err().reason(),
        &Reason::AlgorithmNotAllowed
    );

    let err = v.verify_access_token("", &ctx).unwrap_err();
    assert_eq!(err.reason(), &Reason::MissingToken);
    assert_eq!(
        err.www_authenticate(),
        [r#"Bearer realm="api""#, r#"DPoP algs="ES256""#]
    );

    // Multiple custom domains: an unlisted iss is rejected before any request.
    let mcd = VerifierConfig::new()
        .domains(["a.example", "b.example"])
        .audience("api://orders")
        .algorithms(["ES256"])
        .build()
        .unwrap();
    assert_eq!(
        mcd.verify_access_token(&token("k1"), &ctx)
            .unwrap_err()
            .reason(),
        &Reason::IssuerNotAllowed
    );
    let mut c = claims();
    c["iss"] = json!("https://b.example/");
    let t = sign(1, json!({"alg":"ES256"}), &c);
    assert_eq!(
        mcd.verify_access_token(&t, &ctx).unwrap().issuer().as_str(),
        "https://b.example/"
    );
    c.as_object_mut().unwrap().remove("iss");
    let t = sign(1, json!({"alg":"ES256"}), &c);
    assert_eq!(
        mcd.verify_access_token(&t, &ctx).unwrap_err().reason(),
        &Reason::MissingIssuer
    );
}

#[test]
fn claim_failures_carry_challenges() {
    let v = VerifierConfig::new()
        .domain("tenant.example")
        .audience("api://orders")
        .algorithms(["ES256"])
        .dpop(DpopOptions {
            mode: DpopMode::Disabled,
            ..DpopOptions::default()
        })
        .build()
        .unwrap();
    let mut caches = v.new_caches();
    let mut server = Server::new();
    let mut c = claims();
    c["exp"] = json!(NOW);
    let expired = sign(1, json!({"alg":"ES256","kid":"k1"}), &c);
    let reason = run(&v, &mut caches, &mut server, &expired, NOW).unwrap_err();
    assert!(matches!(reason, Reason::Claims(_)), "{reason:?}");
    let mut flow = v
        .verify_access_token(&expired, &RequestContext::default())
        .unwrap();
    let err = flow
        .poll_shared(&caches, UnixTime::from_secs(NOW))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.www_authenticate().len(), 1);
    assert!(err.www_authenticate()[0].contains(r#"error="invalid_token""#));
    // A bad signature never verifies.
    let forged = sign(2, json!({"alg":"ES256","kid":"k1"}), &claims());
    assert_eq!(
        run(&v, &mut caches, &mut server, &forged, NOW),
        Err(Reason::InvalidSignature)
    );
}

struct Resolver(
    Result<Vec<&'static str>, ()>,
    alloc::sync::Arc<core::sync::atomic::AtomicU32>,
);

impl crate::config::DomainResolver for Resolver {
    fn resolve(
        &self,
        input: &crate::config::ResolverInput<'_>,
    ) -> Result<Vec<String>, crate::config::ResolverError> {
        self.1.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        assert_eq!(input.request_url, Some("https://api.example/orders"));
        assert_eq!(input.headers, &[("host", "api.example")]);
        assert_eq!(input.unverified_issuer, ISS);
        match &self.0 {
            Ok(list) => Ok(list.iter().map(|s| s.to_string()).collect()),
            Err(()) => Err(crate::config::ResolverError("down".into())),
        }
    }
}

#[test]
fn domain_resolver_rules() {
    use core::sync::atomic::{AtomicU32, Ordering};
    let headers = [("host", "api.example")];
    let ctx = RequestContext {
        scheme: Some("Bearer"),
        http_url: Some("https://api.example/orders"),
        headers: &headers,
        ..RequestContext::default()
    };
    let cases: &[(Result<Vec<&'static str>, ()>, Result<&str, Reason>)] = &[
        (Ok(vec!["tenant.example"]), Ok(ISS)),
        (
            Ok(vec!["other.example", "https://TENANT.example/"]),
            Ok(ISS),
        ),
        (Ok(vec!["other.example"]), Err(Reason::IssuerNotAllowed)),
        (Ok(vec![]), Err(Reason::ResolverFailed)),
        (Err(()), Err(Reason::ResolverFailed)),
        (
            Ok(vec!["http://tenant.example"]),
            Err(Reason::ResolverFailed),
        ),
        (Ok(vec!["tenant.example/path"]), Err(Reason::ResolverFailed)),
        (Ok(vec!["user@tenant.example"]), Err(Reason::ResolverFailed)),
        (Ok(vec!["127.0.0.1"]), Err(Reason::ResolverFailed)),
        (Ok(vec!["localhost"]), Err(Reason::ResolverFailed)),
        (Ok(vec!["not a domain"]), Err(Reason::ResolverFailed)),
    ];
    for (answer, expected) in cases {
        let v = VerifierConfig::new()
            .domain_resolver(Resolver(answer.clone(), Default::default()))
            .audience("api://orders")
            .algorithms(["ES256"])
            .build()
            .unwrap();
        let t = token("k1");
        let check = |got: Result<super::VerifyAccessToken<'_>, super::error::VerifyError>,
                     path: &str| {
            let got = got.map(|f| f.issuer().as_str().to_string());
            // A resolver's own failure is the error's source.
            let source = got.as_ref().err().and_then(core::error::Error::source);
            let failed = answer.is_err().then_some("domain resolver failed: down");
            assert_eq!(
                source.map(ToString::to_string).as_deref(),
                failed,
                "{path} {answer:?}"
            );
            assert_eq!(
                got.map_err(|e| e.reason().clone()),
                expected.clone().map(String::from),
                "{path} {answer:?}"
            );
        };
        check(v.verify_access_token(&t, &ctx), "resolver");

        // The same answer given by the driver is checked the same way.
        let deferred = VerifierConfig::new()
            .deferred_domain_resolver()
            .audience("api://orders")
            .algorithms(["ES256"])
            .build()
            .unwrap();
        let Ok(super::Started::NeedDomains(pending)) = deferred.start_verification(&t, &ctx) else {
            panic!("a deferred resolver must stop before the issuer is chosen");
        };
        let input = pending.input();
        assert_eq!(
            (input.request_url, input.headers, input.unverified_issuer),
            (ctx.http_url, &headers[..], ISS)
        );
        let given = answer
            .clone()
            .map(|list| list.iter().map(|s| s.to_string()).collect())
            .map_err(|()| crate::config::ResolverError("down".into()));
        check(pending.resolved(given), "deferred");
    }
    // Not called when a cheap check already failed.
    let calls = alloc::sync::Arc::new(AtomicU32::new(0));
    let v = VerifierConfig::new()
        .domain_resolver(Resolver(Ok(vec!["tenant.example"]), calls.clone()))
        .audience("api://orders")
        .algorithms(["RS256"])
        .build()
        .unwrap();
    assert_eq!(
        v.verify_access_token(&token("k1"), &ctx)
            .unwrap_err()
            .reason(),
        &Reason::AlgorithmNotAllowed
    );
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    let _ = v.verify_access_token(&sign(1, json!({"alg":"HS256"}), &claims()), &ctx);
    let _ = v.verify_access_token("a.b", &ctx);
    assert_eq!(
        calls.load(Ordering::Relaxed),
        0,
        "called for a token that fails before the network"
    );
}

#[test]
fn deferred_resolver_needs_start_verification() {
    let v = VerifierConfig::new()
        .deferred_domain_resolver()
        .audience("api://orders")
        .algorithms(["ES256"])
        .build()
        .unwrap();
    let ctx = RequestContext::default();
    let t = token("k1");
    // The one-step entry point cannot resolve: a driver bug, named as such.
    assert_eq!(
        v.verify_access_token(&t, &ctx).unwrap_err().reason(),
        &Reason::Misuse
    );
    // Checks that need no domain still come first, and a token without `iss` never reaches
    // the driver's resolver.
    let no_iss = {
        let mut c = claims();
        c.as_object_mut().unwrap().remove("iss");
        sign(1, json!({"alg":"ES256","kid":"k1"}), &c)
    };
    for (token, reason) in [
        (no_iss.as_str(), Reason::MissingIssuer),
        (
            "a.b",
            Reason::Malformed(crate::jose::JoseError::SegmentCount),
        ),
    ] {
        assert_eq!(
            v.start_verification(token, &ctx).unwrap_err().reason(),
            &reason
        );
    }
    // Resolved, the flow runs to the end like any other.
    let Ok(super::Started::NeedDomains(pending)) = v.start_verification(&t, &ctx) else {
        panic!("expected NeedDomains");
    };
    let mut flow = pending
        .resolved(Ok(vec!["other.example".into(), "tenant.example".into()]))
        .unwrap();
    let mut caches = v.new_caches();
    let mut server = Server::new();
    let claims = drive(&mut flow, &mut caches, &mut server, NOW).unwrap();
    assert_eq!(claims["iss"], ISS);
    assert_eq!(server.log, [DISCOVERY, JWKS]);
}

mod dpop_matrix {
    use super::*;
    use crate::cache::ReplayCache;
    use crate::jose::jwk::Jwk;
    use crate::jose::provider::RUST_CRYPTO;
    use crate::verify::dpop::{DpopError, access_token_hash};

    const URL: &str = "https://api.example/orders?id=1";

    fn proof_jwk(seed: u8) -> Value {
        let mut j = jwk(seed, "");
        let o = j.as_object_mut().unwrap();
        for m in ["kid", "use", "alg"] {
            o.remove(m);
        }
        j
    }

    fn jkt(seed: u8) -> String {
        Jwk::from_members(proof_jwk(seed).as_object().unwrap(), &RUST_CRYPTO)
            .unwrap()
            .thumbprint()
    }

    fn proof(seed: u8, token: &str, htm: &str, jti: &str) -> String {
        let header = json!({"typ":"dpop+jwt","alg":"ES256","jwk": proof_jwk(seed)});
        let claims = json!({"jti": jti, "htm": htm, "htu": "https://api.example/orders",
                            "iat": NOW, "ath": access_token_hash(token)});
        sign(seed, header, &claims)
    }

    fn bound_token() -> String {
        let mut c = claims();
        c["cnf"] = json!({"jkt": jkt(7)});
        sign(1, json!({"alg":"ES256","kid":"k1"}), &c)
    }

    fn verifier(mode: DpopMode) -> Verifier {
        VerifierConfig::new()
            .domain("tenant.example")
            .audience("api://orders")
            .algorithms(["ES256"])
            .dpop(DpopOptions {
                mode,
                ..DpopOptions::default()
            })
            .build()
            .unwrap()
    }

    /// Verifies with warm caches and returns `Ok(())` or (code, status, challenges).
    fn check(
        v: &Verifier,
        caches: &mut Caches,
        token: &str,
        ctx: &RequestContext<'_>,
    ) -> Result<(), (String, u16, Vec<String>, Reason)> {
        let now = UnixTime::from_secs(NOW);
        let mut run = || -> Result<(), crate::verify::error::VerifyError> {
            let mut flow = v.verify_access_token(token, ctx)?;
            loop {
                match flow.poll(caches, now)? {
                    Action::NeedHttp(req) => {
                        let body = if req.url == DISCOVERY {
                            discovery_body()
                        } else {
                            jwks_body(&[(1, "k1")])
                        };
                        flow.handle_response(caches, Ok(HttpResponse::json(body)), now);
                    }
                    Action::Wait(_) => panic!("wait"),
                    Action::CheckReplay(c) => panic!("unexpected replay check {c:?}"),
                    Action::Done(_) => return Ok(()),
                }
            }
        };
        run().map_err(|e| {
            (
                e.code().to_string(),
                e.status(),
                e.www_authenticate().to_vec(),
                e.reason().clone(),
            )
        })
    }

    fn ctx<'a>(
        scheme: Option<&'a str>,
        proof: Option<&'a str>,
        method: &'a str,
    ) -> RequestContext<'a> {
        RequestContext {
            scheme,
            dpop_proof: proof,
            http_method: proof.map(|_| method),
            http_url: proof.map(|_| URL),
            ..RequestContext::default()
        }
    }

    const BEARER: &str = r#"Bearer realm="api""#;
    const DPOP: &str = r#"DPoP algs="ES256""#;

    fn with_error(on_dpop: bool, code: &str, desc: &str) -> [String; 2] {
        let e = format!(r#"error="{code}", error_description="{desc}""#);
        if on_dpop {
            [BEARER.to_string(), format!(r#"DPoP {e}, algs="ES256""#)]
        } else {
            [format!("{BEARER}, {e}"), DPOP.to_string()]
        }
    }

    #[test]
    fn mode_scheme_proof_token_matrix() {
        let unbound = token("k1");
        let bound = bound_token();
        let p_bound = proof(7, &bound, "GET", "j1");
        let p_unbound = proof(7, &unbound, "GET", "j2");
        let p_post = proof(7, &bound, "POST", "j3");
        let p_other_key = proof(8, &bound, "GET", "j4");
        let allowed = verifier(DpopMode::Allowed);
        let required = verifier(DpopMode::Required);
        let disabled = verifier(DpopMode::Disabled);
        let bare = vec![BEARER.to_string(), DPOP.to_string()];
        type Expect = Result<(), (&'static str, u16, Vec<String>)>;
        let cases: Vec<(&str, &Verifier, &str, RequestContext<'_>, Expect)> = vec![
            (
                "bearer ok",
                &allowed,
                &unbound,
                ctx(Some("Bearer"), None, "GET"),
                Ok(()),
            ),
            (
                "no scheme ok",
                &allowed,
                &unbound,
                ctx(None, None, "GET"),
                Ok(()),
            ),
            (
                "dpop ok",
                &allowed,
                &bound,
                ctx(Some("dpop"), Some(&p_bound), "get"),
                Ok(()),
            ),
            (
                "dpop no proof",
                &allowed,
                &bound,
                RequestContext {
                    scheme: Some("DPoP"),
                    ..Default::default()
                },
                Err(("invalid_request", 400, bare.clone())),
            ),
            (
                "bound as bearer",
                &allowed,
                &bound,
                ctx(Some("Bearer"), None, "GET"),
                Err((
                    "verify_access_token_error",
                    401,
                    with_error(
                        false,
                        "invalid_token",
                        &DpopError::BoundTokenAsBearer.to_string(),
                    )
                    .to_vec(),
                )),
            ),
            (
                "dpop on unbound",
                &allowed,
                &unbound,
                ctx(Some("DPoP"), Some(&p_unbound), "GET"),
                Err((
                    "verify_access_token_error",
                    401,
                    with_error(
                        true,
                        "invalid_token",
                        &DpopError::DpopWithoutBinding.to_string(),
                    )
                    .to_vec(),
                )),
            ),
            (
                "bearer with proof",
                &allowed,
                &unbound,
                ctx(Some("Bearer"), Some(&p_unbound), "GET"),
                Err((
                    "invalid_request",
                    400,
                    with_error(
                        false,
                        "invalid_request",
                        &DpopError::BearerWithProof.to_string(),
                    )
                    .to_vec(),
                )),
            ),
            (
                "htm mismatch",
                &allowed,
                &bound,
                ctx(Some("DPoP"), Some(&p_post), "GET"),
                Err((
                    "invalid_dpop_proof",
                    400,
                    with_error(
                        true,
                        "invalid_dpop_proof",
                        &DpopError::HtmMismatch.to_string(),
                    )
                    .to_vec(),
                )),
            ),
            (
                "jkt mismatch",
                &allowed,
                &bound,
                ctx(Some("DPoP"), Some(&p_other_key), "GET"),
                Err((
                    "verify_access_token_error",
                    401,
                    with_error(true, "invalid_token", &DpopError::JktMismatch.to_string()).to_vec(),
                )),
            ),
            (
                "proof without scheme",
                &allowed,
                &bound,
                ctx(None, Some(&p_bound), "GET"),
                Err(("invalid_request", 400, bare.clone())),
            ),
            (
                "basic scheme",
                &allowed,
                &unbound,
                ctx(Some("Basic"), None, "GET"),
                Err(("invalid_request", 400, bare.clone())),
            ),
            (
                "required: bearer",
                &required,
                &unbound,
                ctx(Some("Bearer"), None, "GET"),
                Err(("invalid_request", 400, vec![DPOP.to_string()])),
            ),
            (
                "required: dpop ok",
                &required,
                &bound,
                ctx(Some("DPoP"), Some(&p_bound), "GET"),
                Ok(()),
            ),
            (
                "disabled: bound as bearer ok",
                &disabled,
                &bound,
                ctx(Some("Bearer"), None, "GET"),
                Ok(()),
            ),
            (
                "disabled: dpop",
                &disabled,
                &bound,
                ctx(Some("DPoP"), Some(&p_bound), "GET"),
                Err(("invalid_request", 400, vec![BEARER.to_string()])),
            ),
        ];
        for (name, v, token, ctx, expected) in cases {
            let mut caches = v.new_caches();
            let got = check(v, &mut caches, token, &ctx).map_err(|(c, s, w, _)| (c, s, w));
            let expected = expected.map_err(|(c, s, w)| (c.to_string(), s, w));
            assert_eq!(got, expected, "case {name}");
        }
    }

    #[test]
    fn replay_cache_rejects_a_second_use() {
        let v = verifier(DpopMode::Allowed);
        let mut caches = v.new_caches().with_replay_cache(ReplayCache::for_window(
            16,
            Duration::from_secs(300),
            Duration::from_secs(30),
        ));
        let bound = bound_token();
        let p = proof(7, &bound, "GET", "once");
        let c = ctx(Some("DPoP"), Some(&p), "GET");
        check(&v, &mut caches, &bound, &c).unwrap();
        // Warm path cannot use the shared fast path with a replay cache.
        let mut flow = v.verify_access_token(&bound, &c).unwrap();
        assert!(
            flow.poll_shared(&caches, UnixTime::from_secs(NOW))
                .is_none()
        );
        let err = check(&v, &mut caches, &bound, &c).unwrap_err();
        assert_eq!(err.3, Reason::Dpop(DpopError::Replayed));
        // Without a replay cache the replay is accepted (documented risk, T-64).
        let mut plain = v.new_caches();
        check(&v, &mut plain, &bound, &c).unwrap();
        check(&v, &mut plain, &bound, &c).unwrap();
    }

    /// Drives a flow over caches with an external replay check, answering every
    /// `CheckReplay` with `answer` and recording what was asked.
    fn check_external(
        v: &Verifier,
        caches: &mut Caches,
        token: &str,
        ctx: &RequestContext<'_>,
        answer: crate::cache::ReplayOutcome,
        asked: &mut Vec<crate::cache::ReplayCheck>,
    ) -> Result<(), crate::verify::error::VerifyError> {
        let now = UnixTime::from_secs(NOW);
        let mut flow = v.verify_access_token(token, ctx)?;
        loop {
            match flow.poll(caches, now)? {
                Action::NeedHttp(req) => {
                    let body = if req.url == DISCOVERY {
                        discovery_body()
                    } else {
                        jwks_body(&[(1, "k1")])
                    };
                    flow.handle_response(caches, Ok(HttpResponse::json(body)), now);
                }
                Action::Wait(_) => panic!("wait"),
                Action::CheckReplay(check) => {
                    asked.push(check);
                    flow.handle_replay(answer);
                }
                Action::Done(_) => return Ok(()),
            }
        }
    }

    /// Issue 13, item 1: with an external replay check the flow stops at `CheckReplay`
    /// naming the hashed `(jkt, jti)` key and the end of the proof's window; the store's
    /// answer decides.
    #[test]
    fn external_replay_check_asks_the_driver() {
        use crate::cache::{ReplayCheck, ReplayKey, ReplayOutcome};
        let v = verifier(DpopMode::Allowed);
        let bound = bound_token();
        let p = proof(7, &bound, "GET", "jti-ext-1");
        let c = ctx(Some("DPoP"), Some(&p), "GET");
        let mut caches = v.new_caches().with_external_replay();
        assert!(caches.has_external_replay() && !caches.has_replay_cache());
        let mut asked = Vec::new();
        check_external(
            &v,
            &mut caches,
            &bound,
            &c,
            ReplayOutcome::FirstSeen,
            &mut asked,
        )
        .unwrap();
        let expected = ReplayCheck::new(
            ReplayKey::new(&jkt(7), "jti-ext-1"),
            UnixTime::from_secs(NOW + 300 + 30),
        );
        assert_eq!(asked, [expected]);
        assert_eq!(
            expected.ttl(UnixTime::from_secs(NOW)),
            Duration::from_secs(331)
        );
        // The same proof again: the same key; seen before is the replay error of today.
        let err = check_external(
            &v,
            &mut caches,
            &bound,
            &c,
            ReplayOutcome::SeenBefore,
            &mut asked,
        )
        .unwrap_err();
        assert_eq!(asked, [expected, expected]);
        assert_eq!(*err.reason(), Reason::Dpop(DpopError::Replayed));
        assert_eq!((err.code(), err.status()), ("invalid_dpop_proof", 400));
        assert_eq!(
            err.www_authenticate(),
            with_error(true, "invalid_dpop_proof", "dpop proof replayed")
        );
        // The store cannot answer: 503, its own code, and a bare challenge.
        let err = check_external(
            &v,
            &mut caches,
            &bound,
            &c,
            ReplayOutcome::Unavailable,
            &mut asked,
        )
        .unwrap_err();
        assert_eq!(*err.reason(), Reason::ReplayStoreUnavailable);
        assert_eq!(
            (err.code(), err.status()),
            ("replay_store_unavailable", 503)
        );
        assert_eq!(err.www_authenticate(), [BEARER, DPOP]);
        // Another jti from the same key is another key; another proof key too.
        let p2 = proof(7, &bound, "GET", "jti-ext-2");
        check_external(
            &v,
            &mut caches,
            &bound,
            &ctx(Some("DPoP"), Some(&p2), "GET"),
            ReplayOutcome::FirstSeen,
            &mut asked,
        )
        .unwrap();
        assert_eq!(*asked[3].key(), ReplayKey::new(&jkt(7), "jti-ext-2"));
        assert_ne!(asked[3].key(), expected.key());
        // The window follows the configuration.
        let short = VerifierConfig::new()
            .domain("tenant.example")
            .audience("api://orders")
            .algorithms(["ES256"])
            .dpop(DpopOptions {
                iat_offset: Duration::from_secs(60),
                iat_leeway: Duration::from_secs(5),
                ..DpopOptions::default()
            })
            .build()
            .unwrap();
        let mut caches = short.new_caches().with_external_replay();
        check_external(
            &short,
            &mut caches,
            &bound,
            &c,
            ReplayOutcome::FirstSeen,
            &mut asked,
        )
        .unwrap();
        assert_eq!(asked[4].until(), UnixTime::from_secs(NOW + 65));
    }

    /// The flow stops at `CheckReplay` only with an external check, only for a DPoP proof,
    /// and only after every other check passed.
    #[test]
    fn external_replay_check_only_when_configured_and_valid() {
        use crate::cache::{ReplayCache, ReplayOutcome};
        let v = verifier(DpopMode::Allowed);
        let bound = bound_token();
        let p = proof(7, &bound, "GET", "j");
        let c = ctx(Some("DPoP"), Some(&p), "GET");
        let mut asked = Vec::new();
        // Default caches and the in-memory cache: no driver step.
        for mut caches in [
            v.new_caches(),
            v.new_caches()
                .with_replay_cache(ReplayCache::new(8, Duration::from_secs(330))),
        ] {
            check_external(
                &v,
                &mut caches,
                &bound,
                &c,
                ReplayOutcome::Unavailable,
                &mut asked,
            )
            .unwrap();
        }
        // An in-memory cache replaced by an external check is gone, and back.
        let caches = v
            .new_caches()
            .with_replay_cache(ReplayCache::new(8, Duration::from_secs(330)))
            .with_external_replay();
        assert!(!caches.has_replay_cache());
        let caches = caches.with_replay_cache(ReplayCache::new(8, Duration::from_secs(330)));
        assert!(caches.has_replay_cache() && !caches.has_external_replay());
        assert!(asked.is_empty());
        let mut caches = v.new_caches().with_external_replay();
        // A bearer token never reaches the store, and stays on the shared warm path.
        let unbound = token("k1");
        let bearer = ctx(Some("Bearer"), None, "GET");
        check_external(
            &v,
            &mut caches,
            &unbound,
            &bearer,
            ReplayOutcome::Unavailable,
            &mut asked,
        )
        .unwrap();
        let mut flow = v.verify_access_token(&unbound, &bearer).unwrap();
        assert!(matches!(
            flow.poll_shared(&caches, UnixTime::from_secs(NOW)),
            Some(Ok(_))
        ));
        // A DPoP verification needs the driver's step: no shared warm path.
        let mut flow = v.verify_access_token(&bound, &c).unwrap();
        assert!(
            flow.poll_shared(&caches, UnixTime::from_secs(NOW))
                .is_none()
        );
        // Invalid tokens and proofs fail before the store is asked.
        let mut expired = claims();
        expired["cnf"] = json!({"jkt": jkt(7)});
        expired["exp"] = json!(NOW - 10);
        let expired = sign(1, json!({"alg":"ES256","kid":"k1"}), &expired);
        let p_expired = proof(7, &expired, "GET", "j");
        // A character in the middle of the signature changed (never a padding bit).
        let tamper = |jws: &str| {
            let at = jws.len() - 10;
            let other = if &jws[at..=at] == "A" { "B" } else { "A" };
            format!("{}{other}{}", &jws[..at], &jws[at + 1..])
        };
        let bad_sig = tamper(&bound);
        let p_bad_sig = proof(7, &bad_sig, "GET", "j");
        let p_post = proof(7, &bound, "POST", "j");
        let p_other_key = proof(8, &bound, "GET", "j");
        let p_tampered = tamper(&p);
        for (name, token, proof) in [
            ("expired token", &expired, &p_expired),
            ("bad token signature", &bad_sig, &p_bad_sig),
            ("htm mismatch", &bound, &p_post),
            ("jkt mismatch", &bound, &p_other_key),
            ("bad proof signature", &bound, &p_tampered),
        ] {
            let c = ctx(Some("DPoP"), Some(proof), "GET");
            let err = check_external(
                &v,
                &mut caches,
                token,
                &c,
                ReplayOutcome::FirstSeen,
                &mut asked,
            )
            .unwrap_err();
            assert_ne!(*err.reason(), Reason::ReplayStoreUnavailable, "{name}");
            assert!(asked.is_empty(), "{name} reached the store");
        }
    }

    /// Driving out of order around `CheckReplay` is a misuse, never a panic or a pass.
    #[test]
    fn external_replay_misuse() {
        use crate::cache::ReplayOutcome;
        let v = verifier(DpopMode::Allowed);
        let bound = bound_token();
        let p = proof(7, &bound, "GET", "j");
        let c = ctx(Some("DPoP"), Some(&p), "GET");
        let now = UnixTime::from_secs(NOW);
        let mut caches = v.new_caches().with_external_replay();
        let to_check = |caches: &mut Caches| {
            let mut flow = v.verify_access_token(&bound, &c).unwrap();
            loop {
                match flow.poll(caches, now).unwrap() {
                    Action::NeedHttp(req) => {
                        let body = if req.url == DISCOVERY {
                            discovery_body()
                        } else {
                            jwks_body(&[(1, "k1")])
                        };
                        flow.handle_response(caches, Ok(HttpResponse::json(body)), now);
                    }
                    Action::CheckReplay(_) => return flow,
                    other => panic!("{other:?}"),
                }
            }
        };
        // Polled again without an answer.
        let mut flow = to_check(&mut caches);
        assert_eq!(
            *flow.poll(&mut caches, now).unwrap_err().reason(),
            Reason::Misuse
        );
        // Answered twice.
        let mut flow = to_check(&mut caches);
        flow.handle_replay(ReplayOutcome::FirstSeen);
        flow.handle_replay(ReplayOutcome::FirstSeen);
        assert_eq!(
            *flow.poll(&mut caches, now).unwrap_err().reason(),
            Reason::Misuse
        );
        // An HTTP response while the replay check is out.
        let mut flow = to_check(&mut caches);
        flow.handle_response(&mut caches, Ok(HttpResponse::json(discovery_body())), now);
        assert_eq!(
            *flow.poll(&mut caches, now).unwrap_err().reason(),
            Reason::Misuse
        );
        // Abandoned while the check is out.
        let mut flow = to_check(&mut caches);
        flow.abandon(&mut caches);
        assert_eq!(
            *flow.poll(&mut caches, now).unwrap_err().reason(),
            Reason::Misuse
        );
        // An answer nobody asked for.
        let mut flow = v.verify_access_token(&bound, &c).unwrap();
        flow.handle_replay(ReplayOutcome::FirstSeen);
        assert_eq!(
            *flow.poll(&mut caches, now).unwrap_err().reason(),
            Reason::Misuse
        );
        // Answered once: done, then finished.
        let mut flow = to_check(&mut caches);
        flow.handle_replay(ReplayOutcome::FirstSeen);
        assert!(matches!(flow.poll(&mut caches, now), Ok(Action::Done(_))));
        assert_eq!(
            *flow.poll(&mut caches, now).unwrap_err().reason(),
            Reason::Misuse
        );
    }

    /// Item 10: a client holding a valid DPoP-bound token fills its quota of the replay
    /// cache with fresh proofs and is refused; a client with another key still gets through.
    #[test]
    fn replay_cache_quota_keeps_other_clients_served() {
        let v = verifier(DpopMode::Allowed);
        let mut caches = v.new_caches().with_replay_cache(ReplayCache::for_window(
            20,
            Duration::from_secs(300),
            Duration::from_secs(30),
        ));
        let greedy = bound_token();
        let mut refused = 0;
        for i in 0..40 {
            let p = proof(7, &greedy, "GET", &format!("flood-{i}"));
            if let Err(e) = check(
                &v,
                &mut caches,
                &greedy,
                &ctx(Some("DPoP"), Some(&p), "GET"),
            ) {
                assert_eq!(e.3, Reason::Dpop(DpopError::ReplayQuotaExceeded), "{i}");
                assert_eq!(e.0, "invalid_dpop_proof");
                refused += 1;
            }
        }
        // The default quota is a tenth of the capacity.
        assert_eq!(refused, 40 - 2);
        let mut c = claims();
        c["cnf"] = json!({"jkt": jkt(8)});
        let other = sign(1, json!({"alg":"ES256","kid":"k1"}), &c);
        let p = proof(8, &other, "GET", "honest-1");
        check(&v, &mut caches, &other, &ctx(Some("DPoP"), Some(&p), "GET")).unwrap();
    }

    /// The DPoP `iat` window through the whole flow (RFC 9449 section 4.3, check 11): a
    /// bound token with a proof issued just inside the window passes, just outside it fails,
    /// on either side, fractions included.
    #[test]
    fn proof_iat_window_through_the_flow() {
        let v = verifier(DpopMode::Allowed);
        let token = bound_token();
        let cases: [(f64, bool); 6] = [
            (NOW as f64 - 300.0, true),
            (NOW as f64 - 300.5, false),
            (NOW as f64 + 30.0, true),
            (NOW as f64 + 30.5, false),
            (NOW as f64 - 301.0, false),
            (NOW as f64 + 31.0, false),
        ];
        for (i, (iat, accepted)) in cases.into_iter().enumerate() {
            let header = json!({"typ":"dpop+jwt","alg":"ES256","jwk": proof_jwk(7)});
            let claims = json!({"jti": format!("j{i}"), "htm": "GET",
                                "htu": "https://api.example/orders",
                                "iat": iat, "ath": access_token_hash(&token)});
            let p = sign(7, header, &claims);
            let mut caches = v.new_caches();
            let got = check(&v, &mut caches, &token, &ctx(Some("DPoP"), Some(&p), "GET"));
            if accepted {
                assert_eq!(got, Ok(()), "iat {iat}");
            } else {
                let e = got.unwrap_err();
                assert_eq!(e.3, Reason::Dpop(DpopError::IatOutOfWindow), "iat {iat}");
                assert_eq!((e.0.as_str(), e.1), ("invalid_dpop_proof", 400));
            }
        }
    }
}

#[test]
fn challenges_advertise_resource_metadata_when_configured() {
    let v = VerifierConfig::new()
        .domain("tenant.example")
        .audience("api://orders")
        .algorithms(["ES256"])
        .resource_metadata_url("https://api.example/.well-known/oauth-protected-resource")
        .build()
        .unwrap();
    let err = v
        .verify_access_token("", &RequestContext::default())
        .unwrap_err();
    assert_eq!(
        err.www_authenticate(),
        [
            r#"Bearer realm="api", resource_metadata="https://api.example/.well-known/oauth-protected-resource""#,
            r#"DPoP algs="ES256", resource_metadata="https://api.example/.well-known/oauth-protected-resource""#,
        ]
    );
}

/// SPEC section 4: the status follows the code for every cause, also when the challenge
/// carries no `error` (a wrong scheme, a missing proof) and for an empty token.
#[test]
fn status_follows_the_code_for_every_reason() {
    use super::dpop::{DpopError, UrlError};
    use crate::claims::ClaimError;
    use crate::discovery::DocumentError;
    use crate::jose::JoseError;
    use crate::jose::json::JsonError;

    const TOKEN: (&str, u16) = ("verify_access_token_error", 401);
    const REQUEST: (&str, u16) = ("invalid_request", 400);
    const PROOF: (&str, u16) = ("invalid_dpop_proof", 400);
    let dpop: Vec<(DpopError, (&str, u16))> = vec![
        (DpopError::SchemeNotAllowed, REQUEST),
        (DpopError::DpopParamsWithoutScheme, REQUEST),
        (DpopError::InvalidBinding, TOKEN),
        (DpopError::BearerWithProof, REQUEST),
        (DpopError::DpopWithoutBinding, TOKEN),
        (DpopError::BoundTokenAsBearer, TOKEN),
        (DpopError::MissingProof, REQUEST),
        (DpopError::MultipleProofs, PROOF),
        (DpopError::MissingMethod, REQUEST),
        (DpopError::MissingUrl, REQUEST),
        (DpopError::InvalidRequestUrl(UrlError::Scheme), REQUEST),
        (DpopError::ProofTooLarge, PROOF),
        (
            DpopError::InvalidProofSyntax(JoseError::SegmentCount),
            PROOF,
        ),
        (DpopError::InvalidTyp, PROOF),
        (DpopError::UnsupportedAlg, PROOF),
        (DpopError::MissingJwk, PROOF),
        (DpopError::InvalidJwk(JoseError::PrivateKeyMaterial), PROOF),
        (DpopError::InvalidSignature, PROOF),
        (DpopError::InvalidJti, PROOF),
        (DpopError::InvalidIat, PROOF),
        (DpopError::IatOutOfWindow, PROOF),
        (DpopError::InvalidTimeClaim("exp"), PROOF),
        (DpopError::ProofExpired, PROOF),
        (DpopError::ProofNotYetValid, PROOF),
        (DpopError::MissingClaim("htm"), PROOF),
        (DpopError::HtmMismatch, PROOF),
        (DpopError::InvalidHtu(UrlError::Scheme), PROOF),
        (DpopError::HtuMismatch, PROOF),
        (DpopError::AthMismatch, PROOF),
        (DpopError::JktMismatch, TOKEN),
        (DpopError::Replayed, PROOF),
        (DpopError::ReplayCacheFull, PROOF),
        (DpopError::ReplayQuotaExceeded, PROOF),
    ];
    let mut table: Vec<(Reason, (&str, u16))> = vec![
        (Reason::MissingToken, TOKEN),
        (Reason::Malformed(JoseError::SegmentCount), TOKEN),
        (
            Reason::MalformedClaims(ClaimError::Malformed(JsonError::Syntax)),
            TOKEN,
        ),
        (Reason::AlgorithmNotAllowed, TOKEN),
        (Reason::TokenType, TOKEN),
        (Reason::MissingIssuer, TOKEN),
        (Reason::IssuerNotAllowed, TOKEN),
        (Reason::ResolverFailed, TOKEN),
        (Reason::DiscoveryFailed(None), TOKEN),
        (
            Reason::DiscoveryFailed(Some(DocumentError::Status(503))),
            TOKEN,
        ),
        (Reason::JwksFetchFailed(None), TOKEN),
        (Reason::InvalidJwks(JoseError::InvalidKeySet), TOKEN),
        (Reason::UnknownKid, TOKEN),
        (Reason::KeyMismatch(JoseError::AmbiguousKey), TOKEN),
        (Reason::InvalidSignature, TOKEN),
        (Reason::Claims(ClaimError::Expired), TOKEN),
        (
            Reason::Forbidden(crate::authorize::Denied::of(
                crate::authorize::DeniedKind::Claim,
            )),
            ("insufficient_scope", 403),
        ),
        (Reason::Misuse, TOKEN),
        (
            Reason::ReplayStoreUnavailable,
            ("replay_store_unavailable", 503),
        ),
    ];
    table.extend(dpop.into_iter().map(|(e, want)| (Reason::Dpop(e), want)));
    for mode in [DpopMode::Allowed, DpopMode::Required, DpopMode::Disabled] {
        for dpop_scheme in [false, true] {
            for (reason, (code, status)) in &table {
                let e = super::error::VerifyError::new(reason.clone(), mode, dpop_scheme, None);
                assert_eq!((e.code(), e.status()), (*code, *status), "{reason:?}");
                let error_attr = e.www_authenticate().iter().any(|c| c.contains("error="));
                if error_attr {
                    assert!(
                        e.www_authenticate()
                            .iter()
                            .any(|c| c.contains(&format!("error=\"{}\"", wire(code)))),
                        "{reason:?}: {:?}",
                        e.www_authenticate()
                    );
                }
            }
        }
    }

    fn wire(code: &str) -> &str {
        if code == "verify_access_token_error" {
            "invalid_token"
        } else {
            code
        }
    }
}

/// An empty token is judged like no token at all, whatever else the request carries:
/// `verify_access_token_error`, 401, and bare challenges (RFC 6750 section 3.1).
#[test]
fn an_empty_token_is_a_bare_401() {
    let v = verifier(CachePolicy::default());
    let bare = [r#"Bearer realm="api""#, r#"DPoP algs="ES256""#];
    let contexts = [
        RequestContext::default(),
        RequestContext {
            scheme: Some("Bearer"),
            ..RequestContext::default()
        },
        RequestContext {
            scheme: Some("DPoP"),
            dpop_proof: Some("eyJhbGciOiJFUzI1NiJ9.e30.c2ln"),
            http_method: Some("GET"),
            http_url: Some("https://api.example/orders"),
            ..RequestContext::default()
        },
    ];
    for ctx in &contexts {
        let err = v.verify_access_token("", ctx).unwrap_err();
        assert_eq!(err.reason(), &Reason::MissingToken);
        assert_eq!(
            (err.code(), err.status()),
            ("verify_access_token_error", 401)
        );
        assert_eq!(err.www_authenticate(), bare, "{ctx:?}");
    }
}

/// The description sent to an unauthenticated caller names what is wrong, never the
/// verifier's internal state; `Display` keeps the full cause for the server's logs.
#[test]
fn challenges_do_not_reveal_upstream_state() {
    let v = verifier(CachePolicy::default());
    let mut caches = v.new_caches();
    let t = token("k1");
    let answers: [(u16, Vec<u8>); 3] = [
        (503, b"{}".to_vec()),
        (
            200,
            serde_json::to_vec(&json!({"issuer": "https://internal.example/", "jwks_uri": JWKS}))
                .unwrap(),
        ),
        (
            200,
            serde_json::to_vec(&json!({"issuer": ISS, "jwks_uri": "http://10.0.0.7/keys"}))
                .unwrap(),
        ),
    ];
    for (i, (status, body)) in answers.into_iter().enumerate() {
        let later = UnixTime::from_secs(NOW + 60 * i as u64);
        let mut flow = v
            .verify_access_token(&t, &RequestContext::default())
            .unwrap();
        let Action::NeedHttp(_) = flow.poll(&mut caches, later).unwrap() else {
            panic!("expected a discovery request");
        };
        let response = HttpResponse::new(status, "application/json", body);
        flow.handle_response(&mut caches, Ok(response), later);
        let err = flow.poll(&mut caches, later).unwrap_err();
        assert!(matches!(err.reason(), Reason::DiscoveryFailed(Some(_))));
        let header = err.www_authenticate().join(" ");
        assert!(
            header.contains(r#"error_description="discovery request failed""#),
            "{header}"
        );
        for secret in ["503", "issuer", "internal", "10.0.0.7", "jwks_uri"] {
            assert!(!header.contains(secret), "{secret} in {header}");
        }
        assert_ne!(err.to_string(), "discovery request failed");
    }
}

/// RFC 8725 section 3.11: a token whose `typ` names another kind of JWT is refused before
/// any request, and `require_at_jwt` admits `at+jwt` only.
#[test]
fn explicit_typing() {
    let lenient = verifier(CachePolicy::default());
    let strict = VerifierConfig::new()
        .domain("tenant.example")
        .audience("api://orders")
        .algorithms(["ES256"])
        .require_at_jwt(true)
        .build()
        .unwrap();
    let cases: &[(Option<&str>, bool, bool)] = &[
        // (typ, accepted by default, accepted when at+jwt is required)
        (None, true, false),
        (Some("JWT"), true, false),
        (Some("jwt"), true, false),
        (Some("application/jwt"), true, false),
        (Some("at+jwt"), true, true),
        (Some("AT+JWT"), true, true),
        (Some("application/at+jwt"), true, true),
        (Some("dpop+jwt"), false, false),
        (Some("application/dpop+jwt"), false, false),
        (Some("logout+jwt"), false, false),
        (Some("secevent+jwt"), false, false),
        (Some("id_token+jwt"), false, false),
        (Some("token-introspection+JWT"), false, false),
        (Some("+jwt"), false, false),
    ];
    for (typ, default_ok, strict_ok) in cases {
        let mut header = json!({"alg": "ES256", "kid": "k1"});
        if let Some(typ) = typ {
            header["typ"] = json!(typ);
        }
        let t = sign(1, header, &claims());
        for (v, want) in [(&lenient, default_ok), (&strict, strict_ok)] {
            let mut caches = v.new_caches();
            let mut server = Server::new();
            let got = run(v, &mut caches, &mut server, &t, NOW);
            if *want {
                assert!(got.is_ok(), "{typ:?}: {got:?}");
            } else {
                assert_eq!(got, Err(Reason::TokenType), "{typ:?}");
                assert!(server.log.is_empty(), "{typ:?} made a request");
            }
        }
    }
}

/// The flow checks `iss` and `aud` against the configuration, not against the token: a
/// correctly signed token of another issuer or for another audience is refused after the
/// signature check.
#[test]
fn the_flow_checks_iss_and_aud_against_the_configuration() {
    use crate::claims::ClaimError;
    let v = verifier(CachePolicy::default());
    let cases = [
        (
            "iss",
            json!("https://other.example/"),
            ClaimError::IssuerMismatch,
        ),
        (
            "iss",
            json!("https://tenant.example"),
            ClaimError::IssuerMismatch,
        ),
        ("aud", json!("api://other"), ClaimError::AudienceMismatch),
        (
            "aud",
            json!(["api://other", ISS]),
            ClaimError::AudienceMismatch,
        ),
        ("nbf", json!(NOW + 1), ClaimError::NotYetValid),
        ("exp", json!(NOW), ClaimError::Expired),
    ];
    for (name, value, want) in cases {
        let mut c = claims();
        c[name] = value.clone();
        let t = sign(1, json!({"alg": "ES256", "kid": "k1"}), &c);
        let mut caches = v.new_caches();
        let mut server = Server::new();
        assert_eq!(
            run(&v, &mut caches, &mut server, &t, NOW),
            Err(Reason::Claims(want)),
            "{name} = {value}"
        );
        // The signature was checked with the configured tenant's keys first.
        assert_eq!(server.log, [DISCOVERY, JWKS]);
    }
    // The same token with the configured values passes.
    let t = sign(1, json!({"alg": "ES256", "kid": "k1"}), &claims());
    let mut caches = v.new_caches();
    assert!(run(&v, &mut caches, &mut Server::new(), &t, NOW).is_ok());
}

mod caches;
mod lifecycle;

/// A driver that gives up on a request (a cancelled future) clears its in-flight mark at
/// once: the next flow fetches at the same instant instead of waiting for `fetch_timeout`,
/// for discovery and for the JWK Set alike, and no failure is recorded.
#[test]
fn an_abandoned_fetch_lets_the_next_flow_fetch_at_once() {
    let v = verifier(CachePolicy::default());
    let mut caches = v.new_caches();
    let t = token("k1");
    let ctx = RequestContext::default();
    let now = UnixTime::from_secs(NOW);

    let mut first = v.verify_access_token(&t, &ctx).unwrap();
    assert!(matches!(
        first.poll(&mut caches, now),
        Ok(Action::NeedHttp(_))
    ));
    assert_eq!(first.fetching(), Some(FetchKey::Discovery(ISS.into())));
    let mut second = v.verify_access_token(&t, &ctx).unwrap();
    assert!(matches!(
        second.poll(&mut caches, now),
        Ok(Action::Wait(FetchKey::Discovery(_)))
    ));
    first.abandon(&mut caches);
    assert_eq!(first.fetching(), None);
    assert_eq!(
        first.poll(&mut caches, now).unwrap_err().reason(),
        &Reason::Misuse
    );
    let Ok(Action::NeedHttp(request)) = second.poll(&mut caches, now) else {
        panic!("the waiter should fetch discovery itself");
    };
    assert_eq!(request.url, DISCOVERY);
    second.handle_response(&mut caches, Ok(HttpResponse::json(discovery_body())), now);

    let Ok(Action::NeedHttp(request)) = second.poll(&mut caches, now) else {
        panic!("expected the JWKS request");
    };
    assert_eq!(request.url, JWKS);
    assert_eq!(second.fetching(), Some(FetchKey::Jwks(JWKS.into())));
    let mut third = v.verify_access_token(&t, &ctx).unwrap();
    assert!(matches!(
        third.poll(&mut caches, now),
        Ok(Action::Wait(FetchKey::Jwks(_)))
    ));
    second.abandon(&mut caches);
    let Ok(Action::NeedHttp(request)) = third.poll(&mut caches, now) else {
        panic!("the waiter should fetch the JWK Set itself");
    };
    assert_eq!(request.url, JWKS);
    let keys = HttpResponse::json(jwks_body(&[(1, "k1")]));
    third.handle_response(&mut caches, Ok(keys), now);
    assert!(matches!(third.poll(&mut caches, now), Ok(Action::Done(_))));
    assert!(!caches.jwks(JWKS).unwrap().last_failed());
}

/// Abandoning clears only the mark its own request set: a fetch that outlived
/// `fetch_timeout` and was taken over by another flow does not clear the newer mark.
#[test]
fn a_late_abandon_leaves_a_newer_mark_alone() {
    let v = verifier(CachePolicy::default());
    let mut caches = v.new_caches();
    let t = token("k1");
    let ctx = RequestContext::default();
    let t0 = UnixTime::from_secs(NOW);
    let later = UnixTime::from_secs(NOW + 31);
    let mut slow = v.verify_access_token(&t, &ctx).unwrap();
    assert!(matches!(
        slow.poll(&mut caches, t0),
        Ok(Action::NeedHttp(_))
    ));
    let mut takeover = v.verify_access_token(&t, &ctx).unwrap();
    assert!(matches!(
        takeover.poll(&mut caches, later),
        Ok(Action::NeedHttp(_))
    ));
    slow.abandon(&mut caches);
    let mut waiter = v.verify_access_token(&t, &ctx).unwrap();
    assert!(matches!(
        waiter.poll(&mut caches, later),
        Ok(Action::Wait(FetchKey::Discovery(_)))
    ));
}

/// SECURITY T-53: a fetch that outlived `fetch_timeout` and was taken over is superseded.
/// Its late answer serves its own verification only: it neither ends the newer fetch's
/// in-flight mark (waiters keep waiting for the newer answer) nor overwrites what the newer
/// fetch stored, and a late failure is not recorded as one.
#[test]
fn a_superseded_fetch_neither_stores_its_answer_nor_ends_the_newer_fetch() {
    type Flow<'a> = super::VerifyAccessToken<'a>;
    let v = verifier(CachePolicy::default());
    let t0 = UnixTime::from_secs(NOW);
    let later = UnixTime::from_secs(NOW + 31);
    let old_set = || Ok(HttpResponse::json(jwks_body(&[(1, "k1")])));
    let new_set = || Ok(HttpResponse::json(jwks_body(&[(1, "k1"), (2, "k2")])));
    let k1 = token("k1");
    let k2 = sign(
        2,
        json!({"alg":"ES256","kid":"k2","typ":"at+jwt"}),
        &claims(),
    );
    // A flow for `t` brought to its JWK Set request at `now`.
    fn to_jwks<'a>(v: &'a Verifier, caches: &mut Caches, t: &'a str, now: UnixTime) -> Flow<'a> {
        let mut flow = v
            .verify_access_token(t, &RequestContext::default())
            .unwrap();
        loop {
            match flow.poll(caches, now) {
                Ok(Action::NeedHttp(req)) if req.url == JWKS => return flow,
                Ok(Action::NeedHttp(req)) => {
                    assert_eq!(req.url, DISCOVERY);
                    flow.handle_response(caches, Ok(HttpResponse::json(discovery_body())), now);
                }
                other => panic!("expected a request, got {other:?}"),
            }
        }
    }
    // Fresh caches, a JWK Set fetch begun at `t0`, and the one that took it over `later`.
    let race = || {
        let mut caches = v.new_caches();
        let slow = to_jwks(&v, &mut caches, &k1, t0);
        let takeover = to_jwks(&v, &mut caches, &k1, later);
        (caches, slow, takeover)
    };
    let start = |caches: &mut Caches, t| {
        let mut flow = v
            .verify_access_token(t, &RequestContext::default())
            .unwrap();
        let action = flow.poll(caches, later);
        (flow, action)
    };
    let done = |flow: &mut Flow<'_>, caches: &mut Caches| {
        matches!(flow.poll(caches, later), Ok(Action::Done(_)))
    };
    let waits = |action| matches!(action, Ok(Action::Wait(FetchKey::Jwks(_))));

    // The late answer comes while the newer fetch is in flight: the mark stays.
    let (mut caches, mut slow, mut takeover) = race();
    slow.handle_response(&mut caches, old_set(), later);
    assert!(done(&mut slow, &mut caches));
    let (mut waiter, action) = start(&mut caches, &k2);
    assert!(waits(action));
    takeover.handle_response(&mut caches, new_set(), later);
    assert!(done(&mut takeover, &mut caches));
    assert!(done(&mut waiter, &mut caches));

    // The late answer comes after the newer one was stored: the newer set stays.
    let (mut caches, mut slow, mut takeover) = race();
    takeover.handle_response(&mut caches, new_set(), later);
    assert!(done(&mut takeover, &mut caches));
    slow.handle_response(&mut caches, old_set(), later);
    assert!(done(&mut slow, &mut caches));
    let (_, action) = start(&mut caches, &k2);
    assert!(
        matches!(action, Ok(Action::Done(_))),
        "k2 is served from the newer set, with no request"
    );

    // A late failure is the slow flow's own: no failure is recorded, the mark stays.
    let (mut caches, mut slow, mut takeover) = race();
    let error = Ok(HttpResponse::new(500, "application/json", b"{}".to_vec()));
    slow.handle_response(&mut caches, error, later);
    assert!(slow.poll(&mut caches, later).is_err());
    assert!(!caches.jwks(JWKS).unwrap().last_failed());
    let (mut waiter, action) = start(&mut caches, &k1);
    assert!(waits(action));
    takeover.handle_response(&mut caches, new_set(), later);
    assert!(done(&mut takeover, &mut caches));
    assert!(done(&mut waiter, &mut caches));
}

/// A JWK Set that is fetched but unusable is the same typed cause for every flow.
#[test]
fn a_malformed_jwks_is_invalid_jwks() {
    let v = verifier(CachePolicy::default());
    let mut caches = v.new_caches();
    let mut server = Server::new();
    server.jwks = br#"{"keys":["not a key"]}"#.to_vec();
    assert_eq!(
        run(&v, &mut caches, &mut server, &token("k1"), NOW),
        Err(Reason::InvalidJwks(crate::jose::JoseError::InvalidKeySet))
    );
}

/// RFC 7518 section 3.4 through the flow: an ES256 signature is exactly 64 octets, so a
/// valid signature with a leading or trailing zero octet, or one octet short, is refused.
#[test]
fn ecdsa_signature_length_is_exact_through_the_flow() {
    let v = verifier(CachePolicy::default());
    let good = token("k1");
    let (input, sig) = good.rsplit_once('.').unwrap();
    let raw = B64.decode(sig).unwrap();
    assert_eq!(raw.len(), 64);
    let mut caches = v.new_caches();
    assert!(run(&v, &mut caches, &mut Server::new(), &good, NOW).is_ok());
    let variants: [Vec<u8>; 3] = [
        [&[0u8][..], &raw].concat(),
        [&raw[..], &[0u8][..]].concat(),
        raw[..63].to_vec(),
    ];
    for bad in variants {
        let t = format!("{input}.{}", B64.encode(&bad));
        let got = run(&v, &mut caches, &mut Server::new(), &t, NOW);
        assert_eq!(got, Err(Reason::InvalidSignature), "{} octets", bad.len());
    }
}

/// The RSA minimum size through the flow: a 1024-bit key in the tenant's set is not a key at
/// all (skipped when the set is read), so a token naming it finds no key, before any
/// signature arithmetic.
#[test]
fn a_small_rsa_key_in_the_set_is_never_used() {
    let v = VerifierConfig::new()
        .domain("tenant.example")
        .audience("api://orders")
        .algorithms(["RS256"])
        .build()
        .unwrap();
    // An odd 1024-bit modulus (top bit set); no private key is needed to show it is refused.
    let mut n = vec![0xffu8; 128];
    n[127] = 0xfb;
    let small = json!({"kty": "RSA", "kid": "small", "n": B64.encode(&n), "e": "AQAB"});
    let mut server = Server::new();
    server.jwks = serde_json::to_vec(&json!({ "keys": [small] })).unwrap();
    let t = sign(1, json!({"alg": "RS256", "kid": "small"}), &claims());
    let mut caches = v.new_caches();
    assert_eq!(
        run(&v, &mut caches, &mut server, &t, NOW),
        Err(Reason::UnknownKid)
    );
    let keys = caches.jwks(JWKS).unwrap();
    let policy = *caches.policy();
    let now = UnixTime::from_secs(NOW);
    let set = keys.fresh(&policy, now).unwrap();
    assert_eq!((set.keys().len(), set.skipped()), (0, 1));
}

/// Several audiences: a token passes when its `aud` (string or array) contains any of them;
/// one configured audience behaves as before.
#[test]
fn several_audiences() {
    use crate::claims::ClaimError;
    let v = VerifierConfig::new()
        .domain("tenant.example")
        .audiences(["api://billing", "api://orders", "api://billing"])
        .algorithms(["ES256"])
        .build()
        .unwrap();
    assert_eq!(v.audiences(), ["api://billing", "api://orders"]);
    assert_eq!(v.audience(), "api://billing");
    let cases = [
        (json!("api://orders"), true),
        (json!("api://billing"), true),
        (json!(["x", "api://billing"]), true),
        (json!(["x", "y"]), false),
        (json!("api://shipping"), false),
        (json!([]), false),
    ];
    for (aud, accepted) in cases {
        let mut c = claims();
        c["aud"] = aud.clone();
        let t = sign(1, json!({"alg": "ES256", "kid": "k1"}), &c);
        let mut caches = v.new_caches();
        let got = run(&v, &mut caches, &mut Server::new(), &t, NOW);
        if accepted {
            assert!(got.is_ok(), "{aud}: {got:?}");
        } else {
            assert_eq!(
                got,
                Err(Reason::Claims(ClaimError::AudienceMismatch)),
                "{aud}"
            );
        }
    }
    let config = || VerifierConfig::new().domain("tenant.example");
    assert!(matches!(
        config().audiences(Vec::<String>::new()).build(),
        Err(crate::config::ConfigError::Missing("audience"))
    ));
    assert!(matches!(
        config().audiences(["api://a", " "]).build(),
        Err(crate::config::ConfigError::Invalid {
            option: "audience",
            ..
        })
    ));
    assert!(matches!(
        config().build(),
        Err(crate::config::ConfigError::Missing("audience"))
    ));
}

/// RFC 9864: `EdDSA` and `Ed25519` name one primitive; an allow-list naming either admits a
/// token carrying either (checked before any request), and the configured list is kept as
/// given.
#[cfg(feature = "eddsa")]
#[test]
fn ed25519_and_eddsa_admit_each_other() {
    let ctx = RequestContext::default();
    for (allowed, alg, admitted) in [
        ("EdDSA", "Ed25519", true),
        ("Ed25519", "EdDSA", true),
        ("Ed25519", "Ed25519", true),
        ("ES256", "Ed25519", false),
        ("Ed25519", "ES256", false),
    ] {
        let v = VerifierConfig::new()
            .domain("tenant.example")
            .audience("api://orders")
            .algorithms([allowed])
            .build()
            .unwrap();
        assert_eq!(v.algorithms().len(), 1, "{allowed}");
        let t = sign(1, json!({"alg": alg, "kid": "k1"}), &claims());
        let got = v.verify_access_token(&t, &ctx).map(|_| ());
        if admitted {
            assert!(got.is_ok(), "{allowed} / {alg}: {got:?}");
        } else {
            assert_eq!(
                got.unwrap_err().reason(),
                &Reason::AlgorithmNotAllowed,
                "{allowed} / {alg}"
            );
        }
    }
}

/// A policy refusal is 403 `insufficient_scope` on the challenge of the scheme the request
/// used, with `scope` only for scope rules, in every DPoP mode.
#[test]
fn policy_refusal_challenges() {
    use crate::authorize::Policy;
    use crate::extract::AuthScheme;
    let claims = crate::Claims::from_payload(br#"{"scope":"a","permissions":["p"]}"#, 16).unwrap();
    let build = |mode| {
        crate::config::VerifierConfig::new()
            .domain("tenant.example")
            .audience("api")
            .dpop(crate::config::DpopOptions {
                mode,
                ..Default::default()
            })
            .resource_metadata_url("https://api.example/.well-known/oauth-protected-resource")
            .build()
            .unwrap()
    };
    let rm = r#"resource_metadata="https://api.example/.well-known/oauth-protected-resource""#;
    let scope_policy = Policy::new().all_scopes(["a", "b\"c"]);
    let v = build(DpopMode::Allowed);
    let e = v
        .authorize(&claims, &scope_policy, AuthScheme::Bearer)
        .unwrap_err();
    assert_eq!(
        e.www_authenticate(),
        [
            format!(
                r#"Bearer realm="api", error="insufficient_scope", error_description="insufficient scope", scope="a b\"c", {rm}"#
            ),
            format!(r#"DPoP algs="ES256", {rm}"#),
        ]
    );
    let e = v
        .authorize(&claims, &scope_policy, AuthScheme::DPoP)
        .unwrap_err();
    assert_eq!(
        e.www_authenticate(),
        [
            format!(r#"Bearer realm="api", {rm}"#),
            format!(
                r#"DPoP error="insufficient_scope", error_description="insufficient scope", scope="a b\"c", algs="ES256", {rm}"#
            ),
        ]
    );
    let e = build(DpopMode::Required)
        .authorize(
            &claims,
            &Policy::new().all_permissions(["q"]),
            AuthScheme::DPoP,
        )
        .unwrap_err();
    assert_eq!(
        e.www_authenticate(),
        [format!(
            r#"DPoP error="insufficient_scope", error_description="insufficient permissions", algs="ES256", {rm}"#
        )]
    );
    assert_eq!((e.status(), e.code()), (403, "insufficient_scope"));
    assert!(
        v.authorize(
            &claims,
            &Policy::new().all_scopes(["a"]),
            AuthScheme::Bearer
        )
        .is_ok()
    );
}
