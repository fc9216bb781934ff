//! The tenant seen from a real HTTPS client (ureq over rustls) trusting only its CA.

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth0_api_mock_tenant::{
    ACCESS_TOKEN_TYPE, Alg, ClientSpec, DEFAULT_AUDIENCE, DEFAULT_CUSTOM_TOKEN_TYPE,
    FEDERATED_CONNECTION_GRANT, FEDERATED_CONNECTION_TOKEN_TYPE, HUGE_BODY_LEN,
    JWT_BEARER_ASSERTION_TYPE, JwtClient, MockTenant, REFRESH_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT,
    TenantOptions, TokenSpec,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use serde_json::{Map, Value, json};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

const TOKEN: &str = "/oauth/token";

fn tenant() -> MockTenant {
    MockTenant::start(TenantOptions::default()).expect("tenant starts")
}

fn agent_with(tenant: &MockTenant, timeout: Duration) -> ureq::Agent {
    let ca = Certificate::from_pem(tenant.ca_pem().as_bytes()).expect("ca pem parses");
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(vec![ca])))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .build()
        .new_agent()
}

fn agent(tenant: &MockTenant) -> ureq::Agent {
    agent_with(tenant, Duration::from_secs(30))
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("json body")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn to_reply(response: ureq::http::Response<ureq::Body>) -> Reply {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let body = response
        .into_body()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_vec()
        .unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

fn get(agent: &ureq::Agent, url: &str) -> Reply {
    to_reply(agent.get(url).call().expect("request completes"))
}

/// Client authentication for a token request.
#[derive(Clone, Copy, Debug)]
enum Auth {
    Basic,
    Post,
    JwtEs256,
    JwtRs256,
}

const ALL_AUTH: [Auth; 4] = [Auth::Basic, Auth::Post, Auth::JwtEs256, Auth::JwtRs256];

fn jti() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "jti-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Sends a token request with `auth`; returns the reply and the authenticated client id.
fn token_request(tenant: &MockTenant, auth: Auth, params: &[(&str, &str)]) -> (Reply, String) {
    let mut form: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut request = agent(tenant).post(tenant.token_endpoint());
    let client_id = match auth {
        Auth::Basic | Auth::Post => {
            let client = tenant.secret_client();
            if matches!(auth, Auth::Basic) {
                let credentials =
                    STANDARD.encode(format!("{}:{}", client.client_id(), client.secret()));
                request = request.header("Authorization", format!("Basic {credentials}"));
            } else {
                form.push(("client_id".into(), client.client_id().into()));
                form.push(("client_secret".into(), client.secret().into()));
            }
            client.client_id().to_owned()
        }
        Auth::JwtEs256 | Auth::JwtRs256 => {
            let client = if matches!(auth, Auth::JwtEs256) {
                tenant.es256_client()
            } else {
                tenant.rs256_client()
            };
            let assertion = client
                .sign_assertion(tenant.issuer(), &jti(), Duration::from_secs(60))
                .unwrap();
            form.push((
                "client_assertion_type".into(),
                JWT_BEARER_ASSERTION_TYPE.into(),
            ));
            form.push(("client_assertion".into(), assertion));
            client.client_id().to_owned()
        }
    };
    let response = request.send_form(form.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    (to_reply(response.expect("request completes")), client_id)
}

fn raw_token_request(tenant: &MockTenant, form: &[(&str, &str)]) -> Reply {
    let response = agent(tenant)
        .post(tenant.token_endpoint())
        .send_form(form.iter().copied());
    to_reply(response.expect("request completes"))
}

fn assert_oauth_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(
        reply.status,
        status,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["error_description"].is_string());
    assert_eq!(reply.header("content-type"), Some("application/json"));
}

fn b64d(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// Verifies `token` against `jwks` with rsa / p256 directly; returns header and claims.
fn verify_with_jwks(token: &str, jwks: &Value) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&b64d(parts[0])).unwrap();
    let claims: Value = serde_json::from_slice(&b64d(parts[1])).unwrap();
    let signature = b64d(parts[2]);
    let input = format!("{}.{}", parts[0], parts[1]);
    let kid = header["kid"].as_str().expect("kid");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} not in jwks"));
    assert_eq!(jwk["alg"], header["alg"]);
    assert_eq!(jwk["use"], "sig");
    match header["alg"].as_str().unwrap() {
        alg @ ("RS256" | "PS256") => {
            let n = rsa::BoxedUint::from_be_slice_vartime(&b64d(jwk["n"].as_str().unwrap()));
            let e = rsa::BoxedUint::from_be_slice_vartime(&b64d(jwk["e"].as_str().unwrap()));
            let key = rsa::PublicKey::new(n, e).unwrap();
            if alg == "RS256" {
                key.pkcs1v15_verify::<sha2::Sha256>(input.as_bytes(), &signature)
                    .expect("rs256 verifies");
            } else {
                key.pss_verify::<sha2::Sha256>(input.as_bytes(), &signature)
                    .expect("ps256 verifies");
            }
        }
        "ES256" => {
            let mut sec1 = vec![4u8];
            sec1.extend(b64d(jwk["x"].as_str().unwrap()));
            sec1.extend(b64d(jwk["y"].as_str().unwrap()));
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap();
            let sig = p256::ecdsa::Signature::from_slice(&signature).unwrap();
            key.verify(input.as_bytes(), &sig).expect("es256 verifies");
        }
        other => panic!("unexpected alg {other}"),
    }
    (header, claims)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn discovery_and_jwks_over_https() {
    let tenant = tenant();
    assert!(tenant.base_url().starts_with("https://127.0.0.1:"));
    assert!(tenant.issuer().ends_with('/'));
    assert_eq!(
        tenant.base_url(),
        format!("https://127.0.0.1:{}/", tenant.addr().port())
    );
    let agent = agent(&tenant);

    let discovery = get(&agent, &tenant.discovery_url());
    assert_eq!(discovery.status, 200);
    let doc = discovery.json();
    assert_eq!(doc["issuer"], tenant.issuer());
    assert_eq!(doc["jwks_uri"], tenant.jwks_uri());
    assert_eq!(doc["token_endpoint"], tenant.token_endpoint());
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );

    let jwks = get(&agent, &tenant.jwks_uri());
    assert_eq!(jwks.status, 200);
    let jwks = jwks.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    for alg in Alg::ALL {
        let key = keys
            .iter()
            .find(|k| k["alg"] == alg.name())
            .expect("one key per alg");
        assert_eq!(key["kid"], tenant.kid(alg));
        assert_eq!(key["use"], "sig");
        assert!(key.get("d").is_none(), "no private members");
    }
    assert_eq!(jwks, tenant.jwks());
}

#[test]
fn clients_that_do_not_trust_the_ca_fail_the_handshake() {
    let tenant = tenant();
    let plain = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let err = plain
        .get(&tenant.discovery_url())
        .call()
        .expect_err("untrusted CA");
    assert!(format!("{err:?}").contains("UnknownIssuer"), "{err:?}");
    assert_eq!(get(&agent(&tenant), &tenant.discovery_url()).status, 200);
}

#[test]
fn ca_is_written_and_exported_consistently() {
    let tenant = tenant();
    let path = std::env::temp_dir().join(format!("mock-tenant-ca-{}.pem", std::process::id()));
    tenant.write_ca_pem(&path).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(written, tenant.ca_pem());
    let from_pem = Certificate::from_pem(written.as_bytes()).unwrap();
    assert_eq!(from_pem.der(), tenant.ca_der());
}

#[test]
fn minted_tokens_verify_with_the_served_jwks() {
    let tenant = tenant();
    let jwks = get(&agent(&tenant), &tenant.jwks_uri()).json();
    for alg in Alg::ALL {
        let spec = TokenSpec::new("https://api/")
            .alg(alg)
            .subject("auth0|42")
            .scope("read:a write:b")
            .azp("app")
            .jkt("thumb")
            .claim("https://example/role", "admin");
        let token = tenant.mint_access_token(&spec).unwrap();
        let (header, claims) = verify_with_jwks(&token, &jwks);
        assert_eq!(header["typ"], "JWT");
        assert_eq!(claims["iss"], tenant.issuer());
        assert_eq!(claims["sub"], "auth0|42");
        assert_eq!(claims["aud"], "https://api/");
        assert_eq!(claims["azp"], "app");
        assert_eq!(claims["scope"], "read:a write:b");
        assert_eq!(claims["cnf"]["jkt"], "thumb");
        assert_eq!(claims["https://example/role"], "admin");
        let (iat, exp) = (
            claims["iat"].as_u64().unwrap(),
            claims["exp"].as_u64().unwrap(),
        );
        assert!(iat.abs_diff(now()) < 60);
        assert_eq!(exp - iat, 3600);
    }

    let token = tenant
        .mint_access_token(
            &TokenSpec::new("a")
                .audiences(["a", "b"])
                .iat(1000)
                .exp(2000),
        )
        .unwrap();
    let (_, claims) = verify_with_jwks(&token, &jwks);
    assert_eq!(claims["aud"], json!(["a", "b"]));
    assert_eq!(
        (claims["iat"].as_u64(), claims["exp"].as_u64()),
        (Some(1000), Some(2000))
    );

    let unknown = tenant
        .mint_access_token(&TokenSpec::new("a").kid("no-such-kid"))
        .unwrap();
    let header: Value = serde_json::from_slice(&b64d(unknown.split('.').next().unwrap())).unwrap();
    assert_eq!(header["kid"], "no-such-kid");
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kid"] != "no-such-kid")
    );
}

#[test]
fn counters_count_every_request_per_path() {
    let tenant = tenant();
    let agent = agent(&tenant);
    assert_eq!(tenant.total_requests(), 0);
    for _ in 0..3 {
        get(&agent, &tenant.jwks_uri());
    }
    get(&agent, &format!("{}?x=1", tenant.discovery_url()));
    let missing = get(&agent, &tenant.url("/nope"));
    assert_eq!(missing.status, 404);
    let wrong_method = get(&agent, &tenant.token_endpoint());
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("POST"));

    assert_eq!(tenant.request_count("/.well-known/jwks.json"), 3);
    assert_eq!(tenant.request_count(".well-known/jwks.json"), 3);
    assert_eq!(tenant.request_count("/.well-known/openid-configuration"), 1);
    assert_eq!(tenant.request_count("/nope"), 1);
    assert_eq!(tenant.request_count(TOKEN), 1);
    assert_eq!(tenant.total_requests(), 6);
    let last = tenant
        .last_request("/.well-known/openid-configuration")
        .unwrap();
    assert_eq!(last.method, "GET");
    assert_eq!(last.path_and_query, "/.well-known/openid-configuration?x=1");
    tenant.reset_counts();
    assert_eq!(tenant.total_requests(), 0);
    assert_eq!(tenant.request_count("/nope"), 0);
}

#[test]
fn faults_fail_redirect_respond_and_reset() {
    let tenant = tenant();
    let agent = agent(&tenant);
    let jwks = tenant.jwks_uri();

    tenant.fail("/.well-known/jwks.json", 503);
    assert_oauth_error(&get(&agent, &jwks), 503, "server_error");
    tenant.reset_faults();

    tenant.redirect("/.well-known/jwks.json", "https://elsewhere.invalid/jwks");
    let redirected = get(&agent, &jwks);
    assert_eq!(redirected.status, 302);
    assert_eq!(
        redirected.header("location"),
        Some("https://elsewhere.invalid/jwks")
    );
    tenant.reset_faults();

    tenant.respond("/.well-known/jwks.json", 200, "text/plain", "not json");
    let canned = get(&agent, &jwks);
    assert_eq!(
        (canned.status, canned.body.as_slice()),
        (200, &b"not json"[..])
    );
    assert_eq!(canned.header("content-type"), Some("text/plain"));
    tenant.reset_faults();

    tenant.set_discovery_field("issuer", json!("https://evil.example/"));
    tenant.set_discovery_field("jwks_uri", Value::Null);
    let doc = get(&agent, &tenant.discovery_url()).json();
    assert_eq!(doc["issuer"], "https://evil.example/");
    assert!(doc.get("jwks_uri").is_none());
    tenant.reset_faults();
    assert_eq!(
        get(&agent, &tenant.discovery_url()).json()["issuer"],
        tenant.issuer()
    );

    // Faults apply to the token endpoint too, before any grant processing.
    tenant.fail(TOKEN, 500);
    let (reply, _) = token_request(&tenant, Auth::Post, &[("grant_type", "x")]);
    assert_oauth_error(&reply, 500, "server_error");
    tenant.reset_faults();
    assert_eq!(get(&agent, &jwks).status, 200);
    assert_eq!(
        tenant.request_count("/.well-known/jwks.json"),
        4,
        "faulted requests are counted"
    );
}

#[test]
fn huge_body_sends_five_mebibytes() {
    let tenant = tenant();
    tenant.huge_body("/.well-known/openid-configuration");
    let reply = get(&agent(&tenant), &tenant.discovery_url());
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), HUGE_BODY_LEN);
    assert_eq!(
        reply.header("content-length"),
        Some(HUGE_BODY_LEN.to_string().as_str())
    );
    // A client with the default 10 MiB cap still reads it; a 1 MiB cap refuses it.
    let capped = agent(&tenant).get(&tenant.discovery_url()).call().unwrap();
    let err = capped
        .into_body()
        .with_config()
        .limit(1024 * 1024)
        .read_to_vec();
    assert!(err.is_err());
}

#[test]
fn stall_delays_the_answer_and_trips_client_timeouts() {
    let tenant = tenant();
    tenant.stall("/.well-known/jwks.json", Duration::from_millis(700));
    let started = Instant::now();
    assert_eq!(get(&agent(&tenant), &tenant.jwks_uri()).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(700));

    let impatient = agent_with(&tenant, Duration::from_millis(200));
    let result = impatient.get(&tenant.jwks_uri()).call();
    assert!(matches!(result, Err(ureq::Error::Timeout(_))), "{result:?}");

    // Stall combines with another fault: slow, then failing.
    tenant.fail("/.well-known/jwks.json", 502);
    assert_eq!(get(&agent(&tenant), &tenant.jwks_uri()).status, 502);
    tenant.reset_faults();
    let started = Instant::now();
    assert_eq!(get(&agent(&tenant), &tenant.jwks_uri()).status, 200);
    assert!(started.elapsed() < Duration::from_millis(700));
}

/// `stall_body` sends the status, the headers (with the full length) and the first bytes
/// at once, then waits: the client has the response before the stall and times out reading
/// the body; without a delay the whole document arrives intact.
#[test]
fn stall_body_sends_headers_and_part_of_the_body_then_waits() {
    let tenant = tenant();
    let jwks = serde_json::to_vec(&tenant.jwks()).unwrap();
    tenant.stall_body("/.well-known/jwks.json", 10, Duration::from_secs(30));
    let impatient = agent_with(&tenant, Duration::from_millis(300));
    let response = impatient
        .get(&tenant.jwks_uri())
        .call()
        .expect("headers arrive before the stall");
    assert_eq!(response.status(), 200);
    let length = response.headers().get("content-length").unwrap();
    assert_eq!(length.to_str().unwrap(), jwks.len().to_string());
    let mut body = response.into_body();
    let mut reader = body.as_reader();
    let mut head = [0u8; 10];
    std::io::Read::read_exact(&mut reader, &mut head).unwrap();
    assert_eq!(head, jwks[..10]);
    let rest = std::io::Read::read_to_end(&mut reader, &mut Vec::new());
    assert!(rest.is_err(), "the rest waits past the timeout: {rest:?}");

    tenant.stall_body("/.well-known/jwks.json", 10, Duration::ZERO);
    assert_eq!(get(&agent(&tenant), &tenant.jwks_uri()).body, jwks);
}

/// `redirect_with` answers any 3xx; `respond_with_headers` sends exactly the given headers;
/// `tls_names` issues the certificate for other names.
#[test]
fn redirect_status_canned_headers_and_certificate_names() {
    let tenant = tenant();
    for status in [301, 307, 308] {
        tenant.redirect_with(TOKEN, status, "https://elsewhere.invalid/token");
        let reply = get(&agent(&tenant), &tenant.token_endpoint());
        assert_eq!(reply.status, status);
        assert_eq!(
            reply.header("location"),
            Some("https://elsewhere.invalid/token")
        );
    }
    tenant.respond_with_headers(
        "/.well-known/jwks.json",
        200,
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        vec![0x1f, 0x8b],
    );
    let reply = get(&agent(&tenant), &tenant.jwks_uri());
    assert_eq!(reply.header("content-encoding"), Some("gzip"));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.body, [0x1f, 0x8b]);

    let misnamed = MockTenant::start(TenantOptions {
        tls_names: vec!["tenant.invalid".to_owned()],
        ..TenantOptions::default()
    })
    .unwrap();
    let err = agent(&misnamed)
        .get(&misnamed.discovery_url())
        .call()
        .expect_err("certificate for another name");
    assert!(format!("{err:?}").contains("NotValidForName"), "{err:?}");
    assert_eq!(misnamed.total_requests(), 0);
}

#[test]
fn rotation_replaces_every_key() {
    let tenant = tenant();
    let before: Vec<String> = Alg::ALL.iter().map(|&alg| tenant.kid(alg)).collect();
    let old_token = tenant.mint_access_token(&TokenSpec::new("a")).unwrap();
    tenant.rotate_keys().unwrap();
    let jwks = get(&agent(&tenant), &tenant.jwks_uri()).json();
    let served: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(served.len(), 3);
    for kid in &before {
        assert!(
            !served.contains(&kid.as_str()),
            "old kid {kid} still served"
        );
    }
    for alg in Alg::ALL {
        assert!(served.contains(&tenant.kid(alg).as_str()));
        let token = tenant
            .mint_access_token(&TokenSpec::new("a").alg(alg))
            .unwrap();
        verify_with_jwks(&token, &jwks);
    }
    // The tenant no longer accepts what the old key signed.
    let (reply, _) = token_request(
        &tenant,
        Auth::Post,
        &[
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("subject_token", &old_token),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
            ("audience", "https://other/"),
        ],
    );
    assert_oauth_error(&reply, 400, "invalid_grant");
}

#[test]
fn every_exchange_works_with_every_client_authentication() {
    let tenant = tenant();
    let jwks = tenant.jwks();
    let subject = tenant
        .mint_access_token(
            &TokenSpec::new(DEFAULT_AUDIENCE)
                .subject("auth0|alice")
                .scope("read"),
        )
        .unwrap();
    for auth in ALL_AUTH {
        // On behalf of.
        let (reply, client_id) = token_request(
            &tenant,
            auth,
            &[
                ("grant_type", TOKEN_EXCHANGE_GRANT),
                ("subject_token", &subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("requested_token_type", ACCESS_TOKEN_TYPE),
                ("audience", "https://downstream/"),
                ("scope", "read:downstream"),
            ],
        );
        assert_eq!(
            reply.status,
            200,
            "{auth:?}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let body = reply.json();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["issued_token_type"], ACCESS_TOKEN_TYPE);
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["scope"], "read:downstream");
        assert!(body.get("id_token").is_none());
        let (_, claims) = verify_with_jwks(body["access_token"].as_str().unwrap(), &jwks);
        assert_eq!(claims["sub"], "auth0|alice");
        assert_eq!(claims["aud"], "https://downstream/");
        assert_eq!(claims["azp"], client_id.as_str());
        assert_eq!(claims["act"]["sub"], client_id.as_str());
        assert_eq!(reply.header("cache-control"), Some("no-store"));

        // Custom exchange with a minted subject token and with a legacy string.
        for (token, token_type, want_sub) in [
            (subject.as_str(), "urn:acme:minted", Some("auth0|alice")),
            ("legacy-session-123", DEFAULT_CUSTOM_TOKEN_TYPE, None),
        ] {
            let (reply, client_id) = token_request(
                &tenant,
                auth,
                &[
                    ("grant_type", TOKEN_EXCHANGE_GRANT),
                    ("subject_token", token),
                    ("subject_token_type", token_type),
                    ("scope", "openid offline_access"),
                    ("organization", "org_abc"),
                ],
            );
            assert_eq!(
                reply.status,
                200,
                "{auth:?}: {}",
                String::from_utf8_lossy(&reply.body)
            );
            let body = reply.json();
            assert_eq!(body["issued_token_type"], ACCESS_TOKEN_TYPE);
            assert_eq!(body["scope"], "openid offline_access");
            assert!(
                body["refresh_token"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty())
            );
            let (_, access) = verify_with_jwks(body["access_token"].as_str().unwrap(), &jwks);
            assert_eq!(access["aud"], DEFAULT_AUDIENCE);
            assert_eq!(access["org_id"], "org_abc");
            let (_, id) = verify_with_jwks(body["id_token"].as_str().expect("id_token"), &jwks);
            assert_eq!(id["aud"], client_id.as_str());
            assert_eq!(id["iss"], tenant.issuer());
            assert_eq!(id["sub"], access["sub"]);
            assert_eq!(id["org_id"], "org_abc");
            match want_sub {
                Some(sub) => assert_eq!(access["sub"], sub),
                None => assert!(access["sub"].as_str().unwrap().starts_with("custom|")),
            }
        }

        // Token Vault, with an access token and with a refresh token as subject.
        for (token, token_type) in [
            (subject.as_str(), ACCESS_TOKEN_TYPE),
            ("rt-1", REFRESH_TOKEN_TYPE),
        ] {
            let (reply, _) = token_request(
                &tenant,
                auth,
                &[
                    ("grant_type", FEDERATED_CONNECTION_GRANT),
                    ("subject_token", token),
                    ("subject_token_type", token_type),
                    ("requested_token_type", FEDERATED_CONNECTION_TOKEN_TYPE),
                    ("connection", "google-oauth2"),
                    ("login_hint", "alice@example.com"),
                    ("scope", "calendar.read"),
                ],
            );
            assert_eq!(
                reply.status,
                200,
                "{auth:?}: {}",
                String::from_utf8_lossy(&reply.body)
            );
            let body = reply.json();
            assert!(
                body["access_token"]
                    .as_str()
                    .unwrap()
                    .starts_with("mock-google-oauth2-token-")
            );
            assert_eq!(body["issued_token_type"], FEDERATED_CONNECTION_TOKEN_TYPE);
            assert_eq!(body["scope"], "calendar.read");
            assert_eq!(body["token_type"], "Bearer");
            assert!(body["expires_in"].as_u64().is_some());
        }
    }
    let last = tenant.last_request(TOKEN).unwrap();
    assert_eq!(
        last.form_value("connection").as_deref(),
        Some("google-oauth2")
    );
}

/// Owned form parameters.
type Form = Vec<(&'static str, String)>;

#[test]
fn grant_errors_are_oauth_errors() {
    let tenant = tenant();
    let subject = tenant.mint_access_token(&TokenSpec::new("a")).unwrap();
    let expired = tenant
        .mint_access_token(&TokenSpec::new("a").iat(1).exp(2))
        .unwrap();
    let other_kid = tenant
        .mint_access_token(&TokenSpec::new("a").kid("gone"))
        .unwrap();
    let obo = |token: &str| {
        vec![
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("subject_token", token),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
            ("audience", "https://x/"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect::<Vec<_>>()
    };
    let vault = |extra: &[(&'static str, &str)]| {
        let mut params = vec![
            ("grant_type", FEDERATED_CONNECTION_GRANT.to_owned()),
            ("subject_token", "rt".to_owned()),
            ("subject_token_type", REFRESH_TOKEN_TYPE.to_owned()),
            (
                "requested_token_type",
                FEDERATED_CONNECTION_TOKEN_TYPE.to_owned(),
            ),
        ];
        params.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        params
    };
    let custom = |token: &str, token_type: &str| {
        vec![
            ("grant_type", TOKEN_EXCHANGE_GRANT.to_owned()),
            ("subject_token", token.to_owned()),
            ("subject_token_type", token_type.to_owned()),
        ]
    };
    let mut no_audience = obo(&subject);
    no_audience.retain(|(k, _)| *k != "audience");
    let mut blank_org = custom("x", DEFAULT_CUSTOM_TOKEN_TYPE);
    blank_org.push(("organization", " ".to_owned()));
    let mut actor_alone = custom("x", DEFAULT_CUSTOM_TOKEN_TYPE);
    actor_alone.push(("actor_token", "y".to_owned()));

    let cases: Vec<(&str, Form, u16, &str)> = vec![
        ("no grant", vec![], 400, "invalid_request"),
        (
            "unknown grant",
            vec![("grant_type", "password".into())],
            400,
            "unsupported_grant_type",
        ),
        ("obo garbage", obo("garbage"), 400, "invalid_grant"),
        ("obo expired", obo(&expired), 400, "invalid_grant"),
        ("obo unknown kid", obo(&other_kid), 400, "invalid_grant"),
        ("obo no audience", no_audience, 400, "invalid_request"),
        (
            "obo bearer prefix",
            obo(&format!("Bearer {subject}")),
            400,
            "invalid_grant",
        ),
        (
            "custom unknown type",
            custom("legacy", "urn:acme:other"),
            400,
            "invalid_grant",
        ),
        (
            "custom empty",
            custom("", DEFAULT_CUSTOM_TOKEN_TYPE),
            400,
            "invalid_request",
        ),
        ("custom no type", custom("x", ""), 400, "invalid_request"),
        ("custom blank org", blank_org, 400, "invalid_request"),
        ("custom actor alone", actor_alone, 400, "invalid_request"),
        ("vault no connection", vault(&[]), 400, "invalid_request"),
        (
            "vault audience",
            vault(&[("connection", "c"), ("audience", "a")]),
            400,
            "invalid_request",
        ),
        (
            "vault resource",
            vault(&[("connection", "c"), ("resource", "r")]),
            400,
            "invalid_request",
        ),
        (
            "vault bad subject",
            vault(&[("connection", "c"), ("subject_token_type", "urn:x")]),
            400,
            "invalid_request",
        ),
    ];
    for (name, params, status, code) in cases {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (reply, _) = token_request(&tenant, Auth::Post, &params);
        assert_eq!(
            reply.status,
            status,
            "{name}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_oauth_error(&reply, status, code);
    }

    // The vault grant without requested_token_type.
    let (reply, _) = token_request(
        &tenant,
        Auth::Basic,
        &[
            ("grant_type", FEDERATED_CONNECTION_GRANT),
            ("subject_token", "rt"),
            ("subject_token_type", REFRESH_TOKEN_TYPE),
            ("connection", "c"),
        ],
    );
    assert_oauth_error(&reply, 400, "invalid_request");

    // Repeated parameters and a non-form body.
    let client = tenant.secret_client();
    let reply = raw_token_request(
        &tenant,
        &[
            ("client_id", client.client_id()),
            ("client_secret", client.secret()),
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("grant_type", TOKEN_EXCHANGE_GRANT),
        ],
    );
    assert_oauth_error(&reply, 400, "invalid_request");
    let response = agent(&tenant)
        .post(tenant.token_endpoint())
        .header("content-type", "application/json")
        .send("{}")
        .unwrap();
    assert_oauth_error(&to_reply(response), 400, "invalid_request");
}

fn assertion_request(tenant: &MockTenant, assertion: &str) -> Reply {
    raw_token_request(
        tenant,
        &[
            ("grant_type", "unsupported-but-authenticated-first"),
            ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
            ("client_assertion", assertion),
        ],
    )
}

fn assertion_claims(client: &JwtClient, aud: Value, exp: u64, jti: &str) -> Map<String, Value> {
    let claims = json!({"iss": client.client_id(), "sub": client.client_id(), "aud": aud, "exp": exp, "jti": jti});
    claims.as_object().unwrap().clone()
}

#[test]
fn client_authentication_is_enforced() {
    let tenant = tenant();
    let client = tenant.es256_client();
    let secret = tenant.secret_client();
    let grant = ("grant_type", "unsupported-but-authenticated-first");

    // Authenticated clients reach grant handling.
    let (reply, _) = token_request(&tenant, Auth::JwtEs256, &[grant]);
    assert_oauth_error(&reply, 400, "unsupported_grant_type");

    let wrong_secret = raw_token_request(
        &tenant,
        &[
            grant,
            ("client_id", secret.client_id()),
            ("client_secret", "nope"),
        ],
    );
    assert_oauth_error(&wrong_secret, 401, "invalid_client");
    assert!(wrong_secret.header("www-authenticate").is_some());
    assert_oauth_error(&raw_token_request(&tenant, &[grant]), 401, "invalid_client");
    let id_only = raw_token_request(&tenant, &[grant, ("client_id", secret.client_id())]);
    assert_oauth_error(&id_only, 401, "invalid_client");
    let unknown = raw_token_request(
        &tenant,
        &[grant, ("client_id", "who"), ("client_secret", "x")],
    );
    assert_oauth_error(&unknown, 401, "invalid_client");
    let secret_for_jwt_client = raw_token_request(
        &tenant,
        &[
            grant,
            ("client_id", client.client_id()),
            ("client_secret", "x"),
        ],
    );
    assert_oauth_error(&secret_for_jwt_client, 401, "invalid_client");

    let basic = STANDARD.encode(format!("{}:{}", secret.client_id(), secret.secret()));
    let two_methods = agent(&tenant)
        .post(tenant.token_endpoint())
        .header("Authorization", format!("Basic {basic}"))
        .send_form([
            grant,
            ("client_id", secret.client_id()),
            ("client_secret", secret.secret()),
        ])
        .unwrap();
    assert_oauth_error(&to_reply(two_methods), 400, "invalid_request");
    let bad_basic = STANDARD.encode(format!("{}:wrong", secret.client_id()));
    let bad_basic = agent(&tenant)
        .post(tenant.token_endpoint())
        .header("Authorization", format!("Basic {bad_basic}"))
        .send_form([grant])
        .unwrap();
    assert_oauth_error(&to_reply(bad_basic), 401, "invalid_client");

    // private_key_jwt: replay, expiry, audience, key, claims.
    let assertion = client
        .sign_assertion(tenant.issuer(), "once", Duration::from_secs(60))
        .unwrap();
    assert_oauth_error(
        &assertion_request(&tenant, &assertion),
        400,
        "unsupported_grant_type",
    );
    assert_oauth_error(
        &assertion_request(&tenant, &assertion),
        401,
        "invalid_client",
    );
    let to_endpoint = client
        .sign_assertion(&tenant.token_endpoint(), &jti(), Duration::from_secs(60))
        .unwrap();
    assert_oauth_error(
        &assertion_request(&tenant, &to_endpoint),
        400,
        "unsupported_grant_type",
    );
    let aud_array = client
        .sign_claims(&assertion_claims(
            client,
            json!(["x", tenant.issuer()]),
            now() + 60,
            &jti(),
        ))
        .unwrap();
    assert_oauth_error(
        &assertion_request(&tenant, &aud_array),
        400,
        "unsupported_grant_type",
    );

    let mut bad: Vec<(&str, String)> = vec![
        (
            "expired",
            client
                .sign_claims(&assertion_claims(
                    client,
                    json!(tenant.issuer()),
                    now() - 1,
                    &jti(),
                ))
                .unwrap(),
        ),
        (
            "wrong aud",
            client
                .sign_assertion("https://elsewhere/", &jti(), Duration::from_secs(60))
                .unwrap(),
        ),
        (
            "no jti",
            client
                .sign_claims(&assertion_claims(
                    client,
                    json!(tenant.issuer()),
                    now() + 60,
                    "",
                ))
                .unwrap(),
        ),
        ("garbage", "a.b.c".to_owned()),
    ];
    let mut sub_differs = assertion_claims(client, json!(tenant.issuer()), now() + 60, &jti());
    sub_differs.insert("sub".into(), "someone-else".into());
    bad.push(("sub differs", client.sign_claims(&sub_differs).unwrap()));
    // Signed by the RS256 client's key but claiming to be the ES256 client.
    let forged = tenant.rs256_client().sign_claims(&assertion_claims(
        client,
        json!(tenant.issuer()),
        now() + 60,
        &jti(),
    ));
    bad.push(("other key", forged.unwrap()));
    for (name, assertion) in bad {
        let reply = assertion_request(&tenant, &assertion);
        assert_eq!(reply.status, 401, "{name}");
        assert_oauth_error(&reply, 401, "invalid_client");
    }
    let wrong_type = raw_token_request(
        &tenant,
        &[
            grant,
            ("client_assertion_type", "urn:other"),
            ("client_assertion", &to_endpoint),
        ],
    );
    assert_oauth_error(&wrong_type, 401, "invalid_client");
}

#[test]
fn exposed_private_key_pem_signs_assertions_the_tenant_accepts() {
    use p256::pkcs8::DecodePrivateKey as _;
    let tenant = tenant();
    let client = tenant.es256_client();
    assert!(
        client
            .private_key_pem()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(client.private_key_pem()).unwrap();
    let header = json!({"alg": "ES256", "typ": "JWT"});
    let claims = assertion_claims(client, json!(tenant.issuer()), now() + 60, &jti());
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string())
    );
    let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
    let assertion = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
    assert_oauth_error(
        &assertion_request(&tenant, &assertion),
        400,
        "unsupported_grant_type",
    );

    let rsa_pem = tenant.rs256_client().private_key_pem();
    assert!(
        rsa::pkcs8::DecodePrivateKey::from_pkcs8_pem(rsa_pem)
            .map(|_: rsa::PrivateKey| ())
            .is_ok()
    );
}

#[test]
fn registered_clients_authenticate() {
    use rsa::traits::PublicKeyParts as _;
    let rsa_key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
    let public = rsa_key.to_public_key();
    let jwk = json!({
        "kty": "RSA",
        "alg": "RS256",
        "n": URL_SAFE_NO_PAD.encode(public.n_bytes()),
        "e": URL_SAFE_NO_PAD.encode([1u8, 0, 1]),
    });
    let options = TenantOptions {
        clients: vec![ClientSpec::with_secret("extra-secret", "s3cret")],
        ..TenantOptions::default()
    };
    let tenant = MockTenant::start(options).unwrap();
    tenant
        .register_client(&ClientSpec::with_public_jwk("extra-rsa", jwk))
        .unwrap();
    assert!(
        tenant
            .register_client(&ClientSpec::with_secret("extra-rsa", "x"))
            .is_err()
    );

    let grant = ("grant_type", "unsupported-but-authenticated-first");
    let reply = raw_token_request(
        &tenant,
        &[
            grant,
            ("client_id", "extra-secret"),
            ("client_secret", "s3cret"),
        ],
    );
    assert_oauth_error(&reply, 400, "unsupported_grant_type");

    let header = json!({"alg": "RS256"});
    let claims = json!({"iss": "extra-rsa", "sub": "extra-rsa", "aud": tenant.issuer(), "exp": now() + 60, "jti": jti()});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = rsa_key
        .pkcs1v15_sign::<sha2::Sha256>(input.as_bytes())
        .unwrap();
    let assertion = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
    assert_oauth_error(
        &assertion_request(&tenant, &assertion),
        400,
        "unsupported_grant_type",
    );

    // The registered JWK says RS256: a PS256 assertion with the same key is refused.
    let header = json!({"alg": "PS256"});
    let claims = json!({"iss": "extra-rsa", "sub": "extra-rsa", "aud": tenant.issuer(), "exp": now() + 60, "jti": jti()});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = rsa_key.pss_sign::<sha2::Sha256>(input.as_bytes()).unwrap();
    let assertion = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
    assert_oauth_error(
        &assertion_request(&tenant, &assertion),
        401,
        "invalid_client",
    );
}

#[test]
fn dropping_the_tenant_stops_the_server() {
    let tenant = tenant();
    let addr = tenant.addr();
    assert!(std::net::TcpStream::connect(addr).is_ok());
    drop(tenant);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[tokio::test]
async fn usable_from_async_tests() {
    let tenant = tenant();
    let url = tenant.discovery_url();
    let agent = agent(&tenant);
    let status = tokio::task::spawn_blocking(move || get(&agent, &url).status)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(tenant.request_count("/.well-known/openid-configuration"), 1);
    drop(tenant);
}
