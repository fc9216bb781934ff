//! Properties of the JOSE entry points (proptest).
//!
//! - Any bytes given to [`CompactJws::parse`] or [`JwkSet::parse`] give `Ok` or a typed `Err`,
//!   never a panic, and what is accepted is consistent (T-21: accepted segments re-encode to
//!   the exact input; every set entry is either a key or counted as skipped).
//! - Sign then verify round-trips for every supported algorithm with generated claims, through
//!   the full path (key set, parse, select, verify); a token with one bit of its signature or
//!   payload changed never verifies.
//! - An ES256 signature whose r or s is forced out of [1, n-1], for a random key and message,
//!   verifies to `InvalidSignature`, never `Ok` and never a panic (T-07).
//!
//! Keys are made once per key type (RSA key generation is slow) and shared by the cases; RSA
//! cases are few (16), each covering all six RSA algorithms.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use auth0_api::Limits;
use auth0_api::internals::CompactJws;
use auth0_api::internals::json::{self, DEFAULT_MAX_DEPTH};
use auth0_api::jose::jwk::{Jwk, JwkSet};
use auth0_api::jose::verify::RUST_CRYPTO;
use auth0_api::jose::{Algorithm, JoseError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use proptest::prelude::*;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use signature::Signer as _;

const RSA_ALGS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

const FAST_ALGS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::EdDSA,
];

fn rsa_key() -> &'static rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(0x5eed);
        rsa::PrivateKey::new(&mut rng, 2048).expect("rsa key generation")
    })
}

fn p256_key() -> &'static p256::ecdsa::SigningKey {
    static KEY: OnceLock<p256::ecdsa::SigningKey> = OnceLock::new();
    KEY.get_or_init(|| p256::ecdsa::SigningKey::from_slice(&Sha256::digest(b"p256")).unwrap())
}

fn p384_key() -> &'static p384::ecdsa::SigningKey {
    static KEY: OnceLock<p384::ecdsa::SigningKey> = OnceLock::new();
    KEY.get_or_init(|| p384::ecdsa::SigningKey::from_slice(&Sha384::digest(b"p384")).unwrap())
}

fn p521_key() -> &'static p521::ecdsa::SigningKey {
    static KEY: OnceLock<p521::ecdsa::SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let scalar = [&[0u8, 0][..], &Sha512::digest(b"p521")].concat();
        p521::ecdsa::SigningKey::from_slice(&scalar).unwrap()
    })
}

fn ed25519_key() -> &'static ed25519_dalek::SigningKey {
    static KEY: OnceLock<ed25519_dalek::SigningKey> = OnceLock::new();
    KEY.get_or_init(|| ed25519_dalek::SigningKey::from_bytes(&Sha256::digest(b"ed25519").into()))
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    B64.encode(bytes)
}

fn kid(alg: Algorithm) -> String {
    format!("key-{alg}")
}

fn ec_members(crv: &str, sec1: &[u8]) -> Value {
    let size = (sec1.len() - 1) / 2;
    json!({"kty": "EC", "crv": crv, "x": b64(&sec1[1..1 + size]), "y": b64(&sec1[1 + size..])})
}

/// The public JWK for `alg`, bound to it with `alg` and `kid`.
fn public_jwk(alg: Algorithm) -> Value {
    let mut jwk = match alg {
        Algorithm::ES256 => ec_members(
            "P-256",
            p256_key().verifying_key().to_sec1_point(false).as_bytes(),
        ),
        Algorithm::ES384 => ec_members(
            "P-384",
            p384_key().verifying_key().to_sec1_point(false).as_bytes(),
        ),
        Algorithm::ES512 => ec_members(
            "P-521",
            p521_key().verifying_key().to_sec1_point(false).as_bytes(),
        ),
        Algorithm::EdDSA => json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64(ed25519_key().verifying_key().to_bytes()),
        }),
        _ => {
            let key = rsa_key();
            json!({"kty": "RSA", "n": b64(key.n_bytes()), "e": b64(key.e_bytes())})
        }
    };
    jwk["kid"] = json!(kid(alg));
    jwk["alg"] = json!(alg.name());
    jwk
}

/// One set holding every key: selection must find the right one by `kid`, or, without a
/// `kid`, by the binding of each key to its algorithm.
fn key_set() -> &'static JwkSet {
    static SET: OnceLock<JwkSet> = OnceLock::new();
    SET.get_or_init(|| {
        let keys: Vec<Value> = RSA_ALGS
            .iter()
            .chain(&FAST_ALGS)
            .map(|a| public_jwk(*a))
            .collect();
        let body = json!({ "keys": keys }).to_string();
        let set = JwkSet::parse(body.as_bytes(), &RUST_CRYPTO).expect("key set");
        assert_eq!((set.keys().len(), set.skipped()), (10, 0));
        set
    })
}

/// Signs `input` as `alg` with the crypto crates directly (the signer is not under test).
fn sign(alg: Algorithm, input: &[u8]) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(u64::from_be_bytes(
        Sha256::digest(input)[..8].try_into().unwrap(),
    ));
    let key = rsa_key();
    match alg {
        Algorithm::RS256 => key
            .sign_with_rng(
                &mut rng,
                rsa::Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(input),
            )
            .unwrap(),
        Algorithm::RS384 => key
            .sign_with_rng(
                &mut rng,
                rsa::Pkcs1v15Sign::new::<Sha384>(),
                &Sha384::digest(input),
            )
            .unwrap(),
        Algorithm::RS512 => key
            .sign_with_rng(
                &mut rng,
                rsa::Pkcs1v15Sign::new::<Sha512>(),
                &Sha512::digest(input),
            )
            .unwrap(),
        Algorithm::PS256 => key
            .sign_with_rng(&mut rng, rsa::Pss::<Sha256>::new(), &Sha256::digest(input))
            .unwrap(),
        Algorithm::PS384 => key
            .sign_with_rng(&mut rng, rsa::Pss::<Sha384>::new(), &Sha384::digest(input))
            .unwrap(),
        Algorithm::PS512 => key
            .sign_with_rng(&mut rng, rsa::Pss::<Sha512>::new(), &Sha512::digest(input))
            .unwrap(),
        Algorithm::ES256 => {
            let sig: p256::ecdsa::Signature = p256_key().sign(input);
            sig.to_bytes().to_vec()
        }
        Algorithm::ES384 => {
            let sig: p384::ecdsa::Signature = p384_key().sign(input);
            sig.to_bytes().to_vec()
        }
        Algorithm::ES512 => {
            let sig: p521::ecdsa::Signature = p521_key().sign(input);
            sig.to_bytes().to_vec()
        }
        Algorithm::EdDSA => ed25519_key().sign(input).to_bytes().to_vec(),
        other => panic!("no signer for {other}"),
    }
}

fn header(alg: Algorithm, with_kid: bool) -> String {
    if with_kid {
        json!({"alg": alg.name(), "kid": kid(alg), "typ": "at+jwt"}).to_string()
    } else {
        json!({"alg": alg.name()}).to_string()
    }
}

fn assemble(header: &str, payload: &[u8], signature: &[u8]) -> String {
    format!("{}.{}.{}", b64(header), b64(payload), b64(signature))
}

fn signed(alg: Algorithm, header: &str, payload: &[u8]) -> (String, Vec<u8>) {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = sign(alg, input.as_bytes());
    (format!("{input}.{}", b64(&sig)), sig)
}

/// Parse, select, verify.
fn verify(token: &str) -> Result<(), JoseError> {
    let jws = CompactJws::parse(token, &Limits::default())?;
    let key = key_set().select(jws.header())?;
    jws.verify(key)
}

fn claims() -> impl Strategy<Value = BTreeMap<String, Value>> {
    let value = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
        proptest::collection::vec("[a-z]{0,8}", 0..4).prop_map(Value::from),
    ];
    proptest::collection::btree_map("[a-z_]{1,10}", value, 0..8)
}

/// Signs, verifies, then checks that changing one bit of the signature or of the payload
/// makes verification fail.
fn round_trip(
    alg: Algorithm,
    claims: &BTreeMap<String, Value>,
    with_kid: bool,
    sig_bit: usize,
    payload_bit: usize,
) -> Result<(), TestCaseError> {
    let payload = serde_json::to_vec(claims).unwrap();
    let h = header(alg, with_kid);
    let (token, sig) = signed(alg, &h, &payload);
    prop_assert_eq!(verify(&token), Ok(()), "{}", alg);
    // The claims come back as they were signed.
    let jws = CompactJws::parse(&token, &Limits::default()).unwrap();
    let parsed = json::parse_object(jws.payload(), DEFAULT_MAX_DEPTH).unwrap();
    prop_assert_eq!(Value::Object(parsed), serde_json::to_value(claims).unwrap());

    let mut bad_sig = sig.clone();
    let bit = sig_bit % (bad_sig.len() * 8);
    bad_sig[bit / 8] ^= 1 << (bit % 8);
    prop_assert_eq!(
        verify(&assemble(&h, &payload, &bad_sig)),
        Err(JoseError::InvalidSignature),
        "{}: signature bit {}",
        alg,
        bit
    );
    let mut bad_payload = payload.clone();
    if bad_payload.is_empty() {
        bad_payload.push(0);
    } else {
        let bit = payload_bit % (bad_payload.len() * 8);
        bad_payload[bit / 8] ^= 1 << (bit % 8);
    }
    prop_assert_eq!(
        verify(&assemble(&h, &bad_payload, &sig)),
        Err(JoseError::InvalidSignature),
        "{}: payload changed",
        alg
    );
    // The same signature relabelled as another algorithm of the same RSA key never verifies
    // (PKCS#1 v1.5 and PSS, and the hashes, are not interchangeable).
    if RSA_ALGS.contains(&alg) {
        for other in RSA_ALGS.into_iter().filter(|o| *o != alg) {
            prop_assert_eq!(
                verify(&assemble(&header(other, with_kid), &payload, &sig)),
                Err(JoseError::InvalidSignature),
                "{} signature relabelled {}",
                alg,
                other
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn rsa_sign_then_verify(
        claims in claims(),
        with_kid in any::<bool>(),
        sig_bit in any::<usize>(),
        payload_bit in any::<usize>(),
    ) {
        for alg in RSA_ALGS {
            round_trip(alg, &claims, with_kid, sig_bit, payload_bit)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ecdsa_and_eddsa_sign_then_verify(
        claims in claims(),
        with_kid in any::<bool>(),
        sig_bit in any::<usize>(),
        payload_bit in any::<usize>(),
    ) {
        for alg in FAST_ALGS {
            round_trip(alg, &claims, with_kid, sig_bit, payload_bit)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_parse_to_ok_or_a_typed_error(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        check_parse(&text)?;
        check_key_set(&bytes)?;
    }

    #[test]
    fn token_shaped_text_parses_to_ok_or_a_typed_error(text in "[A-Za-z0-9_=+/ .-]{0,300}") {
        check_parse(&text)?;
    }

    #[test]
    fn any_segment_bytes_parse_to_ok_or_a_typed_error(
        h in proptest::collection::vec(any::<u8>(), 0..96),
        p in proptest::collection::vec(any::<u8>(), 0..96),
        s in proptest::collection::vec(any::<u8>(), 0..96),
    ) {
        check_parse(&format!("{}.{}.{}", b64(&h), b64(&p), b64(&s)))?;
    }

    #[test]
    fn header_shaped_json_parses_to_ok_or_a_typed_error(
        alg in prop_oneof![
            Just("ES256".to_owned()), Just("RS256".to_owned()), Just("none".to_owned()),
            Just("HS256".to_owned()), ".{0,8}",
        ],
        members in proptest::collection::btree_map(
            prop_oneof![
                Just("kid".to_owned()), Just("typ".to_owned()), Just("crit".to_owned()),
                Just("b64".to_owned()), Just("jwk".to_owned()), "[a-z]{1,4}",
            ],
            json_value(),
            0..4,
        ),
    ) {
        let mut header = serde_json::Map::new();
        header.insert("alg".to_owned(), Value::from(alg));
        header.extend(members);
        check_parse(&format!("{}.e30.{}", b64(Value::Object(header).to_string()), b64([0u8; 64])))?;
    }

    #[test]
    fn key_shaped_json_parses_to_ok_or_a_typed_error(
        entries in proptest::collection::vec(
            proptest::collection::btree_map(
                prop_oneof![
                    Just("kty".to_owned()), Just("crv".to_owned()), Just("n".to_owned()),
                    Just("e".to_owned()), Just("x".to_owned()), Just("y".to_owned()),
                    Just("kid".to_owned()), Just("use".to_owned()), Just("key_ops".to_owned()),
                    Just("alg".to_owned()),
                ],
                prop_oneof![
                    prop_oneof![
                        Just("RSA"), Just("EC"), Just("OKP"), Just("oct"), Just("P-256"),
                        Just("P-384"), Just("P-521"), Just("Ed25519"), Just("sig"),
                        Just("AQAB"),
                    ].prop_map(Value::from),
                    proptest::collection::vec(any::<u8>(), 0..80).prop_map(|b| Value::from(b64(b))),
                    json_value(),
                ],
                0..7,
            ),
            0..5,
        ),
    ) {
        let keys: Vec<Value> = entries
            .into_iter()
            .map(|m| Value::Object(m.into_iter().collect()))
            .collect();
        check_key_set(json!({ "keys": keys }).to_string().as_bytes())?;
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        ".{0,10}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `CompactJws::parse` returns; when it accepts, the token is consistent with what it kept.
fn check_parse(token: &str) -> Result<(), TestCaseError> {
    match CompactJws::parse(token, &Limits::default()) {
        Ok(jws) => {
            // T-21: the signing input is the received ASCII `header.payload`, and the decoded
            // segments re-encode to exactly what was received.
            let (input, sig) = token.rsplit_once('.').unwrap();
            prop_assert_eq!(jws.signing_input(), input.as_bytes());
            prop_assert_eq!(b64(jws.signature()), sig);
            let (_, payload) = input.split_once('.').unwrap();
            prop_assert_eq!(b64(jws.payload()), payload);
            // And selection against a real set gives a typed answer too.
            let _ = key_set().select(jws.header());
        }
        Err(e) => {
            // Messages never echo the input.
            let message = e.to_string();
            prop_assert!(token.len() < 8 || !message.contains(token));
        }
    }
    Ok(())
}

/// `JwkSet::parse` returns; when it accepts, every entry is a key or counted as skipped.
fn check_key_set(body: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(set) = JwkSet::parse(body, &RUST_CRYPTO) {
        let doc: Value = serde_json::from_slice(body).unwrap();
        let entries = doc["keys"].as_array().map_or(0, Vec::len);
        prop_assert_eq!(set.keys().len() + set.skipped(), entries);
        for key in set.keys() {
            prop_assert_eq!(key.thumbprint().len(), 43);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// T-07: ES256 signatures with r or s forced out of range
// ---------------------------------------------------------------------------------------------

/// The order of P-256.
const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

/// 32-octet scalars that are not in [1, n-1]: 0, n, n+1, 2^256-1.
fn out_of_range_scalar() -> impl Strategy<Value = [u8; 32]> {
    let n: [u8; 32] = hex::decode(P256_N).unwrap().try_into().unwrap();
    let mut n_plus_1 = n;
    n_plus_1[31] += 1; // n ends in 0x51: no carry.
    prop_oneof![Just([0u8; 32]), Just(n), Just(n_plus_1), Just([0xff; 32])]
}

/// Which half of the signature to overwrite: r, s or both (both zero is the all-zero
/// 64-octet "psychic signature").
#[derive(Clone, Copy, Debug)]
enum Forced {
    R,
    S,
    Both,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    // T-07
    #[test]
    fn t07_es256_with_r_or_s_forced_out_of_range_never_verifies(
        seed in any::<[u8; 32]>(),
        message in proptest::collection::vec(any::<u8>(), 0..256),
        bad in out_of_range_scalar(),
        forced in prop_oneof![Just(Forced::R), Just(Forced::S), Just(Forced::Both)],
    ) {
        // A random key from the seed (the rare digest outside [1, n-1] is not a key).
        let key = p256::ecdsa::SigningKey::from_slice(&Sha256::digest(seed));
        prop_assume!(key.is_ok());
        let key = key.unwrap();
        let members = ec_members("P-256", key.verifying_key().to_sec1_point(false).as_bytes());
        let jwk = Jwk::from_members(members.as_object().unwrap(), &RUST_CRYPTO).unwrap();

        let genuine: p256::ecdsa::Signature = key.sign(&message);
        let genuine = genuine.to_bytes().to_vec();
        prop_assert_eq!(jwk.verify(Algorithm::ES256, &message, &genuine), Ok(()));

        let mut sig = genuine;
        if matches!(forced, Forced::R | Forced::Both) {
            sig[..32].copy_from_slice(&bad);
        }
        if matches!(forced, Forced::S | Forced::Both) {
            sig[32..].copy_from_slice(&bad);
        }
        prop_assert_eq!(
            jwk.verify(Algorithm::ES256, &message, &sig),
            Err(JoseError::InvalidSignature)
        );
    }
}
