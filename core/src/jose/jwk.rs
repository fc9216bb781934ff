//! JSON Web Keys and Key Sets (RFC 7517), key selection for a token, RFC 7638 thumbprints.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::RangeInclusive;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::header::Header;
use super::json::{self, DEFAULT_MAX_DEPTH};
pub use super::key::{MAX_RSA_MODULUS_BITS, PublicKeyMaterial};
use super::provider::{CryptoProvider, VerifyingKey};
use super::{Algorithm, JoseError, KeyType};

/// Members that only a private (or symmetric) key carries (RFC 7518 sections 6.2.2, 6.3.2, 6.4;
/// RFC 8037 section 2). A public key offering any of them is refused.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Bounds on JWK Sets and the keys in them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySetLimits {
    /// The largest JWK Set body accepted. Defaults to 1 MiB.
    pub max_body_len: usize,
    /// The most keys (usable or skipped) in one set. Defaults to 100.
    pub max_keys: usize,
    /// Accepted RSA modulus sizes in bits. Defaults to 2048..=4096: larger keys cost
    /// verification time out of proportion to their security (a verification DoS, see
    /// RFC 8725 section 3.4), and 8192 bits at most can be allowed.
    pub rsa_modulus_bits: RangeInclusive<usize>,
}

impl Default for KeySetLimits {
    fn default() -> Self {
        Self {
            max_body_len: 1 << 20,
            max_keys: 100,
            rsa_modulus_bits: 2048..=4096,
        }
    }
}

/// A public JWK, imported once into a verifying key.
#[derive(Debug)]
pub struct Jwk {
    kid: Option<String>,
    key_use: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    material: PublicKeyMaterial,
    key: Box<dyn VerifyingKey>,
}

impl Jwk {
    /// Reads a public JWK from its JSON members and imports it with `provider`, using the
    /// default RSA size limits.
    ///
    /// # Errors
    /// [`JoseError::PrivateKeyMaterial`] when private members are present,
    /// [`JoseError::KeySize`] for an RSA modulus out of range, and
    /// [`JoseError::InvalidKey`] naming the member at fault (including an unknown `kty` or
    /// `crv`, or a point not on the curve).
    pub fn from_members(
        members: &Map<String, Value>,
        provider: &dyn CryptoProvider,
    ) -> Result<Self, JoseError> {
        Self::from_members_with(members, provider, &KeySetLimits::default().rsa_modulus_bits)
    }

    fn from_members_with(
        members: &Map<String, Value>,
        provider: &dyn CryptoProvider,
        rsa_bits: &RangeInclusive<usize>,
    ) -> Result<Self, JoseError> {
        if PRIVATE_MEMBERS.iter().any(|m| members.contains_key(*m)) {
            return Err(JoseError::PrivateKeyMaterial);
        }
        let string = |name| json::optional_string(members, name, JoseError::InvalidKey);
        let kid = string("kid")?;
        let key_use = string("use")?;
        let alg = string("alg")?;
        let key_ops = match members.get("key_ops") {
            None => None,
            Some(Value::Array(ops)) => {
                let mut out: Vec<String> = Vec::with_capacity(ops.len());
                for op in ops {
                    let Value::String(op) = op else {
                        return Err(JoseError::InvalidKey("key_ops"));
                    };
                    // RFC 7517 section 4.3: duplicate operations MUST NOT be present.
                    if out.contains(op) {
                        return Err(JoseError::InvalidKey("key_ops"));
                    }
                    out.push(op.clone());
                }
                Some(out)
            }
            Some(_) => return Err(JoseError::InvalidKey("key_ops")),
        };
        let material = match required_string(members, "kty")? {
            "RSA" => rsa_material(members, rsa_bits)?,
            "EC" => {
                let (key_type, size) = match required_string(members, "crv")? {
                    "P-256" => (KeyType::EcP256, 32),
                    #[cfg(feature = "es384")]
                    "P-384" => (KeyType::EcP384, 48),
                    #[cfg(feature = "es512")]
                    "P-521" => (KeyType::EcP521, 66),
                    _ => return Err(JoseError::InvalidKey("crv")),
                };
                let x = fixed_len(members, "x", size)?;
                let y = fixed_len(members, "y", size)?;
                PublicKeyMaterial::Ec { key_type, x, y }
            }
            #[cfg(feature = "eddsa")]
            "OKP" => match required_string(members, "crv")? {
                "Ed25519" => PublicKeyMaterial::Okp {
                    x: fixed_len(members, "x", 32)?,
                },
                _ => return Err(JoseError::InvalidKey("crv")),
            },
            _ => return Err(JoseError::InvalidKey("kty")),
        };
        let key = provider.import(&material)?;
        Ok(Self {
            kid,
            key_use,
            key_ops,
            alg,
            material,
            key,
        })
    }

    /// The key type and curve.
    pub fn key_type(&self) -> KeyType {
        self.material.key_type()
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The decoded public key material.
    pub fn material(&self) -> &PublicKeyMaterial {
        &self.material
    }

    /// The RFC 7638 thumbprint: base64url (no padding) of the SHA-256 of the canonical JSON of
    /// the required members, in lexicographic order.
    pub fn thumbprint(&self) -> String {
        thumbprint(&self.material)
    }

    /// Whether this key may verify a signature made with `alg`: same key type and curve,
    /// `use` absent or `sig`, `key_ops` absent or containing `verify`, and the JWK's own `alg`
    /// absent or equal (RFC 7517 sections 4.2 to 4.4).
    pub fn is_usable_for(&self, alg: Algorithm) -> bool {
        self.key_type() == alg.key_type()
            && self.key_use.as_deref().is_none_or(|u| u == "sig")
            && self
                .key_ops
                .as_ref()
                .is_none_or(|ops| ops.iter().any(|o| o == "verify"))
            && self.alg.as_deref().is_none_or(|a| {
                a == alg.name()
                    || Algorithm::from_name(a).is_ok_and(|a| a.primitive() == alg.primitive())
            })
    }

    /// Verifies `signature` over `message` with this key under `alg`.
    ///
    /// # Errors
    /// [`JoseError::KeyAlgorithmMismatch`] when [`Jwk::is_usable_for`] is false,
    /// [`JoseError::InvalidSignature`] when the signature does not verify.
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), JoseError> {
        if !self.is_usable_for(alg) {
            return Err(JoseError::KeyAlgorithmMismatch);
        }
        self.key.verify(alg, message, signature)
    }
}

/// The RFC 7638 thumbprint of public key material.
pub fn thumbprint(material: &PublicKeyMaterial) -> String {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    // RFC 7638 section 3.2: required members only, lexicographic order, no white space. The
    // base64url alphabet and the fixed curve names need no JSON escaping.
    let canonical = match material {
        PublicKeyMaterial::Rsa { n, e } => {
            alloc::format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64(e), b64(n))
        }
        PublicKeyMaterial::Ec { key_type, x, y } => {
            // Only EC key types reach here (see `rsa_material` and the `EC` branch of parsing).
            let crv = match key_type {
                KeyType::EcP384 => "P-384",
                KeyType::EcP521 => "P-521",
                KeyType::EcP256 | KeyType::Rsa | KeyType::Ed25519 => "P-256",
            };
            alloc::format!(
                r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                b64(x),
                b64(y)
            )
        }
        PublicKeyMaterial::Okp { x } => {
            alloc::format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64(x))
        }
    };
    b64(&Sha256::digest(canonical.as_bytes()))
}

/// A JWK Set: the usable public keys of an issuer, imported once when the set is loaded.
#[derive(Debug)]
pub struct JwkSet {
    keys: Vec<Jwk>,
    skipped: usize,
    /// The body the set was parsed from, kept by the caches for snapshots (bounded by
    /// [`KeySetLimits::max_body_len`]).
    source: Option<Box<[u8]>>,
}

impl JwkSet {
    /// Parses a JWK Set body with the default [`KeySetLimits`].
    ///
    /// # Errors
    /// See [`JwkSet::parse_with`].
    pub fn parse(body: &[u8], provider: &dyn CryptoProvider) -> Result<Self, JoseError> {
        Self::parse_with(body, provider, &KeySetLimits::default())
    }

    /// Parses a JWK Set body. A key of an unknown type or curve, or a malformed one, is
    /// skipped and counted ([`JwkSet::skipped`]); the rest of the set stays usable
    /// (RFC 7517 section 5).
    ///
    /// # Errors
    /// [`JoseError::KeySetTooLarge`] for a body over the limit, [`JoseError::TooManyKeys`],
    /// [`JoseError::InvalidKeySet`] when the body is not a strict JSON object with a `keys`
    /// array of objects, and [`JoseError::PrivateKeyMaterial`] when any key carries private members (a
    /// publisher leaking private keys is not a source of trust).
    pub fn parse_with(
        body: &[u8],
        provider: &dyn CryptoProvider,
        limits: &KeySetLimits,
    ) -> Result<Self, JoseError> {
        if body.len() > limits.max_body_len {
            return Err(JoseError::KeySetTooLarge);
        }
        let mut doc =
            json::parse_object(body, DEFAULT_MAX_DEPTH).map_err(|_| JoseError::InvalidKeySet)?;
        let Some(Value::Array(entries)) = doc.remove("keys") else {
            return Err(JoseError::InvalidKeySet);
        };
        if entries.len() > limits.max_keys {
            return Err(JoseError::TooManyKeys);
        }
        let rsa_bits = limits.rsa_modulus_bits.clone();
        let mut keys = Vec::with_capacity(entries.len());
        let mut skipped = 0usize;
        for entry in &entries {
            // A member that is not an object is not a JWK of an unknown kind but a malformed
            // set (RFC 7517 section 5: "keys" is an array of JWKs).
            let Value::Object(members) = entry else {
                return Err(JoseError::InvalidKeySet);
            };
            let imported = Jwk::from_members_with(members, provider, &rsa_bits);
            match imported {
                Ok(key) => keys.push(key),
                Err(JoseError::PrivateKeyMaterial) => return Err(JoseError::PrivateKeyMaterial),
                Err(_) => skipped = skipped.saturating_add(1),
            }
        }
        Ok(Self {
            keys,
            skipped,
            source: None,
        })
    }

    /// The usable keys, in document order.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// This set with `body`, the bytes it was parsed from, kept beside it.
    pub(crate) fn with_source(mut self, body: &[u8]) -> Self {
        self.source = Some(body.into());
        self
    }

    /// The bytes the set was parsed from, when kept (sets held by the caches).
    pub(crate) fn source(&self) -> Option<&[u8]> {
        self.source.as_deref()
    }

    /// How many entries were skipped as unknown or malformed.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Whether a usable key has this `kid` (exact comparison).
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }

    /// Chooses the key for a token with this header.
    ///
    /// With a `kid`, the keys with exactly that `kid`; without, every key. Of those, only keys
    /// usable for the header's `alg` ([`Jwk::is_usable_for`]) count, and exactly one must
    /// remain (RFC 7515 section 4.1.4; RFC 8725 section 3.1).
    ///
    /// # Errors
    /// [`JoseError::NoMatchingKey`] when none remains, [`JoseError::KeyAlgorithmMismatch`]
    /// when the named `kid` exists but may not be used with this `alg`, and
    /// [`JoseError::AmbiguousKey`] when several remain (duplicate `kid`s, or no `kid` and
    /// several candidates).
    #[doc(hidden)]
    pub fn select(&self, header: &Header) -> Result<&Jwk, JoseError> {
        let named = |k: &&Jwk| header.kid.as_deref().is_none_or(|kid| k.kid() == Some(kid));
        let mut usable = self
            .keys
            .iter()
            .filter(named)
            .filter(|k| k.is_usable_for(header.alg));
        match (usable.next(), usable.next()) {
            (Some(key), None) => Ok(key),
            (Some(_), Some(_)) => Err(JoseError::AmbiguousKey),
            (None, _) if header.kid.is_some() && self.keys.iter().any(|k| named(&k)) => {
                Err(JoseError::KeyAlgorithmMismatch)
            }
            (None, _) => Err(JoseError::NoMatchingKey),
        }
    }
}

fn required_string<'m>(
    members: &'m Map<String, Value>,
    name: &'static str,
) -> Result<&'m str, JoseError> {
    match members.get(name) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(JoseError::InvalidKey(name)),
    }
}

fn base64_member(
    members: &Map<String, Value>,
    name: &'static str,
    max_len: usize,
) -> Result<Vec<u8>, JoseError> {
    let encoded = required_string(members, name)?;
    // Length before decoding, so a huge member costs nothing (T-18).
    if encoded.len() > max_len.div_ceil(3).saturating_mul(4) {
        return Err(JoseError::InvalidKey(name));
    }
    URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| JoseError::InvalidKey(name))
}

fn fixed_len(
    members: &Map<String, Value>,
    name: &'static str,
    len: usize,
) -> Result<Vec<u8>, JoseError> {
    let bytes = base64_member(members, name, len)?;
    if bytes.len() != len {
        return Err(JoseError::InvalidKey(name));
    }
    Ok(bytes)
}

fn rsa_material(
    members: &Map<String, Value>,
    bits: &RangeInclusive<usize>,
) -> Result<PublicKeyMaterial, JoseError> {
    let max_bits = (*bits.end()).min(MAX_RSA_MODULUS_BITS);
    let n =
        base64_member(members, "n", max_bits.div_ceil(8)).map_err(|e| match members.get("n") {
            // Too long but well formed: a key too large, told apart without decoding (T-18).
            Some(Value::String(s))
                if s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                JoseError::KeySize
            }
            _ => e,
        })?;
    let e = base64_member(members, "e", 8)?;
    // RFC 7518 section 6.3.1: unsigned big-endian, minimal (no leading zero octet).
    let (Some(&n_first), Some(&n_last)) = (n.first(), n.last()) else {
        return Err(JoseError::InvalidKey("n"));
    };
    if n_first == 0 {
        return Err(JoseError::InvalidKey("n"));
    }
    if n_last & 1 == 0 {
        return Err(JoseError::InvalidKey("n"));
    }
    let n_bits = n
        .len()
        .saturating_mul(8)
        .saturating_sub(n_first.leading_zeros() as usize);
    if !bits.contains(&n_bits) || n_bits > MAX_RSA_MODULUS_BITS {
        return Err(JoseError::KeySize);
    }
    match e.first() {
        Some(0) | None => return Err(JoseError::InvalidKey("e")),
        Some(_) => {}
    }
    let exponent = e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    // Odd, greater than 1, and within what RSA implementations accept (< 2^33).
    if exponent & 1 == 0 || !(3..1 << 33).contains(&exponent) {
        return Err(JoseError::InvalidKey("e"));
    }
    Ok(PublicKeyMaterial::Rsa { n, e })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::compact::{CompactJws, Limits};
    use crate::jose::provider::RUST_CRYPTO;

    fn vector(name: &str) -> Value {
        let path = alloc::format!("{}/../tests/vectors/rfc/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn jwk(v: &Value) -> Jwk {
        Jwk::from_members(v.as_object().unwrap(), &RUST_CRYPTO).unwrap()
    }

    #[test]
    fn rfc7515_a2_and_a3_verify_and_bit_flips_fail() {
        for file in ["rfc7515_a2_rs256.json", "rfc7515_a3_es256.json"] {
            let v = vector(file);
            let key = jwk(&v["public_jwk"]);
            let token = v["jws_compact"].as_str().unwrap();
            let jws = CompactJws::parse(token, &Limits::default()).unwrap();
            jws.verify(&key).unwrap();
            // One flipped bit in any segment fails, by parse or by signature.
            for i in 0..token.len() {
                let mut bytes = token.as_bytes().to_vec();
                if bytes[i] == b'.' {
                    continue;
                }
                bytes[i] ^= 0x01;
                let Ok(flipped) = core::str::from_utf8(&bytes) else {
                    continue;
                };
                let ok =
                    CompactJws::parse(flipped, &Limits::default()).and_then(|j| j.verify(&key));
                assert!(ok.is_err(), "{file}: bit flip at {i} verified");
            }
        }
    }

    #[test]
    fn rfc7638_thumbprint() {
        let v = vector("rfc7638_3_1_thumbprint.json");
        let key = jwk(&v["jwk"]);
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn private_members_are_refused() {
        let v = vector("rfc7515_a2_rs256.json");
        let members = v["private_jwk"].as_object().unwrap();
        assert_eq!(
            Jwk::from_members(members, &RUST_CRYPTO).err(),
            Some(JoseError::PrivateKeyMaterial)
        );
        let set = alloc::format!(r#"{{"keys":[{}]}}"#, v["private_jwk"]);
        assert_eq!(
            JwkSet::parse(set.as_bytes(), &RUST_CRYPTO).err(),
            Some(JoseError::PrivateKeyMaterial)
        );
    }

    #[test]
    fn members_that_are_not_objects_make_the_set_malformed() {
        let v = vector("rfc7515_a3_es256.json");
        let good = alloc::format!("{}", v["public_jwk"]);
        // An unknown key type is skipped; the rest of the set stays usable.
        let unknown = alloc::format!(r#"{{"keys":[{good},{{"kty":"XYZ"}}]}}"#);
        let set = JwkSet::parse(unknown.as_bytes(), &RUST_CRYPTO).unwrap();
        assert_eq!((set.keys().len(), set.skipped()), (1, 1));
        for junk in [r#""k1""#, "1", "null", "true", r#"["x"]"#] {
            for body in [
                alloc::format!(r#"{{"keys":[{good},{junk}]}}"#),
                alloc::format!(r#"{{"keys":[{junk},{good}]}}"#),
            ] {
                assert_eq!(
                    JwkSet::parse(body.as_bytes(), &RUST_CRYPTO).err(),
                    Some(JoseError::InvalidKeySet),
                    "{body}"
                );
            }
        }
    }
}
