//! JWS algorithms this crate verifies. `none` and every `HS*` cannot be represented.

use core::fmt;

use super::JoseError;

/// An asymmetric JWS algorithm (RFC 7518 section 3, RFC 8037 section 3.1).
///
/// Symmetric (`HS256`...) and unsecured (`none`) algorithms are deliberately absent, so no
/// code path can verify with them (RFC 8725 section 3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256, salt length 32.
    PS256,
    /// RSASSA-PSS with SHA-384, MGF1 with SHA-384, salt length 48.
    PS384,
    /// RSASSA-PSS with SHA-512, MGF1 with SHA-512, salt length 64.
    PS512,
    /// ECDSA with P-256 and SHA-256, signature `R || S` (64 octets).
    ES256,
    /// ECDSA with P-384 and SHA-384, signature `R || S` (96 octets).
    #[cfg(feature = "es384")]
    ES384,
    /// ECDSA with P-521 and SHA-512, signature `R || S` (132 octets).
    #[cfg(feature = "es512")]
    ES512,
    /// EdDSA with Ed25519 (RFC 8037), signature 64 octets.
    #[cfg(feature = "eddsa")]
    EdDSA,
    /// Ed25519, the fully-specified name of EdDSA with an Ed25519 key (RFC 9864 section 2.2).
    /// The same primitive as [`EdDSA`](Algorithm::EdDSA) here, which supports no other curve:
    /// a JWK whose `alg` is either name verifies a token whose `alg` is either name.
    #[cfg(feature = "eddsa")]
    Ed25519,
}

/// The JWK key type (and curve) an algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// `kty: RSA`.
    Rsa,
    /// `kty: EC`, `crv: P-256`.
    EcP256,
    /// `kty: EC`, `crv: P-384`.
    EcP384,
    /// `kty: EC`, `crv: P-521`.
    EcP521,
    /// `kty: OKP`, `crv: Ed25519`.
    Ed25519,
}

impl Algorithm {
    /// Every algorithm compiled into this build, in RFC 7518 order.
    pub const ALL: &'static [Algorithm] = &[
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        #[cfg(feature = "es384")]
        Algorithm::ES384,
        #[cfg(feature = "es512")]
        Algorithm::ES512,
        #[cfg(feature = "eddsa")]
        Algorithm::EdDSA,
        #[cfg(feature = "eddsa")]
        Algorithm::Ed25519,
    ];

    /// The algorithm named `name` (exact, case-sensitive, RFC 7515 section 4.1.1).
    ///
    /// # Errors
    /// [`JoseError::UnsecuredAlgorithm`] for `none` in any case,
    /// [`JoseError::SymmetricAlgorithm`] for any name starting with `HS` (any case), and
    /// [`JoseError::UnsupportedAlgorithm`] for anything else not compiled in.
    pub fn from_name(name: &str) -> Result<Self, JoseError> {
        if let Some(alg) = Self::ALL.iter().find(|a| a.name() == name) {
            return Ok(*alg);
        }
        if name.eq_ignore_ascii_case("none") {
            Err(JoseError::UnsecuredAlgorithm)
        } else if name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("hs")) {
            Err(JoseError::SymmetricAlgorithm)
        } else {
            Err(JoseError::UnsupportedAlgorithm)
        }
    }

    /// The registered name, as in the `alg` header.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            #[cfg(feature = "es384")]
            Algorithm::ES384 => "ES384",
            #[cfg(feature = "es512")]
            Algorithm::ES512 => "ES512",
            #[cfg(feature = "eddsa")]
            Algorithm::EdDSA => "EdDSA",
            #[cfg(feature = "eddsa")]
            Algorithm::Ed25519 => "Ed25519",
        }
    }

    /// The signature primitive this name selects: `Ed25519` (feature `eddsa`) is `EdDSA`,
    /// every other algorithm is itself.
    pub const fn primitive(self) -> Self {
        match self {
            #[cfg(feature = "eddsa")]
            Algorithm::Ed25519 => Algorithm::EdDSA,
            other => other,
        }
    }

    /// The key type and curve this algorithm verifies with.
    pub const fn key_type(self) -> KeyType {
        match self {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => KeyType::Rsa,
            Algorithm::ES256 => KeyType::EcP256,
            #[cfg(feature = "es384")]
            Algorithm::ES384 => KeyType::EcP384,
            #[cfg(feature = "es512")]
            Algorithm::ES512 => KeyType::EcP521,
            #[cfg(feature = "eddsa")]
            Algorithm::EdDSA | Algorithm::Ed25519 => KeyType::Ed25519,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Algorithm {
    type Err = JoseError;

    fn from_str(s: &str) -> Result<Self, JoseError> {
        Self::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Ok(*alg));
        }
    }

    #[test]
    fn none_and_hmac_are_not_representable() {
        for name in ["none", "None", "NONE", "nOnE"] {
            assert_eq!(
                Algorithm::from_name(name),
                Err(JoseError::UnsecuredAlgorithm),
                "{name}"
            );
        }
        for name in ["HS256", "HS384", "HS512", "hs256", "Hs1"] {
            assert_eq!(
                Algorithm::from_name(name),
                Err(JoseError::SymmetricAlgorithm),
                "{name}"
            );
        }
        for name in [
            "rs256",
            "RS256 ",
            "",
            "RS1",
            "ES256K",
            "RSA-OAEP",
            "R\u{0}S256",
        ] {
            assert_eq!(
                Algorithm::from_name(name),
                Err(JoseError::UnsupportedAlgorithm),
                "{name:?}"
            );
        }
    }
}
