//! What the `http` and `http_aws_lc` benches share: one axum app with four routes, served
//! on its own thread by a single-threaded runtime, so the CPU time of that one thread is the
//! server's CPU time. The client (reqwest, one keep-alive connection) runs on the bench
//! thread. The routes, all sent the same RS256 token:
//! - `/open`: no check;
//! - `/raw`: the raw signature check only, of a signature decoded in advance, with a key
//!   imported in advance: the baseline, paid in the same conditions as the guards (a
//!   server whose caches the network stack keeps evicting, unlike a tight loop);
//! - `/protected`: `ProtectLayer` and the `Authenticated` extractor, warm caches;
//! - `/manual`: a hand-written `jsonwebtoken` check with a pre-parsed key;
//! - `/verify`: no layer; the handler reads the bearer token and calls
//!   [`Client::verify_async`](auth0_api_driver::Client::verify_async) on the layer's client:
//!   what the verification costs in a server, without what the layer adds (reading the
//!   request, the extensions, the extractor).
//!
//! Two measurements per route:
//! - criterion groups: server CPU per request (`iter_custom` over the server thread's
//!   CPU clock) and wall-clock latency per request;
//! - a summary printed at the end, measured interleaved (each round runs every route back
//!   to back, in a rotating order, so drift hits all alike): the CPU each route adds over
//!   the open one, and the guards' as a ratio to the raw check's, both as a ratio of the
//!   medians and as the median of each round's own ratio (which cancels drift between
//!   rounds).
//!
//! `HTTP_BENCH_SUMMARY_ONLY=1` skips the criterion groups and prints only the summary.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use auth0_api::internals::CompactJws;
use auth0_api::jose::jwk::JwkSet;
use auth0_api::jose::verify::CryptoProvider;
use auth0_api::{DomainPolicy, Limits, RequestContext, VerifierConfig};
use auth0_api_driver::ClientOptions;
use auth0_api_mock_tenant::{DEFAULT_AUDIENCE, MockTenant, TenantOptions, TokenSpec};
use auth0_api_tower::{Authenticated, ProtectLayer};
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use criterion::Criterion;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// What the hand-written guard holds: a key parsed once and the validation rules.
struct Manual {
    key: DecodingKey,
    validation: Validation,
}

impl Manual {
    fn check(&self, headers: &HeaderMap) -> Result<String, StatusCode> {
        let token = bearer(headers).ok_or(StatusCode::UNAUTHORIZED)?;
        let data = jsonwebtoken::decode::<Value>(token, &self.key, &self.validation)
            .map_err(|_| StatusCode::UNAUTHORIZED)?;
        Ok(data.claims["sub"].as_str().unwrap_or_default().to_owned())
    }
}

/// The token of an `Authorization: Bearer` header, read by hand.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The CPU time of one thread of this process, from `/proc` (Linux; nanoseconds).
struct ThreadCpu {
    path: String,
}

impl ThreadCpu {
    /// The calling thread's clock, readable from any thread.
    fn current() -> Option<Self> {
        let link = std::fs::read_link("/proc/thread-self").ok()?;
        let tid = link.file_name()?.to_str()?.to_owned();
        let cpu = ThreadCpu {
            path: format!("/proc/self/task/{tid}/schedstat"),
        };
        cpu.now()?;
        Some(cpu)
    }

    fn now(&self) -> Option<Duration> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let nanos = text.split_whitespace().next()?.parse().ok()?;
        Some(Duration::from_nanos(nanos))
    }
}

const ROUTES: [(&str, &str); 5] = [
    ("unprotected", "/open"),
    ("raw_signature_check", "/raw"),
    ("protected_by_layer", "/protected"),
    ("jsonwebtoken_by_hand", "/manual"),
    ("verification_in_handler", "/verify"),
];

/// Runs the groups and prints the summary for `provider` (named `name`). The caller has
/// installed the matching `jsonwebtoken` provider.
pub(crate) fn run(c: &mut Criterion, name: &str, provider: &'static dyn CryptoProvider) {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    let token = tenant
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE))
        .unwrap();

    let verifier = VerifierConfig::new()
        .domain(tenant.issuer())
        .audience(DEFAULT_AUDIENCE)
        .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
        .crypto_provider(provider)
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

    // The raw signature check on the same provider, key and token; kept for the process.
    let keys: &'static JwkSet = Box::leak(Box::new(
        JwkSet::parse(jwks.to_string().as_bytes(), provider).unwrap(),
    ));
    let token: &'static str = Box::leak(token.into_boxed_str());
    let jws: &'static CompactJws<'static> = Box::leak(Box::new(
        CompactJws::parse(token, &Limits::default()).unwrap(),
    ));
    let raw_key = keys.select(jws.header()).unwrap();
    let raw = move || {
        raw_key
            .verify(
                jws.header().alg,
                black_box(jws.signing_input()),
                black_box(jws.signature()),
            )
            .is_ok()
    };

    let client = Arc::clone(layer.client());
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
            "/raw",
            get(move || async move {
                if raw() {
                    Ok("auth0|mock-user")
                } else {
                    Err(StatusCode::UNAUTHORIZED)
                }
            }),
        )
        .route(
            "/manual",
            get(move |headers: HeaderMap| {
                let manual = Arc::clone(&manual);
                async move { manual.check(&headers) }
            }),
        )
        .route(
            "/verify",
            get(move |headers: HeaderMap| {
                let client = Arc::clone(&client);
                async move {
                    let token = bearer(&headers).ok_or(StatusCode::UNAUTHORIZED)?;
                    let claims = client
                        .verify_async(token, &RequestContext::default())
                        .await
                        .map_err(|_| StatusCode::UNAUTHORIZED)?;
                    let sub = claims.sub().ok().flatten().unwrap_or_default();
                    Ok::<_, StatusCode>(sub.to_owned())
                }
            }),
        )
        .merge(protected);

    let (sender, started) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .unwrap();
            let addr = listener.local_addr().unwrap();
            sender.send((addr, ThreadCpu::current())).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let (addr, server_cpu) = started.recv().unwrap();
    let base = format!("http://{addr}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |path: &str| {
        let request = http.get(format!("{base}{path}")).bearer_auth(token);
        let response = rt.block_on(request.send()).unwrap();
        assert_eq!(response.status(), 200, "{path}");
        rt.block_on(response.bytes()).unwrap()
    };
    // Warm the caches (and check every route answers) before measuring.
    for (_, path) in ROUTES {
        assert_eq!(&get(path)[..], b"auth0|mock-user");
    }

    let summary_only = std::env::var_os("HTTP_BENCH_SUMMARY_ONLY").is_some();
    if let (true, Some(cpu)) = (summary_only, &server_cpu) {
        summary(name, cpu, &get, &raw);
        return;
    }
    let mut latency = c.benchmark_group(format!("rs256_{name}_latency"));
    latency.measurement_time(Duration::from_secs(4));
    for (route, path) in ROUTES {
        latency.bench_function(route, |b| b.iter(|| get(path)));
    }
    latency.finish();

    let Some(cpu) = server_cpu else {
        println!("no per-thread CPU clock (/proc/thread-self): server CPU not measured");
        return;
    };
    let mut server = c.benchmark_group(format!("rs256_{name}_server_cpu"));
    server.measurement_time(Duration::from_secs(4));
    for (route, path) in ROUTES {
        server.bench_function(route, |b| {
            b.iter_custom(|iters| {
                let start = cpu.now().unwrap();
                for _ in 0..iters {
                    get(path);
                }
                cpu.now().unwrap() - start
            });
        });
    }
    server.finish();

    summary(name, &cpu, &get, &raw);
}

/// Requests per round and route in the summary.
const BATCH: u32 = 200;
const ROUNDS: usize = 201;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Server CPU (µs per request) per route, interleaved, and the raw check in a tight loop.
fn summary(
    name: &str,
    cpu: &ThreadCpu,
    get: &dyn Fn(&str) -> axum::body::Bytes,
    raw: &dyn Fn() -> bool,
) {
    let per_call = |elapsed: Duration| elapsed.as_secs_f64() * 1e6 / f64::from(BATCH);
    let mut cpu_us = [const { Vec::new() }; ROUTES.len()];
    let mut wall_us = [const { Vec::new() }; ROUTES.len()];
    let mut loop_us = Vec::new();
    for round in 0..ROUNDS {
        for i in 0..ROUTES.len() {
            // Rotate the order each round.
            let slot = (i + round) % ROUTES.len();
            let (_, path) = ROUTES[slot];
            let (start, wall) = (cpu.now().unwrap(), Instant::now());
            for _ in 0..BATCH {
                get(path);
            }
            wall_us[slot].push(per_call(wall.elapsed()));
            cpu_us[slot].push(per_call(cpu.now().unwrap() - start));
        }
        let start = Instant::now();
        for _ in 0..BATCH {
            assert!(raw());
        }
        loop_us.push(per_call(start.elapsed()));
    }
    // Each round's ratio, against that round's open and raw routes.
    let paired: Vec<f64> = (0..ROUTES.len())
        .map(|r| {
            let mut ratios: Vec<f64> = (0..ROUNDS)
                .map(|k| (cpu_us[r][k] - cpu_us[0][k]) / (cpu_us[1][k] - cpu_us[0][k]))
                .collect();
            median(&mut ratios)
        })
        .collect();
    let cpu: Vec<f64> = cpu_us.iter_mut().map(|v| median(v)).collect();
    let wall: Vec<f64> = wall_us.iter_mut().map(|v| median(v)).collect();
    let added: Vec<f64> = cpu.iter().map(|c| c - cpu[0]).collect();
    let raw_added = added[1];
    println!("\nRS256 on {name}: server CPU per request, median of {ROUNDS} interleaved rounds");
    println!(
        "{:<24} {:>9} {:>8} {:>11} {:>12} {:>13}",
        "", "CPU (us)", "req/s", "added (us)", "added / raw", "paired ratio"
    );
    for (i, (route, _)) in ROUTES.iter().enumerate() {
        println!(
            "{:<24} {:>9.2} {:>8.0} {:>11.2} {:>12.2} {:>13.3}",
            route,
            cpu[i],
            1e6 / wall[i],
            added[i],
            added[i] / raw_added,
            paired[i]
        );
    }
    println!(
        "the raw check in a tight loop: {:.2} us; protected / unprotected (req/s): {:.2}; \
         ours / hand-written (added CPU): {:.2}",
        median(&mut loop_us),
        wall[0] / wall[2],
        added[2] / added[3]
    );
}
