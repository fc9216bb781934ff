//! The middleware, the extractor and the route guard on a real actix-web server on loopback,
//! verifying against the local HTTPS tenant, called over HTTP with reqwest.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::HttpResponse;
use auth0_api::{DpopMode, DpopOptions};
use auth0_api_actix::{Policy, Protect, ProtectError};
use auth0_api_driver::system_clock;
use auth0_api_mock_tenant::{Alg, DEFAULT_AUDIENCE};
use serde_json::json;

use common::{Api, DISCOVERY, DpopKey, JWKS, client, config, mint, protect, spec, tenant, token};

const BEARER: &str = r#"Bearer realm="api""#;
const DPOP: &str = r#"DPoP algs="ES256""#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_reaches_the_handler_with_its_claims() {
    let tenant = tenant();
    let api = Api::start({
        let protect = protect(&tenant);
        move |_: &str| protect.clone()
    })
    .await;
    let token = token(&tenant);

    let reply = api.bearer("/api/me", &token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.body,
        json!({"sub": "user-1", "scope": "openid read:orders", "dpop": false})
    );
    assert!(reply.challenges.is_empty());

    // The scheme is case-insensitive; the second request is served from the cache.
    let reply = api
        .get("/api/me", &[("authorization", &format!("bEaReR {token}"))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(tenant.request_count(DISCOVERY), 1);
    assert_eq!(tenant.request_count(JWKS), 1);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_is_401_with_the_challenges_of_the_dpop_mode() {
    let tenant = tenant();
    let allowed = {
        let protect = protect(&tenant);
        Api::start(move |_: &str| protect.clone()).await
    };
    let reply = allowed.get("/api/me", &[]).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.challenges, [BEARER, DPOP]);
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    assert_eq!(reply.error(), Some("invalid_token"));

    // Another scheme is a wrong scheme: 400 and the challenges without an error code
    // (SPEC section 4).
    let reply = allowed
        .get("/api/me", &[("authorization", "Basic dXNlcjpwYXNz")])
        .await;
    assert_eq!(
        (reply.status, &reply.challenges()[..]),
        (400, &[BEARER, DPOP][..])
    );
    allowed.stop().await;

    for (mode, expected) in [
        (DpopMode::Disabled, vec![BEARER]),
        (DpopMode::Required, vec![DPOP]),
    ] {
        let config = config(&tenant).dpop(DpopOptions {
            mode,
            ..DpopOptions::default()
        });
        let protect = Protect::new(client(&tenant, config));
        let api = Api::start(move |_: &str| protect.clone()).await;
        let reply = api.get("/api/me", &[]).await;
        assert_eq!(
            (reply.status, reply.challenges()),
            (401, expected),
            "{mode:?}"
        );
        api.stop().await;
    }
    // Nothing was fetched for requests without a token.
    assert_eq!(tenant.total_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_401_invalid_token() {
    let tenant = tenant();
    let protect = protect(&tenant);
    let api = Api::start(move |_: &str| protect.clone()).await;
    let now = system_clock().as_secs();
    let expired = mint(&tenant, spec().iat(now - 7200).exp(now - 3600));

    let reply = api.bearer("/api/me", &expired).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.challenges.len(), 2);
    assert!(
        reply.challenges[0]
            .starts_with(r#"Bearer realm="api", error="invalid_token", error_description=""#),
        "{:?}",
        reply.challenges
    );
    assert_eq!(reply.challenges[1], DPOP);
    assert_eq!(reply.error(), Some("invalid_token"));
    let description = reply.body["error_description"].as_str().unwrap();
    assert!(description.contains("exp"), "{description}");
    // The body never carries the token.
    assert!(!reply.text.contains(&expired[..20]));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_and_wrong_schemes_get_the_spec_status() {
    let tenant = tenant();
    let protect = protect(&tenant);
    let api = Api::start(move |_: &str| protect.clone()).await;
    let token = token(&tenant);

    // Two spaces, trailing garbage: malformed header, 400 invalid_request.
    for header in [format!("Bearer  {token}"), format!("Bearer {token} x")] {
        let reply = api.get("/api/me", &[("authorization", &header)]).await;
        assert_eq!(reply.status, 400, "{reply:?}");
        assert_eq!(reply.error(), Some("invalid_request"));
        assert!(reply.challenges[0].contains(r#"error="invalid_request""#));
    }
    // The token in the header and in the query: more than one method.
    let reply = api
        .get(
            &format!("/api/me?access_token={token}"),
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(
        (reply.status, reply.error()),
        (400, Some("invalid_request"))
    );
    // A token that is not a JWS: 401 invalid_token.
    let reply = api.bearer("/api/me", "not-a-jwt").await;
    assert_eq!((reply.status, reply.error()), (401, Some("invalid_token")));
    // The query parameter alone is accepted (RFC 6750 section 2.3).
    let reply = api.get(&format!("/api/me?access_token={token}"), &[]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    api.stop().await;

    // With DPoP required, the Bearer scheme is the wrong scheme: 400, a challenge without
    // an error code (SPEC section 4).
    let config = config(&tenant).dpop(DpopOptions {
        mode: DpopMode::Required,
        ..DpopOptions::default()
    });
    let protect = Protect::new(client(&tenant, config));
    let api = Api::start(move |_: &str| protect.clone()).await;
    let reply = api.bearer("/api/me", &token).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.challenges, [DPOP]);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_scope_is_403_insufficient_scope() {
    let tenant = tenant();
    let protect = protect(&tenant);
    let api = Api::start(move |_: &str| protect.clone()).await;

    let reader = mint(&tenant, spec().subject("u").scope("openid read:orders"));
    let reply = api.bearer("/api/orders", &reader).await;
    assert_eq!((reply.status, reply.text.as_str()), (200, "orders"));

    let other = mint(&tenant, spec().subject("u").scope("openid write:orders"));
    let reply = api.bearer("/api/orders", &other).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.challenges,
        [
            r#"Bearer realm="api", error="insufficient_scope", error_description="insufficient scope", scope="read:orders""#,
            DPOP
        ]
    );
    assert_eq!(reply.error(), Some("insufficient_scope"));

    // The policy runs after verification: a bad token on the guarded route is still 401.
    let reply = api.bearer("/api/orders", "a.b.c").await;
    assert_eq!(reply.status, 401, "{reply:?}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permissions_policy_reads_the_permissions_claim() {
    let tenant = tenant();
    let protect = protect(&tenant);
    let api = Api::start(move |_: &str| protect.clone()).await;

    let admin = mint(
        &tenant,
        spec().claim("permissions", json!(["orders:admin"])),
    );
    assert_eq!(api.bearer("/api/admin", &admin).await.status, 200);
    let root = mint(&tenant, spec().claim("permissions", json!(["root", "x"])));
    assert_eq!(api.bearer("/api/admin", &root).await.status, 200);

    for permissions in [json!(["orders:read"]), json!("orders:admin"), json!([])] {
        let token = mint(&tenant, spec().claim("permissions", permissions.clone()));
        let reply = api.bearer("/api/admin", &token).await;
        assert_eq!(reply.status, 403, "{permissions}: {reply:?}");
        assert_eq!(reply.error(), Some("insufficient_scope"));
        // Not a scope requirement: no `scope` attribute, and no claim value echoed.
        assert!(
            !reply.challenges[0].contains("scope=\""),
            "{:?}",
            reply.challenges
        );
        assert!(!reply.text.contains("orders:"), "{}", reply.text);
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_middleware_can_carry_the_policy_itself() {
    let tenant = tenant();
    let protect = protect(&tenant).policy(
        Policy::new()
            .claim_equals("org_id", "org_1")
            .all_scopes(["a"]),
    );
    let api = Api::start(move |_: &str| protect.clone()).await;

    let good = mint(
        &tenant,
        spec().subject("u").scope("a").claim("org_id", "org_1"),
    );
    assert_eq!(api.bearer("/api/me", &good).await.status, 200);
    let other_org = mint(
        &tenant,
        spec().subject("u").scope("a").claim("org_id", "org_2"),
    );
    let reply = api.bearer("/api/me", &other_org).await;
    assert_eq!(
        (reply.status, reply.error()),
        (403, Some("insufficient_scope"))
    );
    assert!(!reply.text.contains("org_"), "{}", reply.text);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_bound_token_needs_a_proof_for_the_real_url() {
    let tenant = tenant();
    let key = DpopKey::new(&tenant);
    let bound = mint(
        &tenant,
        spec().alg(Alg::Es256).subject("holder").jkt(&key.jkt),
    );
    let protect = protect(&tenant).public_origin("https://api.example.com".parse().unwrap());
    let api = Api::start(move |_: &str| protect.clone()).await;
    let dpop = |proof: &str| {
        [
            ("authorization".to_owned(), format!("DPoP {bound}")),
            ("dpop".to_owned(), proof.to_owned()),
        ]
    };
    let send = |headers: [(String, String); 2]| {
        let api = &api;
        async move {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            api.get("/api/me?page=2", &headers).await
        }
    };

    // The proof names the public URL (the query is not part of htu).
    let proof = key.proof("GET", "https://api.example.com/api/me", &bound);
    let reply = send(dpop(&proof)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["dpop"], true);

    // Another path, another host, another method: invalid_dpop_proof, 400 (SPEC section 4),
    // with the error on the DPoP challenge.
    for (method, url) in [
        ("GET", "https://api.example.com/api/other"),
        ("GET", format!("{}/api/me", api.origin).as_str()),
        ("POST", "https://api.example.com/api/me"),
    ] {
        let proof = key.proof(method, url, &bound);
        let reply = send(dpop(&proof)).await;
        assert_eq!(reply.status, 400, "{method} {url}: {reply:?}");
        assert_eq!(reply.error(), Some("invalid_dpop_proof"));
        assert_eq!(reply.challenges[0], BEARER);
        assert!(
            reply.challenges[1].starts_with(r#"DPoP error="invalid_dpop_proof""#),
            "{:?}",
            reply.challenges
        );
    }

    // The bound token as a bearer token: 401 invalid_token.
    let reply = api.bearer("/api/me", &bound).await;
    assert_eq!((reply.status, reply.error()), (401, Some("invalid_token")));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_count_only_when_trusted() {
    let tenant = Arc::new(tenant());
    let key = DpopKey::new(&tenant);
    let bound = mint(
        &tenant,
        spec().alg(Alg::Es256).subject("holder").jkt(&key.jkt),
    );
    let authorization = format!("DPoP {bound}");
    let public = "https://public.example/api/me";
    let x_forwarded = vec![
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "public.example"),
    ];
    // A client's own element first, the trusted proxy's last: only the last counts.
    let forwarded = vec![(
        "forwarded",
        "proto=http;host=evil.example, for=10.0.0.1;proto=https;host=public.example",
    )];
    let request = |api: &Api, proof: String, extra: Vec<(&'static str, &'static str)>| {
        let authorization = authorization.clone();
        let api_get = api.get_owned("/api/me");
        async move {
            let mut headers = vec![
                ("authorization".to_owned(), authorization),
                ("dpop".to_owned(), proof),
            ];
            headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
            api_get(headers).await
        }
    };

    // Trusted: the proof for the forwarded URL passes, one for the socket's URL does not.
    for (trusting, headers) in [
        (protect(&tenant).trust_x_forwarded(), &x_forwarded),
        (protect(&tenant).trust_forwarded(), &forwarded),
    ] {
        let api = Api::start(move |_: &str| trusting.clone()).await;
        let reply = request(&api, key.proof("GET", public, &bound), headers.clone()).await;
        assert_eq!(reply.status, 200, "{headers:?}: {reply:?}");
        let own = api.url("/api/me");
        let reply = request(&api, key.proof("GET", &own, &bound), headers.clone()).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, Some("invalid_dpop_proof"))
        );
        // The trusted header missing: the proxy is not in front, a server error.
        let reply = request(&api, key.proof("GET", public, &bound), vec![]).await;
        assert_eq!((reply.status, reply.error()), (500, Some("server_error")));
        api.stop().await;
    }

    // Not trusted, with the server's own origin configured: forged forwarded headers change
    // nothing.
    let api = Api::start({
        let tenant = tenant.clone();
        move |origin: &str| protect(&tenant).public_origin(origin.parse().unwrap())
    })
    .await;
    for headers in [&x_forwarded, &forwarded] {
        let reply = request(&api, key.proof("GET", public, &bound), headers.clone()).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, Some("invalid_dpop_proof")),
            "{headers:?}"
        );
        let own = api.url("/api/me");
        let reply = request(&api, key.proof("GET", &own, &bound), headers.clone()).await;
        assert_eq!(reply.status, 200, "{headers:?}: {reply:?}");
    }
    api.stop().await;

    // Neither: the Host header is never trusted for DPoP (500, the operator must configure
    // an origin); bearer tokens still pass.
    let api = Api::start({
        let tenant = tenant.clone();
        move |_: &str| protect(&tenant)
    })
    .await;
    let own = api.url("/api/me");
    let reply = request(&api, key.proof("GET", &own, &bound), vec![]).await;
    assert_eq!((reply.status, reply.error()), (500, Some("server_error")));
    assert_eq!(
        api.bearer("/api/me", &common::token(&tenant)).await.status,
        200
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_authentication_lets_anonymous_requests_through() {
    let tenant = tenant();
    let protect = protect(&tenant).optional(true);
    let api = Api::start(move |_: &str| protect.clone()).await;

    let reply = api.get("/api/optional", &[]).await;
    assert_eq!((reply.status, &reply.body), (200, &json!({"sub": null})));
    let reply = api.bearer("/api/optional", &token(&tenant)).await;
    assert_eq!(
        (reply.status, &reply.body),
        (200, &json!({"sub": "user-1"}))
    );
    // Bad credentials are still refused.
    let reply = api.bearer("/api/optional", "a.b.c").await;
    assert_eq!((reply.status, reply.error()), (401, Some("invalid_token")));
    // A route that needs the claims answers the no-token challenge.
    let reply = api.get("/api/me", &[]).await;
    assert_eq!(
        (reply.status, &reply.challenges()[..]),
        (401, &[BEARER, DPOP][..])
    );
    // So does a route guard.
    let reply = api.get("/api/orders", &[]).await;
    assert_eq!(
        (reply.status, &reply.challenges()[..]),
        (401, &[BEARER, DPOP][..])
    );
    api.stop().await;

    // Without the option, the optional extractor never sees an anonymous request.
    let protect = common::protect(&tenant);
    let api = Api::start(move |_: &str| protect.clone()).await;
    assert_eq!(api.get("/api/optional", &[]).await.status, 401);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_of_several_audiences_is_accepted() {
    let tenant = tenant();
    let config = config(&tenant).audiences([DEFAULT_AUDIENCE, "https://second.example/"]);
    let protect = Protect::new(client(&tenant, config));
    let api = Api::start(move |_: &str| protect.clone()).await;

    for audiences in [
        vec!["https://second.example/"],
        vec!["https://other.example/", "https://second.example/"],
        vec![DEFAULT_AUDIENCE],
    ] {
        let token = mint(&tenant, spec().audiences(audiences.clone()).subject("u"));
        assert_eq!(
            api.bearer("/api/me", &token).await.status,
            200,
            "{audiences:?}"
        );
    }
    let token = mint(&tenant, spec().audiences(["https://other.example/"]));
    let reply = api.bearer("/api/me", &token).await;
    assert_eq!((reply.status, reply.error()), (401, Some("invalid_token")));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_handler_replaces_every_rejection() {
    let tenant = tenant();
    let seen = Arc::new(AtomicUsize::new(0));
    let protect = protect(&tenant).error_handler({
        let seen = seen.clone();
        move |err: &ProtectError, _request: &actix_web::HttpRequest| {
            seen.fetch_add(1, Ordering::SeqCst);
            HttpResponse::build(actix_web::http::StatusCode::from_u16(err.status()).unwrap())
                .json(json!({"custom": err.error_code()}))
        }
    });
    let api = Api::start(move |_: &str| protect.clone()).await;

    let reply = api.get("/api/me", &[]).await;
    assert_eq!(
        (reply.status, &reply.body),
        (401, &json!({"custom": "invalid_token"}))
    );
    assert!(
        reply.challenges.is_empty(),
        "the handler chose its own headers"
    );
    let reply = api.bearer("/api/me", "a.b.c").await;
    assert_eq!(
        (reply.status, &reply.body),
        (401, &json!({"custom": "invalid_token"}))
    );
    // The route guard's refusal and the extractor's go through it too.
    let reader = mint(&tenant, spec().scope("none"));
    let reply = api.bearer("/api/orders", &reader).await;
    assert_eq!(
        (reply.status, &reply.body),
        (403, &json!({"custom": "insufficient_scope"}))
    );
    let reply = api.bearer("/api/typed", &reader).await;
    assert_eq!(
        (reply.status, &reply.body),
        (401, &json!({"custom": "invalid_token"}))
    );
    assert_eq!(seen.load(Ordering::SeqCst), 4);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_claims_deserialise_or_are_refused() {
    let tenant = tenant();
    let protect = protect(&tenant);
    let api = Api::start(move |_: &str| protect.clone()).await;

    let token = mint(&tenant, spec().subject("u-7").claim("org_id", "org_9"));
    let reply = api.bearer("/api/typed", &token).await;
    assert_eq!(
        (reply.status, &reply.body),
        (200, &json!({"sub": "u-7", "org_id": "org_9"}))
    );

    // No `org_id`: the token does not fit the route's claims type.
    let token = mint(&tenant, spec().subject("u-7"));
    let reply = api.bearer("/api/typed", &token).await;
    assert_eq!((reply.status, reply.error()), (401, Some("invalid_token")));
    assert_eq!(reply.challenges.len(), 2);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extractor_and_the_guard_without_the_middleware_are_a_500() {
    let tenant = tenant();
    let protect = protect(&tenant);
    let api = Api::start(move |_: &str| protect.clone()).await;
    let token = token(&tenant);

    for path in ["/bare/me", "/bare/orders"] {
        let reply = api.bearer(path, &token).await;
        assert_eq!(reply.status, 500, "{path}: {reply:?}");
        assert_eq!(reply.error(), Some("server_error"));
        assert!(reply.challenges.is_empty());
    }
    // The optional extractor cannot answer 500 (actix turns any error into `None`); it sees
    // no claims.
    let reply = api.bearer("/bare/claims", &token).await;
    assert_eq!((reply.status, reply.text.as_str()), (200, "false"));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_on_a_cold_cache_fetch_each_document_once() {
    let tenant = tenant();
    let protect = protect(&tenant);
    let api = Api::start(move |_: &str| protect.clone()).await;
    let authorization = Arc::new(format!("Bearer {}", token(&tenant)));

    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (http, url) = (api.http().clone(), api.url("/api/me"));
            let authorization = authorization.clone();
            tokio::spawn(async move {
                let response = http
                    .get(url)
                    .header("authorization", authorization.as_str())
                    .send()
                    .await
                    .unwrap();
                response.status().as_u16()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(tenant.request_count(DISCOVERY), 1);
    assert_eq!(tenant.request_count(JWKS), 1);
    api.stop().await;
}

/// A client that disconnects while its verification waits on a stalled JWKS request: actix
/// drops the request's future, the driver abandons the fetch, and the next request fetches
/// the key set itself at once, not after the stalled one times out (10 s transport timeout,
/// 30 s in-flight mark). Measured: the next request's latency stays far below those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_during_a_stalled_fetch_does_not_delay_the_next_request() {
    let tenant = tenant();
    let protect = protect(&tenant);
    let api = Api::start(move |_: &str| protect.clone()).await;
    let authorization = format!("Bearer {}", token(&tenant));
    tenant.stall(JWKS, Duration::from_secs(30));

    let first = tokio::spawn({
        let get = api.get_owned("/api/me");
        let headers = vec![("authorization".to_owned(), authorization.clone())];
        async move { get(headers).await }
    });
    // Wait until the first request's JWKS fetch is out (polling, not a timed assertion).
    let deadline = Instant::now() + Duration::from_secs(20);
    while tenant.request_count(JWKS) == 0 {
        assert!(Instant::now() < deadline, "the JWKS request never left");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    tenant.reset_faults();

    let started = Instant::now();
    let reply = api.bearer("/api/me", &token(&tenant)).await;
    let waited = started.elapsed();
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        waited < Duration::from_secs(5),
        "the next request waited {waited:?} for the abandoned fetch"
    );
    assert_eq!(
        tenant.request_count(JWKS),
        2,
        "the abandoned request and a new one"
    );
    api.stop().await;
}
