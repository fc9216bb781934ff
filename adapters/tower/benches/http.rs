//! Requests per second of one axum route over loopback HTTP, in the same run: unprotected,
//! protected by `ProtectLayer` (RS256, warm caches), and guarded by a hand-written
//! `jsonwebtoken` check with a pre-parsed key (ring backend). Compare the ratios, not the
//! absolute numbers: the client runs on the same machine.
//!
//! ```text
//! cargo bench -p auth0-api-tower --features axum --bench http
//! ```

use std::sync::Arc;
use std::time::Duration;

use auth0_api::{DomainPolicy, VerifierConfig};
use auth0_api_driver::ClientOptions;
use auth0_api_mock_tenant::{DEFAULT_AUDIENCE, MockTenant, TenantOptions, TokenSpec};
use auth0_api_tower::{Authenticated, ProtectLayer};
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// What the hand-written guard holds: a key parsed once and the validation rules.
struct Manual {
    key: DecodingKey,
    validation: Validation,
}

impl Manual {
    fn check(&self, headers: &HeaderMap) -> Result<String, StatusCode> {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(StatusCode::UNAUTHORIZED)?;
        let data = jsonwebtoken::decode::<Value>(token, &self.key, &self.validation)
            .map_err(|_| StatusCode::UNAUTHORIZED)?;
        Ok(data.claims["sub"].as_str().unwrap_or_default().to_owned())
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    let token = tenant
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE))
        .unwrap();

    let verifier = VerifierConfig::new()
        .domain(tenant.issuer())
        .audience(DEFAULT_AUDIENCE)
        .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
        .build()
        .unwrap();
    let options = ClientOptions {
        root_certificates_pem: vec![tenant.ca_pem().as_bytes().to_vec()],
        ..ClientOptions::default()
    };
    let layer = ProtectLayer::reqwest(verifier, options).unwrap();

    let jwks = tenant.jwks();
    let rsa = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == "RS256")
        .unwrap();
    let key =
        DecodingKey::from_rsa_components(rsa["n"].as_str().unwrap(), rsa["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[DEFAULT_AUDIENCE]);
    validation.set_issuer(&[tenant.issuer()]);
    let manual = Arc::new(Manual { key, validation });

    let protected = Router::new()
        .route(
            "/protected",
            get(|Authenticated(claims): Authenticated| async move {
                claims.sub().ok().flatten().unwrap_or_default().to_owned()
            }),
        )
        .layer(layer);
    let app = Router::new()
        .route("/open", get(|| async { "auth0|mock-user" }))
        .route(
            "/manual",
            get(move |headers: HeaderMap| {
                let manual = Arc::clone(&manual);
                async move { manual.check(&headers) }
            }),
        )
        .merge(protected);
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move { axum::serve(listener, app).await });

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |path: &str| {
        let request = http.get(format!("{base}{path}")).bearer_auth(&token);
        let response = rt.block_on(request.send()).unwrap();
        assert_eq!(response.status(), 200, "{path}");
        rt.block_on(response.bytes()).unwrap()
    };
    // Warm the caches (and check every route answers) before measuring.
    for path in ["/open", "/protected", "/manual"] {
        assert_eq!(&get(path)[..], b"auth0|mock-user");
    }

    let mut group = c.benchmark_group("axum_route_rs256");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(5));
    for (name, path) in [
        ("unprotected", "/open"),
        ("protected_by_layer", "/protected"),
        ("jsonwebtoken_by_hand", "/manual"),
    ] {
        group.bench_function(name, |b| b.iter(|| get(path)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
