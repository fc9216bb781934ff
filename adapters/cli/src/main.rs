//! `auth0-api`: verify access tokens, exchange them, run a local mock tenant and the demo.
//!
//! Exit codes: 0 accepted, 1 rejected (a JSON error on stdout), 2 usage or configuration
//! error (a message on stderr).

#[cfg(feature = "demo")]
mod demo;
mod exchange;
mod transport;

use std::process::ExitCode;
use std::time::Duration;

use auth0_api::DomainPolicy;
use auth0_api::RequestContext;
use auth0_api::UnixTime;
use auth0_api::VerifyError;
use auth0_api::cache::Caches;
use auth0_api::{DpopMode, DpopOptions, VerifierConfig};
use auth0_api::{HttpResponse, Method};
use auth0_api_driver::{Driver, FixtureTransport, system_clock};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::transport::Transport;

#[derive(Parser)]
#[command(
    name = "auth0-api",
    version,
    about = "Verify and exchange access tokens (Auth0, OAuth 2, OpenID Connect)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify an access token; prints its claims (exit 0) or the rejection (exit 1).
    Verify(VerifyArgs),
    /// Custom token exchange (RFC 8693).
    Exchange(exchange::ExchangeArgs),
    /// On-behalf-of exchange of an access token.
    Obo(exchange::OboArgs),
    /// Token Vault: an access token for a connection.
    ConnectionToken(exchange::ConnectionArgs),
    /// Run a local tenant over HTTPS on 127.0.0.1 until interrupted.
    #[cfg(feature = "demo")]
    MockTenant,
    /// Walk through verification and the exchanges against a local tenant.
    #[cfg(feature = "demo")]
    Demo,
}

/// Where requests go, shared by every subcommand that talks to a tenant.
#[derive(Args, Clone, Default)]
pub(crate) struct IoArgs {
    /// Evaluate times at this instant (Unix seconds; default: the system clock).
    #[arg(long, value_name = "UNIX_SECONDS")]
    now: Option<u64>,
    /// Answer a GET of URL with the bytes of PATH (repeatable). With any fixture, no network
    /// I/O happens and a URL without one is a transport failure.
    #[arg(long = "fixture", value_name = "URL=PATH")]
    fixtures: Vec<String>,
    /// Answer a POST of URL with the bytes of PATH (repeatable).
    #[arg(long = "fixture-post", value_name = "URL=PATH")]
    fixture_posts: Vec<String>,
    /// Trust this PEM CA certificate for HTTPS (network mode).
    #[arg(long, value_name = "PEM")]
    ca_cert: Option<String>,
    /// Request timeout in seconds (network mode).
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Send requests through this HTTP CONNECT proxy, e.g. http://proxy.internal:3128
    /// (network mode). The proxy environment variables (HTTPS_PROXY, ALL_PROXY, ...) are
    /// never read.
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
}

impl IoArgs {
    /// The instant to evaluate at.
    pub(crate) fn now(&self) -> UnixTime {
        self.now
            .map(UnixTime::from_secs)
            .unwrap_or_else(system_clock)
    }

    /// The transport: fixtures when any is given, the network otherwise.
    pub(crate) fn transport(&self) -> Result<Transport, String> {
        if self.fixtures.is_empty() && self.fixture_posts.is_empty() {
            let ca = match &self.ca_cert {
                Some(path) => {
                    Some(std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?)
                }
                None => None,
            };
            return Transport::network(
                ca.as_deref(),
                Duration::from_secs(self.timeout),
                self.proxy.clone(),
            );
        }
        let fixtures = FixtureTransport::new();
        for (method, specs) in [
            (Method::Get, &self.fixtures),
            (Method::Post, &self.fixture_posts),
        ] {
            for spec in specs {
                let (url, path) = spec
                    .split_once('=')
                    .ok_or_else(|| format!("--fixture wants URL=PATH, got {spec:?}"))?;
                let body =
                    std::fs::read(path).map_err(|e| format!("cannot read fixture {path}: {e}"))?;
                fixtures.set(method, url, HttpResponse::json(body));
            }
        }
        Ok(Transport::Fixtures(fixtures))
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Allowed,
    Required,
    Disabled,
}

#[derive(Args)]
struct VerifyArgs {
    /// The access token.
    access_token: String,
    /// One = the tenant; several = a static multiple-custom-domain list.
    #[arg(long = "domain", required = true)]
    domains: Vec<String>,
    /// The API identifier the token must carry in `aud` (repeatable: any of them).
    #[arg(long = "audience", required = true)]
    audiences: Vec<String>,
    /// Accepted algorithms, comma separated (spaces around a name are ignored).
    #[arg(long, default_value = "RS256", value_delimiter = ',')]
    algorithms: Vec<String>,
    /// A claim the token must carry (repeatable).
    #[arg(long = "required-claim")]
    required_claims: Vec<String>,
    #[arg(long, value_enum, default_value = "allowed")]
    dpop_mode: Mode,
    /// Maximum age of a DPoP proof, in seconds.
    #[arg(long, default_value_t = 300, allow_negative_numbers = true)]
    dpop_iat_offset: i64,
    /// How far in the future a DPoP proof `iat` may be, in seconds.
    #[arg(long, default_value_t = 30, allow_negative_numbers = true)]
    dpop_iat_leeway: i64,
    /// The authentication scheme the token came with (Bearer, DPoP).
    #[arg(long)]
    scheme: Option<String>,
    /// The DPoP header value.
    #[arg(long)]
    dpop_proof: Option<String>,
    /// The request method (for the DPoP proof).
    #[arg(long)]
    http_method: Option<String>,
    /// The full request URL (for the DPoP proof and the domain resolver).
    #[arg(long)]
    http_url: Option<String>,
    /// Accept IP literals and localhost as domains (local tenants).
    #[arg(long)]
    allow_local_domains: bool,
    /// Require the token header `typ` to be `at+jwt` (RFC 9068).
    #[arg(long)]
    require_at_jwt: bool,
    #[command(flatten)]
    io: IoArgs,
}

/// A subcommand's end: printed JSON and an exit code.
pub(crate) enum Outcome {
    /// Exit 0 with this JSON.
    Accepted(Value),
    /// Exit 1 with this JSON.
    Rejected(Value),
    /// Exit 0; everything was already printed.
    #[cfg_attr(not(feature = "demo"), allow(dead_code))]
    Silent,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(args) => verify(&args),
        Command::Exchange(args) => exchange::custom(&args),
        Command::Obo(args) => exchange::obo(&args),
        Command::ConnectionToken(args) => exchange::connection(&args),
        #[cfg(feature = "demo")]
        Command::MockTenant => demo::mock_tenant(),
        #[cfg(feature = "demo")]
        Command::Demo => demo::run(),
    };
    match result {
        Ok(Outcome::Accepted(json)) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Ok(Outcome::Silent) => ExitCode::SUCCESS,
        Ok(Outcome::Rejected(json)) => {
            println!("{json}");
            ExitCode::from(1)
        }
        Err(message) => {
            eprintln!("auth0-api: {message}");
            ExitCode::from(2)
        }
    }
}

fn seconds(value: i64, option: &str) -> Result<Duration, String> {
    u64::try_from(value)
        .map(Duration::from_secs)
        .map_err(|_| format!("{option} must not be negative"))
}

fn verify(args: &VerifyArgs) -> Result<Outcome, String> {
    let dpop = DpopOptions {
        mode: match args.dpop_mode {
            Mode::Allowed => DpopMode::Allowed,
            Mode::Required => DpopMode::Required,
            Mode::Disabled => DpopMode::Disabled,
        },
        iat_offset: seconds(args.dpop_iat_offset, "--dpop-iat-offset")?,
        iat_leeway: seconds(args.dpop_iat_leeway, "--dpop-iat-leeway")?,
    };
    let mut config = VerifierConfig::new()
        .audiences(&args.audiences)
        .algorithms(args.algorithms.iter().map(|name| name.trim()))
        .require_at_jwt(args.require_at_jwt)
        .dpop(dpop);
    config = match args.domains.as_slice() {
        [one] => config.domain(one),
        many => config.domains(many),
    };
    for claim in &args.required_claims {
        config = config.required_claim(claim);
    }
    if args.allow_local_domains {
        config = config.domain_policy(
            DomainPolicy::STRICT
                .with_ip_literals(true)
                .with_localhost(true),
        );
    }
    let verifier = config.build().map_err(|e| format!("{}: {e}", e.code()))?;
    let driver = driver(verifier.new_caches(), args.io.transport()?, args.io.now());
    let ctx = RequestContext {
        scheme: args.scheme.as_deref(),
        dpop_proof: args.dpop_proof.as_deref(),
        http_method: args.http_method.as_deref(),
        http_url: args.http_url.as_deref(),
        ..RequestContext::default()
    };
    let outcome = verifier
        .verify_access_token(&args.access_token, &ctx)
        .and_then(|mut flow| driver.drive(&mut flow));
    match outcome {
        Ok(claims) => Ok(Outcome::Accepted(Value::Object(claims.into_map()))),
        Err(e) => Ok(Outcome::Rejected(rejection(&e))),
    }
}

/// The JSON of a rejected verification.
pub(crate) fn rejection(e: &VerifyError) -> Value {
    json!({"error": {
        "code": e.code(),
        "message": e.to_string(),
        "status": e.status(),
        "www_authenticate": e.www_authenticate(),
    }})
}

/// The blocking driver for one command: fresh `caches`, `transport`, and the command's
/// instant as the clock.
pub(crate) fn driver(caches: Caches, transport: Transport, now: UnixTime) -> Driver<Transport> {
    Driver::new(caches, transport, move || now)
}
