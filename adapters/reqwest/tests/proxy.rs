//! The proxy environment variables are ignored and an explicit proxy is used, against the
//! local tenant over HTTPS on loopback and a recording proxy.
//!
//! The variables are process-wide, so each case re-runs this test binary (the `child` test)
//! with them set and the scenario in `CHILD_*` variables; the parent owns the tenant and the
//! proxies and checks what they saw.

use std::process::Command;

use auth0_api::http::HttpRequest;
use auth0_api_mock_tenant::{MockTenant, RecordingProxy, TenantOptions};
use auth0_api_reqwest::AsyncTransport as _;
use auth0_api_reqwest::{ClientOptions, ReqwestTransport};

const DISCOVERY: &str = "/.well-known/openid-configuration";
const CHILD_URL: &str = "AUTH0_API_PROXY_TEST_URL";
const CHILD_CA: &str = "AUTH0_API_PROXY_TEST_CA";
const CHILD_PROXY: &str = "AUTH0_API_PROXY_TEST_EXPLICIT";
const CHILD_CONTROL: &str = "AUTH0_API_PROXY_TEST_CONTROL";
/// Every variable reqwest reads for a proxy, the exclusion lists, and the CGI marker that
/// makes it skip `HTTP_PROXY`.
const PROXY_VARS: [&str; 9] = [
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUEST_METHOD",
];

/// Runs only when re-executed by the tests below: one request through the adapter, then
/// (with `CHILD_CONTROL`) one through a default reqwest client, which reads the environment.
#[tokio::test]
async fn child() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let ca = std::env::var(CHILD_CA).unwrap();
    let options = ClientOptions {
        root_certificates_pem: vec![ca.clone().into_bytes()],
        proxy: std::env::var(CHILD_PROXY).ok(),
        ..ClientOptions::default()
    };
    let transport = ReqwestTransport::new(&options).unwrap();
    let response = transport.send(HttpRequest::get(&url)).await.unwrap();
    assert_eq!(response.status, 200);

    if std::env::var_os(CHILD_CONTROL).is_some() {
        let control = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
            .build()
            .unwrap();
        assert_eq!(control.get(&url).send().await.unwrap().status(), 200);
    }
}

/// Re-runs this binary's `child` test with `env` set (and every other proxy variable unset).
fn run_child(tenant: &MockTenant, env: &[(&str, &str)], explicit: Option<&str>, control: bool) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child", "--exact", "--nocapture", "--test-threads=1"]);
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.env(CHILD_URL, tenant.url(DISCOVERY))
        .env(CHILD_CA, tenant.ca_pem())
        .envs(env.iter().copied());
    if let Some(proxy) = explicit {
        cmd.env(CHILD_PROXY, proxy);
    }
    if control {
        cmd.env(CHILD_CONTROL, "1");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{env:?}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The child really ran the scenario (a filter matching nothing also succeeds).
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn connect_line(tenant: &MockTenant) -> String {
    format!("CONNECT {} HTTP/1.1", tenant.addr())
}

#[test]
fn proxy_variables_are_ignored() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
        let proxy = RecordingProxy::start().unwrap();
        tenant.reset_counts();
        run_child(&tenant, &[(var, &proxy.url())], None, true);
        // Two requests reached the tenant: the adapter's directly, the default client's (the
        // control, showing the variable is in effect) through the proxy.
        assert_eq!(tenant.request_count(DISCOVERY), 2, "{var}");
        assert_eq!(proxy.connections(), 1, "{var}");
        assert_eq!(proxy.request_lines(), [connect_line(&tenant)], "{var}");
    }
    // reqwest applies HTTP_PROXY to http:// URLs only; the adapter ignores it all the same.
    let proxy = RecordingProxy::start().unwrap();
    tenant.reset_counts();
    run_child(&tenant, &[("HTTP_PROXY", &proxy.url())], None, false);
    assert_eq!(tenant.request_count(DISCOVERY), 1);
    assert_eq!(proxy.connections(), 0);
}

#[test]
fn an_explicit_proxy_is_used() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    let explicit = RecordingProxy::start().unwrap();
    let from_env = RecordingProxy::start().unwrap();
    run_child(
        &tenant,
        &[("HTTPS_PROXY", &from_env.url())],
        Some(&explicit.url()),
        false,
    );
    assert_eq!(tenant.request_count(DISCOVERY), 1);
    assert_eq!(explicit.request_lines(), [connect_line(&tenant)]);
    assert_eq!(from_env.connections(), 0);
}

#[test]
fn a_bad_proxy_url_is_a_build_error() {
    let options = ClientOptions {
        proxy: Some("http://[not a host".into()),
        ..ClientOptions::default()
    };
    let e = ReqwestTransport::new(&options).unwrap_err();
    assert!(e.is_builder(), "{e}");
}

#[test]
fn debug_hides_proxy_credentials() {
    let options = ClientOptions {
        proxy: Some("http://user:hunter2@proxy.example:3128".into()),
        ..ClientOptions::default()
    };
    let dbg = format!("{options:?}");
    assert!(!dbg.contains("hunter2") && !dbg.contains("user"), "{dbg}");
    assert!(dbg.contains("proxy.example:3128"), "{dbg}");
}
