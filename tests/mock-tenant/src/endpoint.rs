//! `POST /oauth/token`: client authentication (RFC 6749 section 2.3, RFC 7523) and the three
//! exchanges (RFC 8693 custom and on-behalf-of, Auth0 Token Vault).

use std::collections::HashMap;

use base64::Engine as _;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};
use sha2::Digest as _;

use crate::server::{Answer, json};
use crate::{
    ACCESS_TOKEN_TYPE, Alg, FEDERATED_CONNECTION_GRANT, FEDERATED_CONNECTION_TOKEN_TYPE,
    JWT_BEARER_ASSERTION_TYPE, REFRESH_TOKEN_TYPE, Shared, TOKEN_EXCHANGE_GRANT, TokenSpec, jose,
    unix_now,
};

/// An OAuth error response (RFC 6749 section 5.2).
#[derive(Debug, PartialEq, Eq)]
struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            code,
            description: description.into(),
        }
    }
}

fn invalid_request(description: impl Into<String>) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn invalid_client(description: impl Into<String>) -> OAuthError {
    OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

fn invalid_grant(description: impl Into<String>) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// Handles a token request.
pub(crate) fn token(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Answer {
    match token_response(shared, headers, body) {
        Ok(value) => json(StatusCode::OK, &value),
        Err(err) => {
            let mut answer = json(
                err.status,
                &json!({ "error": err.code, "error_description": err.description }),
            );
            if err.status == StatusCode::UNAUTHORIZED {
                // RFC 6749 section 5.2: 401 carries a challenge for the scheme in use.
                answer.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    hyper::header::HeaderValue::from_static("Basic realm=\"mock-tenant\""),
                );
            }
            answer
        }
    }
}

/// The form parameters; a repeated parameter is an error (RFC 6749 section 3.2).
fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut params = HashMap::new();
    for (name, value) in form_urlencoded::parse(body) {
        if params
            .insert(name.clone().into_owned(), value.into_owned())
            .is_some()
        {
            return Err(invalid_request(format!("parameter {name} repeated")));
        }
    }
    Ok(params)
}

fn token_response(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Value, OAuthError> {
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(invalid_request(
            "content type must be application/x-www-form-urlencoded",
        ));
    }
    let params = parse_form(body)?;
    let client_id = authenticate(shared, headers, &params)?;
    let request = Params(&params);
    match request.get("grant_type") {
        None => Err(invalid_request("missing grant_type")),
        Some(TOKEN_EXCHANGE_GRANT) => {
            let on_behalf_of = request.get("subject_token_type") == Some(ACCESS_TOKEN_TYPE)
                && request.get("requested_token_type") == Some(ACCESS_TOKEN_TYPE);
            if on_behalf_of {
                on_behalf_of_exchange(shared, &client_id, &request)
            } else {
                custom_exchange(shared, &client_id, &request)
            }
        }
        Some(FEDERATED_CONNECTION_GRANT) => connection_exchange(shared, &request),
        Some(_) => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant type not supported",
        )),
    }
}

/// Form parameters; empty values count as absent.
struct Params<'a>(&'a HashMap<String, String>);

impl Params<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| invalid_request(format!("missing {name}")))
    }
}

/// Constant-time comparison so the mock does not model a timing leak.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Decodes `%XX` and `+` as in `application/x-www-form-urlencoded` (RFC 6749 section 2.3.1).
fn form_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

/// `client_id:client_secret` from a Basic authorization header.
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Authenticates the client with exactly one method and returns its id.
fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<String, OAuthError> {
    let params = Params(params);
    let basic = headers.get(AUTHORIZATION);
    let post = params.has("client_secret");
    let jwt = params.has("client_assertion") || params.has("client_assertion_type");
    let methods = usize::from(basic.is_some()) + usize::from(post) + usize::from(jwt);
    if methods > 1 {
        // RFC 6749 section 2.3: one method per request.
        return Err(invalid_request(
            "more than one client authentication method",
        ));
    }
    if let Some(value) = basic {
        let (id, secret) = value
            .to_str()
            .ok()
            .and_then(basic_credentials)
            .ok_or_else(|| invalid_client("malformed basic credentials"))?;
        if params.get("client_id").is_some_and(|body_id| body_id != id) {
            return Err(invalid_request(
                "client_id differs from the authenticated client",
            ));
        }
        check_secret(shared, &id, &secret)?;
        return Ok(id);
    }
    if post {
        let id = params
            .get("client_id")
            .ok_or_else(|| invalid_client("missing client_id"))?;
        check_secret(shared, id, params.get("client_secret").unwrap_or_default())?;
        return Ok(id.to_owned());
    }
    if jwt {
        if params.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION_TYPE) {
            return Err(invalid_client("unsupported client_assertion_type"));
        }
        let assertion = params
            .get("client_assertion")
            .ok_or_else(|| invalid_client("missing client_assertion"))?;
        let id = check_assertion(shared, assertion, unix_now())?;
        if params.get("client_id").is_some_and(|body_id| body_id != id) {
            return Err(invalid_client(
                "client_id differs from the assertion issuer",
            ));
        }
        return Ok(id);
    }
    Err(invalid_client("missing client authentication"))
}

fn check_secret(shared: &Shared, id: &str, secret: &str) -> Result<(), OAuthError> {
    let state = shared.state();
    let known = state
        .clients
        .get(id)
        .and_then(|client| client.secret.as_deref());
    match known {
        Some(known) if same_secret(known, secret) => Ok(()),
        _ => Err(invalid_client("client authentication failed")),
    }
}

/// Verifies a `private_key_jwt` assertion (RFC 7523 section 3) and records its `jti`.
fn check_assertion(shared: &Shared, assertion: &str, now: u64) -> Result<String, OAuthError> {
    let decoded = jose::decode_compact(assertion)
        .ok_or_else(|| invalid_client("malformed client assertion"))?;
    let alg = decoded
        .alg()
        .ok_or_else(|| invalid_client("unsupported assertion alg"))?;
    let claim = |name: &str| decoded.claims.get(name).and_then(Value::as_str);
    let id = claim("iss").ok_or_else(|| invalid_client("assertion has no iss"))?;
    if claim("sub") != Some(id) {
        return Err(invalid_client("assertion sub must equal iss"));
    }
    let issuer = shared.issuer.as_str();
    let token_endpoint = shared.token_endpoint();
    let audience_ok = |aud: &str| aud == issuer || aud == token_endpoint;
    let aud_ok = match decoded.claims.get("aud") {
        Some(Value::String(aud)) => audience_ok(aud),
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(audience_ok),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid_client("assertion audience is not this tenant"));
    }
    let exp = decoded.claims.get("exp").and_then(Value::as_u64);
    let exp = exp.ok_or_else(|| invalid_client("assertion has no numeric exp"))?;
    if exp <= now {
        return Err(invalid_client("assertion expired"));
    }
    if decoded
        .claims
        .get("nbf")
        .and_then(Value::as_u64)
        .is_some_and(|nbf| nbf > now + 60)
    {
        return Err(invalid_client("assertion not yet valid"));
    }
    let jti = claim("jti").filter(|j| !j.is_empty());
    let jti = jti.ok_or_else(|| invalid_client("assertion has no jti"))?;

    let mut state = shared.state();
    let client = state
        .clients
        .get(id)
        .ok_or_else(|| invalid_client("unknown client"))?;
    let key = client
        .key
        .as_ref()
        .ok_or_else(|| invalid_client("client has no public key"))?;
    if client.alg.is_some_and(|registered| registered != alg) {
        return Err(invalid_client(
            "assertion alg differs from the registered key",
        ));
    }
    if !decoded.verify_with(key) {
        return Err(invalid_client("assertion signature invalid"));
    }
    state.used_jtis.retain(|_, seen_exp| *seen_exp > now);
    let key = (id.to_owned(), jti.to_owned());
    if state.used_jtis.contains_key(&key) {
        return Err(invalid_client("assertion jti replayed"));
    }
    state.used_jtis.insert(key, exp);
    Ok(id.to_owned())
}

/// Checks that `token` is an access token this tenant minted with a current key and that it
/// has not expired; returns its claims.
fn verify_minted(shared: &Shared, token: &str) -> Result<Map<String, Value>, OAuthError> {
    let decoded =
        jose::decode_compact(token).ok_or_else(|| invalid_grant("subject token malformed"))?;
    let keys = shared.keys();
    let key = keys
        .iter()
        .find(|k| Some(k.kid.as_str()) == decoded.kid() && Some(k.alg) == decoded.alg())
        .ok_or_else(|| invalid_grant("subject token key unknown"))?;
    if !decoded.verify_with(&key.public) {
        return Err(invalid_grant("subject token signature invalid"));
    }
    if decoded.claims.get("iss").and_then(Value::as_str) != Some(shared.issuer.as_str()) {
        return Err(invalid_grant("subject token issuer invalid"));
    }
    let exp = decoded.claims.get("exp").and_then(Value::as_u64);
    if exp.is_none_or(|exp| exp <= unix_now()) {
        return Err(invalid_grant("subject token expired"));
    }
    Ok(decoded.claims)
}

fn subject_of(claims: &Map<String, Value>) -> Result<String, OAuthError> {
    claims
        .get("sub")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| invalid_grant("subject token has no sub"))
}

fn has_scope(scope: Option<&str>, wanted: &str) -> bool {
    scope.is_some_and(|s| s.split(' ').any(|s| s == wanted))
}

/// Mints the RS256 access token an exchange returns.
fn issue_access_token(
    shared: &Shared,
    client_id: &str,
    subject: &str,
    audience: &str,
    scope: Option<&str>,
    extra: Map<String, Value>,
) -> Result<String, OAuthError> {
    let mut spec = TokenSpec::new(audience)
        .subject(subject)
        .azp(client_id)
        .lifetime(shared.options.token_lifetime)
        .claim("gty", "token-exchange");
    spec.scope = scope.map(str::to_owned);
    spec.extra.extend(extra);
    let claims = spec.claims(&shared.issuer, unix_now());
    shared
        .sign(spec.alg, |kid| spec.header(kid), &claims)
        .map_err(|_| {
            OAuthError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "signing failed",
            )
        })
}

/// RFC 8693 with a caller-owned `subject_token_type`.
fn custom_exchange(
    shared: &Shared,
    client_id: &str,
    request: &Params<'_>,
) -> Result<Value, OAuthError> {
    let subject_token = request.require("subject_token")?;
    let subject_token_type = request.require("subject_token_type")?;
    if request.has("organization")
        && request
            .get("organization")
            .is_none_or(|o| o.trim().is_empty())
    {
        return Err(invalid_request("organization is blank"));
    }
    if request.has("actor_token") && request.get("actor_token_type").is_none() {
        return Err(invalid_request("actor_token without actor_token_type"));
    }
    if request
        .get("requested_token_type")
        .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
    {
        return Err(invalid_request("unsupported requested_token_type"));
    }
    let custom = shared
        .options
        .custom_token_types
        .iter()
        .any(|t| t == subject_token_type);
    let subject = match verify_minted(shared, subject_token) {
        Ok(claims) => subject_of(&claims)?,
        Err(_) if custom => {
            // Any string is a valid legacy token: derive a stable user id from it.
            let digest = sha2::Sha256::digest(subject_token.as_bytes());
            format!("custom|{}", jose::b64(digest.get(..12).unwrap_or_default()))
        }
        Err(err) => return Err(err),
    };
    let audience = request
        .get("audience")
        .unwrap_or(&shared.options.default_audience);
    let scope = request.get("scope");
    let mut org = Map::new();
    if let Some(organization) = request.get("organization") {
        if organization.starts_with("org_") {
            org.insert("org_id".into(), organization.into());
        } else {
            org.insert(
                "org_id".into(),
                format!("org_{}", organization.to_ascii_lowercase()).into(),
            );
            org.insert("org_name".into(), organization.to_ascii_lowercase().into());
        }
    }
    let access_token =
        issue_access_token(shared, client_id, &subject, audience, scope, org.clone())?;
    let mut response = token_fields(shared, access_token, ACCESS_TOKEN_TYPE, scope);
    if has_scope(scope, "openid") {
        let now = unix_now();
        let mut claims = Map::new();
        claims.insert("iss".into(), shared.issuer.as_str().into());
        claims.insert("sub".into(), subject.as_str().into());
        claims.insert("aud".into(), client_id.into());
        claims.insert("iat".into(), now.into());
        claims.insert(
            "exp".into(),
            now.saturating_add(shared.options.token_lifetime.as_secs())
                .into(),
        );
        claims.extend(org);
        let spec = TokenSpec::default();
        let id_token = shared
            .sign(Alg::Rs256, |kid| spec.header(kid), &claims)
            .map_err(|_| {
                OAuthError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "signing failed",
                )
            })?;
        response.insert("id_token".into(), id_token.into());
    }
    if has_scope(scope, "offline_access") {
        response.insert(
            "refresh_token".into(),
            format!("mock-rt-{}", shared.unique()).into(),
        );
    }
    Ok(Value::Object(response))
}

/// RFC 8693 on-behalf-of: access token in, access token for another audience out.
fn on_behalf_of_exchange(
    shared: &Shared,
    client_id: &str,
    request: &Params<'_>,
) -> Result<Value, OAuthError> {
    let subject_token = request.require("subject_token")?;
    let audience = request.require("audience")?;
    let claims = verify_minted(shared, subject_token)?;
    let subject = subject_of(&claims)?;
    let scope = request.get("scope");
    let mut act = Map::new();
    act.insert("act".into(), json!({ "sub": client_id }));
    let access_token = issue_access_token(shared, client_id, &subject, audience, scope, act)?;
    Ok(Value::Object(token_fields(
        shared,
        access_token,
        ACCESS_TOKEN_TYPE,
        scope,
    )))
}

/// Auth0 Token Vault: an access token for an upstream connection.
fn connection_exchange(shared: &Shared, request: &Params<'_>) -> Result<Value, OAuthError> {
    let connection = request.require("connection")?;
    let subject_token = request.require("subject_token")?;
    for refused in ["audience", "resource"] {
        if request.has(refused) {
            return Err(invalid_request(format!("{refused} is not allowed")));
        }
    }
    if request.get("requested_token_type") != Some(FEDERATED_CONNECTION_TOKEN_TYPE) {
        return Err(invalid_request(
            "requested_token_type must be the connection token type",
        ));
    }
    match request.require("subject_token_type")? {
        ACCESS_TOKEN_TYPE => {
            verify_minted(shared, subject_token)?;
        }
        REFRESH_TOKEN_TYPE => {}
        _ => return Err(invalid_request("unsupported subject_token_type")),
    }
    let access_token = format!("mock-{connection}-token-{}", shared.unique());
    let scope = request.get("scope").or(Some("openid"));
    Ok(Value::Object(token_fields(
        shared,
        access_token,
        FEDERATED_CONNECTION_TOKEN_TYPE,
        scope,
    )))
}

fn token_fields(
    shared: &Shared,
    access_token: String,
    issued_token_type: &str,
    scope: Option<&str>,
) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("access_token".into(), access_token.into());
    fields.insert(
        "expires_in".into(),
        shared.options.token_lifetime.as_secs().into(),
    );
    fields.insert("token_type".into(), "Bearer".into());
    fields.insert("issued_token_type".into(), issued_token_type.into());
    if let Some(scope) = scope {
        fields.insert("scope".into(), scope.into());
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        for (input, want) in [
            ("abc", Some("abc")),
            ("a+b", Some("a b")),
            ("a%3Ab", Some("a:b")),
            ("%", None),
            ("%4", None),
            ("%zz", None),
            ("%ff", None),
        ] {
            assert_eq!(form_decode(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn basic_credentials_parsing() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let cases = [
            (
                format!("Basic {}", b64("id:secret")),
                Some(("id", "secret")),
            ),
            (
                format!("basic {}", b64("i%3Ad:s%2Bx+y")),
                Some(("i:d", "s+x y")),
            ),
            (
                format!("Basic {}", b64("id:se:cret")),
                Some(("id", "se:cret")),
            ),
            (format!("Bearer {}", b64("id:secret")), None),
            (format!("Basic {}", b64("nocolon")), None),
            ("Basic !!!".to_owned(), None),
        ];
        for (header, want) in cases {
            let got = basic_credentials(&header);
            let got = got.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
            assert_eq!(got, want, "{header}");
        }
    }

    #[test]
    fn repeated_parameters_are_rejected() {
        assert!(parse_form(b"a=1&b=2").is_ok());
        let err = parse_form(b"a=1&a=2").unwrap_err();
        assert_eq!(err.code, "invalid_request");
    }

    #[test]
    fn secret_comparison() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }

    #[test]
    fn scope_matching_is_by_word() {
        assert!(has_scope(Some("openid profile"), "openid"));
        assert!(!has_scope(Some("openidx"), "openid"));
        assert!(!has_scope(None, "openid"));
    }
}
