//! The caches under hostile traffic: junk tokens cycling through issuers, warm tenants under
//! eviction pressure, TTL 0. Driven by hand with a fake `now`; requests are counted.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};
use core::time::Duration;

use serde_json::json;

use super::{NOW, jwks_body, sign};
use crate::cache::{CachePolicy, Caches};
use crate::config::{DomainResolver, ResolverError, ResolverInput, Verifier, VerifierConfig};
use crate::flow::Action;
use crate::http::{HttpOutcome, HttpResponse, TransportError, TransportErrorKind};
use crate::time::UnixTime;
use crate::verify::context::RequestContext;
use crate::verify::error::Reason;

fn host(i: usize) -> String {
    format!("t{i}.example")
}

/// A token for tenant `host` (valid when its keys are served).
fn tenant_token(host: &str) -> String {
    let claims = json!({"iss": format!("https://{host}/"), "sub": "user", "aud": "api://orders",
                        "iat": NOW - 10, "exp": NOW + 3600});
    sign(1, json!({"alg":"ES256","kid":"k1"}), &claims)
}

/// Serves every tenant `https://<host>/`; counts requests per URL.
#[derive(Default)]
struct Tenants {
    fail_discovery: bool,
    fail_jwks: bool,
    log: Vec<String>,
}

impl Tenants {
    fn answer(&mut self, url: &str) -> HttpOutcome {
        self.log.push(url.to_string());
        let rest = url.strip_prefix("https://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        match path {
            "/.well-known/openid-configuration" if !self.fail_discovery => {
                let doc = json!({"issuer": format!("https://{host}/"),
                                 "jwks_uri": format!("https://{host}/.well-known/jwks.json")});
                Ok(HttpResponse::json(serde_json::to_vec(&doc).unwrap()))
            }
            "/.well-known/jwks.json" if !self.fail_jwks => {
                Ok(HttpResponse::json(jwks_body(&[(1, "k1")])))
            }
            "/.well-known/jwks.json" => {
                Ok(HttpResponse::new(500, "application/json", b"{}".to_vec()))
            }
            _ => Err(TransportError::new(TransportErrorKind::Unavailable)),
        }
    }

    /// The most requests made for one URL.
    fn most_per_url(&self) -> usize {
        let mut counts = BTreeMap::<&str, usize>::new();
        for url in &self.log {
            *counts.entry(url).or_default() += 1;
        }
        counts.values().copied().max().unwrap_or(0)
    }
}

/// Accepts every `t<N>.example` tenant, as a resolver (no static list for the caches to size
/// themselves by).
struct AnyTenant;

impl DomainResolver for AnyTenant {
    fn resolve(&self, input: &ResolverInput<'_>) -> Result<Vec<String>, ResolverError> {
        let host = input
            .unverified_issuer
            .trim_start_matches("https://")
            .trim_end_matches('/');
        Ok(vec![host.to_string()])
    }
}

fn config(policy: CachePolicy) -> VerifierConfig {
    VerifierConfig::new()
        .audience("api://orders")
        .algorithms(["ES256"])
        .cache(policy)
}

/// Runs one verification to its end at `now` (in seconds), answering from `tenants`.
fn verify(
    v: &Verifier,
    caches: &mut Caches,
    tenants: &mut Tenants,
    token: &str,
    now: u64,
) -> Result<(), Reason> {
    let now = UnixTime::from_secs(now);
    let mut flow = v
        .verify_access_token(token, &RequestContext::default())
        .map_err(|e| e.reason().clone())?;
    for _ in 0..10 {
        match flow.poll(caches, now).map_err(|e| e.reason().clone())? {
            Action::NeedHttp(req) => {
                let outcome = tenants.answer(&req.url);
                flow.handle_response(caches, outcome, now);
            }
            Action::Wait(k) => panic!("unexpected wait for {k:?}"),
            Action::CheckReplay(c) => panic!("unexpected replay check {c:?}"),
            Action::Done(_) => return Ok(()),
        }
    }
    panic!("flow did not finish")
}

/// Sends `count` tokens cycling through `issuers` tenants, 20 a second from `start`.
fn junk_cycle(
    v: &Verifier,
    caches: &mut Caches,
    tenants: &mut Tenants,
    issuers: usize,
    count: usize,
    start: u64,
) {
    let tokens: Vec<String> = (0..issuers).map(|i| tenant_token(&host(i))).collect();
    for n in 0..count {
        let now = start + (n / 20) as u64;
        assert!(verify(v, caches, tenants, &tokens[n % issuers], now).is_err());
    }
}

/// Item 9: with more static domains than `max_entries`, junk tokens cycling through the
/// issuers while discovery (or the JWKS) fails cost at most one request per resource per
/// cooldown, not one or two per token.
#[test]
fn junk_cycle_through_static_domains_is_one_request_per_issuer_per_cooldown() {
    let hosts: Vec<String> = (0..101).map(host).collect();
    for (fail_discovery, requests_per_issuer) in [(true, 1), (false, 2)] {
        let v = config(CachePolicy::default())
            .domains(hosts.clone())
            .build()
            .unwrap();
        // The caches hold at least one entry per static domain.
        assert_eq!(v.cache_policy().max_entries, 101);
        let mut caches = v.new_caches();
        let mut tenants = Tenants {
            fail_discovery,
            fail_jwks: !fail_discovery,
            ..Tenants::default()
        };
        // 505 tokens within one cooldown (25 s).
        junk_cycle(&v, &mut caches, &mut tenants, 101, 505, NOW);
        assert_eq!(tenants.log.len(), 101 * requests_per_issuer);
        assert_eq!(tenants.most_per_url(), 1);
        // The next cooldown: one more request per failing resource (the discovery documents
        // fetched fine stay cached).
        junk_cycle(&v, &mut caches, &mut tenants, 101, 505, NOW + 30);
        assert_eq!(tenants.log.len(), 101 * (requests_per_issuer + 1));
        assert_eq!(tenants.most_per_url(), 2);
    }
}

/// Item 9: without a static list to size by, a cache smaller than the set of issuers still
/// never evicts an entry within its cooldown: issuers beyond the room are refused without a
/// request until a cooldown ends.
#[test]
fn eviction_never_forgets_a_cooldown() {
    for fail_discovery in [true, false] {
        let v = config(CachePolicy {
            max_entries: 10,
            ..CachePolicy::default()
        })
        .domain_resolver(AnyTenant)
        .build()
        .unwrap();
        let mut caches = v.new_caches();
        let mut tenants = Tenants {
            fail_discovery,
            fail_jwks: !fail_discovery,
            ..Tenants::default()
        };
        junk_cycle(&v, &mut caches, &mut tenants, 11, 550, NOW);
        assert_eq!(tenants.most_per_url(), 1, "{:?}", tenants.log);
        assert!(tenants.log.len() <= 2 * 10);
        junk_cycle(&v, &mut caches, &mut tenants, 11, 550, NOW + 30);
        assert_eq!(tenants.most_per_url(), 2, "{:?}", tenants.log);
    }
}

/// Item 9: warm hits through `poll_shared` (shared access only) count as uses, so a busy
/// tenant is not the one evicted when a new tenant needs room.
#[test]
fn warm_hits_keep_a_busy_tenant_cached() {
    let v = config(CachePolicy {
        max_entries: 2,
        ..CachePolicy::default()
    })
    .domain_resolver(AnyTenant)
    .build()
    .unwrap();
    let mut caches = v.new_caches();
    let mut tenants = Tenants::default();
    let (busy, idle, new) = (
        tenant_token(&host(0)),
        tenant_token(&host(1)),
        tenant_token(&host(2)),
    );
    verify(&v, &mut caches, &mut tenants, &busy, NOW).unwrap();
    verify(&v, &mut caches, &mut tenants, &idle, NOW + 1).unwrap();
    assert_eq!(tenants.log.len(), 4);
    let warm = |caches: &Caches, now: u64| {
        let mut flow = v
            .verify_access_token(&busy, &RequestContext::default())
            .unwrap();
        flow.poll_shared(caches, UnixTime::from_secs(now))
            .map(|r| r.is_ok())
    };
    // The busy tenant is served warm, with shared access only, after the cooldowns ended.
    for now in NOW + 40..NOW + 50 {
        assert_eq!(warm(&caches, now), Some(true));
    }
    // A new tenant needs room in both caches: the idle tenant makes it.
    verify(&v, &mut caches, &mut tenants, &new, NOW + 51).unwrap();
    assert_eq!(tenants.log.len(), 6);
    assert_eq!(warm(&caches, NOW + 52), Some(true));
    verify(&v, &mut caches, &mut tenants, &busy, NOW + 53).unwrap();
    assert_eq!(tenants.log.len(), 6, "{:?}", tenants.log);
}

/// Item 11: TTL 0 disables caching of values, not the failure cooldown: 50 tokens while
/// discovery fails make one request within the cooldown.
#[test]
fn ttl_zero_keeps_the_failure_cooldown() {
    let policy = CachePolicy {
        ttl: Duration::ZERO,
        ..CachePolicy::default()
    };
    let v = config(policy).domain(host(0)).build().unwrap();
    let mut caches = v.new_caches();
    let mut tenants = Tenants {
        fail_discovery: true,
        ..Tenants::default()
    };
    let token = tenant_token(&host(0));
    for i in 0..50 {
        assert_eq!(
            verify(&v, &mut caches, &mut tenants, &token, NOW + i / 2),
            Err(Reason::DiscoveryFailed(None))
        );
    }
    assert_eq!(tenants.log.len(), 1);
    // The JWKS failure cooldown holds as well.
    let mut tenants = Tenants {
        fail_jwks: true,
        ..Tenants::default()
    };
    let mut caches = v.new_caches();
    for i in 0..50 {
        assert!(verify(&v, &mut caches, &mut tenants, &token, NOW + i / 2).is_err());
    }
    let jwks = tenants.log.iter().filter(|u| u.ends_with("jwks.json"));
    assert_eq!(jwks.count(), 1, "{:?}", tenants.log);
}

/// Item 11: TTL 0 keeps the in-flight marks: concurrent cold flows make one request.
#[test]
fn ttl_zero_keeps_single_flight() {
    let policy = CachePolicy {
        ttl: Duration::ZERO,
        ..CachePolicy::default()
    };
    let v = config(policy).domain(host(0)).build().unwrap();
    let mut caches = v.new_caches();
    let mut tenants = Tenants::default();
    let now = UnixTime::from_secs(NOW);
    let token = tenant_token(&host(0));
    let mut flows: Vec<_> = (0..5)
        .map(|_| {
            v.verify_access_token(&token, &RequestContext::default())
                .unwrap()
        })
        .collect();
    let mut requests = Vec::new();
    for flow in &mut flows {
        match flow.poll(&mut caches, now).unwrap() {
            Action::NeedHttp(req) => requests.push(req.url),
            Action::Wait(_) => {}
            Action::CheckReplay(_) | Action::Done(_) => panic!("done without keys"),
        }
    }
    assert_eq!(requests.len(), 1);
    // With TTL 0 the document is not kept: once it arrived, the waiting flows fetch it again,
    // still one at a time; the first flow goes on to the keys, which none of the others
    // requests meanwhile.
    let outcome = tenants.answer(&requests[0]);
    flows[0].handle_response(&mut caches, outcome, now);
    let Action::NeedHttp(jwks) = flows[0].poll(&mut caches, now).unwrap() else {
        panic!("expected the jwks request")
    };
    assert!(jwks.url.ends_with("jwks.json"));
    let mut in_flight = 0;
    for flow in &mut flows[1..] {
        if let Action::NeedHttp(req) = flow.poll(&mut caches, now).unwrap() {
            assert!(req.url.ends_with("openid-configuration"));
            in_flight += 1;
        }
    }
    assert_eq!(in_flight, 1);
}
