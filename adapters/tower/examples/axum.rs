//! Protects an axum API with `auth0-api-tower`, against a local HTTPS tenant on loopback, and
//! calls it: a token, no token, a missing scope, an expired token.
//!
//! ```text
//! cargo run -p auth0-api-tower --example axum --features axum
//! ```

use auth0_api::{DomainPolicy, VerifierConfig};
use auth0_api_driver::ClientOptions;
use auth0_api_mock_tenant::{DEFAULT_AUDIENCE, MockTenant, TenantOptions, TokenSpec};
use auth0_api_tower::{Authenticated, AuthorizeLayer, ProtectLayer};
use axum::Router;
use axum::routing::get;

async fn me(Authenticated(claims): Authenticated) -> String {
    format!("hello {}", claims.sub().ok().flatten().unwrap_or("?"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The local tenant stands in for https://YOUR_TENANT.auth0.com/.
    let tenant = MockTenant::start(TenantOptions::default())?;
    let verifier = VerifierConfig::new()
        .domain(tenant.issuer())
        .audience(DEFAULT_AUDIENCE)
        .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
        .build()?;
    // Only because the local tenant has its own CA; an Auth0 tenant needs the defaults.
    let options = ClientOptions {
        root_certificates_pem: vec![tenant.ca_pem().as_bytes().to_vec()],
        ..ClientOptions::default()
    };

    let app = Router::new()
        .route("/me", get(me))
        .route(
            "/orders",
            get(|| async { "your orders" }).route_layer(AuthorizeLayer::scopes(["read:orders"])),
        )
        .layer(ProtectLayer::reqwest(verifier, options)?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("API at {base}, tenant at {}", tenant.issuer());

    let http = reqwest::Client::builder().no_proxy().build()?;
    let token = tenant.mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE).subject("user|1"))?;
    let reader =
        tenant.mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE).scope("read:orders"))?;
    let expired = tenant.mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE).iat(1).exp(2))?;
    let calls = [
        ("GET /me with a token", "/me", Some(&token), 200),
        ("GET /me without a token", "/me", None, 401),
        (
            "GET /orders without read:orders",
            "/orders",
            Some(&token),
            403,
        ),
        (
            "GET /orders with read:orders",
            "/orders",
            Some(&reader),
            200,
        ),
        ("GET /me with an expired token", "/me", Some(&expired), 401),
    ];
    for (what, path, token, expected) in calls {
        let mut request = http.get(format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let challenges: Vec<String> = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let body = response.text().await?;
        println!("{what}: {status} {body}");
        for challenge in challenges {
            println!("    WWW-Authenticate: {challenge}");
        }
        if status != expected {
            return Err(format!("{what}: expected {expected}, got {status}").into());
        }
    }
    Ok(())
}
