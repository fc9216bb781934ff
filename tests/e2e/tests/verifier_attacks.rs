//! Attacks on the verifier's configuration and on the key sets it fetches (SECURITY.md
//! section 15: T-02, T-49, T-50, T-56), run through the public sans-IO flow.
//!
//! Each flow is driven by hand, as a driver would: [`Verifier::verify_access_token`], then
//! [`VerifyAccessToken::poll`] and [`VerifyAccessToken::handle_response`] with a chosen `now`,
//! answered by an in-memory network that records every URL requested. Nothing sleeps and no
//! wall clock is read; request counts are asserted exactly.

use std::collections::BTreeMap;

use auth0_api::jose::JoseError;
use auth0_api::{
    Action, Algorithm, Caches, ConfigError, DocumentError, HttpOutcome, HttpResponse, KeySetLimits,
    Reason, RequestContext, TransportError, TransportErrorKind, UnixTime, Verifier, VerifierConfig,
    VerifyAccessToken,
};
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
    let now = UnixTime::from_secs(now);
    for _ in 0..10 {
        match flow.poll(caches, now).map_err(|e| e.reason().clone())? {
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
