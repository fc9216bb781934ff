//! The CLI against the local tenant over HTTPS on loopback: proxies and client assertions.

use std::path::PathBuf;
use std::process::{Command, Output};

use auth0_api_mock_tenant::{
    Alg, ClientSpec, DEFAULT_AUDIENCE, MockTenant, PROXY_VARIABLES, RecordingProxy, TenantOptions,
    TokenSpec,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_auth0-api");
const DISCOVERY: &str = "/.well-known/openid-configuration";
const JWKS: &str = "/.well-known/jwks.json";
const TOKEN: &str = "/oauth/token";

struct Setup {
    tenant: MockTenant,
    dir: tempfile::TempDir,
    ca: PathBuf,
}

fn setup(options: TenantOptions) -> Setup {
    let tenant = MockTenant::start(options).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    tenant.write_ca_pem(&ca).unwrap();
    Setup { tenant, dir, ca }
}

/// The CLI with every proxy variable unset, then `env` set.
fn cli(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    for var in PROXY_VARIABLES {
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

/// The claims and signature of the client assertion the tenant last received.
fn last_assertion(tenant: &MockTenant) -> (Value, Vec<u8>) {
    let assertion = tenant
        .last_request(TOKEN)
        .unwrap()
        .form_value("client_assertion")
        .unwrap();
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3, "{assertion}");
    let claims = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    (claims, B64.decode(parts[2]).unwrap())
}

/// RSA client assertions are signed with the operating system's randomness: PS256 (which
/// cannot be signed without it) works, and two runs give different `jti`s and salts.
#[test]
fn rsa_client_assertions_draw_real_randomness() {
    let key_source = setup(TenantOptions::default());
    let rsa = key_source.tenant.rs256_client();
    let mut jwk = rsa.public_jwk().clone();
    jwk["alg"] = "PS256".into();
    jwk["kid"] = "ps-key".into();
    let s = setup(TenantOptions {
        clients: vec![
            ClientSpec::with_public_jwk("ps-client", jwk),
            ClientSpec::with_public_jwk("rs-client", rsa.public_jwk().clone()),
        ],
        ..TenantOptions::default()
    });
    let key = s.dir.path().join("key.pem");
    std::fs::write(&key, rsa.private_key_pem()).unwrap();
    let subject = s
        .tenant
        .mint_access_token(&TokenSpec::new(DEFAULT_AUDIENCE).alg(Alg::Rs256))
        .unwrap();
    let obo = |client: &str, alg: &str| {
        let out = cli(&[])
            .args(["obo", "--domain", s.tenant.issuer(), "--client-id", client])
            .arg("--client-assertion-key")
            .arg(&key)
            .args(["--client-assertion-alg", alg])
            .args(["--access-token", &subject, "--audience", "https://billing/"])
            .arg("--allow-local-domains")
            .arg("--ca-cert")
            .arg(&s.ca)
            .output()
            .unwrap();
        assert_exit_0(&out);
        last_assertion(&s.tenant)
    };
    let (first, first_sig) = obo("ps-client", "PS256");
    let (second, second_sig) = obo("ps-client", "PS256");
    assert_eq!(first["iss"], "ps-client");
    assert_ne!(first["jti"], second["jti"]);
    assert_ne!(first_sig, second_sig, "PSS salts repeat");
    // RS256 signatures are deterministic (blinding does not show in them); the jti differs.
    let (rs_first, _) = obo("rs-client", "RS256");
    let (rs_second, _) = obo("rs-client", "RS256");
    assert_ne!(rs_first["jti"], rs_second["jti"]);
}
