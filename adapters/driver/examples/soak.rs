//! Soak run of the cache lifecycle: warm verifications on two threads against an in-memory
//! tenant that rotates its signing key every tenth of the run (publishing the next key one
//! rotation ahead, as Auth0 does) and fails one fetch in three, with a background refresher
//! thread and a simulated clock (1,000 s per rotation: 10,000 s, about 16 TTLs, per run).
//!
//! ```text
//! cargo run --release -p auth0-api-driver --example soak            # 1,000,000 verifications
//! cargo run --release -p auth0-api-driver --example soak -- 100000  # a quicker run
//! ```
//!
//! Prints the requests the tenant saw, the rejections by reason, and the resident memory
//! at each rotation (Linux: from `/proc/self/status`), which stays flat.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use auth0_api::{
    CachePolicy, HttpOutcome, HttpRequest, HttpResponse, Method, RequestContext, UnixTime,
    VerifierConfig,
};
use auth0_api_driver::{Client, FixtureTransport, Transport};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};

const ISSUER: &str = "https://soak.example/";
const DISCOVERY: &str = "https://soak.example/.well-known/openid-configuration";
const JWKS: &str = "https://soak.example/.well-known/jwks.json";
const AUDIENCE: &str = "https://api.soak.example";
const T0: u64 = 1_900_000_000;
const THREADS: u64 = 2;

/// The tenant: answers from fixtures, and fails every third request with a 500.
struct FlakyTenant {
    fixtures: FixtureTransport,
    /// Requests per URL, failed or not.
    asked: Mutex<BTreeMap<String, u64>>,
    sent: AtomicU64,
    failed: AtomicU64,
}

impl Transport for FlakyTenant {
    fn send(&self, request: HttpRequest) -> HttpOutcome {
        *self
            .asked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(request.url.clone())
            .or_default() += 1;
        let n = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(3) {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return Ok(HttpResponse::new(
                500,
                "application/json",
                b"{\"error\":\"server_error\"}".to_vec(),
            ));
        }
        Transport::send(&self.fixtures, request)
    }
}

fn key(generation: u64) -> SigningKey {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&(generation + 1).to_be_bytes());
    SigningKey::from_slice(&seed).expect("a valid P-256 scalar")
}

fn jwk(generation: u64) -> Value {
    let point = key(generation).verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256",
           "kid": format!("key-{generation}"),
           "x": B64.encode(&bytes[1..33]), "y": B64.encode(&bytes[33..65])})
}

/// The key set published during `generation`: the previous key, the signing key and the
/// next one.
fn jwks(generation: u64) -> HttpResponse {
    let keys: Vec<Value> = (generation.saturating_sub(1)..=generation + 1)
        .map(jwk)
        .collect();
    HttpResponse::json(json!({ "keys": keys }).to_string())
}

fn token(generation: u64) -> String {
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": format!("key-{generation}")});
    let claims = json!({"iss": ISSUER, "sub": "soak", "aud": AUDIENCE,
                        "iat": T0 - 10, "exp": T0 + 10_000_000});
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature: Signature = key(generation).sign(input.as_bytes());
    format!("{input}.{}", B64.encode(signature.to_bytes()))
}

/// A line of `/proc/self/status` (`VmRSS`, `VmHWM`) in KiB, where there is one.
fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.replace(['_', ','], "").parse()?,
        None => 1_000_000,
    };
    let rotate_every = (total / 10).max(1);
    let generations = total.div_ceil(rotate_every);
    let tokens: Vec<String> = (0..=generations).map(token).collect();

    let fixtures = FixtureTransport::new()
        .with_get(
            DISCOVERY,
            HttpResponse::json(json!({"issuer": ISSUER, "jwks_uri": JWKS}).to_string()),
        )
        .with_get(JWKS, jwks(0));
    let tenant = FlakyTenant {
        fixtures,
        asked: Mutex::new(BTreeMap::new()),
        sent: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    };
    let verifier = VerifierConfig::new()
        .domain("soak.example")
        .audience(AUDIENCE)
        .algorithms(["ES256"])
        .cache(CachePolicy::default())
        .build()?;
    // Simulated time: 1,000 s per rotation.
    let done = Arc::new(AtomicU64::new(0));
    let clock_done = Arc::clone(&done);
    let clock = move || {
        let n = clock_done.load(Ordering::Relaxed);
        UnixTime::from_secs(T0 + n.saturating_mul(1000) / rotate_every)
    };
    let client = Arc::new(Client::new(verifier, tenant, clock));
    let refresher = Client::spawn_refresher(&client)?;

    let rejections: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
    let memory: Mutex<Vec<(u64, Option<u64>)>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                let mut local: BTreeMap<String, u64> = BTreeMap::new();
                loop {
                    let n = done.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    let generation = n / rotate_every;
                    if n.is_multiple_of(rotate_every) && generation > 0 {
                        // Rotation: tokens are signed with the key published one rotation
                        // ago; the tenant publishes the next one.
                        client.driver().transport().fixtures.set(
                            Method::Get,
                            JWKS,
                            jwks(generation),
                        );
                        memory
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push((n, proc_status_kib("VmRSS:")));
                    }
                    let token = &tokens[usize::try_from(generation).unwrap_or(0)];
                    if let Err(e) = client.verify(token, &RequestContext::default()) {
                        *local.entry(format!("{:?}", e.reason())).or_default() += 1;
                    }
                }
                let mut all = rejections
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (reason, count) in local {
                    *all.entry(reason).or_default() += count;
                }
            });
        }
    });
    let elapsed = started.elapsed();
    drop(refresher);

    let transport = client.driver().transport();
    let rejections = rejections.into_inner().unwrap_or_default();
    let rejected: u64 = rejections.values().sum();
    println!("verifications:      {total} on {THREADS} threads in {elapsed:.2?}");
    println!(
        "simulated time:     {} s (TTL 600 s, refresh in the last 10 %, cooldown 30 s)",
        generations * 1000
    );
    println!("key rotations:      {}", generations.saturating_sub(1));
    let asked = transport
        .asked
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    println!(
        "tenant requests:    {} (discovery {}, jwks {}), {} answered 500",
        transport.sent.load(Ordering::Relaxed),
        asked.get(DISCOVERY).copied().unwrap_or(0),
        asked.get(JWKS).copied().unwrap_or(0),
        transport.failed.load(Ordering::Relaxed),
    );
    println!("rejections:         {rejected}");
    for (reason, count) in &rejections {
        println!("  {count:>8}  {reason}");
    }
    println!("resident memory at each rotation (KiB):");
    for (n, rss) in memory.into_inner().unwrap_or_default() {
        match rss {
            Some(kib) => println!("  after {n:>9}: {kib}"),
            None => println!("  after {n:>9}: (not available on this platform)"),
        }
    }
    if let Some(peak) = proc_status_kib("VmHWM:") {
        println!("peak resident memory: {peak} KiB");
    }
    Ok(())
}
