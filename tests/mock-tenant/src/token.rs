//! What a minted access token looks like: [`TokenSpec`].

use std::time::Duration;

use serde_json::{Map, Value};

use crate::Alg;

/// Describes an access token for [`MockTenant::mint_access_token`](crate::MockTenant::mint_access_token).
///
/// Auth0-style claims are set from the fields (`iss` is always the tenant issuer, `sub`,
/// `aud`, `iat`, `exp`, `azp`, `scope`, `cnf.jkt`); [`extra`](Self::extra) claims are added
/// last and replace any of them, so a test can forge an odd `iss` or `aud`.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenSpec {
    /// Signing algorithm; the tenant's current key for it signs.
    pub alg: Alg,
    /// `aud`: omitted when empty, a string for one value, an array otherwise.
    pub audience: Vec<String>,
    /// `sub`, omitted when `None`.
    pub subject: Option<String>,
    /// `scope` (space separated), omitted when `None`.
    pub scope: Option<String>,
    /// `azp`, omitted when `None`.
    pub azp: Option<String>,
    /// `exp - iat` when `exp` is not given.
    pub lifetime: Duration,
    /// `iat` in seconds since the Unix epoch; the current time when `None`.
    pub iat: Option<u64>,
    /// `exp` in seconds since the Unix epoch; `iat + lifetime` when `None`.
    pub exp: Option<u64>,
    /// `cnf.jkt`, the RFC 7638 thumbprint of a DPoP key (RFC 9449 section 6.1).
    pub jkt: Option<String>,
    /// Header `kid` replacing the real one (to simulate an unknown key).
    pub kid: Option<String>,
    /// Leaves `kid` out of the header entirely.
    pub omit_kid: bool,
    /// Header `typ`; `None` leaves it out. Defaults to `"JWT"` as Auth0 does.
    pub typ: Option<String>,
    /// Claims added last, replacing any standard claim of the same name.
    pub extra: Map<String, Value>,
}

impl Default for TokenSpec {
    fn default() -> Self {
        TokenSpec {
            alg: Alg::Rs256,
            audience: Vec::new(),
            subject: Some("auth0|mock-user".to_owned()),
            scope: None,
            azp: None,
            lifetime: Duration::from_secs(3600),
            iat: None,
            exp: None,
            jkt: None,
            kid: None,
            omit_kid: false,
            typ: Some("JWT".to_owned()),
            extra: Map::new(),
        }
    }
}

impl TokenSpec {
    /// An RS256 token for `audience`, subject `auth0|mock-user`, valid for one hour.
    #[must_use]
    pub fn new(audience: impl Into<String>) -> Self {
        TokenSpec {
            audience: vec![audience.into()],
            ..TokenSpec::default()
        }
    }

    /// Sets the signing algorithm.
    #[must_use]
    pub fn alg(mut self, alg: Alg) -> Self {
        self.alg = alg;
        self
    }

    /// Sets several audiences (serialised as an array when more than one).
    #[must_use]
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audience = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `sub`.
    #[must_use]
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets `scope`.
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Sets `azp`.
    #[must_use]
    pub fn azp(mut self, azp: impl Into<String>) -> Self {
        self.azp = Some(azp.into());
        self
    }

    /// Sets the lifetime used when `exp` is not given.
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Sets `iat` (seconds since the Unix epoch).
    #[must_use]
    pub fn iat(mut self, iat: u64) -> Self {
        self.iat = Some(iat);
        self
    }

    /// Sets `exp` (seconds since the Unix epoch).
    #[must_use]
    pub fn exp(mut self, exp: u64) -> Self {
        self.exp = Some(exp);
        self
    }

    /// Binds the token to a DPoP key thumbprint (`cnf.jkt`).
    #[must_use]
    pub fn jkt(mut self, jkt: impl Into<String>) -> Self {
        self.jkt = Some(jkt.into());
        self
    }

    /// Puts `kid` in the header instead of the signing key's id.
    #[must_use]
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Leaves `kid` out of the header.
    #[must_use]
    pub fn without_kid(mut self) -> Self {
        self.omit_kid = true;
        self
    }

    /// Sets the header `typ`.
    #[must_use]
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Adds (or replaces) one claim.
    #[must_use]
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// Builds the protected header for a key with id `kid`.
    pub(crate) fn header(&self, kid: &str) -> Map<String, Value> {
        let mut header = Map::new();
        header.insert("alg".into(), self.alg.name().into());
        if let Some(typ) = &self.typ {
            header.insert("typ".into(), typ.as_str().into());
        }
        if !self.omit_kid {
            let kid = self.kid.as_deref().unwrap_or(kid);
            header.insert("kid".into(), kid.into());
        }
        header
    }

    /// Builds the claims set for `issuer` at time `now`.
    pub(crate) fn claims(&self, issuer: &str, now: u64) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("iss".into(), issuer.into());
        if let Some(sub) = &self.subject {
            claims.insert("sub".into(), sub.as_str().into());
        }
        match self.audience.as_slice() {
            [] => {}
            [one] => {
                claims.insert("aud".into(), one.as_str().into());
            }
            many => {
                claims.insert("aud".into(), many.into());
            }
        }
        let iat = self.iat.unwrap_or(now);
        let exp = self
            .exp
            .unwrap_or_else(|| iat.saturating_add(self.lifetime.as_secs()));
        claims.insert("iat".into(), iat.into());
        claims.insert("exp".into(), exp.into());
        if let Some(azp) = &self.azp {
            claims.insert("azp".into(), azp.as_str().into());
        }
        if let Some(scope) = &self.scope {
            claims.insert("scope".into(), scope.as_str().into());
        }
        if let Some(jkt) = &self.jkt {
            claims.insert("cnf".into(), serde_json::json!({ "jkt": jkt }));
        }
        for (name, value) in &self.extra {
            claims.insert(name.clone(), value.clone());
        }
        claims
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_follow_the_spec() {
        let cases: Vec<(TokenSpec, Value)> = vec![
            (
                TokenSpec::new("api"),
                json!({"iss": "https://t/", "sub": "auth0|mock-user", "aud": "api", "iat": 100, "exp": 3700}),
            ),
            (
                TokenSpec::new("a")
                    .audiences(["a", "b"])
                    .scope("read")
                    .azp("c")
                    .jkt("t"),
                json!({"iss": "https://t/", "sub": "auth0|mock-user", "aud": ["a", "b"], "iat": 100,
                       "exp": 3700, "azp": "c", "scope": "read", "cnf": {"jkt": "t"}}),
            ),
            (
                TokenSpec::default()
                    .iat(5)
                    .lifetime(Duration::from_secs(10)),
                json!({"iss": "https://t/", "sub": "auth0|mock-user", "iat": 5, "exp": 15}),
            ),
            (
                TokenSpec::new("x")
                    .exp(1)
                    .claim("iss", "evil")
                    .claim("org_id", "org_1"),
                json!({"iss": "evil", "sub": "auth0|mock-user", "aud": "x", "iat": 100, "exp": 1,
                       "org_id": "org_1"}),
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(Value::Object(spec.claims("https://t/", 100)), want);
        }
    }

    #[test]
    fn header_kid_choices() {
        let spec = TokenSpec::new("a").alg(Alg::Es256);
        assert_eq!(
            Value::Object(spec.header("k1")),
            json!({"alg": "ES256", "typ": "JWT", "kid": "k1"})
        );
        let spec = TokenSpec::new("a").kid("unknown").typ("at+jwt");
        assert_eq!(
            Value::Object(spec.header("k1")),
            json!({"alg": "RS256", "typ": "at+jwt", "kid": "unknown"})
        );
        let mut spec = TokenSpec::new("a").without_kid();
        spec.typ = None;
        assert_eq!(Value::Object(spec.header("k1")), json!({"alg": "RS256"}));
    }
}
