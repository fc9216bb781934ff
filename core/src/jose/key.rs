//! Public key material as decoded from a JWK, before any crypto provider imports it.
//!
//! This is the meeting point of [`jwk`](super::jwk), which decodes and checks the material,
//! and [`provider`](super::provider), which imports it into verifying keys.

use alloc::vec::Vec;

use super::KeyType;

/// The largest RSA modulus that can be configured.
pub const MAX_RSA_MODULUS_BITS: usize = 8192;

/// The public key material of a JWK, decoded and checked for form (not yet imported).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKeyMaterial {
    /// `kty: RSA`: big-endian modulus and exponent, minimal encodings.
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
    },
    /// `kty: EC`: affine coordinates, each exactly the field size.
    Ec {
        /// The curve, as the key type that verifies with it.
        key_type: KeyType,
        /// The x coordinate.
        x: Vec<u8>,
        /// The y coordinate.
        y: Vec<u8>,
    },
    /// `kty: OKP`, `crv: Ed25519`: the 32-octet public key.
    Okp {
        /// The public key.
        x: Vec<u8>,
    },
}

impl PublicKeyMaterial {
    /// The key type (and curve) of this material.
    pub fn key_type(&self) -> KeyType {
        match self {
            PublicKeyMaterial::Rsa { .. } => KeyType::Rsa,
            PublicKeyMaterial::Ec { key_type, .. } => *key_type,
            PublicKeyMaterial::Okp { .. } => KeyType::Ed25519,
        }
    }
}
