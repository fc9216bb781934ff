//! Attacks on the verifier's configuration, on the key sets and documents it fetches, and on
//! the strings it reports (SECURITY.md section 15: T-02, T-08, T-31, T-36, T-42, T-48 to T-50,
//! T-52, T-55, T-56, T-79), run through the public sans-IO flow.
//!
//! Each flow is driven by hand, as a driver would: [`Verifier::verify_access_token`], then
//! [`VerifyAccessToken::poll`] and [`VerifyAccessToken::handle_response`] with a chosen `now`,
//! answered by an in-memory network that records every URL requested. Nothing sleeps and no
//! wall clock is read; request counts are asserted exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use auth0_api::jose::{JoseError, Segment};
use auth0_api::{
    Action, Algorithm, CachePolicy, Caches, ClaimError, ConfigError, DocumentError, DomainResolver,
    HttpOutcome, HttpResponse, KeySetLimits, Reason, RequestContext, ResolverError, ResolverInput,
    TransportError, TransportErrorKind, UnixTime, Verifier, VerifierConfig, VerifyAccessToken,
    VerifyError,
};
use auth0_api_e2e::load;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use signature::Signer as _;

const NOW: u64 = 1_900_000_000;
const AUDIENCE: &str = "api://orders";
/// [`auth0_api::CachePolicy::default`]'s TTL, in seconds.
const TTL: u64 = 600;

// ---------------------------------------------------------------------------------------------
// Helpers: keys, tokens, tenants, the drive loop
// ---------------------------------------------------------------------------------------------

fn b64(bytes: impl AsRef<[u8]>) -> String {
    B64.encode(bytes)
}

/// A P-256 key derived from a label (fixed, so failures reproduce).
fn key(label: &str) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&Sha256::digest(label.as_bytes())).unwrap()
}

/// The public JWK of the key named `label`, published under `kid`.
fn jwk(label: &str, kid: &str) -> Value {
    let point = key(label).verifying_key().to_sec1_point(false);
    let sec1 = point.as_bytes();
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
           "x": b64(&sec1[1..33]), "y": b64(&sec1[33..65])})
}

/// A JWK Set body of `(key label, kid)` pairs.
fn jwks(keys: &[(&str, &str)]) -> Vec<u8> {
    let keys: Vec<Value> = keys.iter().map(|(label, kid)| jwk(label, kid)).collect();
    serde_json::to_vec(&json!({ "keys": keys })).unwrap()
}

fn issuer(host: &str) -> String {
    format!("https://{host}/")
}

fn discovery_url(host: &str) -> String {
    format!("https://{host}/.well-known/openid-configuration")
}

fn jwks_url(host: &str) -> String {
    format!("https://{host}/.well-known/jwks.json")
}

/// An ES256 access token for `iss`, signed by the key named `label`, with `kid` if given.
fn token(label: &str, kid: Option<&str>, iss: &str) -> String {
    let mut header = json!({"alg": "ES256", "typ": "at+jwt"});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    let claims = json!({"iss": iss, "sub": "alice", "aud": AUDIENCE,
                        "iat": NOW - 10, "exp": NOW + 10 * TTL});
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let sig: p256::ecdsa::Signature = key(label).sign(input.as_bytes());
    format!("{input}.{}", b64(sig.to_bytes()))
}

/// Canned responses by URL; every request is logged. An unknown URL is a transport failure.
#[derive(Default)]
struct Net {
    routes: BTreeMap<String, HttpResponse>,
    log: Vec<String>,
}

impl Net {
    /// Serves tenant `host`: its discovery document names `jwks_uri`.
    fn tenant(&mut self, host: &str, jwks_uri: &str) {
        let doc = json!({"issuer": issuer(host), "jwks_uri": jwks_uri});
        self.routes.insert(
            discovery_url(host),
            HttpResponse::json(serde_json::to_vec(&doc).unwrap()),
        );
    }

    fn serve(&mut self, url: &str, response: HttpResponse) {
        self.routes.insert(url.to_owned(), response);
    }

    fn answer(&mut self, url: &str) -> HttpOutcome {
        self.log.push(url.to_owned());
        self.routes
            .get(url)
            .cloned()
            .ok_or_else(|| TransportError::new(TransportErrorKind::Unavailable))
    }

    fn count(&self, url: &str) -> usize {
        self.log.iter().filter(|u| *u == url).count()
    }
}

fn drive(
    flow: &mut VerifyAccessToken<'_>,
    caches: &mut Caches,
    net: &mut Net,
    now: u64,
) -> Result<Value, Reason> {
    drive_full(flow, caches, net, now).map_err(|e| e.reason().clone())
}

/// [`drive`], keeping the whole [`VerifyError`] (its Display and challenges).
fn drive_full(
    flow: &mut VerifyAccessToken<'_>,
    caches: &mut Caches,
    net: &mut Net,
    now: u64,
) -> Result<Value, VerifyError> {
    let now = UnixTime::from_secs(now);
    for _ in 0..10 {
        match flow.poll(caches, now)? {
            Action::NeedHttp(request) => {
                let outcome = net.answer(&request.url);
                flow.handle_response(caches, outcome, now);
            }
            Action::Wait(key) => panic!("unexpected wait for {key:?}"),
            Action::CheckReplay(check) => panic!("unexpected replay check {check:?}"),
            Action::Done(claims) => return Ok(Value::Object(claims.into_map())),
        }
    }
    panic!("flow did not finish in 10 polls")
}

/// [`verify`], keeping the whole [`VerifyError`].
fn verify_full(
    verifier: &Verifier,
    caches: &mut Caches,
    net: &mut Net,
    token: &str,
    now: u64,
) -> Result<Value, VerifyError> {
    let mut flow = verifier.verify_access_token(token, &RequestContext::default())?;
    drive_full(&mut flow, caches, net, now)
}

/// Verifies `token` at `now` to its end, answering from `net`.
fn verify(
    verifier: &Verifier,
    caches: &mut Caches,
    net: &mut Net,
    token: &str,
    now: u64,
) -> Result<Value, Reason> {
    let mut flow = verifier
        .verify_access_token(token, &RequestContext::default())
        .map_err(|e| e.reason().clone())?;
    drive(&mut flow, caches, net, now)
}

fn single_tenant(host: &str) -> Verifier {
    VerifierConfig::new()
        .domain(host)
        .audience(AUDIENCE)
        .algorithms(["ES256"])
        .build()
        .unwrap()
}

fn two_tenants(a: &str, b: &str) -> Verifier {
    VerifierConfig::new()
        .domains([a, b])
        .audience(AUDIENCE)
        .algorithms(["ES256"])
        .build()
        .unwrap()
}

/// Whether `caches` hold a key set for `uri` usable at `now`.
fn has_fresh_set(caches: &Caches, uri: &str, now: u64) -> bool {
    caches
        .jwks(uri)
        .and_then(|e| e.fresh(caches.policy(), UnixTime::from_secs(now)))
        .is_some()
}

// ---------------------------------------------------------------------------------------------
// H-01: the algorithm list is checked when the verifier is built
// ---------------------------------------------------------------------------------------------

fn build_with(algorithms: &[&str]) -> Result<Verifier, ConfigError> {
    VerifierConfig::new()
        .domain("tenant.example")
        .audience(AUDIENCE)
        .algorithms(algorithms.iter().copied())
        .build()
}

fn invalid_algorithms(reason: &'static str) -> ConfigError {
    ConfigError::Invalid {
        option: "algorithms",
        reason,
    }
}

// T-02
#[test]
fn t02_none_unknown_and_empty_algorithm_lists_fail_at_build() {
    let cases: &[(&[&str], &str)] = &[
        (&["none"], "none is not allowed"),
        (&["NONE"], "none is not allowed"),
        (&["RS256", "none"], "none is not allowed"),
        (&["RS1"], "unsupported algorithm"),
        (&["ES256K"], "unsupported algorithm"),
        // Names are registered names, compared exactly: no case folding.
        (&["rs256"], "unsupported algorithm"),
        (&["ES256", "rs256"], "unsupported algorithm"),
        (&["HS256"], "symmetric algorithms are not allowed"),
        (&[], "empty list"),
    ];
    for (names, reason) in cases {
        let err = build_with(names).unwrap_err();
        assert_eq!(err, invalid_algorithms(reason), "{names:?}");
        assert_eq!(err.code(), "invalid_configuration_error", "{names:?}");
    }
    // The registered names build, in order and without duplicates.
    let v = build_with(&["ES256", "RS256", "ES256"]).unwrap();
    assert_eq!(v.algorithms(), [Algorithm::ES256, Algorithm::RS256]);
}

// T-02: a name is an exact JWA name or refused: never trimmed or case-folded into another,
// so what the configuration says is what is enforced.
#[test]
fn t02_algorithm_names_are_taken_exactly_as_given() {
    for name in ["RS256 ", " RS256", "\tRS256\n", "RS 256", "Rs256"] {
        assert_eq!(
            build_with(&[name]).unwrap_err(),
            invalid_algorithms("unsupported algorithm"),
            "{name:?}"
        );
    }
}

// T-02, per-call override: the override is a typed `&[Algorithm]`, so `none` and unknown names
// cannot be expressed; an empty override admits nothing, refused before any request.
#[test]
fn t02_an_empty_per_call_algorithm_override_refuses_every_token() {
    let v = single_tenant("tenant.example");
    let t = token("tenant", Some("k1"), &issuer("tenant.example"));
    let refuse = |algorithms: &[Algorithm]| {
        let ctx = RequestContext {
            algorithms: Some(algorithms),
            ..RequestContext::default()
        };
        v.verify_access_token(&t, &ctx)
            .map(|_| ())
            .map_err(|e| e.reason().clone())
    };
    assert_eq!(refuse(&[]), Err(Reason::AlgorithmNotAllowed));
    assert_eq!(
        refuse(&[Algorithm::ES384]),
        Err(Reason::AlgorithmNotAllowed)
    );
    assert_eq!(refuse(&[Algorithm::ES256]), Ok(()));
}

// ---------------------------------------------------------------------------------------------
// H-22: several issuers, one or several key sets
// ---------------------------------------------------------------------------------------------

// T-49: issuers with their own jwks_uri. A's keys, cached and fresh, are never used for a
// token that says it is B's: B's own set is fetched and decides.
#[test]
fn t49_a_key_of_issuer_a_never_verifies_a_token_of_issuer_b() {
    let (a, b) = ("a.example", "b.example");
    let mut net = Net::default();
    net.tenant(a, &jwks_url(a));
    net.tenant(b, &jwks_url(b));
    net.serve(&jwks_url(a), HttpResponse::json(jwks(&[("a", "a1")])));
    net.serve(&jwks_url(b), HttpResponse::json(jwks(&[("b", "b1")])));
    let v = two_tenants(a, b);
    let mut caches = v.new_caches();

    let claims = verify(
        &v,
        &mut caches,
        &mut net,
        &token("a", Some("a1"), &issuer(a)),
        NOW,
    );
    assert_eq!(claims.unwrap()["iss"], issuer(a));
    assert_eq!(net.log, [discovery_url(a), jwks_url(a)]);

    // Signed by A's key, named by A's kid, claiming B: B's set has no such key.
    let forged = token("a", Some("a1"), &issuer(b));
    assert_eq!(
        verify(&v, &mut caches, &mut net, &forged, NOW + 1),
        Err(Reason::UnknownKid)
    );
    assert_eq!(
        net.log,
        [discovery_url(a), jwks_url(a), discovery_url(b), jwks_url(b)]
    );
    // Without a kid, B's only key is the candidate, and A's signature does not verify with it.
    let forged = token("a", None, &issuer(b));
    assert_eq!(
        verify(&v, &mut caches, &mut net, &forged, NOW + 2),
        Err(Reason::InvalidSignature)
    );
    // B's own token verifies from the cache; A's set was never requested again.
    let genuine = token("b", Some("b1"), &issuer(b));
    assert_eq!(
        verify(&v, &mut caches, &mut net, &genuine, NOW + 3).unwrap()["iss"],
        issuer(b)
    );
    assert_eq!(net.log.len(), 4);
    assert_eq!(net.count(&jwks_url(a)), 1);
}

// T-49: the same kid in both sets, different key material. B's key of that name is used for
// B's tokens, never A's.
#[test]
fn t49_a_kid_shared_by_two_issuers_selects_each_issuers_own_key() {
    let (a, b) = ("a.example", "b.example");
    let mut net = Net::default();
    net.tenant(a, &jwks_url(a));
    net.tenant(b, &jwks_url(b));
    net.serve(&jwks_url(a), HttpResponse::json(jwks(&[("a", "k1")])));
    net.serve(&jwks_url(b), HttpResponse::json(jwks(&[("b", "k1")])));
    let v = two_tenants(a, b);
    let mut caches = v.new_caches();

    verify(
        &v,
        &mut caches,
        &mut net,
        &token("a", Some("k1"), &issuer(a)),
        NOW,
    )
    .unwrap();
    verify(
        &v,
        &mut caches,
        &mut net,
        &token("b", Some("k1"), &issuer(b)),
        NOW,
    )
    .unwrap();
    assert_eq!(net.log.len(), 4);
    for (signer, iss) in [("a", b), ("b", a)] {
        assert_eq!(
            verify(
                &v,
                &mut caches,
                &mut net,
                &token(signer, Some("k1"), &issuer(iss)),
                NOW + 1
            ),
            Err(Reason::InvalidSignature),
            "signed by {signer}, iss {iss}"
        );
    }
    assert_eq!(net.log.len(), 4, "both sets were fresh: no request");
}

// T-49: two issuers whose discovery names one jwks_uri share one fetched set, and each token
// is still held to its own iss: an issuer outside the list is refused before any request,
// even when the shared set holds the key that signed it.
#[test]
fn t49_issuers_sharing_a_jwks_uri_fetch_it_once_and_keep_their_issuer_check() {
    let (a, b) = ("a.example", "b.example");
    let shared = "https://keys.example/jwks.json";
    let mut net = Net::default();
    net.tenant(a, shared);
    net.tenant(b, shared);
    net.serve(shared, HttpResponse::json(jwks(&[("shared", "k1")])));
    let v = two_tenants(a, b);
    let mut caches = v.new_caches();

    let claims = verify(
        &v,
        &mut caches,
        &mut net,
        &token("shared", Some("k1"), &issuer(a)),
        NOW,
    );
    assert_eq!(claims.unwrap()["iss"], issuer(a));
    let claims = verify(
        &v,
        &mut caches,
        &mut net,
        &token("shared", Some("k1"), &issuer(b)),
        NOW,
    );
    assert_eq!(claims.unwrap()["iss"], issuer(b));
    assert_eq!(
        net.log,
        [discovery_url(a), shared.to_owned(), discovery_url(b)]
    );

    for iss in [
        issuer("c.example"),
        "https://a.example".to_owned(),
        "https://A.example/".to_owned(),
        "https://keys.example/".to_owned(),
    ] {
        let t = token("shared", Some("k1"), &iss);
        assert_eq!(
            v.verify_access_token(&t, &RequestContext::default())
                .map(|_| ())
                .map_err(|e| e.reason().clone()),
            Err(Reason::IssuerNotAllowed),
            "{iss}"
        );
    }
    assert_eq!(net.log.len(), 3, "no request for a refused issuer");
}

// ---------------------------------------------------------------------------------------------
// H-23: JWKS responses that are not a usable key set
// ---------------------------------------------------------------------------------------------

/// Serves one tenant whose JWKS answer is `response`, verifies one of its tokens at `NOW`, and
/// checks that the failure came from that one response and left no key set behind.
fn jwks_answered_with(response: HttpResponse, limits: Option<KeySetLimits>) -> Reason {
    let host = "tenant.example";
    let mut net = Net::default();
    net.tenant(host, &jwks_url(host));
    net.serve(&jwks_url(host), response);
    let mut config = VerifierConfig::new()
        .domain(host)
        .audience(AUDIENCE)
        .algorithms(["ES256"]);
    if let Some(limits) = limits {
        config = config.key_set_limits(limits);
    }
    let v = config.build().unwrap();
    let mut caches = v.new_caches();
    let reason = verify(
        &v,
        &mut caches,
        &mut net,
        &token("tenant", Some("k1"), &issuer(host)),
        NOW,
    )
    .unwrap_err();
    assert_eq!(net.log, [discovery_url(host), jwks_url(host)], "{reason:?}");
    assert!(!has_fresh_set(&caches, &jwks_url(host), NOW), "{reason:?}");
    assert!(
        caches.jwks(&jwks_url(host)).unwrap().last_failed(),
        "{reason:?}: the failure is recorded"
    );
    reason
}

fn with_status(status: u16, content_type: Option<&str>, body: &[u8]) -> HttpResponse {
    let mut response = HttpResponse::new(status, "application/json", body);
    response.headers.clear();
    if let Some(content_type) = content_type {
        response
            .headers
            .push(("content-type".to_owned(), content_type.to_owned()));
    }
    response
}

// T-50
#[test]
fn t50_jwks_responses_that_are_not_a_key_set_fail_with_their_typed_cause() {
    let valid = jwks(&[("tenant", "k1")]);
    let json = Some("application/json");
    let fetch_failed = |e| Reason::JwksFetchFailed(Some(e));
    let cases: Vec<(&str, HttpResponse, Reason)> = vec![
        // Only 200 answers a JWKS request: any other status is the failed request.
        (
            "204 without content type",
            with_status(204, None, b""),
            fetch_failed(DocumentError::Status(204)),
        ),
        (
            "204 as json",
            with_status(204, json, b""),
            fetch_failed(DocumentError::Status(204)),
        ),
        (
            "203 with a valid set",
            with_status(203, json, &valid),
            fetch_failed(DocumentError::Status(203)),
        ),
        (
            "301 with a valid set",
            {
                let mut r = with_status(301, json, &valid);
                r.headers
                    .push(("location".to_owned(), "https://tenant.example/k".to_owned()));
                r
            },
            fetch_failed(DocumentError::Status(301)),
        ),
        (
            "404 with a valid set",
            with_status(404, json, &valid),
            fetch_failed(DocumentError::Status(404)),
        ),
        (
            "text/html with a valid set",
            with_status(200, Some("text/html; charset=utf-8"), &valid),
            fetch_failed(DocumentError::ContentType),
        ),
        (
            "empty body",
            with_status(200, json, b""),
            Reason::InvalidJwks(JoseError::InvalidKeySet),
        ),
        (
            "json array",
            with_status(
                200,
                json,
                &serde_json::to_vec(&json!([jwk("tenant", "k1")])).unwrap(),
            ),
            Reason::InvalidJwks(JoseError::InvalidKeySet),
        ),
        (
            "keys is an object",
            with_status(200, json, br#"{"keys":{}}"#),
            Reason::InvalidJwks(JoseError::InvalidKeySet),
        ),
    ];
    for (name, response, expected) in cases {
        assert_eq!(jwks_answered_with(response, None), expected, "{name}");
    }
}

// T-50: the key count is capped before any key is imported (default 100, configurable).
#[test]
fn t50_a_jwks_with_more_keys_than_max_keys_is_refused() {
    let set_of = |n: usize| {
        let labels: Vec<String> = (0..n).map(|i| format!("filler-{i}")).collect();
        let mut keys: Vec<(&str, &str)> = vec![("tenant", "k1")];
        keys.extend(labels.iter().map(|l| (l.as_str(), l.as_str())));
        HttpResponse::json(jwks(&keys))
    };
    // The default limit: 101 keys.
    assert_eq!(
        jwks_answered_with(set_of(100), None),
        Reason::InvalidJwks(JoseError::TooManyKeys)
    );
    let three = KeySetLimits {
        max_keys: 3,
        ..KeySetLimits::default()
    };
    assert_eq!(
        jwks_answered_with(set_of(3), Some(three.clone())),
        Reason::InvalidJwks(JoseError::TooManyKeys)
    );
    // At the limit the set is stored and the token verifies.
    let host = "tenant.example";
    let mut net = Net::default();
    net.tenant(host, &jwks_url(host));
    net.serve(&jwks_url(host), set_of(2));
    let v = VerifierConfig::new()
        .domain(host)
        .audience(AUDIENCE)
        .algorithms(["ES256"])
        .key_set_limits(three)
        .build()
        .unwrap();
    let mut caches = v.new_caches();
    let t = token("tenant", Some("k1"), &issuer(host));
    verify(&v, &mut caches, &mut net, &t, NOW).unwrap();
    assert!(has_fresh_set(&caches, &jwks_url(host), NOW));
}

// ---------------------------------------------------------------------------------------------
// H-24: key rotation
// ---------------------------------------------------------------------------------------------

// T-56: a key the tenant publishes after the set was cached verifies after exactly one JWKS
// refetch (no discovery request), once the refetch cooldown allows it.
#[test]
fn t56_a_newly_published_kid_verifies_after_one_refetch() {
    let host = "tenant.example";
    let mut net = Net::default();
    net.tenant(host, &jwks_url(host));
    net.serve(&jwks_url(host), HttpResponse::json(jwks(&[("old", "old")])));
    let v = single_tenant(host);
    let mut caches = v.new_caches();
    let old = token("old", Some("old"), &issuer(host));
    verify(&v, &mut caches, &mut net, &old, NOW).unwrap();
    assert_eq!(net.log, [discovery_url(host), jwks_url(host)]);

    net.serve(
        &jwks_url(host),
        HttpResponse::json(jwks(&[("old", "old"), ("new", "new")])),
    );
    let new = token("new", Some("new"), &issuer(host));
    verify(&v, &mut caches, &mut net, &new, NOW + 100).unwrap();
    assert_eq!(
        net.log,
        [discovery_url(host), jwks_url(host), jwks_url(host)]
    );
    // Both keys are now cached: no further request for either.
    verify(&v, &mut caches, &mut net, &new, NOW + 101).unwrap();
    verify(&v, &mut caches, &mut net, &old, NOW + 101).unwrap();
    assert_eq!(net.log.len(), 3);
}

// T-56: a key the tenant removed keeps verifying from the fresh cached set (no request), and
// is refused once the TTL has passed and the set was fetched again.
#[test]
fn t56_a_removed_key_is_refused_once_the_ttl_has_passed() {
    let host = "tenant.example";
    let mut net = Net::default();
    net.tenant(host, &jwks_url(host));
    net.serve(
        &jwks_url(host),
        HttpResponse::json(jwks(&[("old", "old"), ("new", "new")])),
    );
    let v = single_tenant(host);
    let mut caches = v.new_caches();
    let old = token("old", Some("old"), &issuer(host));
    verify(&v, &mut caches, &mut net, &old, NOW).unwrap();

    // The tenant rotates the old key out.
    net.serve(&jwks_url(host), HttpResponse::json(jwks(&[("new", "new")])));
    for at in [NOW + 1, NOW + TTL / 2, NOW + TTL - 1] {
        verify(&v, &mut caches, &mut net, &old, at).unwrap();
    }
    assert_eq!(net.log.len(), 2, "the fresh cached set answered");

    // At the TTL both documents are fetched again; the refetched set has no old key.
    assert_eq!(
        verify(&v, &mut caches, &mut net, &old, NOW + TTL),
        Err(Reason::UnknownKid)
    );
    let expected = [
        discovery_url(host),
        jwks_url(host),
        discovery_url(host),
        jwks_url(host),
    ];
    assert_eq!(net.log, expected);
    // Still refused later, and the kept key still verifies.
    assert_eq!(
        verify(&v, &mut caches, &mut net, &old, NOW + TTL + 1),
        Err(Reason::UnknownKid)
    );
    let new = token("new", Some("new"), &issuer(host));
    verify(&v, &mut caches, &mut net, &new, NOW + TTL + 1).unwrap();
    assert_eq!(
        net.log, expected,
        "within the cooldown: no refetch for the old kid"
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers for the attacks below: arbitrary headers and claims, full errors, challenges
// ---------------------------------------------------------------------------------------------

/// The claims of a valid access token for `iss`.
fn claims_for(iss: &str) -> Value {
    json!({"iss": iss, "sub": "alice", "aud": AUDIENCE, "iat": NOW - 10, "exp": NOW + 10 * TTL})
}

/// A token over `header` and `claims`, ES256-signed by the key named `label`.
fn signed(label: &str, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let sig: p256::ecdsa::Signature = key(label).sign(input.as_bytes());
    format!("{input}.{}", b64(sig.to_bytes()))
}

/// A network serving tenant `host` with the key named `tenant` as `k1`.
fn tenant_net(host: &str) -> Net {
    let mut net = Net::default();
    net.tenant(host, &jwks_url(host));
    net.serve(
        &jwks_url(host),
        HttpResponse::json(jwks(&[("tenant", "k1")])),
    );
    net
}

/// The challenges of an `invalid_token` error described by `description`, DPoP allowed.
fn invalid_token_challenges(description: &str) -> [String; 2] {
    [
        format!(r#"Bearer realm="api", error="invalid_token", error_description="{description}""#),
        r#"DPoP algs="ES256""#.to_owned(),
    ]
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Parses one `WWW-Authenticate` value (RFC 9110 section 11.6.1): a scheme, then
/// comma-separated auth-params whose values are tokens or quoted-strings (quoted-pairs
/// unescaped). A raw `"` inside a quoted-string ends it early, so what follows fails to parse.
fn parse_challenge(value: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut chars = value.chars().peekable();
    let take_token = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        let mut token = String::new();
        while let Some(&c) = chars.peek().filter(|c| is_tchar(**c)) {
            token.push(c);
            chars.next();
        }
        token
    };
    let scheme = take_token(&mut chars);
    if scheme.is_empty() {
        return Err("no scheme".into());
    }
    let mut params = Vec::new();
    match chars.next() {
        None => return Ok((scheme, params)),
        Some(' ') => {}
        Some(c) => return Err(format!("{c:?} after the scheme")),
    }
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let name = take_token(&mut chars);
        if name.is_empty() || chars.next() != Some('=') {
            return Err(format!("bad auth-param name {name:?}"));
        }
        let mut param = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("unterminated quoted-string".into()),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c) if c == '\t' || (' '..='~').contains(&c) => param.push(c),
                        other => return Err(format!("bad quoted-pair {other:?}")),
                    },
                    Some(c) if c == '\t' || (' '..='~').contains(&c) => param.push(c),
                    Some(c) => return Err(format!("{c:?} in a quoted-string")),
                }
            }
        } else {
            param = take_token(&mut chars);
            if param.is_empty() {
                return Err(format!("empty value for {name}"));
            }
        }
        params.push((name, param));
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        match chars.next() {
            None => return Ok((scheme, params)),
            Some(',') => {}
            Some(c) => return Err(format!("{c:?} after an auth-param")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// H-04: ECDSA malleability
// ---------------------------------------------------------------------------------------------

/// The order n of the P-256 group, big-endian.
/// `n - s` for a 32-byte big-endian nonzero scalar `s` of P-256.
fn p256_order_minus(s: &[u8]) -> Vec<u8> {
    let s = p256::NonZeroScalar::try_from(s).expect("a nonzero scalar below n");
    p256::FieldBytes::from(-s).to_vec()
}

// T-08: JWS has no low-S rule (Wycheproof P1363 tcId 1 is valid), so (r, n - s) verifies too,
// and to the same claims: nothing may key on the compact string.
#[test]
fn t08_a_high_s_twin_of_an_es256_token_verifies_to_the_same_claims() {
    let host = "tenant.example";
    let mut net = tenant_net(host);
    let v = VerifierConfig::new()
        .domain(host)
        .audience(AUDIENCE)
        .algorithms(["ES256"])
        .crypto_provider(&auth0_api::jose::verify::RUST_CRYPTO)
        .build()
        .unwrap();
    let mut caches = v.new_caches();
    let original = token("tenant", Some("k1"), &issuer(host));
    let (input, sig) = original.rsplit_once('.').unwrap();
    let sig = B64.decode(sig).unwrap();
    let (r, s) = sig.split_at(32);
    let twin_s = p256_order_minus(s);
    let twin = format!("{input}.{}", b64([r, twin_s.as_slice()].concat()));
    assert_ne!(twin, original);
    // Exactly one of s and n - s is above n / 2: one of the pair is the high-S form.
    let high_is_twin = twin_s.as_slice() > s;

    let claims = verify(&v, &mut caches, &mut net, &original, NOW).unwrap();
    let twin_claims = verify(&v, &mut caches, &mut net, &twin, NOW);
    assert_eq!(
        twin_claims.as_ref(),
        Ok(&claims),
        "high-S is the twin: {high_is_twin}"
    );
    assert_eq!(claims, claims_for(&issuer(host)));
    // Both again, in the other order: neither form displaces the other.
    assert_eq!(
        verify(&v, &mut caches, &mut net, &twin, NOW + 1),
        Ok(claims.clone())
    );
    assert_eq!(
        verify(&v, &mut caches, &mut net, &original, NOW + 1),
        Ok(claims)
    );
    assert_eq!(net.log, [discovery_url(host), jwks_url(host)]);
}

// ---------------------------------------------------------------------------------------------
// H-15: kid injection through the flow
// ---------------------------------------------------------------------------------------------

fn hostile_kids() -> Vec<String> {
    vec![
        "../../../../dev/null".into(),
        "/etc/passwd".into(),
        "' OR '1'='1".into(),
        "k1' UNION SELECT 'k' --".into(),
        "http://169.254.169.254/latest/meta-data/".into(),
        "https://tenant.example/.well-known/jwks.json".into(),
        "%00".into(),
        "k1\0".into(),
        "\0".into(),
        "k1\u{200b}".into(),
        "\u{200b}k1".into(),
        "k".repeat(10 * 1024),
    ]
}

// T-31: every hostile kid is one exact miss in the cached set. All of them together cost one
// refetch of the configured jwks_uri per cooldown (not one per value), no other URL is ever
// requested, and the error names no kid.
#[test]
fn t31_hostile_kids_cost_one_jwks_refetch_per_cooldown_in_total_and_are_never_echoed() {
    let host = "tenant.example";
    let mut net = tenant_net(host);
    let v = single_tenant(host);
    let mut caches = v.new_caches();
    let known = token("tenant", Some("k1"), &issuer(host));
    verify(&v, &mut caches, &mut net, &known, NOW).unwrap();

    let kids = hostile_kids();
    let check = |err: &VerifyError, kid: &str| {
        assert_eq!(err.reason(), &Reason::UnknownKid, "{kid:.40?}");
        assert_eq!(err.to_string(), "no matching key", "{kid:.40?}");
        assert_eq!(
            err.www_authenticate(),
            invalid_token_challenges("no matching key"),
            "{kid:.40?}"
        );
    };
    // The set's cooldown is over: the first unknown kid may refetch it, the others may not.
    let start = NOW + 100;
    for (i, kid) in kids.iter().enumerate() {
        let t = token("tenant", Some(kid), &issuer(host));
        let at = start + i as u64;
        check(
            &verify_full(&v, &mut caches, &mut net, &t, at).unwrap_err(),
            kid,
        );
    }
    assert_eq!(
        net.log,
        [discovery_url(host), jwks_url(host), jwks_url(host)]
    );
    // The known kid still verifies from the cache.
    verify(&v, &mut caches, &mut net, &known, start + 29).unwrap();
    assert_eq!(net.log.len(), 3);

    // The next cooldown: again one refetch for all of them.
    for (i, kid) in kids.iter().enumerate() {
        let t = token("tenant", Some(kid), &issuer(host));
        let at = start + 30 + i as u64;
        check(
            &verify_full(&v, &mut caches, &mut net, &t, at).unwrap_err(),
            kid,
        );
    }
    assert_eq!(
        net.log,
        [
            discovery_url(host),
            jwks_url(host),
            jwks_url(host),
            jwks_url(host)
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// H-19: another kind of JWT presented as an access token
// ---------------------------------------------------------------------------------------------

// T-36: an ID token of the tenant (aud = the client id, no scope, typ absent or JWT), signed
// by the tenant's key, is refused by the audience check.
#[test]
fn t36_an_id_token_presented_as_an_access_token_is_refused_by_its_audience() {
    let host = "tenant.example";
    let mut net = tenant_net(host);
    let v = single_tenant(host);
    let mut caches = v.new_caches();
    let client_id = "k3J8xTq0ClientIdOfTheSpa";
    let id_token_claims = |aud: Value| {
        json!({"iss": issuer(host), "sub": "auth0|alice", "aud": aud, "azp": client_id,
               "nonce": "n-0S6_WzA2Mj", "auth_time": NOW - 60, "iat": NOW - 10,
               "exp": NOW + 3600, "name": "Alice", "email": "alice@example.com"})
    };
    for typ in [None, Some("JWT")] {
        let mut header = json!({"alg": "ES256", "kid": "k1"});
        if let Some(typ) = typ {
            header["typ"] = json!(typ);
        }
        for aud in [json!(client_id), json!([client_id])] {
            let t = signed("tenant", &header, &id_token_claims(aud.clone()));
            let err = verify_full(&v, &mut caches, &mut net, &t, NOW).unwrap_err();
            assert_eq!(
                err.reason(),
                &Reason::Claims(ClaimError::AudienceMismatch),
                "typ {typ:?}, aud {aud}"
            );
            assert_eq!(
                err.www_authenticate(),
                invalid_token_challenges(r#"unexpected \"aud\" claim value"#)
            );
        }
    }
    // The same token with the API as its audience verifies: the audience alone refused it.
    let header = json!({"alg": "ES256", "kid": "k1", "typ": "JWT"});
    let t = signed("tenant", &header, &id_token_claims(json!(AUDIENCE)));
    verify(&v, &mut caches, &mut net, &t, NOW).unwrap();
    assert_eq!(net.log, [discovery_url(host), jwks_url(host)]);
}

// ---------------------------------------------------------------------------------------------
// H-21: discovery issuer
// ---------------------------------------------------------------------------------------------

// T-42: the discovery `issuer` must be exactly the expected string: `:443`, a path, another
// spelling or a non-string is refused with its cause, and no JWKS request follows.
#[test]
fn t42_a_discovery_issuer_not_exactly_the_expected_one_is_refused_before_any_jwks_request() {
    let host = "tenant.example";
    let mismatch = Reason::DiscoveryFailed(Some(DocumentError::IssuerMismatch));
    let not_a_string = Reason::DiscoveryFailed(Some(DocumentError::MissingMember("issuer")));
    let cases: Vec<(Option<Value>, &Reason)> = vec![
        (Some(json!("https://tenant.example:443/")), &mismatch),
        (Some(json!("https://tenant.example/x/")), &mismatch),
        (Some(json!("https://tenant.example")), &mismatch),
        (Some(json!("https://TENANT.example/")), &mismatch),
        (Some(json!("https://tenant.example/ ")), &mismatch),
        (Some(json!("https://other.example/")), &mismatch),
        (Some(json!(42)), &not_a_string),
        (Some(Value::Null), &not_a_string),
        (Some(json!(true)), &not_a_string),
        (Some(json!(["https://tenant.example/"])), &not_a_string),
        (
            Some(json!({"href": "https://tenant.example/"})),
            &not_a_string,
        ),
        (None, &not_a_string),
    ];
    let t = token("tenant", Some("k1"), &issuer(host));
    for (iss, expected) in cases {
        let mut net = tenant_net(host);
        let mut doc = json!({"jwks_uri": jwks_url(host)});
        if let Some(iss) = &iss {
            doc["issuer"] = iss.clone();
        }
        net.serve(
            &discovery_url(host),
            HttpResponse::json(serde_json::to_vec(&doc).unwrap()),
        );
        let v = single_tenant(host);
        let mut caches = v.new_caches();
        assert_eq!(
            verify(&v, &mut caches, &mut net, &t, NOW).as_ref(),
            Err(expected),
            "{iss:?}"
        );
        assert_eq!(net.log, [discovery_url(host)], "{iss:?}");
        // Within the cooldown the refusal costs no request at all.
        assert_eq!(
            verify(&v, &mut caches, &mut net, &t, NOW + 29),
            Err(Reason::DiscoveryFailed(None)),
            "{iss:?}"
        );
        assert_eq!(net.log.len(), 1, "{iss:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// H-22: a domain beside a resolver
// ---------------------------------------------------------------------------------------------

type Answer = fn(&str) -> Result<Vec<String>, ResolverError>;

/// A resolver that counts its calls and answers with `answer(unverified iss)`.
struct CountingResolver {
    calls: Arc<AtomicUsize>,
    answer: Answer,
}

impl DomainResolver for CountingResolver {
    fn resolve(&self, input: &ResolverInput<'_>) -> Result<Vec<String>, ResolverError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        (self.answer)(input.unverified_issuer)
    }
}

fn with_domain_and_resolver(host: &str, answer: Answer) -> (Verifier, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let v = VerifierConfig::new()
        .domain(host)
        .domain_resolver(CountingResolver {
            calls: Arc::clone(&calls),
            answer,
        })
        .audience(AUDIENCE)
        .algorithms(["ES256"])
        .build()
        .unwrap();
    (v, calls)
}

// T-48, pinned: a configuration with both a domain and a resolver builds (the domain is kept,
// for token exchange), verification uses the resolver alone, and a resolver failure is a
// rejection: never a fallback to the domain, even for a token of that domain. The resolver is
// called once per verification, and never for a token that failed the cheap checks.
#[test]
fn t48_a_resolver_failure_never_falls_back_to_the_configured_domain() {
    let host = "tenant.example";
    let mut net = tenant_net(host);
    let t = token("tenant", Some("k1"), &issuer(host));
    let fails: Answer = |_| {
        Err(ResolverError(Box::new(std::io::Error::other(
            "directory down",
        ))))
    };
    let nothing: Answer = |_| Ok(vec![]);
    let not_a_domain: Answer = |_| Ok(vec!["not a domain".into()]);
    let http: Answer = |_| Ok(vec!["http://tenant.example".into()]);
    let another: Answer = |_| Ok(vec!["other.example".into()]);
    let cases = [
        (fails, Reason::ResolverFailed),
        (nothing, Reason::ResolverFailed),
        (not_a_domain, Reason::ResolverFailed),
        (http, Reason::ResolverFailed),
        (another, Reason::IssuerNotAllowed),
    ];
    for (i, (answer, expected)) in cases.into_iter().enumerate() {
        let (v, calls) = with_domain_and_resolver(host, answer);
        assert_eq!(
            v.domain().map(|d| d.as_str()),
            Some("https://tenant.example/")
        );
        let err = v
            .verify_access_token(&t, &RequestContext::default())
            .unwrap_err();
        assert_eq!(err.reason(), &expected, "case {i}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "case {i}");
        if i == 0 {
            let source = std::error::Error::source(&err).map(ToString::to_string);
            assert_eq!(
                source.as_deref(),
                Some("domain resolver failed: directory down")
            );
        }
    }
    assert!(net.log.is_empty(), "no request for a refused token");

    // Cheap-check failures never reach the resolver.
    let (v, calls) = with_domain_and_resolver(host, |iss| Ok(vec![iss.to_owned()]));
    let no_iss = signed(
        "tenant",
        &json!({"alg": "ES256", "kid": "k1"}),
        &json!({"sub": "a"}),
    );
    let hs256 = format!("{}.{}.c2ln", b64(r#"{"alg":"HS256"}"#), b64("{}"));
    let es384 = format!(
        "{}.{}.c2ln",
        b64(r#"{"alg":"ES384"}"#),
        b64(claims_for(&issuer(host)).to_string())
    );
    let dpop_typ = signed(
        "tenant",
        &json!({"alg": "ES256", "kid": "k1", "typ": "dpop+jwt"}),
        &claims_for(&issuer(host)),
    );
    let cheap: Vec<(&str, Reason)> = vec![
        (
            "not.a.jwt",
            Reason::Malformed(JoseError::Base64(Segment::Header)),
        ),
        (&hs256, Reason::Malformed(JoseError::SymmetricAlgorithm)),
        (&es384, Reason::AlgorithmNotAllowed),
        (&dpop_typ, Reason::TokenType),
        (&no_iss, Reason::MissingIssuer),
    ];
    for (bad, expected) in cheap {
        let err = v
            .verify_access_token(bad, &RequestContext::default())
            .unwrap_err();
        assert_eq!(err.reason(), &expected, "{bad:.40}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // An answering resolver is called once and its domain verifies.
    let mut caches = v.new_caches();
    verify(&v, &mut caches, &mut net, &t, NOW).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------------------------
// H-24: the cooldown after failed and empty refetches
// ---------------------------------------------------------------------------------------------

// T-52: a refetch for an unknown kid that fails (transport error, 500) starts the cooldown:
// no request for another unknown kid within 30 s, the cached keys keep verifying, and one
// refetch follows once the cooldown is over.
#[test]
fn t52_a_failed_unknown_kid_refetch_starts_the_cooldown_and_keeps_the_cached_keys() {
    let host = "tenant.example";
    let failures: Vec<(&str, Option<HttpResponse>, Reason)> = vec![
        ("transport error", None, Reason::JwksFetchFailed(None)),
        (
            "status 500",
            Some(with_status(500, Some("application/json"), b"{}")),
            Reason::JwksFetchFailed(Some(DocumentError::Status(500))),
        ),
    ];
    for (name, failure, first) in failures {
        let mut net = tenant_net(host);
        let v = single_tenant(host);
        let mut caches = v.new_caches();
        let known = token("tenant", Some("k1"), &issuer(host));
        verify(&v, &mut caches, &mut net, &known, NOW).unwrap();
        match failure {
            None => {
                net.routes.remove(&jwks_url(host));
            }
            Some(response) => net.serve(&jwks_url(host), response),
        }
        let start = NOW + 100;
        let new = token("new", Some("new"), &issuer(host));
        assert_eq!(
            verify(&v, &mut caches, &mut net, &new, start),
            Err(first),
            "{name}"
        );
        let two_jwks = [discovery_url(host), jwks_url(host), jwks_url(host)];
        assert_eq!(net.log, two_jwks, "{name}");
        for (at, kid) in [(start + 1, "new"), (start + 2, "other"), (start + 29, "k2")] {
            let t = token(kid, Some(kid), &issuer(host));
            assert_eq!(
                verify(&v, &mut caches, &mut net, &t, at),
                Err(Reason::UnknownKid),
                "{name}: {kid}"
            );
            verify(&v, &mut caches, &mut net, &known, at).unwrap();
        }
        assert_eq!(net.log, two_jwks, "{name}: no request within the cooldown");
        // The tenant is back with the new key: one refetch after the cooldown.
        net.serve(
            &jwks_url(host),
            HttpResponse::json(jwks(&[("tenant", "k1"), ("new", "new")])),
        );
        verify(&v, &mut caches, &mut net, &new, start + 30).unwrap();
        assert_eq!(net.log.len(), 4, "{name}");
    }
}

// T-52: a JWKS with no usable key (only a 1024-bit RSA key, only `oct` keys, no keys) starts
// the cooldown like any fetch: a second token within 30 s makes no request.
#[test]
fn t52_a_jwks_without_usable_keys_starts_the_cooldown() {
    let host = "tenant.example";
    let wycheproof_1024 =
        &load("wycheproof/json_web_key_test.json")["testGroups"][6]["public"]["keys"][0];
    let rsa_1024 = json!({"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
                          "n": wycheproof_1024["n"], "e": wycheproof_1024["e"]});
    let unknown = Reason::UnknownKid;
    let cases: Vec<(&str, Value, Reason, Reason)> = vec![
        (
            "1024-bit RSA only",
            json!({"keys": [rsa_1024]}),
            unknown.clone(),
            unknown.clone(),
        ),
        (
            "oct without k",
            json!({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256"}]}),
            unknown.clone(),
            unknown.clone(),
        ),
        // A published secret is refused as a whole set (PrivateKeyMaterial); the failure
        // then holds the cooldown.
        (
            "oct with k",
            json!({"keys": [{"kty": "oct", "kid": "k1", "k": "c2VjcmV0LXNlY3JldA"}]}),
            Reason::InvalidJwks(JoseError::PrivateKeyMaterial),
            Reason::JwksFetchFailed(None),
        ),
        ("empty keys", json!({"keys": []}), unknown.clone(), unknown),
    ];
    for (name, set, first, within) in cases {
        let mut net = Net::default();
        net.tenant(host, &jwks_url(host));
        net.serve(
            &jwks_url(host),
            HttpResponse::json(serde_json::to_vec(&set).unwrap()),
        );
        let v = single_tenant(host);
        let mut caches = v.new_caches();
        let t = token("tenant", Some("k1"), &issuer(host));
        assert_eq!(
            verify(&v, &mut caches, &mut net, &t, NOW),
            Err(first),
            "{name}"
        );
        assert_eq!(net.log, [discovery_url(host), jwks_url(host)], "{name}");
        for at in [NOW + 1, NOW + 29] {
            let other = token("tenant", Some("k2"), &issuer(host));
            assert_eq!(
                verify(&v, &mut caches, &mut net, &other, at),
                Err(within.clone()),
                "{name}"
            );
        }
        assert_eq!(net.log.len(), 2, "{name}: no request within the cooldown");
        // One refetch once the cooldown is over.
        let _ = verify(&v, &mut caches, &mut net, &t, NOW + 30);
        assert_eq!(
            net.log,
            [discovery_url(host), jwks_url(host), jwks_url(host)],
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// H-24: many issuers
// ---------------------------------------------------------------------------------------------

/// A resolver that allows exactly the issuers it was given.
struct Allow(BTreeSet<String>);

impl DomainResolver for Allow {
    fn resolve(&self, input: &ResolverInput<'_>) -> Result<Vec<String>, ResolverError> {
        Ok(self
            .0
            .get(input.unverified_issuer)
            .map(|iss| vec![iss.clone()])
            .unwrap_or_default())
    }
}

fn many_hosts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t{i:04}.example")).collect()
}

/// A verifier whose resolver allows `hosts`, with `max_entries` if given, and a network that
/// serves every one of them.
fn many_tenants(hosts: &[String], max_entries: Option<usize>) -> (Verifier, Net) {
    let mut net = Net::default();
    for host in hosts {
        net.tenant(host, &jwks_url(host));
        net.serve(
            &jwks_url(host),
            HttpResponse::json(jwks(&[("tenant", "k1")])),
        );
    }
    let mut policy = CachePolicy::default();
    if let Some(max) = max_entries {
        policy.max_entries = max;
    }
    let v = VerifierConfig::new()
        .domain_resolver(Allow(hosts.iter().map(|h| issuer(h)).collect()))
        .audience(AUDIENCE)
        .algorithms(["ES256"])
        .cache(policy)
        .build()
        .unwrap();
    (v, net)
}

/// How many discovery and JWKS entries `caches` hold for `hosts` (values or cooldowns alone).
fn entries(caches: &Caches, hosts: &[String]) -> (usize, usize) {
    let discovery = hosts
        .iter()
        .filter(|h| caches.discovery(&issuer(h)).is_some())
        .count();
    let jwks = hosts
        .iter()
        .filter(|h| caches.jwks(&jwks_url(h)).is_some())
        .count();
    (discovery, jwks)
}

// T-55: 1 000 allowed issuers, one token each, with the default `max_entries` (100): the first
// 100 cost one discovery and one JWKS request each, the other 900 are refused without a
// request (the caches are full of entries within their cooldown, which are never evicted), and
// neither cache ever holds more than 100 entries. After the cooldown, 100 more get in.
#[test]
fn t55_a_thousand_issuers_keep_the_caches_and_the_request_log_bounded() {
    let hosts = many_hosts(1000);
    let (v, mut net) = many_tenants(&hosts, None);
    assert_eq!(v.cache_policy().max_entries, 100);
    let mut caches = v.new_caches();
    let tokens: Vec<String> = hosts
        .iter()
        .map(|h| token("tenant", Some("k1"), &issuer(h)))
        .collect();
    let run = |caches: &mut Caches, net: &mut Net, now: u64| {
        let mut accepted = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            match verify(&v, caches, net, t, now) {
                Ok(_) => accepted.push(i),
                Err(reason) => assert_eq!(reason, Reason::DiscoveryFailed(None), "issuer {i}"),
            }
        }
        accepted
    };

    let accepted = run(&mut caches, &mut net, NOW);
    assert_eq!(accepted, (0..100).collect::<Vec<_>>());
    let expected: Vec<String> = hosts[..100]
        .iter()
        .flat_map(|h| [discovery_url(h), jwks_url(h)])
        .collect();
    assert_eq!(net.log, expected);
    assert_eq!(entries(&caches, &hosts), (100, 100));
    assert_eq!(v.snapshot_caches(&caches).len(), (100, 100));

    // Still within the cooldown: nothing more, whatever the order.
    let accepted = run(&mut caches, &mut net, NOW + 29);
    assert_eq!(accepted, (0..100).collect::<Vec<_>>());
    assert_eq!(net.log.len(), 200);

    // The cooldown is over: entries may be evicted, and the next 100 issuers get in.
    // The first 100 are still fresh and answer from the cache (no request); each of the next
    // 100 evicts one of them, at one discovery and one JWKS request.
    let accepted = run(&mut caches, &mut net, NOW + 30);
    assert_eq!(accepted, (0..200).collect::<Vec<_>>());
    assert_eq!(net.log.len(), 400);
    assert_eq!(net.log[200], discovery_url(&hosts[100]));
    assert_eq!(entries(&caches, &hosts), (100, 100));
    assert_eq!(v.snapshot_caches(&caches).len(), (100, 100));
}

// T-55: with a small cache, evicting never forgets a cooldown: an issuer whose discovery
// failed is refused without a request for 30 s although 999 other issuers came through.
#[test]
fn t55_eviction_never_resets_a_failed_issuers_cooldown() {
    let hosts = many_hosts(1000);
    let (v, mut net) = many_tenants(&hosts, Some(10));
    let mut caches = v.new_caches();
    // The first tenant is down.
    let down = &hosts[0];
    net.routes.remove(&discovery_url(down));
    let down_token = token("tenant", Some("k1"), &issuer(down));
    assert_eq!(
        verify(&v, &mut caches, &mut net, &down_token, NOW),
        Err(Reason::DiscoveryFailed(None))
    );
    let mut accepted = 0;
    for (i, h) in hosts.iter().enumerate().skip(1) {
        let t = token("tenant", Some("k1"), &issuer(h));
        match verify(&v, &mut caches, &mut net, &t, NOW + 1) {
            Ok(_) => accepted += 1,
            Err(reason) => assert_eq!(reason, Reason::DiscoveryFailed(None), "issuer {i}"),
        }
        if i % 100 == 0 {
            let (d, j) = entries(&caches, &hosts);
            assert!(d <= 10 && j <= 10, "after issuer {i}: {d} and {j} entries");
        }
    }
    assert_eq!(accepted, 9, "one slot is the failed issuer's");
    assert_eq!(net.log.len(), 1 + 2 * 9);
    assert_eq!(
        verify(&v, &mut caches, &mut net, &down_token, NOW + 29),
        Err(Reason::DiscoveryFailed(None))
    );
    assert_eq!(net.count(&discovery_url(down)), 1, "its cooldown was kept");
    assert_eq!(net.log.len(), 1 + 2 * 9);
}

// ---------------------------------------------------------------------------------------------
// H-32: attacker strings in errors and challenges
// ---------------------------------------------------------------------------------------------

fn hostile_strings() -> Vec<String> {
    vec![
        "\"".into(),
        "a\"b\\".into(),
        "\", error=\"injected\", x=\"".into(),
        "x\r\nSet-Cookie: session=stolen".into(),
        "\r".into(),
        "\n\n".into(),
        "a\0b".into(),
        "<script>alert(1)</script>".into(),
        "\u{202e}\u{200b}é".into(),
        "x".repeat(10 * 1024),
        "\"\r\n\0".repeat(512),
    ]
}

/// Checks what a client or a log would see of `err`: no CR, LF or NUL, at most 400
/// characters, never the hostile string itself, and challenges that parse.
fn assert_harmless(err: &VerifyError, hostile: &str, case: &str) {
    let shown = err.to_string();
    let bad = |s: &str| s.contains(['\r', '\n', '\0']) || s.chars().count() > 400;
    assert!(!bad(&shown), "{case}: Display {shown:.80?}");
    assert!(!bad(&err.description()), "{case}: description");
    for value in err.www_authenticate() {
        assert!(!bad(value), "{case}: challenge {value:.80?}");
        let parsed = parse_challenge(value);
        assert!(parsed.is_ok(), "{case}: {value:.120?}: {parsed:?}");
        if hostile.len() >= 8 {
            assert!(!value.contains(hostile), "{case}: challenge echoes it");
        }
    }
    if hostile.len() >= 8 {
        assert!(!shown.contains(hostile), "{case}: Display echoes it");
    }
}

// T-79: hostile iss, alg, kid and typ strings in tokens: every error they cause has a Display
// and challenges free of CR, LF and NUL, with no raw quote in a quoted-string, and bounded.
#[test]
fn t79_hostile_token_strings_never_reach_errors_or_challenges_raw() {
    let host = "tenant.example";
    let single = single_tenant(host);
    let listed = two_tenants(host, "other.example");
    let mut net = tenant_net(host);
    let mut single_caches = single.new_caches();
    let mut listed_caches = listed.new_caches();
    let iss = issuer(host);
    // The parser refuses what the checks below must catch.
    for broken in [
        r#"Bearer error_description="a"b""#,
        r#"Bearer error_description="a\""#,
        "Bearer error_description=\"a\r\nb\"",
        "Bearer error_description=\"a\0\"",
    ] {
        assert!(parse_challenge(broken).is_err(), "{broken:?}");
    }
    let mut seen = 0;
    for s in hostile_strings() {
        let header = |member: &str, value: &str| {
            let mut h = json!({"alg": "ES256", "kid": "k1"});
            h[member] = json!(value);
            h
        };
        let mut claims = claims_for(&iss);
        claims["iss"] = json!(s);
        let cases: Vec<(&str, &Verifier, String, Reason)> = vec![
            (
                "iss, one domain",
                &single,
                signed("tenant", &header("typ", "at+jwt"), &claims),
                Reason::Claims(ClaimError::IssuerMismatch),
            ),
            (
                "iss, domain list",
                &listed,
                signed("tenant", &header("typ", "at+jwt"), &claims),
                Reason::IssuerNotAllowed,
            ),
            (
                "alg",
                &single,
                signed("tenant", &header("alg", &s), &claims_for(&iss)),
                Reason::Malformed(JoseError::UnsupportedAlgorithm),
            ),
            (
                "alg after ES256",
                &single,
                signed(
                    "tenant",
                    &header("alg", &format!("ES256{s}")),
                    &claims_for(&iss),
                ),
                Reason::Malformed(JoseError::UnsupportedAlgorithm),
            ),
            (
                "kid",
                &single,
                signed("tenant", &header("kid", &s), &claims_for(&iss)),
                Reason::UnknownKid,
            ),
            (
                "typ naming a +jwt",
                &single,
                signed(
                    "tenant",
                    &header("typ", &format!("{s}+jwt")),
                    &claims_for(&iss),
                ),
                Reason::TokenType,
            ),
            (
                "typ, wrong signer",
                &single,
                signed("intruder", &header("typ", &s), &claims_for(&iss)),
                Reason::InvalidSignature,
            ),
        ];
        for (field, v, t, expected) in cases {
            let case = format!("{field} = {s:.40?}");
            let caches = if std::ptr::eq(v, &listed) {
                &mut listed_caches
            } else {
                &mut single_caches
            };
            let err = verify_full(v, caches, &mut net, &t, NOW).unwrap_err();
            assert_eq!(err.reason(), &expected, "{case}");
            assert_harmless(&err, &s, &case);
            seen += 1;
        }
    }
    assert_eq!(seen, 7 * hostile_strings().len());
    // The one domain's key set was fetched once; the list never needed a request.
    assert_eq!(net.log, [discovery_url(host), jwks_url(host)]);
}
