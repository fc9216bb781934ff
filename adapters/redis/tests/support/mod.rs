//! What the Redis tests share: a real `redis-server` on a free loopback port, the local
//! HTTPS tenant, clients on both drivers, and DPoP proofs signed with fixed keys.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use auth0_api::jose::jwk::Jwk;
use auth0_api::jose::sign::{Es256Signer, sign_compact};
use auth0_api::jose::verify::RUST_CRYPTO;
use auth0_api::verify::dpop::access_token_hash;
use auth0_api::{DomainPolicy, RequestContext, UnixTime, Verifier, VerifierConfig};
use auth0_api_driver::{ClientOptions, system_clock};
use auth0_api_mock_tenant::{Alg, DEFAULT_AUDIENCE, MockTenant, TenantOptions, TokenSpec};
use auth0_api_redis::{RedisReplayConfig, RedisReplayStore};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// The request URL every proof is bound to.
pub const URL: &str = "https://api.example.com/orders";

/// A `redis-server` of our own on loopback, without persistence, stopped when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts one on a free port, in a fresh temporary directory.
    pub fn start() -> Self {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("its address").port()
        };
        let dir = std::env::temp_dir().join(format!(
            "auth0-api-redis-test-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut server = Self {
            child: None,
            port,
            dir,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops the server (as a crash would: no shutdown command).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (.ci/run installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.try_command(&["PING"]).as_deref() != Some("+PONG\r\n") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends one command over a fresh connection and returns the raw reply line.
    pub fn command(&self, args: &[&str]) -> String {
        self.try_command(args).expect("redis answers")
    }

    fn try_command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while !reply.ends_with(b"\r\n") {
            if stream.read(&mut byte).ok()? == 0 {
                return None;
            }
            reply.push(byte[0]);
        }
        String::from_utf8(reply).ok()
    }

    /// An integer reply (`PTTL`, `DBSIZE`, `EXISTS`).
    pub fn integer(&self, args: &[&str]) -> i64 {
        let reply = self.command(args);
        reply
            .strip_prefix(':')
            .and_then(|r| r.trim_end().parse().ok())
            .unwrap_or_else(|| panic!("not an integer reply: {reply:?}"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The local tenant and a verifier for it.
pub fn tenant() -> MockTenant {
    MockTenant::start(TenantOptions::default()).expect("the local tenant starts")
}

pub fn verifier(tenant: &MockTenant) -> Verifier {
    VerifierConfig::new()
        .domain(tenant.issuer())
        .audience(DEFAULT_AUDIENCE)
        .algorithms(["ES256"])
        .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
        .build()
        .expect("a valid configuration")
}

pub fn options(tenant: &MockTenant) -> ClientOptions {
    ClientOptions {
        root_certificates_pem: vec![tenant.ca_pem().as_bytes().to_vec()],
        ..ClientOptions::default()
    }
}

/// An async client (reqwest) with its own caches, checking replays in `store`.
pub fn async_client(tenant: &MockTenant, store: RedisReplayStore) -> auth0_api_reqwest::Client {
    let transport = auth0_api_reqwest::ReqwestTransport::new(&options(tenant)).expect("transport");
    auth0_api_driver::Client::new(verifier(tenant), transport, system_clock)
        .with_replay_store(store)
}

/// A blocking client (ureq) with its own caches, checking replays in `store`.
pub fn blocking_client(tenant: &MockTenant, store: RedisReplayStore) -> auth0_api_ureq::Client {
    let transport = auth0_api_ureq::UreqTransport::new(&options(tenant)).expect("transport");
    auth0_api_driver::Client::new(verifier(tenant), transport, system_clock)
        .with_replay_store(store)
}

/// The store configuration the tests use: short timeouts, a namespace of the verifier.
pub fn config(redis: &RedisServer, tenant: &MockTenant) -> RedisReplayConfig {
    RedisReplayConfig::for_verifier(redis.url(), &verifier(tenant))
        .connect_timeout(Duration::from_millis(500))
        .response_timeout(Duration::from_millis(500))
}

/// A DPoP key, its public JWK and thumbprint.
pub struct DpopKey {
    signer: Es256Signer,
    jwk: Map<String, Value>,
    pub jkt: String,
}

impl DpopKey {
    /// A fixed P-256 key derived from `seed` (never zero).
    pub fn new(seed: u8) -> Self {
        let d = [seed.max(1); 32];
        let key = p256::ecdsa::SigningKey::from_slice(&d).expect("a valid scalar");
        let point = key.verifying_key().to_sec1_point(false);
        let (x, y) = point.as_bytes()[1..65].split_at(32);
        let private = json!({"kty": "EC", "crv": "P-256", "d": URL_SAFE_NO_PAD.encode(d),
                             "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)});
        let signer = Es256Signer::from_jwk(private.as_object().expect("object")).expect("signer");
        let jwk = signer.public_jwk();
        let jkt = Jwk::from_members(&jwk, &RUST_CRYPTO)
            .expect("a public key")
            .thumbprint();
        Self { signer, jwk, jkt }
    }

    /// An access token from the tenant bound to this key.
    pub fn token(&self, tenant: &MockTenant) -> String {
        tenant
            .mint_access_token(
                &TokenSpec::new(DEFAULT_AUDIENCE)
                    .alg(Alg::Es256)
                    .jkt(&self.jkt),
            )
            .expect("a token")
    }

    /// A proof for `GET URL` with `token`, issued now, carrying `jti`.
    pub fn proof(&self, token: &str, jti: &str) -> String {
        let now = system_clock();
        let header = json!({"typ": "dpop+jwt", "jwk": self.jwk});
        let claims = json!({"jti": jti, "htm": "GET", "htu": URL, "iat": now.as_secs(),
                            "ath": access_token_hash(token)});
        sign_compact(
            header.as_object().expect("object"),
            claims.as_object().expect("object"),
            &self.signer,
        )
        .expect("a signed proof")
    }
}

/// The request context of a DPoP request carrying `proof`.
pub fn dpop_ctx(proof: &str) -> RequestContext<'_> {
    RequestContext {
        scheme: Some("DPoP"),
        dpop_proof: Some(proof),
        http_method: Some("GET"),
        http_url: Some(URL),
        ..RequestContext::default()
    }
}

/// Now, on the clock the clients use.
pub fn now() -> UnixTime {
    system_clock()
}
