//! Proof checks (RFC 9449 section 4.3, plus `ath`, `jkt` and the optional replay cache).

use alloc::string::String;
use core::fmt;
use core::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::error::DpopError;
use super::htu::normalize_htu;
use crate::cache::replay::{ReplayCache, ReplayKey};
use crate::jose::compact::{CompactJws, Limits};
use crate::jose::json::{JsonError, ObjectIndex};
use crate::jose::jwk::Jwk;
use crate::jose::provider::{CryptoProvider, RUST_CRYPTO};
use crate::jose::{Algorithm, JoseError, KeyType};
use crate::time::{NumericDate, NumericDateError, UnixTime};

/// The longest proof `jti` accepted, in bytes (RFC 9449 section 11.1 asks servers to refuse
/// needlessly large values).
pub const MAX_JTI_LEN: usize = 256;

/// The default maximum age of a proof (`iat_offset`): 300 s.
pub const DEFAULT_IAT_OFFSET: Duration = Duration::from_secs(300);

/// The default allowance for a proof `iat` in the future (`iat_leeway`): 30 s.
pub const DEFAULT_IAT_LEEWAY: Duration = Duration::from_secs(30);

/// What [`verify_proof`] checks a DPoP proof against.
///
/// `Debug` redacts the proof and the access token.
#[derive(Clone, Copy)]
pub struct ProofInput<'a> {
    /// The `DPoP` request header value. When the request carried several `DPoP` header
    /// fields, pass them joined with `,` (RFC 9110 section 5.3) so that they are refused as
    /// [`DpopError::MultipleProofs`].
    pub proof: Option<&'a str>,
    /// The access token the proof must be bound to (`ath`).
    ///
    /// # Security
    /// A bearer credential: never log it.
    pub access_token: &'a str,
    /// The token's `cnf.jkt`: the thumbprint the proof's key must have.
    pub jkt: &'a str,
    /// The request method, for `htm`.
    pub method: Option<&'a str>,
    /// The full request URL, for `htu` (query and fragment are ignored).
    pub url: Option<&'a str>,
    /// The current time.
    pub now: UnixTime,
    /// The maximum age of a proof. Defaults to [`DEFAULT_IAT_OFFSET`].
    pub iat_offset: Duration,
    /// How far in the future a proof `iat` may be. Defaults to [`DEFAULT_IAT_LEEWAY`].
    pub iat_leeway: Duration,
    /// Size and nesting limits; the proof gets the same limits as an access token.
    pub limits: Limits,
    /// Imports the proof's key and checks its signature; the verifier passes its own.
    /// Defaults to [`RUST_CRYPTO`].
    pub provider: &'static dyn CryptoProvider,
}

impl<'a> ProofInput<'a> {
    /// An input with the default window (300 s back, 30 s ahead) and default limits.
    pub fn new(
        proof: Option<&'a str>,
        access_token: &'a str,
        jkt: &'a str,
        method: Option<&'a str>,
        url: Option<&'a str>,
        now: UnixTime,
    ) -> Self {
        Self {
            proof,
            access_token,
            jkt,
            method,
            url,
            now,
            iat_offset: DEFAULT_IAT_OFFSET,
            iat_leeway: DEFAULT_IAT_LEEWAY,
            limits: Limits::default(),
            provider: &RUST_CRYPTO,
        }
    }
}

impl fmt::Debug for ProofInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProofInput")
            .field("proof", &self.proof.map(|_| "[redacted]"))
            .field("access_token", &"[redacted]")
            .field("jkt", &self.jkt)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("now", &self.now)
            .field("iat_offset", &self.iat_offset)
            .field("iat_leeway", &self.iat_leeway)
            .field("limits", &self.limits)
            .field("provider", &self.provider)
            .finish()
    }
}

/// What a verified proof established.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedProof {
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`, in whole seconds.
    pub iat: UnixTime,
    /// The RFC 7638 thumbprint of the proof key (equal to the token's `cnf.jkt`).
    pub jkt: String,
    /// The normalised `htu` (equal to the normalised request URL).
    pub htu: String,
}

/// Verifies a DPoP proof for a DPoP-bound access token (RFC 9449 sections 4.3 and 7.1).
///
/// Checks run in this order; the first failure is returned:
///
/// 1. the request: a non-empty proof ([`MissingProof`](DpopError::MissingProof)) without a
///    comma ([`MultipleProofs`](DpopError::MultipleProofs)), a method
///    ([`MissingMethod`](DpopError::MissingMethod)), a URL
///    ([`MissingUrl`](DpopError::MissingUrl)) that normalises
///    ([`InvalidRequestUrl`](DpopError::InvalidRequestUrl));
/// 2. the JWS, before any signature work: at most `limits.max_token_len` bytes
///    ([`ProofTooLarge`](DpopError::ProofTooLarge)), a strict compact JWS
///    ([`InvalidProofSyntax`](DpopError::InvalidProofSyntax)), `typ` `dpop+jwt`
///    ([`InvalidTyp`](DpopError::InvalidTyp)), `alg` `ES256`
///    ([`UnsupportedAlg`](DpopError::UnsupportedAlg)), an embedded public P-256 `jwk`
///    ([`MissingJwk`](DpopError::MissingJwk), [`InvalidJwk`](DpopError::InvalidJwk));
/// 3. the signature with that key ([`InvalidSignature`](DpopError::InvalidSignature));
/// 4. the claims, parsed strictly (duplicate names refused): `jti`, `iat` window, `htm`,
///    `htu`, `ath`, in RFC 9449 section 4.3 order, then the key thumbprint against `cnf.jkt`
///    ([`JktMismatch`](DpopError::JktMismatch));
/// 5. last, so that only fully valid proofs take room in it, the replay cache when one is
///    given ([`Replayed`](DpopError::Replayed),
///    [`ReplayCacheFull`](DpopError::ReplayCacheFull),
///    [`ReplayQuotaExceeded`](DpopError::ReplayQuotaExceeded)), keyed by `(jkt, jti)`.
///
/// Pinned choices:
/// - `typ` is compared as a media type (RFC 7515 section 4.1.9): ignoring ASCII case and
///   with an optional `application/` prefix, so `DPOP+JWT` and `application/dpop+jwt` are
///   accepted; anything else (missing, `JWT`, `at+jwt`, parameters) is refused.
/// - `iat` must be a JSON number, compared exactly with the window (RFC 7519 NumericDate
///   allows fractions: `now + iat_leeway + 0.5` is outside it); a negative or huge number is
///   out of the window. The window `[now - iat_offset, now + iat_leeway]` is inclusive and
///   its bounds saturate at the epoch and at the largest instant, so no arithmetic can
///   overflow.
/// - `exp` and `nbf` are optional; when present they must be numbers
///   ([`InvalidTimeClaim`](DpopError::InvalidTimeClaim)), `exp` after now
///   ([`ProofExpired`](DpopError::ProofExpired)) and `nbf` not after now
///   ([`ProofNotYetValid`](DpopError::ProofNotYetValid)), compared exactly and with no
///   leeway. A negative date is in the past; one beyond 2^64 seconds is refused.
/// - `htm` is compared ignoring ASCII case, as the reference SDK does, although RFC 9110
///   methods are case-sensitive.
/// - `htu` and the URL are compared after [`normalize_htu`] (see there for what is and is
///   not normalised).
/// - `ath` is required: at a resource server every proof accompanies an access token.
/// - `jti` is at most [`MAX_JTI_LEN`] bytes.
/// - Extra claims (such as `nonce`) and extra `jwk` members (`kid`, `use`, `alg`) are
///   ignored, though a `jwk` whose own `use`, `key_ops` or `alg` forbids ES256 verification
///   is refused.
///
/// # Errors
/// The [`DpopError`] of the first failed check, as listed above.
///
/// # Examples
/// ```
/// use auth0_api::verify::dpop::{verify_proof, DpopError, ProofInput};
/// use auth0_api::UnixTime;
///
/// let input = ProofInput::new(None, "token", "jkt", Some("GET"), Some("https://api/"),
///     UnixTime::from_secs(1_700_000_000));
/// assert_eq!(verify_proof(&input, None), Err(DpopError::MissingProof));
/// ```
pub fn verify_proof(
    input: &ProofInput<'_>,
    replay: Option<&mut ReplayCache>,
) -> Result<VerifiedProof, DpopError> {
    // 1. The request (RFC 9449 section 4.3, check 1: exactly one DPoP header).
    let proof = input
        .proof
        .filter(|p| !p.is_empty())
        .ok_or(DpopError::MissingProof)?;
    if proof.contains(',') {
        return Err(DpopError::MultipleProofs);
    }
    let method = input
        .method
        .filter(|m| !m.is_empty())
        .ok_or(DpopError::MissingMethod)?;
    let url = input
        .url
        .filter(|u| !u.is_empty())
        .ok_or(DpopError::MissingUrl)?;
    let request_htu = normalize_htu(url).map_err(DpopError::InvalidRequestUrl)?;

    // 2. The JWS (checks 2, 4, 5 and 7).
    if proof.len() > input.limits.max_token_len {
        return Err(DpopError::ProofTooLarge);
    }
    let jws = CompactJws::parse(proof, &input.limits).map_err(|e| match e {
        JoseError::TooLarge => DpopError::ProofTooLarge,
        JoseError::MissingAlgorithm
        | JoseError::UnsecuredAlgorithm
        | JoseError::SymmetricAlgorithm
        | JoseError::UnsupportedAlgorithm => DpopError::UnsupportedAlg,
        other => DpopError::InvalidProofSyntax(other),
    })?;
    let header = jws.header();
    if !header.typ.as_deref().is_some_and(is_dpop_typ) {
        return Err(DpopError::InvalidTyp);
    }
    // This project, like the reference SDK, accepts ES256 proofs only.
    if header.alg != Algorithm::ES256 {
        return Err(DpopError::UnsupportedAlg);
    }
    let members = header.jwk.as_ref().ok_or(DpopError::MissingJwk)?;
    // RFC 9449 section 4.3, check 7: the key must not be private. `Jwk::from_members`
    // refuses every private member; `d` is checked here too so the rule is visible.
    if members.contains_key("d") {
        return Err(DpopError::InvalidJwk(JoseError::PrivateKeyMaterial));
    }
    let jwk = Jwk::from_members(members, input.provider).map_err(DpopError::InvalidJwk)?;
    if jwk.key_type() != KeyType::EcP256 {
        return Err(DpopError::InvalidJwk(JoseError::KeyAlgorithmMismatch));
    }

    // 3. The signature (check 6).
    jws.verify(&jwk).map_err(|e| match e {
        JoseError::InvalidSignature => DpopError::InvalidSignature,
        other => DpopError::InvalidJwk(other),
    })?;

    // 4. The claims (checks 3, 8, 9, 11, 12; check 10, nonce, is not supported).
    let payload_error = |e| DpopError::InvalidProofSyntax(JoseError::PayloadJson(e));
    let text = core::str::from_utf8(jws.payload()).map_err(|_| payload_error(JsonError::Syntax))?;
    let claims = ObjectIndex::parse(text, input.limits.max_json_depth).map_err(payload_error)?;
    let string_claim = |name| match claims.string(text, name) {
        Ok(Some(value)) => Ok(value),
        _ => Err(DpopError::MissingClaim(name)),
    };
    let jti = match claims.string(text, "jti") {
        Ok(Some(jti)) if !jti.is_empty() && jti.len() <= MAX_JTI_LEN => jti,
        _ => return Err(DpopError::InvalidJti),
    };
    let iat = match claims.raw(text, "iat").map(NumericDate::from_json) {
        Some(Ok(iat)) => iat,
        Some(Err(NumericDateError::NotANumber)) | None => return Err(DpopError::InvalidIat),
        Some(Err(_)) => return Err(DpopError::IatOutOfWindow),
    };
    let earliest = input.now.saturating_sub(input.iat_offset);
    let latest = input.now.saturating_add(input.iat_leeway);
    if iat.is_before(earliest) || iat.is_after(latest) {
        return Err(DpopError::IatOutOfWindow);
    }
    // RFC 7519 sections 4.1.4 and 4.1.5: optional in a proof, enforced when present.
    let date = |name| match claims.raw(text, name).map(NumericDate::from_json) {
        None => Ok(None),
        Some(Ok(date)) => Ok(Some(date)),
        Some(Err(NumericDateError::Negative)) => Ok(Some(NumericDate::from_secs(0))),
        Some(Err(_)) => Err(DpopError::InvalidTimeClaim(name)),
    };
    if date("exp")?.is_some_and(|exp| !exp.is_after(input.now)) {
        return Err(DpopError::ProofExpired);
    }
    if date("nbf")?.is_some_and(|nbf| nbf.is_after(input.now)) {
        return Err(DpopError::ProofNotYetValid);
    }
    let iat = iat.floor();
    let htm = string_claim("htm")?;
    if !htm.eq_ignore_ascii_case(method) {
        return Err(DpopError::HtmMismatch);
    }
    let htu = normalize_htu(string_claim("htu")?).map_err(DpopError::InvalidHtu)?;
    if htu != request_htu {
        return Err(DpopError::HtuMismatch);
    }
    let ath = string_claim("ath")?;
    if ath != access_token_hash(input.access_token) {
        return Err(DpopError::AthMismatch);
    }
    let thumbprint = jwk.thumbprint();
    if thumbprint != input.jkt {
        return Err(DpopError::JktMismatch);
    }

    // 5. Replay (section 11.1).
    if let Some(cache) = replay {
        cache
            .check_and_insert(ReplayKey::new(&thumbprint, jti), input.now)
            .map_err(DpopError::from)?;
    }
    Ok(VerifiedProof {
        jti: String::from(jti),
        iat,
        jkt: thumbprint,
        htu,
    })
}

/// `ath`: base64url (no padding) of the SHA-256 of the ASCII access token
/// (RFC 9449 section 4.2).
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// Whether `typ` names the `application/dpop+jwt` media type (RFC 7515 section 4.1.9: the
/// `application/` prefix may be omitted; media types compare ignoring case).
fn is_dpop_typ(typ: &str) -> bool {
    const PREFIX: &str = "application/";
    let subtype = match typ.get(..PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(PREFIX) => typ.get(PREFIX.len()..).unwrap_or(""),
        _ => typ,
    };
    subtype.eq_ignore_ascii_case("dpop+jwt")
}
