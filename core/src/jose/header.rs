//! The JWS protected header (RFC 7515 section 4.1).

use alloc::string::String;

use serde_json::{Map, Value};

use super::json::{NotAString, ObjectIndex};
use super::{Algorithm, JoseError, json};

/// The members of a protected header this crate acts on.
///
/// `jku`, `x5u`, `x5c` and `x5t` are never used to find keys (RFC 8725 section 3.10): keys
/// come only from the issuer's JWK Set, or for a DPoP proof from its embedded `jwk`.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// The signature algorithm. `none` and `HS*` cannot be represented.
    pub alg: Algorithm,
    /// The key id, compared exactly (never used as a path, query or URL).
    pub kid: Option<String>,
    /// The media type of the whole JWS (`at+jwt`, `dpop+jwt`, ...), as given.
    pub typ: Option<String>,
    /// An embedded public key, kept raw: only DPoP proofs may use it (RFC 9449 section 4.2).
    pub jwk: Option<Map<String, Value>>,
}

impl Header {
    /// Reads a header from its JSON text (strict JSON, nesting bounded by `max_depth`) with
    /// the rules of [`Header::from_members`]; only the members acted on are parsed.
    ///
    /// # Errors
    /// [`JoseError::HeaderJson`] when the text is not a strict JSON object, then as for
    /// [`Header::from_members`].
    pub fn from_json(text: &str, max_depth: usize) -> Result<Self, JoseError> {
        let index = ObjectIndex::parse(text, max_depth).map_err(JoseError::HeaderJson)?;
        let alg = match index.string(text, "alg") {
            Ok(Some(name)) => Algorithm::from_name(name)?,
            _ => return Err(JoseError::MissingAlgorithm),
        };
        if index.raw(text, "crit").is_some() {
            return Err(JoseError::UnsupportedCritical);
        }
        if !matches!(index.raw(text, "b64"), None | Some("true")) {
            return Err(JoseError::UnsupportedCritical);
        }
        let string = |name| {
            index
                .string(text, name)
                .map(|s| s.map(String::from))
                .map_err(|NotAString| JoseError::InvalidHeaderMember(name))
        };
        let kid = string("kid")?;
        let typ = string("typ")?;
        let jwk = match index.raw(text, "jwk") {
            None => None,
            Some(raw) if raw.starts_with('{') => {
                // Already checked strictly as part of the header, one level down.
                let members = json::parse_object(raw.as_bytes(), max_depth.saturating_sub(1))
                    .map_err(JoseError::HeaderJson)?;
                Some(members)
            }
            Some(_) => return Err(JoseError::InvalidHeaderMember("jwk")),
        };
        Ok(Self { alg, kid, typ, jwk })
    }

    /// Reads a header from its JSON members.
    ///
    /// # Errors
    /// - [`JoseError::MissingAlgorithm`] when `alg` is absent or not a string;
    /// - [`JoseError::UnsecuredAlgorithm`], [`JoseError::SymmetricAlgorithm`] or
    ///   [`JoseError::UnsupportedAlgorithm`] for an `alg` this crate never verifies;
    /// - [`JoseError::UnsupportedCritical`] when `crit` is present: this crate understands no
    ///   extension, and RFC 7515 section 4.1.11 says a recipient MUST reject a JWS whose `crit`
    ///   names one it does not understand; and when `b64` is anything but `true` (RFC 7797
    ///   unencoded payloads are not supported);
    /// - [`JoseError::InvalidHeaderMember`] when `kid`, `typ` or `jwk` has the wrong type.
    pub fn from_members(members: &Map<String, Value>) -> Result<Self, JoseError> {
        let alg = match members.get("alg") {
            Some(Value::String(name)) => Algorithm::from_name(name)?,
            _ => return Err(JoseError::MissingAlgorithm),
        };
        if members.contains_key("crit") {
            return Err(JoseError::UnsupportedCritical);
        }
        // RFC 7797 section 3: `b64: true` means the ordinary encoding; anything else changes
        // what is signed and is refused.
        match members.get("b64") {
            None | Some(Value::Bool(true)) => {}
            Some(_) => return Err(JoseError::UnsupportedCritical),
        }
        let string = |name| json::optional_string(members, name, JoseError::InvalidHeaderMember);
        let kid = string("kid")?;
        let typ = string("typ")?;
        let jwk = match members.get("jwk") {
            None => None,
            Some(Value::Object(jwk)) => Some(jwk.clone()),
            Some(_) => return Err(JoseError::InvalidHeaderMember("jwk")),
        };
        Ok(Self { alg, kid, typ, jwk })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::json::{DEFAULT_MAX_DEPTH, parse_object};

    fn header(json: &str) -> Result<Header, JoseError> {
        let from_members =
            Header::from_members(&parse_object(json.as_bytes(), DEFAULT_MAX_DEPTH).unwrap());
        // Both readers apply the same rules.
        assert_eq!(
            Header::from_json(json, DEFAULT_MAX_DEPTH),
            from_members,
            "{json}"
        );
        from_members
    }

    #[test]
    fn table() {
        use JoseError::*;
        let cases: &[(&str, Result<Algorithm, JoseError>)] = &[
            (r#"{"alg":"RS256"}"#, Ok(Algorithm::RS256)),
            (
                r#"{"alg":"ES256","kid":"k","typ":"at+jwt"}"#,
                Ok(Algorithm::ES256),
            ),
            (
                r#"{"alg":"RS256","jku":"https://evil/","x5u":"https://evil/","x5c":["AA"]}"#,
                Ok(Algorithm::RS256),
            ),
            (r#"{"alg":"RS256","b64":true}"#, Ok(Algorithm::RS256)),
            (r#"{}"#, Err(MissingAlgorithm)),
            (r#"{"alg":null}"#, Err(MissingAlgorithm)),
            (r#"{"alg":["RS256"]}"#, Err(MissingAlgorithm)),
            (r#"{"alg":"none"}"#, Err(UnsecuredAlgorithm)),
            (r#"{"alg":"HS256"}"#, Err(SymmetricAlgorithm)),
            (r#"{"alg":"RS256\u0000"}"#, Err(UnsupportedAlgorithm)),
            (
                r#"{"alg":"RS256","crit":["exp"],"exp":1}"#,
                Err(UnsupportedCritical),
            ),
            (r#"{"alg":"RS256","crit":[]}"#, Err(UnsupportedCritical)),
            (r#"{"alg":"RS256","crit":"b64"}"#, Err(UnsupportedCritical)),
            (
                r#"{"alg":"RS256","crit":["alg"]}"#,
                Err(UnsupportedCritical),
            ),
            (
                r#"{"alg":"RS256","b64":false,"crit":["b64"]}"#,
                Err(UnsupportedCritical),
            ),
            (r#"{"alg":"RS256","b64":false}"#, Err(UnsupportedCritical)),
            (
                r#"{"alg":"RS256","kid":7}"#,
                Err(InvalidHeaderMember("kid")),
            ),
            (
                r#"{"alg":"RS256","typ":{}}"#,
                Err(InvalidHeaderMember("typ")),
            ),
            (
                r#"{"alg":"ES256","jwk":"x"}"#,
                Err(InvalidHeaderMember("jwk")),
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(&header(json).map(|h| h.alg), expected, "{json}");
        }
    }

    #[test]
    fn hostile_kid_is_kept_verbatim() {
        let h = header(r#"{"alg":"RS256","kid":"../../etc/passwd' OR 1=1 --"}"#).unwrap();
        assert_eq!(h.kid.as_deref(), Some("../../etc/passwd' OR 1=1 --"));
    }
}
