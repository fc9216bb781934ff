//! An actix-web API protected by `auth0-api-actix`, against a local tenant on loopback:
//!
//! ```text
//! cargo run -p auth0-api-actix --example actix
//! ```
//!
//! Starts the local HTTPS tenant (discovery, JWKS, its own CA), serves `/me` (any valid
//! token) and `/orders` (scope `read:orders`) on a free port, sends a few real requests,
//! prints what came back, and exits non-zero if any answer is not the expected one.

use std::error::Error;
use std::net::TcpListener;

use actix_web::{App, HttpResponse, HttpServer, web};
use auth0_api::DomainPolicy;
use auth0_api_actix::{
    Authenticated, Authorize, ClientOptions, Policy, Protect, VerifierConfig, client,
};
use auth0_api_driver::system_clock;
use auth0_api_mock_tenant::{Alg, DEFAULT_AUDIENCE, MockTenant, TenantOptions, TokenSpec};

async fn me(user: Authenticated) -> HttpResponse {
    let sub = user.sub().ok().flatten().unwrap_or("?");
    HttpResponse::Ok().body(format!("hello {sub}"))
}

async fn orders() -> HttpResponse {
    HttpResponse::Ok().body("[order 1, order 2]")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    let tenant = MockTenant::start(TenantOptions::default())?;
    println!("local tenant: {}", tenant.issuer());

    // The API's configuration: its tenant, its identifier, the tenant's CA (a real tenant's
    // certificate needs none). The loopback tenant's host is an IP address.
    let verifier = VerifierConfig::new()
        .domain(tenant.issuer())
        .audience(DEFAULT_AUDIENCE)
        .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
        .build()?;
    let options = ClientOptions {
        root_certificates_pem: vec![tenant.ca_pem().as_bytes().to_vec()],
        ..ClientOptions::default()
    };
    let protect = Protect::new(client(verifier, options)?);

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let origin = format!("http://{}", listener.local_addr()?);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(protect.clone())
            .route("/me", web::get().to(me))
            .service(
                web::resource("/orders")
                    .wrap(Authorize::new(Policy::new().all_scopes(["read:orders"])))
                    .route(web::get().to(orders)),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    let running = tokio::spawn(server);
    println!("API: {origin}\n");

    let now = system_clock().as_secs();
    let mint = |spec: TokenSpec| tenant.mint_access_token(&spec.alg(Alg::Rs256));
    let reader = mint(
        TokenSpec::new(DEFAULT_AUDIENCE)
            .subject("alice")
            .scope("read:orders"),
    )?;
    let writer = mint(
        TokenSpec::new(DEFAULT_AUDIENCE)
            .subject("bob")
            .scope("write:orders"),
    )?;
    let expired = mint(
        TokenSpec::new(DEFAULT_AUDIENCE)
            .subject("carol")
            .iat(now - 7200)
            .exp(now - 3600),
    )?;

    let http = reqwest::Client::builder().no_proxy().build()?;
    let mut failures = 0;
    for (what, path, token, expected) in [
        ("no token", "/me", None, 401),
        ("a valid token", "/me", Some(&reader), 200),
        ("an expired token", "/me", Some(&expired), 401),
        ("scope read:orders", "/orders", Some(&reader), 200),
        ("scope write:orders only", "/orders", Some(&writer), 403),
    ] {
        let mut request = http.get(format!("{origin}{path}"));
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
        let verdict = if status == expected {
            "ok"
        } else {
            "UNEXPECTED"
        };
        println!("GET {path} with {what}: {status} ({verdict})");
        for challenge in challenges {
            println!("    WWW-Authenticate: {challenge}");
        }
        println!("    body: {body}");
        if status != expected {
            failures += 1;
        }
    }
    println!(
        "\nrequests to the tenant: {} (one discovery, one JWKS, then cached)",
        tenant.total_requests()
    );

    handle.stop(true).await;
    running.await??;
    if failures > 0 {
        return Err(format!("{failures} unexpected answers").into());
    }
    Ok(())
}
