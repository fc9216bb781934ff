//! The CLI contract, black box: exit codes, JSON shapes, fixtures, and the demo.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::{Signature, SigningKey, signature::Signer as _};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_auth0-api");
const ISS: &str = "https://tenant.example/";
const DISCOVERY: &str = "https://tenant.example/.well-known/openid-configuration";
const JWKS: &str = "https://tenant.example/.well-known/jwks.json";
const NOW: u64 = 1_700_000_000;

fn key() -> SigningKey {
    SigningKey::from_slice(&[5; 32]).unwrap()
}

struct Fixtures {
    _dir: tempfile::TempDir,
    discovery: PathBuf,
    jwks: PathBuf,
}

fn fixtures() -> Fixtures {
    let dir = tempfile::tempdir().unwrap();
    let point = key().verifying_key().to_sec1_point(false);
    let b = point.as_bytes();
    let jwks = json!({"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","use":"sig",
        "x":B64.encode(&b[1..33]),"y":B64.encode(&b[33..65])}]});
    let discovery = json!({"issuer": ISS, "jwks_uri": JWKS});
    let write = |name: &str, v: &Value| {
        let p = dir.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p
    };
    let discovery = write("discovery.json", &discovery);
    let jwks = write("jwks.json", &jwks);
    Fixtures {
        _dir: dir,
        discovery,
        jwks,
    }
}

fn claims() -> Value {
    json!({"iss": ISS, "sub": "user", "aud": "api://orders", "iat": NOW - 10, "exp": NOW + 600, "scope": "read"})
}

fn token(claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(r#"{"alg":"ES256","kid":"k1"}"#),
        B64.encode(claims.to_string())
    );
    let sig: Signature = key().sign(input.as_bytes());
    format!("{input}.{}", B64.encode(sig.to_bytes()))
}

fn fixture(url: &str, path: &Path) -> String {
    format!("{url}={}", path.display())
}

fn verify(f: &Fixtures, token: &str, extra: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "verify",
        "--domain",
        "tenant.example",
        "--audience",
        "api://orders",
        // Spaces around a comma-separated name are the command line's to drop.
        "--algorithms",
        " ES256 ",
    ])
    .args(["--now", &NOW.to_string()])
    .args(["--fixture", &fixture(DISCOVERY, &f.discovery)])
    .args(["--fixture", &fixture(JWKS, &f.jwks)])
    .args(extra)
    .arg(token);
    cmd.output().unwrap()
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn rejected(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_json(out)["error"].clone()
}

#[test]
fn accepted_prints_the_claims() {
    let f = fixtures();
    let out = verify(&f, &token(&claims()), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_json(&out), claims());
}

#[test]
fn rejections_print_the_error_and_challenges() {
    let f = fixtures();
    let mut expired = claims();
    expired["exp"] = json!(NOW);
    let e = rejected(&verify(&f, &token(&expired), &[]));
    assert_eq!(e["code"], "verify_access_token_error");
    assert_eq!(e["status"], 401);
    let challenges = e["www_authenticate"].as_array().unwrap();
    assert_eq!(challenges.len(), 2);
    assert!(
        challenges[0]
            .as_str()
            .unwrap()
            .starts_with(r#"Bearer realm="api""#)
    );
    assert!(
        challenges[0]
            .as_str()
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
    assert_eq!(challenges[1], r#"DPoP algs="ES256""#);
    assert!(!e["message"].as_str().unwrap().is_empty());

    let mut wrong_aud = claims();
    wrong_aud["aud"] = json!("api://other");
    assert_eq!(
        rejected(&verify(&f, &token(&wrong_aud), &[]))["status"],
        401
    );

    let hs = format!(
        "{}.{}.c2ln",
        B64.encode(r#"{"alg":"HS256"}"#),
        B64.encode(claims().to_string())
    );
    assert_eq!(
        rejected(&verify(&f, &hs, &[]))["code"],
        "verify_access_token_error"
    );

    let e = rejected(&verify(
        &f,
        &token(&claims()),
        &["--required-claim", "org_id"],
    ));
    assert!(e["message"].as_str().unwrap().contains("org_id"), "{e}");

    // Required DPoP: a bearer token gets only the DPoP challenge.
    let e = rejected(&verify(&f, &token(&claims()), &["--dpop-mode", "required"]));
    assert_eq!(e["www_authenticate"], json!([r#"DPoP algs="ES256""#]));

    // Several domains: an unlisted iss is rejected before any request.
    let mut unlisted = claims();
    unlisted["iss"] = json!("https://unlisted.example/");
    let e = rejected(&verify(
        &f,
        &token(&unlisted),
        &["--domain", "other.example"],
    ));
    assert!(e["message"].as_str().unwrap().contains("issuer"), "{e}");
}

#[test]
fn fixtures_replace_the_network_entirely() {
    let f = fixtures();
    // No fixture for the JWKS URL: a transport failure, never a network request.
    let out = Command::new(BIN)
        .args([
            "verify",
            "--domain",
            "tenant.example",
            "--audience",
            "api://orders",
            "--algorithms",
            "ES256",
        ])
        .args([
            "--now",
            &NOW.to_string(),
            "--fixture",
            &fixture(DISCOVERY, &f.discovery),
        ])
        .arg(token(&claims()))
        .output()
        .unwrap();
    let e = rejected(&out);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("jwks request failed"),
        "{e}"
    );
}

#[test]
fn usage_and_configuration_errors_exit_2() {
    let f = fixtures();
    for extra in [
        vec!["--algorithms", "HS256"],
        vec!["--dpop-iat-offset", "-5"],
        vec!["--dpop-mode", "sometimes"],
    ] {
        let out = verify(&f, &token(&claims()), &extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(!out.stderr.is_empty());
        assert!(out.stdout.is_empty());
    }
    let out = Command::new(BIN)
        .args(["verify", "--domain", "tenant.example", "tok"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "missing --audience");
    let out = Command::new(BIN)
        .args([
            "verify",
            "--domain",
            "tenant.example",
            "--audience",
            "a",
            "--fixture",
            "https://x/=/nonexistent",
            "t",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "unreadable fixture");
}

#[test]
fn exchange_with_fixtures() {
    let f = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let discovery = dir.path().join("d.json");
    std::fs::write(&discovery, json!({"issuer": ISS, "jwks_uri": JWKS, "token_endpoint": "https://tenant.example/oauth/token"}).to_string()).unwrap();
    let ok = dir.path().join("ok.json");
    std::fs::write(
        &ok,
        r#"{"access_token":"at","expires_in":60,"token_type":"Bearer"}"#,
    )
    .unwrap();
    let base = |post: &Path| {
        let mut c = Command::new(BIN);
        c.args([
            "obo",
            "--domain",
            "tenant.example",
            "--client-id",
            "c",
            "--client-secret",
            "s",
        ])
        .args([
            "--access-token",
            "incoming",
            "--audience",
            "api://billing",
            "--now",
            &NOW.to_string(),
        ])
        .args([
            "--fixture",
            &fixture(DISCOVERY, &discovery),
            "--fixture",
            &fixture(JWKS, &f.jwks),
        ])
        .args([
            "--fixture-post",
            &fixture("https://tenant.example/oauth/token", post),
        ]);
        c.output().unwrap()
    };
    let out = base(&ok);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    assert_eq!(
        (v["access_token"].as_str(), v["expires_at"].as_u64()),
        (Some("at"), Some(NOW + 60))
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"expires_in":60}"#).unwrap();
    let e = rejected(&base(&bad));
    assert!(
        e["message"].as_str().unwrap().contains("access_token"),
        "{e}"
    );
}

#[test]
fn demo_walks_through_every_step() {
    let out = Command::new(BIN).arg("demo").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "[1] verify a bearer access token",
        "accepted: sub=\"user-1\"",
        "verified again from the cache: 0 new requests",
        "[2] verify a DPoP-bound access token",
        "accepted: sub=\"user-2\" cnf.jkt=",
        "expired: 401 verify_access_token_error",
        "WWW-Authenticate: Bearer realm=\"api\", error=\"invalid_token\"",
        "bound as bearer: 401",
        "[4] custom token exchange",
        "ID token verified for sub=Some(",
        "the new access token verifies",
        "[5] on-behalf-of exchange",
        "[6] Token Vault",
        "connection google-oauth2 token issued",
        "demo complete",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

/// `--audience` repeats: a token for any of the audiences passes, one for none is refused;
/// a wrong scheme is `invalid_request` with status 400 and bare challenges.
#[test]
fn several_audiences_and_request_errors() {
    let f = fixtures();
    let mut billing = claims();
    billing["aud"] = json!(["api://billing"]);
    let out = verify(&f, &token(&billing), &["--audience", "api://billing"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut other = claims();
    other["aud"] = json!("api://shipping");
    let e = rejected(&verify(
        &f,
        &token(&other),
        &["--audience", "api://billing"],
    ));
    assert_eq!(
        (e["code"].as_str(), e["status"].as_u64()),
        (Some("verify_access_token_error"), Some(401))
    );

    let e = rejected(&verify(&f, &token(&claims()), &["--scheme", "Basic"]));
    assert_eq!(
        (e["code"].as_str(), e["status"].as_u64()),
        (Some("invalid_request"), Some(400))
    );
    let challenges = e["www_authenticate"].as_array().unwrap();
    assert!(
        challenges
            .iter()
            .all(|c| !c.as_str().unwrap().contains("error="))
    );

    let e = rejected(&verify(&f, "", &[]));
    assert_eq!(
        (e["code"].as_str(), e["status"].as_u64()),
        (Some("verify_access_token_error"), Some(401))
    );
}
