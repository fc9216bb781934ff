//! A [`CryptoProvider`] on `aws-lc-rs` (feature `aws-lc`, needs `std` and a C compiler).
//!
//! Keys are parsed once, when a JWK Set is imported, into `aws-lc-rs` parsed public keys; a
//! verification then costs one digest and one public-key operation. The JOSE rules are the
//! same as the default provider's:
//!
//! - ECDSA signatures are accepted only as `R || S` of exactly twice the curve's scalar size
//!   (RFC 7518 section 3.4), through the `*_FIXED` algorithms; DER is never accepted.
//! - RSA-PSS uses MGF1 with the message digest and a salt as long as the digest
//!   (RFC 7518 section 3.5).
//! - RSA moduli outside 2048 to [`MAX_RSA_MODULUS_BITS`] bits are refused at import with
//!   [`JoseError::KeySize`], like the default provider (the configured, narrower policy of
//!   [`KeySetLimits`](super::jwk::KeySetLimits) is applied before any provider sees the key).
//!
//! ```
//! use auth0_api::VerifierConfig;
//! use auth0_api::jose::aws_lc::AWS_LC;
//!
//! let verifier = VerifierConfig::new()
//!     .domain("tenant.example")
//!     .audience("api://orders")
//!     .crypto_provider(&AWS_LC)
//!     .build()
//!     .unwrap();
//! assert_eq!(format!("{:?}", verifier.crypto_provider()), "AwsLc");
//! ```

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents};

use super::key::{MAX_RSA_MODULUS_BITS, PublicKeyMaterial};
use super::provider::{CryptoProvider, VerifyingKey};
use super::{Algorithm, JoseError, KeyType};

/// The `aws-lc-rs` provider. Pass [`AWS_LC`] to
/// [`VerifierConfig::crypto_provider`](crate::config::VerifierConfig::crypto_provider).
#[derive(Clone, Copy, Debug, Default)]
pub struct AwsLc;

/// The `aws-lc-rs` provider instance.
pub static AWS_LC: AwsLc = AwsLc;

/// The RSA algorithms in [`Algorithm`] order, with their `aws-lc-rs` parameters.
const RSA_ALGORITHMS: [(Algorithm, &RsaParameters); 6] = [
    (Algorithm::RS256, &signature::RSA_PKCS1_2048_8192_SHA256),
    (Algorithm::RS384, &signature::RSA_PKCS1_2048_8192_SHA384),
    (Algorithm::RS512, &signature::RSA_PKCS1_2048_8192_SHA512),
    // RFC 7518 section 3.5: these use MGF1 with the same digest and salt length = digest
    // length, and reject any other salt length.
    (Algorithm::PS256, &signature::RSA_PSS_2048_8192_SHA256),
    (Algorithm::PS384, &signature::RSA_PSS_2048_8192_SHA384),
    (Algorithm::PS512, &signature::RSA_PSS_2048_8192_SHA512),
];

/// A key parsed for each algorithm its type allows (an `aws-lc-rs` parsed key is bound to one
/// algorithm).
struct AwsLcKey {
    key_type: KeyType,
    parsed: Vec<(Algorithm, ParsedPublicKey)>,
}

impl fmt::Debug for AwsLcKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AwsLcKey({:?})", self.key_type)
    }
}

impl CryptoProvider for AwsLc {
    fn import(&self, material: &PublicKeyMaterial) -> Result<Box<dyn VerifyingKey>, JoseError> {
        let key_type = material.key_type();
        let parsed = match material {
            PublicKeyMaterial::Rsa { n, e } => {
                check_modulus(n)?;
                let components = RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                };
                RSA_ALGORITHMS
                    .iter()
                    .map(|(alg, params)| {
                        components
                            .to_parsed_public_key(params)
                            .map(|key| (*alg, key))
                            .map_err(|_| JoseError::InvalidKey("n"))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
            PublicKeyMaterial::Ec { key_type, x, y } => {
                let (alg, params): (Algorithm, &'static signature::EcdsaVerificationAlgorithm) =
                    match key_type {
                        KeyType::EcP256 => (Algorithm::ES256, &signature::ECDSA_P256_SHA256_FIXED),
                        #[cfg(feature = "es384")]
                        KeyType::EcP384 => (Algorithm::ES384, &signature::ECDSA_P384_SHA384_FIXED),
                        #[cfg(feature = "es512")]
                        KeyType::EcP521 => (Algorithm::ES512, &signature::ECDSA_P521_SHA512_FIXED),
                        _ => return Err(JoseError::InvalidKey("crv")),
                    };
                // SEC 1 section 2.3.3 uncompressed point; parsing checks it is on the curve
                // and not the point at infinity.
                let mut point =
                    Vec::with_capacity(x.len().saturating_add(y.len()).saturating_add(1));
                point.push(0x04);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                let key =
                    ParsedPublicKey::new(params, point).map_err(|_| JoseError::InvalidKey("x"))?;
                alloc::vec![(alg, key)]
            }
            #[cfg(feature = "eddsa")]
            PublicKeyMaterial::Okp { x } => {
                let key = ParsedPublicKey::new(&signature::ED25519, x.as_slice())
                    .map_err(|_| JoseError::InvalidKey("x"))?;
                alloc::vec![(Algorithm::EdDSA, key)]
            }
            #[cfg(not(feature = "eddsa"))]
            PublicKeyMaterial::Okp { .. } => return Err(JoseError::InvalidKey("kty")),
        };
        Ok(Box::new(AwsLcKey { key_type, parsed }))
    }
}

/// The same modulus bounds as the default provider: 2048 to [`MAX_RSA_MODULUS_BITS`] bits,
/// counted exactly (a leading zero octet is already refused when the JWK is read).
fn check_modulus(n: &[u8]) -> Result<(), JoseError> {
    let first = n.first().ok_or(JoseError::InvalidKey("n"))?;
    let bits = n
        .len()
        .saturating_mul(8)
        .saturating_sub(first.leading_zeros() as usize);
    if (2048..=MAX_RSA_MODULUS_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(JoseError::KeySize)
    }
}

impl VerifyingKey for AwsLcKey {
    fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> Result<(), JoseError> {
        let (_, key) = self
            .parsed
            .iter()
            .find(|(a, _)| *a == alg.primitive())
            .ok_or(JoseError::KeyAlgorithmMismatch)?;
        key.verify_sig(message, signature)
            .map_err(|_| JoseError::InvalidSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::jwk::JwkSet;
    use crate::jose::provider::RUST_CRYPTO;

    const RSA_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    // RFC 7515 appendix A.2 and A.3.
    const RS256: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
    const ES256: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

    fn set(provider: &dyn CryptoProvider) -> JwkSet {
        let body = alloc::format!(
            r#"{{"keys":[{{"kty":"RSA","n":"{RSA_N}","e":"AQAB"}},
            {{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
              "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}]}}"#
        );
        JwkSet::parse(body.as_bytes(), provider).unwrap()
    }

    #[test]
    fn rfc7515_examples_verify_like_the_default_provider() {
        use crate::jose::compact::{CompactJws, Limits};
        let (aws, rust) = (set(&AWS_LC), set(&RUST_CRYPTO));
        assert_eq!(aws.keys().len(), 2);
        for token in [RS256, ES256] {
            let jws = CompactJws::parse(token, &Limits::default()).unwrap();
            for s in [&aws, &rust] {
                assert_eq!(jws.verify(s.select(jws.header()).unwrap()), Ok(()));
            }
            // One flipped signature bit fails with both.
            let mut sig = jws.signature().to_vec();
            sig[5] ^= 1;
            for s in [&aws, &rust] {
                let key = s.select(jws.header()).unwrap();
                assert_eq!(
                    key.verify(jws.header().alg, jws.signing_input(), &sig),
                    Err(JoseError::InvalidSignature)
                );
            }
        }
    }

    #[test]
    fn algorithm_binding_and_signature_format() {
        let aws = set(&AWS_LC);
        let (rsa, ec) = (&aws.keys()[0], &aws.keys()[1]);
        // The key type decides, whatever the signature.
        assert_eq!(
            rsa.verify(Algorithm::ES256, b"m", &[0; 64]),
            Err(JoseError::KeyAlgorithmMismatch)
        );
        assert_eq!(
            ec.verify(Algorithm::RS256, b"m", &[0; 256]),
            Err(JoseError::KeyAlgorithmMismatch)
        );
        // The RFC 7515 A.3 signature as DER (SEQUENCE of two INTEGERs) is refused.
        let jws = crate::jose::compact::CompactJws::parse(ES256, &Default::default()).unwrap();
        let (r, s) = jws.signature().split_at(32);
        let int = |v: &[u8]| {
            let mut out = alloc::vec![0x02];
            let pad = v[0] & 0x80 != 0;
            out.push(u8::try_from(v.len() + usize::from(pad)).unwrap());
            if pad {
                out.push(0);
            }
            out.extend_from_slice(v);
            out
        };
        let body: Vec<u8> = [int(r), int(s)].concat();
        let mut der = alloc::vec![0x30, u8::try_from(body.len()).unwrap()];
        der.extend_from_slice(&body);
        assert_eq!(
            ec.verify(Algorithm::ES256, jws.signing_input(), &der),
            Err(JoseError::InvalidSignature)
        );
    }

    #[test]
    fn rsa_size_policy_matches_the_default_provider() {
        let key = |bits: usize| {
            let mut n = alloc::vec![0xffu8; bits / 8];
            n[0] = 0xc1;
            PublicKeyMaterial::Rsa {
                n,
                e: alloc::vec![1, 0, 1],
            }
        };
        for bits in [1024, 2040, 8200] {
            assert_eq!(
                AWS_LC.import(&key(bits)).err(),
                Some(JoseError::KeySize),
                "{bits}"
            );
        }
        assert!(AWS_LC.import(&key(2048)).is_ok());
        assert_eq!(check_modulus(&[]), Err(JoseError::InvalidKey("n")));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Runs a Wycheproof file through both providers: both import the key or both refuse it,
    /// every test gets the same answer from both, and `expect` says which answers are right.
    fn wycheproof(file: &str, alg: Algorithm, expect: fn(&str) -> Option<bool>) -> usize {
        let path = alloc::format!(
            "{}/../tests/vectors/wycheproof/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut checked = 0;
        for group in doc["testGroups"].as_array().unwrap() {
            let key = &group["publicKey"];
            let material = match (key["uncompressed"].as_str(), key["pk"].as_str()) {
                (Some(point), _) => {
                    let point = hex(point);
                    let size = (point.len() - 1) / 2;
                    PublicKeyMaterial::Ec {
                        key_type: alg.key_type(),
                        x: point[1..=size].to_vec(),
                        y: point[size + 1..].to_vec(),
                    }
                }
                (None, Some(pk)) => PublicKeyMaterial::Okp { x: hex(pk) },
                (None, None) => {
                    let mut n = hex(key["modulus"].as_str().unwrap());
                    while n.first() == Some(&0) {
                        n.remove(0);
                    }
                    PublicKeyMaterial::Rsa {
                        n,
                        e: hex(key["publicExponent"].as_str().unwrap()),
                    }
                }
            };
            let (aws, rust) = (AWS_LC.import(&material), RUST_CRYPTO.import(&material));
            assert_eq!(aws.is_ok(), rust.is_ok(), "{file}: key import disagrees");
            let (Ok(aws), Ok(rust)) = (aws, rust) else {
                continue;
            };
            for test in group["tests"].as_array().unwrap() {
                let id = &test["tcId"];
                let (msg, sig) = (
                    hex(test["msg"].as_str().unwrap()),
                    hex(test["sig"].as_str().unwrap()),
                );
                let a = aws.verify(alg, &msg, &sig);
                let r = rust.verify(alg, &msg, &sig);
                assert_eq!(a, r, "{file} tcId {id}: providers disagree");
                if let Some(valid) = expect(test["result"].as_str().unwrap()) {
                    assert_eq!(a.is_ok(), valid, "{file} tcId {id}");
                }
                checked += 1;
            }
        }
        checked
    }

    #[test]
    fn wycheproof_both_providers_agree() {
        // `acceptable` vectors may go either way, but both providers must give the same answer.
        let as_given = |r: &str| match r {
            "valid" => Some(true),
            "invalid" => Some(false),
            _ => None,
        };
        let never = |_: &str| Some(false);
        // The file's `valid` vectors use salt length 0 and must fail as PS256. Its `invalid`
        // ones may go either way: tcId 69 ("s_len changed to 32") is a correct PS256 signature.
        let salt_0 = |r: &str| (r == "valid").then_some(false);
        let files: [(&str, Algorithm, fn(&str) -> Option<bool>); 5] = [
            (
                "ecdsa_secp256r1_sha256_p1363_test.json",
                Algorithm::ES256,
                as_given,
            ),
            // DER signatures are never JWS signatures, the valid ones included.
            ("ecdsa_secp256r1_sha256_test.json", Algorithm::ES256, never),
            (
                "rsa_signature_2048_sha256_test.json",
                Algorithm::RS256,
                as_given,
            ),
            (
                "rsa_pss_2048_sha256_mgf1_32_test.json",
                Algorithm::PS256,
                as_given,
            ),
            // Valid PSS with a salt other than the hash length is refused as PS256.
            (
                "rsa_pss_2048_sha256_mgf1_0_test.json",
                Algorithm::PS256,
                salt_0,
            ),
        ];
        for (file, alg, expect) in files {
            assert!(wycheproof(file, alg, expect) > 90, "{file}");
        }
        #[cfg(feature = "es384")]
        assert!(
            wycheproof(
                "ecdsa_secp384r1_sha384_p1363_test.json",
                Algorithm::ES384,
                as_given
            ) > 90
        );
        #[cfg(feature = "es512")]
        assert!(
            wycheproof(
                "ecdsa_secp521r1_sha512_p1363_test.json",
                Algorithm::ES512,
                as_given
            ) > 90
        );
        #[cfg(feature = "eddsa")]
        assert!(wycheproof("ed25519_test.json", Algorithm::EdDSA, as_given) > 90);
    }

    #[test]
    fn off_curve_point_is_refused() {
        let material = PublicKeyMaterial::Ec {
            key_type: KeyType::EcP256,
            x: alloc::vec![1; 32],
            y: alloc::vec![2; 32],
        };
        assert_eq!(
            AWS_LC.import(&material).err(),
            Some(JoseError::InvalidKey("x"))
        );
    }
}
