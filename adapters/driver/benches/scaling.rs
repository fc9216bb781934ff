//! Warm verifications through the driver on 1 and 2 threads: the throughput ratio shows
//! whether warm verifications serialise on a lock (2.0 is perfect scaling on two cores).
//!
//! `cargo bench -p auth0-api-driver --bench scaling`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth0_api::{HttpOutcome, HttpRequest, HttpResponse, RequestContext, UnixTime, VerifierConfig};
use auth0_api_driver::{Client, Transport};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use criterion::{Criterion, criterion_group, criterion_main};
use p256::ecdsa::{Signature, SigningKey, signature::Signer as _};
use serde_json::json;

const ISSUER: &str = "https://tenant.example/";
const NOW: u64 = 1_700_000_000;

fn key() -> SigningKey {
    SigningKey::from_slice(&[7; 32]).unwrap()
}

/// Answers discovery and the JWK Set from memory: the bench measures the driver, not I/O.
struct Canned {
    jwks: Vec<u8>,
}

impl Transport for Canned {
    fn send(&self, request: HttpRequest) -> HttpOutcome {
        if request.url.ends_with("openid-configuration") {
            let doc = json!({"issuer": ISSUER, "jwks_uri": "https://tenant.example/jwks"});
            Ok(HttpResponse::json(doc.to_string()))
        } else {
            Ok(HttpResponse::json(self.jwks.clone()))
        }
    }
}

fn setup() -> (Arc<Client<Canned>>, Arc<String>) {
    let point = key().verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
                     "x": B64.encode(&bytes[1..33]), "y": B64.encode(&bytes[33..65])});
    let jwks = json!({ "keys": [jwk] }).to_string().into_bytes();
    let claims = json!({"iss": ISSUER, "sub": "user", "aud": "api://bench",
                        "iat": NOW, "exp": NOW + 3600, "scope": "read"});
    let input = format!(
        "{}.{}",
        B64.encode(r#"{"alg":"ES256","kid":"k1","typ":"at+jwt"}"#),
        B64.encode(claims.to_string())
    );
    let sig: Signature = key().sign(input.as_bytes());
    let token = format!("{input}.{}", B64.encode(sig.to_bytes()));
    let verifier = VerifierConfig::new()
        .domain("tenant.example")
        .audience("api://bench")
        .algorithms(["ES256"])
        .build()
        .unwrap();
    let client = Client::new(verifier, Canned { jwks }, || UnixTime::from_secs(NOW + 1));
    // Cold once, so every measured verification is warm.
    client.verify(&token, &RequestContext::default()).unwrap();
    (Arc::new(client), Arc::new(token))
}

/// `n` warm verifications split over `threads` threads; the wall time for all of them.
fn run(client: &Arc<Client<Canned>>, token: &Arc<String>, threads: u64, n: u64) -> Duration {
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (client, token) = (Arc::clone(client), Arc::clone(token));
            std::thread::spawn(move || {
                for _ in 0..n / threads {
                    black_box(client.verify(&token, &RequestContext::default()).unwrap());
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    start.elapsed()
}

fn scaling(c: &mut Criterion) {
    let (client, token) = setup();
    let mut group = c.benchmark_group("driver/warm ES256");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for threads in [1, 2] {
        group.bench_function(format!("{threads} thread(s), per verification"), |b| {
            b.iter_custom(|iters| run(&client, &token, threads, iters.max(threads)));
        });
    }
    group.finish();

    // The ratio, measured in this run: the same work on 1 and on 2 threads, alternated.
    let (mut one, mut two) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..5 {
        one += run(&client, &token, 1, 2_000);
        two += run(&client, &token, 2, 2_000);
    }
    println!(
        "driver scaling: 2 threads give {:.2}x the throughput of 1 (goal >= 1.9 on 2 cores)",
        one.as_secs_f64() / two.as_secs_f64()
    );
}

criterion_group!(benches, scaling);
criterion_main!(benches);
