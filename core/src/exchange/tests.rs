//! Transcript tests of the exchange flows with canned responses and chosen times.

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use alloc::{format, vec};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::{Signature, SigningKey, signature::Signer as _};
use serde_json::{Value, json};

use super::client_auth::CLIENT_ASSERTION_TYPE;
use super::error::{ExchangeError, IdTokenError, InputError, ResponseError};
use super::params::decode_form;
use super::*;
use crate::cache::{CachePolicy, Caches};
use crate::flow::Action;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::jose::jwk::JwkSet;
use crate::jose::sign::Es256Signer;
use crate::time::UnixTime;

const ISS: &str = "https://tenant.example/";
const DISCOVERY: &str = "https://tenant.example/.well-known/openid-configuration";
const JWKS: &str = "https://tenant.example/.well-known/jwks.json";
const TOKEN: &str = "https://tenant.example/oauth/token";
const NOW: u64 = 1_700_000_000;
const RANDOM: [u8; 16] = [7; 16];

fn key() -> SigningKey {
    SigningKey::from_slice(&[3; 32]).unwrap()
}

fn jwks_body() -> Vec<u8> {
    let point = key().verifying_key().to_sec1_point(false);
    let b = point.as_bytes();
    serde_json::to_vec(&json!({"keys":[{"kty":"EC","crv":"P-256","kid":"id1","x":B64.encode(&b[1..33]),"y":B64.encode(&b[33..65])}]})).unwrap()
}

fn id_token(claims: Value) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(r#"{"alg":"ES256","kid":"id1"}"#),
        B64.encode(claims.to_string())
    );
    let sig: Signature = key().sign(input.as_bytes());
    format!("{input}.{}", B64.encode(sig.to_bytes()))
}

fn id_claims() -> Value {
    json!({"iss": ISS, "sub": "user", "aud": "client-1", "iat": NOW, "exp": NOW + 600,
           "org_id": "org_123", "org_name": "Acme"})
}

fn discovery_body() -> Vec<u8> {
    serde_json::to_vec(&json!({"issuer": ISS, "jwks_uri": JWKS, "token_endpoint": TOKEN})).unwrap()
}

fn token_body(id_token: Option<String>) -> Vec<u8> {
    let mut body = json!({"access_token": "at-1", "expires_in": 3600, "token_type": "Bearer",
                          "scope": "read", "issued_token_type": ACCESS_TOKEN_TYPE});
    if let Some(t) = id_token {
        body["id_token"] = json!(t);
    }
    serde_json::to_vec(&body).unwrap()
}

fn exchanger() -> TokenExchanger {
    ExchangeConfig::new()
        .domain("tenant.example")
        .client_id("client-1")
        .client_secret("s3cret")
        .build()
        .unwrap()
}

fn request() -> CustomTokenExchange {
    CustomTokenExchange {
        subject_token: "external-token".into(),
        subject_token_type: "urn:example:legacy".into(),
        audience: Some("api://orders".into()),
        ..Default::default()
    }
}

/// Drives a flow, answering from `answer`, and returns the result and the requests made.
fn drive<T: ExchangeOutput>(
    flow: &mut ExchangeToken<'_, T>,
    caches: &mut Caches,
    answer: impl FnMut(&HttpRequest) -> HttpResponse,
) -> (Result<T, ExchangeError>, Vec<HttpRequest>) {
    drive_at(flow, caches, UnixTime::from_secs(NOW), answer)
}

/// [`drive`] at the chosen time `now`.
fn drive_at<T: ExchangeOutput>(
    flow: &mut ExchangeToken<'_, T>,
    caches: &mut Caches,
    now: UnixTime,
    mut answer: impl FnMut(&HttpRequest) -> HttpResponse,
) -> (Result<T, ExchangeError>, Vec<HttpRequest>) {
    let mut log = Vec::new();
    for _ in 0..10 {
        match flow.poll(caches, now) {
            Err(e) => return (Err(e), log),
            Ok(Action::NeedHttp(req)) => {
                let response = answer(&req);
                log.push(req);
                flow.handle_response(caches, Ok(response), now);
            }
            Ok(Action::Wait(_)) => panic!("wait"),
            Ok(Action::CheckReplay(_)) => panic!("an exchange asked for a replay check"),
            Ok(Action::Done(t)) => return (Ok(t), log),
        }
    }
    panic!("no end")
}

fn tenant(id: Option<String>) -> impl FnMut(&HttpRequest) -> HttpResponse {
    answering(token_body(id))
}

/// A tenant whose token endpoint answers `body`.
fn answering(body: Vec<u8>) -> impl FnMut(&HttpRequest) -> HttpResponse {
    move |req| match req.url.as_str() {
        DISCOVERY => HttpResponse::json(discovery_body()),
        JWKS => HttpResponse::json(jwks_body()),
        TOKEN => HttpResponse::json(body.clone()),
        other => panic!("unexpected request to {other}"),
    }
}

/// A token body with the given `token_type` and `issued_token_type` (omitted when `None`).
fn typed_body(token_type: Option<&str>, issued: Option<&str>) -> Vec<u8> {
    let mut body = json!({"access_token": "at-1", "expires_in": 3600});
    if let Some(t) = token_type {
        body["token_type"] = json!(t);
    }
    if let Some(t) = issued {
        body["issued_token_type"] = json!(t);
    }
    serde_json::to_vec(&body).unwrap()
}

fn sorted_form(req: &HttpRequest) -> Vec<(String, String)> {
    let mut pairs = decode_form(core::str::from_utf8(&req.body).unwrap()).unwrap();
    pairs.sort();
    pairs
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn custom_exchange_cold_then_warm() {
    let ex = exchanger();
    let mut caches = Caches::new(CachePolicy::default());
    let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
    let (result, log) = drive(&mut flow, &mut caches, tenant(None));
    let set = result.unwrap();
    assert_eq!(set.access_token.expose_secret(), "at-1");
    assert_eq!(set.expires_at, UnixTime::from_secs(NOW + 3600));
    assert_eq!(set.scope.as_deref(), Some("read"));
    assert!(set.id_token_claims.is_none());
    let urls: Vec<_> = log.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(urls, [DISCOVERY, TOKEN]);
    let token_req = &log[1];
    assert_eq!(token_req.method, Method::Post);
    assert_eq!(
        token_req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(token_req.header("accept"), Some("application/json"));
    let telemetry = token_req.header("auth0-client").unwrap();
    let decoded: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(telemetry)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(decoded["name"], "auth0-api");
    assert_eq!(
        sorted_form(token_req),
        pairs(&[
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("subject_token", "external-token"),
            ("subject_token_type", "urn:example:legacy"),
            ("audience", "api://orders"),
            ("client_id", "client-1"),
            ("client_secret", "s3cret"),
        ])
    );
    // Warm: the token endpoint is cached.
    let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
    let (result, log) = drive(&mut flow, &mut caches, tenant(None));
    result.unwrap();
    assert_eq!(
        log.iter().map(|r| r.url.as_str()).collect::<Vec<_>>(),
        [TOKEN]
    );
}

#[test]
fn id_token_is_validated_with_the_tenant_keys() {
    let ex = exchanger();
    let mut caches = Caches::new(CachePolicy::default());
    let mut req = request();
    req.organization = Some("org_123".into());
    let mut flow = ex.custom_token_exchange(&req, RANDOM).unwrap();
    let (result, log) = drive(&mut flow, &mut caches, tenant(Some(id_token(id_claims()))));
    let set = result.unwrap();
    assert_eq!(set.id_token_claims.unwrap().sub().unwrap(), Some("user"));
    assert_eq!(
        log.iter().map(|r| r.url.as_str()).collect::<Vec<_>>(),
        [DISCOVERY, TOKEN, JWKS]
    );

    let cases: Vec<(Option<&str>, Value, IdTokenError)> = vec![
        (
            None,
            json!({"aud": "someone-else"}),
            IdTokenError::ClaimMismatch("aud"),
        ),
        (
            None,
            json!({"iss": "https://evil.example/"}),
            IdTokenError::ClaimMismatch("iss"),
        ),
        (None, json!({"exp": NOW}), IdTokenError::Expired),
        (
            Some("org_999"),
            json!({}),
            IdTokenError::ClaimMismatch("org_id"),
        ),
        (
            Some("other"),
            json!({}),
            IdTokenError::ClaimMismatch("org_name"),
        ),
        // OIDC Core 3.1.3.7: another audience beside this client needs `azp`, and `azp`
        // must name this client.
        (
            None,
            json!({"aud": ["client-1", "api://other"]}),
            IdTokenError::MissingClaim("azp"),
        ),
        (
            None,
            json!({"aud": ["client-1", "api://other"], "azp": "api://other"}),
            IdTokenError::ClaimMismatch("azp"),
        ),
        (
            None,
            json!({"azp": "client-2"}),
            IdTokenError::ClaimMismatch("azp"),
        ),
        (None, json!({"azp": 1}), IdTokenError::MissingClaim("azp")),
    ];
    for (org, patch, expected) in cases {
        let mut claims = id_claims();
        for (k, v) in patch.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let mut req = request();
        req.organization = org.map(String::from);
        let mut flow = ex.custom_token_exchange(&req, RANDOM).unwrap();
        let (result, _) = drive(&mut flow, &mut caches, tenant(Some(id_token(claims))));
        assert_eq!(
            format!("{:?}", result.unwrap_err()),
            format!(
                "{:?}",
                ExchangeError::Response(ResponseError::IdToken(expected.clone()))
            ),
            "{expected:?}"
        );
    }
    // Organization names compare ignoring case.
    let mut req = request();
    req.organization = Some("ACME".into());
    let mut flow = ex.custom_token_exchange(&req, RANDOM).unwrap();
    drive(&mut flow, &mut caches, tenant(Some(id_token(id_claims()))))
        .0
        .unwrap();
    // `azp` naming this client is accepted, with one audience or several.
    for patch in [
        json!({"azp": "client-1"}),
        json!({"aud": ["api://other", "client-1"], "azp": "client-1"}),
        json!({"aud": ["client-1"]}),
    ] {
        let mut claims = id_claims();
        for (k, v) in patch.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
        let (result, _) = drive(&mut flow, &mut caches, tenant(Some(id_token(claims))));
        let set = result.unwrap();
        assert_eq!(
            set.id_token_claims.unwrap().aud().unwrap().unwrap().len(),
            { patch.get("aud").map_or(1, |a| a.as_array().unwrap().len()) }
        );
    }
    // A forged ID token is refused.
    let forged = id_token(id_claims())
        .replace('.', ".x")
        .replacen(".x", ".", 1);
    let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
    assert!(matches!(
        drive(&mut flow, &mut caches, tenant(Some(forged))).0,
        Err(ExchangeError::Response(ResponseError::IdToken(_)))
    ));
}

/// A compact JWS of `header` and `claims` whose signature is `sign(signing input)`.
fn jws(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", B64.encode(signature))
}

/// HMAC-SHA256 (RFC 2104), from the `hmac` crate the e2e attack tests use too.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, KeyInit, Mac as _};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Runs a cold then a warm exchange returning `id_token` and checks that both fail with
/// exactly `expected`; returns the URLs each one requested.
fn refused_id_token(id_token: &str, expected: &IdTokenError) -> [Vec<String>; 2] {
    let ex = exchanger();
    let mut caches = Caches::new(CachePolicy::default());
    [(); 2].map(|()| {
        let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
        let (result, log) = drive(&mut flow, &mut caches, tenant(Some(id_token.into())));
        match result {
            Err(ExchangeError::Response(ResponseError::IdToken(e))) => {
                assert_eq!(&e, expected, "{id_token}");
            }
            other => panic!("{id_token}: {other:?}"),
        }
        log.into_iter().map(|r| r.url).collect()
    })
}

/// T-72: an unsigned ID token (`alg: none`, in any case, with an empty signature) is named
/// as such, before any key is looked for: no JWKS request is made for it.
#[test]
fn unsigned_id_token_is_refused_as_unsecured() {
    for alg in ["none", "None", "NONE"] {
        for header in [json!({"alg": alg}), json!({"alg": alg, "kid": "id1"})] {
            let token = jws(&header, &id_claims(), |_| Vec::new());
            assert!(token.ends_with('.'), "{token}");
            let [cold, warm] =
                refused_id_token(&token, &IdTokenError::Jose(JoseError::UnsecuredAlgorithm));
            assert_eq!(cold, [DISCOVERY, TOKEN], "{header}");
            assert_eq!(warm, [TOKEN], "{header}");
        }
    }
}

/// T-72: the algorithm-confusion attack. An `HS256` ID token MACed with the bytes of the
/// tenant's public key (as SEC1 point, SPKI DER, PEM and the JWK Set text) is refused as
/// symmetric, and being refused from its header it costs no JWKS request, cold or warm.
#[test]
fn hs256_id_token_keyed_with_the_tenant_public_key_is_refused() {
    use p256::pkcs8::EncodePublicKey as _;
    // The MAC is HMAC-SHA256 with these key bytes (RFC 4231 test case 1).
    let mac: String = hmac_sha256(&[0x0b; 20], b"Hi There")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        mac,
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
    let verifying = *key().verifying_key();
    let public = p256::PublicKey::from(&verifying);
    let keys: Vec<Vec<u8>> = vec![
        verifying.to_sec1_point(false).as_bytes().to_vec(),
        public.to_public_key_der().unwrap().as_bytes().to_vec(),
        public
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap()
            .into_bytes(),
        jwks_body(),
    ];
    for secret in &keys {
        for header in [
            json!({"alg": "HS256", "kid": "id1"}),
            json!({"alg": "HS256"}),
            json!({"alg": "hs256", "kid": "id1", "typ": "JWT"}),
        ] {
            let token = jws(&header, &id_claims(), |input| hmac_sha256(secret, input));
            let [cold, warm] =
                refused_id_token(&token, &IdTokenError::Jose(JoseError::SymmetricAlgorithm));
            assert_eq!(cold, [DISCOVERY, TOKEN], "{header}");
            assert_eq!(warm, [TOKEN], "{header}");
        }
    }
}

/// T-72: an ID token well formed and validly signed (ES256) by an attacker's key that
/// claims the `kid` of the tenant's key fails the signature check with the tenant's key,
/// also when the header carries the attacker's public key as `jwk` (never trusted). The
/// key was found, so a bad signature triggers no JWKS refetch.
#[test]
fn id_token_signed_by_another_key_with_a_tenant_kid_fails_the_signature() {
    let attacker = SigningKey::from_slice(&[4; 32]).unwrap();
    let point = attacker.verifying_key().to_sec1_point(false);
    let b = point.as_bytes();
    let attacker_jwk = json!({"kty": "EC", "crv": "P-256", "x": B64.encode(&b[1..33]),
                              "y": B64.encode(&b[33..65])});
    for header in [
        json!({"alg": "ES256", "kid": "id1"}),
        json!({"alg": "ES256", "kid": "id1", "jwk": attacker_jwk}),
    ] {
        let token = jws(&header, &id_claims(), |input| {
            let sig: Signature = attacker.sign(input);
            sig.to_bytes().to_vec()
        });
        let [cold, warm] =
            refused_id_token(&token, &IdTokenError::Jose(JoseError::InvalidSignature));
        assert_eq!(cold, [DISCOVERY, TOKEN, JWKS], "{header}");
        assert_eq!(warm, [TOKEN], "{header}");
    }
    // The same claims signed by the tenant's key pass: the key, not the claims, failed.
    let genuine = jws(
        &json!({"alg": "ES256", "kid": "id1"}),
        &id_claims(),
        |input| {
            let sig: Signature = key().sign(input);
            sig.to_bytes().to_vec()
        },
    );
    let ex = exchanger();
    let mut caches = Caches::new(CachePolicy::default());
    let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
    drive(&mut flow, &mut caches, tenant(Some(genuine)))
        .0
        .unwrap();
}

/// T-72, SPEC section 6 ("`exp`, `iat`" validated) and section 2 item 7 (`iat` a required
/// number): an ID token without `iat`, or with an `iat` that is not a number, is refused.
/// The error names the claim: absent, of another type or out of range alike.
#[test]
fn id_token_iat_is_a_required_number() {
    let iat = IdTokenError::MissingClaim("iat");
    let cases = [
        None,
        Some(json!(null)),
        Some(json!(NOW.to_string())),
        Some(json!("")),
        Some(json!(true)),
        Some(json!([NOW])),
        Some(json!({"t": NOW})),
        Some(json!(-1)),
    ];
    for value in cases {
        let mut claims = id_claims();
        match &value {
            None => {
                claims.as_object_mut().unwrap().remove("iat");
            }
            Some(v) => claims["iat"] = v.clone(),
        }
        let [cold, warm] = refused_id_token(&id_token(claims), &iat);
        assert_eq!(cold, [DISCOVERY, TOKEN, JWKS], "{value:?}");
        assert_eq!(warm, [TOKEN], "{value:?}");
    }
    // Another registered claim is named the same way.
    for name in ["iss", "aud", "exp"] {
        let mut claims = id_claims();
        claims.as_object_mut().unwrap().remove(name);
        refused_id_token(&id_token(claims), &IdTokenError::MissingClaim(name));
    }
    assert_eq!(iat.to_string(), "missing or invalid iat claim");
    // A fractional `iat` is a number (RFC 7519 section 2) and passes.
    let mut claims = id_claims();
    claims["iat"] = json!(1_699_999_999.5);
    let ex = exchanger();
    let mut caches = Caches::new(CachePolicy::default());
    let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
    drive(&mut flow, &mut caches, tenant(Some(id_token(claims))))
        .0
        .unwrap();
}

/// T-72 with SPEC section 2 item 5: an ID token whose `kid` is not in the tenant's JWK Set
/// is refused as `NoMatchingKey` after at most one JWKS request per flow, and none at all
/// within the 30 s refetch cooldown of the last fetch, so unknown kids cannot become a
/// flood of requests.
#[test]
fn id_token_with_an_unknown_kid_is_refused_after_at_most_one_refetch() {
    let unknown = jws(
        &json!({"alg": "ES256", "kid": "id2"}),
        &id_claims(),
        |input| {
            let sig: Signature = key().sign(input);
            sig.to_bytes().to_vec()
        },
    );
    let ex = exchanger();
    let mut caches = Caches::new(CachePolicy::default());
    let mut attempt = |at: u64| {
        let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
        let (result, log) = drive_at(
            &mut flow,
            &mut caches,
            UnixTime::from_secs(at),
            tenant(Some(unknown.clone())),
        );
        match result {
            Err(ExchangeError::Response(ResponseError::IdToken(e))) => {
                assert_eq!(e, IdTokenError::Jose(JoseError::NoMatchingKey), "at {at}");
            }
            other => panic!("at {at}: {other:?}"),
        }
        log.into_iter().map(|r| r.url).collect::<Vec<_>>()
    };
    // Cold: the one fetch of the set is the only one; the kid is not looked for again.
    assert_eq!(attempt(NOW), [DISCOVERY, TOKEN, JWKS]);
    // Within the cooldown: no request for the key set at all.
    assert_eq!(attempt(NOW), [TOKEN]);
    assert_eq!(attempt(NOW + 29), [TOKEN]);
    // Cooldown over: exactly one refetch, then the kid is final.
    assert_eq!(attempt(NOW + 31), [TOKEN, JWKS]);
    assert_eq!(attempt(NOW + 31), [TOKEN]);
}

#[test]
fn client_authentication_methods() {
    let mut caches = Caches::new(CachePolicy::default());
    let basic = ExchangeConfig::new()
        .domain("tenant.example")
        .client_id("client 1")
        .client_secret("p@ss:word")
        .client_secret_basic(true)
        .telemetry(false)
        .build()
        .unwrap();
    let mut flow = basic.custom_token_exchange(&request(), RANDOM).unwrap();
    let (_, log) = drive(&mut flow, &mut caches, tenant(None));
    let req = log.last().unwrap();
    assert_eq!(
        req.header("authorization"),
        Some("Basic Y2xpZW50KzE6cCU0MHNzJTNBd29yZA==")
    );
    assert_eq!(req.header("auth0-client"), None);
    assert!(
        sorted_form(req)
            .iter()
            .all(|(k, _)| k != "client_secret" && k != "client_id")
    );

    // private_key_jwt: the assertion verifies with the public key and names the client.
    let signer = Es256Signer::from_jwk(
        json!({"kty":"EC","crv":"P-256","d":B64.encode([9u8; 32]),
               "x": B64.encode(&SigningKey::from_slice(&[9; 32]).unwrap().verifying_key().to_sec1_point(false).as_bytes()[1..33]),
               "y": B64.encode(&SigningKey::from_slice(&[9; 32]).unwrap().verifying_key().to_sec1_point(false).as_bytes()[33..65])})
        .as_object()
        .unwrap(),
    )
    .unwrap();
    let public = Value::Object(signer.public_jwk());
    let jwt = ExchangeConfig::new()
        .domain("tenant.example")
        .client_id("client-1")
        .client_assertion_signer(Arc::new(signer))
        .build()
        .unwrap();
    let mut assertions = Vec::new();
    for random in [[1u8; 16], [2u8; 16]] {
        let mut flow = jwt.custom_token_exchange(&request(), random).unwrap();
        let (_, log) = drive(&mut flow, &mut caches, tenant(None));
        let form = sorted_form(log.last().unwrap());
        let get = |n: &str| form.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(
            get("client_assertion_type").as_deref(),
            Some(CLIENT_ASSERTION_TYPE)
        );
        assert_eq!(get("client_id").as_deref(), Some("client-1"));
        assert_eq!(get("client_secret"), None);
        assertions.push(get("client_assertion").unwrap());
    }
    let set = JwkSet::parse(
        format!(r#"{{"keys":[{public}]}}"#).as_bytes(),
        &crate::jose::provider::RUST_CRYPTO,
    )
    .unwrap();
    let mut jtis = Vec::new();
    for a in &assertions {
        let jws = crate::jose::compact::CompactJws::parse(a, &Default::default()).unwrap();
        jws.verify(set.select(jws.header()).unwrap()).unwrap();
        let c: Value = serde_json::from_slice(jws.payload()).unwrap();
        assert_eq!(
            (c["iss"].as_str(), c["sub"].as_str(), c["aud"].as_str()),
            (Some("client-1"), Some("client-1"), Some(ISS))
        );
        assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 60);
        jtis.push(c["jti"].as_str().unwrap().to_string());
    }
    assert_ne!(jtis[0], jtis[1]);
}

#[test]
fn inputs_are_validated_before_any_request() {
    let ex = exchanger();
    let bad: Vec<(CustomTokenExchange, &str)> = vec![
        (
            CustomTokenExchange {
                subject_token: String::new(),
                ..request()
            },
            "InvalidSubjectToken",
        ),
        (
            CustomTokenExchange {
                subject_token: " t".into(),
                ..request()
            },
            "InvalidSubjectToken",
        ),
        (
            CustomTokenExchange {
                subject_token: "Bearer t".into(),
                ..request()
            },
            "InvalidSubjectToken",
        ),
        (
            CustomTokenExchange {
                organization: Some("  ".into()),
                ..request()
            },
            "InvalidOrganization",
        ),
        (
            CustomTokenExchange {
                actor_token: Some("a".into()),
                ..request()
            },
            "ActorTokenTypeMismatch",
        ),
        (
            CustomTokenExchange {
                extra: ExtraParameters::new().with("Scope", "x"),
                ..request()
            },
            "ReservedParameter",
        ),
        (
            CustomTokenExchange {
                extra: ExtraParameters::new().with("client_secret", "x"),
                ..request()
            },
            "ReservedParameter",
        ),
    ];
    for (req, name) in bad {
        let err = ex.custom_token_exchange(&req, RANDOM).err().unwrap();
        assert!(
            format!("{err:?}").starts_with(&format!("Input({name}")),
            "{err:?}"
        );
    }
    assert!(
        ex.on_behalf_of(
            &OnBehalfOf {
                access_token: "t".into(),
                ..Default::default()
            },
            RANDOM
        )
        .is_err()
    );
    assert!(
        ex.connection_token(
            &ConnectionTokenRequest {
                subject_token: "t".into(),
                ..Default::default()
            },
            RANDOM
        )
        .is_err()
    );
    let missing = ExchangeConfig::new()
        .domain("tenant.example")
        .client_id("c")
        .build();
    assert!(matches!(
        missing,
        Err(ExchangeSetupError::Client(ExchangeError::Input(
            InputError::MissingClientAuthentication
        )))
    ));
}

#[test]
fn server_errors_are_typed() {
    let ex = exchanger();
    let cases: Vec<(HttpResponse, &str)> = vec![
        (
            HttpResponse::new(
                400,
                "application/json",
                r#"{"error":"invalid_grant","error_description":"expired"}"#,
            ),
            "invalid_grant",
        ),
        (
            HttpResponse::new(401, "application/json", r#"{"error":"invalid_client"}"#),
            "invalid_client",
        ),
        (HttpResponse::new(500, "text/html", "<html>"), "Server"),
        (
            HttpResponse::json(alloc::vec![b' '; 5 << 20]),
            "BodyTooLarge",
        ),
        (HttpResponse::json(r#"{"expires_in":3600}"#), "MissingField"),
        (
            HttpResponse::json(r#"{"access_token":"a","expires_in":"3600"}"#),
            "InvalidField",
        ),
    ];
    for (response, expected) in cases {
        let mut caches = Caches::new(CachePolicy::default());
        let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
        let mut answer = tenant(None);
        let (result, _) = drive(&mut flow, &mut caches, |req| {
            if req.url == TOKEN {
                response.clone()
            } else {
                answer(req)
            }
        });
        let err = result.err().unwrap();
        assert!(format!("{err:?}").contains(expected), "{err:?}");
        // Sticky.
        assert!(flow.poll(&mut caches, UnixTime::from_secs(NOW)).is_err());
    }
    let mut caches = Caches::new(CachePolicy::default());
    let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
    let (result, _) = drive(&mut flow, &mut caches, |_| {
        HttpResponse::new(500, "text/html", "x")
    });
    assert!(matches!(
        result,
        Err(ExchangeError::Response(ResponseError::Discovery(Some(_))))
    ));
}

#[test]
fn on_behalf_of_and_connection_token() {
    let ex = exchanger();
    let mut caches = Caches::new(CachePolicy {
        ttl: core::time::Duration::ZERO,
        ..CachePolicy::default()
    });
    let obo = OnBehalfOf {
        access_token: "incoming".into(),
        audience: "api://billing".into(),
        scope: Some("bill".into()),
    };
    let mut flow = ex.on_behalf_of(&obo, RANDOM).unwrap();
    let (result, log) = drive(&mut flow, &mut caches, tenant(None));
    assert_eq!(result.unwrap().access_token.expose_secret(), "at-1");
    assert_eq!(
        sorted_form(&log[1]),
        pairs(&[
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("subject_token", "incoming"),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
            ("audience", "api://billing"),
            ("scope", "bill"),
            ("client_id", "client-1"),
            ("client_secret", "s3cret"),
        ])
    );
    let vault = ConnectionTokenRequest {
        connection: "google-oauth2".into(),
        subject_token: "refresh-1".into(),
        subject_token_type: ConnectionSubject::RefreshToken,
        login_hint: Some("user@example.com".into()),
    };
    let mut flow = ex.connection_token(&vault, RANDOM).unwrap();
    let body = typed_body(Some("Bearer"), Some(CONNECTION_TOKEN_TYPE));
    let (result, log) = drive(&mut flow, &mut caches, answering(body));
    let token = result.unwrap();
    assert_eq!(
        (token.connection.as_str(), token.login_hint.as_deref()),
        ("google-oauth2", Some("user@example.com"))
    );
    // TTL 0: discovery again.
    assert_eq!(
        log.iter().map(|r| r.url.as_str()).collect::<Vec<_>>(),
        [DISCOVERY, TOKEN]
    );
    assert_eq!(
        sorted_form(&log[1]),
        pairs(&[
            ("grant_type", CONNECTION_GRANT),
            ("subject_token", "refresh-1"),
            ("subject_token_type", REFRESH_TOKEN_TYPE),
            ("requested_token_type", CONNECTION_TOKEN_TYPE),
            ("connection", "google-oauth2"),
            ("login_hint", "user@example.com"),
            ("client_id", "client-1"),
            ("client_secret", "s3cret"),
        ])
    );
}

#[test]
fn returned_token_types_are_checked_against_the_request() {
    // T-71: a token of another kind than requested is an error, never silently accepted.
    let ex = exchanger();
    let unexpected = |field| {
        Err(format!(
            "{:?}",
            ExchangeError::Response(ResponseError::UnexpectedTokenType { field })
        ))
    };
    let custom = |requested: Option<&str>| CustomTokenExchange {
        requested_token_type: requested.map(Into::into),
        ..request()
    };
    let jwt = "urn:ietf:params:oauth:token-type:jwt";
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Result<(), String>,
    );
    let cases: [Case<'_>; 11] = [
        // requested, token_type, issued_token_type, outcome
        (None, Some("Bearer"), Some(jwt), Ok(())),
        (None, None, None, Ok(())),
        (None, Some("N_A"), Some(jwt), Ok(())),
        (None, Some("DPoP"), None, unexpected("token_type")),
        (Some(jwt), Some("N_A"), Some(jwt), Ok(())),
        (Some(jwt), Some("bearer"), None, Ok(())),
        (
            Some(jwt),
            Some("Bearer"),
            Some(ACCESS_TOKEN_TYPE),
            unexpected("issued_token_type"),
        ),
        (
            Some(ACCESS_TOKEN_TYPE),
            Some("n_a"),
            None,
            unexpected("token_type"),
        ),
        (
            Some(ACCESS_TOKEN_TYPE),
            Some("dpop"),
            Some(ACCESS_TOKEN_TYPE),
            unexpected("token_type"),
        ),
        // Compared exactly: a URI differing only in case is another type.
        (
            Some(ACCESS_TOKEN_TYPE),
            Some("Bearer"),
            Some(&ACCESS_TOKEN_TYPE.to_uppercase()),
            unexpected("issued_token_type"),
        ),
        (
            Some(ACCESS_TOKEN_TYPE),
            Some("Bearer"),
            Some(ACCESS_TOKEN_TYPE),
            Ok(()),
        ),
    ];
    for (requested, token_type, issued, expected) in cases {
        let mut caches = Caches::new(CachePolicy::default());
        let mut flow = ex
            .custom_token_exchange(&custom(requested), RANDOM)
            .unwrap();
        let (result, _) = drive(
            &mut flow,
            &mut caches,
            answering(typed_body(token_type, issued)),
        );
        let outcome = result.map(|set| {
            // Accepted types reach the caller unchanged.
            assert_eq!(set.token_type.as_deref(), token_type);
            assert_eq!(set.issued_token_type.as_deref(), issued);
        });
        assert_eq!(
            outcome.map_err(|e| format!("{e:?}")),
            expected,
            "{requested:?} {token_type:?} {issued:?}"
        );
    }

    // The fixed flows request their own types.
    let mut caches = Caches::new(CachePolicy::default());
    let obo = OnBehalfOf {
        access_token: "incoming".into(),
        audience: "api://billing".into(),
        scope: None,
    };
    let unexpected_type = |result: Result<_, ExchangeError>| match result {
        Err(ExchangeError::Response(ResponseError::UnexpectedTokenType { field })) => Some(field),
        _ => None,
    };
    let body = typed_body(Some("Bearer"), Some(CONNECTION_TOKEN_TYPE));
    let mut flow = ex.on_behalf_of(&obo, RANDOM).unwrap();
    let result = drive(&mut flow, &mut caches, answering(body)).0;
    assert_eq!(unexpected_type(result.map(drop)), Some("issued_token_type"));
    let vault = ConnectionTokenRequest {
        connection: "google-oauth2".into(),
        subject_token: "at".into(),
        subject_token_type: ConnectionSubject::AccessToken,
        login_hint: None,
    };
    for (token_type, issued, field) in [
        (Some("Bearer"), Some(ACCESS_TOKEN_TYPE), "issued_token_type"),
        (Some("N_A"), Some(CONNECTION_TOKEN_TYPE), "token_type"),
    ] {
        let mut flow = ex.connection_token(&vault, RANDOM).unwrap();
        let result = drive(
            &mut flow,
            &mut caches,
            answering(typed_body(token_type, issued)),
        )
        .0;
        assert_eq!(unexpected_type(result.map(drop)), Some(field));
    }
}

/// The reserved names, spelled out here rather than read from the constant that defines them,
/// so that dropping one from the list fails this test. None can be set through an extra
/// parameter, in any case; and a request that does go out carries
/// each protocol parameter exactly once.
#[test]
fn reserved_parameters_named_literally() {
    let ex = exchanger();
    let names = [
        "grant_type",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
        "subject_token",
        "subject_token_type",
        "actor_token",
        "actor_token_type",
        "requested_token_type",
        "audience",
        "scope",
        "resource",
        "connection",
        "login_hint",
        "organization",
    ];
    for name in names {
        for spelling in [name.to_string(), name.to_ascii_uppercase()] {
            let extra = ExtraParameters::new().with(spelling.clone(), "attacker");
            let custom = CustomTokenExchange { extra, ..request() };
            let err = ex.custom_token_exchange(&custom, RANDOM).err();
            assert!(
                matches!(&err, Some(ExchangeError::Input(InputError::ReservedParameter { name })) if *name == spelling),
                "custom {spelling}: {err:?}"
            );
        }
    }

    let custom = CustomTokenExchange {
        extra: ExtraParameters::new().with("grant_type_hint", "x"),
        ..request()
    };
    let mut caches = Caches::new(CachePolicy::default());
    let mut flow = ex.custom_token_exchange(&custom, RANDOM).unwrap();
    let (result, log) = drive(&mut flow, &mut caches, tenant(None));
    result.unwrap();
    let token_request = log.iter().find(|r| r.url == TOKEN).unwrap();
    let form = sorted_form(token_request);
    for name in [
        "grant_type",
        "client_id",
        "subject_token",
        "subject_token_type",
    ] {
        assert_eq!(
            form.iter().filter(|(n, _)| n == name).count(),
            1,
            "{name} in {form:?}"
        );
    }
    assert!(form.contains(&(
        "grant_type".to_string(),
        "urn:ietf:params:oauth:grant-type:token-exchange".to_string()
    )));
    assert!(form.contains(&("grant_type_hint".to_string(), "x".to_string())));
}

/// A JWK Set that is fetched but unusable is reported with its typed cause, as verification
/// reports it (`Reason::InvalidJwks`), not as a bare transport failure.
#[test]
fn a_malformed_jwks_is_invalid_jwks() {
    let ex = exchanger();
    let mut caches = Caches::new(CachePolicy::default());
    let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
    let body = token_body(Some(id_token(id_claims())));
    let (result, log) = drive(&mut flow, &mut caches, move |req| match req.url.as_str() {
        DISCOVERY => HttpResponse::json(discovery_body()),
        JWKS => HttpResponse::json(br#"{"keys":[7]}"#.to_vec()),
        TOKEN => HttpResponse::json(body.clone()),
        other => panic!("unexpected request to {other}"),
    });
    assert!(
        matches!(
            result,
            Err(ExchangeError::Response(ResponseError::InvalidJwks(
                JoseError::InvalidKeySet
            )))
        ),
        "{result:?}"
    );
    assert_eq!(log.len(), 3);
}

/// A cancelled exchange clears the discovery mark it set, so the next flow fetches at once.
#[test]
fn an_abandoned_exchange_clears_its_mark() {
    use crate::flow::Flow;
    let ex = exchanger();
    let mut caches = Caches::new(CachePolicy::default());
    let now = UnixTime::from_secs(NOW);
    let mut first = ex.custom_token_exchange(&request(), RANDOM).unwrap();
    assert!(matches!(
        first.poll(&mut caches, now),
        Ok(Action::NeedHttp(_))
    ));
    assert_eq!(
        Flow::fetching(&first),
        Some(FetchKey::Discovery("https://tenant.example/".into()))
    );
    let mut second = ex.custom_token_exchange(&request(), RANDOM).unwrap();
    assert!(matches!(second.poll(&mut caches, now), Ok(Action::Wait(_))));
    Flow::abandon(&mut first, &mut caches);
    assert!(matches!(
        second.poll(&mut caches, now),
        Ok(Action::NeedHttp(_))
    ));
    assert!(matches!(
        first.poll(&mut caches, now),
        Err(ExchangeError::Misuse)
    ));
}

/// Each failure lands in the group of whoever is at fault: the caller's request or
/// configuration (Input), the network (Transport), the server's OAuth error response (Server),
/// or an answer that is malformed or not acceptable (Response).
#[test]
fn errors_are_grouped_by_fault() {
    fn group(e: &ExchangeError) -> &'static str {
        match e {
            ExchangeError::Input(_) => "input",
            ExchangeError::Transport(_) => "transport",
            ExchangeError::Server(_) => "server",
            ExchangeError::Response(_) => "response",
            ExchangeError::Misuse => "misuse",
        }
    }
    /// Runs a custom exchange whose token endpoint answers `token`.
    fn token_answer(token: HttpResponse) -> ExchangeError {
        let ex = exchanger();
        let mut caches = Caches::new(CachePolicy::default());
        let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
        let mut tenant = tenant(None);
        let answer = |req: &HttpRequest| {
            if req.url == TOKEN {
                token.clone()
            } else {
                tenant(req)
            }
        };
        drive(&mut flow, &mut caches, answer).0.err().unwrap()
    }
    let ex = exchanger();
    let custom = |req: CustomTokenExchange| ex.custom_token_exchange(&req, RANDOM).err().unwrap();

    let transport = {
        let mut caches = Caches::new(CachePolicy::default());
        let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
        let now = UnixTime::from_secs(NOW);
        let mut tenant = tenant(None);
        loop {
            match flow.poll(&mut caches, now) {
                Ok(Action::NeedHttp(req)) if req.url == TOKEN => {
                    let failure =
                        crate::http::TransportError::new(crate::http::TransportErrorKind::Timeout);
                    flow.handle_response(&mut caches, Err(failure), now);
                }
                Ok(Action::NeedHttp(req)) => {
                    let response = tenant(&req);
                    flow.handle_response(&mut caches, Ok(response), now);
                }
                Ok(other) => panic!("{other:?}"),
                Err(e) => break e,
            }
        }
    };
    let misuse = {
        let mut caches = Caches::new(CachePolicy::default());
        let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
        let now = UnixTime::from_secs(NOW);
        flow.handle_response(&mut caches, Ok(HttpResponse::json("{}")), now);
        flow.poll(&mut caches, now).err().unwrap()
    };
    let expired_id_token = {
        let mut caches = Caches::new(CachePolicy::default());
        let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
        let mut claims = id_claims();
        claims["exp"] = json!(NOW);
        let tenant = tenant(Some(id_token(claims)));
        drive(&mut flow, &mut caches, tenant).0.err().unwrap()
    };
    let discovery_down = {
        let mut caches = Caches::new(CachePolicy::default());
        let mut flow = ex.custom_token_exchange(&request(), RANDOM).unwrap();
        let answer = |_: &HttpRequest| HttpResponse::new(503, "text/plain", "down");
        drive(&mut flow, &mut caches, answer).0.err().unwrap()
    };

    let cases: Vec<(&str, ExchangeError, &str)> = vec![
        (
            "missing subject token",
            custom(CustomTokenExchange {
                subject_token: String::new(),
                ..request()
            }),
            "input",
        ),
        (
            "blank organization",
            custom(CustomTokenExchange {
                organization: Some(" ".into()),
                ..request()
            }),
            "input",
        ),
        (
            "actor token without its type",
            custom(CustomTokenExchange {
                actor_token: Some("a".into()),
                ..request()
            }),
            "input",
        ),
        (
            "reserved extra parameter",
            custom(CustomTokenExchange {
                extra: ExtraParameters::new().with("audience", "x"),
                ..request()
            }),
            "input",
        ),
        (
            "missing audience",
            ex.on_behalf_of(
                &OnBehalfOf {
                    access_token: "t".into(),
                    ..Default::default()
                },
                RANDOM,
            )
            .err()
            .unwrap(),
            "input",
        ),
        (
            "missing connection",
            ex.connection_token(
                &ConnectionTokenRequest {
                    subject_token: "t".into(),
                    ..Default::default()
                },
                RANDOM,
            )
            .err()
            .unwrap(),
            "input",
        ),
        (
            "plain-http token endpoint",
            params::token_request(
                "http://tenant.example/oauth/token",
                &params::FormParams::new(),
                None,
                &params::Telemetry::default(),
            )
            .err()
            .unwrap(),
            "input",
        ),
        ("no response", transport, "transport"),
        (
            "oauth error response",
            token_answer(HttpResponse::new(
                400,
                "application/json",
                r#"{"error":"invalid_grant"}"#,
            )),
            "server",
        ),
        (
            "error status without a json body",
            token_answer(HttpResponse::new(502, "text/html", "<html>")),
            "server",
        ),
        (
            "redirect",
            token_answer(HttpResponse::new(302, "text/plain", "")),
            "response",
        ),
        (
            "html success",
            token_answer(HttpResponse::new(200, "text/html", "<html>")),
            "response",
        ),
        (
            "missing access_token member",
            token_answer(HttpResponse::json(r#"{"expires_in":3600}"#)),
            "response",
        ),
        (
            "invalid expires_in member",
            token_answer(HttpResponse::json(
                r#"{"access_token":"a","expires_in":-1}"#,
            )),
            "response",
        ),
        (
            "dpop token type",
            token_answer(HttpResponse::json(typed_body(Some("DPoP"), None))),
            "response",
        ),
        ("expired id token", expired_id_token, "response"),
        ("discovery unavailable", discovery_down, "response"),
        ("poll after a response nobody asked for", misuse, "misuse"),
    ];
    for (what, error, expected) in &cases {
        assert_eq!(group(error), *expected, "{what}: {error:?}");
    }

    // The members: a missing input is not a missing response member, and the reverse.
    assert!(matches!(
        cases[4].1,
        ExchangeError::Input(InputError::MissingParameter { name: "audience" })
    ));
    assert!(matches!(
        cases[12].1,
        ExchangeError::Response(ResponseError::MissingField {
            field: "access_token"
        })
    ));
    assert_eq!(cases[8].1.oauth_error(), Some("invalid_grant"));
    assert_eq!(cases[8].1.status(), Some(400));
    assert_eq!(cases[10].1.status(), Some(302));
    assert_eq!(cases[12].1.status(), None);
}
