//! What the DPoP and token-exchange flows cost beyond their signature checks, in one run, for
//! each provider.
//!
//! - `DPoP/ES256/<provider>`: `dpop_verification` is a warm verification of a DPoP-bound ES256
//!   access token (`cnf.jkt`) with its ES256 proof (RFC 9449), through the flow with the
//!   `DPoP` scheme, proof, method and URL in the request context (`poll_shared` on filled
//!   caches; no replay cache). Beside it, `two_raw_signatures` is the two signature checks it
//!   implies: the token with the tenant key and the proof with its embedded key, both keys
//!   imported beforehand, both with the verifier's provider as the flow does.
//!   `bearer_verification` is the fixture ES256 token
//!   (same key and claims, no `cnf`, no proof) verified as a bearer token: the difference to
//!   `dpop_verification` is what the proof adds. Report
//!   `dpop_verification / two_raw_signatures`.
//! - `exchange/<provider>`: the custom token exchange without the network, discovery and the
//!   JWK Set cached. `build_token_request` runs from `custom_token_exchange` to the `NeedHttp`
//!   for the token endpoint with `client_secret_post` (`build_token_request_private_key_jwt`:
//!   with an ES256 client assertion instead). `process_token_response` hands an access-token
//!   response to the flow and polls it to `Done`; `process_token_response_with_id_token` does
//!   the same with an ES256 ID token in the response, which the flow validates (signature,
//!   `iss`, `aud`, `exp`, `iat`), beside `id_token_raw_signature` on the same key. Report
//!   `process_token_response_with_id_token / id_token_raw_signature`. These rows time the step
//!   only: flows to process with are prepared outside the timing, and what a step hands on
//!   (the flow, the request, the token set) is dropped outside it.
//!
//! The tokens, the proof and the ID token are signed at setup; everything runs at the fixed
//! `NOW`, and every row's result is checked before it is timed.
//!
//! Times are the benchmark thread's CPU time (Linux and macOS; wall time elsewhere), not wall
//! time as in `verify.rs`: on a shared machine, wall time also counts the slices another
//! process takes on the same core, which comes and goes between rows and skews the ratios.
//!
//! Run: `cargo bench -p auth0-api --bench flows [--features aws-lc]`. Compare rows of the same
//! group as ratios; absolute times depend on the machine.

mod fixtures;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::measurement::WallTime;
#[cfg(any(target_os = "linux", target_os = "macos"))]
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BatchSize, criterion_group, criterion_main};
use serde_json::{Map, Value, json};

use auth0_api::Action;
use auth0_api::Claims;
use auth0_api::Limits;
use auth0_api::RequestContext;
use auth0_api::Verifier;
use auth0_api::cache::{CachePolicy, Caches};
use auth0_api::exchange::{
    ACCESS_TOKEN_TYPE, CustomTokenExchange, ExchangeConfig, ExchangeToken, TokenExchanger, TokenSet,
};
use auth0_api::internals::CompactJws;
use auth0_api::jose::jwk::{Jwk, JwkSet};
use auth0_api::jose::sign::{Es256Signer, sign_compact};
use auth0_api::jose::verify::{CryptoProvider, RUST_CRYPTO};
use auth0_api::verify::dpop::access_token_hash;
use auth0_api::{HttpRequest, HttpResponse};

use fixtures::{
    DISCOVERY, DISCOVERY_URL, ES256_TOKEN, JWKS, JWKS_URL, NOW, RS256_TOKEN, TOKEN_URL,
};

/// The clock of every row.
#[cfg(any(target_os = "linux", target_os = "macos"))]
type Clock = ThreadCpuTime;
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
type Clock = WallTime;

type Criterion = criterion::Criterion<Clock>;

/// The CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`, user and system), in
/// nanoseconds like [`WallTime`], whose formatting it borrows.
#[cfg(any(target_os = "linux", target_os = "macos"))]
struct ThreadCpuTime;

#[cfg(any(target_os = "linux", target_os = "macos"))]
impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }

    fn end(&self, start: Duration) -> Duration {
        thread_cpu_time().saturating_sub(start)
    }

    fn add(&self, v1: &Duration, v2: &Duration) -> Duration {
        *v1 + *v2
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        static WALL_TIME: WallTime = WallTime;
        WALL_TIME.formatter()
    }
}

#[cfg(any(target_os = "linux", target_os = "macos"))]
fn thread_cpu_time() -> Duration {
    use rustix::time::{ClockId, clock_gettime};
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The protected resource the DPoP proof is made for.
const API_URL: &str = "https://api.example.com/orders";
/// The client of the token exchange (the `azp` of the fixture tokens).
const CLIENT_ID: &str = "kbyuFDidLLm280LIwVFiazOqjO3ty8KH";
/// The random bytes an exchange is started with (the client assertion's `jti`).
const RANDOM: [u8; 16] = [7; 16];

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(members) => members,
        other => panic!("not an object: {other}"),
    }
}

/// An ES256 signer for the P-256 key with scalar `[seed; 32]` (the DPoP proof key, the
/// client-assertion key).
fn p256_signer(seed: u8) -> Es256Signer {
    let key = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
    let point = key.verifying_key().to_sec1_point(false);
    let xy = point.as_bytes();
    let jwk = json!({"kty": "EC", "crv": "P-256", "d": URL_SAFE_NO_PAD.encode([seed; 32]),
                     "x": URL_SAFE_NO_PAD.encode(&xy[1..33]),
                     "y": URL_SAFE_NO_PAD.encode(&xy[33..65])});
    Es256Signer::from_jwk(&object(jwk)).unwrap()
}

/// A DPoP-bound access token (the fixture claims plus `cnf.jkt`) signed by the tenant's ES256
/// key, and a proof for `GET API_URL` signed by the client's proof key.
fn dpop_token_and_proof() -> (String, String) {
    let proof_signer = p256_signer(0x5a);
    // The public key as a client sends it: `kty`, `crv`, `x`, `y`.
    let mut jwk = proof_signer.public_jwk();
    jwk.retain(|name, _| ["kty", "crv", "x", "y"].contains(&name.as_str()));
    let jkt = Jwk::from_members(&jwk, &RUST_CRYPTO).unwrap().thumbprint();

    let mut claims = fixtures::access_token_claims();
    claims.insert("cnf".into(), json!({ "jkt": jkt }));
    let header = object(json!({"typ": "at+jwt"}));
    let token = sign_compact(&header, &claims, &fixtures::tenant_es256_signer()).unwrap();

    let header = object(json!({"typ": "dpop+jwt", "jwk": jwk}));
    let claims = json!({"jti": "e1j3V_bKic8-LAEB", "htm": "GET", "htu": API_URL,
                        "iat": NOW.as_secs() - 2, "ath": access_token_hash(&token)});
    let proof = sign_compact(&header, &object(claims), &proof_signer).unwrap();
    (token, proof)
}

fn dpop_context<'a>(proof: &'a str, method: &'a str) -> RequestContext<'a> {
    RequestContext {
        scheme: Some("DPoP"),
        dpop_proof: Some(proof),
        http_method: Some(method),
        http_url: Some(API_URL),
        ..RequestContext::default()
    }
}

/// A warm DPoP verification: the flow finished with shared access to filled caches (no
/// replay cache, so `poll_shared` does not decline).
fn dpop_warm(
    verifier: &Verifier,
    caches: &Caches,
    token: &str,
    ctx: &RequestContext<'_>,
) -> Claims {
    let mut flow = verifier.verify_access_token(token, ctx).unwrap();
    flow.poll_shared(caches, NOW).unwrap().unwrap()
}

fn dpop(c: &mut Criterion) {
    let (token, proof) = dpop_token_and_proof();
    let ctx = dpop_context(&proof, "GET");
    for (name, provider) in fixtures::providers() {
        let verifier = fixtures::verifier(provider);
        let mut caches = verifier.new_caches();
        fixtures::drive(&verifier, &mut caches, ES256_TOKEN, NOW);
        assert!(!caches.has_replay_cache());
        // The proof is really checked: the same request with another method is refused.
        let mut flow = verifier.verify_access_token(&token, &ctx).unwrap();
        assert!(matches!(flow.poll_shared(&caches, NOW), Some(Ok(_))));
        let post = dpop_context(&proof, "POST");
        let mut flow = verifier.verify_access_token(&token, &post).unwrap();
        assert!(matches!(flow.poll_shared(&caches, NOW), Some(Err(_))));

        let keys = JwkSet::parse(JWKS.as_bytes(), provider).unwrap();
        let token_jws = CompactJws::parse(&token, &Limits::default()).unwrap();
        let token_key = keys.select(token_jws.header()).unwrap();
        let proof_jws = CompactJws::parse(&proof, &Limits::default()).unwrap();
        let proof_jwk = proof_jws.header().jwk.as_ref().unwrap();
        let proof_key = Jwk::from_members(proof_jwk, provider).unwrap();

        let mut group = c.benchmark_group(format!("DPoP/ES256/{name}"));
        group.bench_function("two_raw_signatures", |b| {
            b.iter(|| {
                for (key, jws) in [(token_key, &token_jws), (&proof_key, &proof_jws)] {
                    key.verify(
                        jws.header().alg,
                        black_box(jws.signing_input()),
                        black_box(jws.signature()),
                    )
                    .unwrap();
                }
            })
        });
        group.bench_function("dpop_verification", |b| {
            b.iter(|| dpop_warm(&verifier, &caches, black_box(&token), &ctx))
        });
        group.bench_function("bearer_verification", |b| {
            b.iter(|| fixtures::warm(&verifier, &caches, black_box(ES256_TOKEN), NOW))
        });
        group.finish();
    }
}

/// An ID token for [`CLIENT_ID`] with Auth0's default profile claims, signed by the tenant's
/// ES256 key.
fn id_token() -> String {
    let claims = object(json!({
        "iss": "https://tenant.example/", "sub": "auth0|64f1c2d9e4b0a1b2c3d4e5f6",
        "aud": CLIENT_ID, "iat": NOW.as_secs() - 1, "exp": NOW.as_secs() + 36_000,
        "sid": "p7k2N9qXr4TgHb1Lw8cV3mZs5Ea0Jd6Y", "nickname": "jane.doe", "name": "Jane Doe",
        "picture": "https://s.gravatar.com/avatar/9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d?s=480&r=pg",
        "updated_at": "2023-11-14T22:12:00.000Z", "email": "jane.doe@example.com",
        "email_verified": true,
    }));
    let header = object(json!({"typ": "JWT"}));
    sign_compact(&header, &claims, &fixtures::tenant_es256_signer()).unwrap()
}

/// A token endpoint answer to a custom token exchange, with `id_token` when given.
fn token_response(id_token: Option<&str>) -> Vec<u8> {
    let mut body = json!({"access_token": RS256_TOKEN, "expires_in": 86_400,
                          "scope": "openid profile email read:orders", "token_type": "Bearer",
                          "issued_token_type": ACCESS_TOKEN_TYPE});
    if let Some(id_token) = id_token {
        body["id_token"] = json!(id_token);
    }
    serde_json::to_vec(&body).unwrap()
}

fn exchange_request() -> CustomTokenExchange {
    CustomTokenExchange {
        // An external token of the usual size.
        subject_token: ES256_TOKEN.into(),
        subject_token_type: "urn:acme:legacy-system-token".into(),
        audience: Some("https://api.example.com/orders".into()),
        scope: Some("openid profile email read:orders".into()),
        ..CustomTokenExchange::default()
    }
}

fn exchanger(provider: &'static dyn CryptoProvider, private_key_jwt: bool) -> TokenExchanger {
    let config = ExchangeConfig::new()
        .domain("tenant.example")
        .client_id(CLIENT_ID)
        .crypto_provider(provider);
    let config = if private_key_jwt {
        config.client_assertion_signer(Arc::new(p256_signer(0x3c)))
    } else {
        config.client_secret("Sx0bXgyEVr1cGqN8vJ3kW6hLmT2pQ9aZ")
    };
    config.build().unwrap()
}

/// Starts an exchange and polls it to the token request (discovery cached).
fn start<'a>(
    exchanger: &'a TokenExchanger,
    caches: &mut Caches,
    request: &CustomTokenExchange,
) -> (ExchangeToken<'a, TokenSet>, HttpRequest) {
    let mut flow = exchanger.custom_token_exchange(request, RANDOM).unwrap();
    match flow.poll(caches, NOW).unwrap() {
        Action::NeedHttp(request) => (flow, request),
        other => panic!("expected the token request, got {other:?}"),
    }
}

/// Hands the token response to a flow waiting for it and polls it to the end (JWK Set cached).
fn finish<'a>(
    mut flow: ExchangeToken<'a, TokenSet>,
    caches: &mut Caches,
    response: HttpResponse,
) -> (ExchangeToken<'a, TokenSet>, TokenSet) {
    flow.handle_response(caches, Ok(response), NOW);
    match flow.poll(caches, NOW).unwrap() {
        Action::Done(set) => (flow, set),
        other => panic!("expected the token set, got {other:?}"),
    }
}

/// A whole exchange, answering discovery, JWKS and the token endpoint from the fixtures.
fn drive_exchange(
    exchanger: &TokenExchanger,
    caches: &mut Caches,
    request: &CustomTokenExchange,
    token_body: &[u8],
) -> TokenSet {
    let mut flow = exchanger.custom_token_exchange(request, RANDOM).unwrap();
    loop {
        match flow.poll(caches, NOW).unwrap() {
            Action::NeedHttp(request) => {
                let body = match request.url.as_str() {
                    DISCOVERY_URL => DISCOVERY.as_bytes(),
                    JWKS_URL => JWKS.as_bytes(),
                    TOKEN_URL => token_body,
                    other => panic!("unexpected request to {other}"),
                };
                flow.handle_response(caches, Ok(HttpResponse::json(body)), NOW);
            }
            Action::Wait(key) => panic!("unexpected wait for {key:?}"),
            Action::CheckReplay(check) => panic!("unexpected replay check {check:?}"),
            Action::Done(set) => return set,
        }
    }
}

fn exchange(c: &mut Criterion) {
    let request = exchange_request();
    let id_token = id_token();
    let access_only = token_response(None);
    let with_id_token = token_response(Some(&id_token));
    for (name, provider) in fixtures::providers() {
        let secret = exchanger(provider, false);
        let signed = exchanger(provider, true);
        // `caches` for the timed steps: discovery and the JWK Set. `setup_caches` (discovery)
        // for preparing flows outside the timing.
        let mut caches = Caches::new(CachePolicy::default());
        let set = drive_exchange(&secret, &mut caches, &request, &with_id_token);
        assert!(set.id_token_claims.is_some());
        let mut setup_caches = Caches::new(CachePolicy::default());
        drive_exchange(&secret, &mut setup_caches, &request, &access_only);

        // Every timed step ends where it should, without a request for discovery or keys.
        for ex in [&secret, &signed] {
            let (_, token_request) = start(ex, &mut caches, &request);
            assert_eq!(token_request.url, TOKEN_URL);
        }
        let (flow, _) = start(&secret, &mut setup_caches, &request);
        let (_, set) = finish(flow, &mut caches, HttpResponse::json(access_only.clone()));
        assert_eq!(set.access_token.expose_secret(), RS256_TOKEN);
        assert!(set.id_token.is_none());
        let (flow, _) = start(&secret, &mut setup_caches, &request);
        let (_, set) = finish(flow, &mut caches, HttpResponse::json(with_id_token.clone()));
        assert!(set.id_token_claims.is_some());

        let keys = JwkSet::parse(JWKS.as_bytes(), provider).unwrap();
        let id_jws = CompactJws::parse(&id_token, &Limits::default()).unwrap();
        let id_key = keys.select(id_jws.header()).unwrap();

        let mut group = c.benchmark_group(format!("exchange/{name}"));
        for (row, ex) in [
            ("build_token_request", &secret),
            ("build_token_request_private_key_jwt", &signed),
        ] {
            group.bench_function(row, |b| {
                b.iter_batched(
                    || (),
                    |()| start(ex, &mut caches, black_box(&request)),
                    BatchSize::LargeInput,
                )
            });
        }
        for (row, body) in [
            ("process_token_response", &access_only),
            ("process_token_response_with_id_token", &with_id_token),
        ] {
            group.bench_function(row, |b| {
                b.iter_batched(
                    || {
                        let (flow, _) = start(&secret, &mut setup_caches, &request);
                        (flow, HttpResponse::json(body.clone()))
                    },
                    |(flow, response)| finish(flow, &mut caches, black_box(response)),
                    BatchSize::LargeInput,
                )
            });
        }
        group.bench_function("id_token_raw_signature", |b| {
            b.iter(|| {
                id_key
                    .verify(
                        id_jws.header().alg,
                        black_box(id_jws.signing_input()),
                        black_box(id_jws.signature()),
                    )
                    .unwrap()
            })
        });
        group.finish();
    }
}

fn config() -> Criterion {
    fixtures::short_runs(criterion::Criterion::default().with_measurement(Clock {}))
}

criterion_group! {
    name = benches;
    config = config();
    targets = dpop, exchange
}
criterion_main!(benches);
