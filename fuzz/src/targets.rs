// Fuzz target bodies, shared by the cargo-fuzz crate (`fuzz/src/lib.rs`) and the stable replay
// test (`tests/e2e/tests/fuzz_corpus.rs`) through `include!`. Plain functions of `&[u8]`: no
// libFuzzer types here, and no inner attributes (they are not allowed in an included file).

use std::boxed::Box;
use std::string::String;
use std::sync::OnceLock;
use std::time::Duration;
use std::vec::Vec;

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::{Signature, SigningKey, signature::Signer as _};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use auth0_api::cache::{ReplayCache, ReplayKey};
use auth0_api::{ClaimRules, Claims, DeniedKind, Policy};
use auth0_api::{DpopMode, Verifier, VerifierConfig};
use auth0_api::internals::{check_https_url, parse_discovery};
use auth0_api::Issuer;
use auth0_api::exchange::{
    ExchangeError, InputError, ResponseError, RetryAfter, ServerError,
};
use auth0_api::exchange::{IdToken, MAX_EXPIRES_IN, RefreshToken};
use auth0_api::internals::{TokenResponse, parse_token_response};
use auth0_api::exchange::{ACCESS_TOKEN_TYPE, CONNECTION_TOKEN_TYPE};
use auth0_api::extract::AuthScheme;
use auth0_api::extract::{
    ExtractError, MAX_FORM_BODY, MAX_TOKEN_LEN, TokenLocation, extract_token,
    extract_token_from_request,
};
use auth0_api::{
    HttpOutcome, HttpResponse, MAX_RESPONSE_BODY, TransportError, TransportErrorKind,
};
use auth0_api::jose::Algorithm;
use auth0_api::jose::JoseError;
use auth0_api::Limits;
use auth0_api::internals::CompactJws;
use auth0_api::internals::Header;
use auth0_api::internals::json::{DEFAULT_MAX_DEPTH, parse_object};
use auth0_api::jose::jwk::{JwkSet, KeySetLimits};
use auth0_api::jose::verify::RUST_CRYPTO;
use auth0_api::{NumericDate, NumericDateError};
use auth0_api::verify::challenge::{ChallengeBuilder, ErrorCode, MAX_DESCRIPTION_CHARS};
use auth0_api::RequestContext;
use auth0_api::verify::dpop::{
    DpopError, MAX_JTI_LEN, ProofInput, VerifiedProof, access_token_hash, normalize_htu,
    verify_proof,
};
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
    ("dpop_proof", dpop_proof),
    ("token_response", token_response),
    ("extract", extract),
    ("numeric_date", numeric_date),
    ("policy", policy),
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
    kids.extend(
        set.keys()
            .iter()
            .filter_map(|k| k.kid())
            .map(|k| Some(String::from(k))),
    );
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
        // Whole seconds are enough here: a fraction only moves a date within its second.
        let exp = claims.exp().unwrap().unwrap().floor();
        assert!(exp.saturating_add(leeway) >= now);
        if let Some(nbf) = claims.nbf().unwrap() {
            assert!(nbf.floor() <= now.saturating_add(leeway));
        }
        assert!(claims.iat().unwrap().is_some());
        assert!(!matches!(claims.get("sub"), None | Some(Value::Null)));
    }
    let _ = (
        claims.sub(),
        claims.scope(),
        claims.scopes(),
        claims.cnf_jkt(),
    );
    // Nothing given is lost: the text is kept as received, and every member is found with the
    // value a tree parse of the same text holds.
    assert_eq!(claims.json().as_bytes(), data);
    let tree = auth0_api::internals::json::parse_object(data, DEFAULT_MAX_DEPTH).unwrap();
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
    let mode =
        [DpopMode::Allowed, DpopMode::Required, DpopMode::Disabled][usize::from(selector % 3)];
    let on = if selector & 4 != 0 {
        AuthScheme::DPoP
    } else {
        AuthScheme::Bearer
    };
    let codes = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidToken,
        ErrorCode::InvalidDpopProof,
    ];
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
        assert!(
            value.bytes().all(|b| (0x20..=0x7e).contains(&b)),
            "{value:?}"
        );
        let (scheme, params) = parse_challenge(value).unwrap_or_else(|| panic!("{value:?}"));
        assert!(scheme == "Bearer" || scheme == "DPoP");
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
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
    // The longest run of token characters (RFC 9110 section 5.6.2) at the front.
    fn take_token(chars: &mut core::iter::Peekable<core::str::Chars<'_>>) -> String {
        let mut token = String::new();
        while let Some(&c) = chars.peek() {
            if !is_tchar(c) {
                break;
            }
            token.push(c);
            chars.next();
        }
        token
    }
    let mut chars = value.chars().peekable();
    let scheme = take_token(&mut chars);
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
        let name = take_token(&mut chars);
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
                    c if c == '\t' || c == ' ' || c == '!' || ('#'..='~').contains(&c) => v.push(c),
                    _ => return None,
                }
            }
        } else {
            v = take_token(&mut chars);
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
        assert_eq!(
            normalize_htu(&normal).as_deref(),
            Ok(normal.as_str()),
            "{url:?}"
        );
    }
}

/// `numeric_date`: [`NumericDate::from_json`] agrees with serde_json on what a JSON number is,
/// and its value with the nearest `f64` (within that float's own rounding).
pub fn numeric_date(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let ours = NumericDate::from_json(text);
    // serde_json also takes white space around the number; the reader takes the number's
    // own text, as the JSON index hands it over.
    if text.trim_matches([' ', '\t', '\n', '\r']) != text {
        assert_eq!(ours, Err(NumericDateError::NotANumber), "{text:?}");
        return;
    }
    let theirs = serde_json::from_str::<serde_json::Number>(text);
    match (&ours, &theirs) {
        (Err(NumericDateError::NotANumber), Ok(_)) => panic!("{text:?} is a JSON number"),
        (Ok(_), Err(e)) if !e.to_string().contains("out of range") => {
            panic!("{text:?} is not a JSON number: {e}")
        }
        _ => {}
    }
    let Some(value) = theirs.ok().and_then(|n| n.as_f64()) else {
        return;
    };
    match ours {
        Ok(date) => {
            let secs = date.floor().as_secs() as f64;
            // The float may round up to the next whole second, never further.
            assert!(
                value >= secs * (1.0 - 1e-15) - 1e-300,
                "{text:?}: {value} < {secs}"
            );
            assert!(
                value <= (secs + 1.0) * (1.0 + 1e-15),
                "{text:?}: {value} > {secs} + 1"
            );
            if !date.has_fraction() && secs < 9.0e15 {
                assert_eq!(value, secs, "{text:?}");
            }
        }
        Err(NumericDateError::Negative) => assert!(value <= 0.0, "{text:?}"),
        Err(NumericDateError::TooLarge) => {
            assert!(value >= 1.8e19, "{text:?}: {value}");
        }
        Err(e) => panic!("{text:?}: {e:?}"),
    }
}

/// `domain`: [`Issuer::from_domain`] is idempotent and its output is an exact issuer.
pub fn domain(data: &[u8]) {
    let Ok(input) = core::str::from_utf8(data) else {
        return;
    };
    if let Ok(issuer) = Issuer::from_domain(input) {
        assert_eq!(
            Issuer::from_domain(issuer.as_str()).as_ref(),
            Ok(&issuer),
            "{input:?}"
        );
        assert_eq!(
            Issuer::parse_exact(issuer.as_str()).as_ref(),
            Ok(&issuer),
            "{input:?}"
        );
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

impl AlgChoice {
    fn to_value(&self) -> Value {
        match self {
            AlgChoice::Es256 => json!("ES256"),
            AlgChoice::Rs256 => json!("RS256"),
            AlgChoice::Ps256 => json!("PS256"),
            AlgChoice::None => json!("none"),
            AlgChoice::Hs256 => json!("HS256"),
            AlgChoice::Other(v) => v.to_value(),
        }
    }
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
        header.insert("alg".into(), self.alg.to_value());
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
        put(
            "aud",
            &self.aud,
            json!([AUD, "https://tenant.example/userinfo"]),
        );
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
        sign_compact(header, claims, &tenant.key, self.tamper)
    }
}

/// A compact JWS of `header` and `claims` signed with `key` (ES256), then, with `tamper`, one
/// character replaced (at `at`, by the `xor`th of base64url and `.`, so it stays a string).
fn sign_compact(
    header: Map<String, Value>,
    claims: Map<String, Value>,
    key: &SigningKey,
    tamper: Option<(u16, u8)>,
) -> String {
    let input = std::format!(
        "{}.{}",
        B64.encode(Value::Object(header).to_string()),
        B64.encode(Value::Object(claims).to_string())
    );
    let sig: Signature = key.sign(input.as_bytes());
    let mut token = std::format!("{input}.{}", B64.encode(sig.to_bytes())).into_bytes();
    if let Some((at, xor)) = tamper {
        let len = token.len();
        if let Some(b) = token.get_mut(usize::from(at) % len) {
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
            *b = alphabet[usize::from(xor) % alphabet.len()];
        }
    }
    String::from_utf8(token).unwrap()
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
                    Ok(Action::CheckReplay(check)) => {
                        panic!("no external replay check was configured: {check:?}")
                    }
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

// ---------------------------------------------------------------------------------------------
// dpop_proof
// ---------------------------------------------------------------------------------------------

// RFC 9449 figure 13: the proof for `GET https://resource.example.org/protectedresource`,
// bound to the access token below, made at `RFC9449_IAT` by the key with thumbprint
// `RFC9449_JKT`. Inputs that start like a JWS (`eyJ`) are verified as a proof of this request.
const RFC9449_FIG13: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA";
const RFC9449_URL: &str = "https://resource.example.org/protectedresource";
const RFC9449_TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
const RFC9449_ATH: &str = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo";
const RFC9449_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
const RFC9449_X: &str = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs";
const RFC9449_Y: &str = "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA";
const RFC9449_IAT: u64 = 1_562_262_618;

/// URLs equal to `RFC9449_URL` after RFC 3986 section 6.2.2 and 6.2.3 normalisation: scheme
/// and host case, default, empty and zero-padded port, query and fragment, an encoded
/// unreserved character.
const HTU_SAME: &[&str] = &[
    RFC9449_URL,
    "HTTPS://Resource.Example.ORG/protectedresource",
    "https://resource.example.org:443/protectedresource",
    "https://resource.example.org:/protectedresource",
    "https://resource.example.org:00443/protectedresource",
    "https://resource.example.org/protectedresource?a=1&b#frag",
    "https://resource.example.org/%70rotected%72esource",
];

/// URLs that differ from `RFC9449_URL` under the rules `normalize_htu` documents: scheme,
/// port, host, trailing slash, path case, trailing dot, unresolved dot segment, double slash.
const HTU_OTHER: &[&str] = &[
    "http://resource.example.org/protectedresource",
    "https://resource.example.org:8443/protectedresource",
    "https://other.example.org/protectedresource",
    "https://resource.example.org/protectedresource/",
    "https://resource.example.org/ProtectedResource",
    "https://resource.example.org./protectedresource",
    "https://resource.example.org/x/../protectedresource",
    "https://resource.example.org//protectedresource",
];

/// JWK members that hold private key material (RFC 7518 section 6).
const PRIVATE_JWK_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The proof claims `verify_proof` checks; other claims are ignored.
const CHECKED_PROOF_CLAIMS: &[&str] = &["jti", "iat", "htm", "htu", "ath"];

/// base64url of the SHA-256 of `text`: RFC 9449 `ath`, computed here rather than by the crate.
fn sha256_b64(text: &str) -> String {
    B64.encode(Sha256::digest(text.as_bytes()))
}

/// The RFC 7638 thumbprint of a P-256 public key given by its JWK `x` and `y`, computed here
/// rather than by the crate.
fn ec_thumbprint(x: &str, y: &str) -> String {
    sha256_b64(&std::format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
    ))
}

/// Whether `typ` names `application/dpop+jwt` (RFC 9449 section 4.2, RFC 7515 section
/// 4.1.9: the `application/` prefix may be left out; media types ignore case).
fn names_dpop_jwt(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    typ == "dpop+jwt" || typ == "application/dpop+jwt"
}

/// A NumericDate claim as whole seconds: an integer, or a non-negative float truncated;
/// `None` for anything no instant can equal.
fn numeric_date_secs(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            let f = n.as_f64()?;
            // 2^64: the first float beyond every u64.
            (n.as_i64().is_none() && (0.0..18_446_744_073_709_551_616.0).contains(&f))
                .then_some(f as u64)
        }),
        _ => None,
    }
}

/// Segment `index` (0: header, 1: claims) of a compact JWS as a JSON object, decoded here
/// without the crate: three segments, base64url without padding.
fn jws_object(jws: &str, index: usize) -> Option<Map<String, Value>> {
    let segments: Vec<&str> = jws.split('.').collect();
    if segments.len() != 3 {
        return None;
    }
    serde_json::from_slice(&B64.decode(segments[index]).ok()?).ok()
}

/// Whether `iat` (seconds) lies in the proof window of `input`.
fn iat_in_window(input: &ProofInput<'_>, iat: Option<u64>) -> bool {
    let now = input.now.as_secs();
    let earliest = now.saturating_sub(input.iat_offset.as_secs());
    let latest = now.saturating_add(input.iat_leeway.as_secs());
    iat.is_some_and(|iat| (earliest..=latest).contains(&iat))
}

/// A fixed P-256 proof key.
struct ProofKey {
    signing: SigningKey,
    x: String,
    y: String,
    /// Its RFC 7638 thumbprint, computed by [`ec_thumbprint`].
    jkt: String,
}

impl ProofKey {
    fn public_jwk(&self) -> Map<String, Value> {
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y});
        jwk.as_object().unwrap().clone()
    }
}

/// The two proof keys: the RFC 7515 appendix A.3 key and another fixed one.
fn proof_keys() -> &'static [ProofKey; 2] {
    static KEYS: OnceLock<[ProofKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        // This file's own thumbprint and `ath` agree with RFC 9449's examples.
        assert_eq!(ec_thumbprint(RFC9449_X, RFC9449_Y), RFC9449_JKT);
        assert_eq!(sha256_b64(RFC9449_TOKEN), RFC9449_ATH);
        let key = |d: &[u8]| {
            let signing = signing_key(d);
            let point = signing.verifying_key().to_sec1_point(false);
            let bytes = point.as_bytes();
            let (x, y) = (B64.encode(&bytes[1..33]), B64.encode(&bytes[33..65]));
            let jkt = ec_thumbprint(&x, &y);
            ProofKey { signing, x, y, jkt }
        };
        [key(&B64.decode(RFC_EC_D).unwrap()), key(&[7; 32])]
    })
}

/// The key that signs a proof.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ProofKeyChoice {
    /// The RFC 7515 appendix A.3 key.
    First,
    /// Another fixed P-256 key.
    Second,
}

/// The proof header `typ`.
#[derive(Arbitrary, Debug)]
pub enum TypChoice {
    /// `dpop+jwt`.
    Dpop,
    /// One of [`TYP_NAMES`], some of them `dpop+jwt` in another spelling.
    Named(u8),
    /// Absent.
    Absent,
    /// Any value.
    Other(Json),
}

/// `typ` values that are, or nearly are, `dpop+jwt`.
const TYP_NAMES: &[&str] = &[
    "DPoP+JWT",
    "application/dpop+jwt",
    "Application/DPOP+JWT",
    "jwt",
    "at+jwt",
    "dpop",
    "dpop+jwt; v=1",
    " dpop+jwt",
    "application/",
    "application/at+jwt",
    "applicationdpop+jwt",
    "application/application/dpop+jwt",
];

/// The proof header `jwk`.
#[derive(Arbitrary, Debug)]
pub enum JwkChoice {
    /// The signing key's public JWK.
    Signer,
    /// The signing key's public JWK with these members added or replaced.
    SignerWith(Vec<(String, Json)>),
    /// The other proof key's public JWK: the signature does not verify with it.
    OtherKey,
    /// The signing key's JWK with its private scalar `d`.
    Private,
    /// Absent.
    Absent,
    /// Any value.
    Other(Json),
}

/// The `htm` claim.
#[derive(Arbitrary, Debug)]
pub enum HtmChoice {
    /// The request method.
    Method,
    /// The request method with its ASCII case swapped.
    SwappedCase,
    /// Absent.
    Absent,
    /// Any value.
    Other(Json),
}

/// The `htu` claim.
#[derive(Arbitrary, Debug)]
pub enum HtuChoice {
    /// The request URL, as given.
    Url,
    /// One of [`HTU_SAME`] then [`HTU_OTHER`].
    Known(u8),
    /// Absent.
    Absent,
    /// Any value.
    Other(Json),
}

/// The `ath` claim.
#[derive(Arbitrary, Debug)]
pub enum AthChoice {
    /// The hash of the access token.
    Token,
    /// Absent.
    Absent,
    /// The hash of another access token.
    OtherToken,
    /// Any value.
    Other(Json),
}

/// Everything a signed proof varies.
#[derive(Arbitrary, Debug)]
pub struct ProofSpec {
    key: ProofKeyChoice,
    typ: TypChoice,
    alg: AlgChoice,
    jwk: JwkChoice,
    header_extra: Vec<(String, Json)>,
    jti: ClaimChoice,
    iat: DateChoice,
    htm: HtmChoice,
    htu: HtuChoice,
    ath: AthChoice,
    nonce: Option<Json>,
    claims_extra: Vec<(String, Json)>,
    tamper: Option<(u16, u8)>,
    /// The proof twice, joined with a comma, as two `DPoP` header fields would arrive.
    twice: bool,
}

/// The `DPoP` header value.
#[derive(Arbitrary, Debug)]
pub enum ProofChoice {
    /// A proof built from the spec and really signed.
    Signed(Box<ProofSpec>),
    /// Any text.
    Raw(String),
    /// No `DPoP` header.
    Absent,
}

/// The request method.
#[derive(Arbitrary, Debug)]
pub enum MethodChoice {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// Any text.
    Other(String),
    /// Not given.
    Absent,
}

/// The request URL.
#[derive(Arbitrary, Debug)]
pub enum UrlChoice {
    /// One of [`HTU_SAME`].
    Known(u8),
    /// Any text.
    Other(String),
    /// Not given.
    Absent,
}

/// The access token the proof is checked against.
#[derive(Arbitrary, Debug)]
pub enum TokenChoice {
    /// RFC 9449's example access token.
    Rfc9449,
    /// Any text.
    Other(String),
}

/// The token's `cnf.jkt`.
#[derive(Arbitrary, Debug)]
pub enum JktChoice {
    /// The thumbprint of the key that signs the proof.
    Signer,
    /// The thumbprint of the other proof key.
    OtherKey,
    /// Any text.
    Other(String),
}

/// The current time.
#[derive(Arbitrary, Debug)]
pub enum NowChoice {
    /// `NOW`.
    Fixed,
    /// Any instant, the ends of time included.
    Any(u64),
}

/// Everything `dpop_proof` varies. Each choice's first variant is the valid one, so an empty
/// input is a valid proof.
#[derive(Arbitrary, Debug)]
pub struct DpopInput {
    proof: ProofChoice,
    method: MethodChoice,
    url: UrlChoice,
    token: TokenChoice,
    jkt: JktChoice,
    now: NowChoice,
    /// `iat_offset` and `iat_leeway` in seconds, instead of the defaults.
    window: Option<(u16, u16)>,
    /// A replay cache of this capacity (modulo 3, so 0 happens).
    replay: Option<u8>,
}

/// `url` of [`HtuChoice::Known`]: [`HTU_SAME`], then [`HTU_OTHER`].
fn known_htu(index: u8) -> (&'static str, bool) {
    let index = usize::from(index) % (HTU_SAME.len() + HTU_OTHER.len());
    match HTU_SAME.get(index) {
        Some(url) => (url, true),
        None => (HTU_OTHER[index - HTU_SAME.len()], false),
    }
}

/// Whether a JWK member added to the signing key's public JWK leaves it usable for ES256
/// (RFC 7517 sections 4.2 to 4.4: `use` `sig`, `key_ops` with `verify`, `alg` `ES256`;
/// unknown members are ignored).
fn harmless_jwk_member(name: &str, value: &Value, key: &ProofKey) -> bool {
    match name {
        "kty" => value == "EC",
        "crv" => value == "P-256",
        "x" => *value == key.x,
        "y" => *value == key.y,
        "kid" => value.is_string(),
        "use" => value == "sig",
        "alg" => value == "ES256",
        "key_ops" => value.as_array().is_some_and(|ops| {
            ops.iter().all(Value::is_string)
                && ops.iter().any(|op| op == "verify")
                && ops.iter().enumerate().all(|(i, op)| !ops[..i].contains(op))
        }),
        name => !PRIVATE_JWK_MEMBERS.contains(&name),
    }
}

/// Whether a header member added to a proof leaves it valid: members a JWS recipient must
/// understand (`crit`, `b64` other than `true`) or that replace checked ones do not.
fn harmless_header_member(name: &str, value: &Value) -> bool {
    match name {
        "alg" | "typ" | "jwk" | "crit" => false,
        "b64" => *value == Value::Bool(true),
        "kid" => value.is_string(),
        _ => true,
    }
}

/// An integer claim value: a `u64` or `i64` when it fits, else a float.
fn integer_value(v: i128) -> Value {
    if let Ok(u) = u64::try_from(v) {
        json!(u)
    } else if let Ok(i) = i64::try_from(v) {
        json!(i)
    } else {
        json!(v as f64)
    }
}

impl DpopInput {
    fn method(&self) -> Option<&str> {
        match &self.method {
            MethodChoice::Get => Some("GET"),
            MethodChoice::Post => Some("POST"),
            MethodChoice::Other(m) => Some(m),
            MethodChoice::Absent => None,
        }
    }

    fn url(&self) -> Option<&str> {
        match &self.url {
            UrlChoice::Known(i) => Some(HTU_SAME[usize::from(*i) % HTU_SAME.len()]),
            UrlChoice::Other(u) => Some(u),
            UrlChoice::Absent => None,
        }
    }

    fn token(&self) -> &str {
        match &self.token {
            TokenChoice::Rfc9449 => RFC9449_TOKEN,
            TokenChoice::Other(t) => t,
        }
    }

    fn now(&self) -> UnixTime {
        match self.now {
            NowChoice::Fixed => UnixTime::from_secs(NOW),
            NowChoice::Any(secs) => UnixTime::from_secs(secs),
        }
    }

    fn jkt(&self) -> &str {
        let keys = proof_keys();
        let signer = match &self.proof {
            ProofChoice::Signed(spec) => spec.key,
            _ => ProofKeyChoice::First,
        };
        let (mine, other) = match signer {
            ProofKeyChoice::First => (&keys[0], &keys[1]),
            ProofKeyChoice::Second => (&keys[1], &keys[0]),
        };
        match &self.jkt {
            JktChoice::Signer => &mine.jkt,
            JktChoice::OtherKey => &other.jkt,
            JktChoice::Other(jkt) => jkt,
        }
    }

    fn proof_input<'a>(&'a self, proof: Option<&'a str>) -> ProofInput<'a> {
        let mut input = ProofInput::new(
            proof,
            self.token(),
            self.jkt(),
            self.method(),
            self.url(),
            self.now(),
        );
        if let Some((offset, leeway)) = self.window {
            input.iat_offset = Duration::from_secs(offset.into());
            input.iat_leeway = Duration::from_secs(leeway.into());
        }
        input
    }

    /// The `iat` of [`DateChoice::Good`] and [`DateChoice::Offset`], as an exact integer.
    fn iat(&self, choice: &DateChoice) -> Option<i128> {
        let now = i128::from(self.now().as_secs());
        match choice {
            DateChoice::Good => Some(now),
            DateChoice::Offset(d) => Some(now + i128::from(*d)),
            DateChoice::Absent | DateChoice::Other(_) => None,
        }
    }

    /// Whether the proof's `htu` and the request URL are the same resource, when the input
    /// says so without asking the crate.
    fn htu_matches(&self, spec: &ProofSpec) -> Option<bool> {
        match (&self.url, &spec.htu) {
            (UrlChoice::Absent, _) | (_, HtuChoice::Other(_)) => None,
            (_, HtuChoice::Absent) => Some(false),
            (_, HtuChoice::Url) => Some(true),
            (UrlChoice::Known(_), HtuChoice::Known(i)) => Some(known_htu(*i).1),
            (UrlChoice::Other(_), HtuChoice::Known(_)) => None,
        }
    }

    fn sign(&self, spec: &ProofSpec) -> String {
        let keys = proof_keys();
        let (key, other) = match spec.key {
            ProofKeyChoice::First => (&keys[0], &keys[1]),
            ProofKeyChoice::Second => (&keys[1], &keys[0]),
        };
        let mut header = Map::new();
        match &spec.typ {
            TypChoice::Dpop => drop(header.insert("typ".into(), json!("dpop+jwt"))),
            TypChoice::Named(i) => {
                let name = TYP_NAMES[usize::from(*i) % TYP_NAMES.len()];
                drop(header.insert("typ".into(), json!(name)))
            }
            TypChoice::Absent => {}
            TypChoice::Other(v) => drop(header.insert("typ".into(), v.to_value())),
        }
        header.insert("alg".into(), spec.alg.to_value());
        let jwk = match &spec.jwk {
            JwkChoice::Signer => Some(Value::Object(key.public_jwk())),
            JwkChoice::SignerWith(extra) => {
                let mut jwk = key.public_jwk();
                for (k, v) in extra {
                    jwk.insert(k.clone(), v.to_value());
                }
                Some(Value::Object(jwk))
            }
            JwkChoice::OtherKey => Some(Value::Object(other.public_jwk())),
            JwkChoice::Private => {
                let mut jwk = key.public_jwk();
                jwk.insert("d".into(), json!(B64.encode(key.signing.to_bytes())));
                Some(Value::Object(jwk))
            }
            JwkChoice::Absent => None,
            JwkChoice::Other(v) => Some(v.to_value()),
        };
        if let Some(jwk) = jwk {
            header.insert("jwk".into(), jwk);
        }
        for (k, v) in &spec.header_extra {
            header.insert(k.clone(), v.to_value());
        }

        let mut claims = Map::new();
        match &spec.jti {
            ClaimChoice::Good => drop(claims.insert("jti".into(), json!("e1j3V_bKic8-LAEB"))),
            ClaimChoice::Absent => {}
            ClaimChoice::Other(v) => drop(claims.insert("jti".into(), v.to_value())),
        }
        match (&spec.iat, self.iat(&spec.iat)) {
            (_, Some(iat)) => drop(claims.insert("iat".into(), integer_value(iat))),
            (DateChoice::Other(v), None) => drop(claims.insert("iat".into(), v.to_value())),
            _ => {}
        }
        let method = self.method().unwrap_or("GET");
        let htm = match &spec.htm {
            HtmChoice::Method => Some(json!(method)),
            HtmChoice::SwappedCase => Some(json!(
                method
                    .chars()
                    .map(|c| if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    })
                    .collect::<String>()
            )),
            HtmChoice::Absent => None,
            HtmChoice::Other(v) => Some(v.to_value()),
        };
        if let Some(htm) = htm {
            claims.insert("htm".into(), htm);
        }
        let htu = match &spec.htu {
            HtuChoice::Url => Some(json!(self.url().unwrap_or(RFC9449_URL))),
            HtuChoice::Known(i) => Some(json!(known_htu(*i).0)),
            HtuChoice::Absent => None,
            HtuChoice::Other(v) => Some(v.to_value()),
        };
        if let Some(htu) = htu {
            claims.insert("htu".into(), htu);
        }
        let ath = match &spec.ath {
            AthChoice::Token => Some(json!(sha256_b64(self.token()))),
            AthChoice::Absent => None,
            AthChoice::OtherToken => Some(json!(sha256_b64(&std::format!("{}x", self.token())))),
            AthChoice::Other(v) => Some(v.to_value()),
        };
        if let Some(ath) = ath {
            claims.insert("ath".into(), ath);
        }
        if let Some(nonce) = &spec.nonce {
            claims.insert("nonce".into(), nonce.to_value());
        }
        for (k, v) in &spec.claims_extra {
            claims.insert(k.clone(), v.to_value());
        }

        let proof = sign_compact(header, claims, &key.signing, spec.tamper);
        if spec.twice {
            std::format!("{proof},{proof}")
        } else {
            proof
        }
    }

    fn signer(&self, spec: &ProofSpec) -> &'static ProofKey {
        &proof_keys()[match spec.key {
            ProofKeyChoice::First => 0,
            ProofKeyChoice::Second => 1,
        }]
    }

    /// Whether the header `jwk` is the signing key's public key, so the signature verifies
    /// unless the proof was tampered with.
    fn jwk_is_signer(&self, spec: &ProofSpec) -> bool {
        let key = self.signer(spec);
        if spec.header_extra.iter().any(|(k, _)| k == "jwk") {
            return false;
        }
        match &spec.jwk {
            JwkChoice::Signer => true,
            JwkChoice::SignerWith(extra) => extra
                .iter()
                .all(|(k, v)| harmless_jwk_member(k, &v.to_value(), key)),
            _ => false,
        }
    }

    /// Whether every choice is a valid one, so the proof must be accepted.
    fn is_valid(&self, proof: &str) -> bool {
        let ProofChoice::Signed(spec) = &self.proof else {
            return false;
        };
        let input = self.proof_input(None);
        let typ = match &spec.typ {
            TypChoice::Dpop => true,
            TypChoice::Named(i) => names_dpop_jwt(TYP_NAMES[usize::from(*i) % TYP_NAMES.len()]),
            TypChoice::Absent => false,
            TypChoice::Other(v) => v.to_value().as_str().is_some_and(names_dpop_jwt),
        };
        let iat = self.iat(&spec.iat).and_then(|iat| u64::try_from(iat).ok());
        typ && matches!(spec.alg, AlgChoice::Es256)
            && self.jwk_is_signer(spec)
            && spec
                .header_extra
                .iter()
                .all(|(k, v)| harmless_header_member(k, &v.to_value()))
            && matches!(spec.jti, ClaimChoice::Good)
            && iat_in_window(&input, iat)
            && matches!(spec.htm, HtmChoice::Method | HtmChoice::SwappedCase)
            && self.method().is_some_and(|m| !m.is_empty())
            && self.url().is_some_and(|u| normalize_htu(u).is_ok())
            && self.htu_matches(spec) == Some(true)
            && matches!(spec.ath, AthChoice::Token)
            && spec
                .claims_extra
                .iter()
                .all(|(k, _)| !CHECKED_PROOF_CLAIMS.contains(&k.as_str()))
            && spec.tamper.is_none()
            && !spec.twice
            && matches!(self.jkt, JktChoice::Signer)
            && proof.len() <= Limits::default().max_token_len
    }
}

/// What must hold of every accepted proof, checked on the proof decoded here: RFC 9449
/// section 4.3 checks 4 to 12 and section 7.1 `ath` and `jkt`.
fn check_accepted(input: &ProofInput<'_>, verified: &VerifiedProof) {
    let proof = input.proof.unwrap();
    assert!(!proof.contains(','), "several proofs accepted");
    assert!(proof.len() <= input.limits.max_token_len);
    let header = jws_object(proof, 0).expect("an accepted proof has a JSON header");
    let claims = jws_object(proof, 1).expect("an accepted proof has JSON claims");
    let text = |map: &Map<String, Value>, name: &str| -> String {
        let value = map.get(name).and_then(Value::as_str);
        String::from(value.unwrap_or_else(|| panic!("accepted without a string {name}")))
    };
    assert!(names_dpop_jwt(&text(&header, "typ")));
    assert_eq!(text(&header, "alg"), "ES256");
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .expect("accepted without jwk");
    assert_eq!(
        (text(jwk, "kty"), text(jwk, "crv")),
        ("EC".into(), "P-256".into())
    );
    assert!(
        PRIVATE_JWK_MEMBERS.iter().all(|m| !jwk.contains_key(*m)),
        "private jwk"
    );
    assert_eq!(
        verified.jkt,
        ec_thumbprint(&text(jwk, "x"), &text(jwk, "y"))
    );
    assert_eq!(verified.jkt, input.jkt);
    let jti = text(&claims, "jti");
    assert!(!jti.is_empty() && jti.len() <= MAX_JTI_LEN);
    assert_eq!(verified.jti, jti);
    let iat = claims.get("iat").and_then(numeric_date_secs);
    assert_eq!(iat, Some(verified.iat.as_secs()));
    assert!(iat_in_window(input, iat), "iat outside the window");
    assert!(text(&claims, "htm").eq_ignore_ascii_case(input.method.unwrap()));
    let htu = normalize_htu(&text(&claims, "htu"));
    assert_eq!(htu.as_deref(), Ok(verified.htu.as_str()));
    assert_eq!(normalize_htu(input.url.unwrap()), htu);
    let ath = text(&claims, "ath");
    assert_eq!(ath, sha256_b64(input.access_token));
    assert_eq!(ath, access_token_hash(input.access_token));
}

/// What must hold when a proof is refused for a reason the proof itself shows.
fn check_refused(input: &ProofInput<'_>, error: &DpopError) {
    let proof = input.proof.unwrap_or("");
    // The header is read before the signature is checked, the claims after.
    let header = || jws_object(proof, 0).unwrap_or_else(|| panic!("{error:?}: no header"));
    let claims = || jws_object(proof, 1).unwrap_or_else(|| panic!("{error:?}: no claims"));
    let text = |map: &Map<String, Value>, name: &str| {
        map.get(name).and_then(Value::as_str).map(String::from)
    };
    match error {
        DpopError::MissingProof => assert!(proof.is_empty()),
        DpopError::MultipleProofs => assert!(proof.contains(',')),
        DpopError::MissingMethod => assert!(input.method.is_none_or(str::is_empty)),
        DpopError::MissingUrl => assert!(input.url.is_none_or(str::is_empty)),
        DpopError::InvalidTyp => {
            assert!(!text(&header(), "typ").is_some_and(|t| names_dpop_jwt(&t)));
        }
        DpopError::IatOutOfWindow => {
            assert!(!iat_in_window(
                input,
                claims().get("iat").and_then(numeric_date_secs)
            ));
        }
        DpopError::HtmMismatch => {
            let htm = text(&claims(), "htm").unwrap();
            assert!(!htm.eq_ignore_ascii_case(input.method.unwrap()));
        }
        DpopError::HtuMismatch => {
            let htu = normalize_htu(&text(&claims(), "htu").unwrap());
            assert!(htu.is_ok());
            assert_ne!(htu, normalize_htu(input.url.unwrap()));
        }
        DpopError::AthMismatch => {
            assert_ne!(
                text(&claims(), "ath").unwrap(),
                sha256_b64(input.access_token)
            );
        }
        DpopError::JktMismatch => {
            let header = header();
            let jwk = header.get("jwk").and_then(Value::as_object).unwrap();
            let (x, y) = (text(jwk, "x").unwrap(), text(jwk, "y").unwrap());
            assert_ne!(ec_thumbprint(&x, &y), input.jkt);
        }
        _ => {}
    }
}

/// Verifies `input` without a replay cache, then with one of `capacity` entries when given,
/// checking every outcome. Returns the first outcome.
fn verify_dpop(
    input: &ProofInput<'_>,
    capacity: Option<usize>,
) -> Result<VerifiedProof, DpopError> {
    let first = verify_proof(input, None);
    match &first {
        Ok(verified) => check_accepted(input, verified),
        Err(error) => check_refused(input, error),
    }
    // Without a cache, verification has no memory: the same proof gets the same answer.
    assert_eq!(verify_proof(input, None), first);
    let Some(capacity) = capacity else {
        return first;
    };
    let mut cache = ReplayCache::for_window(capacity, input.iat_offset, input.iat_leeway);
    let cached = verify_proof(input, Some(&mut cache));
    match &first {
        // Only a proof valid in every other way takes room in the cache.
        Err(_) => {
            assert_eq!(cached, first);
            assert!(cache.is_empty());
        }
        // A cache without room refuses rather than forgets (fail closed).
        Ok(_) if capacity == 0 => assert_eq!(cached, Err(DpopError::ReplayCacheFull)),
        Ok(verified) => {
            assert_eq!(cached, first);
            let key = ReplayKey::new(&verified.jkt, &verified.jti);
            assert_eq!(cache.len(), 1);
            // RFC 9449 section 11.1: the same proof again is a replay...
            assert_eq!(
                verify_proof(input, Some(&mut cache)),
                Err(DpopError::Replayed)
            );
            // ...for the whole window it could be accepted in, and is forgotten after it.
            let end = input
                .now
                .saturating_add(input.iat_offset.saturating_add(input.iat_leeway));
            assert!(cache.contains(&key, input.now) && cache.contains(&key, end));
            if let Some(after) = end.checked_add(Duration::from_secs(1)) {
                assert!(!cache.contains(&key, after));
            }
        }
    }
    first
}

/// `dpop_proof`: [`verify_proof`] on a [`ProofInput`] (proof, access token, `cnf.jkt`, method,
/// URL, time, window) built from the input, the proof really signed with a fixed P-256 key so
/// that the signature check passes unless the input breaks it; an input starting with `eyJ` is
/// itself the proof, checked against the RFC 9449 figure 13 request. Checks that a valid proof
/// is accepted; that an accepted proof (decoded here) has `typ` `dpop+jwt`, `alg` ES256, a
/// public P-256 `jwk` whose thumbprint (computed here) is the bound `jkt`, `htm` equal to the
/// method, `htu` normalising to the request URL, `ath` equal to the token's hash (computed here
/// and by [`access_token_hash`]) and `iat` within the window; that a refusal for a claim names
/// a claim that really differs; and that with a replay cache the same proof a second time is
/// refused as a replay, or never accepted by a cache without room.
pub fn dpop_proof(data: &[u8]) {
    if data.starts_with(b"eyJ") {
        let Ok(proof) = core::str::from_utf8(data) else {
            return;
        };
        let input = ProofInput::new(
            Some(proof),
            RFC9449_TOKEN,
            RFC9449_JKT,
            Some("GET"),
            Some(RFC9449_URL),
            UnixTime::from_secs(RFC9449_IAT),
        );
        let outcome = verify_dpop(&input, Some(1));
        if proof == RFC9449_FIG13 {
            assert!(outcome.is_ok(), "RFC 9449 figure 13 refused: {outcome:?}");
        }
        return;
    }
    let Ok(input) = DpopInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let proof = match &input.proof {
        ProofChoice::Signed(spec) => Some(input.sign(spec)),
        ProofChoice::Raw(raw) => Some(raw.clone()),
        ProofChoice::Absent => None,
    };
    let proof_input = input.proof_input(proof.as_deref());
    let capacity = input.replay.map(|c| usize::from(c % 3));
    let outcome = verify_dpop(&proof_input, capacity);
    if proof.as_deref().is_some_and(|p| input.is_valid(p)) {
        assert!(outcome.is_ok(), "valid proof refused: {outcome:?}");
    }
    let ProofChoice::Signed(spec) = &input.proof else {
        return;
    };
    let key = input.signer(spec);
    match &outcome {
        Ok(verified) => {
            // Only the signing key's own public key can verify its signature.
            let header = jws_object(proof.as_deref().unwrap(), 0).unwrap();
            let jwk = &header["jwk"];
            assert_eq!((&jwk["x"], &jwk["y"]), (&json!(key.x), &json!(key.y)));
            assert_eq!(verified.jkt, key.jkt);
            assert_ne!(
                input.htu_matches(spec),
                Some(false),
                "htu of another resource"
            );
        }
        Err(DpopError::InvalidSignature) => {
            assert!(
                spec.tamper.is_some() || !input.jwk_is_signer(spec),
                "signature refused"
            );
        }
        Err(DpopError::HtuMismatch) => assert_ne!(input.htu_matches(spec), Some(true)),
        Err(_) => {}
    }
}

// ---------------------------------------------------------------------------------------------
// token_response
// ---------------------------------------------------------------------------------------------

/// The content types `token_response` picks from (its third byte); `None`: no header.
const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    Some("application/json;charset=UTF-8"),
    Some("Application/JSON ; charset=utf-8"),
    Some("application/token+json"),
    Some("application/problem+json"),
    None,
    Some("text/html"),
    Some("text/plain; charset=application/json"),
    Some("application/jsonp"),
    Some("application/json+x"),
    Some("json"),
    Some(""),
    Some("application/x-www-form-urlencoded"),
    Some("text/json"),
];

/// `Retry-After` values `token_response` picks from (the low bits of its fourth byte).
const RETRY_AFTER: &[&str] = &[
    "30",
    " 120 ",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "18446744073709551616",
    "-1",
    "1.5",
    "",
    "soon\u{7f}",
];

/// The token response members, in the order `parse_token_response` reads them.
const TOKEN_RESPONSE_MEMBERS: &[&str] = &[
    "access_token",
    "expires_in",
    "scope",
    "id_token",
    "refresh_token",
    "token_type",
    "issued_token_type",
];

/// The media type of the first `content-type` header, without parameters, lower-cased.
fn first_media_type(headers: &[(String, String)]) -> Option<String> {
    let (_, value) = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// `application/json` or an `application/<name>+json` structured-syntax type (RFC 6838
/// section 4.2.8) whose name starts with a letter or digit (section 4.2: `application/+json`
/// is refused, see the `application_plus_json` seed).
fn is_json_media_type(media: &str) -> bool {
    media == "application/json"
        || media
            .strip_prefix("application/")
            .and_then(|subtype| subtype.strip_suffix("+json"))
            .and_then(|name| name.chars().next())
            .is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Whether a token response member has an acceptable value (RFC 6749 section 5.1):
/// `expires_in` a whole number of seconds up to `MAX_EXPIRES_IN`, `scope` a string, the
/// others non-empty strings.
fn token_member_ok(name: &str, value: &Value) -> bool {
    match name {
        "expires_in" => value
            .as_u64()
            .is_some_and(|s| Duration::from_secs(s) <= MAX_EXPIRES_IN),
        "scope" => value.is_string(),
        _ => value.as_str().is_some_and(|s| !s.is_empty()),
    }
}

/// What must hold of [`parse_token_response`]'s answer to `response` at `now`.
fn check_token_response(
    response: &HttpResponse,
    now: UnixTime,
    outcome: &Result<TokenResponse, ExchangeError>,
) {
    let status = response.status;
    let body = &response.body;
    let media = first_media_type(&response.headers);
    let json_type = media.as_deref().is_some_and(is_json_media_type);
    // The body as a JSON object, read here (serde_json keeps the last of duplicate members;
    // the crate refuses them, so this only differs on bodies the crate does not accept).
    let object = serde_json::from_slice::<Map<String, Value>>(body).ok();
    let member = |name: &str| object.as_ref().and_then(|o| o.get(name));
    match outcome {
        Ok(token) => {
            // A success only from a 2xx JSON answer of acceptable size...
            assert!((200..300).contains(&status), "success from {status}");
            assert!(json_type, "success from {media:?}");
            assert!(body.len() <= MAX_RESPONSE_BODY);
            let object = object
                .as_ref()
                .expect("success from a body that is not an object");
            // ...whose fields are the body's members.
            for name in TOKEN_RESPONSE_MEMBERS {
                if let Some(value) = object.get(*name) {
                    assert!(token_member_ok(name, value), "{name}: {value}");
                }
            }
            assert_eq!(
                member("access_token"),
                Some(&json!(token.access_token.expose_secret()))
            );
            assert_eq!(
                member("expires_in").and_then(Value::as_u64),
                Some(token.expires_in.as_secs())
            );
            assert_eq!(now.checked_add(token.expires_in), Some(token.expires_at));
            let optional = [
                ("scope", token.scope.as_deref()),
                (
                    "id_token",
                    token.id_token.as_ref().map(IdToken::expose_secret),
                ),
                (
                    "refresh_token",
                    token
                        .refresh_token
                        .as_ref()
                        .map(RefreshToken::expose_secret),
                ),
                ("token_type", token.token_type.as_deref()),
                ("issued_token_type", token.issued_token_type.as_deref()),
            ];
            for (name, field) in optional {
                assert_eq!(member(name).and_then(Value::as_str), field, "{name}");
            }
            // The credentials are redacted in Debug.
            assert_eq!(
                std::format!("{:?}", token.access_token),
                "AccessToken([redacted])"
            );
            check_token_types(token);
        }
        Err(ExchangeError::Response(ResponseError::BodyTooLarge)) => {
            assert!(body.len() > MAX_RESPONSE_BODY)
        }
        Err(ExchangeError::Response(ResponseError::Redirect { status: s })) => {
            assert_eq!(*s, status);
            assert!((300..400).contains(&status));
        }
        Err(ExchangeError::Server(ServerError {
            status: s,
            error,
            error_description,
            error_uri,
            retry_after,
        })) => {
            assert_eq!(*s, status);
            assert!(!(200..400).contains(&status), "server error from {status}");
            // RFC 6749 section 5.2: the error code is the body's `error`, verbatim.
            if let Some(error) = error {
                assert_eq!(member("error"), Some(&json!(error)));
            }
            // A strict JSON error object (or one without a type) always yields its code.
            let strict = parse_object(body, DEFAULT_MAX_DEPTH).ok();
            let strict_text = |name: &str| {
                strict
                    .as_ref()
                    .and_then(|o| o.get(name))
                    .and_then(Value::as_str)
            };
            if media.as_deref().is_none_or(|m| m == "application/json") {
                assert_eq!(error.as_deref(), strict_text("error"));
            }
            if error.is_some() {
                assert_eq!(
                    error_description.as_deref(),
                    strict_text("error_description")
                );
                assert_eq!(error_uri.as_deref(), strict_text("error_uri"));
            } else {
                assert_eq!((error_description, error_uri), (&None, &None));
            }
            // Retry-After delay-seconds (RFC 9110 section 10.2.3), saturating.
            let header = response.header("retry-after").map(str::trim);
            if let Some(digits) =
                header.filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit()))
            {
                let secs = digits.parse::<u64>().unwrap_or(u64::MAX);
                assert_eq!(
                    retry_after,
                    &Some(RetryAfter::Delay(Duration::from_secs(secs)))
                );
            } else if header.is_none() {
                assert_eq!(retry_after, &None);
            }
        }
        Err(ExchangeError::Response(ResponseError::InvalidContentType)) => {
            assert!((200..300).contains(&status));
            assert!(!json_type, "{media:?} refused");
        }
        Err(error) => {
            // The rest are about a 2xx JSON body.
            assert!((200..300).contains(&status) && json_type, "{error:?}");
            let first_bad = TOKEN_RESPONSE_MEMBERS
                .iter()
                .position(|name| match member(name) {
                    None => *name == "access_token" || *name == "expires_in",
                    Some(value) => !token_member_ok(name, value),
                });
            let overflow = member("expires_in")
                .and_then(Value::as_u64)
                .is_some_and(|s| now.checked_add(Duration::from_secs(s)).is_none());
            match error {
                ExchangeError::Response(ResponseError::InvalidJson(_)) => {}
                ExchangeError::Response(ResponseError::MissingField { field }) => {
                    assert_eq!(first_bad.map(|i| TOKEN_RESPONSE_MEMBERS[i]), Some(*field));
                    assert!(member(field).is_none());
                }
                ExchangeError::Response(ResponseError::InvalidField { field }) => {
                    assert_eq!(first_bad.map(|i| TOKEN_RESPONSE_MEMBERS[i]), Some(*field));
                    assert!(member(field).is_some());
                }
                // Checked right after expires_in.
                ExchangeError::Input(InputError::TimeOverflow) => {
                    assert!(overflow && first_bad.is_none_or(|i| i > 1), "{first_bad:?}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    if let Err(error) = outcome {
        // Server text is escaped and truncated: no control characters reach a log line.
        let text = error.to_string();
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(
            text.chars().count() <= 3000,
            "{} characters",
            text.chars().count()
        );
        assert_eq!(
            error.status(),
            match error {
                ExchangeError::Server(_)
                | ExchangeError::Response(ResponseError::Redirect { .. }) => Some(status),
                _ => None,
            }
        );
    }
}

/// `token_response`: [`parse_token_response`] on an [`HttpResponse`] built from the input: the
/// first two bytes are the status (big-endian); the third picks a content type from
/// [`CONTENT_TYPES`], or with `0xff` takes the first line of the rest as the content type; the
/// fourth adds a `Retry-After` (low bits), spells the header `Content-Type` (`0x10`), adds an
/// HTML type before (`0x20`) or a JSON type after it (`0x40`), and moves `now` to the end of
/// time (`0x80`); the rest is the body. Checks that a success only comes from a 2xx JSON
/// answer and carries exactly the body's members, that a redirect or error status is never a
/// success, that an OAuth error keeps the body's `error` code verbatim, that a refused body
/// names the first member at fault, and that error messages hold no control characters. The
/// same body is also parsed as a `200` JSON response, and as HTML and a redirect, which are
/// always refused.
/// T-71: the returned types checked against each kind of request.
fn check_token_types(token: &TokenResponse) {
    const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
    let token_type = token.token_type.as_deref().map(str::to_ascii_lowercase);
    for requested in [
        None,
        Some(ACCESS_TOKEN_TYPE),
        Some(CONNECTION_TOKEN_TYPE),
        Some(JWT_TYPE),
    ] {
        let other_issued = requested
            .zip(token.issued_token_type.as_deref())
            .is_some_and(|(asked, issued)| asked != issued);
        let access_requested = matches!(requested, Some(ACCESS_TOKEN_TYPE | CONNECTION_TOKEN_TYPE));
        let expected = match token_type.as_deref() {
            _ if other_issued => Some("issued_token_type"),
            Some("dpop") => Some("token_type"),
            Some("n_a") if access_requested => Some("token_type"),
            _ => None,
        };
        match token.check_types(requested) {
            Ok(()) => assert_eq!(expected, None, "{requested:?}"),
            Err(ExchangeError::Response(ResponseError::UnexpectedTokenType { field })) => {
                assert_eq!(Some(field), expected, "{requested:?}");
            }
            Err(e) => panic!("check_types gave {e:?}"),
        }
    }
}

pub fn token_response(data: &[u8]) {
    let Some((&[s0, s1, type_byte, flags], rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let (content_type, body) = if type_byte == 0xff {
        let line_end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        let (line, body) = rest.split_at(line_end);
        (
            Some(String::from_utf8_lossy(line).into_owned()),
            body.get(1..).unwrap_or_default(),
        )
    } else {
        let index = usize::from(type_byte) % CONTENT_TYPES.len();
        (CONTENT_TYPES[index].map(String::from), rest)
    };
    let mut headers = Vec::new();
    let header = |name: &str, value: &str| (String::from(name), String::from(value));
    if flags & 0x20 != 0 {
        headers.push(header("content-type", "text/html"));
    }
    if let Some(content_type) = &content_type {
        let name = if flags & 0x10 != 0 {
            "Content-Type"
        } else {
            "content-type"
        };
        headers.push(header(name, content_type));
    }
    if flags & 0x40 != 0 {
        headers.push(header("content-type", "application/json"));
    }
    if let Some(value) = usize::from(flags & 0x0f)
        .checked_sub(1)
        .and_then(|i| RETRY_AFTER.get(i))
    {
        headers.push(header("Retry-After", value));
    }
    let now = if flags & 0x80 != 0 {
        UnixTime::from_secs(u64::MAX - 60)
    } else {
        UnixTime::from_secs(NOW)
    };
    let response = HttpResponse {
        status: u16::from_be_bytes([s0, s1]),
        headers,
        body: body.to_vec(),
    };
    check_token_response(&response, now, &parse_token_response(&response, now));

    let json = HttpResponse::json(body.to_vec());
    let outcome = parse_token_response(&json, now);
    check_token_response(&json, now, &outcome);
    let too_large = body.len() > MAX_RESPONSE_BODY;
    let html = HttpResponse::new(200, "text/html", body.to_vec());
    match parse_token_response(&html, now) {
        Err(ExchangeError::Response(ResponseError::InvalidContentType)) => assert!(!too_large),
        Err(ExchangeError::Response(ResponseError::BodyTooLarge)) => assert!(too_large),
        other => panic!("html answer gave {other:?}"),
    }
    let mut redirect = json;
    redirect.status = 302;
    match parse_token_response(&redirect, now) {
        Err(ExchangeError::Response(ResponseError::Redirect { status: 302 })) => {
            assert!(!too_large)
        }
        Err(ExchangeError::Response(ResponseError::BodyTooLarge)) => assert!(too_large),
        other => panic!("redirect gave {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// extract
// ---------------------------------------------------------------------------------------------

/// `extract`'s input read as a small HTTP/1.1 request: the request line (its target may carry
/// a query), header lines `name: value` (or `name:value`; lines without a colon are skipped),
/// then an empty line and the body. No empty line: no body.
struct RawRequest {
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl RawRequest {
    fn parse(data: &[u8]) -> Self {
        let split = data.windows(2).position(|w| w == b"\n\n");
        let (head, body) = match split {
            Some(at) => (&data[..at], Some(data[at + 2..].to_vec())),
            None => (data, None),
        };
        let head = String::from_utf8_lossy(head);
        let mut lines = head.split('\n');
        let request_line = lines.next().unwrap_or("");
        let target = request_line.split(' ').nth(1).unwrap_or("");
        let query = target.split_once('?').map(|(_, q)| String::from(q));
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| {
                (
                    String::from(name),
                    String::from(value.strip_prefix(' ').unwrap_or(value)),
                )
            })
            .collect();
        Self {
            query,
            headers,
            body,
        }
    }

    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body when it is read as a form: exactly one `Content-Type`, the form type.
    fn form_body(&self) -> Option<&[u8]> {
        let mut types = self.values("content-type");
        let (Some(value), None) = (types.next(), types.next()) else {
            return None;
        };
        let media = value
            .split(';')
            .next()
            .unwrap_or("")
            .trim_matches([' ', '\t']);
        let form = media.eq_ignore_ascii_case("application/x-www-form-urlencoded");
        self.body.as_deref().filter(|_| form)
    }
}

/// RFC 6750 section 2.1 `b64token` (RFC 9110 `token68`):
/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &[u8]) -> bool {
    let end = token
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || b"-._~+/".contains(b)))
        .unwrap_or(token.len());
    end > 0 && token[end..].iter().all(|b| *b == b'=')
}

/// WHATWG `application/x-www-form-urlencoded` percent-decoding (`+` is a space); `None` for
/// a `%` without two hexadecimal digits.
fn form_decode(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = core::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// The `name=value` pairs of a form-encoded string whose decoded name is `access_token`,
/// with their raw values.
fn access_token_params(input: &[u8]) -> Vec<&[u8]> {
    input
        .split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            (form_decode(name).as_deref() == Some(b"access_token")).then_some(value)
        })
        .collect()
}

/// The token of a form-encoded string (RFC 6750 sections 2.2 and 2.3), by the documented
/// rules: one `access_token` at most, percent-decoded, a non-empty `b64token`.
fn expected_param_token(input: &[u8]) -> Result<Option<String>, ExtractError> {
    let params = access_token_params(input);
    let Some(value) = params.first() else {
        return Ok(None);
    };
    // The pairs are read in order: a bad first value is reported before a second one.
    let decoded = form_decode(value).ok_or(ExtractError::MalformedParameter)?;
    if decoded.len() > MAX_TOKEN_LEN {
        return Err(ExtractError::TooLarge);
    }
    if !is_b64token(&decoded) {
        return Err(ExtractError::MalformedParameter);
    }
    if params.len() > 1 {
        return Err(ExtractError::DuplicateParameter);
    }
    Ok(Some(String::from_utf8(decoded).unwrap()))
}

/// The scheme of an `Authorization` value (RFC 9110 section 11.4: the `token` before the
/// first other character) when it is `Bearer` or `DPoP` in any case, and the rest of the value.
fn token_scheme(value: &str) -> (Option<AuthScheme>, &str) {
    let scheme_len = value
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b))
        .count();
    let (scheme, rest) = value.split_at(scheme_len);
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Some(AuthScheme::Bearer),
        "dpop" => Some(AuthScheme::DPoP),
        _ => None,
    };
    (scheme, rest)
}

/// What [`extract_token`] must answer, computed from RFC 6750 section 2 and the rules the
/// `extract` module documents, without the crate.
fn expected_extraction(
    request: &RawRequest,
) -> Result<(String, AuthScheme, TokenLocation), ExtractError> {
    let mut authorization = request.values("authorization");
    let authorization = match (authorization.next(), authorization.next()) {
        (_, Some(_)) => return Err(ExtractError::SeveralAuthorizationHeaders),
        (value, None) => value,
    };
    let mut found = Vec::new();
    // Another scheme (`Basic`) is not a token and is ignored.
    if let Some((Some(scheme), rest)) = authorization.map(token_scheme) {
        let token = rest
            .strip_prefix(' ')
            .ok_or(ExtractError::MalformedAuthorization)?;
        if token.len() > MAX_TOKEN_LEN {
            return Err(ExtractError::TooLarge);
        }
        if !is_b64token(token.as_bytes()) {
            return Err(ExtractError::MalformedAuthorization);
        }
        found.push((String::from(token), scheme, TokenLocation::Header));
    }
    if let Some(token) = expected_param_token(request.query.as_deref().unwrap_or("").as_bytes())? {
        found.push((token, AuthScheme::Bearer, TokenLocation::Query));
    }
    if let Some(body) = request.form_body() {
        if body.len() > MAX_FORM_BODY {
            return Err(ExtractError::TooLarge);
        }
        if let Some(token) = expected_param_token(body)? {
            found.push((token, AuthScheme::Bearer, TokenLocation::Form));
        }
    }
    match found.len() {
        0 => Err(ExtractError::NotFound),
        1 => Ok(found.remove(0)),
        _ => Err(ExtractError::MultipleMethods),
    }
}

/// `extract`: [`extract_token`] on the headers, query and body of a small HTTP request read
/// from the input (see [`RawRequest`]), and [`extract_token_from_request`] on the same request
/// as an `http::Request` when the `http` crate accepts it. Checks that an extracted token is a
/// non-empty RFC 6750 section 2.1 `b64token` that appears in the input (after percent-decoding
/// for query and form), with the scheme and location it came from; that a request with a token
/// in more than one place, or none, is refused; that every answer equals the one computed here
/// from the documented rules; that `Debug` hides the token; and that both entry points agree.
pub fn extract(data: &[u8]) {
    let request = RawRequest::parse(data);
    let headers = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()));
    let outcome = extract_token(headers, request.query.as_deref(), request.body.as_deref());
    match &outcome {
        Ok(found) => {
            let token = found.token();
            assert!(
                !token.is_empty() && is_b64token(token.as_bytes()),
                "{token:?}"
            );
            match found.location() {
                TokenLocation::Header => {
                    let value = request.values("authorization").next().unwrap();
                    let scheme = value.strip_suffix(token).expect("token not at the end");
                    assert!(scheme.eq_ignore_ascii_case(&std::format!("{} ", found.scheme())));
                }
                location => {
                    assert_eq!(found.scheme(), AuthScheme::Bearer);
                    let source = if location == TokenLocation::Query {
                        request.query.as_deref().unwrap().as_bytes()
                    } else {
                        request.form_body().unwrap()
                    };
                    let values = access_token_params(source);
                    assert_eq!(values.len(), 1);
                    assert_eq!(form_decode(values[0]).as_deref(), Some(token.as_bytes()));
                }
            }
            let debug = std::format!("{found:?}");
            assert_eq!(
                debug,
                std::format!(
                    "ExtractedToken {{ token: \"[redacted]\", scheme: {:?}, location: {:?} }}",
                    found.scheme(),
                    found.location()
                )
            );
        }
        Err(error) => assert_eq!(error.code(), "invalid_request"),
    }
    // RFC 6750 section 2: exactly one method. A token in two places is refused.
    let places = [
        request
            .values("authorization")
            .any(|v| token_scheme(v).0.is_some()),
        request
            .query
            .as_ref()
            .is_some_and(|q| !access_token_params(q.as_bytes()).is_empty()),
        request
            .form_body()
            .is_some_and(|b| !access_token_params(b).is_empty()),
    ];
    if places.iter().filter(|p| **p).count() != 1 {
        assert!(outcome.is_err(), "token taken from {places:?}");
    }
    let expected = expected_extraction(&request);
    let got = outcome
        .as_ref()
        .map(|f| (f.token(), f.scheme(), f.location()));
    let want = expected.as_ref().map(|(t, s, l)| (t.as_str(), *s, *l));
    assert_eq!(got, want, "{:?}", String::from_utf8_lossy(data));

    // The same request as an `http::Request`, when the `http` crate takes all of it.
    let uri = match &request.query {
        Some(query) => std::format!("/r?{query}"),
        None => String::from("/r"),
    };
    let mut builder = ::http::Request::builder().uri(uri);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = request.body.clone().unwrap_or_default();
    let Ok(http_request) = builder.body(body) else {
        return;
    };
    if http_request.uri().query() != request.query.as_deref()
        || http_request.headers().len() != request.headers.len()
    {
        return;
    }
    let headers = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()));
    let body = Some(http_request.body().as_slice());
    assert_eq!(
        extract_token_from_request(&http_request),
        extract_token(headers, request.query.as_deref(), body)
    );
}

/// Authorization over untrusted claims: never panics, and agrees with a model computed from a
/// tree parse of the same payload, for scopes, permissions, equality and inclusion.
pub fn policy(data: &[u8]) {
    let Ok(claims) = Claims::from_payload(data, DEFAULT_MAX_DEPTH) else {
        return;
    };
    let tree = auth0_api::internals::json::parse_object(data, DEFAULT_MAX_DEPTH).unwrap();
    let words = |name: &str| -> Option<Vec<String>> {
        match tree.get(name)? {
            Value::String(s) => Some(
                s.split(' ').filter(|w| !w.is_empty()).map(String::from).collect(),
            ),
            _ => None,
        }
    };
    let strings = |name: &str| -> Option<Vec<String>> {
        match tree.get(name)? {
            Value::Array(items) => Some(
                items.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
            ),
            _ => None,
        }
    };
    let wanted = ["read", "write", ""];
    let scopes = words("scope").unwrap_or_default();
    let permissions = strings("permissions").unwrap_or_default();
    for n in 0..=wanted.len() {
        let want = &wanted[..n];
        let all = |have: &[String]| want.iter().all(|w| have.iter().any(|h| h == w));
        let any = |have: &[String]| want.iter().any(|w| have.iter().any(|h| h == w));
        assert_eq!(Policy::new().all_scopes(want).check(&claims).is_ok(), all(&scopes));
        assert_eq!(Policy::new().any_scope(want).check(&claims).is_ok(), any(&scopes));
        assert_eq!(
            Policy::new().all_permissions(want).check(&claims).is_ok(),
            all(&permissions)
        );
        assert_eq!(
            Policy::new().any_permission(want).check(&claims).is_ok(),
            any(&permissions)
        );
        let includes = words("roles").or_else(|| strings("roles"));
        assert_eq!(
            Policy::new().claim_includes("roles", want).check(&claims).is_ok(),
            includes.is_some_and(|have| all(&have))
        );
        if let Err(denied) = Policy::new().all_scopes(want).check(&claims) {
            assert_eq!(denied.kind(), DeniedKind::Scope);
            assert_eq!(denied.required_scope().unwrap_or(""), want.join(" "));
        }
    }
    for (name, value) in &tree {
        assert!(Policy::new().claim_equals(name.as_str(), value.clone()).check(&claims).is_ok());
    }
    assert!(
        Policy::new()
            .claim_equals("org", "o")
            .check(&claims)
            .is_ok()
            == (tree.get("org") == Some(&json!("o")))
    );
}
