//! The Redis replay store against a real `redis-server` on loopback and the local HTTPS
//! tenant: replays across instances, key lifetimes, concurrency, and Redis outages.

mod support;

use std::sync::Arc;
use std::time::Duration;

use auth0_api::verify::dpop::DpopError;
use auth0_api::{Reason, RequestContext};
use auth0_api_redis::{RedisReplayConfig, RedisReplayStore};
use support::{DpopKey, RedisServer, async_client, blocking_client, config, dpop_ctx, tenant};

fn is_replay(e: &auth0_api::VerifyError) -> bool {
    *e.reason() == Reason::Dpop(DpopError::Replayed)
        && (e.status(), e.code()) == (400, "invalid_dpop_proof")
}

fn is_unavailable(e: &auth0_api::VerifyError) -> bool {
    *e.reason() == Reason::ReplayStoreUnavailable
        && (e.status(), e.code()) == (503, "replay_store_unavailable")
}

/// Two instances with separate in-process caches share one Redis: a proof accepted by the
/// first is a replay at the second, and the key Redis holds for it lives for the proof's
/// window (330 s by default, plus the last second) and no longer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_accepted_by_one_instance_is_a_replay_at_another() {
    let redis = RedisServer::start();
    let tenant = tenant();
    let store_a = RedisReplayStore::new(config(&redis, &tenant)).unwrap();
    let store_b = RedisReplayStore::new(config(&redis, &tenant)).unwrap();
    let a = async_client(&tenant, store_a.clone());
    let b = async_client(&tenant, store_b);
    let key = DpopKey::new(7);
    let token = key.token(&tenant);

    let proof = key.proof(&token, "jti-shared-1");
    let claims = a.verify_async(&token, &dpop_ctx(&proof)).await.unwrap();
    assert_eq!(claims.get("cnf").unwrap()["jkt"], key.jkt.as_str());
    let err = b.verify_async(&token, &dpop_ctx(&proof)).await.unwrap_err();
    assert!(is_replay(&err), "{err:?}");
    // And back at the first instance, too.
    let err = a.verify_async(&token, &dpop_ctx(&proof)).await.unwrap_err();
    assert!(is_replay(&err), "{err:?}");
    // A fresh proof from the same key is accepted by either.
    let fresh = key.proof(&token, "jti-shared-2");
    b.verify_async(&token, &dpop_ctx(&fresh)).await.unwrap();

    // One key per accepted proof, under the prefix and the verifier's namespace.
    assert_eq!(redis.integer(&["DBSIZE"]), 2);
    let name = store_a.redis_key(&auth0_api::cache::ReplayKey::new(&key.jkt, "jti-shared-1"));
    let namespace = RedisReplayConfig::namespace_of(a.verifier());
    assert!(
        name.starts_with(&format!("auth0-api:dpop-jti:{namespace}:")),
        "{name}"
    );
    assert_eq!(redis.integer(&["EXISTS", &name]), 1);
    // The key expires with the proof's window: set, and at most 331 s (330 s window and
    // the last second), at least what is left of it. Redis drops it then by itself.
    let pttl = redis.integer(&["PTTL", &name]);
    assert!(pttl > 300_000 && pttl <= 331_000, "PTTL {pttl}");
    assert_eq!(redis.command(&["GET", &name]), "$1\r\n");
    // The raw jti never reaches Redis.
    assert_eq!(redis.integer(&["EXISTS", "jti-shared-1"]), 0);
}

/// The blocking driver answers the core's replay check through the same store, and shares
/// replays with an async instance; a shorter configured window gives a shorter TTL.
#[test]
fn the_blocking_driver_uses_the_store_too() {
    let redis = RedisServer::start();
    let tenant = tenant();
    let store = RedisReplayStore::new_blocking(config(&redis, &tenant)).unwrap();
    let blocking = blocking_client(&tenant, store.clone());
    let key = DpopKey::new(9);
    let token = key.token(&tenant);
    let proof = key.proof(&token, "jti-blocking-1");
    blocking.verify(&token, &dpop_ctx(&proof)).unwrap();
    let err = blocking.verify(&token, &dpop_ctx(&proof)).unwrap_err();
    assert!(is_replay(&err), "{err:?}");
    // An async instance on its own runtime sees the same key.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let other = async_client(
            &tenant,
            RedisReplayStore::new(config(&redis, &tenant)).unwrap(),
        );
        let err = other
            .verify_async(&token, &dpop_ctx(&proof))
            .await
            .unwrap_err();
        assert!(is_replay(&err), "{err:?}");
    });
    // A verifier with a 60 s + 5 s window asks Redis to keep its keys 66 s at most.
    let verifier = auth0_api::VerifierConfig::new()
        .domain(tenant.issuer())
        .audience(auth0_api_mock_tenant::DEFAULT_AUDIENCE)
        .algorithms(["ES256"])
        .domain_policy(auth0_api::DomainPolicy::STRICT.with_ip_literals(true))
        .dpop(auth0_api::DpopOptions {
            iat_offset: Duration::from_secs(60),
            iat_leeway: Duration::from_secs(5),
            ..auth0_api::DpopOptions::default()
        })
        .build()
        .unwrap();
    let transport =
        auth0_api_ureq::UreqTransport::new(&support::options(&tenant)).expect("transport");
    let short = auth0_api_driver::Client::new(verifier, transport, auth0_api_driver::system_clock)
        .with_replay_store(store.clone());
    let proof = key.proof(&token, "jti-short-window");
    short.verify(&token, &dpop_ctx(&proof)).unwrap();
    let name = store.redis_key(&auth0_api::cache::ReplayKey::new(
        &key.jkt,
        "jti-short-window",
    ));
    let pttl = redis.integer(&["PTTL", &name]);
    assert!(pttl > 50_000 && pttl <= 66_000, "PTTL {pttl}");
}

/// 1,000 distinct proofs from 50 concurrent tasks on two instances: all accepted, one key
/// each; the same 1,000 again: none accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_proofs_from_fifty_tasks() {
    let redis = RedisServer::start();
    let tenant = tenant();
    let clients = Arc::new([
        async_client(
            &tenant,
            RedisReplayStore::new(config(&redis, &tenant)).unwrap(),
        ),
        async_client(
            &tenant,
            RedisReplayStore::new(config(&redis, &tenant)).unwrap(),
        ),
    ]);
    let key = DpopKey::new(11);
    let token = Arc::new(key.token(&tenant));
    let proofs: Arc<Vec<String>> = Arc::new(
        (0..1000)
            .map(|i| key.proof(&token, &format!("jti-bulk-{i}")))
            .collect(),
    );

    let round = |pass: usize| {
        let clients = Arc::clone(&clients);
        let token = Arc::clone(&token);
        let proofs = Arc::clone(&proofs);
        async move {
            let mut tasks = Vec::new();
            for task in 0..50 {
                let (clients, token, proofs) = (
                    Arc::clone(&clients),
                    Arc::clone(&token),
                    Arc::clone(&proofs),
                );
                tasks.push(tokio::spawn(async move {
                    let (mut accepted, mut replays) = (0, 0);
                    for proof in proofs.iter().skip(task).step_by(50) {
                        // Each pass sends a proof to the other instance than before.
                        let client = &clients[(task + pass) % 2];
                        match client.verify_async(&token, &dpop_ctx(proof)).await {
                            Ok(_) => accepted += 1,
                            Err(e) if is_replay(&e) => replays += 1,
                            Err(e) => panic!("unexpected error {e:?}"),
                        }
                    }
                    (accepted, replays)
                }));
            }
            let mut totals = (0, 0);
            for task in tasks {
                let (accepted, replays) = task.await.unwrap();
                totals = (totals.0 + accepted, totals.1 + replays);
            }
            totals
        }
    };
    assert_eq!(round(0).await, (1000, 0));
    assert_eq!(redis.integer(&["DBSIZE"]), 1000);
    assert_eq!(round(1).await, (0, 1000));
    assert_eq!(redis.integer(&["DBSIZE"]), 1000);
}

/// Redis stops mid-run: a fail-closed instance refuses DPoP requests with 503
/// `replay_store_unavailable` (bearer requests are untouched), a fail-open one accepts them;
/// once Redis is back on the same port, the fail-closed instance verifies again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_closed_and_recovers() {
    let mut redis = RedisServer::start();
    let tenant = tenant();
    let closed_store = RedisReplayStore::new(config(&redis, &tenant)).unwrap();
    let open_store = RedisReplayStore::new(config(&redis, &tenant).fail_open(true)).unwrap();
    let closed = async_client(&tenant, closed_store.clone());
    let open = async_client(&tenant, open_store.clone());
    let key = DpopKey::new(13);
    let token = key.token(&tenant);

    let before = key.proof(&token, "jti-before-outage");
    closed
        .verify_async(&token, &dpop_ctx(&before))
        .await
        .unwrap();
    let warm = key.proof(&token, "jti-open-before");
    open.verify_async(&token, &dpop_ctx(&warm)).await.unwrap();
    assert_eq!(closed_store.unavailable_count(), 0);

    redis.stop();
    for i in 0..3 {
        let proof = key.proof(&token, &format!("jti-during-outage-{i}"));
        let err = closed
            .verify_async(&token, &dpop_ctx(&proof))
            .await
            .unwrap_err();
        assert!(is_unavailable(&err), "{err:?}");
        // A bare challenge: nothing is wrong with the credentials.
        assert!(
            err.www_authenticate().iter().all(|c| !c.contains("error=")),
            "{:?}",
            err.www_authenticate()
        );
        // Fail open: accepted, and counted.
        open.verify_async(&token, &dpop_ctx(&proof)).await.unwrap();
    }
    assert_eq!(closed_store.unavailable_count(), 3);
    assert_eq!(open_store.unavailable_count(), 3);
    // Bearer tokens never reach the store.
    let bearer = tenant
        .mint_access_token(
            &auth0_api_mock_tenant::TokenSpec::new(auth0_api_mock_tenant::DEFAULT_AUDIENCE)
                .alg(auth0_api_mock_tenant::Alg::Es256),
        )
        .unwrap();
    let bearer_ctx = RequestContext {
        scheme: Some("Bearer"),
        ..RequestContext::default()
    };
    closed.verify_async(&bearer, &bearer_ctx).await.unwrap();
    assert_eq!(closed_store.unavailable_count(), 3);

    // Back on the same port (empty: no persistence). The connection is re-made in the
    // background; allow it a bounded number of attempts.
    redis.restart();
    let mut recovered = None;
    for attempt in 0..100 {
        let proof = key.proof(&token, &format!("jti-after-outage-{attempt}"));
        match closed.verify_async(&token, &dpop_ctx(&proof)).await {
            Ok(_) => {
                recovered = Some(proof);
                break;
            }
            Err(e) if is_unavailable(&e) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    let proof = recovered.expect("the store recovers once redis is back");
    // Recovered means checked again: the same proof is now a replay at both instances.
    let err = closed
        .verify_async(&token, &dpop_ctx(&proof))
        .await
        .unwrap_err();
    assert!(is_replay(&err), "{err:?}");
    let mut open_sees_it = false;
    for _ in 0..100 {
        match open.verify_async(&token, &dpop_ctx(&proof)).await {
            Err(e) if is_replay(&e) => {
                open_sees_it = true;
                break;
            }
            // Still reconnecting: the fail-open store accepts meanwhile.
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert!(
        open_sees_it,
        "the fail-open store checks again once redis is back"
    );
}

/// Redis unreachable from the start (nothing listens): the store is still built, and every
/// DPoP check fails closed with the documented error; a server that is not Redis (the
/// tenant's HTTPS port) gets the same answer, without a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_foreign_server_is_unavailable() {
    let tenant = tenant();
    let key = DpopKey::new(15);
    let token = key.token(&tenant);
    let nothing = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let foreign = tenant.addr().port();
    for port in [nothing, foreign] {
        let config = RedisReplayConfig::for_verifier(
            format!("redis://127.0.0.1:{port}/"),
            &support::verifier(&tenant),
        )
        .connect_timeout(Duration::from_millis(300))
        .response_timeout(Duration::from_millis(300));
        let store = RedisReplayStore::new(config).unwrap();
        let client = async_client(&tenant, store.clone());
        let proof = key.proof(&token, &format!("jti-port-{port}"));
        let err = client
            .verify_async(&token, &dpop_ctx(&proof))
            .await
            .unwrap_err();
        assert!(is_unavailable(&err), "port {port}: {err:?}");
        assert_eq!(store.unavailable_count(), 1);
    }
}
