//! A DPoP replay store on Redis for `auth0-api-driver`: every instance of an API behind one
//! load balancer shares it, so a captured DPoP proof accepted by one instance is refused by
//! all the others (RFC 9449 section 11.1).
//!
//! The in-memory [`ReplayCache`](auth0_api::cache::ReplayCache) protects one process only.
//! [`RedisReplayStore`] implements the driver's [`ReplayStore`]: the core stops a DPoP
//! verification, after the token and the proof passed every other check, at
//! [`Action::CheckReplay`](auth0_api::Action::CheckReplay), and the driver asks the store.
//!
//! # One command per proof
//! Each proof costs exactly one atomic command,
//!
//! ```text
//! SET <prefix>:<namespace>:<hex of the (jkt, jti) digest> 1 NX PX <ttl in ms>
//! ```
//!
//! `OK` means the key was new (the proof is accepted), a nil reply that it was already there
//! (refused as a replay). The key is the SHA-256 of the proof key's thumbprint and the `jti`
//! ([`ReplayKey`]), so no attacker-chosen string reaches Redis, and every key has the same
//! size. The TTL is the proof's acceptance window (`iat_offset + iat_leeway`, 330 s by
//! default) plus one second: Redis forgets the key once no verifier could accept the proof
//! any more.
//!
//! # Namespaces
//! Keys start with a prefix (default [`DEFAULT_PREFIX`]) and a namespace per verifier, so
//! several APIs can share one Redis: [`RedisReplayConfig::for_verifier`] derives the
//! namespace from the verifier's audiences and domain, [`RedisReplayConfig::new`] takes
//! one you choose (give every instance of one API the same).
//!
//! # When Redis is unreachable
//! A check that gets no answer within the timeouts (connection, response), or an answer
//! other than `OK` or nil, is [`ReplayOutcome::Unavailable`]: the verification fails closed
//! with HTTP 503 and code `replay_store_unavailable` (not `invalid_token`: the client did
//! nothing wrong and may retry). [`RedisReplayConfig::fail_open`] accepts such proofs
//! instead, keeping the API up during a Redis outage at the cost of replay protection for
//! that time; [`RedisReplayStore::unavailable_count`] counts the checks Redis did not
//! answer either way. The connection is re-established in the background; the first check
//! after Redis is back succeeds again.
//!
//! # Runtimes
//! The connection lives on a Tokio runtime: [`RedisReplayStore::new`] uses the runtime it is
//! called from, [`RedisReplayStore::new_blocking`] starts one of its own (one worker
//! thread) for programs without one. Either store serves both the async
//! ([`Client::verify_async`](auth0_api_driver::Client::verify_async)) and the blocking
//! ([`Client::verify`](auth0_api_driver::Client::verify)) driver.
//!
//! ```no_run
//! use auth0_api::VerifierConfig;
//! use auth0_api_driver::{ClientOptions, Client, FixtureTransport, system_clock};
//! use auth0_api_redis::{RedisReplayConfig, RedisReplayStore};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = VerifierConfig::new()
//!     .domain("example.auth0.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//! let config = RedisReplayConfig::for_verifier("redis://127.0.0.1:6379/", &verifier);
//! let store = RedisReplayStore::new(config)?;
//! let client = Client::new(verifier, FixtureTransport::new(), system_clock)
//!     .with_replay_store(store);
//! # let _ = client; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auth0_api::Verifier;
use auth0_api::cache::ReplayKey;
use auth0_api::{ReplayCheck, ReplayOutcome, UnixTime};
use auth0_api_driver::{ReplayFuture, ReplayStore};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::{Digest, Sha256};

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "auth0-api:dpop-jti";

/// The longest prefix or namespace accepted, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// How a [`RedisReplayStore`] connects and what it does when Redis does not answer.
///
/// `Debug` prints the URL without its password.
#[derive(Clone)]
pub struct RedisReplayConfig {
    url: String,
    prefix: String,
    namespace: String,
    connect_timeout: Duration,
    response_timeout: Duration,
    fail_open: bool,
}

impl RedisReplayConfig {
    /// Connects to `url` (`redis://[user:password@]host:port[/db]`, or `rediss://` where the
    /// `redis` crate is built with TLS) and keeps keys under `namespace`: give every instance
    /// of one API the same namespace, and different APIs different ones.
    ///
    /// Defaults: prefix [`DEFAULT_PREFIX`], connect timeout 1 s, response timeout 500 ms,
    /// fail closed.
    pub fn new(url: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: String::from(DEFAULT_PREFIX),
            namespace: namespace.into(),
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_millis(500),
            fail_open: false,
        }
    }

    /// As [`new`](Self::new), with the namespace of `verifier` (see
    /// [`namespace_of`](Self::namespace_of)).
    pub fn for_verifier(url: impl Into<String>, verifier: &Verifier) -> Self {
        Self::new(url, Self::namespace_of(verifier))
    }

    /// A namespace naming `verifier`: 16 bytes of SHA-256, in hex, over its domain and its
    /// audiences (each length-prefixed; the audiences in order). Verifiers built alike on
    /// several instances share it; another API (another audience) gets another one.
    pub fn namespace_of(verifier: &Verifier) -> String {
        let mut hasher = Sha256::new();
        let mut part = |bytes: &[u8]| {
            hasher.update((bytes.len() as u64).to_be_bytes());
            hasher.update(bytes);
        };
        part(verifier.domain().map_or("", |d| d.as_str()).as_bytes());
        for audience in verifier.audiences() {
            part(audience.as_bytes());
        }
        hex(&hasher.finalize()[..16])
    }

    /// The key prefix. Defaults to [`DEFAULT_PREFIX`].
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one connection attempt may take. Defaults to 1 s.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long Redis may take to answer a command. Defaults to 500 ms. A check never takes
    /// longer than the connect and response timeouts together.
    #[must_use]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Whether a proof is accepted when Redis cannot be asked: `false` (the default) fails
    /// closed with HTTP 503; `true` accepts it, without replay protection while Redis is
    /// down.
    #[must_use]
    pub fn fail_open(mut self, fail_open: bool) -> Self {
        self.fail_open = fail_open;
        self
    }

    fn check(&self) -> Result<redis::Client, ConfigError> {
        for (option, value) in [("prefix", &self.prefix), ("namespace", &self.namespace)] {
            if value.is_empty() {
                return Err(ConfigError::Invalid {
                    option,
                    reason: "empty",
                });
            }
            if value.len() > MAX_NAME_LEN {
                return Err(ConfigError::Invalid {
                    option,
                    reason: "longer than 256 bytes",
                });
            }
            if value.bytes().any(|b| b.is_ascii_control() || b == b' ') {
                return Err(ConfigError::Invalid {
                    option,
                    reason: "contains a space or a control character",
                });
            }
        }
        for (option, value) in [
            ("connect_timeout", self.connect_timeout),
            ("response_timeout", self.response_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::Invalid {
                    option,
                    reason: "zero",
                });
            }
        }
        redis::Client::open(self.url.as_str()).map_err(|_| ConfigError::Invalid {
            option: "url",
            reason: "not a redis connection URL",
        })
    }
}

impl fmt::Debug for RedisReplayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayConfig")
            .field("url", &without_password(&self.url))
            .field("prefix", &self.prefix)
            .field("namespace", &self.namespace)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("fail_open", &self.fail_open)
            .finish()
    }
}

/// `url` with the user information and the query (`redis+unix://...?pass=` carries a
/// password there) replaced by `[redacted]`.
fn without_password(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((url, _)) => (url, "?[redacted]"),
        None => (url, ""),
    };
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find('/').unwrap_or(rest.len());
    match rest.get(..end).and_then(|authority| authority.rfind('@')) {
        Some(at) => format!(
            "{scheme}://[redacted]{}{query}",
            rest.get(at..).unwrap_or("")
        ),
        None => format!("{url}{query}"),
    }
}

/// Why a [`RedisReplayStore`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// An option has an unusable value.
    Invalid {
        /// The option at fault.
        option: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// [`RedisReplayStore::new`] was called outside a Tokio runtime (use
    /// [`RedisReplayStore::new_blocking`] there).
    NoRuntime,
    /// The store's own runtime could not be started.
    Runtime(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid { option, reason } => {
                write!(f, "invalid redis replay store option {option}: {reason}")
            }
            ConfigError::NoRuntime => {
                f.write_str("no tokio runtime to run the redis connection on")
            }
            ConfigError::Runtime(e) => write!(f, "cannot start a runtime for redis: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The store's own runtime, shut down without waiting when the last handle goes (also from
/// inside another runtime, where dropping it would panic).
struct OwnedRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

struct Inner {
    manager: ConnectionManager,
    /// `<prefix>:<namespace>:`
    key_prefix: String,
    /// The most one check may take: the connect and response timeouts together.
    deadline: Duration,
    fail_open: bool,
    unavailable: AtomicU64,
    runtime: tokio::runtime::Handle,
    _owned: OwnedRuntime,
}

/// A DPoP replay store on Redis, shared by every instance of an API (see the
/// [crate docs](crate)). Cheap to clone: clones share one connection.
#[derive(Clone)]
pub struct RedisReplayStore {
    inner: Arc<Inner>,
}

impl RedisReplayStore {
    /// A store connecting on the current Tokio runtime. The connection is made on first use
    /// and re-made after a failure, so an unreachable Redis is not an error here: checks fail
    /// (closed or open, as configured) until it answers.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for an unusable option; [`ConfigError::NoRuntime`] outside a
    /// Tokio runtime.
    pub fn new(config: RedisReplayConfig) -> Result<Self, ConfigError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        Self::build(config, runtime, OwnedRuntime(None))
    }

    /// A store with a runtime of its own (one worker thread), for programs that use the
    /// blocking driver and have no Tokio runtime. Also usable from async code.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for an unusable option; [`ConfigError::Runtime`] when the
    /// runtime cannot start.
    pub fn new_blocking(config: RedisReplayConfig) -> Result<Self, ConfigError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("auth0-api-redis")
            .enable_all()
            .build()
            .map_err(|e| ConfigError::Runtime(e.to_string()))?;
        let handle = runtime.handle().clone();
        Self::build(config, handle, OwnedRuntime(Some(runtime)))
    }

    fn build(
        config: RedisReplayConfig,
        runtime: tokio::runtime::Handle,
        owned: OwnedRuntime,
    ) -> Result<Self, ConfigError> {
        let client = config.check()?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(config.connect_timeout);
        let manager = {
            let _entered = runtime.enter();
            ConnectionManager::new_lazy_with_config(client, manager_config).map_err(|_| {
                ConfigError::Invalid {
                    option: "url",
                    reason: "the redis client refused it",
                }
            })?
        };
        Ok(Self {
            inner: Arc::new(Inner {
                manager,
                key_prefix: format!("{}:{}:", config.prefix, config.namespace),
                deadline: config
                    .connect_timeout
                    .saturating_add(config.response_timeout),
                fail_open: config.fail_open,
                unavailable: AtomicU64::new(0),
                runtime,
                _owned: owned,
            }),
        })
    }

    /// The Redis key of `key`: `<prefix>:<namespace>:` and the 64 hex digits of its digest.
    pub fn redis_key(&self, key: &ReplayKey) -> String {
        format!("{}{key:x}", self.inner.key_prefix)
    }

    /// How many checks Redis did not answer (unreachable, timed out, an unexpected reply)
    /// since the store was made, whether they failed closed or open.
    pub fn unavailable_count(&self) -> u64 {
        self.inner.unavailable.load(Ordering::Relaxed)
    }

    /// Checks and inserts `check`'s key with one `SET key 1 NX PX ttl`, the TTL counted from
    /// `now` (see [`ReplayCheck::ttl`]). Runs on the store's runtime, so any executor (or
    /// none, in the blocking driver) may await it.
    pub async fn check(&self, check: ReplayCheck, now: UnixTime) -> ReplayOutcome {
        let inner = Arc::clone(&self.inner);
        let key = self.redis_key(check.key());
        let ttl_ms = u64::try_from(check.ttl(now).as_millis()).unwrap_or(u64::MAX);
        let task = self
            .inner
            .runtime
            .spawn(async move { inner.set_nx(key, ttl_ms).await });
        let outcome = task.await.unwrap_or(ReplayOutcome::Unavailable);
        if outcome != ReplayOutcome::Unavailable {
            return outcome;
        }
        self.inner.unavailable.fetch_add(1, Ordering::Relaxed);
        if self.inner.fail_open {
            ReplayOutcome::FirstSeen
        } else {
            ReplayOutcome::Unavailable
        }
    }
}

impl Inner {
    async fn set_nx(&self, key: String, ttl_ms: u64) -> ReplayOutcome {
        let mut command = redis::cmd("SET");
        command.arg(key).arg(1).arg("NX").arg("PX").arg(ttl_ms);
        let mut manager = self.manager.clone();
        let reply = tokio::time::timeout(self.deadline, manager.send_packed_command(&command));
        match reply.await {
            Ok(Ok(reply)) => outcome_of(&reply),
            Ok(Err(_)) | Err(_) => ReplayOutcome::Unavailable,
        }
    }
}

/// What a reply to `SET ... NX` means: `OK` set, nil already there; anything else (an
/// error reply, another type) is not an answer.
fn outcome_of(reply: &redis::Value) -> ReplayOutcome {
    match reply {
        redis::Value::Okay => ReplayOutcome::FirstSeen,
        redis::Value::SimpleString(s) if s == "OK" => ReplayOutcome::FirstSeen,
        redis::Value::Nil => ReplayOutcome::SeenBefore,
        _ => ReplayOutcome::Unavailable,
    }
}

impl ReplayStore for RedisReplayStore {
    fn check_and_insert(&self, check: ReplayCheck, now: UnixTime) -> ReplayFuture<'_> {
        Box::pin(self.check(check, now))
    }
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("key_prefix", &self.inner.key_prefix)
            .field("fail_open", &self.inner.fail_open)
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth0_api::VerifierConfig;

    fn verifier(audience: &str) -> Verifier {
        VerifierConfig::new()
            .domain("tenant.example")
            .audience(audience)
            .build()
            .unwrap()
    }

    #[test]
    fn keys_are_prefixed_namespaced_and_hashed() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _entered = runtime.enter();
        let store = RedisReplayStore::new(
            RedisReplayConfig::new("redis://127.0.0.1:1/", "orders").prefix("p"),
        )
        .unwrap();
        let key = ReplayKey::new("jkt", "jti");
        let name = store.redis_key(&key);
        assert_eq!(name, format!("p:orders:{}", hex(key.as_bytes())));
        assert_eq!(name.len(), "p:orders:".len() + 64);
        assert!(!name.contains("jti"));
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }

    #[test]
    fn a_namespace_names_the_verifier() {
        let a = RedisReplayConfig::namespace_of(&verifier("https://orders"));
        assert_eq!(a.len(), 32);
        assert_eq!(
            a,
            RedisReplayConfig::namespace_of(&verifier("https://orders"))
        );
        assert_ne!(
            a,
            RedisReplayConfig::namespace_of(&verifier("https://billing"))
        );
        let config = RedisReplayConfig::for_verifier("redis://h/", &verifier("https://orders"));
        assert_eq!(config.namespace, a);
    }

    #[test]
    fn unusable_options_are_refused() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let base = || RedisReplayConfig::new("redis://127.0.0.1:6379/", "ns");
        let cases = [
            (base().prefix(""), "prefix"),
            (
                RedisReplayConfig::new("redis://127.0.0.1:6379/", ""),
                "namespace",
            ),
            (base().prefix("a b"), "prefix"),
            (base().prefix("a\r\nFLUSHALL"), "prefix"),
            (base().prefix("x".repeat(MAX_NAME_LEN + 1)), "prefix"),
            (base().connect_timeout(Duration::ZERO), "connect_timeout"),
            (base().response_timeout(Duration::ZERO), "response_timeout"),
            (RedisReplayConfig::new("http://127.0.0.1/", "ns"), "url"),
            (RedisReplayConfig::new("not a url", "ns"), "url"),
        ];
        let _entered = runtime.enter();
        for (config, option) in cases {
            match RedisReplayStore::new(config) {
                Err(ConfigError::Invalid { option: got, .. }) => assert_eq!(got, option),
                other => panic!("{option}: {other:?}"),
            }
        }
        assert!(RedisReplayStore::new(base()).is_ok());
    }

    #[test]
    fn new_needs_a_runtime_and_new_blocking_brings_one() {
        let config = RedisReplayConfig::new("redis://127.0.0.1:6379/", "ns");
        assert_eq!(
            RedisReplayStore::new(config.clone()).unwrap_err(),
            ConfigError::NoRuntime
        );
        assert!(RedisReplayStore::new_blocking(config).is_ok());
    }

    #[test]
    fn replies_other_than_ok_or_nil_are_no_answer() {
        use redis::Value;
        assert_eq!(outcome_of(&Value::Okay), ReplayOutcome::FirstSeen);
        assert_eq!(
            outcome_of(&Value::SimpleString("OK".into())),
            ReplayOutcome::FirstSeen
        );
        assert_eq!(outcome_of(&Value::Nil), ReplayOutcome::SeenBefore);
        for reply in [
            Value::Int(1),
            Value::SimpleString("QUEUED".into()),
            Value::BulkString(b"OK".to_vec()),
            Value::Array(vec![]),
        ] {
            assert_eq!(outcome_of(&reply), ReplayOutcome::Unavailable, "{reply:?}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let config = RedisReplayConfig::new("redis://user:s3cret@redis.internal:6379/0", "ns");
        let text = format!("{config:?}");
        assert!(!text.contains("s3cret") && !text.contains("user"), "{text}");
        assert!(
            text.contains("redis://[redacted]@redis.internal:6379/0"),
            "{text}"
        );
    }

    #[test]
    fn debug_hides_a_password_in_the_query() {
        let config =
            RedisReplayConfig::new("redis+unix:///run/redis.sock?user=u&pass=s3cret", "ns");
        let text = format!("{config:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(
            text.contains("redis+unix:///run/redis.sock?[redacted]"),
            "{text}"
        );
    }
}
