//! Signing compact JWS for `private_key_jwt` client assertions (RFC 7515, RFC 7523).
//!
//! Signing goes through the small [`Signer`] trait so that a key may live in a KMS or an HSM:
//! the core only needs the algorithm, an optional key id and a signature over a message.
//! Built in:
//!
//! - [`Es256Signer`] (ECDSA P-256 with SHA-256, RFC 6979 deterministic nonces), always
//!   available. This is the recommended key type for client assertions.
//! - `RsaSigner` (RS256/RS384/RS512 and PS256/PS384/PS512), behind the non-default
//!   `rsa-signing` feature.
//!
//! # RSA and RUSTSEC-2023-0071 (Marvin)
//!
//! The `rsa` crate's private-key operation is not constant time: advisory
//! [RUSTSEC-2023-0071](https://rustsec.org/advisories/RUSTSEC-2023-0071) (CVE-2023-49092,
//! "Marvin") shows that an attacker who can make a process perform many private-key operations
//! on messages of its choice, and time them precisely (for example over a local network), can
//! recover the private key. No fixed release exists. Here the signed message is a client
//! assertion built by this crate (fresh `jti`, time stamps), not chosen by an attacker, so the
//! decryption oracle of the advisory is not exposed; timing of signing is still observable by
//! anyone who sees when token requests leave. What this means for you: prefer ES256 keys; if
//! you must use RSA, enable `rsa-signing` knowingly, give the signer a randomness source
//! (`RsaSigner::with_random`, which turns on RSA blinding), do not share the key with a
//! service that decrypts attacker-supplied data, and keep the key in a KMS/HSM behind your
//! own [`Signer`] where you can.
//!
//! Keys load from PKCS#8 (PEM or DER) and from private JWKs (RFC 7517 with `d`, RFC 7518
//! section 6). Every signer prints as `[redacted]` key material in `Debug`.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use super::Algorithm;

/// Why a signing key could not be loaded or a signature not produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The algorithm cannot be produced by this signer or this build.
    UnsupportedAlgorithm,
    /// The header given to [`sign_compact`] names another `alg` than the signer's.
    AlgorithmMismatch,
    /// A private JWK member is missing, of the wrong type or inconsistent (the member name).
    InvalidKey(&'static str),
    /// A PKCS#8 document (PEM or DER) could not be decoded into a key of this type.
    InvalidPkcs8,
    /// The RSA modulus is smaller than 2048 bits (RFC 7518 section 3.3) or too large.
    KeySize,
    /// The signer needs randomness (RSA-PSS salt) and has no source, or the source failed.
    Random,
    /// The signature operation failed (for example a KMS or HSM error).
    Signing,
    /// The header or claims could not be serialised.
    Serialize,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::UnsupportedAlgorithm => f.write_str("unsupported signing algorithm"),
            SignError::AlgorithmMismatch => f.write_str("header alg differs from the signer's"),
            SignError::InvalidKey(m) => write!(f, "invalid private jwk member {m}"),
            SignError::InvalidPkcs8 => f.write_str("invalid pkcs#8 private key"),
            SignError::KeySize => f.write_str("rsa modulus size out of range"),
            SignError::Random => f.write_str("no randomness available for signing"),
            SignError::Signing => f.write_str("signing failed"),
            SignError::Serialize => f.write_str("cannot serialise jws"),
        }
    }
}

impl core::error::Error for SignError {}

/// Something that signs JWS signing inputs with one private key.
///
/// Implement it to keep the key in a KMS or HSM. `sign` receives the exact JWS signing input
/// (`BASE64URL(header) "." BASE64URL(payload)`, RFC 7515 section 5.1) and returns the JWS
/// signature bytes for [`Signer::algorithm`]: for ECDSA the fixed-size `R || S` form of
/// RFC 7518 section 3.4 (not DER), for RSA the raw signature of the modulus size.
pub trait Signer: Send + Sync + fmt::Debug {
    /// The JWS algorithm of the signatures this signer produces.
    fn algorithm(&self) -> Algorithm;

    /// The key id to put in the `kid` header, if any.
    fn key_id(&self) -> Option<&str>;

    /// Signs `message`.
    ///
    /// # Errors
    /// [`SignError::Signing`] (or [`SignError::Random`]) when no signature can be produced.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// Serialises `header` and `claims` and signs them into a compact JWS (RFC 7515 section 7.1).
///
/// `alg` is always the signer's: it is added when `header` lacks it, and a different value is
/// an error. `kid` is added from [`Signer::key_id`] when `header` has none.
///
/// # Errors
/// [`SignError::AlgorithmMismatch`] for a conflicting `alg`, [`SignError::Serialize`], and
/// whatever the signer returns.
pub fn sign_compact(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    signer: &dyn Signer,
) -> Result<String, SignError> {
    let alg = signer.algorithm();
    let mut header = header.clone();
    match header.get("alg") {
        None => {
            header.insert(String::from("alg"), Value::from(alg.name()));
        }
        Some(Value::String(a)) if a == alg.name() => {}
        Some(_) => return Err(SignError::AlgorithmMismatch),
    }
    if let Some(kid) = signer.key_id()
        && !header.contains_key("kid")
    {
        header.insert(String::from("kid"), Value::from(kid));
    }
    let header_json = serde_json::to_vec(&header).map_err(|_| SignError::Serialize)?;
    let claims_json = serde_json::to_vec(claims).map_err(|_| SignError::Serialize)?;
    let mut out = URL_SAFE_NO_PAD.encode(header_json);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(claims_json, &mut out);
    let signature = signer.sign(out.as_bytes())?;
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut out);
    Ok(out)
}

/// Loads a signer for `alg` from a PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`).
///
/// ES256 is always available; RSA algorithms need the `rsa-signing` feature.
///
/// # Errors
/// [`SignError::UnsupportedAlgorithm`], [`SignError::InvalidPkcs8`], [`SignError::KeySize`].
pub fn signer_from_pkcs8_pem(pem: &str, alg: Algorithm) -> Result<Box<dyn Signer>, SignError> {
    match alg {
        Algorithm::ES256 => Ok(Box::new(Es256Signer::from_pkcs8_pem(pem)?)),
        #[cfg(feature = "rsa-signing")]
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => Ok(Box::new(RsaSigner::from_pkcs8_pem(pem, alg)?)),
        #[allow(unreachable_patterns)]
        _ => Err(SignError::UnsupportedAlgorithm),
    }
}

/// Loads a signer for `alg` from the members of a private JWK (with `d`).
///
/// The JWK's `kid` becomes the signer's key id; a JWK `alg` other than `alg` is refused.
///
/// # Errors
/// [`SignError::UnsupportedAlgorithm`], [`SignError::InvalidKey`] naming the member at fault,
/// [`SignError::KeySize`].
pub fn signer_from_jwk(
    members: &Map<String, Value>,
    alg: Algorithm,
) -> Result<Box<dyn Signer>, SignError> {
    match alg {
        Algorithm::ES256 => Ok(Box::new(Es256Signer::from_jwk(members)?)),
        #[cfg(feature = "rsa-signing")]
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => Ok(Box::new(RsaSigner::from_jwk(members, alg)?)),
        #[allow(unreachable_patterns)]
        _ => Err(SignError::UnsupportedAlgorithm),
    }
}

/// A required base64url (no padding, RFC 7515 section 2) JWK member, decoded.
fn b64_member(
    members: &Map<String, Value>,
    name: &'static str,
) -> Result<Zeroizing<Vec<u8>>, SignError> {
    match members.get(name) {
        Some(Value::String(s)) => URL_SAFE_NO_PAD
            .decode(s.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| SignError::InvalidKey(name)),
        _ => Err(SignError::InvalidKey(name)),
    }
}

/// An optional string member (`kid`, `alg`).
fn string_member<'a>(
    members: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, SignError> {
    match members.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(SignError::InvalidKey(name)),
    }
}

/// Checks `kty`, `alg`, `use` and `key_ops` of a private JWK against what it will sign.
fn check_jwk_common(
    members: &Map<String, Value>,
    kty: &str,
    alg: Algorithm,
) -> Result<(), SignError> {
    if string_member(members, "kty")? != Some(kty) {
        return Err(SignError::InvalidKey("kty"));
    }
    if string_member(members, "alg")?.is_some_and(|a| a != alg.name()) {
        return Err(SignError::InvalidKey("alg"));
    }
    // RFC 7517 section 4.2: an encryption key is not a signing key.
    if string_member(members, "use")?.is_some_and(|u| u != "sig") {
        return Err(SignError::InvalidKey("use"));
    }
    // RFC 7517 section 4.3: when present, key_ops must allow signing.
    match members.get("key_ops") {
        None => {}
        Some(Value::Array(ops)) if ops.iter().any(|o| o.as_str() == Some("sign")) => {}
        Some(_) => return Err(SignError::InvalidKey("key_ops")),
    }
    Ok(())
}

fn kid_of(members: &Map<String, Value>) -> Result<Option<String>, SignError> {
    Ok(string_member(members, "kid")?.map(String::from))
}

/// An ES256 (ECDSA P-256 with SHA-256, RFC 7518 section 3.4) signer with deterministic
/// nonces (RFC 6979), so it needs no randomness.
///
/// The private key is zeroized on drop (in every clone); there is no `PartialEq`. Share one
/// signer in an `Arc` rather than cloning it.
#[derive(Clone)]
pub struct Es256Signer {
    key: p256::ecdsa::SigningKey,
    kid: Option<String>,
}

/// The signing key zeroizes its scalar on drop; `kid` is not secret.
impl ZeroizeOnDrop for Es256Signer {}

impl fmt::Debug for Es256Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Es256Signer")
            .field("kid", &self.kid)
            .field("key", &format_args!("[redacted]"))
            .finish()
    }
}

impl Es256Signer {
    /// Loads a P-256 key from PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// # Errors
    /// [`SignError::InvalidPkcs8`] when the document is not a P-256 PKCS#8 private key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, SignError> {
        use p256::pkcs8::DecodePrivateKey as _;
        let key =
            p256::ecdsa::SigningKey::from_pkcs8_pem(pem).map_err(|_| SignError::InvalidPkcs8)?;
        Ok(Self { key, kid: None })
    }

    /// Loads a P-256 key from PKCS#8 DER.
    ///
    /// # Errors
    /// [`SignError::InvalidPkcs8`] when the document is not a P-256 PKCS#8 private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, SignError> {
        use p256::pkcs8::DecodePrivateKey as _;
        let key =
            p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|_| SignError::InvalidPkcs8)?;
        Ok(Self { key, kid: None })
    }

    /// Loads a private EC JWK (`kty` `EC`, `crv` `P-256`, `x`, `y`, `d`; RFC 7518 section
    /// 6.2). `x` and `y` must be the public key of `d`; `kid` is kept.
    ///
    /// # Errors
    /// [`SignError::InvalidKey`] naming the member at fault.
    pub fn from_jwk(members: &Map<String, Value>) -> Result<Self, SignError> {
        check_jwk_common(members, "EC", Algorithm::ES256)?;
        if string_member(members, "crv")? != Some("P-256") {
            return Err(SignError::InvalidKey("crv"));
        }
        let d = b64_member(members, "d")?;
        let x = b64_member(members, "x")?;
        let y = b64_member(members, "y")?;
        // RFC 7518 section 6.2.2.1: d is the full-length (32 octet) scalar.
        if d.len() != 32 {
            return Err(SignError::InvalidKey("d"));
        }
        let key =
            p256::ecdsa::SigningKey::from_slice(&d).map_err(|_| SignError::InvalidKey("d"))?;
        let signer = Self {
            key,
            kid: kid_of(members)?,
        };
        let (px, py) = signer.public_coordinates();
        if px.as_slice() != x.as_slice() {
            return Err(SignError::InvalidKey("x"));
        }
        if py.as_slice() != y.as_slice() {
            return Err(SignError::InvalidKey("y"));
        }
        Ok(signer)
    }

    /// Sets the key id put in the `kid` header.
    #[must_use]
    pub fn with_key_id(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    fn public_coordinates(&self) -> (Vec<u8>, Vec<u8>) {
        let point = self.key.verifying_key().to_sec1_point(false);
        let x = point.x().map(|x| x.to_vec()).unwrap_or_default();
        let y = point.y().map(|y| y.to_vec()).unwrap_or_default();
        (x, y)
    }

    /// The public key as JWK members (`kty`, `crv`, `x`, `y`, `alg`, `use` and `kid` when
    /// set), to register with the authorization server.
    pub fn public_jwk(&self) -> Map<String, Value> {
        let (x, y) = self.public_coordinates();
        let mut m = Map::new();
        m.insert("kty".into(), "EC".into());
        m.insert("crv".into(), "P-256".into());
        m.insert("x".into(), URL_SAFE_NO_PAD.encode(x).into());
        m.insert("y".into(), URL_SAFE_NO_PAD.encode(y).into());
        m.insert("alg".into(), "ES256".into());
        m.insert("use".into(), "sig".into());
        if let Some(kid) = &self.kid {
            m.insert("kid".into(), kid.as_str().into());
        }
        m
    }
}

impl Signer for Es256Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::ES256
    }

    fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        use signature::Signer as _;
        let sig: p256::ecdsa::Signature =
            self.key.try_sign(message).map_err(|_| SignError::Signing)?;
        // RFC 7518 section 3.4: the JWS signature is R || S, 32 octets each.
        Ok(sig.to_bytes().to_vec())
    }
}

#[cfg(feature = "rsa-signing")]
pub use rsa_signer::{FillRandom, RsaSigner};

#[cfg(feature = "rsa-signing")]
mod rsa_signer {
    use alloc::string::String;
    use alloc::vec::Vec;
    use core::fmt;

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use rsa::BoxedUint;
    use rsa::traits::PublicKeyParts as _;
    use serde_json::{Map, Value};
    use sha2::{Sha256, Sha384, Sha512};

    use super::{Algorithm, SignError, Signer, b64_member, check_jwk_common, kid_of};

    /// A caller-supplied source of cryptographic randomness: fills the buffer or fails.
    ///
    /// The core draws no randomness itself. A typical implementation calls the operating
    /// system (`|buf| getrandom::fill(buf).map_err(|_| SignError::Random)`).
    pub type FillRandom = fn(&mut [u8]) -> Result<(), SignError>;

    /// The smallest RSA modulus accepted for signing (RFC 7518 section 3.3).
    const MIN_BITS: usize = 2048;
    /// The largest RSA modulus accepted for signing.
    const MAX_BITS: usize = 8192;
    /// The smallest public exponent accepted for a signing key (NIST SP 800-56B section
    /// 6.2.1: e >= 65537); `e = 3` keys are refused.
    const MIN_PUBLIC_EXPONENT: u64 = 65537;

    /// An RSA signer: RS256/RS384/RS512 (RSASSA-PKCS1-v1_5) or PS256/PS384/PS512 (RSASSA-PSS,
    /// salt length = hash length, RFC 7518 section 3.5). Feature `rsa-signing`.
    ///
    /// # Security
    /// The `rsa` crate's private-key operation is not constant time (RUSTSEC-2023-0071, see
    /// the [module documentation](super)). With [`RsaSigner::with_random`] every signature is
    /// computed with RSA blinding; PS* algorithms need it for their salt and refuse to sign
    /// without it.
    ///
    /// The private key is zeroized on drop (in every clone); there is no `PartialEq`. Share
    /// one signer in an `Arc` rather than cloning it.
    #[derive(Clone)]
    pub struct RsaSigner {
        key: rsa::PrivateKey,
        alg: Algorithm,
        kid: Option<String>,
        random: Option<FillRandom>,
    }

    /// The private key zeroizes its components on drop; the rest is not secret.
    impl zeroize::ZeroizeOnDrop for RsaSigner {}

    impl fmt::Debug for RsaSigner {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("RsaSigner")
                .field("alg", &self.alg)
                .field("kid", &self.kid)
                .field("key", &format_args!("[redacted]"))
                .finish()
        }
    }

    /// Adapts a [`FillRandom`] to the `rand_core` traits the `rsa` crate takes.
    struct Rng(FillRandom);

    #[derive(Debug)]
    struct RngFailed;

    impl fmt::Display for RngFailed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("randomness source failed")
        }
    }

    impl core::error::Error for RngFailed {}

    impl rsa::rand_core::TryRng for Rng {
        type Error = RngFailed;

        fn try_next_u32(&mut self) -> Result<u32, RngFailed> {
            let mut b = [0u8; 4];
            self.try_fill_bytes(&mut b)?;
            Ok(u32::from_le_bytes(b))
        }

        fn try_next_u64(&mut self) -> Result<u64, RngFailed> {
            let mut b = [0u8; 8];
            self.try_fill_bytes(&mut b)?;
            Ok(u64::from_le_bytes(b))
        }

        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), RngFailed> {
            (self.0)(dst).map_err(|_| RngFailed)
        }
    }

    impl rsa::rand_core::TryCryptoRng for Rng {}

    fn is_rsa(alg: Algorithm) -> bool {
        matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        )
    }

    impl RsaSigner {
        fn new(
            key: rsa::PrivateKey,
            alg: Algorithm,
            kid: Option<String>,
        ) -> Result<Self, SignError> {
            if !is_rsa(alg) {
                return Err(SignError::UnsupportedAlgorithm);
            }
            if key.e() < &BoxedUint::from(MIN_PUBLIC_EXPONENT) {
                return Err(SignError::InvalidKey("e"));
            }
            let bits = key.n().bit_width_vartime() as usize;
            if !(MIN_BITS..=MAX_BITS).contains(&bits) {
                return Err(SignError::KeySize);
            }
            Ok(Self {
                key,
                alg,
                kid,
                random: None,
            })
        }

        /// Loads an RSA key from PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) for `alg`.
        ///
        /// # Errors
        /// [`SignError::UnsupportedAlgorithm`] for a non-RSA `alg`, [`SignError::InvalidPkcs8`],
        /// [`SignError::KeySize`] below 2048 or above 8192 bits.
        pub fn from_pkcs8_pem(pem: &str, alg: Algorithm) -> Result<Self, SignError> {
            use rsa::pkcs8::DecodePrivateKey as _;
            let key = rsa::PrivateKey::from_pkcs8_pem(pem).map_err(|_| SignError::InvalidPkcs8)?;
            Self::new(key, alg, None)
        }

        /// Loads an RSA key from PKCS#8 DER for `alg`.
        ///
        /// # Errors
        /// As [`RsaSigner::from_pkcs8_pem`].
        pub fn from_pkcs8_der(der: &[u8], alg: Algorithm) -> Result<Self, SignError> {
            use rsa::pkcs8::DecodePrivateKey as _;
            let key = rsa::PrivateKey::from_pkcs8_der(der).map_err(|_| SignError::InvalidPkcs8)?;
            Self::new(key, alg, None)
        }

        /// Loads a private RSA JWK (RFC 7518 section 6.3: `n`, `e`, `d`, and either all of
        /// `p`, `q`, `dp`, `dq`, `qi` or none, in which case the primes are recovered).
        /// `kid` is kept; a JWK `alg` other than `alg` is refused.
        ///
        /// # Errors
        /// [`SignError::UnsupportedAlgorithm`], [`SignError::InvalidKey`] naming the member at
        /// fault, [`SignError::KeySize`].
        pub fn from_jwk(members: &Map<String, Value>, alg: Algorithm) -> Result<Self, SignError> {
            if !is_rsa(alg) {
                return Err(SignError::UnsupportedAlgorithm);
            }
            check_jwk_common(members, "RSA", alg)?;
            let n = b64_member(members, "n")?;
            let bits = n.len().saturating_mul(8);
            if !(MIN_BITS..=MAX_BITS.saturating_add(8)).contains(&bits) {
                return Err(SignError::KeySize);
            }
            let prec = u32::try_from(bits).map_err(|_| SignError::KeySize)?;
            let uint = |bytes: &[u8], name: &'static str| {
                BoxedUint::from_be_slice(bytes, prec).map_err(|_| SignError::InvalidKey(name))
            };
            let e = b64_member(members, "e")?;
            let e_value = e.iter().try_fold(0u64, |acc, b| {
                acc.checked_mul(256)
                    .and_then(|v| v.checked_add(u64::from(*b)))
            });
            if e_value.is_none_or(|v| v < MIN_PUBLIC_EXPONENT) {
                return Err(SignError::InvalidKey("e"));
            }
            let d = b64_member(members, "d")?;
            let crt = ["p", "q", "dp", "dq", "qi"];
            let present = crt.iter().filter(|m| members.contains_key(**m)).count();
            let primes = if present == 0 {
                Vec::new()
            } else if present == crt.len() {
                alloc::vec![
                    uint(&b64_member(members, "p")?, "p")?,
                    uint(&b64_member(members, "q")?, "q")?
                ]
            } else {
                return Err(SignError::InvalidKey("p"));
            };
            let key = rsa::PrivateKey::from_components(
                uint(&n, "n")?,
                uint(&e, "e")?,
                uint(&d, "d")?,
                primes,
            )
            .map_err(|_| SignError::InvalidKey("d"))?;
            Self::new(key, alg, kid_of(members)?)
        }

        /// Sets the key id put in the `kid` header.
        #[must_use]
        pub fn with_key_id(mut self, kid: impl Into<String>) -> Self {
            self.kid = Some(kid.into());
            self
        }

        /// Gives the signer a randomness source: RSA blinding for every signature, and the
        /// salt of PS* signatures (which cannot be made without it).
        #[must_use]
        pub fn with_random(mut self, random: FillRandom) -> Self {
            self.random = Some(random);
            self
        }

        /// The public key as JWK members (`kty`, `n`, `e`, `alg`, `use` and `kid` when set).
        pub fn public_jwk(&self) -> Map<String, Value> {
            let mut m = Map::new();
            m.insert("kty".into(), "RSA".into());
            m.insert(
                "n".into(),
                URL_SAFE_NO_PAD.encode(self.key.n_bytes()).into(),
            );
            m.insert(
                "e".into(),
                URL_SAFE_NO_PAD.encode(self.key.e_bytes()).into(),
            );
            m.insert("alg".into(), self.alg.name().into());
            m.insert("use".into(), "sig".into());
            if let Some(kid) = &self.kid {
                m.insert("kid".into(), kid.as_str().into());
            }
            m
        }

        fn pkcs1<D>(&self, message: &[u8]) -> Result<Vec<u8>, SignError>
        where
            D: sha2::Digest + sha2::digest::const_oid::AssociatedOid,
        {
            use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _, Signer as _};
            let key = rsa::pkcs1v15::SigningKey::<D>::new(self.key.clone());
            let sig = match self.random {
                Some(fill) => key.try_sign_with_rng(&mut Rng(fill), message),
                None => key.try_sign(message),
            };
            Ok(sig.map_err(|_| SignError::Signing)?.to_vec())
        }

        fn pss<D>(&self, message: &[u8]) -> Result<Vec<u8>, SignError>
        where
            D: sha2::Digest + sha2::digest::FixedOutputReset,
        {
            use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
            let fill = self.random.ok_or(SignError::Random)?;
            // RFC 7518 section 3.5: the salt is as long as the hash output.
            let key = rsa::pss::SigningKey::<D>::new(self.key.clone());
            let sig = key
                .try_sign_with_rng(&mut Rng(fill), message)
                .map_err(|_| SignError::Signing)?;
            Ok(sig.to_vec())
        }
    }

    impl Signer for RsaSigner {
        fn algorithm(&self) -> Algorithm {
            self.alg
        }

        fn key_id(&self) -> Option<&str> {
            self.kid.as_deref()
        }

        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
            match self.alg {
                Algorithm::RS256 => self.pkcs1::<Sha256>(message),
                Algorithm::RS384 => self.pkcs1::<Sha384>(message),
                Algorithm::RS512 => self.pkcs1::<Sha512>(message),
                Algorithm::PS256 => self.pss::<Sha256>(message),
                Algorithm::PS384 => self.pss::<Sha384>(message),
                Algorithm::PS512 => self.pss::<Sha512>(message),
                _ => Err(SignError::UnsupportedAlgorithm),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::string::ToString;

    use super::*;
    use crate::jose::compact::{CompactJws, Limits};
    use crate::jose::jwk::Jwk;
    use crate::jose::provider::RUST_CRYPTO;

    // RFC 7515 appendix A.3 key (ES256), as a private JWK.
    const A3_JWK: &str = r#"{"kty":"EC","crv":"P-256",
        "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        "d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#;

    fn jwk(s: &str) -> Map<String, Value> {
        serde_json::from_str(s).unwrap()
    }

    fn claims() -> Map<String, Value> {
        jwk(r#"{"iss":"joe","exp":1300819380}"#)
    }

    #[test]
    fn es256_sign_then_verify_with_jose_layer() {
        let signer = Es256Signer::from_jwk(&jwk(A3_JWK))
            .unwrap()
            .with_key_id("k1");
        let token = sign_compact(&Map::new(), &claims(), &signer).unwrap();
        let jws = CompactJws::parse(&token, &Limits::default()).unwrap();
        assert_eq!(jws.header().alg, Algorithm::ES256);
        assert_eq!(jws.header().kid.as_deref(), Some("k1"));
        assert_eq!(jws.signature().len(), 64);
        let public = Jwk::from_members(&signer.public_jwk(), &RUST_CRYPTO).unwrap();
        jws.verify(&public).unwrap();
        let payload: Map<String, Value> = serde_json::from_slice(jws.payload()).unwrap();
        assert_eq!(payload, claims());
        // Deterministic nonces: the same input gives the same token.
        assert_eq!(
            sign_compact(&Map::new(), &claims(), &signer).unwrap(),
            token
        );
    }

    #[test]
    fn header_alg_must_match_signer() {
        let signer = Es256Signer::from_jwk(&jwk(A3_JWK)).unwrap();
        let h = jwk(r#"{"alg":"RS256"}"#);
        assert_eq!(
            sign_compact(&h, &claims(), &signer),
            Err(SignError::AlgorithmMismatch)
        );
        let h = jwk(r#"{"alg":"ES256","kid":"mine"}"#);
        let t = sign_compact(&h, &claims(), &signer).unwrap();
        let jws = CompactJws::parse(&t, &Limits::default()).unwrap();
        assert_eq!(jws.header().kid.as_deref(), Some("mine"));
    }

    #[test]
    fn es256_jwk_table() {
        let base = jwk(A3_JWK);
        type Case<'a> = (
            &'a str,
            Option<(&'a str, Value)>,
            Option<&'a str>,
            SignError,
        );
        let cases: &[Case<'_>] = &[
            (
                "wrong kty",
                Some(("kty", "RSA".into())),
                None,
                SignError::InvalidKey("kty"),
            ),
            (
                "wrong crv",
                Some(("crv", "P-384".into())),
                None,
                SignError::InvalidKey("crv"),
            ),
            (
                "enc key",
                Some(("use", "enc".into())),
                None,
                SignError::InvalidKey("use"),
            ),
            (
                "alg",
                Some(("alg", "ES384".into())),
                None,
                SignError::InvalidKey("alg"),
            ),
            (
                "key_ops",
                Some(("key_ops", serde_json::json!(["verify"]))),
                None,
                SignError::InvalidKey("key_ops"),
            ),
            ("no d", None, Some("d"), SignError::InvalidKey("d")),
            (
                "d padded",
                Some(("d", "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI=".into())),
                None,
                SignError::InvalidKey("d"),
            ),
            (
                "d zero",
                Some(("d", URL_SAFE_NO_PAD.encode([0u8; 32]).into())),
                None,
                SignError::InvalidKey("d"),
            ),
            (
                "short d",
                Some(("d", URL_SAFE_NO_PAD.encode([1u8; 31]).into())),
                None,
                SignError::InvalidKey("d"),
            ),
            (
                "x of another key",
                Some(("x", URL_SAFE_NO_PAD.encode([1u8; 32]).into())),
                None,
                SignError::InvalidKey("x"),
            ),
            (
                "y number",
                Some(("y", 1.into())),
                None,
                SignError::InvalidKey("y"),
            ),
        ];
        for (name, set, remove, expected) in cases {
            let mut m = base.clone();
            if let Some((k, v)) = set {
                m.insert((*k).to_string(), v.clone());
            }
            if let Some(k) = remove {
                m.remove(*k);
            }
            assert_eq!(
                Es256Signer::from_jwk(&m).map(|_| ()),
                Err(*expected),
                "case {name}"
            );
        }
    }

    // A P-256 key generated for these tests (PKCS#8), and its public point.
    const TEST_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgbPasCg5Fn7AM4+co
WlBXHwBnszUxsN4zCm8Zmlh1zBKhRANCAATM1NDK89lqzTp/SoD8w1KAWV235djz
BFSLTy+QNdHMB4/IHaeLl8dR1XoJCnflcAECkuS32zld32qTjOqUQiXJ
-----END PRIVATE KEY-----
";
    const TEST_X: &str = "ccd4d0caf3d96acd3a7f4a80fcc35280595db7e5d8f304548b4f2f9035d1cc07";

    #[test]
    fn es256_from_pkcs8_pem() {
        let signer = Es256Signer::from_pkcs8_pem(TEST_PKCS8).unwrap();
        let (x, _) = signer.public_coordinates();
        let x_hex: String = x.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(x_hex, TEST_X);
        let token = sign_compact(&Map::new(), &claims(), &signer).unwrap();
        let jws = CompactJws::parse(&token, &Limits::default()).unwrap();
        jws.verify(&Jwk::from_members(&signer.public_jwk(), &RUST_CRYPTO).unwrap())
            .unwrap();
        // The DER inside the PEM loads to the same key.
        let b64: String = TEST_PKCS8
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let from_der = Es256Signer::from_pkcs8_der(&der).unwrap();
        assert_eq!(from_der.public_jwk(), signer.public_jwk());
        assert_eq!(
            Es256Signer::from_pkcs8_pem("not a pem").map(|_| ()),
            Err(SignError::InvalidPkcs8)
        );
        let boxed = signer_from_pkcs8_pem(TEST_PKCS8, Algorithm::ES256).unwrap();
        assert_eq!(boxed.algorithm(), Algorithm::ES256);
        let boxed = signer_from_jwk(&jwk(A3_JWK), Algorithm::ES256).unwrap();
        assert_eq!(boxed.algorithm(), Algorithm::ES256);
        // An EC key cannot be loaded for an RSA algorithm (without the feature: unsupported;
        // with it: not an RSA key).
        assert!(signer_from_pkcs8_pem(TEST_PKCS8, Algorithm::RS256).is_err());
        #[cfg(not(feature = "rsa-signing"))]
        assert_eq!(
            signer_from_jwk(&jwk(A3_JWK), Algorithm::PS256).map(|_| ()),
            Err(SignError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn debug_redacts_key() {
        let signer = Es256Signer::from_jwk(&jwk(A3_JWK)).unwrap();
        let dbg = format!("{signer:?}");
        assert!(dbg.contains("[redacted]"), "{dbg}");
        assert!(!dbg.contains("jpsQ"), "{dbg}");
        assert!(!dbg.to_ascii_lowercase().contains("8e9b10"), "{dbg}");
    }

    #[cfg(feature = "rsa-signing")]
    mod rsa {
        use super::*;

        fn hex(s: &str) -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        }

        fn b64_hex(s: &str) -> Value {
            // Wycheproof integers are signed big-endian hex: drop a leading zero octet.
            let mut b = hex(s);
            while b.len() > 1 && b[0] == 0 {
                b.remove(0);
            }
            Value::from(URL_SAFE_NO_PAD.encode(b))
        }

        fn vectors() -> Value {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../tests/vectors/wycheproof/rsa_pkcs1_2048_sig_gen_test.json"
            );
            let text =
                std::fs::read_to_string(path).expect("wycheproof rsa_pkcs1_2048_sig_gen_test.json");
            serde_json::from_str(&text).unwrap()
        }

        fn fill(buf: &mut [u8]) -> Result<(), SignError> {
            // A test-only xorshift stream (not for production): every call gives new bytes,
            // as rejection sampling in blinding needs.
            use core::sync::atomic::{AtomicU64, Ordering};
            static STATE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
            for b in buf.iter_mut() {
                let mut x = STATE.load(Ordering::Relaxed);
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                STATE.store(x, Ordering::Relaxed);
                *b = (x >> 24) as u8;
            }
            Ok(())
        }

        /// T-76: RS256/384/512 reproduce Wycheproof sig_gen signatures byte for byte, with
        /// keys built from the group's private key fields (n, e, d; primes recovered), with
        /// and without blinding.
        #[test]
        fn wycheproof_pkcs1_sig_gen() {
            let v = vectors();
            let (mut checked, mut refused) = (0, 0);
            for group in v["testGroups"].as_array().unwrap() {
                let alg = match group["sha"].as_str().unwrap() {
                    "SHA-256" => Algorithm::RS256,
                    "SHA-384" => Algorithm::RS384,
                    "SHA-512" => Algorithm::RS512,
                    _ => continue,
                };
                let pk = &group["privateKey"];
                let mut m = Map::new();
                m.insert("kty".into(), "RSA".into());
                m.insert("n".into(), b64_hex(pk["modulus"].as_str().unwrap()));
                m.insert("e".into(), b64_hex(pk["publicExponent"].as_str().unwrap()));
                m.insert("d".into(), b64_hex(pk["privateExponent"].as_str().unwrap()));
                if pk["publicExponent"].as_str().unwrap() == "03" {
                    // The e = 3 groups ("acceptable", flag SmallPublicKey) are refused, from
                    // the private key fields and from the full JWK alike.
                    assert_eq!(
                        RsaSigner::from_jwk(&m, alg).map(|_| ()),
                        Err(SignError::InvalidKey("e"))
                    );
                    let mut full = group["privateKeyJwk"].as_object().unwrap().clone();
                    full.remove("alg");
                    assert_eq!(
                        RsaSigner::from_jwk(&full, alg).map(|_| ()),
                        Err(SignError::InvalidKey("e"))
                    );
                    let der = hex(group["privateKeyPkcs8"].as_str().unwrap());
                    assert!(RsaSigner::from_pkcs8_der(&der, alg).is_err());
                    refused += 1;
                    continue;
                }
                let signer = RsaSigner::from_jwk(&m, alg).unwrap();
                let blinded = signer.clone().with_random(fill);
                for t in group["tests"].as_array().unwrap() {
                    let id = t["tcId"].as_u64().unwrap();
                    let msg = hex(t["msg"].as_str().unwrap());
                    let want = hex(t["sig"].as_str().unwrap());
                    assert_eq!(signer.sign(&msg).unwrap(), want, "tcId {id}");
                    assert_eq!(blinded.sign(&msg).unwrap(), want, "tcId {id} (blinded)");
                    checked += 1;
                }
            }
            assert_eq!((checked, refused), (24, 3));
        }

        #[test]
        fn pkcs8_and_public_jwk_verify() {
            let v = vectors();
            let group = v["testGroups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["sha"] == "SHA-256" && g["privateKey"]["publicExponent"] == "010001")
                .unwrap();
            let der = hex(group["privateKeyPkcs8"].as_str().unwrap());
            for alg in [Algorithm::RS256, Algorithm::PS256, Algorithm::PS512] {
                let signer = RsaSigner::from_pkcs8_der(&der, alg)
                    .unwrap()
                    .with_random(fill)
                    .with_key_id("r");
                let token = sign_compact(&Map::new(), &claims(), &signer).unwrap();
                let jws = CompactJws::parse(&token, &Limits::default()).unwrap();
                assert_eq!(jws.header().alg, alg);
                let public = Jwk::from_members(&signer.public_jwk(), &RUST_CRYPTO).unwrap();
                jws.verify(&public).unwrap();
                let dbg = format!("{signer:?}");
                assert!(dbg.contains("[redacted]") && !dbg.contains("privateExponent"));
            }
            // PSS needs a randomness source.
            let no_rng = RsaSigner::from_pkcs8_der(&der, Algorithm::PS256).unwrap();
            assert_eq!(no_rng.sign(b"x"), Err(SignError::Random));
            assert_eq!(
                RsaSigner::from_pkcs8_der(&der, Algorithm::ES256).map(|_| ()),
                Err(SignError::UnsupportedAlgorithm)
            );
            let mut jwk_members = group["privateKeyJwk"].as_object().unwrap().clone();
            assert_eq!(
                RsaSigner::from_jwk(&jwk_members, Algorithm::RS384).map(|_| ()),
                Err(SignError::InvalidKey("alg"))
            );
            jwk_members.remove("qi");
            assert_eq!(
                RsaSigner::from_jwk(&jwk_members, Algorithm::RS256).map(|_| ()),
                Err(SignError::InvalidKey("p"))
            );
        }
    }
}
