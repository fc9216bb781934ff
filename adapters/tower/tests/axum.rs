//! The layer, the route policy and the extractors on a real axum server (hyper, tokio) on
//! loopback, against the local HTTPS tenant, with a real HTTP client (reqwest).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use auth0_api::jose::jwk::Jwk;
use auth0_api::jose::sign::{Es256Signer, sign_compact};
use auth0_api::jose::verify::RUST_CRYPTO;
use auth0_api::verify::dpop::access_token_hash;
use auth0_api::{CachePolicy, DomainPolicy, Policy, Verifier, VerifierConfig};
use auth0_api_driver::{Client, ClientOptions};
use auth0_api_mock_tenant::{Alg, DEFAULT_AUDIENCE, MockTenant, TenantOptions, TokenSpec};
use auth0_api_reqwest::ReqwestTransport;
use auth0_api_tower::{
    Authenticated, AuthorizeLayer, ErrorResponse, ProtectLayer, ProtectOptions, Verified,
};
use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

const DISCOVERY: &str = "/.well-known/openid-configuration";
const JWKS: &str = "/.well-known/jwks.json";

fn tenant() -> MockTenant {
    MockTenant::start(TenantOptions::default()).unwrap()
}

fn config(tenant: &MockTenant) -> VerifierConfig {
    VerifierConfig::new()
        .domain(tenant.issuer())
        .audience(DEFAULT_AUDIENCE)
        .algorithms(["RS256", "ES256"])
        .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
}

fn client_options(tenant: &MockTenant) -> ClientOptions {
    ClientOptions {
        root_certificates_pem: vec![tenant.ca_pem().as_bytes().to_vec()],
        ..ClientOptions::default()
    }
}

fn layer(tenant: &MockTenant, verifier: Verifier) -> ProtectLayer<ReqwestTransport> {
    ProtectLayer::reqwest(verifier, client_options(tenant)).unwrap()
}

fn mint(tenant: &MockTenant, spec: TokenSpec) -> String {
    tenant.mint_access_token(&spec).unwrap()
}

async fn me(Authenticated(claims): Authenticated) -> String {
    serde_json::to_string(&claims).unwrap()
}

#[derive(serde::Deserialize)]
struct User {
    sub: String,
    org_id: String,
}

async fn user(Authenticated(user): Authenticated<User>) -> String {
    format!("{} in {}", user.sub, user.org_id)
}

async fn maybe(user: Option<Authenticated>) -> String {
    match user {
        Some(Authenticated(claims)) => format!("user {}", claims.sub().unwrap().unwrap()),
        None => "anonymous".to_owned(),
    }
}

fn routes() -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/user", get(user))
        .route("/maybe", get(maybe))
}

/// Binds loopback, serves `app` (made knowing the address) on this runtime.
async fn serve(app: impl FnOnce(SocketAddr) -> Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app(addr);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Status, every `WWW-Authenticate` value and the JSON body.
async fn call(request: reqwest::RequestBuilder) -> (u16, Vec<String>, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, challenges, body)
}

/// An ES256 DPoP key: its signer, public JWK and RFC 7638 thumbprint.
struct DpopKey {
    signer: Es256Signer,
    jwk: Map<String, Value>,
    jkt: String,
}

fn dpop_key() -> DpopKey {
    loop {
        let mut d = [0u8; 32];
        getrandom::fill(&mut d).unwrap();
        let Ok(key) = p256::ecdsa::SigningKey::from_slice(&d) else {
            continue;
        };
        let point = key.verifying_key().to_sec1_point(false);
        let (x, y) = point.as_bytes()[1..65].split_at(32);
        let jwk = json!({"kty": "EC", "crv": "P-256", "d": URL_SAFE_NO_PAD.encode(d),
                         "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)});
        let signer = Es256Signer::from_jwk(jwk.as_object().unwrap()).unwrap();
        let jwk = signer.public_jwk();
        let jkt = Jwk::from_members(&jwk, &RUST_CRYPTO).unwrap().thumbprint();
        return DpopKey { signer, jwk, jkt };
    }
}

impl DpopKey {
    fn proof(&self, method: &str, url: &str, token: &str) -> String {
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).unwrap();
        let now = auth0_api_driver::system_clock().as_secs();
        let header = json!({"typ": "dpop+jwt", "jwk": self.jwk});
        let claims = json!({"jti": URL_SAFE_NO_PAD.encode(jti), "htm": method, "htu": url,
                            "iat": now, "ath": access_token_hash(token)});
        sign_compact(
            header.as_object().unwrap(),
            claims.as_object().unwrap(),
            &self.signer,
        )
        .unwrap()
    }
}

#[tokio::test]
async fn bearer_token_gets_the_claims_and_errors_follow_spec() {
    let t = tenant();
    let layer = layer(&t, config(&t).build().unwrap());
    let addr = serve(|_| routes().layer(layer)).await;
    let url = format!("http://{addr}/me");
    let http = http();

    let token = mint(&t, TokenSpec::new(DEFAULT_AUDIENCE).subject("user|42"));
    let (status, _, body) = call(http.get(&url).bearer_auth(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sub"], "user|42");
    assert_eq!(body["aud"], DEFAULT_AUDIENCE);

    // A token in the query is a bearer token too (RFC 6750 section 2.3).
    let (status, _, body) = call(http.get(format!("{url}?access_token={token}"))).await;
    assert_eq!((status, body["sub"].as_str()), (200, Some("user|42")));

    // No credentials: 401, both challenges without an error code.
    let (status, challenges, body) = call(http.get(&url)).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenges,
        [r#"Bearer realm="api""#, r#"DPoP algs="ES256""#]
    );
    assert_eq!(body["error"], "invalid_token");

    // Expired: 401 invalid_token on the Bearer challenge.
    let expired = mint(&t, TokenSpec::new(DEFAULT_AUDIENCE).iat(1_000).exp(2_000));
    let (status, challenges, body) = call(http.get(&url).bearer_auth(&expired)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert!(challenges[0].starts_with(r#"Bearer realm="api", error="invalid_token""#));
    assert!(!challenges.concat().contains(&expired), "no token echoed");

    // Another scheme: 400, challenges without an error code (SPEC section 4).
    let basic = http.get(&url).header("authorization", "Basic dXNlcjpwYXNz");
    let (status, challenges, body) = call(basic).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert_eq!(
        challenges,
        [r#"Bearer realm="api""#, r#"DPoP algs="ES256""#]
    );

    // Malformed or ambiguous requests: 400 invalid_request.
    let malformed = http
        .get(&url)
        .header("authorization", format!("Bearer {token} x"));
    let (status, challenges, body) = call(malformed).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(challenges[0].contains(r#"error="invalid_request""#));
    let twice = http
        .get(format!("{url}?access_token={token}"))
        .bearer_auth(&token);
    let (status, _, body) = call(twice).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // The body is never read: a token only in a form field is not found (401, no error
    // code), as documented.
    let form = http
        .get(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("access_token={token}"));
    let (status, challenges, _) = call(form).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenges,
        [r#"Bearer realm="api""#, r#"DPoP algs="ES256""#]
    );

    // A token for another audience: 401.
    let other = mint(&t, TokenSpec::new("https://other.example/"));
    assert_eq!(call(http.get(&url).bearer_auth(&other)).await.0, 401);
}

#[tokio::test]
async fn typed_claims_and_scope_and_permission_policies() {
    let t = tenant();
    let layer = layer(&t, config(&t).build().unwrap());
    let permissions = ProtectLayer::clone(&layer)
        .options(ProtectOptions::new().policy(Policy::new().all_permissions(["orders:delete"])));
    let addr = serve(|_| {
        let orders = Router::new()
            .route("/orders", get(|| async { "orders" }))
            .route_layer(AuthorizeLayer::scopes(["read:orders", "write:orders"]));
        let delete = Router::new()
            .route("/delete", get(|| async { "deleted" }))
            .layer(permissions);
        routes().merge(orders).layer(layer).merge(delete)
    })
    .await;
    let http = http();

    // Authenticated<T>: fits, or 401 without echoing the claims.
    let mut spec = TokenSpec::new(DEFAULT_AUDIENCE).subject("user|7");
    spec.extra.insert("org_id".into(), json!("org_1"));
    let token = mint(&t, spec);
    let (status, _, body) = call(http.get(format!("http://{addr}/user")).bearer_auth(&token)).await;
    assert_eq!((status, body.as_str()), (200, Some("user|7 in org_1")));
    let mut spec = TokenSpec::new(DEFAULT_AUDIENCE).subject("user|7");
    spec.extra
        .insert("org_id".into(), json!(["secret-org-value"]));
    let token = mint(&t, spec);
    let (status, challenges, body) =
        call(http.get(format!("http://{addr}/user")).bearer_auth(&token)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    let text = format!("{challenges:?}{body}");
    assert!(
        !text.contains("secret-org-value") && !text.contains("user|7"),
        "{text}"
    );

    // Scopes on a route: 403 with the required scopes in the challenge.
    let orders = format!("http://{addr}/orders");
    let reader = mint(
        &t,
        TokenSpec::new(DEFAULT_AUDIENCE).scope("openid read:orders"),
    );
    let (status, challenges, body) = call(http.get(&orders).bearer_auth(&reader)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert!(
        challenges[0].contains(r#"error="insufficient_scope""#)
            && challenges[0].contains(r#"scope="read:orders write:orders""#),
        "{challenges:?}"
    );
    let writer = mint(
        &t,
        TokenSpec::new(DEFAULT_AUDIENCE).scope("read:orders write:orders"),
    );
    let (status, _, body) = call(http.get(&orders).bearer_auth(&writer)).await;
    assert_eq!((status, body.as_str()), (200, Some("orders")));
    // The scope route without a token is 401 (the layer answers first).
    assert_eq!(call(http.get(&orders)).await.0, 401);

    // Permissions in the layer's policy: 403 without, 200 with.
    let delete = format!("http://{addr}/delete");
    let mut spec = TokenSpec::new(DEFAULT_AUDIENCE);
    spec.extra
        .insert("permissions".into(), json!(["orders:read"]));
    let token = mint(&t, spec);
    let (status, challenges, body) = call(http.get(&delete).bearer_auth(&token)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert!(!challenges[0].contains("scope=\""), "{challenges:?}");
    let mut spec = TokenSpec::new(DEFAULT_AUDIENCE);
    spec.extra.insert(
        "permissions".into(),
        json!(["orders:read", "orders:delete"]),
    );
    let token = mint(&t, spec);
    assert_eq!(call(http.get(&delete).bearer_auth(&token)).await.0, 200);
}

#[tokio::test]
async fn dpop_bound_tokens_with_a_public_origin() {
    let t = tenant();
    let verifier = config(&t).build().unwrap();
    let client = Arc::new(auth0_api_reqwest::client(verifier, client_options(&t)).unwrap());
    let key = dpop_key();
    let token = mint(
        &t,
        TokenSpec::new(DEFAULT_AUDIENCE)
            .alg(Alg::Es256)
            .jkt(&key.jkt),
    );
    let http = http();

    // A fixed public origin: the proof names the public URL; forwarded headers are ignored.
    let public = "https://api.example.com";
    let fixed = ProtectLayer::new(Arc::clone(&client))
        .options(ProtectOptions::new().public_origin(public.parse().unwrap()));
    let addr = serve(|_| routes().layer(fixed)).await;
    let url = format!("http://{addr}/me?page=2");
    let proof = key.proof("GET", &format!("{public}/me"), &token);
    let request = http
        .get(&url)
        .header("authorization", format!("DPoP {token}"));
    let (status, _, body) = call(request.header("dpop", proof)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cnf"]["jkt"], key.jkt.as_str());

    // A proof for another URL: 400 invalid_dpop_proof on the DPoP challenge.
    let proof = key.proof("GET", "https://evil.example/me", &token);
    let request = http
        .get(&url)
        .header("authorization", format!("DPoP {token}"));
    let (status, challenges, body) = call(request.header("dpop", proof)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    assert!(
        challenges[1].starts_with(r#"DPoP error="invalid_dpop_proof""#),
        "{challenges:?}"
    );

    // Two DPoP headers: several proofs, refused.
    let proof = key.proof("GET", &format!("{public}/me"), &token);
    let request = http
        .get(&url)
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", &proof)
        .header("dpop", &proof);
    let (status, _, body) = call(request).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );

    // The bound token as a bearer token: 401.
    assert_eq!(call(http.get(&url).bearer_auth(&token)).await.0, 401);

    // Forwarded headers do not move a fixed origin.
    let proof = key.proof("GET", "https://proxy.example/me", &token);
    let request = http
        .get(&url)
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .header("forwarded", "proto=https;host=proxy.example");
    assert_eq!(call(request).await.0, 400);
}

#[tokio::test]
async fn forwarded_headers_only_when_trusted() {
    let t = tenant();
    let verifier = config(&t).build().unwrap();
    let client = Arc::new(auth0_api_reqwest::client(verifier, client_options(&t)).unwrap());
    let key = dpop_key();
    let token = mint(
        &t,
        TokenSpec::new(DEFAULT_AUDIENCE)
            .alg(Alg::Es256)
            .jkt(&key.jkt),
    );
    let http = http();

    let trusted =
        ProtectLayer::new(Arc::clone(&client)).options(ProtectOptions::new().trust_forwarded());
    let untrusted = ProtectLayer::new(Arc::clone(&client));
    let trusted = serve(|_| routes().layer(trusted)).await;
    let untrusted = serve(|_| routes().layer(untrusted)).await;

    let proof = || key.proof("GET", "https://api.example.com/me", &token);
    let request = |addr: SocketAddr, forwarded: &str| {
        http.get(format!("http://{addr}/me"))
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof())
            .header("forwarded", forwarded)
    };
    // The proxy's element is the last one; a client-sent element before it is ignored.
    let chain = "proto=http;host=evil.example, for=10.0.0.1;proto=https;host=api.example.com";
    let (status, _, body) = call(request(trusted, chain)).await;
    assert_eq!(status, 200, "{body}");
    let forged_last = "proto=https;host=api.example.com, proto=https;host=evil.example";
    assert_eq!(call(request(trusted, forged_last)).await.0, 400);
    // Trusted but missing: a configuration matter, 500.
    let missing = http
        .get(format!("http://{trusted}/me"))
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof());
    let (status, challenges, body) = call(missing).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("server_error"))
    );
    assert!(challenges.is_empty());

    // Not trusted: the Host header is never enough for DPoP (500), whatever Forwarded says.
    let (status, _, body) = call(request(untrusted, chain)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("server_error"))
    );
    // Bearer requests need no URL and pass.
    let bearer = mint(&t, TokenSpec::new(DEFAULT_AUDIENCE));
    let request = http
        .get(format!("http://{untrusted}/me"))
        .bearer_auth(&bearer);
    assert_eq!(call(request).await.0, 200);
}

#[tokio::test]
async fn optional_authentication() {
    let t = tenant();
    let layer =
        layer(&t, config(&t).build().unwrap()).options(ProtectOptions::new().optional(true));
    let addr = serve(|_| routes().layer(layer)).await;
    let http = http();
    let maybe = format!("http://{addr}/maybe");

    let (status, _, body) = call(http.get(&maybe)).await;
    assert_eq!((status, body.as_str()), (200, Some("anonymous")));
    let token = mint(&t, TokenSpec::new(DEFAULT_AUDIENCE).subject("user|9"));
    let (status, _, body) = call(http.get(&maybe).bearer_auth(&token)).await;
    assert_eq!((status, body.as_str()), (200, Some("user user|9")));
    // Bad credentials are still refused.
    let expired = mint(&t, TokenSpec::new(DEFAULT_AUDIENCE).iat(1_000).exp(2_000));
    assert_eq!(call(http.get(&maybe).bearer_auth(&expired)).await.0, 401);
    let basic = http.get(&maybe).header("authorization", "Basic eDp5");
    assert_eq!(call(basic).await.0, 400);
    // A route that requires the claims answers 401 with the challenges.
    let (status, challenges, _) = call(http.get(format!("http://{addr}/me"))).await;
    assert_eq!((status, challenges.len()), (401, 2));
}

#[tokio::test]
async fn several_audiences() {
    let t = tenant();
    let verifier = config(&t)
        .audiences(["https://first.example/", DEFAULT_AUDIENCE])
        .build()
        .unwrap();
    let layer = layer(&t, verifier);
    let addr = serve(|_| routes().layer(layer)).await;
    let http = http();
    let url = format!("http://{addr}/me");
    for aud in ["https://first.example/", DEFAULT_AUDIENCE] {
        let token = mint(&t, TokenSpec::new(aud));
        assert_eq!(
            call(http.get(&url).bearer_auth(&token)).await.0,
            200,
            "{aud}"
        );
    }
    let token = mint(&t, TokenSpec::new("https://third.example/"));
    assert_eq!(call(http.get(&url).bearer_auth(&token)).await.0, 401);
}

#[tokio::test]
async fn error_handler_override() {
    let t = tenant();
    let layer = layer(&t, config(&t).build().unwrap()).on_error(|error| {
        let default = ErrorResponse::from(error);
        http::Response::builder()
            .status(418)
            .header("x-original-status", default.status)
            .body(format!("custom {}", error.error_code()))
            .unwrap()
    });
    let addr = serve(|_| {
        let scoped = Router::new()
            .route("/scoped", get(|| async { "ok" }))
            .route_layer(AuthorizeLayer::scopes(["admin"]));
        routes().merge(scoped).layer(layer)
    })
    .await;
    let http = http();
    let response = http.get(format!("http://{addr}/me")).send().await.unwrap();
    assert_eq!(response.status(), 418);
    assert_eq!(response.headers()["x-original-status"], "401");
    assert_eq!(response.text().await.unwrap(), "custom invalid_token");
    // The route policy uses the layer's handler too.
    let token = mint(&t, TokenSpec::new(DEFAULT_AUDIENCE));
    let response = http
        .get(format!("http://{addr}/scoped"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 418);
    assert_eq!(response.text().await.unwrap(), "custom insufficient_scope");
}

#[tokio::test]
async fn missing_layer_is_a_500_not_a_panic() {
    let addr = serve(|_| {
        routes().route(
            "/policy",
            get(|| async { "never" }).route_layer(AuthorizeLayer::scopes(["x"])),
        )
    })
    .await;
    let http = http();
    for path in ["/me", "/maybe", "/user", "/policy"] {
        let (status, _, body) = call(http.get(format!("http://{addr}{path}"))).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (500, Some("server_error")),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_on_a_cold_cache_make_one_fetch_each() {
    let t = tenant();
    let layer = layer(&t, config(&t).build().unwrap());
    let addr = serve(|_| routes().layer(layer)).await;
    let http = http();
    let token = mint(&t, TokenSpec::new(DEFAULT_AUDIENCE));
    let url = format!("http://{addr}/me");
    let requests: Vec<_> = (0..200)
        .map(|_| {
            let request = http.get(&url).bearer_auth(&token);
            tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap().unwrap(), 200);
    }
    assert_eq!(t.request_count(DISCOVERY), 1);
    assert_eq!(t.request_count(JWKS), 1);
}

/// A verifier and client that would wait an hour for a stalled fetch: only abandoning the
/// fetch of a dropped request lets the next request through quickly.
fn patient_client(t: &MockTenant) -> Arc<Client<ReqwestTransport>> {
    let verifier = config(t)
        .cache(CachePolicy {
            fetch_timeout: Duration::from_secs(3600),
            ..CachePolicy::default()
        })
        .build()
        .unwrap();
    let options = ClientOptions {
        timeout: Duration::from_secs(3600),
        ..client_options(t)
    };
    Arc::new(auth0_api_reqwest::client(verifier, options).unwrap())
}

/// Waits (polling the tenant's request log) until `path` was requested `count` times.
async fn until_requested(t: &MockTenant, path: &str, count: u64) {
    while t.request_count(path) < count {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_disconnected_client_does_not_stall_the_next_request() {
    let t = tenant();
    let client = patient_client(&t);
    let addr = serve(|_| routes().layer(ProtectLayer::new(Arc::clone(&client)))).await;
    let token = mint(&t, TokenSpec::new(DEFAULT_AUDIENCE));
    let url = format!("http://{addr}/me");
    t.stall(JWKS, Duration::from_secs(3600));

    // The first client sends, its request starts the (stalled) key fetch, then it hangs up.
    let first = tokio::spawn(http().get(&url).bearer_auth(&token).send());
    until_requested(&t, JWKS, 1).await;
    first.abort();
    t.reset_faults();

    // The next request fetches the keys itself at once instead of waiting for the first.
    let next = http().get(&url).bearer_auth(&token).send();
    let next = tokio::time::timeout(Duration::from_secs(120), next).await;
    let status = next
        .expect("the next request waited for the abandoned fetch")
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert_eq!(
        t.request_count(JWKS),
        2,
        "a second fetch, not a wait for the first"
    );
}

#[tokio::test]
async fn a_dropped_response_future_abandons_its_fetch() {
    use tower::{Service, ServiceExt};

    let t = tenant();
    let client = patient_client(&t);
    // A plain tower service: the claims are in the request extensions.
    let inner = tower::service_fn(|request: http::Request<String>| async move {
        let verified = request.extensions().get::<Verified>();
        let sub = verified.map(|v| v.claims.sub().unwrap().unwrap_or_default().to_owned());
        Ok::<_, std::convert::Infallible>(http::Response::new(sub.unwrap_or_default()))
    });
    let mut service = tower::ServiceBuilder::new()
        .layer(ProtectLayer::new(Arc::clone(&client)))
        .service(inner);
    let token = mint(&t, TokenSpec::new(DEFAULT_AUDIENCE).subject("user|5"));
    let request = || {
        http::Request::get("/me")
            .header("authorization", format!("Bearer {token}"))
            .body(String::new())
            .unwrap()
    };
    t.stall(JWKS, Duration::from_secs(3600));
    let first = tokio::spawn(service.ready().await.unwrap().call(request()));
    until_requested(&t, JWKS, 1).await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    t.reset_faults();

    let next = service.ready().await.unwrap().call(request());
    let next = tokio::time::timeout(Duration::from_secs(120), next).await;
    let response = next
        .expect("the next request waited for the dropped one")
        .unwrap();
    assert_eq!(
        (response.status().as_u16(), response.body().as_str()),
        (200, "user|5")
    );
    assert_eq!(
        t.request_count(JWKS),
        2,
        "a second fetch, not a wait for the first"
    );
}
