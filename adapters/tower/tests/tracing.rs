//! The `tracing` feature: a span per request with the outcome, seen by a capturing
//! subscriber, and never a token, proof or claim value in it.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use auth0_api::{DomainPolicy, VerifierConfig};
use auth0_api_driver::ClientOptions;
use auth0_api_mock_tenant::{DEFAULT_AUDIENCE, MockTenant, TenantOptions, TokenSpec};
use auth0_api_tower::{Authenticated, ProtectLayer};
use axum::Router;
use axum::routing::get;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records every span, field and event as a line of text.
#[derive(Default)]
struct Capture {
    next: AtomicU64,
    lines: Mutex<Vec<String>>,
}

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl Capture {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut line = format!("span#{id} {}", span.metadata().name());
        span.record(&mut Line(&mut line));
        self.push(line);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut line = format!("record#{}", span.into_u64());
        values.record(&mut Line(&mut line));
        self.push(line);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = format!("event {}", event.metadata().level());
        event.record(&mut Line(&mut line));
        self.push(line);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[tokio::test]
async fn spans_carry_outcomes_and_no_secrets() {
    let capture = Arc::new(Capture::default());
    let _guard = tracing::subscriber::set_default(Arc::clone(&capture));

    let t = MockTenant::start(TenantOptions::default()).unwrap();
    let verifier = VerifierConfig::new()
        .domain(t.issuer())
        .audience(DEFAULT_AUDIENCE)
        .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
        .build()
        .unwrap();
    let options = ClientOptions {
        root_certificates_pem: vec![t.ca_pem().as_bytes().to_vec()],
        ..ClientOptions::default()
    };
    let layer = ProtectLayer::reqwest(verifier, options).unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let me = |Authenticated(claims): Authenticated| async move { claims.json().to_owned() };
    let app = Router::new()
        .route("/me", get(me))
        .layer(layer)
        .route("/unprotected", get(me));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://{addr}/me");

    let token = t
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE).subject("user|secret-subject"))
        .unwrap();
    let expired = t
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE).iat(1_000).exp(2_000))
        .unwrap();
    let ok = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let refused = http.get(&url).bearer_auth(&expired).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let basic = http.get(&url).header("authorization", "Basic c2VjcmV0OnB3");
    assert_eq!(basic.send().await.unwrap().status(), 400);
    let query = http.get(format!("{url}?access_token={token}&x=1"));
    assert_eq!(query.send().await.unwrap().status(), 200);
    let unprotected = http.get(format!("http://{addr}/unprotected"));
    assert_eq!(unprotected.send().await.unwrap().status(), 500);

    let text = capture.text();
    let spans = text.matches("auth0_api_tower.authenticate").count();
    assert_eq!(spans, 4, "one span per protected request:\n{text}");
    assert!(text.contains("http.method=GET"), "{text}");
    assert_eq!(text.matches("outcome=\"verified\"").count(), 2, "{text}");
    assert!(text.contains("outcome=\"refused\""), "{text}");
    assert!(
        text.contains("status=401") && text.contains("error=\"invalid_token\""),
        "{text}"
    );
    assert!(
        text.contains("status=400") && text.contains("error=\"invalid_request\""),
        "{text}"
    );
    assert!(
        text.contains("found no ProtectLayer"),
        "the missing layer is logged:\n{text}"
    );
    // No token, no part of one, no claim value, no credentials of another scheme.
    for secret in [token.as_str(), expired.as_str()] {
        for part in secret.split('.') {
            assert!(!text.contains(part), "a token part leaked:\n{text}");
        }
    }
    for value in ["secret-subject", "c2VjcmV0OnB3", "access_token"] {
        assert!(!text.contains(value), "{value} leaked:\n{text}");
    }
}
