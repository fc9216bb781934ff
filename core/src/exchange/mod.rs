//! Token exchange at the token endpoint (RFC 8693; SPEC section 6): custom token exchange,
//! on-behalf-of, and access tokens for a connection (Token Vault).
//!
//! ```text
//!  TokenExchanger::custom_token_exchange / on_behalf_of / connection_token
//!        │ (inputs validated: subject token, organization, extra parameters, actor)
//!        ▼
//!   Start ──(token endpoint cached)──> token request ──> ExpectTokenResponse ──> Done
//!     │                                   ▲                     │ (id_token returned)
//!     └─> ExpectDiscovery ────────────────┘                     ▼
//!                                                  Keys ─(key cached)─> ID token checked ──> Done
//!                                                   └─> ExpectJwks ──┘
//! ```
//!
//! Methods: `poll` gives the next [`Action`], `handle_response` takes the outcome of the
//! request it asked for. One request is outstanding at a time; errors are sticky. The token
//! response's `token_type` and `issued_token_type` are checked against the request before its
//! ID token (T-71).

pub(crate) mod client_auth;
pub(crate) mod error;
pub(crate) mod params;
pub(crate) mod response;

use alloc::string::String;
use alloc::sync::Arc;
use core::marker::PhantomData;
use core::time::Duration;

pub use self::client_auth::ClientSecret;
pub use self::error::{
    ExchangeError, IdTokenError, InputError, ResponseError, RetryAfter, ServerError,
};
pub use self::params::{
    ExtraParameters, MAX_EXTRA_PARAMETERS, MAX_PARAMETER_VALUE_LEN, MAX_VALUES_PER_PARAMETER,
    RESERVED_PARAMETERS,
};
pub use self::response::{AccessToken, IdToken, MAX_EXPIRES_IN, RefreshToken};

use self::client_auth::ClientAuth;
use self::params::{FormParams, Telemetry};
use self::response::TokenResponse;
use crate::cache::{Caches, FetchError, FetchKey, Fetched, KeyFetch, Step};
use crate::claims::{ClaimError, ClaimRules, Claims, registered_name};
use crate::config::ConfigError;
use crate::domain::{DomainPolicy, Issuer};
use crate::flow::Action;
use crate::http::{HttpOutcome, HttpRequest};
use crate::jose::JoseError;
use crate::jose::compact::{CompactJws, Limits};
use crate::jose::jwk::KeySetLimits;
use crate::jose::provider::{CryptoProvider, RUST_CRYPTO};
use crate::jose::sign::Signer;
use crate::time::UnixTime;

/// `grant_type` of RFC 8693 token exchange.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// `grant_type` of Auth0 Token Vault (access token for a connection).
pub const CONNECTION_GRANT: &str =
    "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token";
/// `requested_token_type` of Auth0 Token Vault.
pub const CONNECTION_TOKEN_TYPE: &str =
    "http://auth0.com/oauth/token-type/federated-connection-access-token";
/// The RFC 8693 token type of an access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The RFC 8693 token type of a refresh token.
pub const REFRESH_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:refresh_token";

/// Builds a [`TokenExchanger`].
#[derive(Default)]
pub struct ExchangeConfig {
    domain: Option<String>,
    client_id: Option<String>,
    secret: Option<ClientSecret>,
    signer: Option<Arc<dyn Signer>>,
    basic: bool,
    telemetry: Option<Telemetry>,
    domain_policy: DomainPolicy,
    provider: Option<&'static dyn CryptoProvider>,
}

impl ExchangeConfig {
    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tenant domain (normalised like the verifier's).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// The client id. Required.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// Authenticates with a client secret (`client_secret_post`, or basic with
    /// [`ExchangeConfig::client_secret_basic`]).
    pub fn client_secret(mut self, secret: impl Into<ClientSecret>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// Sends the secret in an `Authorization: Basic` header instead of the body.
    pub fn client_secret_basic(mut self, basic: bool) -> Self {
        self.basic = basic;
        self
    }

    /// Authenticates with `private_key_jwt` (RFC 7523) signed by `signer`; wins over a secret.
    pub fn client_assertion_signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Whether to send the `Auth0-Client` telemetry header. Defaults to `true`.
    pub fn telemetry(mut self, enabled: bool) -> Self {
        self.telemetry = Some(if enabled {
            Telemetry::default()
        } else {
            Telemetry::disabled()
        });
        self
    }

    /// Which hosts the domain may name. Defaults to [`DomainPolicy::STRICT`].
    pub fn domain_policy(mut self, policy: DomainPolicy) -> Self {
        self.domain_policy = policy;
        self
    }

    /// The crypto provider for ID token signatures. Defaults to [`RUST_CRYPTO`].
    pub fn crypto_provider(mut self, provider: &'static dyn CryptoProvider) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Validates the configuration.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] without a domain, [`ConfigError::Invalid`] for a domain that
    /// does not normalise, and [`InputError::MissingClientAuthentication`] (as
    /// [`ExchangeSetupError::Client`]) without a client id or credential.
    pub fn build(self) -> Result<TokenExchanger, ExchangeSetupError> {
        let domain = self.domain.ok_or(ConfigError::Missing("domain"))?;
        let issuer = Issuer::from_domain_with(&domain, &self.domain_policy).map_err(|_| {
            ConfigError::Invalid {
                option: "domain",
                reason: "not a valid https domain",
            }
        })?;
        let client_id = self.client_id.as_deref();
        let auth = match (self.basic, self.signer, self.secret) {
            (true, None, Some(secret)) => ClientAuth::client_secret_basic(
                client_id.ok_or(ExchangeError::Input(
                    InputError::MissingClientAuthentication,
                ))?,
                secret,
            )?,
            (_, signer, secret) => ClientAuth::from_config(client_id, secret, signer)?,
        };
        Ok(TokenExchanger {
            issuer,
            auth,
            telemetry: self.telemetry.unwrap_or_default(),
            provider: self.provider.unwrap_or(&RUST_CRYPTO),
            limits: Limits::default(),
            key_limits: KeySetLimits::default(),
        })
    }
}

/// Why a [`TokenExchanger`] could not be built.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ExchangeSetupError {
    /// The domain is missing or invalid.
    Config(ConfigError),
    /// The client id or its credential is missing or unusable.
    Client(ExchangeError),
}

impl From<ConfigError> for ExchangeSetupError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

impl From<ExchangeError> for ExchangeSetupError {
    fn from(e: ExchangeError) -> Self {
        Self::Client(e)
    }
}

impl core::fmt::Display for ExchangeSetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Config(e) => write!(f, "{e}"),
            Self::Client(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for ExchangeSetupError {}

/// A configured client of the tenant's token endpoint. Starts the exchange flows.
#[derive(Debug)]
pub struct TokenExchanger {
    issuer: Issuer,
    auth: ClientAuth,
    telemetry: Telemetry,
    provider: &'static dyn CryptoProvider,
    limits: Limits,
    key_limits: KeySetLimits,
}

/// A custom token exchange request (RFC 8693 section 2.1).
#[derive(Clone, Debug, Default)]
pub struct CustomTokenExchange {
    /// The token to exchange. Must be non-empty, without surrounding white space or a
    /// `Bearer ` prefix.
    pub subject_token: String,
    /// Its type: a URI the caller owns.
    pub subject_token_type: String,
    /// `audience`, when requested.
    pub audience: Option<String>,
    /// `scope`, when requested.
    pub scope: Option<String>,
    /// `requested_token_type`, when requested.
    pub requested_token_type: Option<String>,
    /// `organization` (id `org_...` or name); must not be blank.
    pub organization: Option<String>,
    /// `actor_token`; needs `actor_token_type`.
    pub actor_token: Option<String>,
    /// `actor_token_type`; needs `actor_token`.
    pub actor_token_type: Option<String>,
    /// Further parameters; reserved names are refused. Never put personal data here: the
    /// server may log them.
    pub extra: ExtraParameters,
}

/// An on-behalf-of exchange: the incoming access token for one for another audience.
#[derive(Clone, Debug, Default)]
pub struct OnBehalfOf {
    /// The access token the API received.
    pub access_token: String,
    /// The audience of the token wanted. Required.
    pub audience: String,
    /// `scope`, when requested.
    pub scope: Option<String>,
}

/// Which token a Token Vault request presents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConnectionSubject {
    /// An access token (the default).
    #[default]
    AccessToken,
    /// A refresh token.
    RefreshToken,
}

/// A Token Vault request: an access token for a connection (audience and resource refused).
#[derive(Clone, Debug, Default)]
pub struct ConnectionTokenRequest {
    /// The connection name, e.g. `google-oauth2`. Required.
    pub connection: String,
    /// The subject token.
    pub subject_token: String,
    /// What the subject token is.
    pub subject_token_type: ConnectionSubject,
    /// `login_hint`, when given.
    pub login_hint: Option<String>,
}

/// What a custom token exchange returns.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TokenSet {
    /// The access token.
    pub access_token: AccessToken,
    /// `expires_in` as returned.
    pub expires_in: Duration,
    /// `now + expires_in`.
    pub expires_at: UnixTime,
    /// `scope`, when returned.
    pub scope: Option<String>,
    /// `id_token`, when returned: validated (signature, `iss`, `aud`, `exp`, `iat`).
    pub id_token: Option<IdToken>,
    /// The validated ID token's claims.
    pub id_token_claims: Option<Claims>,
    /// `refresh_token`, when returned.
    pub refresh_token: Option<RefreshToken>,
    /// `token_type`, when returned.
    pub token_type: Option<String>,
    /// `issued_token_type`, when returned.
    pub issued_token_type: Option<String>,
}

/// What an on-behalf-of exchange returns: access-token fields only.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AccessTokenSet {
    /// The access token.
    pub access_token: AccessToken,
    /// `expires_in` as returned.
    pub expires_in: Duration,
    /// `now + expires_in`.
    pub expires_at: UnixTime,
    /// `scope`, when returned.
    pub scope: Option<String>,
    /// `token_type`, when returned.
    pub token_type: Option<String>,
    /// `issued_token_type`, when returned.
    pub issued_token_type: Option<String>,
}

/// What a Token Vault exchange returns.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectionAccessToken {
    /// The connection's access token.
    pub access_token: AccessToken,
    /// `expires_in` as returned.
    pub expires_in: Duration,
    /// `now + expires_in`.
    pub expires_at: UnixTime,
    /// `scope`, when returned.
    pub scope: Option<String>,
    /// The connection asked for.
    pub connection: String,
    /// The login hint given, if any.
    pub login_hint: Option<String>,
}

/// The result types of the exchange flows.
pub trait ExchangeOutput: Sized + sealed::Sealed {
    #[doc(hidden)]
    fn from_parts(set: TokenSet, connection: &Option<(String, Option<String>)>) -> Self;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::TokenSet {}
    impl Sealed for super::AccessTokenSet {}
    impl Sealed for super::ConnectionAccessToken {}
}

impl ExchangeOutput for TokenSet {
    fn from_parts(set: TokenSet, _: &Option<(String, Option<String>)>) -> Self {
        set
    }
}

impl ExchangeOutput for AccessTokenSet {
    fn from_parts(set: TokenSet, _: &Option<(String, Option<String>)>) -> Self {
        Self {
            access_token: set.access_token,
            expires_in: set.expires_in,
            expires_at: set.expires_at,
            scope: set.scope,
            token_type: set.token_type,
            issued_token_type: set.issued_token_type,
        }
    }
}

impl ExchangeOutput for ConnectionAccessToken {
    fn from_parts(set: TokenSet, connection: &Option<(String, Option<String>)>) -> Self {
        let (connection, login_hint) = connection.clone().unwrap_or_default();
        Self {
            access_token: set.access_token,
            expires_in: set.expires_in,
            expires_at: set.expires_at,
            scope: set.scope,
            connection,
            login_hint,
        }
    }
}

impl TokenExchanger {
    /// The tenant issuer (`https://host/`).
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        self.auth.client_id()
    }

    /// Starts a custom token exchange. `random` MUST be fresh random bytes: they become the
    /// client assertion's `jti` with `private_key_jwt`.
    ///
    /// # Errors
    /// Input errors, before any request: [`InputError::InvalidSubjectToken`],
    /// [`InputError::InvalidOrganization`], actor and extra-parameter errors.
    pub fn custom_token_exchange(
        &self,
        request: &CustomTokenExchange,
        random: [u8; 16],
    ) -> Result<ExchangeToken<'_, TokenSet>, ExchangeError> {
        params::validate_subject_token(&request.subject_token)?;
        params::validate_actor(
            request.actor_token.as_deref(),
            request.actor_token_type.as_deref(),
        )?;
        if let Some(organization) = &request.organization {
            params::validate_organization(organization)?;
        }
        request.extra.validate()?;
        let mut form = FormParams::new();
        form.push("grant_type", TOKEN_EXCHANGE_GRANT);
        form.push("subject_token", request.subject_token.as_str());
        form.push("subject_token_type", request.subject_token_type.as_str());
        let optional = [
            ("audience", &request.audience),
            ("scope", &request.scope),
            ("requested_token_type", &request.requested_token_type),
            ("organization", &request.organization),
            ("actor_token", &request.actor_token),
            ("actor_token_type", &request.actor_token_type),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                form.push(name, value.as_str());
            }
        }
        request.extra.append_to(&mut form)?;
        Ok(self.start(form, random, request.organization.clone(), None))
    }

    /// Starts an on-behalf-of exchange of the API's incoming access token.
    ///
    /// # Errors
    /// [`InputError::InvalidSubjectToken`], or [`InputError::MissingParameter`] for a blank
    /// audience, before any request.
    pub fn on_behalf_of(
        &self,
        request: &OnBehalfOf,
        random: [u8; 16],
    ) -> Result<ExchangeToken<'_, AccessTokenSet>, ExchangeError> {
        params::validate_subject_token(&request.access_token)?;
        if request.audience.trim().is_empty() {
            return Err(InputError::MissingParameter { name: "audience" }.into());
        }
        let mut form = FormParams::new();
        form.push("grant_type", TOKEN_EXCHANGE_GRANT);
        form.push("subject_token", request.access_token.as_str());
        form.push("subject_token_type", ACCESS_TOKEN_TYPE);
        form.push("requested_token_type", ACCESS_TOKEN_TYPE);
        form.push("audience", request.audience.as_str());
        if let Some(scope) = &request.scope {
            form.push("scope", scope.as_str());
        }
        Ok(self.start(form, random, None, None))
    }

    /// Starts a Token Vault exchange: an access token for `request.connection`.
    ///
    /// # Errors
    /// [`InputError::InvalidSubjectToken`], or [`InputError::MissingParameter`] for a blank
    /// connection, before any request.
    pub fn connection_token(
        &self,
        request: &ConnectionTokenRequest,
        random: [u8; 16],
    ) -> Result<ExchangeToken<'_, ConnectionAccessToken>, ExchangeError> {
        params::validate_subject_token(&request.subject_token)?;
        if request.connection.trim().is_empty() {
            return Err(InputError::MissingParameter { name: "connection" }.into());
        }
        let subject_type = match request.subject_token_type {
            ConnectionSubject::AccessToken => ACCESS_TOKEN_TYPE,
            ConnectionSubject::RefreshToken => REFRESH_TOKEN_TYPE,
        };
        let mut form = FormParams::new();
        form.push("grant_type", CONNECTION_GRANT);
        form.push("subject_token", request.subject_token.as_str());
        form.push("subject_token_type", subject_type);
        form.push("requested_token_type", CONNECTION_TOKEN_TYPE);
        form.push("connection", request.connection.as_str());
        if let Some(hint) = &request.login_hint {
            form.push("login_hint", hint.as_str());
        }
        let connection = Some((request.connection.clone(), request.login_hint.clone()));
        Ok(self.start(form, random, None, connection))
    }

    fn start<T>(
        &self,
        form: FormParams,
        random: [u8; 16],
        organization: Option<String>,
        connection: Option<(String, Option<String>)>,
    ) -> ExchangeToken<'_, T> {
        ExchangeToken {
            exchanger: self,
            form,
            random,
            organization,
            connection,
            keys: KeyFetch::new(),
            state: State::Discovery,
            output: PhantomData,
        }
    }
}

/// Where an exchange is. The discovery and JWKS requests are the embedded [`KeyFetch`]'s:
/// while one is outstanding the state stays `Discovery` or `Keys`.
#[derive(Debug)]
enum State {
    /// Finding the token endpoint (the discovery document).
    Discovery,
    /// The token request, built when discovery answered, to be emitted by the next poll.
    Pending(HttpRequest),
    ExpectTokenResponse,
    /// Finding the key of a returned ID token.
    Keys {
        response: TokenResponse,
    },
    Finished,
    Failed(ExchangeError),
}

/// A token exchange in progress; `T` is its result type.
#[derive(Debug)]
#[must_use = "a flow does nothing until it is polled"]
pub struct ExchangeToken<'a, T> {
    exchanger: &'a TokenExchanger,
    form: FormParams,
    random: [u8; 16],
    organization: Option<String>,
    connection: Option<(String, Option<String>)>,
    /// The discovery -> JWKS -> key walk through the shared caches.
    keys: KeyFetch,
    state: State,
    output: PhantomData<T>,
}

impl<T: ExchangeOutput> ExchangeToken<'_, T> {
    /// Advances the flow.
    ///
    /// # Errors
    /// The sticky [`ExchangeError`] once the exchange failed; [`ExchangeError::Misuse`] when
    /// a response is outstanding or the flow already finished.
    pub fn poll(&mut self, caches: &mut Caches, now: UnixTime) -> Result<Action<T>, ExchangeError> {
        if self.keys.is_outstanding() {
            return Err(self.fail(ExchangeError::Misuse));
        }
        match core::mem::replace(&mut self.state, State::Finished) {
            State::Failed(e) => {
                self.state = State::Failed(e.clone());
                Err(e)
            }
            State::Finished | State::ExpectTokenResponse => Err(self.fail(ExchangeError::Misuse)),
            State::Pending(request) => {
                self.state = State::ExpectTokenResponse;
                Ok(Action::NeedHttp(request))
            }
            State::Discovery => self.poll_discovery(caches, now),
            State::Keys { response } => self.poll_keys(caches, response, now),
        }
    }

    fn poll_discovery(
        &mut self,
        caches: &mut Caches,
        now: UnixTime,
    ) -> Result<Action<T>, ExchangeError> {
        self.state = State::Discovery;
        let issuer = self.exchanger.issuer.as_str();
        let endpoint = match self.keys.poll_discovery(caches, issuer, now) {
            Ok(Step::Ready(doc)) => doc.token_endpoint.clone(),
            Ok(Step::Wait(key)) => return Ok(Action::Wait(key)),
            Ok(Step::Fetch(request)) => return Ok(Action::NeedHttp(request)),
            Err(e) => return Err(self.fail(e.into())),
        };
        let Some(endpoint) = endpoint else {
            return Err(self.fail(ExchangeError::Response(ResponseError::MissingTokenEndpoint)));
        };
        match self.token_request(&endpoint, now) {
            Ok(request) => {
                self.state = State::ExpectTokenResponse;
                Ok(Action::NeedHttp(request))
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn poll_keys(
        &mut self,
        caches: &mut Caches,
        response: TokenResponse,
        now: UnixTime,
    ) -> Result<Action<T>, ExchangeError> {
        let Some(id_token) = response.id_token.as_ref() else {
            return self.conclude(Ok((response, None)));
        };
        let header = match CompactJws::parse(id_token.expose_secret(), &self.exchanger.limits) {
            Ok(jws) => jws.header().clone(),
            Err(e) => {
                return Err(self.fail(ExchangeError::Response(ResponseError::IdToken(
                    IdTokenError::Jose(e),
                ))));
            }
        };
        match self.keys.poll_key(caches, &header, now) {
            Ok(Step::Ready(())) => {
                let key = self.keys.key(caches, &header, now).map(|(key, _)| key);
                let outcome = self.check_id_token(response, |_| key, now);
                self.conclude(outcome)
            }
            Ok(Step::Wait(key)) => {
                self.state = State::Keys { response };
                Ok(Action::Wait(key))
            }
            Ok(Step::Fetch(request)) => {
                self.state = State::Keys { response };
                Ok(Action::NeedHttp(request))
            }
            Err(e) => Err(self.fail(e.into())),
        }
    }

    /// Takes the outcome of the request the last `poll` asked for. Never fails by itself:
    /// the next `poll` reports a bad response.
    pub fn handle_response(&mut self, caches: &mut Caches, outcome: HttpOutcome, now: UnixTime) {
        if self.keys.is_outstanding() {
            let exchanger = self.exchanger;
            let issuer = exchanger.issuer.as_str();
            let keys = (exchanger.provider, &exchanger.key_limits);
            match self
                .keys
                .handle_response(caches, &outcome, issuer, keys, now)
            {
                // Discovery answered: the token endpoint is read from the document as
                // received (kept for this flow even when caching is off).
                Ok(Fetched::Discovery { token_endpoint }) => {
                    self.state = match token_endpoint.map(|e| self.token_request(&e, now)) {
                        Some(Ok(request)) => State::Pending(request),
                        Some(Err(e)) => State::Failed(e),
                        None => State::Failed(ExchangeError::Response(
                            ResponseError::MissingTokenEndpoint,
                        )),
                    };
                }
                // The JWK Set answered: the next poll looks for the key again.
                Ok(Fetched::KeySet) => {}
                Err(e) => {
                    self.fail(e.into());
                }
            }
            return;
        }
        self.state = match core::mem::replace(&mut self.state, State::Finished) {
            State::ExpectTokenResponse => match outcome {
                Err(e) => State::Failed(ExchangeError::Transport(Arc::new(e))),
                Ok(response) => match response::parse_token_response(&response, now).and_then(|r| {
                    // Checked against the type the form asked for (reserved: never an extra).
                    r.check_types(self.form.get("requested_token_type"))?;
                    Ok(r)
                }) {
                    Err(e) => State::Failed(e),
                    Ok(response) => State::Keys { response },
                },
            },
            State::Failed(e) => State::Failed(e),
            _ => State::Failed(ExchangeError::Misuse),
        };
    }

    /// The cache slot the outstanding request fills, if any (see [`Flow::fetching`]).
    ///
    /// [`Flow::fetching`]: crate::flow::Flow::fetching
    pub fn fetching(&self) -> Option<FetchKey> {
        self.keys.fetching(self.exchanger.issuer.as_str())
    }

    /// Gives up the outstanding request, clearing a discovery or JWKS in-flight mark without
    /// recording a failure (see [`Flow::abandon`]). The flow fails with
    /// [`ExchangeError::Misuse`] afterwards.
    ///
    /// [`Flow::abandon`]: crate::flow::Flow::abandon
    pub fn abandon(&mut self, caches: &mut Caches) {
        self.keys.abandon(caches, self.exchanger.issuer.as_str());
        if !matches!(self.state, State::Finished | State::Failed(_)) {
            self.fail(ExchangeError::Misuse);
        }
    }
}

impl From<FetchError> for ExchangeError {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::Discovery(e) => ExchangeError::Response(ResponseError::Discovery(e)),
            FetchError::Jwks(e) => ExchangeError::Response(ResponseError::Jwks(e)),
            FetchError::InvalidJwks(e) => ExchangeError::Response(ResponseError::InvalidJwks(e)),
            FetchError::UnknownKid => ExchangeError::Response(ResponseError::IdToken(
                IdTokenError::Jose(JoseError::NoMatchingKey),
            )),
            FetchError::Unusable(e) => {
                ExchangeError::Response(ResponseError::IdToken(IdTokenError::Jose(e)))
            }
            FetchError::Misuse => ExchangeError::Misuse,
        }
    }
}

impl<T: ExchangeOutput> ExchangeToken<'_, T> {
    /// The token request to `endpoint`, with client authentication added.
    fn token_request(&self, endpoint: &str, now: UnixTime) -> Result<HttpRequest, ExchangeError> {
        let mut form = self.form.clone();
        let issuer = self.exchanger.issuer.as_str();
        let authorization = self
            .exchanger
            .auth
            .apply(&mut form, issuer, now, &self.random)?;
        params::token_request(endpoint, &form, authorization, &self.exchanger.telemetry)
    }

    /// Validates a returned ID token (OpenID Connect Core section 3.1.3.7 as SPEC section 6
    /// asks: signature by the tenant's key, `iss`, `aud` = client id, `exp`, `iat`; with an
    /// organization, `org_id` or `org_name`).
    fn check_id_token<'k>(
        &self,
        response: TokenResponse,
        select: impl FnOnce(&crate::jose::header::Header) -> Option<&'k crate::jose::jwk::Jwk>,
        now: UnixTime,
    ) -> Result<(TokenResponse, Option<Claims>), ExchangeError> {
        let Some(id_token) = response.id_token.as_ref() else {
            return Ok((response, None));
        };
        let fail = |e| ExchangeError::Response(ResponseError::IdToken(e));
        let jws = CompactJws::parse(id_token.expose_secret(), &self.exchanger.limits)
            .map_err(|e| fail(IdTokenError::Jose(e)))?;
        let key = select(jws.header()).ok_or(fail(IdTokenError::Jose(JoseError::NoMatchingKey)))?;
        jws.verify(key).map_err(|e| fail(IdTokenError::Jose(e)))?;
        let claims = Claims::from_payload(jws.payload(), self.exchanger.limits.max_json_depth)
            .map_err(|_| fail(IdTokenError::MissingClaim("claims")))?;
        let rules = ClaimRules::new(
            self.exchanger.issuer.as_str(),
            self.exchanger.auth.client_id(),
        );
        claims.validate(&rules, now).map_err(|e| {
            fail(match e {
                ClaimError::IssuerMismatch => IdTokenError::ClaimMismatch("iss"),
                ClaimError::AudienceMismatch => IdTokenError::ClaimMismatch("aud"),
                ClaimError::Expired => IdTokenError::Expired,
                ClaimError::NotYetValid => IdTokenError::ClaimMismatch("nbf"),
                ClaimError::Missing(name) => IdTokenError::MissingClaim(registered_name(&name)),
                ClaimError::InvalidType(name) | ClaimError::OutOfRange(name) => {
                    IdTokenError::MissingClaim(name)
                }
                _ => IdTokenError::MissingClaim("claims"),
            })
        })?;
        // OIDC Core section 3.1.3.7 steps 4 and 5: with several audiences `azp` must be
        // present, and when present it must be this client.
        let client_id = self.exchanger.auth.client_id();
        let audiences = claims.aud().ok().flatten().map_or(0, |aud| aud.len());
        match claims.get_str("azp") {
            Ok(Some(azp)) if azp == client_id => {}
            Ok(Some(_)) => return Err(fail(IdTokenError::ClaimMismatch("azp"))),
            Ok(None) if audiences <= 1 => {}
            Ok(None) | Err(_) => return Err(fail(IdTokenError::MissingClaim("azp"))),
        }
        if let Some(organization) = &self.organization {
            // SPEC section 6: an `org_` value is an id, compared exactly; anything else is a
            // name, compared ignoring case.
            let (claim, matches) = if organization.starts_with("org_") {
                (
                    "org_id",
                    claims.get_str("org_id").ok().flatten() == Some(organization.as_str()),
                )
            } else {
                let name = claims.get_str("org_name").ok().flatten();
                (
                    "org_name",
                    name.is_some_and(|n| n.eq_ignore_ascii_case(organization)),
                )
            };
            if !matches {
                return Err(fail(IdTokenError::ClaimMismatch(claim)));
            }
        }
        Ok((response, Some(claims)))
    }

    fn conclude(
        &mut self,
        outcome: Result<(TokenResponse, Option<Claims>), ExchangeError>,
    ) -> Result<Action<T>, ExchangeError> {
        match outcome {
            Ok((r, id_token_claims)) => {
                self.state = State::Finished;
                let set = TokenSet {
                    access_token: r.access_token,
                    expires_in: r.expires_in,
                    expires_at: r.expires_at,
                    scope: r.scope,
                    id_token: r.id_token,
                    id_token_claims,
                    refresh_token: r.refresh_token,
                    token_type: r.token_type,
                    issued_token_type: r.issued_token_type,
                };
                Ok(Action::Done(T::from_parts(set, &self.connection)))
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn fail(&mut self, error: ExchangeError) -> ExchangeError {
        let error = match &self.state {
            State::Failed(e) => e.clone(),
            _ => error,
        };
        self.state = State::Failed(error.clone());
        error
    }
}

#[cfg(test)]
mod tests;

impl<T: ExchangeOutput> crate::flow::Flow for ExchangeToken<'_, T> {
    type Output = T;
    type Error = ExchangeError;

    fn poll(&mut self, caches: &mut Caches, now: UnixTime) -> Result<Action<T>, ExchangeError> {
        ExchangeToken::poll(self, caches, now)
    }

    fn handle_response(&mut self, caches: &mut Caches, outcome: HttpOutcome, now: UnixTime) {
        ExchangeToken::handle_response(self, caches, outcome, now);
    }

    fn fetching(&self) -> Option<FetchKey> {
        ExchangeToken::fetching(self)
    }

    /// An exchange never asks for a replay check: an answer is a misuse.
    fn handle_replay(&mut self, _outcome: crate::cache::ReplayOutcome) {
        self.fail(ExchangeError::Misuse);
    }

    fn abandon(&mut self, caches: &mut Caches) {
        ExchangeToken::abandon(self, caches);
    }
}
