//! Compact JWS parsing (RFC 7515 section 7.1) with size limits and strict base64url.

use alloc::vec::Vec;

use super::JoseError;
use super::error::Segment;
use super::header::Header;
use super::json::{self, DEFAULT_MAX_DEPTH};
use super::jwk::Jwk;

/// The default bound on the length of a compact JWS (16 KiB).
pub const DEFAULT_MAX_TOKEN_LEN: usize = 16 * 1024;

/// Bounds applied before and while decoding a compact JWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest token accepted, in bytes, checked before any decoding. Defaults to 16 KiB.
    pub max_token_len: usize,
    /// The deepest JSON nesting accepted in the header and payload. Defaults to 32.
    pub max_json_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            max_json_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// A parsed, not yet verified, compact JWS.
///
/// Parsing decodes the three segments and reads the protected header; it never trusts them.
/// The signing input is kept as the borrowed bytes of the token, never copied.
#[derive(Debug)]
pub struct CompactJws<'a> {
    header: Header,
    signing_input: &'a [u8],
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> CompactJws<'a> {
    /// Splits and decodes `token`.
    ///
    /// # Errors
    /// [`JoseError::TooLarge`] before any work when the token exceeds the limit;
    /// [`JoseError::JsonSerialization`], [`JoseError::SegmentCount`],
    /// [`JoseError::EmptySegment`], [`JoseError::Base64`], [`JoseError::HeaderJson`] for
    /// malformed input, and the errors of [`Header::from_members`].
    pub fn parse(token: &'a str, limits: &Limits) -> Result<Self, JoseError> {
        if token.len() > limits.max_token_len {
            return Err(JoseError::TooLarge);
        }
        if token.starts_with('{') {
            return Err(JoseError::JsonSerialization);
        }
        // The first and the last dot, found from either end: the payload, the longest part,
        // is not searched. A dot within it (four segments or more) cannot decode, so it is
        // looked for only when something fails, and then reported before anything else.
        let bytes = token.as_bytes();
        let first_and_last = (memchr::memchr(b'.', bytes), memchr::memrchr(b'.', bytes));
        let (Some(first), Some(last)) = first_and_last else {
            return Err(JoseError::SegmentCount);
        };
        let (Some(header_b64), Some(payload_b64), Some(signature_b64)) = (
            token.get(..first),
            token.get(first + 1..last),
            token.get(last + 1..),
        ) else {
            // One dot only: `last` is `first`.
            return Err(JoseError::SegmentCount);
        };
        let segments = || -> Result<_, JoseError> {
            if header_b64.is_empty() {
                return Err(JoseError::EmptySegment(Segment::Header));
            }
            let header = read_header(header_b64, limits.max_json_depth)?;
            // After the header, so an unsecured `alg: none` token is named as such (T-01).
            if signature_b64.is_empty() {
                return Err(JoseError::EmptySegment(Segment::Signature));
            }
            let payload = decode(payload_b64, Segment::Payload)?;
            let signature = decode(signature_b64, Segment::Signature)?;
            Ok((header, payload, signature))
        };
        let (header, payload, signature) = segments().map_err(|e| {
            if payload_b64.contains('.') {
                JoseError::SegmentCount
            } else {
                e
            }
        })?;
        // header '.' payload: both lengths are bounded by the token length.
        let signing_len = header_b64
            .len()
            .saturating_add(1)
            .saturating_add(payload_b64.len());
        let signing_input = token
            .as_bytes()
            .get(..signing_len)
            .ok_or(JoseError::SegmentCount)?;
        Ok(Self {
            header,
            signing_input,
            payload,
            signature,
        })
    }

    /// The protected header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The decoded payload bytes (not parsed).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// `BASE64URL(header) '.' BASE64URL(payload)`, borrowed from the token.
    pub fn signing_input(&self) -> &'a [u8] {
        self.signing_input
    }

    /// Moves the decoded payload out, leaving it empty.
    pub(crate) fn take_payload(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.payload)
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Verifies the signature with `key` under the header's `alg`.
    ///
    /// # Errors
    /// [`JoseError::KeyAlgorithmMismatch`] when the key may not be used with this algorithm
    /// (type, curve, `use`, `key_ops` or its own `alg`), [`JoseError::InvalidSignature`] when
    /// the signature does not verify.
    pub fn verify(&self, key: &Jwk) -> Result<(), JoseError> {
        key.verify(self.header.alg, self.signing_input, &self.signature)
    }
}

/// Decodes and reads the protected header; a typical header decodes on the stack.
fn read_header(header_b64: &str, max_depth: usize) -> Result<Header, JoseError> {
    let from_bytes = |bytes: &[u8]| {
        let text = core::str::from_utf8(bytes)
            .map_err(|_| JoseError::HeaderJson(json::JsonError::Syntax))?;
        Header::from_json(text, max_depth)
    };
    let mut buffer = [0u8; 384];
    if header_b64.len() <= buffer.len() / 3 * 4 {
        let decoded = base64_simd::URL_SAFE_NO_PAD
            .decode(
                header_b64.as_bytes(),
                base64_simd::Out::from_slice(&mut buffer),
            )
            .map_err(|_| JoseError::Base64(Segment::Header))?;
        from_bytes(decoded)
    } else {
        from_bytes(&decode(header_b64, Segment::Header)?)
    }
}

/// Strict base64url (RFC 7515 section 2): no padding, no `+` or `/`, no white space, and the
/// unused trailing bits must be zero, so each byte string has exactly one accepted encoding.
///
/// Token segments are decoded with `base64-simd` (several times faster than the `base64`
/// crate on a 1 KB token); the tests hold it to the `base64` crate's strict decoder, which
/// reads every other base64url field.
pub(crate) fn decode(segment: &str, which: Segment) -> Result<Vec<u8>, JoseError> {
    base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(segment)
        .map_err(|_| JoseError::Base64(which))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use proptest::prelude::*;

    fn token(header: &str, payload: &str, sig: &[u8]) -> String {
        alloc::format!(
            "{}.{}.{}",
            B64.encode(header),
            B64.encode(payload),
            B64.encode(sig)
        )
    }

    #[test]
    fn splits_and_keeps_signing_input_borrowed() {
        let t = token(r#"{"alg":"RS256","kid":"a"}"#, r#"{"sub":"x"}"#, b"sig");
        let jws = CompactJws::parse(&t, &Limits::default()).unwrap();
        assert_eq!(jws.header().kid.as_deref(), Some("a"));
        assert_eq!(jws.payload(), br#"{"sub":"x"}"#);
        assert_eq!(jws.signature(), b"sig");
        let dot = t.rfind('.').unwrap();
        assert_eq!(jws.signing_input(), &t.as_bytes()[..dot]);
        assert!(core::ptr::eq(jws.signing_input().as_ptr(), t.as_ptr()));
    }

    #[test]
    fn malformed_tokens_fail_distinctly() {
        let good = token(r#"{"alg":"RS256"}"#, "{}", b"s");
        let (h, rest) = good.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        use JoseError::*;
        let cases: Vec<(String, JoseError)> = alloc::vec![
            (String::new(), SegmentCount),
            (alloc::format!("{h}.{p}"), SegmentCount),
            (alloc::format!("{h}.{p}.{s}.x"), SegmentCount),
            (alloc::format!("{h}.{p}.{s}.x.y"), SegmentCount),
            // Four segments are reported as such whatever else is wrong.
            (alloc::format!("{h}=.{p}.{s}.x"), SegmentCount),
            (alloc::format!(".{p}.{s}.x"), SegmentCount),
            (alloc::format!("{h}.{p}.."), SegmentCount),
            (alloc::format!("{h}...{s}"), SegmentCount),
            (alloc::format!("{h}.{p}.{s}.é"), SegmentCount),
            (alloc::format!(".{p}.{s}"), EmptySegment(Segment::Header)),
            (alloc::format!("{h}.{p}."), EmptySegment(Segment::Signature)),
            (alloc::format!("{h}=.{p}.{s}"), Base64(Segment::Header)),
            (alloc::format!("{h}.{p} .{s}"), Base64(Segment::Payload)),
            (alloc::format!("{h}.{p}.{s}+"), Base64(Segment::Signature)),
            (alloc::format!("{h}.{p}.{s}/"), Base64(Segment::Signature)),
            (alloc::format!("{h}.{p}.{s}\n"), Base64(Segment::Signature)),
            (alloc::format!("{h}.{p}.é"), Base64(Segment::Signature)),
            // "cz" has non-zero trailing bits; the canonical encoding of "s" is "cw".
            (alloc::format!("{h}.{p}.cz"), Base64(Segment::Signature)),
            (
                alloc::format!("{}.{p}.{s}", B64.encode("[1]")),
                HeaderJson(json::JsonError::NotAnObject)
            ),
            (
                alloc::format!("{}.{p}.{s}", B64.encode(r#"{"alg":"RS256","alg":"RS256"}"#)),
                HeaderJson(json::JsonError::DuplicateMember)
            ),
            (
                alloc::format!("{}.{p}.{s}", B64.encode(r#"{"alg":"none"}"#)),
                UnsecuredAlgorithm
            ),
            (
                String::from(r#"{"payload":"e30","signatures":[]}"#),
                JsonSerialization
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                CompactJws::parse(&input, &Limits::default()).err(),
                Some(expected.clone()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn size_is_checked_before_decoding() {
        let dots = ".".repeat(1 << 20);
        assert_eq!(
            CompactJws::parse(&dots, &Limits::default()).err(),
            Some(JoseError::TooLarge)
        );
        let t = token(r#"{"alg":"RS256"}"#, "{}", b"s");
        let tight = Limits {
            max_token_len: t.len() - 1,
            ..Limits::default()
        };
        assert_eq!(
            CompactJws::parse(&t, &tight).err(),
            Some(JoseError::TooLarge)
        );
        let exact = Limits {
            max_token_len: t.len(),
            ..Limits::default()
        };
        assert!(CompactJws::parse(&t, &exact).is_ok());
    }

    #[test]
    fn deep_header_is_refused() {
        let deep = alloc::format!(
            r#"{{"alg":"RS256","x":{}{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let t = alloc::format!("{}.e30.cw", B64.encode(deep));
        let limits = Limits {
            max_token_len: usize::MAX,
            ..Limits::default()
        };
        assert_eq!(
            CompactJws::parse(&t, &limits).err(),
            Some(JoseError::HeaderJson(json::JsonError::TooDeep))
        );
    }

    proptest! {
        #[test]
        fn any_input_is_ok_or_typed_error(input in ".{0,300}") {
            let _ = CompactJws::parse(&input, &Limits::default());
        }

        #[test]
        fn anything_but_three_segments_is_a_segment_count_error(
            parts in proptest::collection::vec("[A-Za-z0-9_=.-]{0,12}", 1..6),
        ) {
            let t = parts.join(".");
            let count = t.split('.').count();
            let result = CompactJws::parse(&t, &Limits::default());
            if count != 3 {
                prop_assert_eq!(result.err(), Some(JoseError::SegmentCount), "{}", t);
            } else {
                prop_assert_ne!(result.err(), Some(JoseError::SegmentCount), "{}", t);
            }
        }

        #[test]
        fn any_bytes_in_segments_never_panic(h in proptest::collection::vec(any::<u8>(), 0..64),
                                             p in proptest::collection::vec(any::<u8>(), 0..64),
                                             s in proptest::collection::vec(any::<u8>(), 0..64)) {
            let t = alloc::format!("{}.{}.{}", B64.encode(&h), B64.encode(&p), B64.encode(&s));
            let _ = CompactJws::parse(&t, &Limits::default());
        }

        #[test]
        fn base64url_round_trips_and_is_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let encoded = B64.encode(&bytes);
            let decoded = decode(&encoded, Segment::Payload).unwrap();
            prop_assert_eq!(&decoded, &bytes);
            // Accepted segments re-encode to the exact input (T-21).
            prop_assert_eq!(B64.encode(decoded), encoded);
        }

        #[test]
        fn segment_decoding_agrees_with_the_base64_crate(s in "[A-Za-z0-9_+/=. \n-]{0,70}") {
            let reference = B64.decode(&s).ok();
            prop_assert_eq!(decode(&s, Segment::Payload).ok(), reference.clone());
            // The header's stack buffer path too.
            let header = read_header(&s, DEFAULT_MAX_DEPTH);
            if reference.is_none() {
                prop_assert_eq!(header, Err(JoseError::Base64(Segment::Header)));
            } else {
                prop_assert_ne!(header, Err(JoseError::Base64(Segment::Header)));
            }
        }

        #[test]
        fn accepted_segments_reencode_exactly(s in "[A-Za-z0-9_-]{0,40}") {
            if let Ok(bytes) = decode(&s, Segment::Payload) {
                prop_assert_eq!(B64.encode(bytes), s);
            }
        }
    }
}
