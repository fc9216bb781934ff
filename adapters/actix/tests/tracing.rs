//! The `tracing` feature: a `request` span per protected request with its method, outcome
//! and status, the driver's `verify` span inside it, an error event for a route without the
//! middleware, and never a token, a proof or a claim value.
#![cfg(feature = "tracing")]

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use auth0_api_driver::system_clock;
use auth0_api_mock_tenant::Alg;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use common::{Api, DpopKey, mint, protect, spec, tenant};

/// A claim value that must never reach a subscriber.
const SECRET_SUB: &str = "subject-4b1d-private";

#[derive(Clone, Debug, Default)]
struct SpanRecord {
    target: String,
    name: &'static str,
    parent: Option<usize>,
    fields: BTreeMap<String, String>,
}

#[derive(Debug)]
struct EventRecord {
    level: Level,
    fields: BTreeMap<String, String>,
}

/// Records every span (with its parent) and event, from any thread.
#[derive(Default)]
struct Capture {
    spans: Mutex<Vec<SpanRecord>>,
    events: Mutex<Vec<EventRecord>>,
}

thread_local! {
    /// The spans entered on this thread, innermost last.
    static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.to_string());
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
        let parent = match attrs.parent() {
            Some(id) => Some(id.into_u64()),
            None if attrs.is_contextual() => STACK.with(|s| s.borrow().last().copied()),
            None => None,
        };
        let mut record = SpanRecord {
            target: attrs.metadata().target().to_owned(),
            name: attrs.metadata().name(),
            parent: parent.map(|id| id as usize - 1),
            ..SpanRecord::default()
        };
        attrs.record(&mut Fields(&mut record.fields));
        let mut spans = self.spans.lock().unwrap();
        spans.push(record);
        Id::from_u64(spans.len() as u64)
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
        let level = *event.metadata().level();
        self.events
            .lock()
            .unwrap()
            .push(EventRecord { level, fields });
    }
    fn enter(&self, span: &Id) {
        STACK.with(|s| s.borrow_mut().push(span.into_u64()));
    }
    fn exit(&self, _: &Id) {
        STACK.with(|s| s.borrow_mut().pop());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_record_outcomes_and_never_a_credential() {
    let capture = Arc::new(Capture::default());
    tracing::subscriber::set_global_default(Arc::clone(&capture)).unwrap();

    let tenant = tenant();
    let protect = protect(&tenant).public_origin("https://api.example.com".parse().unwrap());
    let api = Api::start(move |_: &str| protect.clone()).await;
    let now = system_clock().as_secs();
    let good = mint(&tenant, spec().subject(SECRET_SUB).scope("openid"));
    let expired = mint(
        &tenant,
        spec().subject(SECRET_SUB).iat(now - 7200).exp(now - 3600),
    );
    let key = DpopKey::new(&tenant);
    let bound = mint(
        &tenant,
        spec().alg(Alg::Es256).subject(SECRET_SUB).jkt(&key.jkt),
    );
    let proof = key.proof("GET", "https://api.example.com/api/me", &bound);
    let dpop = format!("DPoP {bound}");
    let (bearer_good, bearer_expired) = (format!("Bearer {good}"), format!("Bearer {expired}"));

    let cases: [(&str, Vec<(&str, &str)>, u16, &str); 6] = [
        ("/api/me", vec![("authorization", &bearer_good)], 200, "ok"),
        (
            "/api/me",
            vec![("authorization", &bearer_expired)],
            401,
            "invalid_token",
        ),
        ("/api/me", vec![], 401, "invalid_token"),
        (
            "/api/me",
            vec![("authorization", "Bearer a b")],
            400,
            "invalid_request",
        ),
        (
            "/api/orders",
            vec![("authorization", &bearer_good)],
            403,
            "insufficient_scope",
        ),
        (
            "/api/me",
            vec![("authorization", &dpop), ("dpop", &proof)],
            200,
            "ok",
        ),
    ];
    for (path, headers, status, _) in &cases {
        assert_eq!(
            api.get(path, headers).await.status,
            *status,
            "{path} {headers:?}"
        );
    }
    let reply = api
        .bearer(&format!("/bare/me?access_token={good}"), &good)
        .await;
    assert_eq!(reply.status, 500);
    api.stop().await;

    let spans = capture.spans.lock().unwrap().clone();
    let requests: Vec<(usize, &SpanRecord)> = spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.target == "auth0_api_actix" && s.name == "request")
        .collect();
    assert_eq!(requests.len(), cases.len(), "{spans:#?}");
    for ((_, span), (path, _, status, outcome)) in requests.iter().zip(&cases) {
        assert_eq!(span.fields["method"], "GET");
        assert_eq!(span.fields["outcome"], *outcome, "{path}: {span:?}");
        assert_eq!(
            span.fields["status"],
            status.to_string(),
            "{path}: {span:?}"
        );
    }
    // The driver's verification spans nest in the request spans.
    let verifications: Vec<&SpanRecord> = spans
        .iter()
        .filter(|s| s.target == "auth0_api" && s.name == "verify")
        .collect();
    assert!(verifications.len() >= 3, "{spans:#?}");
    let request_ids: Vec<usize> = requests.iter().map(|(i, _)| *i).collect();
    for verification in &verifications {
        assert!(
            verification
                .parent
                .is_some_and(|p| request_ids.contains(&p)),
            "{verification:?}"
        );
    }

    let events = capture.events.lock().unwrap();
    let errors: Vec<&EventRecord> = events.iter().filter(|e| e.level == Level::ERROR).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let message = &errors[0].fields["message"];
    assert!(
        message.contains("not installed") && message.contains("/bare/me"),
        "{message}"
    );

    // No token, proof, signature or claim value in any span or event.
    let recorded = format!("{spans:?} {events:?}");
    for secret in [&good, &expired, &bound, &proof] {
        let signature = secret.rsplit('.').next().unwrap();
        assert!(!recorded.contains(signature), "a signature was recorded");
        let payload = secret.split('.').nth(1).unwrap();
        assert!(!recorded.contains(&payload[..16]), "a payload was recorded");
    }
    assert!(!recorded.contains(SECRET_SUB));
    assert!(!recorded.contains("access_token"));
}
