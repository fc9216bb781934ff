//! Signature checks behind a small crypto-provider trait, and the default RustCrypto provider.
//!
//! The JOSE logic (parsing, key selection, algorithm binding) never calls a crypto crate
//! directly: it imports keys with a [`CryptoProvider`] once, when a JWK Set is loaded, and
//! verifies through the resulting [`VerifyingKey`]. A faster backend is a second provider.

use alloc::boxed::Box;
use core::fmt;

use sha2::{Digest, Sha256, Sha384, Sha512};

use super::key::PublicKeyMaterial;
use super::{Algorithm, JoseError, KeyType};

/// Imports public key material into verifying keys.
pub trait CryptoProvider: Send + Sync + fmt::Debug {
    /// Imports checked material (see [`PublicKeyMaterial`]).
    ///
    /// # Errors
    /// [`JoseError::InvalidKey`] when the backend refuses the key (for example an EC point not
    /// on its curve), [`JoseError::KeySize`] for an RSA modulus it does not accept.
    fn import(&self, material: &PublicKeyMaterial) -> Result<Box<dyn VerifyingKey>, JoseError>;
}

/// A public key ready to verify signatures.
pub trait VerifyingKey: Send + Sync + fmt::Debug {
    /// Verifies `signature` over `message` under `alg`.
    ///
    /// Implementations MUST reject an algorithm of another key type, ECDSA signatures that are
    /// not exactly `R || S` of the curve's size (RFC 7518 section 3.4), and RSA-PSS signatures
    /// whose salt length is not the hash length (RFC 7518 section 3.5).
    ///
    /// # Errors
    /// [`JoseError::KeyAlgorithmMismatch`] or [`JoseError::InvalidSignature`].
    fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> Result<(), JoseError>;
}

/// The default provider, on the RustCrypto crates (`rsa`, `p256`, `sha2`; `p384`, `p521` and
/// `ed25519-dalek` with their features).
#[derive(Clone, Copy, Debug, Default)]
pub struct RustCrypto;

/// The default provider instance.
pub static RUST_CRYPTO: RustCrypto = RustCrypto;

enum RustCryptoKey {
    Rsa(rsa::PublicKey),
    P256(p256::ecdsa::VerifyingKey),
    #[cfg(feature = "es384")]
    P384(p384::ecdsa::VerifyingKey),
    #[cfg(feature = "es512")]
    P521(p521::ecdsa::VerifyingKey),
    #[cfg(feature = "eddsa")]
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl fmt::Debug for RustCryptoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RustCryptoKey::Rsa(_) => "RustCryptoKey::Rsa",
            RustCryptoKey::P256(_) => "RustCryptoKey::P256",
            #[cfg(feature = "es384")]
            RustCryptoKey::P384(_) => "RustCryptoKey::P384",
            #[cfg(feature = "es512")]
            RustCryptoKey::P521(_) => "RustCryptoKey::P521",
            #[cfg(feature = "eddsa")]
            RustCryptoKey::Ed25519(_) => "RustCryptoKey::Ed25519",
        })
    }
}

impl CryptoProvider for RustCrypto {
    fn import(&self, material: &PublicKeyMaterial) -> Result<Box<dyn VerifyingKey>, JoseError> {
        let key = match material {
            PublicKeyMaterial::Rsa { n, e } => {
                let bits =
                    u32::try_from(n.len().saturating_mul(8)).map_err(|_| JoseError::KeySize)?;
                let n = rsa::BoxedUint::from_be_slice(n, bits)
                    .map_err(|_| JoseError::InvalidKey("n"))?;
                let e =
                    rsa::BoxedUint::from_be_slice(e, 64).map_err(|_| JoseError::InvalidKey("e"))?;
                // Size policy is enforced before this point; here only the crate's own checks.
                let key = rsa::PublicKey::new_with_size_limits(
                    n,
                    e,
                    2048..=super::key::MAX_RSA_MODULUS_BITS,
                )
                .map_err(|_| JoseError::InvalidKey("n"))?;
                RustCryptoKey::Rsa(key)
            }
            PublicKeyMaterial::Ec { key_type, x, y } => match key_type {
                KeyType::EcP256 => RustCryptoKey::P256(ec_key::<p256::NistP256>(x, y)?),
                #[cfg(feature = "es384")]
                KeyType::EcP384 => RustCryptoKey::P384(ec_key::<p384::NistP384>(x, y)?),
                #[cfg(feature = "es512")]
                KeyType::EcP521 => RustCryptoKey::P521(
                    p521::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(x, y))
                        .map_err(|_| JoseError::InvalidKey("x"))?,
                ),
                _ => return Err(JoseError::InvalidKey("crv")),
            },
            #[cfg(feature = "eddsa")]
            PublicKeyMaterial::Okp { x } => {
                let bytes: &[u8; 32] = x
                    .as_slice()
                    .try_into()
                    .map_err(|_| JoseError::InvalidKey("x"))?;
                RustCryptoKey::Ed25519(
                    ed25519_dalek::VerifyingKey::from_bytes(bytes)
                        .map_err(|_| JoseError::InvalidKey("x"))?,
                )
            }
            #[cfg(not(feature = "eddsa"))]
            PublicKeyMaterial::Okp { .. } => return Err(JoseError::InvalidKey("kty")),
        };
        Ok(Box::new(key))
    }
}

fn invalid<E>(_: E) -> JoseError {
    JoseError::InvalidSignature
}

fn sec1(x: &[u8], y: &[u8]) -> alloc::vec::Vec<u8> {
    let mut point = alloc::vec::Vec::with_capacity(1 + x.len() + y.len());
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    point
}

fn ec_key<C>(x: &[u8], y: &[u8]) -> Result<ecdsa_core::VerifyingKey<C>, JoseError>
where
    C: ecdsa_core::EcdsaCurve + elliptic_curve::CurveArithmetic,
    elliptic_curve::AffinePoint<C>:
        elliptic_curve::sec1::FromSec1Point<C> + elliptic_curve::sec1::ToSec1Point<C>,
    elliptic_curve::FieldBytesSize<C>: elliptic_curve::sec1::ModulusSize,
{
    // Decoding checks that the point is on the curve and not the identity.
    ecdsa_core::VerifyingKey::<C>::from_sec1_bytes(&sec1(x, y))
        .map_err(|_| JoseError::InvalidKey("x"))
}

impl VerifyingKey for RustCryptoKey {
    fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> Result<(), JoseError> {
        use signature::Verifier as _;
        match (self, alg) {
            (RustCryptoKey::Rsa(key), Algorithm::RS256) => key
                .verify(
                    rsa::Pkcs1v15Sign::new::<Sha256>(),
                    &Sha256::digest(message),
                    signature,
                )
                .map_err(invalid),
            (RustCryptoKey::Rsa(key), Algorithm::RS384) => key
                .verify(
                    rsa::Pkcs1v15Sign::new::<Sha384>(),
                    &Sha384::digest(message),
                    signature,
                )
                .map_err(invalid),
            (RustCryptoKey::Rsa(key), Algorithm::RS512) => key
                .verify(
                    rsa::Pkcs1v15Sign::new::<Sha512>(),
                    &Sha512::digest(message),
                    signature,
                )
                .map_err(invalid),
            // RFC 7518 section 3.5: MGF1 with the same hash, salt length = hash length.
            (RustCryptoKey::Rsa(key), Algorithm::PS256) => key
                .verify(
                    rsa::Pss::<Sha256>::new(),
                    &Sha256::digest(message),
                    signature,
                )
                .map_err(invalid),
            (RustCryptoKey::Rsa(key), Algorithm::PS384) => key
                .verify(
                    rsa::Pss::<Sha384>::new(),
                    &Sha384::digest(message),
                    signature,
                )
                .map_err(invalid),
            (RustCryptoKey::Rsa(key), Algorithm::PS512) => key
                .verify(
                    rsa::Pss::<Sha512>::new(),
                    &Sha512::digest(message),
                    signature,
                )
                .map_err(invalid),
            // RFC 7518 section 3.4: R || S, each exactly the curve's size; DER never.
            (RustCryptoKey::P256(key), Algorithm::ES256) => {
                let sig = p256::ecdsa::Signature::from_slice(signature).map_err(invalid)?;
                key.verify(message, &sig).map_err(invalid)
            }
            #[cfg(feature = "es384")]
            (RustCryptoKey::P384(key), Algorithm::ES384) => {
                let sig = p384::ecdsa::Signature::from_slice(signature).map_err(invalid)?;
                key.verify(message, &sig).map_err(invalid)
            }
            #[cfg(feature = "es512")]
            (RustCryptoKey::P521(key), Algorithm::ES512) => {
                let sig = p521::ecdsa::Signature::from_slice(signature).map_err(invalid)?;
                key.verify(message, &sig).map_err(invalid)
            }
            #[cfg(feature = "eddsa")]
            (RustCryptoKey::Ed25519(key), Algorithm::EdDSA | Algorithm::Ed25519) => {
                let sig = ed25519_dalek::Signature::from_slice(signature).map_err(invalid)?;
                // Strict verification: rejects non-canonical S (S >= L) and small-order keys.
                key.verify_strict(message, &sig).map_err(invalid)
            }
            _ => Err(JoseError::KeyAlgorithmMismatch),
        }
    }
}
