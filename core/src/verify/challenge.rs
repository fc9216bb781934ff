//! `WWW-Authenticate` challenge values for a rejected request (SPEC section 4; RFC 6750
//! section 3, RFC 9449 section 7.1, RFC 9728 section 5.1).
//!
//! The wire shape follows the reference SDK's `buildChallenges` (`auth0-api-js`,
//! `src/dpop-api.ts`), so clients see the same headers:
//!
//! ```text
//! Bearer realm="api", error="invalid_token", error_description="..."
//! DPoP error="invalid_dpop_proof", error_description="...", algs="ES256"
//! ```
//!
//! - [`DpopMode::Allowed`] gives both values, Bearer first; [`DpopMode::Required`] only the
//!   DPoP one; [`DpopMode::Disabled`] only the Bearer one.
//! - `realm="api"` is on the Bearer challenge only; `algs` is the last DPoP parameter.
//! - `error` and `error_description` go on one challenge, chosen by the caller; an empty
//!   description is left out, as upstream does.
//!
//! Differences, all on the safe side (SECURITY H-32, upstream weakness U-02): upstream puts
//! the description in quotes unchanged. Here `"` and `\` are escaped as RFC 9110 section
//! 5.6.4 quoted-pairs, control characters (CR, LF, NUL, DEL, C1...) are removed, every
//! non-ASCII character becomes `?` (RFC 6750 section 3 allows only ASCII), and the
//! description is cut at [`MAX_DESCRIPTION_CHARS`]. Every value is thus a valid field value.
//! When given, `resource_metadata` (RFC 9728 section 5.1) is appended as the last parameter
//! of every challenge; upstream has no such parameter. If the challenge chosen for the error
//! is not sent in this mode, the error goes on the one that is, instead of being dropped.

use alloc::string::String;
use alloc::vec::Vec;

use crate::config::DpopMode;
use crate::extract::AuthScheme;
use crate::jose::Algorithm;

/// The realm of the Bearer challenge, as sent by the reference SDK.
pub const REALM: &str = "api";

/// The longest `error_description` sent, in characters (after removing control
/// characters, before escaping).
pub const MAX_DESCRIPTION_CHARS: usize = 256;

/// The DPoP algorithms advertised by default: ES256 only, as in the reference SDK.
pub const DEFAULT_DPOP_ALGS: &[Algorithm] = &[Algorithm::ES256];

/// The `error` parameter of a challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request` (RFC 6750 section 3.1).
    InvalidRequest,
    /// `invalid_token` (RFC 6750 section 3.1).
    InvalidToken,
    /// `invalid_dpop_proof` (RFC 9449 section 12.2).
    InvalidDpopProof,
    /// `insufficient_scope` (RFC 6750 section 3.1): a valid token that does not grant what
    /// the resource requires.
    InsufficientScope,
    /// `temporarily_unavailable` (RFC 6749 section 4.1.2.1): the server could not finish,
    /// the client may retry. For response bodies: its challenge carries no `error`.
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The code as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

/// Builds the `WWW-Authenticate` values for one rejected request.
///
/// # Examples
/// ```
/// use auth0_api::DpopMode;
/// use auth0_api::AuthScheme;
/// use auth0_api::verify::challenge::{ChallengeBuilder, ErrorCode};
/// let values = ChallengeBuilder::new(DpopMode::Allowed)
///     .error(ErrorCode::InvalidToken, "\"exp\" claim timestamp check failed", AuthScheme::Bearer)
///     .build();
/// assert_eq!(values, [
///     r#"Bearer realm="api", error="invalid_token", error_description="\"exp\" claim timestamp check failed""#,
///     r#"DPoP algs="ES256""#,
/// ]);
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct ChallengeBuilder<'a> {
    mode: DpopMode,
    error: Option<(ErrorCode, &'a str, AuthScheme)>,
    scope: Option<&'a str>,
    resource_metadata: Option<&'a str>,
    dpop_algs: &'a [Algorithm],
}

impl<'a> ChallengeBuilder<'a> {
    /// Challenges for `mode`, with no error, no `resource_metadata` and
    /// [`DEFAULT_DPOP_ALGS`].
    pub const fn new(mode: DpopMode) -> Self {
        Self {
            mode,
            error: None,
            scope: None,
            resource_metadata: None,
            dpop_algs: DEFAULT_DPOP_ALGS,
        }
    }

    /// Puts `error="code"` and `error_description="description"` on the challenge of
    /// scheme `on` (SPEC section 4: the DPoP one when the failure is DPoP-specific or the
    /// request used the DPoP scheme, the Bearer one otherwise).
    pub const fn error(mut self, code: ErrorCode, description: &'a str, on: AuthScheme) -> Self {
        self.error = Some((code, description, on));
        self
    }

    /// Adds `scope="..."` (RFC 6750 section 3: the scopes the resource requires, space
    /// separated) after the error, on the challenge that carries it. Left out without an
    /// error or when empty.
    pub const fn scope(mut self, scope: &'a str) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Adds `resource_metadata="url"` (RFC 9728 section 5.1) to every challenge.
    pub const fn resource_metadata(mut self, url: &'a str) -> Self {
        self.resource_metadata = Some(url);
        self
    }

    /// The algorithms listed in the DPoP challenge's `algs` (left out when empty).
    pub const fn dpop_algs(mut self, algs: &'a [Algorithm]) -> Self {
        self.dpop_algs = algs;
        self
    }

    /// The header values, one per challenge, Bearer before DPoP.
    pub fn build(&self) -> Vec<String> {
        let (bearer, dpop) = match self.mode {
            DpopMode::Allowed => (true, true),
            DpopMode::Required => (false, true),
            DpopMode::Disabled => (true, false),
        };
        let error_on = self.error.map(|(_, _, on)| match on {
            AuthScheme::DPoP if dpop => AuthScheme::DPoP,
            AuthScheme::Bearer if bearer => AuthScheme::Bearer,
            // The chosen challenge is not sent in this mode: use the one that is.
            _ if dpop => AuthScheme::DPoP,
            _ => AuthScheme::Bearer,
        });

        let mut values = Vec::with_capacity(2);
        if bearer {
            let mut params = Vec::with_capacity(4);
            params.push(param("realm", REALM, None));
            if error_on == Some(AuthScheme::Bearer) {
                self.push_error(&mut params);
            }
            self.push_resource_metadata(&mut params);
            values.push(challenge("Bearer", &params));
        }
        if dpop {
            let mut params = Vec::with_capacity(4);
            if error_on == Some(AuthScheme::DPoP) {
                self.push_error(&mut params);
            }
            if !self.dpop_algs.is_empty() {
                let algs: Vec<&str> = self.dpop_algs.iter().map(|a| a.name()).collect();
                params.push(param("algs", &algs.join(" "), None));
            }
            self.push_resource_metadata(&mut params);
            values.push(challenge("DPoP", &params));
        }
        values
    }

    fn push_error(&self, params: &mut Vec<String>) {
        if let Some((code, description, _)) = self.error {
            params.push(param("error", code.as_str(), None));
            // An empty description (after clean-up) is left out, as upstream does.
            let description = quoted_content(description, MAX_DESCRIPTION_CHARS);
            if !description.is_empty() {
                params.push(alloc::format!("error_description=\"{description}\""));
            }
            if let Some(scope) = self.scope.filter(|s| !s.is_empty()) {
                params.push(param("scope", scope, None));
            }
        }
    }

    fn push_resource_metadata(&self, params: &mut Vec<String>) {
        if let Some(url) = self.resource_metadata {
            params.push(param("resource_metadata", url, None));
        }
    }
}

/// `scheme` alone, or `scheme` SP the parameters joined by `", "` (RFC 9110 section 11.6.1).
fn challenge(scheme: &str, params: &[String]) -> String {
    if params.is_empty() {
        String::from(scheme)
    } else {
        alloc::format!("{scheme} {}", params.join(", "))
    }
}

/// `name="value"` with `value` made a safe quoted-string.
fn param(name: &str, value: &str, max_chars: Option<usize>) -> String {
    let content = quoted_content(value, max_chars.unwrap_or(usize::MAX));
    alloc::format!("{name}=\"{content}\"")
}

/// `value` as the content of an RFC 9110 section 5.6.4 quoted-string: control characters
/// removed, non-ASCII replaced by `?`, `"` and `\` escaped, at most `max_chars` characters
/// kept (counted before escaping, so an escape is never split).
fn quoted_content(value: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for c in value.chars().filter(|c| !c.is_control()).take(max_chars) {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use proptest::prelude::*;

    /// A strict parser for one challenge: `scheme [ 1*SP auth-param *( OWS "," OWS
    /// auth-param ) ]` with `auth-param = token "=" ( token / quoted-string )`. Returns the
    /// scheme and the unescaped parameters, or `None` when the value is not well formed.
    fn parse(value: &str) -> Option<(String, Vec<(String, String)>)> {
        // A field value holds visible ASCII and spaces only (no CTL, no obs-text here).
        if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return None;
        }
        let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        let token = |s: &str| -> Option<(String, usize)> {
            let n = s.find(|c: char| !is_tchar(c)).unwrap_or(s.len());
            (n > 0).then(|| (s[..n].to_string(), n))
        };
        let (scheme, n) = token(value)?;
        let mut rest = &value[n..];
        let mut params = vec![];
        if rest.is_empty() {
            return Some((scheme, params));
        }
        rest = rest.strip_prefix(' ')?.trim_start_matches(' ');
        loop {
            let (name, n) = token(rest)?;
            rest = rest[n..].strip_prefix('=')?;
            let mut val = String::new();
            if let Some(quoted) = rest.strip_prefix('"') {
                let mut chars = quoted.char_indices();
                let end = loop {
                    match chars.next()? {
                        (_, '\\') => val.push(chars.next()?.1),
                        (i, '"') => break i,
                        (_, c) => val.push(c),
                    }
                };
                rest = &quoted[end + 1..];
            } else {
                let (t, n) = token(rest)?;
                val = t;
                rest = &rest[n..];
            }
            params.push((name, val));
            let trimmed = rest.trim_start_matches([' ', '\t']);
            if trimmed.is_empty() {
                return Some((scheme, params));
            }
            rest = trimmed.strip_prefix(',')?.trim_start_matches([' ', '\t']);
        }
    }

    fn get<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn modes_and_targets_match_the_reference_shape() {
        use AuthScheme::{Bearer, DPoP};
        use DpopMode::{Allowed, Disabled, Required};
        let b = |mode| ChallengeBuilder::new(mode);
        let cases: Vec<(&str, ChallengeBuilder<'_>, Vec<&str>)> = vec![
            (
                "allowed, no error",
                b(Allowed),
                vec![r#"Bearer realm="api""#, r#"DPoP algs="ES256""#],
            ),
            (
                "required, no error",
                b(Required),
                vec![r#"DPoP algs="ES256""#],
            ),
            (
                "disabled, no error",
                b(Disabled),
                vec![r#"Bearer realm="api""#],
            ),
            (
                "allowed, bearer error",
                b(Allowed).error(ErrorCode::InvalidToken, "jwt expired", Bearer),
                vec![
                    r#"Bearer realm="api", error="invalid_token", error_description="jwt expired""#,
                    r#"DPoP algs="ES256""#,
                ],
            ),
            (
                "allowed, dpop error",
                b(Allowed).error(
                    ErrorCode::InvalidDpopProof,
                    "DPoP proof \"ath\" mismatch",
                    DPoP,
                ),
                vec![
                    r#"Bearer realm="api""#,
                    r#"DPoP error="invalid_dpop_proof", error_description="DPoP proof \"ath\" mismatch", algs="ES256""#,
                ],
            ),
            (
                "required, dpop error",
                b(Required).error(ErrorCode::InvalidRequest, "HTTP method is required", DPoP),
                vec![
                    r#"DPoP error="invalid_request", error_description="HTTP method is required", algs="ES256""#,
                ],
            ),
            (
                "disabled, bearer error",
                b(Disabled).error(ErrorCode::InvalidRequest, "x", Bearer),
                vec![r#"Bearer realm="api", error="invalid_request", error_description="x""#],
            ),
            (
                "empty description left out",
                b(Allowed).error(ErrorCode::InvalidToken, "", DPoP),
                vec![
                    r#"Bearer realm="api""#,
                    r#"DPoP error="invalid_token", algs="ES256""#,
                ],
            ),
            (
                "only control characters left out",
                b(Disabled).error(ErrorCode::InvalidToken, "\r\n", Bearer),
                vec![r#"Bearer realm="api", error="invalid_token""#],
            ),
            (
                "error moved when its challenge is not sent",
                b(Disabled).error(ErrorCode::InvalidToken, "x", DPoP),
                vec![r#"Bearer realm="api", error="invalid_token", error_description="x""#],
            ),
            (
                "resource metadata on each",
                b(Allowed)
                    .error(ErrorCode::InvalidToken, "x", Bearer)
                    .resource_metadata(
                        "https://api.example.com/.well-known/oauth-protected-resource",
                    ),
                vec![
                    r#"Bearer realm="api", error="invalid_token", error_description="x", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource""#,
                    r#"DPoP algs="ES256", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource""#,
                ],
            ),
            ("no algs", b(Required).dpop_algs(&[]), vec!["DPoP"]),
            (
                "several algs",
                b(Required).dpop_algs(&[Algorithm::ES256, Algorithm::PS256]),
                vec![r#"DPoP algs="ES256 PS256""#],
            ),
        ];
        for (name, builder, expected) in cases {
            let values = builder.build();
            assert_eq!(values, expected, "case {name}");
            for value in &values {
                assert!(
                    parse(value).is_some(),
                    "case {name}: {value} does not parse"
                );
            }
        }
    }

    #[test]
    fn hostile_descriptions_are_made_safe() {
        // T-78.
        let long = "x".repeat(10 * 1024);
        let cases: &[(&str, &str)] = &[
            ("a \"quoted\" word", "a \"quoted\" word"),
            ("back\\slash", "back\\slash"),
            ("line\r\nInjected: header", "lineInjected: header"),
            ("nul\0byte", "nulbyte"),
            ("del\u{7f} and tab\t", "del and tab"),
            ("caf\u{e9} \u{1F600}", "caf? ?"),
            ("c1\u{85}", "c1"),
            ("\\\"", "\\\""),
        ];
        for (input, expected) in cases {
            let values = ChallengeBuilder::new(DpopMode::Required)
                .error(ErrorCode::InvalidDpopProof, input, AuthScheme::DPoP)
                .build();
            let (scheme, params) = parse(&values[0]).unwrap_or_else(|| panic!("{input:?}"));
            assert_eq!(scheme, "DPoP");
            assert_eq!(
                get(&params, "error_description"),
                Some(*expected),
                "{input:?}"
            );
            assert_eq!(get(&params, "algs"), Some("ES256"), "{input:?}");
        }
        let values = ChallengeBuilder::new(DpopMode::Allowed)
            .error(ErrorCode::InvalidToken, &long, AuthScheme::Bearer)
            .build();
        let (_, params) = parse(&values[0]).unwrap();
        assert_eq!(
            get(&params, "error_description").map(str::len),
            Some(MAX_DESCRIPTION_CHARS)
        );
        // The cap never splits an escape: 256 quotes become 512 escaped characters.
        let quotes = "\"".repeat(1000);
        let values = ChallengeBuilder::new(DpopMode::Disabled)
            .error(ErrorCode::InvalidToken, &quotes, AuthScheme::Bearer)
            .build();
        let (_, params) = parse(&values[0]).unwrap();
        assert_eq!(
            get(&params, "error_description"),
            Some("\"".repeat(256).as_str())
        );
    }

    #[test]
    fn parser_rejects_bad_values() {
        for bad in [
            "",
            "Bearer realm=\"api",
            "Bearer realm=\"a\"b\"",
            "Bearer realm=\"a\r\n\"",
            "Bearer realm=\"caf\u{e9}\"",
            "Bearer realm=",
            "Bearer ,",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(ErrorCode::InvalidDpopProof.as_str(), "invalid_dpop_proof");
    }

    fn expected_description(input: &str) -> String {
        input
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_DESCRIPTION_CHARS)
            .map(|c| if c.is_ascii() { c } else { '?' })
            .collect()
    }

    proptest! {
        #[test]
        fn any_description_parses_back(
            description in prop_oneof![any::<String>(), "[\"\\\\\r\n\t a-z\u{e9}\u{0}]{0,600}"],
            mode in prop_oneof![Just(DpopMode::Allowed), Just(DpopMode::Required), Just(DpopMode::Disabled)],
            on_dpop in any::<bool>(),
            metadata in proptest::option::of(any::<String>()),
        ) {
            let on = if on_dpop { AuthScheme::DPoP } else { AuthScheme::Bearer };
            let mut builder = ChallengeBuilder::new(mode).error(ErrorCode::InvalidToken, &description, on);
            if let Some(url) = &metadata {
                builder = builder.resource_metadata(url);
            }
            let values = builder.build();
            prop_assert_eq!(values.len(), if mode == DpopMode::Allowed { 2 } else { 1 });
            let expected = expected_description(&description);
            let mut seen_error = 0;
            for value in &values {
                prop_assert!(!value.bytes().any(|b| b.is_ascii_control()), "control byte in {:?}", value);
                let parsed = parse(value);
                prop_assert!(parsed.is_some(), "does not parse: {:?}", value);
                let (scheme, params) = parsed.unwrap();
                if scheme == "DPoP" {
                    prop_assert_eq!(get(&params, "algs"), Some("ES256"));
                } else {
                    prop_assert_eq!(get(&params, "realm"), Some("api"));
                }
                if get(&params, "error").is_some() {
                    seen_error += 1;
                    let shown = get(&params, "error_description").unwrap_or("");
                    prop_assert_eq!(shown, expected.as_str());
                }
            }
            prop_assert_eq!(seen_error, 1);
        }
    }
}
