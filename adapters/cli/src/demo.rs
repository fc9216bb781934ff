//! `mock-tenant` and `demo`: a local tenant over HTTPS on loopback, and a walk through the SDK
//! against it through the same network transport as `verify`.

use std::sync::Arc;
use std::time::Duration;

use auth0_api::DomainPolicy;
use auth0_api::RequestContext;
use auth0_api::exchange::{
    ConnectionTokenRequest, CustomTokenExchange, ExchangeConfig, OnBehalfOf, TokenExchanger,
};
use auth0_api::jose::Algorithm;
use auth0_api::jose::jwk::Jwk;
use auth0_api::jose::sign::{Es256Signer, sign_compact, signer_from_pkcs8_pem};
use auth0_api::jose::verify::RUST_CRYPTO;
use auth0_api::verify::dpop::access_token_hash;
use auth0_api::{Verifier, VerifierConfig};
use auth0_api_mock_tenant::{
    Alg, DEFAULT_AUDIENCE, DEFAULT_CUSTOM_TOKEN_TYPE, MockTenant, TenantOptions, TokenSpec,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::transport::Transport;
use auth0_api_driver::{Driver, system_clock};

use crate::Outcome;

fn local() -> DomainPolicy {
    DomainPolicy::STRICT.with_ip_literals(true)
}

fn start() -> Result<MockTenant, String> {
    MockTenant::start(TenantOptions::default())
        .map_err(|e| format!("cannot start the local tenant: {e}"))
}

/// `mock-tenant`: serves until interrupted.
pub(crate) fn mock_tenant() -> Result<Outcome, String> {
    let tenant = start()?;
    let dir = std::env::temp_dir().join(format!("auth0-api-mock-{}", tenant.addr().port()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let ca = dir.join("ca.pem");
    tenant
        .write_ca_pem(&ca)
        .map_err(|e| format!("cannot write {}: {e}", ca.display()))?;
    let key = dir.join("es256-client.pem");
    std::fs::write(&key, tenant.es256_client().private_key_pem())
        .map_err(|e| format!("cannot write {}: {e}", key.display()))?;
    println!("issuer:           {}", tenant.issuer());
    println!("ca certificate:   {}", ca.display());
    println!("audience:         {DEFAULT_AUDIENCE}");
    println!(
        "secret client:    {} / {}",
        tenant.secret_client().client_id(),
        tenant.secret_client().secret()
    );
    println!(
        "private_key_jwt:  {} with {}",
        tenant.es256_client().client_id(),
        key.display()
    );
    println!("custom token type: {DEFAULT_CUSTOM_TOKEN_TYPE}");
    println!("serving until interrupted (Ctrl-C)");
    loop {
        std::thread::park();
    }
}

fn step(n: u32, title: &str) {
    println!("\n[{n}] {title}");
}

fn verifier(tenant: &MockTenant) -> Result<Verifier, String> {
    VerifierConfig::new()
        .domain(tenant.issuer())
        .audience(DEFAULT_AUDIENCE)
        .algorithms(["RS256", "PS256", "ES256"])
        .domain_policy(local())
        .build()
        .map_err(|e| e.to_string())
}

/// A fresh ES256 key for DPoP proofs, as a signer and its public JWK.
fn dpop_key() -> Result<(Es256Signer, Map<String, Value>), String> {
    loop {
        let mut d = [0u8; 32];
        getrandom::fill(&mut d).map_err(|e| format!("no randomness: {e}"))?;
        let Ok(key) = p256::ecdsa::SigningKey::from_slice(&d) else {
            continue;
        };
        let point = key.verifying_key().to_sec1_point(false);
        let xy = point.as_bytes().get(1..65).ok_or("bad point")?;
        let (x, y) = xy.split_at(32);
        let jwk = json!({"kty":"EC","crv":"P-256","d":URL_SAFE_NO_PAD.encode(d),
                         "x":URL_SAFE_NO_PAD.encode(x),"y":URL_SAFE_NO_PAD.encode(y)});
        let jwk = jwk.as_object().ok_or("jwk")?;
        let signer = Es256Signer::from_jwk(jwk).map_err(|e| e.to_string())?;
        let public = signer.public_jwk();
        return Ok((signer, public));
    }
}

fn random() -> Result<[u8; 16], String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(bytes)
}

/// `demo`: every step over real HTTPS on loopback; fails loudly if any step misbehaves.
pub(crate) fn run() -> Result<Outcome, String> {
    let tenant = start()?;
    println!(
        "auth0-api demo: a local tenant at {} (HTTPS, its own CA)",
        tenant.issuer()
    );
    let transport = Transport::network(
        Some(tenant.ca_pem().as_bytes()),
        Duration::from_secs(10),
        None,
    )?;
    let verifier = verifier(&tenant)?;
    let driver = Driver::new(verifier.new_caches(), transport, system_clock);
    let now = system_clock();
    let mint = |spec: &TokenSpec| tenant.mint_access_token(spec).map_err(|e| e.to_string());

    step(1, "verify a bearer access token (RS256)");
    let bearer = mint(
        &TokenSpec::new(DEFAULT_AUDIENCE)
            .alg(Alg::Rs256)
            .subject("user-1")
            .scope("read:orders"),
    )?;
    let ctx = RequestContext {
        scheme: Some("Bearer"),
        ..RequestContext::default()
    };
    let claims = verify(&verifier, &driver, &bearer, &ctx)?;
    println!(
        "    accepted: sub={} scope={}",
        claims["sub"], claims["scope"]
    );
    println!(
        "    requests to the tenant so far: {} (discovery, JWKS)",
        tenant.total_requests()
    );
    let before = tenant.total_requests();
    verify(&verifier, &driver, &bearer, &ctx)?;
    println!(
        "    verified again from the cache: {} new requests",
        tenant.total_requests() - before
    );

    step(2, "verify a DPoP-bound access token (ES256) with its proof");
    let (signer, jwk) = dpop_key()?;
    let jkt = Jwk::from_members(&jwk, &RUST_CRYPTO)
        .map_err(|e| e.to_string())?
        .thumbprint();
    let bound = mint(
        &TokenSpec::new(DEFAULT_AUDIENCE)
            .alg(Alg::Es256)
            .subject("user-2")
            .jkt(&jkt),
    )?;
    let url = "https://api.example.com/orders?page=2";
    let header = json!({"typ": "dpop+jwt", "jwk": jwk});
    let proof_claims = json!({"jti": URL_SAFE_NO_PAD.encode(random()?), "htm": "GET",
        "htu": "https://api.example.com/orders", "iat": now.as_secs(), "ath": access_token_hash(&bound)});
    let (Value::Object(header), Value::Object(proof_claims)) = (header, proof_claims) else {
        return Err(String::from("internal error: proof json"));
    };
    let proof = sign_compact(&header, &proof_claims, &signer).map_err(|e| e.to_string())?;
    let ctx = RequestContext {
        scheme: Some("DPoP"),
        dpop_proof: Some(&proof),
        http_method: Some("GET"),
        http_url: Some(url),
        ..RequestContext::default()
    };
    let claims = verify(&verifier, &driver, &bound, &ctx)?;
    println!(
        "    accepted: sub={} cnf.jkt={}",
        claims["sub"], claims["cnf"]["jkt"]
    );

    step(
        3,
        "reject an expired token and a bound token presented as a bearer token",
    );
    let expired = mint(
        &TokenSpec::new(DEFAULT_AUDIENCE)
            .alg(Alg::Rs256)
            .iat(now.as_secs() - 7200)
            .exp(now.as_secs() - 3600),
    )?;
    for (what, token, ctx) in [
        (
            "expired",
            expired.as_str(),
            RequestContext {
                scheme: Some("Bearer"),
                ..RequestContext::default()
            },
        ),
        (
            "bound as bearer",
            bound.as_str(),
            RequestContext {
                scheme: Some("Bearer"),
                ..RequestContext::default()
            },
        ),
    ] {
        match verifier
            .verify_access_token(token, &ctx)
            .and_then(|mut f| driver.drive(&mut f))
        {
            Ok(_) => return Err(format!("the {what} token was accepted")),
            Err(e) => {
                println!("    {what}: {} {} ({})", e.status(), e.code(), e);
                for value in e.www_authenticate() {
                    println!("      WWW-Authenticate: {value}");
                }
            }
        }
    }

    step(
        4,
        "custom token exchange (client_secret_post), with an ID token checked against the JWKS",
    );
    let secret = tenant.secret_client();
    let exchanger = ExchangeConfig::new()
        .domain(tenant.issuer())
        .client_id(secret.client_id())
        .client_secret(secret.secret())
        .domain_policy(local())
        .build()
        .map_err(|e| e.to_string())?;
    let request = CustomTokenExchange {
        subject_token: String::from("legacy-session-42"),
        subject_token_type: String::from(DEFAULT_CUSTOM_TOKEN_TYPE),
        audience: Some(String::from(DEFAULT_AUDIENCE)),
        scope: Some(String::from("openid read:orders")),
        ..CustomTokenExchange::default()
    };
    let set = run_exchange(&exchanger, &driver, |ex, r| {
        ex.custom_token_exchange(&request, r)
    })?;
    let sub = set
        .id_token_claims
        .as_ref()
        .and_then(|c| c.sub().ok().flatten().map(String::from));
    println!(
        "    access token issued ({} s), ID token verified for sub={sub:?}",
        set.expires_in.as_secs()
    );
    let exchanged = set.access_token.expose_secret().to_owned();
    let claims = verify(&verifier, &driver, &exchanged, &RequestContext::default())?;
    println!("    the new access token verifies: sub={}", claims["sub"]);

    step(
        5,
        "on-behalf-of exchange (private_key_jwt, ES256 client assertion)",
    );
    let jwt_client = tenant.es256_client();
    let signer = signer_from_pkcs8_pem(jwt_client.private_key_pem(), Algorithm::ES256)
        .map_err(|e| e.to_string())?;
    let exchanger = ExchangeConfig::new()
        .domain(tenant.issuer())
        .client_id(jwt_client.client_id())
        .client_assertion_signer(Arc::from(signer))
        .domain_policy(local())
        .build()
        .map_err(|e| e.to_string())?;
    let obo = OnBehalfOf {
        access_token: bearer.clone(),
        audience: String::from("https://billing.example.com/"),
        scope: Some(String::from("bill")),
    };
    let token = run_exchange(&exchanger, &driver, |ex, r| ex.on_behalf_of(&obo, r))?;
    println!(
        "    access token for https://billing.example.com/ issued ({} s)",
        token.expires_in.as_secs()
    );

    step(
        6,
        "Token Vault: an access token for the google-oauth2 connection",
    );
    let vault = ConnectionTokenRequest {
        connection: String::from("google-oauth2"),
        subject_token: bearer,
        login_hint: Some(String::from("user-1@example.com")),
        ..ConnectionTokenRequest::default()
    };
    let token = run_exchange(&exchanger, &driver, |ex, r| ex.connection_token(&vault, r))?;
    println!(
        "    connection {} token issued ({} s)",
        token.connection,
        token.expires_in.as_secs()
    );

    println!(
        "\ndemo complete: {} requests reached the tenant",
        tenant.total_requests()
    );
    Ok(Outcome::Silent)
}

fn verify(
    verifier: &Verifier,
    driver: &Driver<Transport>,
    token: &str,
    ctx: &RequestContext<'_>,
) -> Result<Value, String> {
    match verifier
        .verify_access_token(token, ctx)
        .and_then(|mut f| driver.drive(&mut f))
    {
        Ok(claims) => Ok(Value::Object(claims.into_map())),
        Err(e) => Err(format!(
            "verification failed: {e} ({:?})",
            e.www_authenticate()
        )),
    }
}

fn run_exchange<'a, T: auth0_api::exchange::ExchangeOutput>(
    exchanger: &'a TokenExchanger,
    driver: &Driver<Transport>,
    start: impl FnOnce(
        &'a TokenExchanger,
        [u8; 16],
    ) -> Result<
        auth0_api::exchange::ExchangeToken<'a, T>,
        auth0_api::exchange::ExchangeError,
    >,
) -> Result<T, String> {
    match start(exchanger, random()?).and_then(|mut f| driver.drive(&mut f)) {
        Ok(output) => Ok(output),
        Err(e) => Err(format!("exchange failed: {e}")),
    }
}
