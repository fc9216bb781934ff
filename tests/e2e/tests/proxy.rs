//! Both HTTP transports ignore the proxy environment variables and use an explicit proxy,
//! against the local tenant over HTTPS on loopback and a recording proxy.
//!
//! The variables are process-wide, so each case re-runs this test binary (the `child` test)
//! with them set and the scenario in `CHILD_*` variables; the parent owns the tenant and the
//! proxies and checks what they saw.

use std::process::Command;

use auth0_api::HttpRequest;
use auth0_api_mock_tenant::{MockTenant, PROXY_VARIABLES, RecordingProxy, TenantOptions};
use auth0_api_reqwest::{AsyncTransport as _, ReqwestTransport};
use auth0_api_ureq::{ClientOptions, Transport as _, UreqTransport};

const DISCOVERY: &str = "/.well-known/openid-configuration";
const CHILD_TRANSPORT: &str = "AUTH0_API_PROXY_TEST_TRANSPORT";
const CHILD_URL: &str = "AUTH0_API_PROXY_TEST_URL";
const CHILD_CA: &str = "AUTH0_API_PROXY_TEST_CA";
const CHILD_PROXY: &str = "AUTH0_API_PROXY_TEST_EXPLICIT";
const CHILD_CONTROL: &str = "AUTH0_API_PROXY_TEST_CONTROL";
const TRANSPORTS: [&str; 2] = ["ureq", "reqwest"];

/// Runs only when re-executed by the tests below: one request through the transport, then
/// (with `CHILD_CONTROL`) one through the same library's default client, which reads the
/// environment.
#[test]
fn child() {
    let (Ok(transport), Ok(url)) = (std::env::var(CHILD_TRANSPORT), std::env::var(CHILD_URL))
    else {
        return;
    };
    let ca = std::env::var(CHILD_CA).unwrap();
    let options = ClientOptions {
        root_certificates_pem: vec![ca.clone().into_bytes()],
        proxy: std::env::var(CHILD_PROXY).ok(),
        ..ClientOptions::default()
    };
    let control = std::env::var_os(CHILD_CONTROL).is_some();
    match transport.as_str() {
        "ureq" => {
            let response = UreqTransport::new(&options)
                .unwrap()
                .send(HttpRequest::get(&url));
            assert_eq!(response.unwrap().status, 200);
            if control {
                use ureq::tls::{Certificate, RootCerts, TlsConfig};
                let cert = Certificate::from_pem(ca.as_bytes()).unwrap().to_owned();
                let tls = TlsConfig::builder()
                    .root_certs(RootCerts::Specific(std::sync::Arc::new(vec![cert])))
                    .build();
                let agent = ureq::Agent::config_builder()
                    .tls_config(tls)
                    .build()
                    .new_agent();
                assert_eq!(agent.get(&url).call().unwrap().status(), 200);
            }
        }
        _ => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let transport = ReqwestTransport::new(&options).unwrap();
                let response = transport.send(HttpRequest::get(&url)).await;
                assert_eq!(response.unwrap().status, 200);
                if control {
                    let cert = reqwest::Certificate::from_pem(ca.as_bytes()).unwrap();
                    let client = reqwest::Client::builder()
                        .add_root_certificate(cert)
                        .build()
                        .unwrap();
                    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
                }
            });
        }
    }
}

/// Re-runs this binary's `child` test for `transport` with `env` set (and every other proxy
/// variable unset).
fn run_child(
    transport: &str,
    tenant: &MockTenant,
    env: &[(&str, &str)],
    explicit: Option<&str>,
    control: bool,
) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child", "--exact", "--nocapture", "--test-threads=1"]);
    for var in PROXY_VARIABLES {
        cmd.env_remove(var);
    }
    cmd.env(CHILD_TRANSPORT, transport)
        .env(CHILD_URL, tenant.url(DISCOVERY))
        .env(CHILD_CA, tenant.ca_pem())
        .envs(env.iter().copied());
    if let Some(proxy) = explicit {
        cmd.env(CHILD_PROXY, proxy);
    }
    if control {
        cmd.env(CHILD_CONTROL, "1");
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{transport} {env:?}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The child really ran the scenario (a filter matching nothing also succeeds).
    assert!(stdout.contains("1 passed"), "{stdout}");
}

fn connect_line(tenant: &MockTenant) -> String {
    format!("CONNECT {} HTTP/1.1", tenant.addr())
}

#[test]
fn proxy_variables_are_ignored() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    for transport in TRANSPORTS {
        for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
            let proxy = RecordingProxy::start().unwrap();
            tenant.reset_counts();
            run_child(transport, &tenant, &[(var, &proxy.url())], None, true);
            // Two requests reached the tenant: the transport's directly, the default client's
            // (the control, showing the variable is in effect) through the proxy.
            assert_eq!(tenant.request_count(DISCOVERY), 2, "{transport} {var}");
            assert_eq!(proxy.connections(), 1, "{transport} {var}");
            assert_eq!(
                proxy.request_lines(),
                [connect_line(&tenant)],
                "{transport} {var}"
            );
        }
        // HTTP_PROXY: reqwest's default client applies it to http:// URLs only, so only the
        // transport's request is checked.
        let proxy = RecordingProxy::start().unwrap();
        tenant.reset_counts();
        run_child(
            transport,
            &tenant,
            &[("HTTP_PROXY", &proxy.url())],
            None,
            false,
        );
        assert_eq!(tenant.request_count(DISCOVERY), 1, "{transport}");
        assert_eq!(proxy.connections(), 0, "{transport}");
    }
}

#[test]
fn an_explicit_proxy_is_used() {
    let tenant = MockTenant::start(TenantOptions::default()).unwrap();
    for transport in TRANSPORTS {
        let explicit = RecordingProxy::start().unwrap();
        let from_env = RecordingProxy::start().unwrap();
        tenant.reset_counts();
        run_child(
            transport,
            &tenant,
            &[("HTTPS_PROXY", &from_env.url())],
            Some(&explicit.url()),
            false,
        );
        assert_eq!(tenant.request_count(DISCOVERY), 1, "{transport}");
        assert_eq!(
            explicit.request_lines(),
            [connect_line(&tenant)],
            "{transport}"
        );
        assert_eq!(from_env.connections(), 0, "{transport}");
    }
}

#[test]
fn a_bad_proxy_url_is_a_build_error() {
    let options = ClientOptions {
        proxy: Some("http://[not a host".into()),
        ..ClientOptions::default()
    };
    let e = UreqTransport::new(&options).unwrap_err();
    assert!(e.to_string().contains("proxy"), "{e}");
    let e = ReqwestTransport::new(&options).unwrap_err();
    assert!(e.is_builder(), "{e}");
}
