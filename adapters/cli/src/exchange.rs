//! `exchange`, `obo` and `connection-token`: the token-exchange flows from the command line.

use std::sync::Arc;

use auth0_api::DomainPolicy;
use auth0_api::cache::{CachePolicy, Caches};
use auth0_api::exchange::ExtraParameters;
use auth0_api::exchange::{
    AccessTokenSet, ConnectionAccessToken, ConnectionSubject, ConnectionTokenRequest,
    CustomTokenExchange, ExchangeConfig, OnBehalfOf, TokenExchanger, TokenSet,
};
use auth0_api::exchange::{ExchangeError, ServerError};
use auth0_api::jose::Algorithm;
use auth0_api::jose::sign::{RsaSigner, SignError, Signer, signer_from_pkcs8_pem};
use clap::Args;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::{IoArgs, Outcome, driver};

/// The client and tenant, shared by the exchange subcommands.
#[derive(Args)]
pub(crate) struct ClientArgs {
    /// The tenant domain.
    #[arg(long)]
    domain: String,
    /// The client id.
    #[arg(long)]
    client_id: String,
    /// Authenticate with this client secret (client_secret_post).
    #[arg(long)]
    client_secret: Option<String>,
    /// Send the secret with HTTP Basic (client_secret_basic) instead.
    #[arg(long)]
    basic: bool,
    /// Authenticate with private_key_jwt, signing with this PKCS#8 PEM key.
    #[arg(long, value_name = "PEM")]
    client_assertion_key: Option<String>,
    /// The client assertion's algorithm.
    #[arg(long, default_value = "ES256")]
    client_assertion_alg: String,
    /// Do not send the Auth0-Client telemetry header.
    #[arg(long)]
    no_telemetry: bool,
    /// Accept IP literals and localhost as the domain (local tenants).
    #[arg(long)]
    allow_local_domains: bool,
    #[command(flatten)]
    io: IoArgs,
}

impl ClientArgs {
    fn exchanger(&self) -> Result<TokenExchanger, String> {
        let mut config = ExchangeConfig::new()
            .domain(&self.domain)
            .client_id(&self.client_id)
            .client_secret_basic(self.basic)
            .telemetry(!self.no_telemetry);
        if let Some(secret) = &self.client_secret {
            config = config.client_secret(secret.as_str());
        }
        if let Some(path) = &self.client_assertion_key {
            let pem = Zeroizing::new(
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?,
            );
            let alg = Algorithm::from_name(&self.client_assertion_alg)
                .map_err(|e| format!("--client-assertion-alg: {e}"))?;
            let signer = assertion_signer(&pem, alg).map_err(|e| format!("{path}: {e}"))?;
            config = config.client_assertion_signer(signer);
        }
        if self.allow_local_domains {
            config = config.domain_policy(
                DomainPolicy::STRICT
                    .with_ip_literals(true)
                    .with_localhost(true),
            );
        }
        config.build().map_err(|e| e.to_string())
    }
}

/// The client assertion signer for `alg`. RSA signers draw from the operating system's
/// random source: every signature is blinded, and PS* salts are fresh.
fn assertion_signer(pem: &str, alg: Algorithm) -> Result<Arc<dyn Signer>, SignError> {
    match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => Ok(Arc::new(
            RsaSigner::from_pkcs8_pem(pem, alg)?.with_random(os_random),
        )),
        _ => Ok(Arc::from(signer_from_pkcs8_pem(pem, alg)?)),
    }
}

/// Fills `buf` from the operating system's random source.
fn os_random(buf: &mut [u8]) -> Result<(), SignError> {
    getrandom::fill(buf).map_err(|_| SignError::Random)
}

/// `exchange` arguments.
#[derive(Args)]
pub(crate) struct ExchangeArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The token to exchange.
    #[arg(long)]
    subject_token: String,
    /// Its type (a URI you own).
    #[arg(long)]
    subject_token_type: String,
    #[arg(long)]
    audience: Option<String>,
    #[arg(long)]
    scope: Option<String>,
    #[arg(long)]
    requested_token_type: Option<String>,
    #[arg(long)]
    organization: Option<String>,
    #[arg(long)]
    actor_token: Option<String>,
    #[arg(long)]
    actor_token_type: Option<String>,
    /// An extra parameter NAME=VALUE (repeatable; reserved names are refused).
    #[arg(long = "extra", value_name = "NAME=VALUE")]
    extra: Vec<String>,
}

/// `obo` arguments.
#[derive(Args)]
pub(crate) struct OboArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The access token the API received.
    #[arg(long)]
    access_token: String,
    /// The audience of the token wanted.
    #[arg(long)]
    audience: String,
    #[arg(long)]
    scope: Option<String>,
}

/// `connection-token` arguments.
#[derive(Args)]
pub(crate) struct ConnectionArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The connection, e.g. google-oauth2.
    #[arg(long)]
    connection: String,
    /// The subject token (an access token unless --refresh-token).
    #[arg(long)]
    subject_token: String,
    /// The subject token is a refresh token.
    #[arg(long)]
    refresh_token: bool,
    #[arg(long)]
    login_hint: Option<String>,
}

fn random() -> Result<[u8; 16], String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(bytes)
}

/// Runs one exchange flow and shapes its result.
fn run<T: auth0_api::exchange::ExchangeOutput>(
    client: &ClientArgs,
    flow: impl FnOnce(
        &TokenExchanger,
        [u8; 16],
    ) -> Result<auth0_api::exchange::ExchangeToken<'_, T>, ExchangeError>,
    render: impl FnOnce(T) -> Value,
) -> Result<Outcome, String> {
    let exchanger = client.exchanger()?;
    let caches = Caches::new(CachePolicy::default());
    let driver = driver(caches, client.io.transport()?, client.io.now());
    match flow(&exchanger, random()?).and_then(|mut f| driver.drive(&mut f)) {
        Ok(output) => Ok(Outcome::Accepted(render(output))),
        Err(e) => Ok(Outcome::Rejected(exchange_error(&e))),
    }
}

/// The JSON of a failed exchange: the server's OAuth error verbatim when there is one.
pub(crate) fn exchange_error(e: &ExchangeError) -> Value {
    let mut error = json!({"message": e.to_string()});
    if let ExchangeError::Server(ServerError {
        status,
        error: code,
        error_description,
        error_uri,
        ..
    }) = e
    {
        error["status"] = json!(status);
        error["error"] = json!(code);
        error["error_description"] = json!(error_description);
        error["error_uri"] = json!(error_uri);
    }
    json!({ "error": error })
}

/// `exchange`.
pub(crate) fn custom(args: &ExchangeArgs) -> Result<Outcome, String> {
    let mut extra = ExtraParameters::new();
    for spec in &args.extra {
        let (name, value) = spec
            .split_once('=')
            .ok_or_else(|| format!("--extra wants NAME=VALUE, got {spec:?}"))?;
        extra.insert(name, value);
    }
    let request = CustomTokenExchange {
        subject_token: args.subject_token.clone(),
        subject_token_type: args.subject_token_type.clone(),
        audience: args.audience.clone(),
        scope: args.scope.clone(),
        requested_token_type: args.requested_token_type.clone(),
        organization: args.organization.clone(),
        actor_token: args.actor_token.clone(),
        actor_token_type: args.actor_token_type.clone(),
        extra,
    };
    run(
        &args.client,
        |ex, r| ex.custom_token_exchange(&request, r),
        token_set_json,
    )
}

/// `obo`.
pub(crate) fn obo(args: &OboArgs) -> Result<Outcome, String> {
    let request = OnBehalfOf {
        access_token: args.access_token.clone(),
        audience: args.audience.clone(),
        scope: args.scope.clone(),
    };
    run(
        &args.client,
        |ex, r| ex.on_behalf_of(&request, r),
        access_token_json,
    )
}

/// `connection-token`.
pub(crate) fn connection(args: &ConnectionArgs) -> Result<Outcome, String> {
    let request = ConnectionTokenRequest {
        connection: args.connection.clone(),
        subject_token: args.subject_token.clone(),
        subject_token_type: if args.refresh_token {
            ConnectionSubject::RefreshToken
        } else {
            ConnectionSubject::AccessToken
        },
        login_hint: args.login_hint.clone(),
    };
    run(
        &args.client,
        |ex, r| ex.connection_token(&request, r),
        connection_json,
    )
}

/// The JSON of a custom exchange result (the tokens are the user's own output).
pub(crate) fn token_set_json(t: TokenSet) -> Value {
    json!({
        "access_token": t.access_token.expose_secret(),
        "expires_in": t.expires_in.as_secs(),
        "expires_at": t.expires_at.as_secs(),
        "scope": t.scope,
        "id_token": t.id_token.as_ref().map(|t| t.expose_secret()),
        "id_token_claims": t.id_token_claims.map(|c| Value::Object(c.into_map())),
        "refresh_token": t.refresh_token.as_ref().map(|t| t.expose_secret()),
        "token_type": t.token_type,
        "issued_token_type": t.issued_token_type,
    })
}

/// The JSON of an on-behalf-of result.
pub(crate) fn access_token_json(t: AccessTokenSet) -> Value {
    json!({
        "access_token": t.access_token.expose_secret(),
        "expires_in": t.expires_in.as_secs(),
        "expires_at": t.expires_at.as_secs(),
        "scope": t.scope,
        "token_type": t.token_type,
        "issued_token_type": t.issued_token_type,
    })
}

/// The JSON of a Token Vault result.
pub(crate) fn connection_json(t: ConnectionAccessToken) -> Value {
    json!({
        "access_token": t.access_token.expose_secret(),
        "expires_in": t.expires_in.as_secs(),
        "expires_at": t.expires_at.as_secs(),
        "scope": t.scope,
        "connection": t.connection,
        "login_hint": t.login_hint,
    })
}
