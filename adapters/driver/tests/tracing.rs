//! The `tracing` feature: a span per verification with issuer, alg, kid, cache hit or miss
//! and outcome, an event per upstream request inside it, and never a token or claim value.
#![cfg(feature = "tracing")]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use auth0_api::{HttpResponse, RequestContext, UnixTime, VerifierConfig};
use auth0_api_driver::{Client, FixtureTransport};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::{Signature, SigningKey, signature::Signer as _};
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

const ISSUER: &str = "https://tenant.example/";
const DISCOVERY: &str = "https://tenant.example/.well-known/openid-configuration";
const JWKS: &str = "https://tenant.example/.well-known/jwks.json";
const NOW: u64 = 1_800_000_000;
/// A claim value that must never reach a subscriber.
const SECRET_SUB: &str = "user-7c1f9e-private";

#[derive(Debug, Default)]
struct SpanRecord {
    name: &'static str,
    fields: BTreeMap<String, String>,
}

#[derive(Debug)]
struct EventRecord {
    /// The span the event happened in, by index into `spans`.
    parent: Option<usize>,
    fields: BTreeMap<String, String>,
}

/// Records every span, field and event, with the span each event happened in.
#[derive(Default)]
struct Capture {
    spans: Mutex<Vec<SpanRecord>>,
    events: Mutex<Vec<EventRecord>>,
    stack: Mutex<Vec<u64>>,
    next: AtomicU64,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut record = SpanRecord {
            name: attrs.metadata().name(),
            ..SpanRecord::default()
        };
        attrs.record(&mut Fields(&mut record.fields));
        self.spans.lock().unwrap().push(record);
        Id::from_u64(self.next.fetch_add(1, Ordering::SeqCst) + 1)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.spans.lock().unwrap();
        let record = &mut spans[span.into_u64() as usize - 1];
        values.record(&mut Fields(&mut record.fields));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let parent = self.stack.lock().unwrap().last().map(|id| *id as usize - 1);
        self.events
            .lock()
            .unwrap()
            .push(EventRecord { parent, fields });
    }
    fn enter(&self, span: &Id) {
        self.stack.lock().unwrap().push(span.into_u64());
    }
    fn exit(&self, _: &Id) {
        self.stack.lock().unwrap().pop();
    }
}

fn b64(v: &serde_json::Value) -> String {
    B64.encode(v.to_string())
}

fn sign(key: &SigningKey, header: serde_json::Value, claims: serde_json::Value) -> String {
    let input = format!("{}.{}", b64(&header), b64(&claims));
    let sig: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", B64.encode(sig.to_bytes()))
}

fn client(key: &SigningKey) -> Client<FixtureTransport> {
    let point = key.verifying_key().to_sec1_point(false);
    let xy = &point.as_bytes()[1..];
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
        "x": B64.encode(&xy[..32]), "y": B64.encode(&xy[32..]),
    }]});
    let discovery = json!({"issuer": ISSUER, "jwks_uri": JWKS});
    let fixtures = FixtureTransport::new()
        .with_get(DISCOVERY, HttpResponse::json(discovery.to_string()))
        .with_get(JWKS, HttpResponse::json(jwks.to_string()));
    let verifier = VerifierConfig::new()
        .domain("tenant.example")
        .audience("https://api.example")
        .algorithms(["ES256"])
        .build()
        .unwrap();
    Client::new(verifier, fixtures, || UnixTime::from_secs(NOW))
}

#[test]
fn spans_and_events_name_the_work_never_the_token() {
    let key = SigningKey::from_slice(&[7; 32]).unwrap();
    let client = client(&key);
    let claims = |exp: u64| {
        json!({"iss": ISSUER, "aud": "https://api.example", "sub": SECRET_SUB, "exp": exp,
               "iat": NOW - 120})
    };
    let good = sign(&key, json!({"alg": "ES256", "kid": "k1"}), claims(NOW + 60));
    let expired = sign(&key, json!({"alg": "ES256", "kid": "k1"}), claims(NOW - 60));
    let long_kid = format!("k1\"{}", "x".repeat(200));
    let unknown = sign(
        &key,
        json!({"alg": "ES256", "kid": long_kid}),
        claims(NOW + 60),
    );

    let capture = Arc::new(Capture::default());
    tracing::subscriber::with_default(capture.clone(), || {
        let ctx = RequestContext::default();
        client.verify(&good, &ctx).unwrap(); // cold: discovery and JWKS
        client.verify(&good, &ctx).unwrap(); // warm
        assert_eq!(client.verify(&expired, &ctx).unwrap_err().status(), 401);
        assert_eq!(client.verify(&unknown, &ctx).unwrap_err().status(), 401);
    });

    let spans = capture.spans.lock().unwrap();
    let events = capture.events.lock().unwrap();
    let field = |i: usize, name: &str| spans[i].fields.get(name).cloned().unwrap_or_default();
    assert_eq!(spans.len(), 4, "{spans:?}");
    assert!(spans.iter().all(|s| s.name == "verify"));
    assert_eq!(field(0, "issuer"), ISSUER);
    assert_eq!(field(0, "alg"), "ES256");
    assert_eq!(field(0, "kid"), r#"Some("k1")"#);
    let summary: Vec<(String, String)> = (0..4)
        .map(|i| (field(i, "cache"), field(i, "outcome")))
        .collect();
    let pair = |c: &str, o: &str| (c.to_string(), o.to_string());
    assert_eq!(
        summary,
        [
            pair("miss", "ok"),
            pair("hit", "ok"),
            pair("hit", "invalid_token"),
            // An unknown kid is a miss: the key is not cached (its refetch waits for the
            // cooldown, as the set was fetched a moment ago).
            pair("miss", "invalid_token"),
        ]
    );
    // The attacker's kid is escaped by Debug and cut at 64 characters.
    let kid = field(3, "kid");
    assert!(kid.starts_with(r#"Some("k1\"xxx"#), "{kid}");
    assert_eq!(kid.matches('x').count(), 64 - 3, "{kid}");

    // One event per upstream request, inside the span of the flow that sent it.
    let requests: Vec<(Option<usize>, String, String)> = events
        .iter()
        .map(|e| {
            let f = |n: &str| e.fields.get(n).cloned().unwrap_or_default();
            (e.parent, f("url"), f("status"))
        })
        .collect();
    assert_eq!(
        requests,
        [
            (Some(0), DISCOVERY.to_string(), "200".to_string()),
            (Some(0), JWKS.to_string(), "200".to_string()),
        ]
    );
    assert!(events.iter().all(|e| e.fields.contains_key("duration_ms")));

    // Nothing recorded carries a token, a signature or a claim value.
    let everything = format!("{spans:?}{events:?}");
    for secret in [good.as_str(), expired.as_str(), SECRET_SUB] {
        assert!(!everything.contains(secret));
    }
    for segment in good.split('.').chain(expired.split('.')) {
        assert!(
            !everything.contains(segment),
            "a token segment was recorded"
        );
    }
}
