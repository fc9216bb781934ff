//! Percent-encoding (RFC 3986 section 2.1) shared by form bodies, queries and DPoP `htu`.
//!
//! Decoding is strict everywhere: a `%` must be followed by two hex digits.

use alloc::string::String;

/// The value of one hex digit, either case.
pub(crate) const fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Appends `%XX` for `byte`, upper-case hex digits (RFC 3986 section 2.1 recommends them).
pub(crate) fn push_escape(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    for nibble in [byte >> 4, byte & 0x0f] {
        out.push(char::from(
            HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
        ));
    }
}

/// A `%` not followed by two hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BadEscape;

/// Decodes one escape: the two bytes after a `%`, taken from `bytes`.
pub(crate) fn decode_escape(bytes: &mut impl Iterator<Item = u8>) -> Result<u8, BadEscape> {
    let hi = bytes.next().and_then(hex_value);
    let lo = bytes.next().and_then(hex_value);
    match (hi, lo) {
        (Some(hi), Some(lo)) => Ok((hi << 4) | lo),
        _ => Err(BadEscape),
    }
}

/// The bytes of one `application/x-www-form-urlencoded` name or value, decoded: `+` is a
/// space, `%XX` a byte. Yields [`BadEscape`] once and then stops at a malformed escape.
pub(crate) fn form_decoded(encoded: &[u8]) -> impl Iterator<Item = Result<u8, BadEscape>> + '_ {
    let mut bytes = encoded.iter().copied();
    let mut failed = false;
    core::iter::from_fn(move || {
        if failed {
            return None;
        }
        let decoded = match bytes.next()? {
            b'+' => Ok(b' '),
            b'%' => decode_escape(&mut bytes),
            other => Ok(other),
        };
        failed = decoded.is_err();
        Some(decoded)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn decode(s: &str) -> Result<Vec<u8>, BadEscape> {
        form_decoded(s.as_bytes()).collect()
    }

    #[test]
    fn form_decoding_table() {
        let cases: &[(&str, Result<&[u8], BadEscape>)] = &[
            ("", Ok(b"")),
            ("a+b", Ok(b"a b")),
            ("%41%6a%6A", Ok(b"Ajj")),
            ("%2B+", Ok(b"+ ")),
            ("%00%ff", Ok(b"\x00\xff")),
            ("%", Err(BadEscape)),
            ("%4", Err(BadEscape)),
            ("%4g", Err(BadEscape)),
            ("%g4", Err(BadEscape)),
            ("a%%41", Err(BadEscape)),
            ("%+1", Err(BadEscape)),
        ];
        for (input, expected) in cases {
            assert_eq!(decode(input), expected.map(<[u8]>::to_vec), "{input:?}");
        }
        // The error is the last item: nothing after a bad escape is decoded.
        let items: Vec<_> = form_decoded(b"a%zzb").collect();
        assert_eq!(items, [Ok(b'a'), Err(BadEscape)]);
    }

    proptest! {
        #[test]
        fn escaping_every_byte_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut encoded = String::new();
            for &b in &bytes {
                push_escape(&mut encoded, b);
            }
            prop_assert_eq!(encoded.len(), 3 * bytes.len());
            prop_assert!(!encoded.bytes().any(|b| b.is_ascii_lowercase()));
            prop_assert_eq!(decode(&encoded), Ok(bytes));
        }
    }
}
