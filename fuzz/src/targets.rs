// Fuzz target bodies, shared by the cargo-fuzz crate (`fuzz/src/lib.rs`) and the stable replay
// test (`tests/e2e/tests/fuzz_corpus.rs`) through `include!`. Plain functions of `&[u8]`: no
// libFuzzer types here, and no inner attributes (they are not allowed in an included file).

use std::string::String;
use std::sync::OnceLock;
use std::time::Duration;
use std::vec::Vec;

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::{Signature, SigningKey, signature::Signer as _};
use serde_json::{Map, Value, json};

use auth0_api::claims::{ClaimRules, Claims};
use auth0_api::config::{DpopMode, Verifier, VerifierConfig};
use auth0_api::discovery::{check_https_url, parse_discovery};
use auth0_api::domain::Issuer;
use auth0_api::http::{HttpOutcome, HttpResponse, TransportError, TransportErrorKind};
use auth0_api::jose::Algorithm;
use auth0_api::jose::JoseError;
use auth0_api::jose::compact::{CompactJws, Limits};
use auth0_api::jose::header::Header;
use auth0_api::jose::json::DEFAULT_MAX_DEPTH;
use auth0_api::jose::jwk::{JwkSet, KeySetLimits};
use auth0_api::jose::verify::RUST_CRYPTO;
use auth0_api::extract::AuthScheme;
use auth0_api::verify::challenge::{ChallengeBuilder, ErrorCode, MAX_DESCRIPTION_CHARS};
use auth0_api::verify::context::RequestContext;
use auth0_api::verify::dpop::normalize_htu;
use auth0_api::{Action, UnixTime};

/// Every target, by the name of its corpus directory.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("compact_jws", compact_jws),
    ("jwk_set", jwk_set),
    ("discovery", discovery),
    ("verify_flow", verify_flow),
    ("claims", claims),
    ("challenge", challenge),
    ("htu", htu),
    ("domain", domain),
];

/// The tenant every target assumes.
pub const ISS: &str = "https://tenant.example/";
const DISCOVERY_URL: &str = "https://tenant.example/.well-known/openid-configuration";
const JWKS_URL: &str = "https://tenant.example/.well-known/jwks.json";
const AUD: &str = "api://orders";
const NOW: u64 = 1_700_000_000;

// RFC 7515 appendix A.2 (RSA 2048) and A.3 (P-256) keys: the RFC's example tokens, checked in
// as seeds, verify against them, so the fuzzer starts past the signature check.
const RFC_RSA_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
const RFC_EC_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const RFC_EC_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const RFC_EC_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";

fn rfc_key_set() -> &'static JwkSet {
    static SET: OnceLock<JwkSet> = OnceLock::new();
    SET.get_or_init(|| {
        let body = json!({"keys": [
            {"kty": "RSA", "n": RFC_RSA_N, "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "x": RFC_EC_X, "y": RFC_EC_Y},
        ]});
        let set = JwkSet::parse(body.to_string().as_bytes(), &RUST_CRYPTO).unwrap();
        assert_eq!(set.keys().len(), 2);
        set
    })
}

/// `compact_jws`: [`CompactJws::parse`] on any string, then verification against a fixed
/// JWK Set (the RFC 7515 appendix A keys).
pub fn compact_jws(data: &[u8]) {
    let Ok(token) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(jws) = CompactJws::parse(token, &Limits::default()) else {
        return;
    };
    // The signing input is the token up to the second dot, borrowed, never rebuilt.
    let input = jws.signing_input();
    assert!(token.as_bytes().starts_with(input));
    assert_eq!(token.as_bytes().get(input.len()), Some(&b'.'));
    assert_eq!(input.iter().filter(|b| **b == b'.').count(), 1);
    let set = rfc_key_set();
    if let Ok(key) = set.select(jws.header()) {
        let _ = jws.verify(key);
    }
    for key in set.keys() {
        match jws.verify(key) {
            Ok(()) => assert!(key.is_usable_for(jws.header().alg)),
            Err(JoseError::KeyAlgorithmMismatch) => assert!(!key.is_usable_for(jws.header().alg)),
            Err(e) => assert_eq!(e, JoseError::InvalidSignature),
        }
    }
}

/// `jwk_set`: [`JwkSet::parse`] on any body, then every key through thumbprint, the usability
/// rules and key selection.
pub fn jwk_set(data: &[u8]) {
    let Ok(set) = JwkSet::parse(data, &RUST_CRYPTO) else {
        return;
    };
    assert!(set.keys().len() + set.skipped() <= KeySetLimits::default().max_keys);
    for key in set.keys() {
        // RFC 7638: base64url of a SHA-256 digest, 43 characters.
        let thumbprint = key.thumbprint();
        assert_eq!(thumbprint.len(), 43);
        assert_eq!(key.material().key_type(), key.key_type());
        for alg in Algorithm::ALL {
            let outcome = key.verify(*alg, b"a.b", &[0u8; 64]);
            if key.is_usable_for(*alg) {
                assert_eq!(outcome, Err(JoseError::InvalidSignature));
            } else {
                assert_eq!(outcome, Err(JoseError::KeyAlgorithmMismatch));
            }
        }
    }
    let mut kids: Vec<Option<String>> = std::vec![None];
    kids.extend(set.keys().iter().filter_map(|k| k.kid()).map(|k| Some(String::from(k))));
    for kid in kids.iter().take(4) {
        for alg in Algorithm::ALL {
            let header = Header {
                alg: *alg,
                kid: kid.clone(),
                typ: None,
                jwk: None,
            };
            if let Ok(key) = set.select(&header) {
                assert!(key.is_usable_for(*alg));
                if let Some(kid) = kid {
                    assert_eq!(key.kid(), Some(kid.as_str()));
                }
            }
        }
    }
}

/// `discovery`: [`parse_discovery`] on a `200` JSON response with any body.
pub fn discovery(data: &[u8]) {
    let response = HttpResponse::json(data.to_vec());
    if let Ok(doc) = parse_discovery(ISS, &response) {
        assert_eq!(doc.issuer, ISS);
        assert!(check_https_url(&doc.jwks_uri, "jwks_uri").is_ok());
        if let Some(endpoint) = &doc.token_endpoint {
            assert!(check_https_url(endpoint, "token_endpoint").is_ok());
        }
    }
    // The same body under a non-JSON type or an error status is always refused.
    let mut wrong_type = response.clone();
    wrong_type.headers = std::vec![(String::from("content-type"), String::from("text/html"))];
    assert!(parse_discovery(ISS, &wrong_type).is_err());
    let mut redirect = response;
    redirect.status = 302;
    assert!(parse_discovery(ISS, &redirect).is_err());
}

/// `claims`: [`Claims::from_payload`] then [`Claims::validate`] at a fixed time; a claims
/// object that validates really has the checked members, and claims survive a
/// serialisation round trip.
pub fn claims(data: &[u8]) {
    let Ok(claims) = Claims::from_payload(data, DEFAULT_MAX_DEPTH) else {
        return;
    };
    let required = [String::from("sub")];
    let leeway = Duration::from_secs(60);
    let rules = ClaimRules::new(ISS, AUD)
        .with_required(&required)
        .with_leeway(leeway);
    let now = UnixTime::from_secs(NOW);
    if claims.validate(&rules, now).is_ok() {
        assert_eq!(claims.iss(), Ok(Some(ISS)));
        assert!(claims.aud().unwrap().unwrap().iter().any(|a| a == AUD));
        let exp = claims.exp().unwrap().unwrap();
        assert!(exp.saturating_add(leeway) > now);
        if let Some(nbf) = claims.nbf().unwrap() {
            assert!(nbf <= now.saturating_add(leeway));
        }
        assert!(claims.iat().unwrap().is_some());
        assert!(!matches!(claims.get("sub"), None | Some(Value::Null)));
    }
    let _ = (claims.sub(), claims.scope(), claims.scopes(), claims.cnf_jkt());
    // Nothing given is lost: the text is kept as received, and every member is found with the
    // value a tree parse of the same text holds.
    assert_eq!(claims.json().as_bytes(), data);
    let tree = auth0_api::jose::json::parse_object(data, DEFAULT_MAX_DEPTH).unwrap();
    assert_eq!(claims.len(), tree.len());
    for (name, value) in &tree {
        assert_eq!(claims.get(name).as_ref(), Some(value), "{name}");
    }
    // Serialising the claims and parsing them again gives the same claims, floats included
    // (`float_roundtrip`; seed `claims/float_not_correctly_rounded`).
    let bytes = serde_json::to_vec(&claims).unwrap();
    let again = Claims::from_payload(&bytes, DEFAULT_MAX_DEPTH).unwrap();
    assert_eq!(again, claims);
}

/// `challenge`: [`ChallengeBuilder`] with any mode, code, target, description and metadata
/// URL; every value parses back as an RFC 9110 section 11.6.1 challenge whose parameters
/// unquote to the sanitised input.
pub fn challenge(data: &[u8]) {
    let (selector, rest) = data.split_first().unwrap_or((&0, &[]));
    let text = String::from_utf8_lossy(rest);
    let mode = [DpopMode::Allowed, DpopMode::Required, DpopMode::Disabled][usize::from(selector % 3)];
    let on = if selector & 4 != 0 { AuthScheme::DPoP } else { AuthScheme::Bearer };
    let codes = [ErrorCode::InvalidRequest, ErrorCode::InvalidToken, ErrorCode::InvalidDpopProof];
    let code = codes[usize::from((selector >> 3) % 3)];
    let mut builder = ChallengeBuilder::new(mode);
    if selector & 32 == 0 {
        builder = builder.error(code, &text, on);
    }
    let metadata = selector & 64 != 0;
    if metadata {
        builder = builder.resource_metadata(&text);
    }
    let values = builder.build();
    assert!(!values.is_empty() && values.len() <= 2);
    for value in &values {
        // A header value: visible ASCII and spaces only (no CR, LF, NUL or obs-text).
        assert!(value.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{value:?}");
        let (scheme, params) = parse_challenge(value).unwrap_or_else(|| panic!("{value:?}"));
        assert!(scheme == "Bearer" || scheme == "DPoP");
        let get = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        if let Some(description) = get("error_description") {
            assert_eq!(description, sanitise(&text, MAX_DESCRIPTION_CHARS));
        }
        if let (Some(url), true) = (get("resource_metadata"), metadata) {
            assert_eq!(url, sanitise(&text, usize::MAX));
        }
    }
}

/// What the challenge quoting keeps of `text`: control characters dropped, non-ASCII as `?`,
/// at most `max` characters.
fn sanitise(text: &str, max: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(max)
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect()
}

/// Parses one challenge: `auth-scheme [ 1*SP #auth-param ]`, each parameter
/// `token BWS "=" BWS ( token / quoted-string )` (RFC 9110 sections 11.2, 11.6.1, 5.6.4).
/// Returns the scheme and the parameters with quoted strings unescaped.
fn parse_challenge(value: &str) -> Option<(String, Vec<(String, String)>)> {
    fn is_tchar(c: char) -> bool {
        c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
    }
    let mut chars = value.chars().peekable();
    let mut scheme = String::new();
    while let Some(&c) = chars.peek() {
        if !is_tchar(c) {
            break;
        }
        scheme.push(c);
        chars.next();
    }
    if scheme.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    if chars.peek().is_none() {
        return Some((scheme, params));
    }
    if chars.next() != Some(' ') {
        return None;
    }
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if !is_tchar(c) {
                break;
            }
            name.push(c);
            chars.next();
        }
        if name.is_empty() || chars.next() != Some('=') {
            return None;
        }
        let mut v = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => {
                        let c = chars.next()?;
                        if !(c == '\t' || (' '..='~').contains(&c)) {
                            return None;
                        }
                        v.push(c);
                    }
                    c if c == '\t' || c == ' ' || c == '!' || ('#'..='~').contains(&c) => {
                        v.push(c)
                    }
                    _ => return None,
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if !is_tchar(c) {
                    break;
                }
                v.push(c);
                chars.next();
            }
            if v.is_empty() {
                return None;
            }
        }
        params.push((name, v));
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        match chars.next() {
            None => return Some((scheme, params)),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

/// `htu`: [`normalize_htu`] is idempotent.
pub fn htu(data: &[u8]) {
    let Ok(url) = core::str::from_utf8(data) else {
        return;
    };
    if let Ok(normal) = normalize_htu(url) {
        assert_eq!(normalize_htu(&normal).as_deref(), Ok(normal.as_str()), "{url:?}");
    }
}

/// `domain`: [`Issuer::from_domain`] is idempotent and its output is an exact issuer.
pub fn domain(data: &[u8]) {
    let Ok(input) = core::str::from_utf8(data) else {
        return;
    };
    if let Ok(issuer) = Issuer::from_domain(input) {
        assert_eq!(Issuer::from_domain(issuer.as_str()).as_ref(), Ok(&issuer), "{input:?}");
        assert_eq!(Issuer::parse_exact(issuer.as_str()).as_ref(), Ok(&issuer), "{input:?}");
        assert!(issuer.as_str().starts_with("https://") && issuer.as_str().ends_with('/'));
        assert!(issuer.discovery_url().starts_with(issuer.as_str()));
    }
}

// ---------------------------------------------------------------------------------------------
// verify_flow
// ---------------------------------------------------------------------------------------------

/// A JSON value without deep nesting (the parsers' depth limits have their own targets).
#[derive(Arbitrary, Debug, Clone)]
pub enum Leaf {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float (NaN and infinities become `null`).
    Float(f64),
    /// A string.
    Str(String),
}

/// A JSON value at most two levels deep.
#[derive(Arbitrary, Debug, Clone)]
pub enum Json {
    /// A scalar.
    Leaf(Leaf),
    /// An array of scalars.
    Array(Vec<Leaf>),
    /// An object of scalars.
    Object(Vec<(String, Leaf)>),
}

impl Leaf {
    fn to_value(&self) -> Value {
        match self {
            Leaf::Null => Value::Null,
            Leaf::Bool(b) => Value::Bool(*b),
            Leaf::Int(i) => json!(i),
            Leaf::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Leaf::Str(s) => Value::String(s.clone()),
        }
    }
}

impl Json {
    fn to_value(&self) -> Value {
        match self {
            Json::Leaf(l) => l.to_value(),
            Json::Array(items) => Value::Array(items.iter().map(Leaf::to_value).collect()),
            Json::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// Each choice's first variant is the valid one, so an empty input is a valid token.
#[derive(Arbitrary, Debug)]
pub enum AlgChoice {
    /// `ES256`, the algorithm the token is really signed with.
    Es256,
    /// `RS256` (allowed, but the key is EC).
    Rs256,
    /// `PS256` (not allowed).
    Ps256,
    /// `none`.
    None,
    /// `HS256`.
    Hs256,
    /// Any value.
    Other(Json),
}

/// The `kid` header.
#[derive(Arbitrary, Debug)]
pub enum KidChoice {
    /// `k1`, the signing key.
    K1,
    /// Absent: two P-256 keys are published, so key selection is ambiguous.
    Absent,
    /// `k2`, another P-256 key.
    K2,
    /// `k3`, an RSA key.
    K3,
    /// Any value.
    Other(Json),
}

/// A claim that has one valid value.
#[derive(Arbitrary, Debug)]
pub enum ClaimChoice {
    /// The valid value.
    Good,
    /// Absent.
    Absent,
    /// Any value.
    Other(Json),
}

/// A NumericDate claim.
#[derive(Arbitrary, Debug)]
pub enum DateChoice {
    /// The valid value.
    Good,
    /// Absent.
    Absent,
    /// `NOW` plus this many seconds.
    Offset(i32),
    /// Any value.
    Other(Json),
}

/// A canned response for discovery or JWKS.
#[derive(Arbitrary, Debug)]
pub enum ResponseChoice {
    /// The tenant's real document.
    Good,
    /// A `200` JSON response with this body.
    Body(Vec<u8>),
    /// This status, content type and body.
    Raw(u16, String, Vec<u8>),
    /// A transport failure.
    Transport,
}

/// The authentication scheme given with the token.
#[derive(Arbitrary, Debug)]
pub enum SchemeChoice {
    /// Absent (bearer).
    Absent,
    /// `Bearer`.
    Bearer,
    /// `DPoP`.
    Dpop,
    /// Any name.
    Other(String),
}

/// Everything `verify_flow` varies.
#[derive(Arbitrary, Debug)]
pub struct FlowInput {
    alg: AlgChoice,
    kid: KidChoice,
    typ: Option<String>,
    header_extra: Vec<(String, Json)>,
    iss: ClaimChoice,
    aud: ClaimChoice,
    exp: DateChoice,
    iat: DateChoice,
    nbf: Option<DateChoice>,
    claims_extra: Vec<(String, Json)>,
    scheme: SchemeChoice,
    discovery: ResponseChoice,
    jwks: ResponseChoice,
    tamper: Option<(u16, u8)>,
    now_delta: i16,
}

fn signing_key(bytes: &[u8]) -> SigningKey {
    SigningKey::from_slice(bytes).unwrap()
}

fn ec_jwk(key: &SigningKey, kid: &str) -> Value {
    let point = key.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
           "x": B64.encode(&bytes[1..33]), "y": B64.encode(&bytes[33..65])})
}

struct Tenant {
    verifier: Verifier,
    key: SigningKey,
    discovery: Vec<u8>,
    jwks: Vec<u8>,
}

fn tenant() -> &'static Tenant {
    static TENANT: OnceLock<Tenant> = OnceLock::new();
    TENANT.get_or_init(|| {
        let key = signing_key(&B64.decode(RFC_EC_D).unwrap());
        let other = signing_key(&[7; 32]);
        let jwks = json!({"keys": [
            ec_jwk(&key, "k1"),
            ec_jwk(&other, "k2"),
            {"kty": "RSA", "kid": "k3", "use": "sig", "alg": "RS256", "n": RFC_RSA_N, "e": "AQAB"},
        ]});
        let discovery = json!({"issuer": ISS, "jwks_uri": JWKS_URL,
                               "token_endpoint": "https://tenant.example/oauth/token"});
        Tenant {
            verifier: VerifierConfig::new()
                .domain("tenant.example")
                .audience(AUD)
                .algorithms(["ES256", "RS256"])
                .build()
                .unwrap(),
            key,
            discovery: discovery.to_string().into_bytes(),
            jwks: jwks.to_string().into_bytes(),
        }
    })
}

impl FlowInput {
    /// Whether every choice is the valid one, so verification must succeed.
    fn is_valid(&self) -> bool {
        matches!(self.alg, AlgChoice::Es256)
            && matches!(self.kid, KidChoice::K1)
            && self.typ.as_deref().is_none_or(|t| t == "at+jwt")
            && self.header_extra.is_empty()
            && matches!(self.iss, ClaimChoice::Good)
            && matches!(self.aud, ClaimChoice::Good)
            && matches!(self.exp, DateChoice::Good)
            && matches!(self.iat, DateChoice::Good)
            && matches!(self.nbf, None | Some(DateChoice::Good))
            && self.claims_extra.is_empty()
            && matches!(self.scheme, SchemeChoice::Absent | SchemeChoice::Bearer)
            && matches!(self.discovery, ResponseChoice::Good)
            && matches!(self.jwks, ResponseChoice::Good)
            && self.tamper.is_none()
            && (0..600).contains(&self.now_delta)
    }

    fn token(&self, tenant: &Tenant) -> String {
        let mut header = Map::new();
        let alg = match &self.alg {
            AlgChoice::Es256 => json!("ES256"),
            AlgChoice::Rs256 => json!("RS256"),
            AlgChoice::Ps256 => json!("PS256"),
            AlgChoice::None => json!("none"),
            AlgChoice::Hs256 => json!("HS256"),
            AlgChoice::Other(v) => v.to_value(),
        };
        header.insert("alg".into(), alg);
        match &self.kid {
            KidChoice::K1 => drop(header.insert("kid".into(), json!("k1"))),
            KidChoice::Absent => {}
            KidChoice::K2 => drop(header.insert("kid".into(), json!("k2"))),
            KidChoice::K3 => drop(header.insert("kid".into(), json!("k3"))),
            KidChoice::Other(v) => drop(header.insert("kid".into(), v.to_value())),
        }
        if let Some(typ) = &self.typ {
            header.insert("typ".into(), json!(typ));
        }
        for (k, v) in &self.header_extra {
            header.insert(k.clone(), v.to_value());
        }
        let mut claims = Map::new();
        let mut put = |name: &str, choice: &ClaimChoice, good: Value| match choice {
            ClaimChoice::Good => drop(claims.insert(name.into(), good)),
            ClaimChoice::Absent => {}
            ClaimChoice::Other(v) => drop(claims.insert(name.into(), v.to_value())),
        };
        put("iss", &self.iss, json!(ISS));
        put("aud", &self.aud, json!([AUD, "https://tenant.example/userinfo"]));
        claims.insert("sub".into(), json!("auth0|user"));
        let mut date = |name: &str, choice: &DateChoice, good: u64| match choice {
            DateChoice::Good => drop(claims.insert(name.into(), json!(good))),
            DateChoice::Absent => {}
            DateChoice::Offset(d) => {
                drop(claims.insert(name.into(), json!(i64::from(*d) + NOW as i64)))
            }
            DateChoice::Other(v) => drop(claims.insert(name.into(), v.to_value())),
        };
        date("exp", &self.exp, NOW + 3600);
        date("iat", &self.iat, NOW - 10);
        if let Some(nbf) = &self.nbf {
            date("nbf", nbf, NOW - 10);
        }
        for (k, v) in &self.claims_extra {
            claims.insert(k.clone(), v.to_value());
        }
        let input = std::format!(
            "{}.{}",
            B64.encode(Value::Object(header).to_string()),
            B64.encode(Value::Object(claims).to_string())
        );
        let sig: Signature = tenant.key.sign(input.as_bytes());
        let mut token = std::format!("{input}.{}", B64.encode(sig.to_bytes())).into_bytes();
        if let Some((at, xor)) = self.tamper {
            let len = token.len();
            if let Some(b) = token.get_mut(usize::from(at) % len) {
                // Stay within base64url and dots so the token is still a string.
                let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
                *b = alphabet[usize::from(xor) % alphabet.len()];
            }
        }
        String::from_utf8(token).unwrap()
    }
}

fn respond(choice: &ResponseChoice, good: &[u8]) -> HttpOutcome {
    match choice {
        ResponseChoice::Good => Ok(HttpResponse::json(good.to_vec())),
        ResponseChoice::Body(body) => Ok(HttpResponse::json(body.clone())),
        ResponseChoice::Raw(status, content_type, body) => {
            Ok(HttpResponse::new(*status, content_type, body.clone()))
        }
        ResponseChoice::Transport => Err(TransportError::new(TransportErrorKind::Connect)),
    }
}

/// `verify_flow`: the whole `verify_access_token` flow on a token built from the input (signed
/// with the tenant's real key, so the signature check passes unless the input breaks it), with
/// canned discovery and JWKS responses. Checks that a lone flow never waits, finishes within a
/// few polls, keeps its error sticky, never echoes token contents in errors, accepts a valid
/// token, and that a warm verification (`poll_shared`) agrees with the cold one.
pub fn verify_flow(data: &[u8]) {
    let Ok(input) = FlowInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let tenant = tenant();
    let token = input.token(tenant);
    let ctx = RequestContext {
        scheme: match &input.scheme {
            SchemeChoice::Absent => None,
            SchemeChoice::Bearer => Some("Bearer"),
            SchemeChoice::Dpop => Some("DPoP"),
            SchemeChoice::Other(s) => Some(s.as_str()),
        },
        ..RequestContext::default()
    };
    let now = UnixTime::from_secs(NOW.saturating_add_signed(i64::from(input.now_delta)));
    let mut caches = tenant.verifier.new_caches();
    let mut requests = 0;
    let outcome = match tenant.verifier.verify_access_token(&token, &ctx) {
        Err(e) => Err(e),
        Ok(mut flow) => {
            let mut polls = 0;
            loop {
                polls += 1;
                assert!(polls <= 6, "flow did not finish");
                match flow.poll(&mut caches, now) {
                    Err(e) => {
                        // Sticky: every later poll returns the same error.
                        assert_eq!(flow.poll(&mut caches, now).err(), Some(e.clone()));
                        break Err(e);
                    }
                    Ok(Action::NeedHttp(req)) => {
                        requests += 1;
                        let answer = match req.url.as_str() {
                            DISCOVERY_URL => respond(&input.discovery, &tenant.discovery),
                            JWKS_URL => respond(&input.jwks, &tenant.jwks),
                            other => panic!("unexpected request to {other}"),
                        };
                        flow.handle_response(&mut caches, answer, now);
                    }
                    Ok(Action::Wait(key)) => panic!("a lone flow waits for {key:?}"),
                    Ok(Action::Done(claims)) => break Ok(claims),
                }
            }
        }
    };
    // Discovery, JWKS, and at most one refetch of the JWKS.
    assert!(requests <= 3, "{requests} requests");
    if input.is_valid() {
        assert!(outcome.is_ok(), "{outcome:?}");
    }
    match &outcome {
        Ok(claims) => {
            assert_eq!(claims.iss(), Ok(Some(ISS)));
            // Warm: the same token again with shared access to the now filled caches.
            let mut warm = tenant.verifier.verify_access_token(&token, &ctx).unwrap();
            match warm.poll_shared(&caches, now) {
                Some(Ok(again)) => assert_eq!(&again, claims),
                other => panic!("warm verification disagrees: {other:?}"),
            }
        }
        Err(e) => {
            let message = std::format!("{e} {:?}", e.www_authenticate());
            for segment in token.split('.').filter(|s| s.len() >= 12) {
                assert!(!message.contains(segment), "error echoes the token");
            }
        }
    }
}
