//! [`JoseError`]: what was malformed or did not verify. No HTTP meaning, no token contents.

use core::fmt;

use super::json::JsonError;

/// A part of a compact JWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    /// The protected header.
    Header,
    /// The payload.
    Payload,
    /// The signature.
    Signature,
}

/// A JOSE-level failure: malformed input, an unusable key, or a signature that does not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoseError {
    /// The token is longer than the configured limit (checked before any decoding).
    TooLarge,
    /// Not exactly three dot-separated segments (a JWE has five).
    SegmentCount,
    /// The token looks like the JWS JSON serialization, which the compact parser refuses.
    JsonSerialization,
    /// A segment is empty where content is required.
    EmptySegment(Segment),
    /// A segment is not strict base64url (RFC 7515 section 2: no padding, no `+`, `/` or
    /// white space, no non-zero trailing bits).
    Base64(Segment),
    /// The header is not a strict JSON object.
    HeaderJson(JsonError),
    /// The payload is not a strict JSON object.
    PayloadJson(JsonError),
    /// The header has no `alg`, or it is not a string.
    MissingAlgorithm,
    /// `alg` is `none` (in any case).
    UnsecuredAlgorithm,
    /// `alg` is a symmetric (`HS*`) algorithm, never accepted.
    SymmetricAlgorithm,
    /// `alg` names an algorithm not supported by this build.
    UnsupportedAlgorithm,
    /// `crit` is malformed or names an extension this crate does not understand
    /// (RFC 7515 section 4.1.11); `b64` is never supported.
    UnsupportedCritical,
    /// A registered header member has the wrong JSON type.
    InvalidHeaderMember(&'static str),
    /// A JWK member is missing, of the wrong type or malformed.
    InvalidKey(&'static str),
    /// A JWK offered as a public key carries private members (`d`, `p`, `q`, ...).
    PrivateKeyMaterial,
    /// An RSA modulus outside the accepted size range.
    KeySize,
    /// A JWK Set body is larger than 1 MiB.
    KeySetTooLarge,
    /// A JWK Set has more keys than allowed.
    TooManyKeys,
    /// A JWK Set is not a JSON object with a `keys` array.
    InvalidKeySet,
    /// No key in the set may verify this token.
    NoMatchingKey,
    /// Several keys could verify this token and it names none with `kid`.
    AmbiguousKey,
    /// The key cannot be used with this algorithm (type, curve, `use`, `key_ops` or `alg`).
    KeyAlgorithmMismatch,
    /// The signature does not verify.
    InvalidSignature,
}

impl fmt::Display for JoseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let segment = |s: &Segment| match s {
            Segment::Header => "header",
            Segment::Payload => "payload",
            Segment::Signature => "signature",
        };
        match self {
            JoseError::TooLarge => f.write_str("token too large"),
            JoseError::SegmentCount => f.write_str("token must have exactly three segments"),
            JoseError::JsonSerialization => f.write_str("json serialization is not accepted"),
            JoseError::EmptySegment(s) => write!(f, "empty {} segment", segment(s)),
            JoseError::Base64(s) => write!(f, "{} segment is not strict base64url", segment(s)),
            JoseError::HeaderJson(e) => write!(f, "header: {e}"),
            JoseError::PayloadJson(e) => write!(f, "payload: {e}"),
            JoseError::MissingAlgorithm => f.write_str("header has no string alg"),
            JoseError::UnsecuredAlgorithm => f.write_str("unsecured alg none is not accepted"),
            JoseError::SymmetricAlgorithm => f.write_str("symmetric algorithms are not accepted"),
            JoseError::UnsupportedAlgorithm => f.write_str("unsupported algorithm"),
            JoseError::UnsupportedCritical => f.write_str("unsupported critical header"),
            JoseError::InvalidHeaderMember(m) => write!(f, "invalid header member {m}"),
            JoseError::InvalidKey(m) => write!(f, "invalid jwk member {m}"),
            JoseError::PrivateKeyMaterial => f.write_str("public jwk carries private members"),
            JoseError::KeySize => f.write_str("rsa modulus size out of range"),
            JoseError::KeySetTooLarge => f.write_str("jwk set too large"),
            JoseError::TooManyKeys => f.write_str("jwk set has too many keys"),
            JoseError::InvalidKeySet => f.write_str("invalid jwk set"),
            JoseError::NoMatchingKey => f.write_str("no matching key"),
            JoseError::AmbiguousKey => f.write_str("several keys match and no kid was given"),
            JoseError::KeyAlgorithmMismatch => {
                f.write_str("key cannot be used with this algorithm")
            }
            JoseError::InvalidSignature => f.write_str("invalid signature"),
        }
    }
}

impl core::error::Error for JoseError {}
