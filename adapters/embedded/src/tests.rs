//! The drive loop's contract, with scripted transports and a fixed clock.

extern crate std;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use auth0_api::HttpResponse;
use auth0_api::Reason;
use auth0_api::VerifierConfig;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;

const ISSUER: &str = "https://t.example/";
const NOW: u64 = 1_700_000_000;

fn clock() -> UnixTime {
    UnixTime::from_secs(NOW)
}

fn verifier() -> Verifier {
    VerifierConfig::new()
        .domain("t.example")
        .audience("https://api.example/")
        .build()
        .unwrap()
}

/// Well-formed enough for every pre-network check; the signature is never reached.
fn token() -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#);
    let payload = URL_SAFE_NO_PAD.encode(
        alloc::format!(
            r#"{{"iss":"{ISSUER}","aud":"https://api.example/","sub":"s","exp":{}}}"#,
            NOW + 600
        )
        .as_bytes(),
    );
    let signature = URL_SAFE_NO_PAD.encode([7u8; 256]);
    alloc::format!("{header}.{payload}.{signature}")
}

/// Answers from a script and records what was asked.
struct Scripted {
    answers: VecDeque<HttpOutcome>,
    asked: Vec<String>,
}

impl Scripted {
    fn new(answers: impl IntoIterator<Item = HttpOutcome>) -> Self {
        Self {
            answers: answers.into_iter().collect(),
            asked: Vec::new(),
        }
    }
}

impl Transport for Scripted {
    async fn send(&mut self, request: &HttpRequest) -> HttpOutcome {
        self.asked.push(request.url.clone());
        self.answers
            .pop_front()
            .unwrap_or_else(|| Err(TransportError::new(TransportErrorKind::Unavailable)))
    }
}

/// Never answers.
struct Silent {
    asked: usize,
}

impl Transport for Silent {
    async fn send(&mut self, _: &HttpRequest) -> HttpOutcome {
        self.asked += 1;
        core::future::pending().await
    }
}

fn run<F: core::future::Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("scripted transports answer at once"),
    }
}

fn discovery() -> HttpOutcome {
    Ok(HttpResponse::json(alloc::format!(
        r#"{{"issuer":"{ISSUER}","jwks_uri":"{ISSUER}.well-known/jwks.json"}}"#
    )))
}

#[test]
fn each_request_is_sent_once_in_flow_order_and_failures_become_the_flows_error() {
    let verifier = verifier();
    let token = token();
    let ctx = RequestContext::default();
    let jwks_down = Ok(HttpResponse::new(500, "text/plain", "down"));
    let cases: [(Vec<HttpOutcome>, usize, fn(&Reason) -> bool); 3] = [
        (
            alloc::vec![Err(TransportError::new(TransportErrorKind::Connect))],
            1,
            |r| matches!(r, Reason::DiscoveryFailed(None)),
        ),
        (
            alloc::vec![Err(TransportError::new(TransportErrorKind::Redirect))],
            1,
            |r| matches!(r, Reason::DiscoveryFailed(None)),
        ),
        (alloc::vec![discovery(), jwks_down], 2, |r| {
            matches!(r, Reason::JwksFetchFailed(Some(_)))
        }),
    ];
    for (answers, sent, reason) in cases {
        let mut caches = verifier.new_caches();
        let mut transport = Scripted::new(answers);
        let err = run(verify(
            &verifier,
            &mut caches,
            &mut transport,
            &clock,
            &token,
            &ctx,
        ))
        .unwrap_err();
        assert!(reason(err.reason()), "{err:?}");
        assert_eq!(transport.asked.len(), sent);
        assert_eq!(
            transport.asked.first().map(String::as_str),
            Some("https://t.example/.well-known/openid-configuration")
        );
        if sent == 2 {
            assert_eq!(
                transport.asked[1],
                "https://t.example/.well-known/jwks.json"
            );
        }
        assert!(!err.www_authenticate().is_empty());
    }
}

#[test]
fn pre_network_rejections_send_nothing() {
    let verifier = verifier();
    let mut caches = verifier.new_caches();
    let mut transport = Scripted::new([]);
    for bad in ["", "not-a-jwt", "a.b.c"] {
        let err = run(verify(
            &verifier,
            &mut caches,
            &mut transport,
            &clock,
            bad,
            &RequestContext::default(),
        ))
        .unwrap_err();
        assert_eq!(err.status(), 401, "{bad:?}");
    }
    assert!(transport.asked.is_empty());
}

#[test]
fn a_stale_in_flight_mark_is_an_error_not_a_hang() {
    let verifier = verifier();
    let token = token();
    let ctx = RequestContext::default();
    let mut caches = verifier.new_caches();
    // A flow abandoned after asking for discovery leaves the slot marked as being fetched.
    {
        let mut abandoned = verifier.verify_access_token(&token, &ctx).unwrap();
        let action = abandoned.poll(&mut caches, clock()).unwrap();
        assert!(matches!(action, Action::NeedHttp(_)));
    }
    let mut transport = Scripted::new([discovery()]);
    let err = run(verify(
        &verifier,
        &mut caches,
        &mut transport,
        &clock,
        &token,
        &ctx,
    ))
    .unwrap_err();
    assert_eq!(err.reason(), &Reason::Misuse);
    assert!(
        transport.asked.is_empty(),
        "nothing sent for a slot in flight"
    );
}

#[test]
fn cancelling_mid_request_abandons_the_fetch_instead_of_leaving_a_mark() {
    let verifier = verifier();
    let token = token();
    let ctx = RequestContext::default();
    let mut caches = verifier.new_caches();
    let mut silent = Silent { asked: 0 };
    {
        let future = verify(&verifier, &mut caches, &mut silent, &clock, &token, &ctx);
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        // Dropped here, as a timeout would.
    }
    assert_eq!(silent.asked, 1);
    let policy = *caches.policy();
    let entry = caches.discovery(ISSUER).unwrap();
    assert!(!entry.is_fetching(&policy, clock()));
    assert!(!entry.last_failed(), "an abandoned fetch is not a failure");

    // The next verification, at the same instant, fetches discovery itself.
    let mut transport = Scripted::new([discovery()]);
    let _ = run(verify(
        &verifier,
        &mut caches,
        &mut transport,
        &clock,
        &token,
        &ctx,
    ));
    assert_eq!(transport.asked.len(), 2, "discovery, then the key set");
}
