//! Refresh ahead of expiry, stale values while the tenant is down, and snapshots, driven by
//! hand with a fake `now`; requests are counted.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};
use core::time::Duration;

use proptest::prelude::*;
use serde_json::json;

use super::{DISCOVERY, ISS, JWKS, NOW, Server, claims, jwks_body, run, sign, verifier};
use crate::FetchKey;
use crate::cache::{CachePolicy, CacheSnapshot, Caches, RefreshError, Refreshed, SnapshotError};
use crate::config::{Verifier, VerifierConfig};
use crate::discovery::DocumentError;
use crate::flow::{Action, Flow};
use crate::http::{HttpOutcome, HttpResponse};
use crate::time::UnixTime;
use crate::verify::context::RequestContext;
use crate::verify::error::Reason;

fn at(secs: u64) -> UnixTime {
    UnixTime::from_secs(NOW + secs)
}

/// The claims of [`long_token`]: valid for a day, so that long simulated outages stay
/// within their lifetime.
fn long_claims() -> serde_json::Value {
    let mut c = claims();
    c["exp"] = json!(NOW + 200_000);
    c
}

fn long_token(seed: u8, kid: &str) -> String {
    sign(seed, json!({"alg":"ES256","kid":kid}), &long_claims())
}

/// A verifier with `policy`, its caches, and the tenant, after one verification of
/// `long_token(1, "k1")` (also returned) at `NOW`.
fn warmed(policy: CachePolicy) -> (Verifier, Caches, Server, String) {
    let v = verifier(policy);
    let mut caches = v.new_caches();
    let mut server = Server::new();
    let t = long_token(1, "k1");
    run(&v, &mut caches, &mut server, &t, NOW).unwrap();
    (v, caches, server, t)
}

/// A tenant that is up (answering as [`Server`]) or down (500 for everything).
struct Tenant {
    server: Server,
    up: bool,
}

impl Tenant {
    fn new() -> Self {
        Self {
            server: Server::new(),
            up: true,
        }
    }

    fn answer(&mut self, url: &str) -> HttpOutcome {
        if self.up {
            return self.server.answer(url);
        }
        self.server.log.push(url.to_string());
        Ok(HttpResponse::new(500, "application/json", b"{}".to_vec()))
    }

    fn requests(&self, url: &str) -> usize {
        self.server.log.iter().filter(|u| *u == url).count()
    }
}

/// Runs a verification at `now` (seconds after `NOW`), answering from `tenant`.
fn verify_at(
    v: &Verifier,
    caches: &mut Caches,
    tenant: &mut Tenant,
    token: &str,
    s: u64,
) -> Result<(), Reason> {
    run_with(v, caches, token, NOW + s, |url| tenant.answer(url))
}

/// Runs a refresh of `key` at `now` against `server`.
fn refresh(
    v: &Verifier,
    caches: &mut Caches,
    server: &mut Server,
    key: FetchKey,
    now: UnixTime,
) -> Result<Refreshed, RefreshError> {
    refresh_with(v, caches, key, now, &mut |url| server.answer(url))
}

fn refresh_with(
    v: &Verifier,
    caches: &mut Caches,
    key: FetchKey,
    now: UnixTime,
    answer: &mut dyn FnMut(&str) -> HttpOutcome,
) -> Result<Refreshed, RefreshError> {
    let mut flow = v.refresh(key);
    loop {
        match flow.poll(caches, now)? {
            Action::NeedHttp(req) => {
                let outcome = answer(&req.url);
                Flow::handle_response(&mut flow, caches, outcome, now);
            }
            Action::Wait(k) => panic!("a refresh never waits ({k:?})"),
            Action::CheckReplay(_) => panic!("a refresh never checks a replay"),
            Action::Done(done) => return Ok(done),
        }
    }
}

/// Runs every due refresh at `now`; the outcomes in order.
fn refresh_all(
    v: &Verifier,
    caches: &mut Caches,
    tenant: &mut Tenant,
    now: UnixTime,
) -> Vec<(FetchKey, Result<Refreshed, RefreshError>)> {
    let keys = caches.take_due_refreshes(now);
    keys.into_iter()
        .map(|key| {
            let result = refresh_with(v, caches, key.clone(), now, &mut |url| tenant.answer(url));
            (key, result)
        })
        .collect()
}

fn warm(v: &Verifier, caches: &Caches, token: &str, now: UnixTime) -> Option<Result<(), Reason>> {
    let mut flow = v
        .verify_access_token(token, &RequestContext::default())
        .unwrap();
    flow.poll_shared(caches, now)
        .map(|r| r.map(|_| ()).map_err(|e| e.reason().clone()))
}

/// The last 10 % of the TTL (600 s) flags a refresh; the verification is still answered
/// from the cache, the refresh makes one request per resource and a second one is not due.
#[test]
fn refresh_ahead_is_flagged_in_the_last_part_of_the_ttl() {
    let v = verifier(CachePolicy::default());
    let mut caches = v.new_caches();
    let mut server = Server::new();
    let t = long_token(1, "k1");
    run(&v, &mut caches, &mut server, &t, NOW).unwrap();
    assert_eq!(warm(&v, &caches, &t, at(539)), Some(Ok(())));
    assert!(!caches.refresh_wanted());
    assert!(caches.take_due_refreshes(at(539)).is_empty());
    assert_eq!(warm(&v, &caches, &t, at(540)), Some(Ok(())));
    assert!(caches.refresh_wanted());
    assert_eq!(server.log.len(), 2, "no request on the request path");
    let due = caches.take_due_refreshes(at(540));
    assert!(!caches.refresh_wanted());
    assert_eq!(
        due,
        vec![FetchKey::Discovery(ISS.into()), FetchKey::Jwks(JWKS.into())]
    );
    // While the refresh is in flight, verifications use the cached set and do not wait.
    let mut flow = v.refresh(FetchKey::Jwks(JWKS.into()));
    assert!(matches!(
        flow.poll(&mut caches, at(541)),
        Ok(Action::NeedHttp(_))
    ));
    assert_eq!(warm(&v, &caches, &t, at(541)), Some(Ok(())));
    assert_eq!(
        run(&v, &mut caches, &mut server, &t, NOW + 541),
        Ok(long_claims())
    );
    // A second refresh of the same set is not due: one request per resource.
    assert_eq!(
        refresh(
            &v,
            &mut caches,
            &mut server,
            FetchKey::Jwks(JWKS.into()),
            at(541)
        ),
        Ok(Refreshed::NotDue)
    );
    let outcome = server.answer(JWKS);
    flow.handle_response(&mut caches, outcome, at(542));
    assert!(matches!(
        flow.poll(&mut caches, at(542)),
        Ok(Action::Done(Refreshed::Updated))
    ));
    // The set was refetched at 542: fresh until 1142, no refresh due before 1082; the
    // discovery document (not refreshed here) still is.
    assert_eq!(warm(&v, &caches, &t, at(560)), Some(Ok(())));
    assert_eq!(
        caches.take_due_refreshes(at(560)),
        vec![FetchKey::Discovery(ISS.into())]
    );
    assert_eq!(server.log, vec![DISCOVERY, JWKS, JWKS]);
}

/// 0 % disables refreshing ahead; more than 100 % is refused by the configuration.
#[test]
fn refresh_ahead_can_be_disabled_and_is_bounded() {
    let (v, caches, _, t) = warmed(CachePolicy {
        refresh_ahead_percent: 0,
        ..CachePolicy::default()
    });
    assert_eq!(warm(&v, &caches, &t, at(599)), Some(Ok(())));
    assert!(!caches.refresh_wanted());
    assert!(caches.take_due_refreshes(at(599)).is_empty());
    let err = VerifierConfig::new()
        .domain("tenant.example")
        .audience("api://orders")
        .cache(CachePolicy {
            refresh_ahead_percent: 101,
            ..CachePolicy::default()
        })
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        crate::ConfigError::TooLarge {
            option: "cache.refresh_ahead_percent",
            max: 100
        }
    );
}

/// The tenant answers 500 to everything from just before expiry for two hours: known kids
/// keep verifying from the stale document and set with one retry per resource per
/// cooldown; an unknown kid is rejected and its refetch keeps the cooldown; once the tenant
/// is back, the next retry restores fresh values.
#[test]
fn stale_keys_serve_known_kids_while_the_tenant_is_down() {
    let v = verifier(CachePolicy::default());
    let mut caches = v.new_caches();
    let mut tenant = Tenant::new();
    let t = long_token(1, "k1");
    verify_at(&v, &mut caches, &mut tenant, &t, 0).unwrap();
    tenant.up = false;
    let mut failures = 0;
    for s in (540..7740).step_by(5) {
        assert_eq!(
            verify_at(&v, &mut caches, &mut tenant, &t, s),
            Ok(()),
            "at {s}"
        );
        for (key, outcome) in refresh_all(&v, &mut caches, &mut tenant, at(s)) {
            match outcome {
                Err(RefreshError::Jwks(Some(DocumentError::Status(500))))
                | Err(RefreshError::Discovery(Some(DocumentError::Status(500)))) => failures += 1,
                other => panic!("unexpected {other:?} for {key:?} at {s}"),
            }
        }
    }
    // One request per resource at the start, then one per 30 s cooldown: 540, 570, ... 7710.
    assert_eq!(tenant.requests(JWKS), 1 + 240);
    assert_eq!(tenant.requests(DISCOVERY), 1 + 240);
    assert_eq!(failures, 480);
    // An unknown kid within the cooldown is rejected with no request.
    let before = tenant.server.log.len();
    let unknown = long_token(2, "k2");
    assert_eq!(
        verify_at(&v, &mut caches, &mut tenant, &unknown, 7736),
        Err(Reason::JwksFetchFailed(None))
    );
    assert_eq!(tenant.server.log.len(), before);
    // After it, one refetch (failing), then the cooldown again.
    assert_eq!(
        verify_at(&v, &mut caches, &mut tenant, &unknown, 7741),
        Err(Reason::JwksFetchFailed(Some(DocumentError::Status(500))))
    );
    assert_eq!(
        verify_at(&v, &mut caches, &mut tenant, &unknown, 7742),
        Err(Reason::JwksFetchFailed(None))
    );
    assert_eq!(tenant.server.log.len(), before + 1);
    assert_eq!(verify_at(&v, &mut caches, &mut tenant, &t, 7742), Ok(()));
    // Back: the next retries refresh both.
    tenant.up = true;
    let outcomes = refresh_all(&v, &mut caches, &mut tenant, at(7775));
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(outcomes.iter().all(|(_, r)| *r == Ok(Refreshed::Updated)));
    let policy = *caches.policy();
    assert!(
        caches
            .jwks(JWKS)
            .unwrap()
            .fresh(&policy, at(7775))
            .is_some()
    );
    assert!(
        caches
            .discovery(ISS)
            .unwrap()
            .fresh(&policy, at(7775))
            .is_some()
    );
}

/// Past `max_stale` the stale values are no longer used and the verification fetches (and
/// fails while the tenant is down); with `max_stale` 0 a failed refetch rejects at expiry,
/// as before stale use existed.
#[test]
fn stale_use_ends_at_max_stale() {
    for max_stale in [Duration::from_secs(3600), Duration::ZERO] {
        let v = verifier(CachePolicy {
            max_stale,
            ..CachePolicy::default()
        });
        let mut caches = v.new_caches();
        let mut tenant = Tenant::new();
        let t = long_token(1, "k1");
        verify_at(&v, &mut caches, &mut tenant, &t, 0).unwrap();
        tenant.up = false;
        // The refresh ahead fails.
        let outcomes = refresh_all(&v, &mut caches, &mut tenant, at(550));
        assert_eq!(outcomes.len(), 2);
        assert!(outcomes.iter().all(|(_, r)| r.is_err()));
        let end = 600 + max_stale.as_secs();
        if !max_stale.is_zero() {
            assert_eq!(warm(&v, &caches, &t, at(end - 1)), Some(Ok(())));
        }
        assert!(warm(&v, &caches, &t, at(end)).is_none());
        assert_eq!(
            verify_at(&v, &mut caches, &mut tenant, &t, end),
            Err(Reason::DiscoveryFailed(Some(DocumentError::Status(500))))
        );
        // Recovery: the tenant is back, the next verification after the cooldown fetches.
        tenant.up = true;
        assert_eq!(
            verify_at(&v, &mut caches, &mut tenant, &t, end + 30),
            Ok(())
        );
    }
}

/// A set whose TTL passed with no failed refetch is fetched on the request path; when that
/// fetch fails, the flow falls back to the stale set for a known kid.
#[test]
fn a_failed_fetch_after_expiry_falls_back_to_the_stale_set() {
    let (v, mut caches, mut server, t) = warmed(CachePolicy {
        refresh_ahead_percent: 0,
        ..CachePolicy::default()
    });
    assert!(
        warm(&v, &caches, &t, at(600)).is_none(),
        "expired: not warm"
    );
    server.jwks_status = 500;
    assert_eq!(
        run(&v, &mut caches, &mut server, &t, NOW + 600),
        Ok(long_claims())
    );
    assert_eq!(server.log, vec![DISCOVERY, JWKS, DISCOVERY, JWKS]);
    // Now stale after a failed refetch: warm, and no request within the cooldown.
    assert_eq!(warm(&v, &caches, &t, at(601)), Some(Ok(())));
    assert_eq!(
        run(
            &v,
            &mut caches,
            &mut server,
            &long_token(2, "k2"),
            NOW + 602
        ),
        Err(Reason::JwksFetchFailed(None))
    );
    assert_eq!(server.log.len(), 4);
}

/// A stale discovery document still names the key set during an outage of discovery.
#[test]
fn a_stale_discovery_document_is_used_when_discovery_fails() {
    let (v, mut caches, server, t) = warmed(CachePolicy {
        refresh_ahead_percent: 0,
        ..CachePolicy::default()
    });
    // Discovery and the JWKS fail at expiry (the tenant is down).
    let mut down = Server::new();
    down.jwks_status = 503;
    assert_eq!(server.log.len(), 2);
    let outcome = run_with(&v, &mut caches, &t, NOW + 600, |url| {
        if url == DISCOVERY {
            Err(crate::http::TransportError::new(
                crate::http::TransportErrorKind::Unavailable,
            ))
        } else {
            down.answer(url)
        }
    });
    assert_eq!(outcome, Ok(()));
    assert_eq!(warm(&v, &caches, &t, at(601)), Some(Ok(())));
}

fn run_with(
    v: &Verifier,
    caches: &mut Caches,
    token: &str,
    now: u64,
    mut answer: impl FnMut(&str) -> crate::http::HttpOutcome,
) -> Result<(), Reason> {
    let now = UnixTime::from_secs(now);
    let mut flow = v
        .verify_access_token(token, &RequestContext::default())
        .unwrap();
    for _ in 0..10 {
        match flow.poll(caches, now).map_err(|e| e.reason().clone())? {
            Action::NeedHttp(req) => {
                let outcome = answer(&req.url);
                flow.handle_response(caches, outcome, now);
            }
            Action::Wait(k) => panic!("unexpected wait for {k:?}"),
            Action::CheckReplay(_) => panic!("a bearer token never reaches the replay check"),
            Action::Done(_) => return Ok(()),
        }
    }
    panic!("flow did not finish")
}

/// A snapshot restores verifications with no request; expired entries are dropped; an
/// edited, another version's or another configuration's snapshot is refused and changes
/// nothing.
#[test]
fn snapshot_round_trip_and_refusals() {
    let v = verifier(CachePolicy::default());
    let mut caches = v.new_caches();
    let mut server = Server::new();
    let t = long_token(1, "k1");
    run(&v, &mut caches, &mut server, &t, NOW).unwrap();
    let bytes = v.snapshot_caches(&caches).to_json();
    let snapshot = CacheSnapshot::from_json(&bytes).unwrap();
    assert_eq!(snapshot.len(), (1, 1));

    let mut restored = v.new_caches();
    let counts = v.restore_caches(&mut restored, &snapshot, at(100)).unwrap();
    assert_eq!((counts.discovery, counts.jwks, counts.dropped), (1, 1, 0));
    assert_eq!(warm(&v, &restored, &t, at(100)), Some(Ok(())));
    let mut quiet = Server::new();
    assert_eq!(
        run(&v, &mut restored, &mut quiet, &t, NOW + 100),
        Ok(long_claims())
    );
    assert!(quiet.log.is_empty());
    // The fetch time is kept: the set expires when it would have.
    assert!(warm(&v, &restored, &t, at(600)).is_none());

    // Older than the TTL: dropped, the next verification fetches.
    let mut late = v.new_caches();
    let counts = v.restore_caches(&mut late, &snapshot, at(600)).unwrap();
    assert_eq!((counts.discovery, counts.jwks, counts.dropped), (0, 0, 2));
    run(&v, &mut late, &mut quiet, &t, NOW + 600).unwrap();
    assert_eq!(quiet.log, vec![DISCOVERY, JWKS]);

    // Edited: one byte of the key set changed (a different `x`), or a member added.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let edited = text.replacen("\\\"kid\\\":\\\"k1\\\"", "\\\"kid\\\":\\\"k9\\\"", 1);
    assert_ne!(edited, text);
    let edited = CacheSnapshot::from_json(edited.as_bytes()).unwrap();
    let mut target = v.new_caches();
    assert_eq!(
        v.restore_caches(&mut target, &edited, at(1)),
        Err(SnapshotError::Digest)
    );
    assert!(target.jwks(JWKS).is_none() && target.discovery(ISS).is_none());
    let extra = text.replacen("{", "{\"extra\":1,", 1);
    assert_eq!(
        CacheSnapshot::from_json(extra.as_bytes()),
        Err(SnapshotError::Malformed)
    );
    // Truncated.
    for cut in [1, bytes.len() / 2, bytes.len() - 1] {
        assert_eq!(
            CacheSnapshot::from_json(&bytes[..cut]),
            Err(SnapshotError::Malformed),
            "cut at {cut}"
        );
    }
    // Another version.
    let v2 = text.replacen("\"version\":1", "\"version\":2", 1);
    assert_eq!(
        CacheSnapshot::from_json(v2.as_bytes()),
        Err(SnapshotError::Version { found: 2 })
    );
    // Another configuration: another tenant, other algorithms, other key limits, other TTL.
    let others = [
        VerifierConfig::new()
            .domain("other.example")
            .audience("api://orders")
            .algorithms(["ES256"]),
        VerifierConfig::new()
            .domain("tenant.example")
            .audience("api://orders")
            .algorithms(["RS256"]),
        VerifierConfig::new()
            .domain("tenant.example")
            .audience("api://orders")
            .algorithms(["ES256"])
            .cache(CachePolicy {
                ttl: Duration::from_secs(60),
                ..CachePolicy::default()
            }),
    ];
    for other in others {
        let other = other.build().unwrap();
        let mut target = other.new_caches();
        assert_eq!(
            other.restore_caches(&mut target, &snapshot, at(1)),
            Err(SnapshotError::Configuration)
        );
    }
    // Another audience does not change what was fetched: accepted.
    let other_audience = VerifierConfig::new()
        .domain("tenant.example")
        .audience("api://billing")
        .algorithms(["ES256"])
        .build()
        .unwrap();
    assert!(
        other_audience
            .restore_caches(&mut other_audience.new_caches(), &snapshot, at(1))
            .is_ok()
    );
}

/// A snapshot with more entries than the caches hold is refused (`max_entries` is not in
/// the fingerprint).
#[test]
fn snapshot_entries_are_bounded() {
    let roomy = verifier(CachePolicy {
        max_entries: 2,
        ..CachePolicy::default()
    });
    let mut caches = roomy.new_caches();
    let mut server = Server::new();
    run(&roomy, &mut caches, &mut server, &long_token(1, "k1"), NOW).unwrap();
    let other = "https://tenant.example/other-jwks";
    let body = jwks_body(&[(2, "k2")]);
    let set = crate::jose::jwk::JwkSet::parse(&body, roomy.provider).unwrap();
    assert!(caches.begin_jwks(other, at(1)));
    assert!(
        caches
            .finish_jwks(other, Some(set.with_source(&body)), at(1), at(1))
            .is_none()
    );
    let snapshot = roomy.snapshot_caches(&caches);
    assert_eq!(snapshot.len(), (1, 2));
    let small = verifier(CachePolicy {
        max_entries: 1,
        ..CachePolicy::default()
    });
    assert_eq!(
        small.restore_caches(&mut small.new_caches(), &snapshot, at(2)),
        Err(SnapshotError::TooManyEntries)
    );
    let counts = roomy
        .restore_caches(&mut roomy.new_caches(), &snapshot, at(2))
        .unwrap();
    assert_eq!((counts.discovery, counts.jwks), (1, 2));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any cache contents (key sets of 1 to 4 keys with any kids, fetched at any time up to
    /// the TTL before `now`) survive a JSON round trip: the restored caches answer every
    /// token exactly as the original ones do, with no request, and entries past their TTL
    /// are dropped.
    #[test]
    fn snapshot_round_trip(
        seeds in proptest::collection::btree_set(1u8..20, 1..4),
        age in 0u64..900,
        probe in 1u8..24,
    ) {
        let v = verifier(CachePolicy::default());
        let keys: Vec<(u8, String)> = seeds.iter().map(|s| (*s, format!("kid-{s}"))).collect();
        let pairs: Vec<(u8, &str)> = keys.iter().map(|(s, k)| (*s, k.as_str())).collect();
        let mut server = Server::new();
        server.jwks = jwks_body(&pairs);
        let mut caches = v.new_caches();
        let first = long_token(keys[0].0, &keys[0].1);
        run(&v, &mut caches, &mut server, &first, NOW).unwrap();
        let json = v.snapshot_caches(&caches).to_json();
        let snapshot = CacheSnapshot::from_json(&json).unwrap();
        prop_assert_eq!(&snapshot, &v.snapshot_caches(&caches));
        let mut restored = v.new_caches();
        let counts = v.restore_caches(&mut restored, &snapshot, at(age)).unwrap();
        let alive = age < 600;
        prop_assert_eq!(counts.jwks, usize::from(alive));
        prop_assert_eq!(counts.dropped, if alive { 0 } else { 2 });
        let probe_token = long_token(probe, &format!("kid-{probe}"));
        for t in [first, probe_token] {
            let original = warm(&v, &caches, &t, at(age));
            let again = warm(&v, &restored, &t, at(age));
            prop_assert_eq!(original, again);
        }
        // And the restored caches snapshot to the same contents when nothing was dropped.
        if alive {
            prop_assert_eq!(v.snapshot_caches(&restored), snapshot);
        }
    }
}
