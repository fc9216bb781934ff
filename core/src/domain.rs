//! Domain normalisation: a configured tenant domain becomes the expected issuer
//! `https://host[:port]/` (SPEC section 1).
//!
//! The result is compared as an exact string with the discovery document's `issuer` and the
//! token's `iss` (RFC 8414 section 3.3, OpenID Connect Discovery section 4.3), so the rules
//! are strict and the output is canonical:
//!
//! - surrounding white space is trimmed; no scheme means `https://`; any other scheme
//!   (compared ignoring case) is an error;
//! - user info, a query (even empty), a fragment (even empty) or a path other than `/` are
//!   errors, as are white space, control characters, `\` and `%` anywhere;
//! - the host is lower-cased and must be a DNS name of ASCII letters, digits, `-` and `.`
//!   (labels of 1 to 63 characters, at most 253 in all, no empty label, no trailing dot).
//!   Internationalised names must be given in their `xn--` form;
//! - a port must be 1 to 5 digits with a value in `1..=65535`; the default port 443 is
//!   dropped (Auth0 issues `https://tenant/`, and WHATWG URL serialisation drops it too),
//!   any other port is kept in canonical decimal;
//! - IP literals (IPv4 in any form a URL parser would read as an address, bracketed IPv6)
//!   and `localhost` names (RFC 6761 section 6.3) are refused unless [`DomainPolicy`] allows
//!   them: an issuer is a trust decision and an address that echoes request data is an
//!   SSRF vector (SECURITY H-22, T-47). When allowed, IPv4 must be in dotted-decimal form
//!   and IPv6 is only lower-cased, not re-compressed, so `[::1]` and `[0::1]` differ.
//!
//! Normalisation is idempotent: normalising an issuer gives the same issuer.

use alloc::format;
use alloc::string::String;
use core::fmt;

use serde::Serialize;

/// An issuer identifier in canonical form: `https://host[:port]/`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Issuer(String);

/// Which hosts [`Issuer::from_domain_with`] accepts beyond DNS names. Defaults to none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DomainPolicy {
    /// Accept dotted-decimal IPv4 and bracketed IPv6 literals. Defaults to `false`.
    pub allow_ip_literals: bool,
    /// Accept `localhost` and names under `.localhost`. Defaults to `false`.
    pub allow_localhost: bool,
}

impl DomainPolicy {
    /// The default policy: DNS names only.
    pub const STRICT: Self = Self {
        allow_ip_literals: false,
        allow_localhost: false,
    };

    /// Also accepts IP literals (`true`) or not.
    pub const fn with_ip_literals(mut self, allow: bool) -> Self {
        self.allow_ip_literals = allow;
        self
    }

    /// Also accepts `localhost` names (`true`) or not.
    pub const fn with_localhost(mut self, allow: bool) -> Self {
        self.allow_localhost = allow;
        self
    }
}

impl Issuer {
    /// Normalises a configured domain (`tenant.auth0.com`, `https://Tenant.Auth0.com/`, ...)
    /// into the expected issuer, with [`DomainPolicy::STRICT`].
    ///
    /// # Errors
    /// [`DomainError`] naming the first rule broken (see the module docs).
    ///
    /// # Examples
    /// ```
    /// use auth0_api::Issuer;
    /// let issuer = Issuer::from_domain(" HTTPS://Tenant.Auth0.com:443 ").unwrap();
    /// assert_eq!(issuer.as_str(), "https://tenant.auth0.com/");
    /// assert!(Issuer::from_domain("http://tenant.auth0.com").is_err());
    /// ```
    pub fn from_domain(input: &str) -> Result<Self, DomainError> {
        Self::from_domain_with(input, &DomainPolicy::STRICT)
    }

    /// Normalises a configured domain under `policy`.
    ///
    /// # Errors
    /// [`DomainError`] naming the first rule broken (see the module docs).
    pub fn from_domain_with(input: &str, policy: &DomainPolicy) -> Result<Self, DomainError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(DomainError::Empty);
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(DomainError::InvalidCharacter);
        }
        if input.contains('\\') || input.contains('%') {
            return Err(DomainError::InvalidCharacter);
        }
        let rest = match input.find("://") {
            Some(at) => {
                let (scheme, rest) = input.split_at(at);
                if !scheme.eq_ignore_ascii_case("https") {
                    return Err(DomainError::UnsupportedScheme);
                }
                rest.get(3..).unwrap_or_default()
            }
            None => input,
        };

        // RFC 3986 section 3.2: the authority ends at the first `/`, `?` or `#`.
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        check_tail(tail)?;
        if authority.contains('@') {
            return Err(DomainError::UserInfo);
        }

        let (host, port) = split_port(authority)?;
        let host = normalise_host(host, policy)?;
        Ok(match port {
            None | Some(443) => Self(format!("https://{host}/")),
            Some(port) => Self(format!("https://{host}:{port}/")),
        })
    }

    /// Accepts `iss` only if it is already an issuer in canonical form, under
    /// [`DomainPolicy::STRICT`]. For an `iss` from a token or a static issuer list.
    ///
    /// # Errors
    /// [`DomainError::NotNormalised`] when `iss` is a valid domain in another spelling, or
    /// the error of [`Issuer::from_domain`].
    pub fn parse_exact(iss: &str) -> Result<Self, DomainError> {
        Self::parse_exact_with(iss, &DomainPolicy::STRICT)
    }

    /// [`Issuer::parse_exact`] under `policy`.
    ///
    /// # Errors
    /// As for [`Issuer::parse_exact`].
    pub fn parse_exact_with(iss: &str, policy: &DomainPolicy) -> Result<Self, DomainError> {
        let issuer = Self::from_domain_with(iss, policy)?;
        if issuer.0 == iss {
            Ok(issuer)
        } else {
            Err(DomainError::NotNormalised)
        }
    }

    /// The issuer string, `https://host[:port]/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The OpenID Connect discovery URL, `{issuer}.well-known/openid-configuration`
    /// (OpenID Connect Discovery 1.0 section 4).
    pub fn discovery_url(&self) -> String {
        format!("{}.well-known/openid-configuration", self.0)
    }

    /// The issuer string, by value.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Issuer {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Issuer {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Issuer {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// After the authority, only nothing or a single `/` is allowed.
fn check_tail(tail: &str) -> Result<(), DomainError> {
    let end = tail.find(['?', '#']).unwrap_or(tail.len());
    let (path, rest) = tail.split_at(end);
    if !(path.is_empty() || path == "/") {
        return Err(DomainError::Path);
    }
    if rest.starts_with('?') {
        return Err(DomainError::Query);
    }
    if rest.starts_with('#') {
        return Err(DomainError::Fragment);
    }
    Ok(())
}

/// Splits `host[:port]`, with `[v6]:port` for bracketed literals.
fn split_port(authority: &str) -> Result<(&str, Option<u16>), DomainError> {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(close) => {
                let (host, after) = authority.split_at(close.saturating_add(1));
                match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None if after.is_empty() => (host, None),
                    None => return Err(DomainError::InvalidHost),
                }
            }
            None => return Err(DomainError::InvalidHost),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DomainError::InvalidPort);
            }
            match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(DomainError::InvalidPort),
                Ok(n) => Some(n),
            }
        }
    };
    Ok((host, port))
}

fn normalise_host(host: &str, policy: &DomainPolicy) -> Result<String, DomainError> {
    if host.is_empty() {
        return Err(DomainError::InvalidHost);
    }
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(DomainError::InvalidHost)?;
        let valid = !inner.is_empty()
            && inner.contains(':')
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !valid {
            return Err(DomainError::InvalidHost);
        }
        if !policy.allow_ip_literals {
            return Err(DomainError::IpLiteral);
        }
        return Ok(host.to_ascii_lowercase());
    }
    if !host.is_ascii() {
        return Err(DomainError::InvalidHost);
    }
    let host = host.to_ascii_lowercase();
    if host.len() > 253 {
        return Err(DomainError::InvalidHost);
    }
    for label in host.split('.') {
        let ok = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(DomainError::InvalidHost);
        }
    }
    // WHATWG URL host parsing reads a host whose last label is numeric (`2130706433`,
    // `0x7f.1`, `127.1`) as an IPv4 address: treat every such host as an IP literal.
    if ends_in_number(&host) {
        if !policy.allow_ip_literals {
            return Err(DomainError::IpLiteral);
        }
        if !is_dotted_decimal(&host) {
            return Err(DomainError::InvalidHost);
        }
        return Ok(host);
    }
    if (host == "localhost" || host.ends_with(".localhost")) && !policy.allow_localhost {
        return Err(DomainError::Localhost);
    }
    Ok(host)
}

/// The WHATWG URL "ends in a number" test (trailing dots were already refused).
fn ends_in_number(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or_default();
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    match last.strip_prefix("0x") {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => false,
    }
}

/// Four decimal parts in `0..=255` without leading zeros.
fn is_dotted_decimal(host: &str) -> bool {
    let mut parts = 0usize;
    for part in host.split('.') {
        parts = parts.saturating_add(1);
        let digits = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        let canonical = part == "0" || !part.starts_with('0');
        if !digits || !canonical || part.parse::<u8>().is_err() {
            return false;
        }
    }
    parts == 4
}

/// Why a domain is not an acceptable issuer. The message never repeats the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DomainError {
    /// Empty or only white space.
    Empty,
    /// White space, a control character, `\` or `%` inside the domain.
    InvalidCharacter,
    /// A scheme other than `https`.
    UnsupportedScheme,
    /// User info (`user@`, `user:pass@`) is present.
    UserInfo,
    /// A path other than `/`.
    Path,
    /// A query component.
    Query,
    /// A fragment component.
    Fragment,
    /// The host is empty or not a valid DNS name.
    InvalidHost,
    /// The port is not 1 to 5 digits in `1..=65535`.
    InvalidPort,
    /// The host is an IP literal and the policy does not allow them.
    IpLiteral,
    /// The host is a `localhost` name and the policy does not allow them.
    Localhost,
    /// The value is valid but not in canonical `https://host[:port]/` form.
    NotNormalised,
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DomainError::Empty => "domain is empty",
            DomainError::InvalidCharacter => "domain contains an invalid character",
            DomainError::UnsupportedScheme => "domain scheme must be https",
            DomainError::UserInfo => "domain must not contain credentials",
            DomainError::Path => "domain must not contain a path",
            DomainError::Query => "domain must not contain a query",
            DomainError::Fragment => "domain must not contain a fragment",
            DomainError::InvalidHost => "domain host is invalid",
            DomainError::InvalidPort => "domain port is invalid",
            DomainError::IpLiteral => "ip literal domains are not allowed",
            DomainError::Localhost => "localhost domains are not allowed",
            DomainError::NotNormalised => "issuer is not in normalised form",
        })
    }
}

impl core::error::Error for DomainError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use proptest::prelude::*;

    #[test]
    fn normalisation_table() {
        use DomainError as E;
        let cases: &[(&str, Result<&str, DomainError>)] = &[
            ("tenant.auth0.com", Ok("https://tenant.auth0.com/")),
            ("  tenant.auth0.com\n", Ok("https://tenant.auth0.com/")),
            ("https://tenant.auth0.com", Ok("https://tenant.auth0.com/")),
            ("https://tenant.auth0.com/", Ok("https://tenant.auth0.com/")),
            ("HTTPS://T.AUTH0.COM", Ok("https://t.auth0.com/")),
            ("HtTpS://T.Auth0.Com/", Ok("https://t.auth0.com/")),
            ("tenant.auth0.com:443", Ok("https://tenant.auth0.com/")),
            (
                "https://tenant.auth0.com:00443/",
                Ok("https://tenant.auth0.com/"),
            ),
            (
                "tenant.auth0.com:8443",
                Ok("https://tenant.auth0.com:8443/"),
            ),
            (
                "tenant.auth0.com:08443",
                Ok("https://tenant.auth0.com:8443/"),
            ),
            (
                "login.example-corp.co.uk",
                Ok("https://login.example-corp.co.uk/"),
            ),
            (
                "xn--bcher-kva.example",
                Ok("https://xn--bcher-kva.example/"),
            ),
            ("a", Ok("https://a/")),
            // T-83: errors.
            ("", Err(E::Empty)),
            ("   ", Err(E::Empty)),
            ("http://t", Err(E::UnsupportedScheme)),
            ("HTTP://t", Err(E::UnsupportedScheme)),
            ("ftp://t", Err(E::UnsupportedScheme)),
            ("://t", Err(E::UnsupportedScheme)),
            ("https://u:p@t", Err(E::UserInfo)),
            ("https://u@t", Err(E::UserInfo)),
            ("https://t/path", Err(E::Path)),
            ("https://t//", Err(E::Path)),
            ("https://t/.", Err(E::Path)),
            ("https://t?x", Err(E::Query)),
            ("https://t?", Err(E::Query)),
            ("https://t/?x", Err(E::Query)),
            ("https://t#f", Err(E::Fragment)),
            ("https://t/#", Err(E::Fragment)),
            ("https://", Err(E::InvalidHost)),
            ("https:///", Err(E::InvalidHost)),
            (":443", Err(E::InvalidHost)),
            ("t:", Err(E::InvalidPort)),
            ("t:0", Err(E::InvalidPort)),
            ("t:65536", Err(E::InvalidPort)),
            ("t:123456", Err(E::InvalidPort)),
            ("t:+443", Err(E::InvalidPort)),
            ("t:44 3", Err(E::InvalidCharacter)),
            ("t:1:2", Err(E::InvalidPort)),
            ("t:65535", Ok("https://t:65535/")),
            ("t e.com", Err(E::InvalidCharacter)),
            ("t\te.com", Err(E::InvalidCharacter)),
            ("t\u{0}e.com", Err(E::InvalidCharacter)),
            ("t\u{85}e.com", Err(E::InvalidCharacter)),
            ("https://t\\@evil.com", Err(E::InvalidCharacter)),
            ("t%2Ecom", Err(E::InvalidCharacter)),
            ("t..com", Err(E::InvalidHost)),
            (".t.com", Err(E::InvalidHost)),
            ("t.com.", Err(E::InvalidHost)),
            ("-t.com", Err(E::InvalidHost)),
            ("t-.com", Err(E::InvalidHost)),
            ("t_x.com", Err(E::InvalidHost)),
            ("bücher.example", Err(E::InvalidHost)),
            ("t\u{0435}nant.com", Err(E::InvalidHost)),
            // T-47: IP literals and localhost refused by default.
            ("10.0.0.1:8443", Err(E::IpLiteral)),
            ("https://127.0.0.1/", Err(E::IpLiteral)),
            ("2130706433", Err(E::IpLiteral)),
            ("0x7f.1", Err(E::IpLiteral)),
            ("foo.0x1F", Err(E::IpLiteral)),
            ("https://[::1]/", Err(E::IpLiteral)),
            ("[::1]:8443", Err(E::IpLiteral)),
            ("[::1", Err(E::InvalidHost)),
            ("[::1]x", Err(E::InvalidHost)),
            ("[zz]", Err(E::InvalidHost)),
            ("localhost", Err(E::Localhost)),
            ("LOCALHOST:3000", Err(E::Localhost)),
            ("api.localhost", Err(E::Localhost)),
            (
                "localhost.example.com",
                Ok("https://localhost.example.com/"),
            ),
            ("1a.example.com", Ok("https://1a.example.com/")),
            ("example.0x", Err(E::IpLiteral)),
        ];
        for (input, expected) in cases {
            let got = Issuer::from_domain(input);
            assert_eq!(
                got.as_ref().map(Issuer::as_str),
                expected.as_ref().copied(),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn permissive_policy_table() {
        let policy = DomainPolicy::default()
            .with_ip_literals(true)
            .with_localhost(true);
        let cases: &[(&str, Result<&str, DomainError>)] = &[
            ("127.0.0.1:8443", Ok("https://127.0.0.1:8443/")),
            ("https://10.0.0.1/", Ok("https://10.0.0.1/")),
            ("[::1]:8443", Ok("https://[::1]:8443/")),
            ("[FE80::1]", Ok("https://[fe80::1]/")),
            ("LocalHost:3000", Ok("https://localhost:3000/")),
            ("2130706433", Err(DomainError::InvalidHost)),
            ("127.1", Err(DomainError::InvalidHost)),
            ("127.000.0.1", Err(DomainError::InvalidHost)),
            ("256.0.0.1", Err(DomainError::InvalidHost)),
            ("[]", Err(DomainError::InvalidHost)),
        ];
        for (input, expected) in cases {
            let got = Issuer::from_domain_with(input, &policy);
            assert_eq!(
                got.as_ref().map(Issuer::as_str),
                expected.as_ref().copied(),
                "input {input:?}"
            );
        }
        let only_local = DomainPolicy::STRICT.with_localhost(true);
        assert_eq!(
            Issuer::from_domain_with("127.0.0.1", &only_local),
            Err(DomainError::IpLiteral)
        );
        assert!(Issuer::from_domain_with("localhost", &only_local).is_ok());
    }

    #[test]
    fn parse_exact_refuses_other_spellings() {
        assert!(Issuer::parse_exact("https://tenant.auth0.com/").is_ok());
        assert!(Issuer::parse_exact("https://tenant.auth0.com:8443/").is_ok());
        for iss in [
            "https://tenant.auth0.com",
            "https://Tenant.auth0.com/",
            "https://tenant.auth0.com:443/",
            "HTTPS://tenant.auth0.com/",
            "tenant.auth0.com",
            " https://tenant.auth0.com/",
            "https://tenant.auth0.com:08443/",
        ] {
            assert_eq!(
                Issuer::parse_exact(iss),
                Err(DomainError::NotNormalised),
                "{iss:?}"
            );
        }
        assert_eq!(
            Issuer::parse_exact("http://tenant.auth0.com/"),
            Err(DomainError::UnsupportedScheme)
        );
    }

    #[test]
    fn accessors() {
        let issuer = Issuer::from_domain("tenant.auth0.com").unwrap();
        assert_eq!(
            issuer.discovery_url(),
            "https://tenant.auth0.com/.well-known/openid-configuration"
        );
        assert_eq!(issuer.to_string(), "https://tenant.auth0.com/");
        assert_eq!(issuer, "https://tenant.auth0.com/");
        assert_eq!(
            serde_json::to_string(&issuer).unwrap(),
            "\"https://tenant.auth0.com/\""
        );
        assert_eq!(issuer.clone().into_string(), issuer.as_ref());
        assert_eq!(
            DomainError::UserInfo.to_string(),
            "domain must not contain credentials"
        );
    }

    proptest! {
        #[test]
        fn normalisation_is_idempotent(input in "[ a-zA-Z0-9.:/@?#\\[\\]-]{0,40}") {
            let policy = DomainPolicy::default().with_ip_literals(true).with_localhost(true);
            if let Ok(issuer) = Issuer::from_domain_with(&input, &policy) {
                let again = Issuer::from_domain_with(issuer.as_str(), &policy);
                prop_assert_eq!(again.as_ref(), Ok(&issuer));
                prop_assert_eq!(Issuer::parse_exact_with(issuer.as_str(), &policy), Ok(issuer.clone()));
                prop_assert!(issuer.as_str().starts_with("https://"));
                prop_assert!(issuer.as_str().ends_with('/'));
            }
        }

        #[test]
        fn valid_hosts_are_idempotent(host in "[a-zA-Z][a-zA-Z0-9-]{0,10}[a-zA-Z0-9](\\.[a-zA-Z]{1,8}){0,3}", port in proptest::option::of(1u16..)) {
            let input = match port { Some(p) => format!("{host}:{p}"), None => host.clone() };
            let issuer = Issuer::from_domain(&input);
            if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
                prop_assert_eq!(issuer, Err(DomainError::Localhost));
            } else {
                let issuer = issuer.unwrap();
                prop_assert_eq!(Issuer::from_domain(issuer.as_str()), Ok(issuer.clone()));
                prop_assert_eq!(issuer.as_str().contains(":443/"), false);
            }
        }

        #[test]
        fn never_panics(input in any::<String>()) {
            let _ = Issuer::from_domain(&input);
            let _ = Issuer::parse_exact(&input);
        }
    }
}
