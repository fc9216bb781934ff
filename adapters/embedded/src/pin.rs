//! Public-key pinning: the default way for [`HttpsTransport`](crate::https::HttpsTransport)
//! to trust a tenant.
//!
//! A pin is the SHA-256 of the DER `SubjectPublicKeyInfo` of the server's leaf certificate
//! ([`SpkiPin`]). [`Pinned`] accepts a server only when
//!
//! 1. the first certificate it sends carries a public key whose pin is one of the
//!    application's, and
//! 2. its TLS 1.3 `CertificateVerify` signature over the handshake verifies with that key,
//!    which only the holder of the private key can produce.
//!
//! Nothing else in the certificate is read: not the issuer, the names or the validity
//! period. The key is the identity, so no certificate authority (and no one holding another
//! certificate under it) can stand in for the tenant, and the device needs no clock to
//! connect. Keys are ECDSA P-256 or P-384.
//!
//! # Computing a pin
//!
//! From the server itself (check the result out of band the first time):
//!
//! ```text
//! openssl s_client -connect example.eu.auth0.com:443 -servername example.eu.auth0.com </dev/null \
//!   | openssl x509 -pubkey -noout \
//!   | openssl pkey -pubin -outform der \
//!   | sha256sum | cut -d' ' -f1
//! ```
//!
//! or from a certificate file with `openssl x509 -in cert.pem -pubkey -noout | openssl pkey
//! -pubin -outform der | sha256sum`. The 64 hexadecimal digits go to [`SpkiPin::from_hex`],
//! which is a `const fn`:
//!
//! ```
//! use auth0_api_embedded::pin::SpkiPin;
//!
//! const PINS: [SpkiPin; 2] = [
//!     // The key the tenant serves today.
//!     match SpkiPin::from_hex("5e0f2a4c9b7d13e8a6f0c2b4d8e1a3f5c7b9d0e2f4a6b8c0d2e4f6a8b0c2d4e6") {
//!         Ok(pin) => pin,
//!         Err(_) => panic!("not a pin"),
//!     },
//!     // Its announced successor.
//!     match SpkiPin::from_hex("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") {
//!         Ok(pin) => pin,
//!         Err(_) => panic!("not a pin"),
//!     },
//! ];
//! ```
//!
//! # Rotation
//!
//! Any of the pins is accepted. Before the server changes keys, ship the new key's pin next
//! to the current one; once every device has it and the server has moved, drop the old
//! pin. A device holding only the old pin stops connecting the moment the server moves,
//! so keep at least two pins (the current key and a backup or successor) where devices are
//! updated slowly.
//!
//! ```no_run
//! # async fn run<T, D>(
//! #     tcp: &T,
//! #     dns: &D,
//! #     rng: impl embedded_tls::CryptoRngCore,
//! #     buffers: auth0_api_embedded::https::Buffers<'_>,
//! #     pins: &[auth0_api_embedded::pin::SpkiPin],
//! # ) where
//! #     T: embedded_nal_async::TcpConnect,
//! #     D: embedded_nal_async::Dns,
//! # {
//! use auth0_api_embedded::https::HttpsTransport;
//! use auth0_api_embedded::pin::Pinned;
//!
//! let transport = HttpsTransport::new(tcp, dns, Pinned::new(rng, pins), buffers);
//! # let _ = transport;
//! # }
//! ```

use core::fmt;

use der::{Decode, Header, Reader, SliceReader, Tag, TagNumber};
use embedded_tls::{
    Aes128GcmSha256, CertificateEntryRef, CertificateRef, CertificateVerifyRef, CryptoProvider,
    CryptoRngCore, SignatureScheme, TlsCipherSuite, TlsError, TlsVerifier,
};
use p256::pkcs8::DecodePublicKey;

use crate::https::{HttpsError, TlsProvider};

/// The SHA-256 digest of a DER `SubjectPublicKeyInfo`: what [`Pinned`] trusts.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpkiPin([u8; 32]);

impl SpkiPin {
    /// A pin from its 32 digest bytes.
    #[must_use]
    pub const fn from_sha256(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// A pin from the 64 hexadecimal digits `sha256sum` prints (either case, nothing else).
    ///
    /// # Errors
    /// [`PinParseError`] for any other text.
    pub const fn from_hex(hex: &str) -> Result<Self, PinParseError> {
        let mut digest = [0u8; 32];
        let mut src = hex.as_bytes();
        let mut dst: &mut [u8] = &mut digest;
        while let Some((slot, rest)) = dst.split_first_mut() {
            let [hi, lo, tail @ ..] = src else {
                return Err(PinParseError);
            };
            let (Some(hi), Some(lo)) = (nibble(*hi), nibble(*lo)) else {
                return Err(PinParseError);
            };
            *slot = (hi << 4) | lo;
            src = tail;
            dst = rest;
        }
        if !src.is_empty() {
            return Err(PinParseError);
        }
        Ok(Self(digest))
    }

    /// The pin of a DER `SubjectPublicKeyInfo`.
    #[must_use]
    pub fn of_spki(spki_der: &[u8]) -> Self {
        use sha2::Digest as _;
        Self(sha2::Sha256::digest(spki_der).into())
    }

    /// The pin of the public key in a DER X.509 certificate: the same digest as the
    /// `openssl` pipeline in the [module docs](self).
    ///
    /// # Errors
    /// [`PinError::MalformedCertificate`] when no `SubjectPublicKeyInfo` can be found.
    pub fn of_certificate(cert_der: &[u8]) -> Result<Self, PinError> {
        certificate_spki(cert_der)
            .map(Self::of_spki)
            .map_err(|_| PinError::MalformedCertificate)
    }

    /// The digest bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for SpkiPin {
    /// Lower-case hexadecimal, as [`SpkiPin::from_hex`] reads it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for SpkiPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpkiPin({self})")
    }
}

const fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A pin that is not 64 hexadecimal digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinParseError;

impl fmt::Display for PinParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key pin is 64 hexadecimal digits")
    }
}

impl core::error::Error for PinParseError {}

/// Why [`PinnedKeys`] refused a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinError {
    /// The server sent no X.509 certificate.
    NoCertificate,
    /// The leaf certificate's `SubjectPublicKeyInfo` could not be found.
    MalformedCertificate,
    /// The leaf certificate's public key matches none of the pins.
    NotPinned,
    /// The pinned key is not an ECDSA P-256 or P-384 key, the kinds whose signatures this
    /// verifier checks.
    UnsupportedKey,
    /// The handshake signature's scheme does not fit the pinned key.
    UnsupportedScheme,
    /// The handshake signature does not verify with the pinned key: the server does not
    /// hold its private key.
    BadSignature,
    /// Handshake messages out of order: a second certificate, or a signature before the
    /// certificate.
    OutOfOrder,
}

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PinError::NoCertificate => "no certificate",
            PinError::MalformedCertificate => "certificate public key unreadable",
            PinError::NotPinned => "public key not pinned",
            PinError::UnsupportedKey => "pinned key type unsupported",
            PinError::UnsupportedScheme => "signature scheme does not fit the key",
            PinError::BadSignature => "handshake signature invalid for the pinned key",
            PinError::OutOfOrder => "handshake messages out of order",
        })
    }
}

impl core::error::Error for PinError {}

impl PinError {
    fn tls(self) -> TlsError {
        match self {
            PinError::NoCertificate
            | PinError::MalformedCertificate
            | PinError::NotPinned
            | PinError::UnsupportedKey => TlsError::InvalidCertificate,
            PinError::UnsupportedScheme => TlsError::InvalidSignatureScheme,
            PinError::BadSignature => TlsError::InvalidSignature,
            PinError::OutOfOrder => TlsError::InvalidHandshake,
        }
    }
}

/// A server key, once its pin matched.
#[derive(Clone, Debug)]
enum ServerKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl ServerKey {
    fn from_spki(spki_der: &[u8]) -> Result<Self, PinError> {
        if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(spki_der) {
            return Ok(ServerKey::P256(key));
        }
        p384::ecdsa::VerifyingKey::from_public_key_der(spki_der)
            .map(ServerKey::P384)
            .map_err(|_| PinError::UnsupportedKey)
    }

    /// Checks a `CertificateVerify` signature over `message` (RFC 8446 section 4.4.3).
    fn verify(
        &self,
        scheme: SignatureScheme,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), PinError> {
        use p256::ecdsa::signature::Verifier as _;
        match (self, scheme) {
            (ServerKey::P256(key), SignatureScheme::EcdsaSecp256r1Sha256) => {
                let signature = p256::ecdsa::DerSignature::try_from(signature)
                    .map_err(|_| PinError::BadSignature)?;
                key.verify(message, &signature)
                    .map_err(|_| PinError::BadSignature)
            }
            (ServerKey::P384(key), SignatureScheme::EcdsaSecp384r1Sha384) => {
                let signature = p384::ecdsa::DerSignature::try_from(signature)
                    .map_err(|_| PinError::BadSignature)?;
                key.verify(message, &signature)
                    .map_err(|_| PinError::BadSignature)
            }
            _ => Err(PinError::UnsupportedScheme),
        }
    }
}

/// Where a handshake stands for [`PinnedKeys`].
#[derive(Clone, Debug)]
enum State {
    /// Nothing received yet.
    Fresh,
    /// A pinned key, and the transcript hash its signature must cover.
    Certified {
        key: ServerKey,
        transcript: [u8; 32],
    },
    /// The server signed the handshake with a pinned key.
    Proven,
    /// The server was refused.
    Refused(PinError),
}

/// The [`TlsVerifier`] behind [`Pinned`]: accepts a server whose leaf key is pinned and
/// which signs the handshake with it.
///
/// Used through [`Pinned`]; on its own, a handshake is accepted only if
/// [`is_proven`](Self::is_proven) afterwards (`embedded-tls` would finish a handshake in
/// which the server sent neither certificate nor signature).
#[derive(Clone, Debug)]
pub struct PinnedKeys<'p> {
    pins: &'p [SpkiPin],
    state: State,
}

impl<'p> PinnedKeys<'p> {
    /// A verifier trusting the keys whose pins are in `pins` (none: every server is
    /// refused).
    #[must_use]
    pub fn new(pins: &'p [SpkiPin]) -> Self {
        Self {
            pins,
            state: State::Fresh,
        }
    }

    /// Forgets the previous handshake.
    pub fn reset(&mut self) {
        self.state = State::Fresh;
    }

    /// Whether the current handshake's server signed it with a pinned key.
    #[must_use]
    pub fn is_proven(&self) -> bool {
        matches!(self.state, State::Proven)
    }

    /// Why the current handshake's server was refused, if it was.
    #[must_use]
    pub fn refusal(&self) -> Option<PinError> {
        match self.state {
            State::Refused(e) => Some(e),
            _ => None,
        }
    }

    fn refuse(&mut self, e: PinError) -> TlsError {
        self.state = State::Refused(e);
        e.tls()
    }

    fn certify(&self, cert: &CertificateRef<'_>) -> Result<ServerKey, PinError> {
        let Some(CertificateEntryRef::X509(leaf)) = cert.entries.first() else {
            return Err(PinError::NoCertificate);
        };
        let spki = certificate_spki(leaf).map_err(|_| PinError::MalformedCertificate)?;
        if !self.pins.contains(&SpkiPin::of_spki(spki)) {
            return Err(PinError::NotPinned);
        }
        ServerKey::from_spki(spki)
    }
}

/// RFC 8446 section 4.4.3: 64 spaces, the context string, a zero byte.
const SERVER_SIGNATURE_CONTEXT: &[u8] = b"TLS 1.3, server CertificateVerify\x00";

impl TlsVerifier<Aes128GcmSha256> for PinnedKeys<'_> {
    fn set_hostname_verification(&mut self, _hostname: &str) -> Result<(), TlsError> {
        // The key is the identity; the name the server was reached by does not matter.
        Ok(())
    }

    fn verify_certificate(
        &mut self,
        transcript: &<Aes128GcmSha256 as TlsCipherSuite>::Hash,
        cert: CertificateRef<'_>,
    ) -> Result<(), TlsError> {
        if !matches!(self.state, State::Fresh) {
            return Err(self.refuse(PinError::OutOfOrder));
        }
        match self.certify(&cert) {
            Ok(key) => {
                use digest::Digest as _;
                self.state = State::Certified {
                    key,
                    transcript: transcript.clone().finalize().into(),
                };
                Ok(())
            }
            Err(e) => Err(self.refuse(e)),
        }
    }

    fn verify_signature(&mut self, verify: CertificateVerifyRef<'_>) -> Result<(), TlsError> {
        let State::Certified { key, transcript } = &self.state else {
            return Err(self.refuse(PinError::OutOfOrder));
        };
        let mut message = [0x20u8; 64 + SERVER_SIGNATURE_CONTEXT.len() + 32];
        let (_, signed) = message.split_at_mut(64);
        let (context, hash) = signed.split_at_mut(SERVER_SIGNATURE_CONTEXT.len());
        context.copy_from_slice(SERVER_SIGNATURE_CONTEXT);
        hash.copy_from_slice(transcript);
        match key.verify(verify.signature_scheme, &message, verify.signature) {
            Ok(()) => {
                self.state = State::Proven;
                Ok(())
            }
            Err(e) => Err(self.refuse(e)),
        }
    }
}

/// The default [`TlsProvider`]: the application's random number generator and a
/// [`PinnedKeys`] verifier. See the [module docs](self).
///
/// `R` should be a hardware or properly seeded generator: it makes the key share.
#[derive(Debug)]
pub struct Pinned<'p, R> {
    rng: R,
    keys: PinnedKeys<'p>,
}

impl<'p, R: CryptoRngCore> Pinned<'p, R> {
    /// A provider drawing randomness from `rng` and trusting the servers whose leaf key is
    /// pinned in `pins`.
    pub fn new(rng: R, pins: &'p [SpkiPin]) -> Self {
        Self {
            rng,
            keys: PinnedKeys::new(pins),
        }
    }

    /// The verifier, with the outcome of the last handshake.
    #[must_use]
    pub fn keys(&self) -> &PinnedKeys<'p> {
        &self.keys
    }
}

impl<R: CryptoRngCore> CryptoProvider for Pinned<'_, R> {
    type CipherSuite = Aes128GcmSha256;
    // No client certificates: nothing is ever signed.
    type Signature = [u8; 0];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Aes128GcmSha256>, TlsError> {
        Ok(&mut self.keys)
    }
}

impl<R: CryptoRngCore> TlsProvider for Pinned<'_, R> {
    fn handshake_starts(&mut self) {
        self.keys.reset();
    }

    fn handshake_ends(&mut self, handshake: Result<(), TlsError>) -> Result<(), HttpsError> {
        if let Some(e) = self.keys.refusal() {
            return Err(HttpsError::Pin(e));
        }
        handshake.map_err(HttpsError::Tls)?;
        if self.keys.is_proven() {
            Ok(())
        } else {
            Err(HttpsError::Unauthenticated)
        }
    }
}

/// The DER `SubjectPublicKeyInfo` inside a DER X.509 certificate (RFC 5280 section 4.1),
/// read with `der`'s length-checked reader: fields are skipped whole, nothing recursed into.
fn certificate_spki(cert: &[u8]) -> Result<&[u8], der::Error> {
    let mut outer = SliceReader::new(cert)?;
    let certificate = sequence_body(&mut outer)?;
    outer.finish()?;
    let mut certificate = SliceReader::new(certificate)?;
    let tbs = sequence_body(&mut certificate)?;
    let mut tbs = SliceReader::new(tbs)?;
    let version = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(0),
    };
    if Tag::peek(&tbs)? == version {
        tbs.tlv_bytes()?;
    }
    // serialNumber, signature, issuer, validity, subject.
    for _ in 0..5 {
        tbs.tlv_bytes()?;
    }
    let spki = tbs.tlv_bytes()?;
    Tag::peek(&SliceReader::new(spki)?)?.assert_eq(Tag::Sequence)?;
    Ok(spki)
}

fn sequence_body<'a>(reader: &mut SliceReader<'a>) -> Result<&'a [u8], der::Error> {
    let header = Header::decode(reader)?;
    header.tag().assert_eq(Tag::Sequence)?;
    reader.read_slice(header.length())
}
