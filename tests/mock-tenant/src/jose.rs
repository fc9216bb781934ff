//! Compact JWS signing and verification with the tenant's own keys (RFC 7515, RFC 7517, RFC 7518).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::Error;

/// Largest compact JWS the tenant accepts as a subject token or client assertion.
const MAX_COMPACT_LEN: usize = 16 * 1024;

/// A JWS algorithm the tenant signs with (RFC 7518 section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
    Ps256,
    /// ECDSA with P-256 and SHA-256.
    Es256,
}

impl Alg {
    /// Every algorithm the tenant publishes a key for, in JWKS order.
    pub const ALL: [Alg; 3] = [Alg::Rs256, Alg::Ps256, Alg::Es256];

    /// The JOSE name (`"RS256"`, `"PS256"`, `"ES256"`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Ps256 => "PS256",
            Alg::Es256 => "ES256",
        }
    }

    /// Parses a JOSE name; `None` for anything else (including `none` and `HS*`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|alg| alg.name() == name)
    }

    fn is_rsa(self) -> bool {
        matches!(self, Alg::Rs256 | Alg::Ps256)
    }
}

/// Base64url without padding (RFC 7515 section 2).
pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// A private signing key.
#[derive(Clone)]
pub(crate) enum PrivateKey {
    Rsa(Box<rsa::PrivateKey>),
    Ec(p256::ecdsa::SigningKey),
}

impl PrivateKey {
    /// Generates a fresh key suitable for `alg`.
    pub(crate) fn generate(alg: Alg, rsa_bits: usize) -> Result<Self, Error> {
        if alg.is_rsa() {
            let key = rsa::PrivateKey::new(&mut getrandom::SysRng, rsa_bits)
                .map_err(|e| Error::Key(format!("rsa key generation failed: {e}")))?;
            Ok(PrivateKey::Rsa(Box::new(key)))
        } else {
            use p256::elliptic_curve::Generate as _;
            let key = p256::ecdsa::SigningKey::try_generate()
                .map_err(|e| Error::Key(format!("p-256 key generation failed: {e}")))?;
            Ok(PrivateKey::Ec(key))
        }
    }

    /// Signs `input` with `alg`; the key type must fit the algorithm.
    pub(crate) fn sign(&self, alg: Alg, input: &[u8]) -> Result<Vec<u8>, Error> {
        match (self, alg) {
            (PrivateKey::Rsa(key), Alg::Rs256) => key
                .pkcs1v15_sign::<Sha256>(input)
                .map_err(|e| Error::Signing(format!("rs256 signing failed: {e}"))),
            (PrivateKey::Rsa(key), Alg::Ps256) => key
                .pss_sign::<Sha256>(input)
                .map_err(|e| Error::Signing(format!("ps256 signing failed: {e}"))),
            (PrivateKey::Ec(key), Alg::Es256) => {
                let signature: p256::ecdsa::Signature = key
                    .try_sign(input)
                    .map_err(|e| Error::Signing(format!("es256 signing failed: {e}")))?;
                Ok(signature.to_bytes().to_vec())
            }
            _ => Err(Error::Signing(format!(
                "key type does not fit {}",
                alg.name()
            ))),
        }
    }

    /// The matching public key.
    pub(crate) fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::Rsa(key) => PublicKey::Rsa(Box::new(key.to_public_key())),
            PrivateKey::Ec(key) => PublicKey::Ec(*key.verifying_key()),
        }
    }

    /// PKCS#8 PEM (RFC 5208, RFC 7468) of the private key.
    pub(crate) fn to_pkcs8_pem(&self) -> Result<String, Error> {
        use p256::pkcs8::EncodePrivateKey as _;
        let pem = match self {
            PrivateKey::Rsa(key) => {
                rsa::pkcs8::EncodePrivateKey::to_pkcs8_pem(key.as_ref(), Default::default())
                    .map(|pem| pem.as_str().to_owned())
                    .map_err(|e| Error::Key(format!("pkcs#8 encoding failed: {e}")))?
            }
            PrivateKey::Ec(key) => key
                .to_pkcs8_pem(Default::default())
                .map(|pem| pem.as_str().to_owned())
                .map_err(|e| Error::Key(format!("pkcs#8 encoding failed: {e}")))?,
        };
        Ok(pem)
    }
}

/// A public verification key.
#[derive(Clone)]
pub(crate) enum PublicKey {
    Rsa(Box<rsa::PublicKey>),
    Ec(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// Reads an RSA or P-256 public JWK (RFC 7518 sections 6.2 and 6.3).
    pub(crate) fn from_jwk(jwk: &Value) -> Result<Self, String> {
        let member = |name: &str| -> Result<Vec<u8>, String> {
            jwk.get(name)
                .and_then(Value::as_str)
                .and_then(unb64)
                .ok_or_else(|| format!("jwk member `{name}` is missing or not base64url"))
        };
        match jwk.get("kty").and_then(Value::as_str) {
            Some("RSA") => {
                let n = member("n")?;
                let e = member("e")?;
                let n = rsa::BoxedUint::from_be_slice_vartime(&n);
                let e = rsa::BoxedUint::from_be_slice_vartime(&e);
                let key = rsa::PublicKey::new(n, e).map_err(|e| format!("bad rsa jwk: {e}"))?;
                Ok(PublicKey::Rsa(Box::new(key)))
            }
            Some("EC") => {
                if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
                    return Err("only the P-256 curve is supported".to_owned());
                }
                let (x, y) = (member("x")?, member("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err("p-256 coordinates must be 32 bytes".to_owned());
                }
                let mut sec1 = Vec::with_capacity(65);
                sec1.push(0x04);
                sec1.extend_from_slice(&x);
                sec1.extend_from_slice(&y);
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                    .map_err(|_| "p-256 point is not on the curve".to_owned())?;
                Ok(PublicKey::Ec(key))
            }
            _ => Err("unsupported jwk kty".to_owned()),
        }
    }

    /// Whether this key type can verify `alg`.
    pub(crate) fn fits(&self, alg: Alg) -> bool {
        match self {
            PublicKey::Rsa(_) => alg.is_rsa(),
            PublicKey::Ec(_) => alg == Alg::Es256,
        }
    }

    /// Checks `signature` over `input`.
    pub(crate) fn verify(&self, alg: Alg, input: &[u8], signature: &[u8]) -> bool {
        match (self, alg) {
            (PublicKey::Rsa(key), Alg::Rs256) => {
                key.pkcs1v15_verify::<Sha256>(input, signature).is_ok()
            }
            (PublicKey::Rsa(key), Alg::Ps256) => key.pss_verify::<Sha256>(input, signature).is_ok(),
            (PublicKey::Ec(key), Alg::Es256) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify(input, &sig).is_ok()),
            _ => false,
        }
    }

    /// The public JWK members (`kty` and key material; no `kid`, `alg` or `use`).
    pub(crate) fn to_jwk(&self) -> Map<String, Value> {
        let mut jwk = Map::new();
        match self {
            PublicKey::Rsa(key) => {
                jwk.insert("kty".into(), "RSA".into());
                jwk.insert("n".into(), b64(strip_zeros(&key.n_bytes())).into());
                jwk.insert("e".into(), b64(strip_zeros(&key.e_bytes())).into());
            }
            PublicKey::Ec(key) => {
                let point = key.to_sec1_point(false);
                jwk.insert("kty".into(), "EC".into());
                jwk.insert("crv".into(), "P-256".into());
                if let (Some(x), Some(y)) = (point.x(), point.y()) {
                    jwk.insert("x".into(), b64(x).into());
                    jwk.insert("y".into(), b64(y).into());
                }
            }
        }
        jwk
    }
}

/// Big-endian integers in JWKs carry no leading zero octets (RFC 7518 section 6.3.1.1).
fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Serialises and signs a compact JWS (RFC 7515 section 7.1).
pub(crate) fn sign_compact(
    key: &PrivateKey,
    alg: Alg,
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
) -> Result<String, Error> {
    let header = serde_json::to_vec(header).map_err(|e| Error::Signing(e.to_string()))?;
    let claims = serde_json::to_vec(claims).map_err(|e| Error::Signing(e.to_string()))?;
    let input = format!("{}.{}", b64(&header), b64(&claims));
    let signature = key.sign(alg, input.as_bytes())?;
    Ok(format!("{input}.{}", b64(&signature)))
}

/// A compact JWS split and decoded, not yet trusted.
pub(crate) struct Decoded<'a> {
    pub(crate) header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
    pub(crate) signing_input: &'a str,
    pub(crate) signature: Vec<u8>,
}

impl Decoded<'_> {
    /// The `alg` header as a supported algorithm.
    pub(crate) fn alg(&self) -> Option<Alg> {
        self.header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(Alg::from_name)
    }

    /// The `kid` header.
    pub(crate) fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// Checks the signature with `key` under the header's algorithm.
    pub(crate) fn verify_with(&self, key: &PublicKey) -> bool {
        self.alg().is_some_and(|alg| {
            key.fits(alg) && key.verify(alg, self.signing_input.as_bytes(), &self.signature)
        })
    }
}

/// Splits a compact JWS into its three parts; `None` when it is malformed or too large.
pub(crate) fn decode_compact(token: &str) -> Option<Decoded<'_>> {
    if token.len() > MAX_COMPACT_LEN {
        return None;
    }
    let mut parts = token.split('.');
    let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let signing_input = token.get(..header.len() + 1 + claims.len())?;
    let header = serde_json::from_slice(&unb64(header)?).ok()?;
    let claims = serde_json::from_slice(&unb64(claims)?).ok()?;
    Some(Decoded {
        header,
        claims,
        signing_input,
        signature: unb64(signature)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alg_names_round_trip_and_reject_others() {
        for alg in Alg::ALL {
            assert_eq!(Alg::from_name(alg.name()), Some(alg));
        }
        for name in ["none", "HS256", "rs256", "ES384", ""] {
            assert_eq!(Alg::from_name(name), None, "{name}");
        }
    }

    #[test]
    fn es256_sign_verify_and_jwk_round_trip() {
        let key = PrivateKey::generate(Alg::Es256, 2048).unwrap();
        let mut claims = Map::new();
        claims.insert("sub".into(), "x".into());
        let mut header = Map::new();
        header.insert("alg".into(), "ES256".into());
        let token = sign_compact(&key, Alg::Es256, &header, &claims).unwrap();
        let decoded = decode_compact(&token).unwrap();
        let public = PublicKey::from_jwk(&Value::Object(key.public_key().to_jwk())).unwrap();
        assert!(decoded.verify_with(&public));
        let other = PrivateKey::generate(Alg::Es256, 2048).unwrap().public_key();
        assert!(!decoded.verify_with(&other));
    }

    #[test]
    fn malformed_compact_tokens_are_rejected() {
        for token in [
            "",
            "a",
            "a.b",
            "a.b.c.d",
            "e30.e30.!!",
            "bm90LWpzb24.e30.AA",
        ] {
            assert!(decode_compact(token).is_none(), "{token}");
        }
        assert!(decode_compact("e30.e30.").is_some());
        let huge = "a".repeat(MAX_COMPACT_LEN + 1);
        assert!(decode_compact(&huge).is_none());
    }

    #[test]
    fn jwk_parsing_rejects_bad_members() {
        let cases = [
            serde_json::json!({"kty": "oct", "k": "AA"}),
            serde_json::json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
            serde_json::json!({"kty": "RSA", "n": "AQAB"}),
        ];
        for jwk in cases {
            assert!(PublicKey::from_jwk(&jwk).is_err(), "{jwk}");
        }
    }

    #[test]
    fn strip_zeros_keeps_significant_octets() {
        assert_eq!(strip_zeros(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(strip_zeros(&[0, 0]), &[] as &[u8]);
        assert_eq!(strip_zeros(&[7]), &[7]);
    }
}
