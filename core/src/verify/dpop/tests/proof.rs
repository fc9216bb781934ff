//! Proof checks.

use alloc::string::ToString;
use alloc::vec;
use core::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::{Signature, SigningKey};
use signature::Signer as _;

use super::*;
use crate::cache::replay::{ReplayCache, ReplayKey};
use crate::jose::JoseError;
use crate::jose::compact::Limits;
use crate::jose::json::JsonError;
use crate::jose::jwk::Jwk;
use crate::jose::provider::RUST_CRYPTO;
use crate::time::UnixTime;

const NOW: u64 = 1_700_000_000;
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
const URL: &str = "https://api.example.com/orders";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn public_jwk(key: &SigningKey) -> Value {
    let point = key.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    json!({"kty": "EC", "crv": "P-256", "x": b64(&bytes[1..33]), "y": b64(&bytes[33..65])})
}

fn jkt_of(key: &SigningKey) -> String {
    let members = public_jwk(key);
    Jwk::from_members(members.as_object().unwrap(), &RUST_CRYPTO)
        .unwrap()
        .thumbprint()
}

/// Test-only signer: a compact ES256 JWS over the given JSON texts (64-byte r || s).
fn sign_raw(header: &str, payload: &str, key: &SigningKey) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let signature: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&signature.to_bytes()))
}

fn sign(header: &Value, payload: &Value, key: &SigningKey) -> String {
    sign_raw(&header.to_string(), &payload.to_string(), key)
}

fn header(key: &SigningKey) -> Value {
    json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key)})
}

fn payload() -> Value {
    json!({
        "jti": "id-1",
        "htm": "GET",
        "htu": URL,
        "iat": NOW,
        "ath": access_token_hash(TOKEN),
    })
}

fn input<'a>(proof: &'a str, jkt: &'a str) -> ProofInput<'a> {
    ProofInput::new(
        Some(proof),
        TOKEN,
        jkt,
        Some("GET"),
        Some(URL),
        UnixTime::from_secs(NOW),
    )
}

/// Verifies a proof with `header` and `payload` signed by key 1, bound to key 1.
fn check(header: &Value, payload: &Value) -> Result<VerifiedProof, DpopError> {
    let k = key(1);
    let proof = sign(header, payload, &k);
    verify_proof(&input(&proof, &jkt_of(&k)), None)
}

fn with(mut value: Value, name: &str, member: Value) -> Value {
    value.as_object_mut().unwrap().insert(name.into(), member);
    value
}

fn without(mut value: Value, name: &str) -> Value {
    value.as_object_mut().unwrap().remove(name);
    value
}

fn rfc_vector() -> Value {
    let path = format!(
        "{}/../tests/vectors/rfc/rfc9449_dpop.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn fresh_proof_is_accepted() {
    let k = key(1);
    let verified = check(&header(&k), &payload()).unwrap();
    assert_eq!(verified.jti, "id-1");
    assert_eq!(verified.iat, UnixTime::from_secs(NOW));
    assert_eq!(verified.jkt, jkt_of(&k));
    assert_eq!(verified.htu, URL);
}

/// T-57: RFC 9449 figure 13, and one mutation at a time.
#[test]
fn rfc9449_figure_13() {
    let v = rfc_vector();
    let fig13 = v["proofs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["figure"].as_str().unwrap().starts_with("13"))
        .unwrap();
    let proof = fig13["dpop"].as_str().unwrap();
    let token = v["access_token"].as_str().unwrap();
    let jkt = v["jkt"].as_str().unwrap();
    let method = fig13["request"]["method"].as_str().unwrap();
    let url = fig13["request"]["url"].as_str().unwrap();
    let iat = fig13["now"].as_u64().unwrap();
    assert_eq!(access_token_hash(token), v["ath"].as_str().unwrap());
    let base = ProofInput::new(
        Some(proof),
        token,
        jkt,
        Some(method),
        Some(url),
        UnixTime::from_secs(iat),
    );
    let verified = verify_proof(&base, None).unwrap();
    // T-68: the RFC jkt is reproduced from the embedded jwk.
    assert_eq!(verified.jkt, jkt);
    assert_eq!(verified.jti, "e1j3V_bKic8-LAEB");

    let mut token_bytes = token.as_bytes().to_vec();
    token_bytes[0] ^= 1;
    let other_token = String::from_utf8(token_bytes).unwrap();
    let other_jkt = jkt_of(&key(9));
    let at = |secs: u64| ProofInput {
        now: UnixTime::from_secs(secs),
        ..base
    };
    let cases: Vec<(&str, ProofInput<'_>, Result<(), DpopError>)> = vec![
        ("iat + offset", at(iat + 300), Ok(())),
        ("iat - leeway", at(iat - 30), Ok(())),
        (
            "url with query",
            ProofInput {
                url: Some("https://resource.example.org/protectedresource?a=1"),
                ..base
            },
            Ok(()),
        ),
        (
            "method lower case",
            ProofInput {
                method: Some("get"),
                ..base
            },
            Ok(()),
        ),
        (
            "access token",
            ProofInput {
                access_token: &other_token,
                ..base
            },
            Err(DpopError::AthMismatch),
        ),
        (
            "method",
            ProofInput {
                method: Some("POST"),
                ..base
            },
            Err(DpopError::HtmMismatch),
        ),
        (
            "scheme",
            ProofInput {
                url: Some("http://resource.example.org/protectedresource"),
                ..base
            },
            Err(DpopError::HtuMismatch),
        ),
        (
            "host",
            ProofInput {
                url: Some("https://server.example.org/protectedresource"),
                ..base
            },
            Err(DpopError::HtuMismatch),
        ),
        (
            "port",
            ProofInput {
                url: Some("https://resource.example.org:8443/protectedresource"),
                ..base
            },
            Err(DpopError::HtuMismatch),
        ),
        (
            "path",
            ProofInput {
                url: Some("https://resource.example.org/protectedresource/"),
                ..base
            },
            Err(DpopError::HtuMismatch),
        ),
        ("too old", at(iat + 301), Err(DpopError::IatOutOfWindow)),
        ("too new", at(iat - 31), Err(DpopError::IatOutOfWindow)),
        (
            "jkt",
            ProofInput {
                jkt: &other_jkt,
                ..base
            },
            Err(DpopError::JktMismatch),
        ),
        (
            "offset 0",
            ProofInput {
                now: UnixTime::from_secs(iat + 1),
                iat_offset: Duration::ZERO,
                ..base
            },
            Err(DpopError::IatOutOfWindow),
        ),
    ];
    for (name, input, expected) in cases {
        assert_eq!(verify_proof(&input, None).map(|_| ()), expected, "{name}");
    }
    // A flipped signature character breaks the signature.
    let mut tampered = proof.as_bytes().to_vec();
    let i = tampered.len() - 20;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let input = ProofInput {
        proof: Some(&tampered),
        ..base
    };
    assert_eq!(verify_proof(&input, None), Err(DpopError::InvalidSignature));
}

/// The token-endpoint proofs of figures 2 and 7 carry no `ath`: refused here.
#[test]
fn rfc9449_token_endpoint_proofs_are_refused_at_a_resource() {
    let v = rfc_vector();
    for p in v["proofs"].as_array().unwrap() {
        if p["payload"].get("ath").is_some() {
            continue;
        }
        let input = ProofInput::new(
            p["dpop"].as_str(),
            v["access_token"].as_str().unwrap(),
            v["jkt"].as_str().unwrap(),
            p["request"]["method"].as_str(),
            p["request"]["url"].as_str(),
            UnixTime::from_secs(p["now"].as_u64().unwrap()),
        );
        assert_eq!(
            verify_proof(&input, None),
            Err(DpopError::MissingClaim("ath")),
            "figure {}",
            p["figure"]
        );
    }
}

/// T-24, T-62: request-level checks.
#[test]
fn request_checks() {
    let k = key(1);
    let jkt = jkt_of(&k);
    let proof = sign(&header(&k), &payload(), &k);
    let two = format!("{proof},{proof}");
    let two_spaced = format!("{proof}, {proof}");
    let big = "a".repeat(16 * 1024 + 1);
    let base = input(&proof, &jkt);
    let cases: Vec<(&str, ProofInput<'_>, DpopError)> = vec![
        (
            "no proof",
            ProofInput {
                proof: None,
                ..base
            },
            DpopError::MissingProof,
        ),
        (
            "empty proof",
            ProofInput {
                proof: Some(""),
                ..base
            },
            DpopError::MissingProof,
        ),
        (
            "two proofs",
            ProofInput {
                proof: Some(&two),
                ..base
            },
            DpopError::MultipleProofs,
        ),
        (
            "two proofs, spaced",
            ProofInput {
                proof: Some(&two_spaced),
                ..base
            },
            DpopError::MultipleProofs,
        ),
        (
            "no method",
            ProofInput {
                method: None,
                ..base
            },
            DpopError::MissingMethod,
        ),
        (
            "empty method",
            ProofInput {
                method: Some(""),
                ..base
            },
            DpopError::MissingMethod,
        ),
        (
            "no url",
            ProofInput { url: None, ..base },
            DpopError::MissingUrl,
        ),
        (
            "bad url",
            ProofInput {
                url: Some("ftp://h/"),
                ..base
            },
            DpopError::InvalidRequestUrl(UrlError::Scheme),
        ),
        (
            "too large",
            ProofInput {
                proof: Some(&big),
                ..base
            },
            DpopError::ProofTooLarge,
        ),
        (
            "smaller limit",
            ProofInput {
                limits: Limits {
                    max_token_len: 10,
                    ..Limits::default()
                },
                ..base
            },
            DpopError::ProofTooLarge,
        ),
        (
            "one segment",
            ProofInput {
                proof: Some("abc"),
                ..base
            },
            DpopError::InvalidProofSyntax(JoseError::SegmentCount),
        ),
        (
            "two segments",
            ProofInput {
                proof: Some("a.b"),
                ..base
            },
            DpopError::InvalidProofSyntax(JoseError::SegmentCount),
        ),
        (
            "four segments",
            ProofInput {
                proof: Some("a.b.c.d"),
                ..base
            },
            DpopError::InvalidProofSyntax(JoseError::SegmentCount),
        ),
        (
            "json serialization",
            ProofInput {
                proof: Some("{\"payload\":\"\"}"),
                ..base
            },
            DpopError::InvalidProofSyntax(JoseError::JsonSerialization),
        ),
    ];
    for (name, input, expected) in cases {
        let got = verify_proof(&input, None);
        assert_eq!(got, Err(expected), "{name}");
    }
    let four = format!("{proof}.");
    let got = verify_proof(
        &ProofInput {
            proof: Some(&four),
            ..base
        },
        None,
    );
    assert_eq!(
        got,
        Err(DpopError::InvalidProofSyntax(JoseError::SegmentCount))
    );
}

/// T-37: `typ` handling, pinned.
#[test]
fn typ_variants() {
    let k = key(1);
    let cases: &[(Option<Value>, bool)] = &[
        (Some(json!("dpop+jwt")), true),
        (Some(json!("DPOP+JWT")), true),
        (Some(json!("application/dpop+jwt")), true),
        (Some(json!("Application/DPoP+JWT")), true),
        (None, false),
        (Some(json!("JWT")), false),
        (Some(json!("at+jwt")), false),
        (Some(json!("jwt")), false),
        (Some(json!("dpop+jwt; charset=utf-8")), false),
        (Some(json!(" dpop+jwt")), false),
        (Some(json!("application/")), false),
        (Some(json!("application/at+jwt")), false),
        (Some(json!("dpop")), false),
    ];
    for (typ, accepted) in cases {
        let h = match typ {
            Some(t) => with(header(&k), "typ", t.clone()),
            None => without(header(&k), "typ"),
        };
        let got = check(&h, &payload());
        if *accepted {
            assert!(got.is_ok(), "{typ:?}: {got:?}");
        } else {
            assert_eq!(got, Err(DpopError::InvalidTyp), "{typ:?}");
        }
    }
    // A non-string typ is a malformed header.
    let got = check(&with(header(&k), "typ", json!(1)), &payload());
    assert!(
        matches!(got, Err(DpopError::InvalidProofSyntax(_))),
        "{got:?}"
    );
}

/// T-58: algorithms and keys.
#[test]
fn alg_and_jwk() {
    let k = key(1);
    let jwk = public_jwk(&k);
    for alg in [
        "RS256", "HS256", "none", "ES384", "ES512", "PS256", "EdDSA", "es256",
    ] {
        let got = check(&with(header(&k), "alg", json!(alg)), &payload());
        assert_eq!(got, Err(DpopError::UnsupportedAlg), "{alg}");
    }
    assert_eq!(
        check(&without(header(&k), "alg"), &payload()),
        Err(DpopError::UnsupportedAlg)
    );

    let mut off_curve = jwk.clone();
    off_curve["y"] = json!(b64(&[7u8; 32]));
    let mut long_x = jwk.clone();
    let mut x = vec![0u8];
    x.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
    long_x["x"] = json!(b64(&x));
    let mut short_y = jwk.clone();
    short_y["y"] = json!(b64(&[1u8; 31]));
    let rejected: Vec<(&str, Value, DpopError)> = vec![
        (
            "with d",
            with(jwk.clone(), "d", json!(b64(&[1u8; 32]))),
            DpopError::InvalidJwk(JoseError::PrivateKeyMaterial),
        ),
        (
            "kty oct",
            json!({"kty": "oct", "k": "AAAA"}),
            DpopError::InvalidJwk(JoseError::PrivateKeyMaterial),
        ),
        (
            "kty oct without k",
            json!({"kty": "oct"}),
            DpopError::InvalidJwk(JoseError::InvalidKey("kty")),
        ),
        (
            "kty RSA",
            json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
            DpopError::InvalidJwk(JoseError::KeySize),
        ),
        (
            "curve P-384",
            with(jwk.clone(), "crv", json!("P-384")),
            // With ES384 compiled in, P-384 is known and the P-256-sized x is wrong.
            DpopError::InvalidJwk(JoseError::InvalidKey(if cfg!(feature = "es384") {
                "x"
            } else {
                "crv"
            })),
        ),
        (
            "secp256k1",
            with(jwk.clone(), "crv", json!("secp256k1")),
            DpopError::InvalidJwk(JoseError::InvalidKey("crv")),
        ),
        (
            "off curve",
            off_curve,
            DpopError::InvalidJwk(JoseError::InvalidKey("x")),
        ),
        (
            "33-octet x",
            long_x,
            DpopError::InvalidJwk(JoseError::InvalidKey("x")),
        ),
        (
            "31-octet y",
            short_y,
            DpopError::InvalidJwk(JoseError::InvalidKey("y")),
        ),
        (
            "use enc",
            with(jwk.clone(), "use", json!("enc")),
            DpopError::InvalidJwk(JoseError::KeyAlgorithmMismatch),
        ),
        (
            "alg RS256",
            with(jwk.clone(), "alg", json!("RS256")),
            DpopError::InvalidJwk(JoseError::KeyAlgorithmMismatch),
        ),
    ];
    for (name, jwk, expected) in rejected {
        let got = check(&with(header(&k), "jwk", jwk), &payload());
        match (&got, &expected) {
            // The exact member named for an off-curve point is the JOSE layer's choice.
            (Err(DpopError::InvalidJwk(_)), DpopError::InvalidJwk(_))
                if name == "off curve" || name == "kty RSA" => {}
            _ => assert_eq!(got, Err(expected), "{name}"),
        }
    }
    assert_eq!(
        check(&without(header(&k), "jwk"), &payload()),
        Err(DpopError::MissingJwk)
    );
    let got = check(&with(header(&k), "jwk", json!("key")), &payload());
    assert!(
        matches!(got, Err(DpopError::InvalidProofSyntax(_))),
        "{got:?}"
    );

    // Extra members are allowed and do not change the thumbprint (T-68).
    let extra = with(
        with(with(jwk.clone(), "kid", json!("k1")), "use", json!("sig")),
        "alg",
        json!("ES256"),
    );
    let verified = check(&with(header(&k), "jwk", extra), &payload()).unwrap();
    assert_eq!(verified.jkt, jkt_of(&k));

    // Signed by another key than the embedded one.
    let proof = sign(&header(&k), &payload(), &key(2));
    let got = verify_proof(&input(&proof, &jkt_of(&k)), None);
    assert_eq!(got, Err(DpopError::InvalidSignature));
    // Embedded key 2, signed by key 2, token bound to key 1.
    let proof = sign(&header(&key(2)), &payload(), &key(2));
    let got = verify_proof(&input(&proof, &jkt_of(&k)), None);
    assert_eq!(got, Err(DpopError::JktMismatch));
}

/// T-68: member order and white space of the proof `jwk` do not change the thumbprint.
#[test]
fn thumbprint_ignores_member_order_and_whitespace() {
    let k = key(3);
    let jwk = public_jwk(&k);
    let (x, y) = (jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap());
    let header = format!(
        "{{ \"jwk\" : {{ \"y\":\"{y}\" , \"x\": \"{x}\",\n\"crv\":\"P-256\",\"kty\":\"EC\"}},\
         \"alg\":\"ES256\", \"typ\":\"dpop+jwt\" }}"
    );
    let proof = sign_raw(&header, &payload().to_string(), &k);
    let verified = verify_proof(&input(&proof, &jkt_of(&k)), None).unwrap();
    assert_eq!(verified.jkt, jkt_of(&k));
}

/// T-59: `jti`.
#[test]
fn jti_rules() {
    let k = key(1);
    let long = "j".repeat(MAX_JTI_LEN + 1);
    let at_cap = "j".repeat(MAX_JTI_LEN);
    let cases: Vec<(Option<Value>, bool)> = vec![
        (None, false),
        (Some(json!("")), false),
        (Some(json!(5)), false),
        (Some(json!(null)), false),
        (Some(json!(["a"])), false),
        (Some(json!(long)), false),
        (Some(json!(at_cap)), true),
        (Some(json!("x")), true),
    ];
    for (jti, accepted) in cases {
        let p = match &jti {
            Some(j) => with(payload(), "jti", j.clone()),
            None => without(payload(), "jti"),
        };
        let got = check(&header(&k), &p);
        assert_eq!(got.is_ok(), accepted, "{jti:?}: {got:?}");
        if !accepted {
            assert_eq!(got, Err(DpopError::InvalidJti), "{jti:?}");
        }
    }
}

/// RFC 7519 sections 4.1.4 and 4.1.5 on the proof: `exp` and `nbf` are enforced when
/// present, compared exactly.
#[test]
fn proof_exp_and_nbf() {
    let k = key(1);
    let now = NOW as f64;
    let cases: Vec<(&str, &str, Value, Result<(), DpopError>)> = vec![
        ("exp", "later", json!(NOW + 60), Ok(())),
        ("exp", "half a second later", json!(now + 0.5), Ok(())),
        ("exp", "now", json!(NOW), Err(DpopError::ProofExpired)),
        ("exp", "past", json!(NOW - 1), Err(DpopError::ProofExpired)),
        ("exp", "negative", json!(-5), Err(DpopError::ProofExpired)),
        (
            "exp",
            "string",
            json!("9999999999"),
            Err(DpopError::InvalidTimeClaim("exp")),
        ),
        (
            "exp",
            "null",
            json!(null),
            Err(DpopError::InvalidTimeClaim("exp")),
        ),
        (
            "exp",
            "2^64",
            json!(18_446_744_073_709_551_616.0_f64),
            Err(DpopError::InvalidTimeClaim("exp")),
        ),
        ("nbf", "now", json!(NOW), Ok(())),
        ("nbf", "past", json!(NOW - 60), Ok(())),
        ("nbf", "negative", json!(-1), Ok(())),
        (
            "nbf",
            "half a second later",
            json!(now + 0.5),
            Err(DpopError::ProofNotYetValid),
        ),
        (
            "nbf",
            "later",
            json!(NOW + 10),
            Err(DpopError::ProofNotYetValid),
        ),
        (
            "nbf",
            "bool",
            json!(true),
            Err(DpopError::InvalidTimeClaim("nbf")),
        ),
    ];
    for (name, case, value, expected) in cases {
        let got = check(&header(&k), &with(payload(), name, value)).map(|_| ());
        assert_eq!(got, expected, "{name} {case}");
        if let Err(e) = got {
            assert_eq!(e.code(), DpopErrorCode::InvalidDpopProof);
        }
    }
}

/// T-60: `iat` odd types and values.
#[test]
fn iat_rules() {
    let k = key(1);
    let cases: Vec<(&str, Option<Value>, Result<u64, DpopError>)> = vec![
        ("now", Some(json!(NOW)), Ok(NOW)),
        ("oldest", Some(json!(NOW - 300)), Ok(NOW - 300)),
        ("newest", Some(json!(NOW + 30)), Ok(NOW + 30)),
        // Fractions are compared exactly; the verified `iat` is floored.
        (
            "half a second past the leeway",
            Some(json!(NOW as f64 + 30.5)),
            Err(DpopError::IatOutOfWindow),
        ),
        ("fraction", Some(json!(NOW as f64 - 0.5)), Ok(NOW - 1)),
        (
            "fraction inside the oldest second",
            Some(json!(NOW as f64 - 299.5)),
            Ok(NOW - 300),
        ),
        ("integral float", Some(json!(NOW as f64)), Ok(NOW)),
        (
            "too old",
            Some(json!(NOW - 301)),
            Err(DpopError::IatOutOfWindow),
        ),
        (
            "too new",
            Some(json!(NOW + 31)),
            Err(DpopError::IatOutOfWindow),
        ),
        ("negative", Some(json!(-1)), Err(DpopError::IatOutOfWindow)),
        (
            "negative float",
            Some(json!(-0.5)),
            Err(DpopError::IatOutOfWindow),
        ),
        ("zero", Some(json!(0)), Err(DpopError::IatOutOfWindow)),
        (
            "u64 max",
            Some(json!(u64::MAX)),
            Err(DpopError::IatOutOfWindow),
        ),
        (
            "huge float",
            Some(json!(1e300)),
            Err(DpopError::IatOutOfWindow),
        ),
        (
            "2^64",
            Some(json!(18_446_744_073_709_551_616.0_f64)),
            Err(DpopError::IatOutOfWindow),
        ),
        (
            "string",
            Some(json!("1700000000")),
            Err(DpopError::InvalidIat),
        ),
        ("bool", Some(json!(true)), Err(DpopError::InvalidIat)),
        ("null", Some(json!(null)), Err(DpopError::InvalidIat)),
        ("object", Some(json!({})), Err(DpopError::InvalidIat)),
        ("missing", None, Err(DpopError::InvalidIat)),
    ];
    for (name, iat, expected) in cases {
        let p = match iat {
            Some(v) => with(payload(), "iat", v),
            None => without(payload(), "iat"),
        };
        let got = check(&header(&k), &p).map(|v| v.iat.as_secs());
        assert_eq!(got, expected, "{name}");
    }
    // The window saturates: at the epoch and at the end of time nothing overflows.
    for now in [0, u64::MAX] {
        let p = with(payload(), "iat", json!(now));
        let proof = sign(&header(&k), &p, &k);
        let jkt = jkt_of(&k);
        let input = ProofInput {
            now: UnixTime::from_secs(now),
            iat_offset: Duration::MAX,
            iat_leeway: Duration::MAX,
            ..input(&proof, &jkt)
        };
        assert!(verify_proof(&input, None).is_ok(), "now {now}");
    }
}

/// T-61 and the remaining claims.
#[test]
fn htm_htu_ath() {
    let k = key(1);
    let cases: Vec<(&str, &str, Value, Result<(), DpopError>)> = vec![
        ("htm lower case", "htm", json!("get"), Ok(())),
        ("htm mixed case", "htm", json!("gEt"), Ok(())),
        (
            "htm other",
            "htm",
            json!("POST"),
            Err(DpopError::HtmMismatch),
        ),
        (
            "htm with space",
            "htm",
            json!("GET "),
            Err(DpopError::HtmMismatch),
        ),
        (
            "htm number",
            "htm",
            json!(1),
            Err(DpopError::MissingClaim("htm")),
        ),
        (
            "htu default port",
            "htu",
            json!("https://API.example.com:443/orders?x#y"),
            Ok(()),
        ),
        (
            "htu encoded",
            "htu",
            json!("https://api.example.com/%6Frders"),
            Ok(()),
        ),
        (
            "htu other path",
            "htu",
            json!("https://api.example.com/orders/1"),
            Err(DpopError::HtuMismatch),
        ),
        (
            "htu dot segment",
            "htu",
            json!("https://api.example.com/x/../orders"),
            Err(DpopError::HtuMismatch),
        ),
        (
            "htu userinfo",
            "htu",
            json!("https://u@api.example.com/orders"),
            Err(DpopError::InvalidHtu(UrlError::Userinfo)),
        ),
        (
            "htu backslash",
            "htu",
            json!("https://api.example.com\\orders"),
            Err(DpopError::InvalidHtu(UrlError::Character)),
        ),
        (
            "htu ws",
            "htu",
            json!("wss://api.example.com/orders"),
            Err(DpopError::InvalidHtu(UrlError::Scheme)),
        ),
        (
            "htu array",
            "htu",
            json!([URL]),
            Err(DpopError::MissingClaim("htu")),
        ),
        (
            "ath other",
            "ath",
            json!(access_token_hash("other")),
            Err(DpopError::AthMismatch),
        ),
        (
            "ath padded",
            "ath",
            json!(format!("{}=", access_token_hash(TOKEN))),
            Err(DpopError::AthMismatch),
        ),
        (
            "ath null",
            "ath",
            json!(null),
            Err(DpopError::MissingClaim("ath")),
        ),
    ];
    for (name, claim, value, expected) in cases {
        let got = check(&header(&k), &with(payload(), claim, value)).map(|_| ());
        assert_eq!(got, expected, "{name}");
    }
    for claim in ["htm", "htu", "ath"] {
        let got = check(&header(&k), &without(payload(), claim));
        assert_eq!(got, Err(DpopError::MissingClaim(claim)), "{claim}");
    }
    // Extra claims, such as a nonce, are ignored.
    assert!(check(&header(&k), &with(payload(), "nonce", json!("n"))).is_ok());
}

#[test]
fn payload_must_be_strict_json() {
    let k = key(1);
    let jkt = jkt_of(&k);
    let h = header(&k).to_string();
    let dup = format!(
        r#"{{"jti":"a","jti":"b","htm":"GET","htu":"{URL}","iat":{NOW},"ath":"{}"}}"#,
        access_token_hash(TOKEN)
    );
    let cases: Vec<(&str, String, JsonError)> = vec![
        ("duplicate", dup, JsonError::DuplicateMember),
        ("array", "[]".into(), JsonError::NotAnObject),
        ("text", "hello".into(), JsonError::Syntax),
        (
            "deep",
            format!("{{\"a\":{}{}}}", "[".repeat(40), "]".repeat(40)),
            JsonError::TooDeep,
        ),
    ];
    for (name, payload, expected) in cases {
        let proof = sign_raw(&h, &payload, &k);
        let got = verify_proof(&input(&proof, &jkt), None);
        assert_eq!(
            got,
            Err(DpopError::InvalidProofSyntax(JoseError::PayloadJson(
                expected
            ))),
            "{name}"
        );
    }
}

/// T-63, T-64: replay cache on and off.
#[test]
fn replay_cache() {
    let k = key(1);
    let jkt = jkt_of(&k);
    let proof = sign(&header(&k), &payload(), &k);
    let same_jti_other_spelling = sign(
        &header(&k),
        &with(
            payload(),
            "htu",
            json!("https://api.example.com:443/orders?page=2"),
        ),
        &k,
    );
    let fresh = sign(&header(&k), &with(payload(), "jti", json!("id-2")), &k);
    let bad_ath = sign(
        &header(&k),
        &with(with(payload(), "jti", json!("id-3")), "ath", json!("x")),
        &k,
    );
    let other_key = key(2);
    let other_key_proof = sign(&header(&other_key), &payload(), &other_key);
    let other_jkt = jkt_of(&other_key);

    // T-64: without a cache the same proof is accepted twice (the documented risk).
    assert!(verify_proof(&input(&proof, &jkt), None).is_ok());
    assert!(verify_proof(&input(&proof, &jkt), None).is_ok());

    let mut cache =
        ReplayCache::for_window(3, DEFAULT_IAT_OFFSET, DEFAULT_IAT_LEEWAY).with_per_key_quota(3);
    let steps: Vec<(&str, ProofInput<'_>, Result<(), DpopError>)> = vec![
        ("first use", input(&proof, &jkt), Ok(())),
        ("replay", input(&proof, &jkt), Err(DpopError::Replayed)),
        (
            "same jti, equal htu",
            input(&same_jti_other_spelling, &jkt),
            Err(DpopError::Replayed),
        ),
        (
            "invalid proof does not enter",
            input(&bad_ath, &jkt),
            Err(DpopError::AthMismatch),
        ),
        (
            "same jti, other key",
            input(&other_key_proof, &other_jkt),
            Ok(()),
        ),
        ("fresh jti", input(&fresh, &jkt), Ok(())),
        (
            "invalid proof later",
            ProofInput {
                now: UnixTime::from_secs(NOW + 1),
                ..input(&bad_ath, &jkt)
            },
            Err(DpopError::AthMismatch),
        ),
        (
            "replay just before expiry",
            ProofInput {
                now: UnixTime::from_secs(NOW + 300),
                ..input(&proof, &jkt)
            },
            Err(DpopError::Replayed),
        ),
    ];
    for (name, input, expected) in steps {
        assert_eq!(
            verify_proof(&input, Some(&mut cache)).map(|_| ()),
            expected,
            "{name}"
        );
    }
    assert_eq!(cache.len(), 3);
    // Full of live entries: a new valid proof is refused, not an entry forgotten.
    let fourth = sign(&header(&k), &with(payload(), "jti", json!("id-4")), &k);
    let got = verify_proof(&input(&fourth, &jkt), Some(&mut cache));
    assert_eq!(got, Err(DpopError::ReplayCacheFull));
    assert_eq!(got.unwrap_err().code(), DpopErrorCode::InvalidDpopProof);
    assert!(cache.contains(&ReplayKey::new(&jkt, "id-1"), UnixTime::from_secs(NOW)));
}

#[test]
fn proof_error_codes() {
    use DpopErrorCode::{InvalidDpopProof as Proof, InvalidToken as Tok};
    let cases: Vec<(DpopError, DpopErrorCode)> = vec![
        (DpopError::ProofTooLarge, Proof),
        (
            DpopError::InvalidProofSyntax(JoseError::SegmentCount),
            Proof,
        ),
        (DpopError::InvalidTyp, Proof),
        (DpopError::UnsupportedAlg, Proof),
        (DpopError::MissingJwk, Proof),
        (DpopError::InvalidJwk(JoseError::PrivateKeyMaterial), Proof),
        (DpopError::InvalidSignature, Proof),
        (DpopError::InvalidJti, Proof),
        (DpopError::InvalidIat, Proof),
        (DpopError::IatOutOfWindow, Proof),
        (DpopError::MissingClaim("ath"), Proof),
        (DpopError::HtmMismatch, Proof),
        (DpopError::InvalidHtu(UrlError::Host), Proof),
        (DpopError::HtuMismatch, Proof),
        (DpopError::AthMismatch, Proof),
        (DpopError::Replayed, Proof),
        (DpopError::ReplayCacheFull, Proof),
        (DpopError::ReplayQuotaExceeded, Proof),
        (DpopError::JktMismatch, Tok),
    ];
    for (e, code) in cases {
        assert_eq!(e.code(), code, "{e:?}");
        assert!(e.is_dpop_specific(), "{e:?}");
        assert!(e.challenge_has_error(), "{e:?}");
        let text = e.to_string();
        assert_eq!(text, text.to_lowercase(), "{text}");
        assert!(!text.ends_with('.'), "{text}");
    }
}

#[test]
fn debug_redacts_secrets() {
    let k = key(1);
    let proof = sign(&header(&k), &payload(), &k);
    let jkt = jkt_of(&k);
    let text = format!("{:?}", input(&proof, &jkt));
    assert!(!text.contains(TOKEN) && !text.contains(&proof), "{text}");
    assert!(text.contains("[redacted]"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn proof_never_panics(proof in any::<String>(), url in any::<String>()) {
        let input = ProofInput::new(Some(&proof), TOKEN, "jkt", Some("GET"), Some(URL), UnixTime::from_secs(NOW));
        let _ = verify_proof(&input, None);
        let input = ProofInput { url: Some(&url), ..input };
        let _ = verify_proof(&input, None);
    }

    #[test]
    fn signed_arbitrary_claims_never_panic(payload in "[ -~]{0,80}", typ in "[a-zA-Z+/]{0,20}") {
        let k = key(1);
        let jkt = jkt_of(&k);
        let h = with(header(&k), "typ", json!(typ));
        let proof = sign_raw(&h.to_string(), &payload, &k);
        let _ = verify_proof(&input(&proof, &jkt), None);
    }
}
