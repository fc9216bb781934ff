//! `WWW-Authenticate` challenges (RFC 6750 section 3, RFC 9449 section 7.1, RFC 9728
//! section 5.1) with correct quoted-string escaping.

use alloc::string::String;
use alloc::vec::Vec;

use crate::config::DpopMode;

/// The longest `error_description` sent, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 256;

/// The challenges for a rejection under `mode`.
///
/// `error` is the `(code, description)` pair, absent when the request carried no token or a
/// wrong scheme (RFC 6750 section 3.1); it goes on the `DPoP` challenge when `on_dpop`, else
/// on the `Bearer` one. `Allowed` gives both challenges, `Required` only `DPoP`, `Disabled`
/// only `Bearer`.
pub fn www_authenticate(
    mode: DpopMode,
    error: Option<(&str, &str)>,
    on_dpop: bool,
    resource_metadata: Option<&str>,
) -> Vec<String> {
    let mut out = Vec::with_capacity(2);
    let bearer_error = error.filter(|_| !on_dpop || mode == DpopMode::Disabled);
    let dpop_error = error.filter(|_| on_dpop || mode == DpopMode::Required);
    if mode != DpopMode::Required {
        let mut c = String::from("Bearer realm=\"api\"");
        push_error(&mut c, bearer_error);
        push_param(&mut c, "resource_metadata", resource_metadata);
        out.push(c);
    }
    if mode != DpopMode::Disabled {
        let mut c = String::from("DPoP");
        let mut first = true;
        if let Some((code, description)) = dpop_error {
            c.push_str(" error=");
            quote_into(&mut c, code);
            c.push_str(", error_description=");
            quote_into(&mut c, description);
            first = false;
        }
        c.push_str(if first {
            " algs=\"ES256\""
        } else {
            ", algs=\"ES256\""
        });
        push_param(&mut c, "resource_metadata", resource_metadata);
        out.push(c);
    }
    out
}

fn push_error(c: &mut String, error: Option<(&str, &str)>) {
    if let Some((code, description)) = error {
        push_param(c, "error", Some(code));
        push_param(c, "error_description", Some(description));
    }
}

fn push_param(c: &mut String, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        c.push_str(", ");
        c.push_str(name);
        c.push('=');
        quote_into(c, value);
    }
}

/// Appends `value` as an RFC 9110 section 5.6.4 quoted-string: `"` and `\` escaped, control
/// characters and non-ASCII replaced by `?` (RFC 6750 section 3 limits the parameters to
/// printable ASCII), at most [`MAX_DESCRIPTION_LEN`] characters.
pub fn quote_into(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars().take(MAX_DESCRIPTION_LEN) {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn modes_and_placement() {
        let e = Some(("invalid_token", "expired"));
        assert_eq!(
            www_authenticate(DpopMode::Allowed, e, false, None),
            vec![
                String::from(
                    r#"Bearer realm="api", error="invalid_token", error_description="expired""#
                ),
                String::from(r#"DPoP algs="ES256""#),
            ]
        );
        assert_eq!(
            www_authenticate(DpopMode::Allowed, e, true, None),
            vec![
                String::from(r#"Bearer realm="api""#),
                String::from(
                    r#"DPoP error="invalid_token", error_description="expired", algs="ES256""#
                ),
            ]
        );
        assert_eq!(
            www_authenticate(DpopMode::Required, e, false, None),
            vec![String::from(
                r#"DPoP error="invalid_token", error_description="expired", algs="ES256""#
            )]
        );
        assert_eq!(
            www_authenticate(
                DpopMode::Disabled,
                None,
                false,
                Some("https://api/.well-known/oauth-protected-resource")
            ),
            vec![String::from(
                r#"Bearer realm="api", resource_metadata="https://api/.well-known/oauth-protected-resource""#
            )]
        );
    }

    #[test]
    fn quoting() {
        let mut s = String::new();
        quote_into(&mut s, "a\"b\\c\r\nd\u{7f}é");
        assert_eq!(s, r#""a\"b\\c??d??""#);
    }
}
