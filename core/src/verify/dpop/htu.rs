//! `htu` normalisation: the comparison form of a proof's `htu` and of the request URL
//! (RFC 9449 section 4.3, check 9).

use alloc::string::String;
use core::fmt;

use crate::percent;

/// The longest `htu` or request URL accepted, in bytes.
pub const MAX_HTU_LEN: usize = 8 * 1024;

/// Why a URL (a proof's `htu` or the request URL) could not be normalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// Longer than [`MAX_HTU_LEN`].
    TooLong,
    /// A control character, white space, backslash or non-ASCII character (an
    /// internationalised host must be given in its `xn--` form).
    Character,
    /// The scheme is missing or is not `http` or `https`.
    Scheme,
    /// No `//` authority after the scheme.
    MissingAuthority,
    /// The authority carries user information (`user:password@`).
    Userinfo,
    /// The host is empty or malformed.
    Host,
    /// The port is not a decimal number up to 65535.
    Port,
    /// A `%` not followed by two hexadecimal digits.
    PercentEncoding,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::TooLong => "url too long",
            UrlError::Character => "url contains a forbidden character",
            UrlError::Scheme => "url scheme is not http or https",
            UrlError::MissingAuthority => "url has no authority",
            UrlError::Userinfo => "url carries user information",
            UrlError::Host => "url host is empty or malformed",
            UrlError::Port => "url port is invalid",
            UrlError::PercentEncoding => "url has a malformed percent-encoding",
        })
    }
}

impl core::error::Error for UrlError {}

/// Normalises an `htu` claim or a request URL for comparison (RFC 9449 section 4.3, check 9;
/// RFC 3986 sections 6.2.2 and 6.2.3).
///
/// The result is `scheme://host[:port]path`:
/// - only `http` and `https`; scheme and host lower-cased;
/// - the default port (80 for `http`, 443 for `https`) and an empty port dropped, leading
///   zeros of a port dropped;
/// - query and fragment dropped; an empty path becomes `/`;
/// - in the path, a percent-encoded unreserved character (`A-Z a-z 0-9 - . _ ~`) is
///   decoded, every other percent-encoding has its hex digits upper-cased, and the
///   characters RFC 3986 does not allow in a path (`"` `<` `>` `[` `]` `^` `` ` `` `{` `|`
///   `}`) are percent-encoded, as a browser would send them.
///
/// Deliberately **not** done: dot segments are not resolved (`/a/../b` differs from `/b`),
/// slashes are not merged (`//p` differs from `/p`), a trailing slash matters (`/p` differs
/// from `/p/`), `%2F` differs from `/`, path case matters, a trailing dot in the host
/// matters, IPv6 literals are lower-cased but not otherwise rewritten, and
/// internationalised hosts are not converted (only ASCII is accepted). Each of these would
/// let a proof minted for one resource be used at another on some server; a proof whose
/// `htu` differs from the URL the client requested in these ways is rejected.
///
/// # Errors
/// [`UrlError`] when the input is longer than [`MAX_HTU_LEN`], contains a control
/// character, white space, backslash or non-ASCII byte, has a scheme other than `http` or
/// `https`, no authority, user information, an empty or malformed host (IPv6 zone
/// identifiers and IPvFuture included), a malformed port or a malformed percent-encoding.
///
/// # Examples
/// ```
/// use auth0_api::verify::dpop::normalize_htu;
///
/// assert_eq!(
///     normalize_htu("HTTPS://Example.COM:443/a%7eb%2f?q=1#f").as_deref(),
///     Ok("https://example.com/a~b%2F")
/// );
/// assert!(normalize_htu("https://user@example.com/").is_err());
/// ```
pub fn normalize_htu(url: &str) -> Result<String, UrlError> {
    if url.len() > MAX_HTU_LEN {
        return Err(UrlError::TooLong);
    }
    // Controls, space, DEL, backslash and non-ASCII are refused anywhere, query included:
    // parsers disagree on them (WHATWG turns `\` into `/` and strips tabs and newlines).
    if url
        .bytes()
        .any(|b| !(0x21..=0x7e).contains(&b) || b == b'\\')
    {
        return Err(UrlError::Character);
    }
    let (scheme, rest) = url.split_once(':').ok_or(UrlError::Scheme)?;
    let (scheme, default_port) = if scheme.eq_ignore_ascii_case("https") {
        ("https", 443)
    } else if scheme.eq_ignore_ascii_case("http") {
        ("http", 80)
    } else {
        return Err(UrlError::Scheme);
    };
    let rest = rest.strip_prefix("//").ok_or(UrlError::MissingAuthority)?;
    // The split points are ASCII characters, so they are char boundaries.
    let (authority, tail) = split_at_first(rest, &['/', '?', '#']);
    let (path, _query_and_fragment) = split_at_first(tail, &['?', '#']);
    if authority.contains('@') {
        return Err(UrlError::Userinfo);
    }
    let (host, port) = split_host_port(authority)?;

    let mut out = String::with_capacity(url.len().saturating_add(1));
    out.push_str(scheme);
    out.push_str("://");
    push_host(&mut out, host)?;
    if let Some(port) = parse_port(port)?.filter(|p| *p != default_port) {
        out.push(':');
        push_decimal(&mut out, port);
    }
    if path.is_empty() {
        out.push('/');
    } else {
        push_path(&mut out, path)?;
    }
    Ok(out)
}

/// Splits `s` before the first of `chars`, or returns `(s, "")`.
fn split_at_first<'s>(s: &'s str, chars: &[char]) -> (&'s str, &'s str) {
    s.find(chars)
        .and_then(|i| s.split_at_checked(i))
        .unwrap_or((s, ""))
}

/// Splits an authority (already free of user information) into host and optional port.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UrlError> {
    let (host, after_host) = if authority.starts_with('[') {
        // RFC 3986 section 3.2.2: IP-literal = "[" ( IPv6address / IPvFuture ) "]".
        let close = authority.find(']').ok_or(UrlError::Host)?.saturating_add(1);
        authority.split_at_checked(close).ok_or(UrlError::Host)?
    } else {
        split_at_first(authority, &[':'])
    };
    if after_host.is_empty() {
        Ok((host, None))
    } else {
        after_host
            .strip_prefix(':')
            .map(|port| (host, Some(port)))
            .ok_or(UrlError::Host)
    }
}

/// Appends the lower-cased host, validating it.
fn push_host(out: &mut String, host: &str) -> Result<(), UrlError> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        // IPv6 only: hex digits, colons and dots (embedded IPv4). No zone identifier, no
        // IPvFuture.
        let valid = inner.contains(':')
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !valid {
            return Err(UrlError::Host);
        }
    } else {
        // A DNS name or IPv4 address. Percent-encoded and sub-delim hosts are refused.
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !valid {
            return Err(UrlError::Host);
        }
    }
    out.extend(host.chars().map(|c| c.to_ascii_lowercase()));
    Ok(())
}

/// Parses a port: `None` when absent or empty (RFC 3986 section 6.2.3), else 0 to 65535.
fn parse_port(port: Option<&str>) -> Result<Option<u16>, UrlError> {
    let Some(port) = port.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let mut value: u16 = 0;
    for b in port.bytes() {
        let digit = b
            .is_ascii_digit()
            .then(|| u16::from(b - b'0'))
            .ok_or(UrlError::Port)?;
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(digit))
            .ok_or(UrlError::Port)?;
    }
    Ok(Some(value))
}

fn push_decimal(out: &mut String, value: u16) {
    use core::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = write!(out, "{value}");
}

pub(super) const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Characters allowed unencoded in a path besides unreserved ones: sub-delims, `:`, `@`, `/`
/// (RFC 3986 section 3.3).
const fn is_path_char(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
        )
}

/// Appends the normalised path (input is printable ASCII without `\`, `?` or `#`).
fn push_path(out: &mut String, path: &str) -> Result<(), UrlError> {
    let mut bytes = path.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let decoded = percent::decode_escape(&mut bytes)
                .map_err(|percent::BadEscape| UrlError::PercentEncoding)?;
            if is_unreserved(decoded) {
                out.push(char::from(decoded));
            } else {
                percent::push_escape(out, decoded);
            }
        } else if is_path_char(b) {
            out.push(char::from(b));
        } else {
            percent::push_escape(out, b);
        }
    }
    Ok(())
}
