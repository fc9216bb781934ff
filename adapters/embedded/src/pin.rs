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
//! A pin only works while you learn of key changes ahead of time. A hosted domain's key can
//! change whenever its operator renews the certificate; pin a key whose renewals you control
//! or are told of (a custom domain, for example), and keep a way to update pins in the field.
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

#[cfg(test)]
mod tests {
    extern crate std;

    use alloc::vec::Vec;

    use digest::Digest as _;
    use embedded_tls::Sha256 as Transcript;
    use rcgen::{CertificateParams, KeyPair, PublicKeyData as _, SignatureAlgorithm};

    use super::*;

    /// A self-signed certificate and its key, of the given algorithm.
    fn certificate(alg: &'static SignatureAlgorithm) -> (Vec<u8>, KeyPair) {
        let key = KeyPair::generate_for(alg).unwrap();
        let cert = CertificateParams::new(alloc::vec![String::from("t.example")])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.der().to_vec(), key)
    }

    use alloc::string::String;

    fn transcript(label: &[u8]) -> Transcript {
        let mut hash = Transcript::new();
        hash.update(label);
        hash
    }

    /// What the server signs for a transcript (RFC 8446 section 4.4.3).
    fn signed_content(transcript: &Transcript) -> Vec<u8> {
        let mut message = alloc::vec![0x20u8; 64];
        message.extend_from_slice(SERVER_SIGNATURE_CONTEXT);
        message.extend_from_slice(&transcript.clone().finalize());
        message
    }

    fn sign(key: &KeyPair, message: &[u8]) -> (SignatureScheme, Vec<u8>) {
        use p256::ecdsa::signature::Signer as _;
        use p256::pkcs8::DecodePrivateKey as _;
        let der = key.serialize_der();
        if let Ok(signer) = p256::ecdsa::SigningKey::from_pkcs8_der(&der) {
            let signature: p256::ecdsa::Signature = signer.sign(message);
            return (
                SignatureScheme::EcdsaSecp256r1Sha256,
                signature.to_der().as_bytes().to_vec(),
            );
        }
        let signer = p384::ecdsa::SigningKey::from_pkcs8_der(&der).unwrap();
        let signature: p384::ecdsa::Signature = signer.sign(message);
        (
            SignatureScheme::EcdsaSecp384r1Sha384,
            signature.to_der().as_bytes().to_vec(),
        )
    }

    fn chain(der: &[u8]) -> CertificateRef<'_> {
        let mut chain = CertificateRef::with_context(&[]);
        chain.add(CertificateEntryRef::X509(der)).unwrap();
        chain
    }

    #[test]
    fn hex_pins_read_what_sha256sum_prints_and_nothing_else() {
        let hex = "00ff10a0b1c2d3e4f5a6b7c8d9eaFBFC0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f50";
        let pin = SpkiPin::from_hex(hex).unwrap();
        assert_eq!(pin.as_bytes()[..3], [0x00, 0xff, 0x10]);
        assert_eq!(alloc::format!("{pin}"), hex.to_ascii_lowercase());
        assert_eq!(SpkiPin::from_hex(&alloc::format!("{pin}")), Ok(pin));
        for bad in [
            "",
            &hex[..63],
            &hex[..62],
            &alloc::format!("{hex}0"),
            &alloc::format!("{hex}  -"),
            &alloc::format!(" {}", &hex[1..]),
            &hex.replace('a', "g"),
            &alloc::format!("{}é", &hex[..62]),
        ] {
            assert_eq!(SpkiPin::from_hex(bad), Err(PinParseError), "{bad:?}");
        }
    }

    #[test]
    fn a_certificates_pin_is_the_digest_of_its_subject_public_key_info() {
        for alg in [
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &rcgen::PKCS_ECDSA_P384_SHA384,
            &rcgen::PKCS_ED25519,
        ] {
            let (der, key) = certificate(alg);
            let spki = key.subject_public_key_info();
            assert_eq!(certificate_spki(&der).unwrap(), spki.as_slice());
            assert_eq!(
                SpkiPin::of_certificate(&der).unwrap(),
                SpkiPin::from_sha256(<sha2::Sha256 as sha2::Digest>::digest(&spki).into())
            );
        }
    }

    #[test]
    fn damaged_certificates_are_refused_without_panicking() {
        let (der, _) = certificate(&rcgen::PKCS_ECDSA_P256_SHA256);
        for len in 0..der.len() {
            assert!(certificate_spki(&der[..len]).is_err(), "prefix of {len}");
        }
        let mut longer = der.clone();
        longer.push(0);
        assert!(certificate_spki(&longer).is_err(), "trailing data");
        for i in 0..der.len() {
            for value in [0x00, 0x80, 0xff] {
                let mut damaged = der.clone();
                damaged[i] = value;
                // Any outcome but a panic; a found key is still only trusted if pinned.
                let _ = SpkiPin::of_certificate(&damaged);
            }
        }
        assert_eq!(
            SpkiPin::of_certificate(b"\x30\x84\xff\xff\xff\xff"),
            Err(PinError::MalformedCertificate)
        );
    }

    #[test]
    fn a_pinned_key_must_sign_the_handshake() {
        for alg in [
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &rcgen::PKCS_ECDSA_P384_SHA384,
        ] {
            let (der, key) = certificate(alg);
            let pins = [SpkiPin::of_certificate(&der).unwrap()];
            let hash = transcript(b"client hello .. certificate");
            let (scheme, signature) = sign(&key, &signed_content(&hash));

            let mut keys = PinnedKeys::new(&pins);
            keys.verify_certificate(&hash, chain(&der)).unwrap();
            assert!(!keys.is_proven(), "not before the signature");
            keys.verify_signature(CertificateVerifyRef {
                signature_scheme: scheme,
                signature: &signature,
            })
            .unwrap();
            assert!(keys.is_proven());
            assert_eq!(keys.refusal(), None);

            // A signature over another handshake (a replayed CertificateVerify).
            let mut keys = PinnedKeys::new(&pins);
            keys.verify_certificate(&transcript(b"another handshake"), chain(&der))
                .unwrap();
            let err = keys.verify_signature(CertificateVerifyRef {
                signature_scheme: scheme,
                signature: &signature,
            });
            assert!(matches!(err, Err(TlsError::InvalidSignature)), "{err:?}");
            assert_eq!(keys.refusal(), Some(PinError::BadSignature));
            assert!(!keys.is_proven());

            // Another key's signature over the right handshake.
            let (_, stranger) = certificate(alg);
            let (_, forged) = sign(&stranger, &signed_content(&hash));
            let mut keys = PinnedKeys::new(&pins);
            keys.verify_certificate(&hash, chain(&der)).unwrap();
            let err = keys.verify_signature(CertificateVerifyRef {
                signature_scheme: scheme,
                signature: &forged,
            });
            assert!(matches!(err, Err(TlsError::InvalidSignature)), "{err:?}");
            assert_eq!(keys.refusal(), Some(PinError::BadSignature));
        }
    }

    #[test]
    fn refusals_name_their_reason() {
        let (der, key) = certificate(&rcgen::PKCS_ECDSA_P256_SHA256);
        let pins = [SpkiPin::of_certificate(&der).unwrap()];
        let hash = transcript(b"handshake");
        let (_, signature) = sign(&key, &signed_content(&hash));
        let verify = |scheme| CertificateVerifyRef {
            signature_scheme: scheme,
            signature: &signature,
        };

        // A key not pinned.
        let (other, _) = certificate(&rcgen::PKCS_ECDSA_P256_SHA256);
        let mut keys = PinnedKeys::new(&pins);
        let err = keys.verify_certificate(&hash, chain(&other));
        assert!(matches!(err, Err(TlsError::InvalidCertificate)), "{err:?}");
        assert_eq!(keys.refusal(), Some(PinError::NotPinned));

        // Nothing pinned.
        let mut keys = PinnedKeys::new(&[]);
        assert!(keys.verify_certificate(&hash, chain(&der)).is_err());
        assert_eq!(keys.refusal(), Some(PinError::NotPinned));

        // A pinned key of a kind whose signatures are not checked here.
        let (ed25519, _) = certificate(&rcgen::PKCS_ED25519);
        let ed_pins = [SpkiPin::of_certificate(&ed25519).unwrap()];
        let mut keys = PinnedKeys::new(&ed_pins);
        assert!(keys.verify_certificate(&hash, chain(&ed25519)).is_err());
        assert_eq!(keys.refusal(), Some(PinError::UnsupportedKey));

        // No certificate, or a raw public key.
        let mut keys = PinnedKeys::new(&pins);
        let empty = CertificateRef::with_context(&[]);
        assert!(keys.verify_certificate(&hash, empty).is_err());
        assert_eq!(keys.refusal(), Some(PinError::NoCertificate));
        let mut keys = PinnedKeys::new(&pins);
        let mut raw = CertificateRef::with_context(&[]);
        raw.add(CertificateEntryRef::RawPublicKey(&der)).unwrap();
        assert!(keys.verify_certificate(&hash, raw).is_err());
        assert_eq!(keys.refusal(), Some(PinError::NoCertificate));

        // Garbage where the certificate should be.
        let mut keys = PinnedKeys::new(&pins);
        assert!(
            keys.verify_certificate(&hash, chain(b"\x30\x03abc"))
                .is_err()
        );
        assert_eq!(keys.refusal(), Some(PinError::MalformedCertificate));

        // A scheme that does not fit the key (P-384 for a P-256 key), or no ECDSA at all.
        for scheme in [
            SignatureScheme::EcdsaSecp384r1Sha384,
            SignatureScheme::Ed25519,
            SignatureScheme::RsaPssRsaeSha256,
        ] {
            let mut keys = PinnedKeys::new(&pins);
            keys.verify_certificate(&hash, chain(&der)).unwrap();
            let err = keys.verify_signature(verify(scheme));
            assert!(
                matches!(err, Err(TlsError::InvalidSignatureScheme)),
                "{err:?}"
            );
            assert_eq!(keys.refusal(), Some(PinError::UnsupportedScheme));
        }

        // Out of order: a signature first, a second certificate, a second signature.
        let mut keys = PinnedKeys::new(&pins);
        let err = keys.verify_signature(verify(SignatureScheme::EcdsaSecp256r1Sha256));
        assert!(matches!(err, Err(TlsError::InvalidHandshake)), "{err:?}");
        assert_eq!(keys.refusal(), Some(PinError::OutOfOrder));
        let mut keys = PinnedKeys::new(&pins);
        keys.verify_certificate(&hash, chain(&der)).unwrap();
        assert!(keys.verify_certificate(&hash, chain(&der)).is_err());
        assert_eq!(keys.refusal(), Some(PinError::OutOfOrder));
        let mut keys = PinnedKeys::new(&pins);
        keys.verify_certificate(&hash, chain(&der)).unwrap();
        keys.verify_signature(verify(SignatureScheme::EcdsaSecp256r1Sha256))
            .unwrap();
        assert!(
            keys.verify_signature(verify(SignatureScheme::EcdsaSecp256r1Sha256))
                .is_err()
        );
        assert_eq!(keys.refusal(), Some(PinError::OutOfOrder));

        // A refusal is forgotten with the handshake.
        keys.reset();
        assert_eq!(keys.refusal(), None);
        assert!(!keys.is_proven());
    }

    #[test]
    fn the_provider_reports_refusals_and_unproven_handshakes() {
        let (der, _) = certificate(&rcgen::PKCS_ECDSA_P256_SHA256);
        let pins = [SpkiPin::of_certificate(&der).unwrap()];
        let mut provider = Pinned::new(rand_core::OsRng, &pins);

        // embedded-tls finishes a handshake in which the server never sent its certificate:
        // refused all the same.
        provider.handshake_starts();
        assert!(matches!(
            provider.handshake_ends(Ok(())),
            Err(HttpsError::Unauthenticated)
        ));

        // The refusal, rather than the TLS error it became.
        let (other, _) = certificate(&rcgen::PKCS_ECDSA_P256_SHA256);
        provider.handshake_starts();
        let tls = provider
            .verifier()
            .unwrap()
            .verify_certificate(&transcript(b"h"), chain(&other))
            .unwrap_err();
        assert!(matches!(
            provider.handshake_ends(Err(tls)),
            Err(HttpsError::Pin(PinError::NotPinned))
        ));

        // A network failure is reported as such.
        provider.handshake_starts();
        assert!(matches!(
            provider.handshake_ends(Err(TlsError::ConnectionClosed)),
            Err(HttpsError::Tls(TlsError::ConnectionClosed))
        ));
    }

    #[test]
    fn pin_error_messages_are_lower_case_without_period() {
        let all = [
            PinError::NoCertificate,
            PinError::MalformedCertificate,
            PinError::NotPinned,
            PinError::UnsupportedKey,
            PinError::UnsupportedScheme,
            PinError::BadSignature,
            PinError::OutOfOrder,
        ];
        for e in all {
            let text = alloc::format!("{e}");
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
        let text = alloc::format!("{PinParseError}");
        assert!(!text.ends_with('.'), "{text}");
    }
}
