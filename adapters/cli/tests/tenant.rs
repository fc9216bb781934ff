//! The CLI against the local tenant over HTTPS on loopback.

use std::path::PathBuf;
use std::process::{Command, Output};

use auth0_api_mock_tenant::{
    Alg, DEFAULT_AUDIENCE, MockTenant, RecordingProxy, TenantOptions, TokenSpec,
};

const BIN: &str = env!("CARGO_BIN_EXE_auth0-api");
const DISCOVERY: &str = "/.well-known/openid-configuration";
const JWKS: &str = "/.well-known/jwks.json";
const PROXY_VARS: [&str; 8] = [
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
];

struct Setup {
    tenant: MockTenant,
    _dir: tempfile::TempDir,
    ca: PathBuf,
}

fn setup(options: TenantOptions) -> Setup {
    let tenant = MockTenant::start(options).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    tenant.write_ca_pem(&ca).unwrap();
    Setup {
        tenant,
        _dir: dir,
        ca,
    }
}

/// The CLI with every proxy variable unset, then `env` set.
fn cli(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd
}

fn verify(s: &Setup, env: &[(&str, &str)], extra: &[&str]) -> Output {
    let token = s
        .tenant
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE).alg(Alg::Rs256))
        .unwrap();
    cli(env)
        .args(["verify", "--domain", s.tenant.issuer()])
        .args(["--audience", DEFAULT_AUDIENCE, "--algorithms", "RS256"])
        .arg("--allow-local-domains")
        .arg("--ca-cert")
        .arg(&s.ca)
        .args(extra)
        .arg(token)
        .output()
        .unwrap()
}

fn assert_exit_0(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn proxy_variables_are_ignored() {
    let s = setup(TenantOptions::default());
    for var in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        let proxy = RecordingProxy::start().unwrap();
        s.tenant.reset_counts();
        assert_exit_0(&verify(&s, &[(var, &proxy.url())], &[]));
        assert_eq!(proxy.connections(), 0, "{var}");
        assert_eq!(s.tenant.request_count(DISCOVERY), 1, "{var}");
        assert_eq!(s.tenant.request_count(JWKS), 1, "{var}");
    }
}

#[test]
fn an_explicit_proxy_is_used() {
    let s = setup(TenantOptions::default());
    let explicit = RecordingProxy::start().unwrap();
    let from_env = RecordingProxy::start().unwrap();
    let out = verify(
        &s,
        &[("HTTPS_PROXY", &from_env.url())],
        &["--proxy", &explicit.url()],
    );
    assert_exit_0(&out);
    let lines = explicit.request_lines();
    let connect = format!("CONNECT {} HTTP/1.1", s.tenant.addr());
    assert!(
        !lines.is_empty() && lines.iter().all(|l| *l == connect),
        "{lines:?}"
    );
    assert_eq!(from_env.connections(), 0);
    assert_eq!(s.tenant.request_count(DISCOVERY), 1);
    assert_eq!(s.tenant.request_count(JWKS), 1);
}
