//! An Auth0-like tenant served over HTTPS on `127.0.0.1`, for tests.
//!
//! [`MockTenant::start`] generates a certificate authority, a server certificate for
//! `127.0.0.1` and `localhost`, one signing key per algorithm (RS256, PS256, ES256) and three
//! clients, then serves on a background thread (its own single-threaded tokio runtime), so
//! blocking and async tests alike can use it. Dropping the tenant stops the server.
//!
//! Endpoints:
//!
//! - `GET /.well-known/openid-configuration`: discovery (OpenID Connect Discovery 1.0).
//! - `GET /.well-known/jwks.json`: the public keys, each with `kid`, `alg` and `use=sig`.
//! - `POST /oauth/token`: RFC 8693 token exchange (custom and on-behalf-of) and the Auth0
//!   Token Vault grant, with `client_secret_basic`, `client_secret_post` and
//!   `private_key_jwt` (RFC 7523) client authentication.
//!
//! Tests mint access tokens with [`MockTenant::mint_access_token`], rotate keys, inject
//! faults per path ([`fail`](MockTenant::fail), [`stall`](MockTenant::stall),
//! [`stall_body`](MockTenant::stall_body), [`huge_body`](MockTenant::huge_body),
//! [`redirect`](MockTenant::redirect), [`redirect_with`](MockTenant::redirect_with),
//! [`respond`](MockTenant::respond), [`respond_with_headers`](MockTenant::respond_with_headers))
//! and read per-path request counters. [`TenantOptions::tls_names`] chooses the names the
//! server certificate is issued for (a tenant serving a certificate for another name).
//! [`RecordingProxy`] is a forward proxy that records the connections it receives.
//!
//! ```no_run
//! use auth0_api_mock_tenant::{MockTenant, TenantOptions, TokenSpec};
//!
//! let tenant = MockTenant::start(TenantOptions::default())?;
//! let token = tenant.mint_access_token(&TokenSpec::new("https://api.example/"))?;
//! let trust = tenant.ca_der(); // give this to the HTTPS client
//! # let _ = (token, trust);
//! # Ok::<(), auth0_api_mock_tenant::Error>(())
//! ```

#![warn(missing_docs)]

mod endpoint;
mod jose;
mod proxy;
mod server;
mod tls;
mod token;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

pub use jose::Alg;
pub use proxy::{PROXY_VARIABLES, RecordingProxy};
pub use token::TokenSpec;

use jose::{PrivateKey, PublicKey};

/// `subject_token_type` for access tokens (RFC 8693 section 3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// `subject_token_type` for refresh tokens (RFC 8693 section 3).
pub const REFRESH_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:refresh_token";
/// `grant_type` of RFC 8693 token exchange.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// `grant_type` of the Auth0 Token Vault exchange (access token for a connection).
pub const FEDERATED_CONNECTION_GRANT: &str =
    "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token";
/// `requested_token_type` of the Auth0 Token Vault exchange.
pub const FEDERATED_CONNECTION_TOKEN_TYPE: &str =
    "http://auth0.com/oauth/token-type/federated-connection-access-token";
/// `client_assertion_type` of RFC 7523 section 2.2.
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The custom `subject_token_type` configured by [`TenantOptions::default`].
pub const DEFAULT_CUSTOM_TOKEN_TYPE: &str = "urn:mock-tenant:legacy-token";
/// The audience of exchanged tokens when the request names none.
pub const DEFAULT_AUDIENCE: &str = "https://api.mock-tenant.test/";

/// Size of the body [`MockTenant::huge_body`] answers with: 5 MiB.
pub const HUGE_BODY_LEN: usize = 5 * 1024 * 1024;

/// Why the tenant could not start or sign.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Binding, spawning or writing a file failed.
    Io(std::io::Error),
    /// Certificate or rustls set-up failed.
    Tls(String),
    /// Key generation or encoding failed.
    Key(String),
    /// Signing a token failed.
    Signing(String),
    /// A [`ClientSpec`] is unusable (no credential, bad JWK, duplicate id).
    InvalidClient(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "mock tenant i/o failed: {e}"),
            Error::Tls(e) => write!(f, "mock tenant tls set-up failed: {e}"),
            Error::Key(e) => write!(f, "mock tenant key handling failed: {e}"),
            Error::Signing(e) => write!(f, "mock tenant signing failed: {e}"),
            Error::InvalidClient(e) => write!(f, "invalid mock client: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// A client to register with the tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSpec {
    /// The `client_id`.
    pub client_id: String,
    /// Secret for `client_secret_basic` / `client_secret_post`.
    pub secret: Option<String>,
    /// Public JWK (RSA or EC P-256) that verifies `private_key_jwt` assertions.
    pub public_jwk: Option<Value>,
}

impl ClientSpec {
    /// A client authenticating with a shared secret.
    #[must_use]
    pub fn with_secret(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        ClientSpec {
            client_id: client_id.into(),
            secret: Some(secret.into()),
            public_jwk: None,
        }
    }

    /// A client authenticating with `private_key_jwt`, verified by `public_jwk`.
    #[must_use]
    pub fn with_public_jwk(client_id: impl Into<String>, public_jwk: Value) -> Self {
        ClientSpec {
            client_id: client_id.into(),
            secret: None,
            public_jwk: Some(public_jwk),
        }
    }
}

/// How the tenant starts.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantOptions {
    /// Clients registered besides the three generated ones.
    pub clients: Vec<ClientSpec>,
    /// `subject_token_type` values for which any non-empty subject token is accepted in a
    /// custom token exchange (other types need a token this tenant minted).
    pub custom_token_types: Vec<String>,
    /// Audience of exchanged tokens when the request has no `audience`.
    pub default_audience: String,
    /// `expires_in` of issued tokens.
    pub token_lifetime: Duration,
    /// Modulus size of generated RSA keys.
    pub rsa_bits: usize,
    /// The names (DNS names or IP addresses) the server certificate is issued for; by default
    /// `localhost` and `127.0.0.1`. Other names make a tenant whose certificate does not
    /// match the address it is reached at.
    pub tls_names: Vec<String>,
}

impl Default for TenantOptions {
    fn default() -> Self {
        TenantOptions {
            clients: Vec::new(),
            custom_token_types: vec![DEFAULT_CUSTOM_TOKEN_TYPE.to_owned()],
            default_audience: DEFAULT_AUDIENCE.to_owned(),
            token_lifetime: Duration::from_secs(3600),
            rsa_bits: 2048,
            tls_names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
        }
    }
}

/// The generated client that authenticates with a secret.
#[derive(Clone)]
pub struct SecretClient {
    client_id: String,
    secret: String,
}

impl SecretClient {
    /// The `client_id`.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret.
    ///
    /// # Security
    ///
    /// A test credential; exposed so that tests can configure the SDK with it.
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for SecretClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretClient")
            .field("client_id", &self.client_id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// A generated client that authenticates with `private_key_jwt` (RFC 7523).
#[derive(Clone)]
pub struct JwtClient {
    client_id: String,
    alg: Alg,
    kid: String,
    key: PrivateKey,
    private_key_pem: String,
    public_jwk: Value,
}

impl JwtClient {
    fn generate(client_id: &str, alg: Alg, rsa_bits: usize) -> Result<Self, Error> {
        let key = PrivateKey::generate(alg, rsa_bits)?;
        let kid = format!("{client_id}-key");
        let mut jwk = key.public_key().to_jwk();
        jwk.insert("kid".into(), kid.as_str().into());
        jwk.insert("alg".into(), alg.name().into());
        jwk.insert("use".into(), "sig".into());
        Ok(JwtClient {
            client_id: client_id.to_owned(),
            alg,
            kid,
            private_key_pem: key.to_pkcs8_pem()?,
            key,
            public_jwk: Value::Object(jwk),
        })
    }

    /// The `client_id`.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The assertion signing algorithm (`ES256` or `RS256`).
    #[must_use]
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The key id registered for the client.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// # Security
    ///
    /// A test key; exposed so that tests can configure the SDK with it.
    #[must_use]
    pub fn private_key_pem(&self) -> &str {
        &self.private_key_pem
    }

    /// The public JWK the tenant verifies assertions with.
    #[must_use]
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// Signs a client assertion: `iss` = `sub` = client id, `aud`, `jti`, `iat` = now,
    /// `exp` = now + `lifetime` (RFC 7523 section 3).
    ///
    /// # Errors
    ///
    /// [`Error::Signing`] when the signature cannot be computed.
    pub fn sign_assertion(
        &self,
        audience: &str,
        jti: &str,
        lifetime: Duration,
    ) -> Result<String, Error> {
        let now = unix_now();
        let mut claims = Map::new();
        claims.insert("iss".into(), self.client_id.as_str().into());
        claims.insert("sub".into(), self.client_id.as_str().into());
        claims.insert("aud".into(), audience.into());
        claims.insert("jti".into(), jti.into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), now.saturating_add(lifetime.as_secs()).into());
        self.sign_claims(&claims)
    }

    /// Signs arbitrary assertion claims with the client key (header `alg`, `typ`, `kid`).
    ///
    /// # Errors
    ///
    /// [`Error::Signing`] when the signature cannot be computed.
    pub fn sign_claims(&self, claims: &Map<String, Value>) -> Result<String, Error> {
        let mut header = Map::new();
        header.insert("alg".into(), self.alg.name().into());
        header.insert("typ".into(), "JWT".into());
        header.insert("kid".into(), self.kid.as_str().into());
        jose::sign_compact(&self.key, self.alg, &header, claims)
    }
}

impl fmt::Debug for JwtClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtClient")
            .field("client_id", &self.client_id)
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("private_key_pem", &"[redacted]")
            .finish()
    }
}

/// A request as the tenant received it (the last one per path is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, e.g. `POST`.
    pub method: String,
    /// Path and query, e.g. `/oauth/token`.
    pub path_and_query: String,
    /// Header names (lower case) and values, in arrival order; non-UTF-8 values are lossy.
    pub headers: Vec<(String, String)>,
    /// The body (at most 1 MiB is read).
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body decoded as `application/x-www-form-urlencoded` pairs.
    #[must_use]
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    /// The first value of form parameter `name`.
    #[must_use]
    pub fn form_value(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

/// A signing key currently published in the JWKS.
pub(crate) struct TenantKey {
    pub(crate) alg: Alg,
    pub(crate) kid: String,
    pub(crate) private: PrivateKey,
    pub(crate) public: PublicKey,
}

/// A registered client as the token endpoint sees it.
pub(crate) struct Client {
    pub(crate) secret: Option<String>,
    pub(crate) key: Option<PublicKey>,
    /// The JWK `alg`, when the registration named one.
    pub(crate) alg: Option<Alg>,
}

/// Faults injected on one path; they combine (stall, then the answer).
#[derive(Debug, Clone, Default)]
pub(crate) struct Fault {
    pub(crate) stall: Option<Duration>,
    /// Send the headers and the first `.0` bytes of the body, then wait `.1` for the rest.
    pub(crate) stall_body: Option<(usize, Duration)>,
    pub(crate) redirect: Option<(u16, String)>,
    pub(crate) status: Option<u16>,
    pub(crate) canned: Option<(u16, Vec<(String, String)>, Vec<u8>)>,
    pub(crate) huge: bool,
}

/// Mutable state shared by the server and the controls.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) faults: HashMap<String, Fault>,
    pub(crate) counts: HashMap<String, u64>,
    pub(crate) total: u64,
    pub(crate) clients: HashMap<String, Client>,
    /// `(client_id, jti)` of accepted assertions and their `exp`, for replay detection.
    pub(crate) used_jtis: HashMap<(String, String), u64>,
    pub(crate) last_requests: HashMap<String, RecordedRequest>,
    pub(crate) discovery_overrides: Map<String, Value>,
    pub(crate) serial: u64,
}

/// Everything the server task and the [`MockTenant`] handle share.
pub(crate) struct Shared {
    pub(crate) issuer: String,
    pub(crate) options: TenantOptions,
    pub(crate) keys: RwLock<Arc<Vec<TenantKey>>>,
    pub(crate) state: Mutex<State>,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn keys(&self) -> Arc<Vec<TenantKey>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn token_endpoint(&self) -> String {
        format!("{}oauth/token", self.issuer)
    }

    /// Signs `claims` with the current key for `alg`.
    pub(crate) fn sign(
        &self,
        alg: Alg,
        header: impl FnOnce(&str) -> Map<String, Value>,
        claims: &Map<String, Value>,
    ) -> Result<String, Error> {
        let keys = self.keys();
        let key = keys
            .iter()
            .find(|k| k.alg == alg)
            .ok_or_else(|| Error::Signing(format!("no key for {}", alg.name())))?;
        jose::sign_compact(&key.private, alg, &header(&key.kid), claims)
    }

    /// A fresh value for opaque tokens and ids.
    pub(crate) fn unique(&self) -> String {
        let serial = {
            let mut state = self.state();
            state.serial = state.serial.wrapping_add(1);
            state.serial
        };
        let mut random = [0u8; 8];
        // Uniqueness comes from the serial; randomness only makes values unguessable.
        let _ = getrandom::fill(&mut random);
        format!("{serial}{}", jose::b64(&random))
    }

    /// The public JWKS document.
    pub(crate) fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys()
            .iter()
            .map(|key| {
                let mut jwk = key.public.to_jwk();
                jwk.insert("kid".into(), key.kid.as_str().into());
                jwk.insert("alg".into(), key.alg.name().into());
                jwk.insert("use".into(), "sig".into());
                Value::Object(jwk)
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The discovery document with any overrides applied (`null` removes a member).
    pub(crate) fn discovery(&self) -> Value {
        let issuer = &self.issuer;
        let mut doc = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}authorize"),
            "token_endpoint": self.token_endpoint(),
            "userinfo_endpoint": format!("{issuer}userinfo"),
            "jwks_uri": format!("{issuer}.well-known/jwks.json"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
            "token_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
            "grant_types_supported": [TOKEN_EXCHANGE_GRANT, FEDERATED_CONNECTION_GRANT],
            "dpop_signing_alg_values_supported": ["ES256", "RS256", "PS256"],
        });
        if let Value::Object(members) = &mut doc {
            for (name, value) in &self.state().discovery_overrides {
                if value.is_null() {
                    members.remove(name);
                } else {
                    members.insert(name.clone(), value.clone());
                }
            }
        }
        doc
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Paths are compared with a leading `/` and without query.
fn normalise_path(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

fn generate_keys(rsa_bits: usize, generation: u64) -> Result<Vec<TenantKey>, Error> {
    let mut suffix = [0u8; 4];
    getrandom::fill(&mut suffix).map_err(|e| Error::Key(format!("no randomness: {e}")))?;
    let suffix = jose::b64(&suffix);
    std::thread::scope(|scope| {
        let handles: Vec<_> = Alg::ALL
            .into_iter()
            .map(|alg| scope.spawn(move || PrivateKey::generate(alg, rsa_bits).map(|k| (alg, k))))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                let (alg, private) = handle
                    .join()
                    .map_err(|_| Error::Key("key generation thread panicked".to_owned()))??;
                let kid = format!("{}-{generation}-{suffix}", alg.name().to_ascii_lowercase());
                Ok(TenantKey {
                    alg,
                    kid,
                    public: private.public_key(),
                    private,
                })
            })
            .collect()
    })
}

fn client_from_spec(spec: &ClientSpec) -> Result<Client, Error> {
    if spec.client_id.is_empty() {
        return Err(Error::InvalidClient("empty client_id".to_owned()));
    }
    if spec.secret.is_none() && spec.public_jwk.is_none() {
        return Err(Error::InvalidClient(format!(
            "{} has no credential",
            spec.client_id
        )));
    }
    let (key, alg) = match &spec.public_jwk {
        Some(jwk) => {
            let key = PublicKey::from_jwk(jwk)
                .map_err(|e| Error::InvalidClient(format!("{}: {e}", spec.client_id)))?;
            let alg = match jwk.get("alg").and_then(Value::as_str) {
                None => None,
                Some(name) => match Alg::from_name(name).filter(|&alg| key.fits(alg)) {
                    Some(alg) => Some(alg),
                    None => {
                        return Err(Error::InvalidClient(format!(
                            "{}: jwk alg {name} does not fit the key",
                            spec.client_id
                        )));
                    }
                },
            };
            (Some(key), alg)
        }
        None => (None, None),
    };
    Ok(Client {
        secret: spec.secret.clone(),
        key,
        alg,
    })
}

/// A running tenant. Dropping it stops the server and joins its thread.
pub struct MockTenant {
    shared: Arc<Shared>,
    addr: SocketAddr,
    ca_pem: String,
    ca_der: Vec<u8>,
    leaf_der: Vec<u8>,
    secret_client: SecretClient,
    es256_client: JwtClient,
    rs256_client: JwtClient,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for MockTenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockTenant")
            .field("issuer", &self.shared.issuer)
            .finish_non_exhaustive()
    }
}

impl MockTenant {
    /// Generates keys, clients and TLS material, binds `127.0.0.1:0` and starts serving.
    ///
    /// Three clients are always registered: `mock-secret-client` (random secret),
    /// `mock-es256-client` and `mock-rs256-client` (`private_key_jwt`).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when binding or spawning fails, [`Error::Tls`] / [`Error::Key`] when
    /// generating material fails, [`Error::InvalidClient`] for an unusable [`ClientSpec`].
    pub fn start(options: TenantOptions) -> Result<MockTenant, Error> {
        let tls = tls::generate(&options.tls_names)?;
        let keys = generate_keys(options.rsa_bits, 1)?;
        let es256_client = JwtClient::generate("mock-es256-client", Alg::Es256, options.rsa_bits)?;
        let rs256_client = JwtClient::generate("mock-rs256-client", Alg::Rs256, options.rsa_bits)?;
        let mut secret = [0u8; 24];
        getrandom::fill(&mut secret).map_err(|e| Error::Key(format!("no randomness: {e}")))?;
        let secret_client = SecretClient {
            client_id: "mock-secret-client".to_owned(),
            secret: jose::b64(&secret),
        };

        let mut specs = vec![
            ClientSpec::with_secret(&secret_client.client_id, &secret_client.secret),
            ClientSpec::with_public_jwk(&es256_client.client_id, es256_client.public_jwk.clone()),
            ClientSpec::with_public_jwk(&rs256_client.client_id, rs256_client.public_jwk.clone()),
        ];
        specs.extend(options.clients.iter().cloned());
        let mut clients = HashMap::new();
        for spec in &specs {
            if clients
                .insert(spec.client_id.clone(), client_from_spec(spec)?)
                .is_some()
            {
                return Err(Error::InvalidClient(format!(
                    "duplicate client {}",
                    spec.client_id
                )));
            }
        }

        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            issuer: format!("https://127.0.0.1:{}/", addr.port()),
            options,
            keys: RwLock::new(Arc::new(keys)),
            state: Mutex::new(State {
                clients,
                serial: 0,
                ..State::default()
            }),
        });

        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<std::io::Result<()>>(1);
        let server_shared = Arc::clone(&shared);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config);
        let thread = std::thread::Builder::new()
            .name("mock-tenant".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let runtime = match runtime {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => {
                            let _ = ready_tx.send(Ok(()));
                            server::serve(listener, acceptor, server_shared, shutdown_rx).await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        let ready = ready_rx.recv().unwrap_or_else(|_| {
            Err(std::io::Error::other(
                "mock tenant thread ended before serving",
            ))
        });
        if let Err(e) = ready {
            let _ = thread.join();
            return Err(Error::Io(e));
        }

        Ok(MockTenant {
            shared,
            addr,
            ca_pem: tls.ca_pem,
            ca_der: tls.ca_der,
            leaf_der: tls.leaf_der,
            secret_client,
            es256_client,
            rs256_client,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The listening address (`127.0.0.1` and an ephemeral port).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT/`.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.shared.issuer
    }

    /// The issuer (`iss` of minted tokens and discovery), equal to [`base_url`](Self::base_url).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The absolute URL of `path` on this tenant.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.shared.issuer, path.trim_start_matches('/'))
    }

    /// The discovery document URL.
    #[must_use]
    pub fn discovery_url(&self) -> String {
        self.url(".well-known/openid-configuration")
    }

    /// The JWKS URL.
    #[must_use]
    pub fn jwks_uri(&self) -> String {
        self.url(".well-known/jwks.json")
    }

    /// The token endpoint URL (also accepted as a client assertion audience).
    #[must_use]
    pub fn token_endpoint(&self) -> String {
        self.shared.token_endpoint()
    }

    /// The CA certificate in PEM, for HTTPS clients to trust.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA certificate in DER, for HTTPS clients to trust.
    #[must_use]
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }

    /// The server's own (leaf) certificate in DER, for clients that pin its public key.
    #[must_use]
    pub fn leaf_der(&self) -> &[u8] {
        &self.leaf_der
    }

    /// Writes the CA certificate in PEM to `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be written.
    pub fn write_ca_pem(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        std::fs::write(path, &self.ca_pem)?;
        Ok(())
    }

    /// The generated `client_secret_basic` / `client_secret_post` client.
    #[must_use]
    pub fn secret_client(&self) -> &SecretClient {
        &self.secret_client
    }

    /// The generated `private_key_jwt` client with an ES256 key.
    #[must_use]
    pub fn es256_client(&self) -> &JwtClient {
        &self.es256_client
    }

    /// The generated `private_key_jwt` client with an RS256 key.
    #[must_use]
    pub fn rs256_client(&self) -> &JwtClient {
        &self.rs256_client
    }

    /// Registers another client while running.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidClient`] when the spec is unusable or the id is taken.
    pub fn register_client(&self, spec: &ClientSpec) -> Result<(), Error> {
        let client = client_from_spec(spec)?;
        let mut state = self.shared.state();
        if state.clients.contains_key(&spec.client_id) {
            return Err(Error::InvalidClient(format!(
                "duplicate client {}",
                spec.client_id
            )));
        }
        state.clients.insert(spec.client_id.clone(), client);
        Ok(())
    }

    /// Mints an access token signed by the current key for `spec.alg`.
    ///
    /// # Errors
    ///
    /// [`Error::Signing`] when the signature cannot be computed.
    pub fn mint_access_token(&self, spec: &TokenSpec) -> Result<String, Error> {
        let claims = spec.claims(&self.shared.issuer, unix_now());
        self.shared.sign(spec.alg, |kid| spec.header(kid), &claims)
    }

    /// Signs arbitrary `claims` with the current key for `alg` (header `alg`, `typ=JWT`, `kid`).
    ///
    /// # Errors
    ///
    /// [`Error::Signing`] when the signature cannot be computed.
    pub fn sign_claims(&self, alg: Alg, claims: &Map<String, Value>) -> Result<String, Error> {
        let spec = TokenSpec {
            alg,
            ..TokenSpec::default()
        };
        self.shared.sign(alg, |kid| spec.header(kid), claims)
    }

    /// The `kid` of the current key for `alg`.
    #[must_use]
    pub fn kid(&self, alg: Alg) -> String {
        self.shared
            .keys()
            .iter()
            .find(|k| k.alg == alg)
            .map(|k| k.kid.clone())
            .unwrap_or_default()
    }

    /// The JWKS document as served.
    #[must_use]
    pub fn jwks(&self) -> Value {
        self.shared.jwks()
    }

    /// The discovery document as served.
    #[must_use]
    pub fn discovery(&self) -> Value {
        self.shared.discovery()
    }

    /// Replaces every signing key with a new one under a new `kid`; the old keys leave the
    /// JWKS, so tokens they signed no longer verify.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] when key generation fails (the old keys then stay).
    pub fn rotate_keys(&self) -> Result<(), Error> {
        let generation = {
            let mut state = self.shared.state();
            state.serial = state.serial.wrapping_add(1);
            state.serial.wrapping_add(1)
        };
        let keys = generate_keys(self.shared.options.rsa_bits, generation)?;
        *self
            .shared
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
        Ok(())
    }

    fn with_fault(&self, path: &str, change: impl FnOnce(&mut Fault)) {
        let mut state = self.shared.state();
        change(state.faults.entry(normalise_path(path)).or_default());
    }

    /// Answers requests for `path` with `status` and an OAuth-style JSON error body.
    pub fn fail(&self, path: &str, status: u16) {
        self.with_fault(path, |f| f.status = Some(status));
    }

    /// Delays every answer for `path` by `delay` (other faults still apply afterwards).
    pub fn stall(&self, path: &str, delay: Duration) {
        self.with_fault(path, |f| f.stall = Some(delay));
    }

    /// Answers requests for `path` as usual (or with the other faults), but sends only the
    /// headers (with the full `content-length`) and the first `sent` bytes of the body, then
    /// waits `delay` before the rest. Dropping the tenant ends the wait.
    pub fn stall_body(&self, path: &str, sent: usize, delay: Duration) {
        self.with_fault(path, |f| f.stall_body = Some((sent, delay)));
    }

    /// Answers requests for `path` with 200 and a JSON body of [`HUGE_BODY_LEN`] bytes.
    pub fn huge_body(&self, path: &str) {
        self.with_fault(path, |f| f.huge = true);
    }

    /// Answers requests for `path` with `302 Found` to `location`.
    pub fn redirect(&self, path: &str, location: &str) {
        self.redirect_with(path, 302, location);
    }

    /// Answers requests for `path` with the redirect `status` (301, 302, 303, 307, 308...)
    /// to `location`.
    pub fn redirect_with(&self, path: &str, status: u16, location: &str) {
        self.with_fault(path, |f| f.redirect = Some((status, location.to_owned())));
    }

    /// Answers requests for `path` with `status`, `content_type` and `body` verbatim.
    pub fn respond(&self, path: &str, status: u16, content_type: &str, body: impl Into<Vec<u8>>) {
        self.respond_with_headers(path, status, &[("content-type", content_type)], body);
    }

    /// Answers requests for `path` with `status`, exactly these headers (for example
    /// `content-encoding`) and `body` verbatim; `content-length` is the body's length.
    pub fn respond_with_headers(
        &self,
        path: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) {
        let headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let canned = (status, headers, body.into());
        self.with_fault(path, |f| f.canned = Some(canned));
    }

    /// Sets (or with `Value::Null` removes) a member of the discovery document.
    pub fn set_discovery_field(&self, name: &str, value: Value) {
        self.shared
            .state()
            .discovery_overrides
            .insert(name.to_owned(), value);
    }

    /// Removes every injected fault and discovery override (counters are kept).
    pub fn reset_faults(&self) {
        let mut state = self.shared.state();
        state.faults.clear();
        state.discovery_overrides.clear();
    }

    /// How many requests arrived for `path` (query ignored), whatever the answer.
    #[must_use]
    pub fn request_count(&self, path: &str) -> u64 {
        self.shared
            .state()
            .counts
            .get(&normalise_path(path))
            .copied()
            .unwrap_or(0)
    }

    /// How many requests arrived in total.
    #[must_use]
    pub fn total_requests(&self) -> u64 {
        self.shared.state().total
    }

    /// Sets every counter back to zero.
    pub fn reset_counts(&self) {
        let mut state = self.shared.state();
        state.counts.clear();
        state.total = 0;
    }

    /// The last request received for `path`.
    #[must_use]
    pub fn last_request(&self, path: &str) -> Option<RecordedRequest> {
        self.shared
            .state()
            .last_requests
            .get(&normalise_path(path))
            .cloned()
    }

    /// Stops the server and waits for its thread (same as dropping).
    pub fn shutdown(self) {}
}

impl Drop for MockTenant {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<MockTenant>();
        shareable::<JwtClient>();
        shareable::<TokenSpec>();
    }

    #[test]
    fn paths_are_normalised() {
        for (input, want) in [
            ("/oauth/token", "/oauth/token"),
            ("oauth/token", "/oauth/token"),
            ("/a?b=c", "/a"),
            ("", "/"),
        ] {
            assert_eq!(normalise_path(input), want);
        }
    }

    #[test]
    fn client_specs_are_validated() {
        let ok = ClientSpec::with_secret("a", "s");
        assert!(client_from_spec(&ok).is_ok());
        let bad = [
            ClientSpec {
                client_id: String::new(),
                secret: Some("s".into()),
                public_jwk: None,
            },
            ClientSpec {
                client_id: "a".into(),
                secret: None,
                public_jwk: None,
            },
            ClientSpec::with_public_jwk("a", serde_json::json!({"kty": "oct"})),
        ];
        for spec in bad {
            assert!(
                matches!(client_from_spec(&spec), Err(Error::InvalidClient(_))),
                "{spec:?}"
            );
        }
        let key = PrivateKey::generate(Alg::Es256, 2048).unwrap();
        let mut jwk = key.public_key().to_jwk();
        jwk.insert("alg".into(), "RS256".into());
        let spec = ClientSpec::with_public_jwk("a", Value::Object(jwk));
        assert!(
            client_from_spec(&spec).is_err(),
            "jwk alg must fit the key type"
        );
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let client = SecretClient {
            client_id: "c".into(),
            secret: "hunter2".into(),
        };
        assert!(!format!("{client:?}").contains("hunter2"));
        let jwt = JwtClient::generate("j", Alg::Es256, 2048).unwrap();
        assert!(!format!("{jwt:?}").contains("PRIVATE KEY"));
        assert!(
            jwt.private_key_pem()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
    }
}
