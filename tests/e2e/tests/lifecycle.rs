//! Cache lifecycle through the driver, against the local tenant over HTTPS on loopback
//! (ureq transport) and through the driver's fixture transport, with a simulated clock:
//! snapshots that survive a restart, refresh ahead of expiry off the request path, and stale
//! keys while the tenant is down.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use auth0_api::{
    CachePolicy, DomainPolicy, HttpResponse, Method, RequestContext, SnapshotError, UnixTime,
    Verifier, VerifierConfig,
};
use auth0_api_driver::{Client, FixtureTransport, SnapshotFileError};
use auth0_api_mock_tenant::{Alg, DEFAULT_AUDIENCE, MockTenant, TenantOptions, TokenSpec};
use auth0_api_ureq::{ClientOptions, UreqTransport};

const DISCOVERY: &str = "/.well-known/openid-configuration";
const JWKS: &str = "/.well-known/jwks.json";
/// The simulated start time.
const T0: u64 = 1_900_000_000;

/// A clock the test moves by hand.
#[derive(Clone)]
struct SimClock(Arc<AtomicU64>);

impl SimClock {
    fn new() -> Self {
        Self(Arc::new(AtomicU64::new(T0)))
    }

    fn set(&self, secs_after_t0: u64) {
        self.0.store(T0 + secs_after_t0, Ordering::SeqCst);
    }

    fn clock(&self) -> impl Fn() -> UnixTime + Send + Sync + 'static {
        let now = Arc::clone(&self.0);
        move || UnixTime::from_secs(now.load(Ordering::SeqCst))
    }
}

fn tenant() -> MockTenant {
    MockTenant::start(TenantOptions::default()).unwrap()
}

fn verifier(tenant: &MockTenant, policy: CachePolicy) -> Verifier {
    VerifierConfig::new()
        .domain(tenant.issuer())
        .audience(DEFAULT_AUDIENCE)
        .algorithms(["ES256"])
        .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
        .cache(policy)
        .build()
        .unwrap()
}

/// A token of the tenant's current ES256 key, valid in simulated time for a day.
fn token(tenant: &MockTenant) -> String {
    tenant
        .mint_access_token(&TokenSpec {
            alg: Alg::Es256,
            audience: vec![DEFAULT_AUDIENCE.to_owned()],
            iat: Some(T0 - 10),
            exp: Some(T0 + 200_000),
            ..TokenSpec::default()
        })
        .unwrap()
}

/// A client over real HTTPS to `tenant`, on the simulated clock.
fn https_client(
    tenant: &MockTenant,
    policy: CachePolicy,
    clock: &SimClock,
) -> Client<UreqTransport> {
    let options = ClientOptions {
        root_certificates_pem: vec![tenant.ca_pem().as_bytes().to_vec()],
        timeout: Duration::from_secs(10),
        ..ClientOptions::default()
    };
    let transport = UreqTransport::new(&options).unwrap();
    Client::new(verifier(tenant, policy), transport, clock.clock())
}

fn verify<T: auth0_api_driver::Transport>(client: &Client<T>, token: &str) -> Result<(), String> {
    client
        .verify(token, &RequestContext::default())
        .map(|_| ())
        .map_err(|e| format!("{:?}", e.reason()))
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "auth0-lifecycle-{}-{name}.json",
        std::process::id()
    ))
}

/// A snapshot written by one process restores the same verifications in the next with zero
/// requests to the tenant; loaded after the TTL, it is dropped and the next verification
/// fetches.
#[test]
fn a_restarted_client_verifies_its_first_token_with_no_request() {
    let tenant = tenant();
    let clock = SimClock::new();
    let t = token(&tenant);
    let path = temp_path("round-trip");
    {
        let first = https_client(&tenant, CachePolicy::default(), &clock);
        verify(&first, &t).unwrap();
        assert_eq!(tenant.total_requests(), 2);
        first.save_snapshot(&path).unwrap();
    }
    tenant.reset_counts();
    clock.set(300);
    let restarted = https_client(&tenant, CachePolicy::default(), &clock);
    let restored = restarted.load_snapshot(&path).unwrap();
    assert_eq!(
        (restored.discovery, restored.jwks, restored.dropped),
        (1, 1, 0)
    );
    for _ in 0..10 {
        verify(&restarted, &t).unwrap();
    }
    assert_eq!(tenant.total_requests(), 0, "no request after a restore");

    // Older than the TTL (600 s): nothing restored, the first verification fetches.
    clock.set(600);
    let late = https_client(&tenant, CachePolicy::default(), &clock);
    let restored = late.load_snapshot(&path).unwrap();
    assert_eq!(
        (restored.discovery, restored.jwks, restored.dropped),
        (0, 0, 2)
    );
    verify(&late, &t).unwrap();
    assert_eq!(
        (tenant.request_count(DISCOVERY), tenant.request_count(JWKS)),
        (1, 1)
    );
    std::fs::remove_file(&path).unwrap();
}

/// A truncated, edited, foreign or missing snapshot file is refused with a typed error, the
/// caches are unchanged and the client falls back to fetching.
#[test]
fn a_damaged_snapshot_file_is_refused_and_the_client_fetches() {
    let tenant = tenant();
    let clock = SimClock::new();
    let t = token(&tenant);
    let path = temp_path("damaged");
    let first = https_client(&tenant, CachePolicy::default(), &clock);
    verify(&first, &t).unwrap();
    first.save_snapshot(&path).unwrap();
    let good = std::fs::read(&path).unwrap();
    let text = String::from_utf8(good.clone()).unwrap();
    // The `x` coordinate of a key, one character changed.
    let at = text.find("\\\"x\\\":\\\"").unwrap() + 8;
    let mut edited = good.clone();
    edited[at] = if edited[at] == b'A' { b'B' } else { b'A' };
    let other_tenant = MockTenant::start(TenantOptions::default()).unwrap();

    let cases: Vec<(Vec<u8>, SnapshotError)> = vec![
        (good[..good.len() / 2].to_vec(), SnapshotError::Malformed),
        (good[..good.len() - 1].to_vec(), SnapshotError::Malformed),
        (Vec::new(), SnapshotError::Malformed),
        (edited, SnapshotError::Digest),
        (
            text.replacen("\"version\":1", "\"version\":7", 1)
                .into_bytes(),
            SnapshotError::Version { found: 7 },
        ),
    ];
    for (bytes, expected) in cases {
        std::fs::write(&path, &bytes).unwrap();
        tenant.reset_counts();
        let client = https_client(&tenant, CachePolicy::default(), &clock);
        match client.load_snapshot(&path) {
            Err(SnapshotFileError::Snapshot(e)) => assert_eq!(e, expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
        verify(&client, &t).unwrap();
        assert_eq!(tenant.total_requests(), 2, "fell back to fetching");
    }
    // Another verifier configuration (another tenant).
    std::fs::write(&path, &good).unwrap();
    let foreign = https_client(&other_tenant, CachePolicy::default(), &clock);
    assert!(matches!(
        foreign.load_snapshot(&path),
        Err(SnapshotFileError::Snapshot(SnapshotError::Configuration))
    ));
    // Missing.
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        first.load_snapshot(&path),
        Err(SnapshotFileError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound
    ));
    // Saving replaces the file whole, and leaves no temporary file behind.
    first.save_snapshot(&path).unwrap();
    first.save_snapshot(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), good);
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.contains("auth0-lifecycle") && name.contains("damaged") && name.ends_with(".tmp")
        })
        .count();
    assert_eq!(leftovers, 0);
    std::fs::remove_file(&path).unwrap();
}

/// Two threads verify continuously while the simulated clock runs through three TTLs; a
/// third refreshes whatever the verifications flag. Each resource is fetched once per TTL,
/// every verification is warm (none waits for a fetch), and no request is made on the
/// request path.
#[test]
fn refresh_ahead_fetches_once_per_ttl_under_concurrent_traffic() {
    let tenant = tenant();
    let clock = SimClock::new();
    let t = token(&tenant);
    let client = https_client(&tenant, CachePolicy::default(), &clock);
    verify(&client, &t).unwrap();
    let mut verified = 0u64;
    for step in 1..=180u64 {
        clock.set(step * 10);
        let done = AtomicBool::new(false);
        let counts: Vec<u64> = std::thread::scope(|s| {
            let refresher = s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    if client.wait_refresh_wanted(Duration::from_millis(5)) {
                        client.refresh_due();
                    }
                }
                client.refresh_due()
            });
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        (0..20)
                            .map(|_| verify(&client, &t).map(|()| 1u64).unwrap())
                            .sum::<u64>()
                    })
                })
                .collect();
            let counts = workers.into_iter().map(|w| w.join().unwrap()).collect();
            done.store(true, Ordering::SeqCst);
            let report = refresher.join().unwrap();
            assert!(report.failed.is_empty(), "{report:?}");
            counts
        });
        verified += counts.iter().sum::<u64>();
    }
    assert_eq!(verified, 180 * 40);
    // Fetched at 0, refreshed in the last 60 s of each 600 s TTL: at 540, 1080, 1620.
    assert_eq!(tenant.request_count(JWKS), 4);
    assert_eq!(tenant.request_count(DISCOVERY), 4);
    assert_eq!(
        client.driver().wakeups(),
        0,
        "no verification waited for a fetch"
    );
}

/// While a refresh request is held up at the tenant, verifications go on from the cache.
#[test]
fn verifications_do_not_wait_for_a_refresh_in_flight() {
    let tenant = tenant();
    let clock = SimClock::new();
    let t = token(&tenant);
    let client = https_client(&tenant, CachePolicy::default(), &clock);
    verify(&client, &t).unwrap();
    clock.set(560);
    verify(&client, &t).unwrap();
    assert!(client.refresh_pending());
    tenant.stall(JWKS, Duration::from_secs(5));
    std::thread::scope(|s| {
        let refresh = s.spawn(|| client.refresh_due());
        while tenant.request_count(JWKS) < 2 {
            std::thread::yield_now();
        }
        // The JWKS refresh is at the tenant, held for 5 s: 200 verifications meanwhile.
        for _ in 0..200 {
            verify(&client, &t).unwrap();
        }
        assert!(!refresh.is_finished(), "the refresh was still in flight");
        let report = refresh.join().unwrap();
        assert_eq!(report.updated, 2, "{report:?}");
    });
    assert_eq!(tenant.request_count(JWKS), 2);
    assert_eq!(client.driver().wakeups(), 0);
}

/// The blocking refresher thread refreshes what verifications flag, and stops with its
/// handle.
#[test]
fn the_refresher_thread_refreshes_off_the_request_path() {
    let tenant = tenant();
    let clock = SimClock::new();
    let t = token(&tenant);
    let client = Arc::new(https_client(&tenant, CachePolicy::default(), &clock));
    let refresher = Client::spawn_refresher(&client).unwrap();
    verify(&client, &t).unwrap();
    clock.set(550);
    verify(&client, &t).unwrap();
    // Wait (boundedly) for the background thread's two requests.
    for _ in 0..2000 {
        if tenant.request_count(JWKS) == 2 && tenant.request_count(DISCOVERY) == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(tenant.request_count(JWKS), 2);
    assert_eq!(tenant.request_count(DISCOVERY), 2);
    // The tenant counts a request when it arrives; wait until the thread has stored the
    // responses, so the next verification cannot race the refresh.
    refresher.stop();
    // Refreshed at 550: fresh until 1150, verified with no more requests.
    clock.set(1100);
    verify(&client, &t).unwrap();
    assert_eq!(tenant.total_requests(), 4);
}

/// The async driver: a refresh task of the caller's own, on the fixture transport.
#[test]
fn an_async_refresh_task_refreshes_off_the_request_path() {
    let tenant = tenant();
    let clock = SimClock::new();
    let t = token(&tenant);
    let fixtures = FixtureTransport::new();
    let json = |v: serde_json::Value| HttpResponse::json(v.to_string());
    fixtures.set(Method::Get, tenant.url(DISCOVERY), json(tenant.discovery()));
    fixtures.set(Method::Get, tenant.url(JWKS), json(tenant.jwks()));
    let client = Arc::new(Client::new(
        verifier(&tenant, CachePolicy::default()),
        fixtures,
        clock.clock(),
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let background = Arc::clone(&client);
        let task = tokio::spawn(async move {
            background.refresh_wanted().await;
            background.refresh_due_async().await
        });
        client
            .verify_async(&t, &RequestContext::default())
            .await
            .unwrap();
        clock.set(570);
        client
            .verify_async(&t, &RequestContext::default())
            .await
            .unwrap();
        let report = task.await.unwrap();
        assert_eq!(report.updated, 2, "{report:?}");
    });
    let jwks = tenant.url(JWKS);
    assert_eq!(client.driver().transport().requests(&jwks), 2);
}

/// The tenant answers 500 to everything for two simulated hours from just before the TTL
/// ends. With `max_stale` one hour, known kids verify until TTL + 1 h, then are rejected;
/// during the outage each resource is retried once per 30 s cooldown; once the tenant is
/// back, verification recovers.
#[test]
fn a_two_hour_outage_is_served_stale_until_max_stale() {
    let tenant = tenant();
    let clock = SimClock::new();
    let t = token(&tenant);
    let policy = CachePolicy {
        max_stale: Duration::from_secs(3600),
        ..CachePolicy::default()
    };
    let client = https_client(&tenant, policy, &clock);
    verify(&client, &t).unwrap();
    tenant.fail(DISCOVERY, 500);
    tenant.fail(JWKS, 500);
    let stale_end = 600 + 3600;
    for s in (540..7740).step_by(5) {
        clock.set(s);
        let result = verify(&client, &t);
        if s < stale_end {
            assert_eq!(result, Ok(()), "at {s}");
        } else {
            assert!(result.unwrap_err().contains("DiscoveryFailed"), "at {s}");
        }
        let report = client.refresh_due();
        assert_eq!(report.updated, 0);
    }
    // Retries at 540, 570, ... : discovery through the whole outage (by refresh while
    // stale, then by the rejected verifications), the key set until max_stale ended.
    let discovery_retries = (7740 - 540) / 30;
    let jwks_retries = (stale_end - 540) / 30;
    assert_eq!(tenant.request_count(DISCOVERY), 1 + discovery_retries);
    assert_eq!(tenant.request_count(JWKS), 1 + jwks_retries);
    // Back: after the cooldown, the next verification fetches and passes.
    tenant.reset_faults();
    clock.set(7770);
    verify(&client, &t).unwrap();
    verify(&client, &t).unwrap();
    assert_eq!(tenant.request_count(DISCOVERY), 2 + discovery_retries);
    assert_eq!(tenant.request_count(JWKS), 2 + jwks_retries);
}
