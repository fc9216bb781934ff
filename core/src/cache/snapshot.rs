//! Caches that survive a restart: [`CacheSnapshot`].
//!
//! A snapshot holds what was fetched, as it was received: each discovery document (issuer,
//! `jwks_uri`, `token_endpoint`) and each JWK Set as the bytes of its response body, with
//! the time of the fetch. No imported key, no in-flight mark, no cooldown and no DPoP replay
//! entry is kept. [`Verifier::snapshot_caches`] takes one; [`Verifier::restore_caches`]
//! loads one into caches at a given `now`, so a restarted process verifies its first tokens
//! without a request.
//!
//! # What a restore checks
//! A snapshot is refused as a whole (nothing is loaded) with a [`SnapshotError`] when:
//! - its format version is not [`CacheSnapshot::VERSION`] ([`SnapshotError::Version`]);
//! - its digest does not match its contents: a truncated or edited file
//!   ([`SnapshotError::Digest`]; the digest is a SHA-256 over the contents, which catches
//!   corruption and edits, not a forger who can write the file: keep it where only the
//!   service can write, like its configuration);
//! - it was taken by a verifier of another configuration ([`SnapshotError::Configuration`]);
//! - it holds more entries than the caches may ([`SnapshotError::TooManyEntries`]);
//! - a discovery document is not valid ([`SnapshotError::InvalidDocument`]), or a JWK Set
//!   does not parse with the verifier's provider and
//!   [`KeySetLimits`](crate::KeySetLimits), as a fetched one would
//!   ([`SnapshotError::InvalidKeySet`]).
//!
//! Entries whose TTL has passed at `now` (or fetched after `now`) are dropped, not
//! refused; a restored value keeps its fetch time, so it expires when it would have.
//!
//! # The configuration fingerprint
//! A SHA-256 over what decides which documents and keys may be cached and for how long:
//! the issuers (the configured domain or domains; for a resolver, only that there is one),
//! the [`DomainPolicy`](crate::DomainPolicy), the accepted algorithms, the
//! [`KeySetLimits`](crate::KeySetLimits), the cache `ttl` and `max_stale`. Audiences, claim
//! rules, DPoP options and the other cache limits do not change what was fetched and are
//! left out: changing them keeps the snapshot usable.
//!
//! ```
//! use auth0_api::{CacheSnapshot, SnapshotError, UnixTime, VerifierConfig};
//!
//! let verifier = VerifierConfig::new()
//!     .domain("example.auth0.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//! let caches = verifier.new_caches();
//! let now = UnixTime::from_secs(1_700_000_000);
//! let bytes = verifier.snapshot_caches(&caches).to_json();
//! let snapshot = CacheSnapshot::from_json(&bytes)?;
//! let mut restored = verifier.new_caches();
//! let counts = verifier.restore_caches(&mut restored, &snapshot, now)?;
//! assert_eq!(counts.jwks, 0);
//!
//! // Another tenant's verifier refuses it.
//! let other = VerifierConfig::new()
//!     .domain("other.auth0.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//! let refused = other.restore_caches(&mut other.new_caches(), &snapshot, now);
//! assert_eq!(refused, Err(SnapshotError::Configuration));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Verifier::snapshot_caches`]: crate::Verifier::snapshot_caches
//! [`Verifier::restore_caches`]: crate::Verifier::restore_caches

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::Caches;
use crate::config::{IssuerSource, Verifier};
use crate::discovery::{DiscoveryDocument, DocumentError, normalize_https_url};
use crate::domain::Issuer;
use crate::jose::JoseError;
use crate::jose::jwk::JwkSet;
use crate::time::UnixTime;

/// The cached discovery documents and JWK Sets of one verifier, as received, serialisable
/// with serde (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSnapshot {
    version: u32,
    fingerprint: String,
    discovery: Vec<DiscoveryRecord>,
    jwks: Vec<KeySetRecord>,
    digest: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscoveryRecord {
    issuer: String,
    jwks_uri: String,
    token_endpoint: Option<String>,
    fetched_at: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySetRecord {
    uri: String,
    fetched_at: u64,
    /// The response body, as received (a JWK Set is UTF-8 JSON).
    body: String,
}

/// What the digest covers: everything but the digest.
#[derive(Serialize)]
struct Signed<'a> {
    version: u32,
    fingerprint: &'a str,
    discovery: &'a [DiscoveryRecord],
    jwks: &'a [KeySetRecord],
}

/// Only the version, read before the rest so another version is reported as such.
#[derive(Deserialize)]
struct Probe {
    version: u32,
}

/// How many entries a restore loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Discovery documents loaded.
    pub discovery: usize,
    /// JWK Sets loaded.
    pub jwks: usize,
    /// Entries left out: expired at `now`, fetched after `now`, older than what the caches
    /// hold, or with no room.
    pub dropped: usize,
}

/// Why a snapshot was refused (nothing was loaded).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The bytes are not a snapshot (not JSON, members missing, unknown or of the wrong type,
    /// or longer than [`Verifier::snapshot_max_len`]).
    Malformed,
    /// A snapshot of another format version.
    Version {
        /// The version found.
        found: u32,
    },
    /// The contents do not match their digest: the snapshot was truncated or edited.
    Digest,
    /// Taken by a verifier of another configuration (see the [module docs](self)).
    Configuration,
    /// More entries than the caches hold.
    TooManyEntries,
    /// A discovery document that a fetch would have refused.
    InvalidDocument(DocumentError),
    /// A JWK Set that a fetch would have refused.
    InvalidKeySet(JoseError),
}

impl core::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SnapshotError::Malformed => f.write_str("cache snapshot is malformed"),
            SnapshotError::Version { found } => write!(
                f,
                "cache snapshot has format version {found}, expected {}",
                CacheSnapshot::VERSION
            ),
            SnapshotError::Digest => {
                f.write_str("cache snapshot does not match its digest (truncated or edited)")
            }
            SnapshotError::Configuration => {
                f.write_str("cache snapshot was taken with another verifier configuration")
            }
            SnapshotError::TooManyEntries => f.write_str("cache snapshot has too many entries"),
            SnapshotError::InvalidDocument(e) => {
                write!(f, "cache snapshot holds an invalid discovery document: {e}")
            }
            SnapshotError::InvalidKeySet(e) => {
                write!(f, "cache snapshot holds an invalid JWK Set: {e}")
            }
        }
    }
}

impl core::error::Error for SnapshotError {}

impl CacheSnapshot {
    /// The format version this crate writes and reads.
    pub const VERSION: u32 = 1;

    /// The snapshot as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain strings, integers and vectors cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a snapshot written by [`to_json`](Self::to_json). Only the shape and version
    /// are checked here; [`Verifier::restore_caches`] checks the rest.
    ///
    /// # Errors
    /// [`SnapshotError::Version`] for another format version, [`SnapshotError::Malformed`]
    /// for anything else that is not a snapshot.
    pub fn from_json(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let found = match serde_json::from_slice::<Self>(bytes) {
            Ok(snapshot) if snapshot.version == Self::VERSION => return Ok(snapshot),
            Ok(snapshot) => snapshot.version,
            // Another version may have another shape: read its version alone (a second
            // pass, only for a snapshot refused anyway).
            Err(_) => match serde_json::from_slice::<Probe>(bytes) {
                Ok(probe) if probe.version != Self::VERSION => probe.version,
                _ => return Err(SnapshotError::Malformed),
            },
        };
        Err(SnapshotError::Version { found })
    }

    /// How many discovery documents and JWK Sets it holds.
    pub fn len(&self) -> (usize, usize) {
        (self.discovery.len(), self.jwks.len())
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.discovery.is_empty() && self.jwks.is_empty()
    }

    fn compute_digest(&self) -> String {
        let signed = Signed {
            version: self.version,
            fingerprint: &self.fingerprint,
            discovery: &self.discovery,
            jwks: &self.jwks,
        };
        let bytes = serde_json::to_vec(&signed).unwrap_or_default();
        hex(&Sha256::digest(&bytes))
    }
}

impl Verifier {
    /// A snapshot of `caches`: every cached discovery document and JWK Set, expired or not,
    /// with its fetch time (see [`cache::snapshot`](crate::cache::snapshot)).
    pub fn snapshot_caches(&self, caches: &Caches) -> CacheSnapshot {
        let discovery = caches
            .discovery_values()
            .map(|(doc, at)| DiscoveryRecord {
                issuer: doc.issuer.clone(),
                jwks_uri: doc.jwks_uri.clone(),
                token_endpoint: doc.token_endpoint.clone(),
                fetched_at: at.as_secs(),
            })
            .collect();
        let jwks = caches
            .jwks_values()
            .filter_map(|(uri, set, at)| {
                // A set parsed from JSON is UTF-8; one without its body cannot be written.
                let body = core::str::from_utf8(set.source()?).ok()?;
                Some(KeySetRecord {
                    uri: String::from(uri),
                    fetched_at: at.as_secs(),
                    body: String::from(body),
                })
            })
            .collect();
        let mut snapshot = CacheSnapshot {
            version: CacheSnapshot::VERSION,
            fingerprint: self.cache_fingerprint(),
            discovery,
            jwks,
            digest: String::new(),
        };
        snapshot.digest = snapshot.compute_digest();
        snapshot
    }

    /// Loads `snapshot` into `caches` at `now`, after the checks of the
    /// [module docs](crate::cache::snapshot). A value the caches already hold with a fetch
    /// time as late is kept; expired entries are dropped.
    ///
    /// # Errors
    /// The [`SnapshotError`] for a snapshot refused as a whole; `caches` is then unchanged.
    pub fn restore_caches(
        &self,
        caches: &mut Caches,
        snapshot: &CacheSnapshot,
        now: UnixTime,
    ) -> Result<Restored, SnapshotError> {
        if snapshot.version != CacheSnapshot::VERSION {
            return Err(SnapshotError::Version {
                found: snapshot.version,
            });
        }
        // The entry count first: it bounds the work of the digest, which serialises the
        // whole snapshot again.
        let policy = *caches.policy();
        if snapshot.discovery.len() > policy.max_entries || snapshot.jwks.len() > policy.max_entries
        {
            return Err(SnapshotError::TooManyEntries);
        }
        if snapshot.digest != snapshot.compute_digest() {
            return Err(SnapshotError::Digest);
        }
        if snapshot.fingerprint != self.cache_fingerprint() {
            return Err(SnapshotError::Configuration);
        }
        let fresh = |at: u64| {
            let at = UnixTime::from_secs(at);
            at <= now && at.checked_add(policy.ttl).is_some_and(|end| now < end)
        };
        let mut restored = Restored::default();
        // Everything is checked before anything is stored: a refusal changes nothing.
        let mut documents = Vec::new();
        for record in &snapshot.discovery {
            let configured = match &self.source {
                IssuerSource::Single(issuer) => issuer.as_str() == record.issuer,
                IssuerSource::Static(list) => list.iter().any(|i| i.as_str() == record.issuer),
                // Any issuer a resolver could name: one in canonical form under the
                // verifier's domain policy (which also bounds its length).
                IssuerSource::Resolver(_) | IssuerSource::Deferred => {
                    Issuer::parse_exact_with(&record.issuer, &self.domain_policy).is_ok()
                }
            };
            if !configured {
                return Err(SnapshotError::InvalidDocument(
                    DocumentError::IssuerMismatch,
                ));
            }
            let doc = check_document(record).map_err(SnapshotError::InvalidDocument)?;
            if fresh(record.fetched_at) {
                documents.push((doc, record.fetched_at));
            } else {
                restored.dropped += 1;
            }
        }
        let mut sets = Vec::new();
        for record in &snapshot.jwks {
            if normalize_https_url(&record.uri, "jwks_uri").as_deref() != Ok(record.uri.as_str()) {
                return Err(SnapshotError::InvalidDocument(DocumentError::InvalidUrl(
                    "jwks_uri",
                )));
            }
            let body = record.body.as_bytes();
            let set = JwkSet::parse_with(body, self.provider, &self.key_limits)
                .map_err(SnapshotError::InvalidKeySet)?;
            if fresh(record.fetched_at) {
                sets.push((&record.uri, set.with_source(body), record.fetched_at));
            } else {
                restored.dropped += 1;
            }
        }
        for (doc, at) in documents {
            if caches.restore_discovery(doc, UnixTime::from_secs(at), now) {
                restored.discovery += 1;
            } else {
                restored.dropped += 1;
            }
        }
        for (uri, set, at) in sets {
            if caches.restore_jwks(uri, set, UnixTime::from_secs(at), now) {
                restored.jwks += 1;
            } else {
                restored.dropped += 1;
            }
        }
        Ok(restored)
    }

    /// The longest snapshot [`CacheSnapshot::from_json`] input worth reading for this
    /// verifier: `max_entries` discovery documents of a few KiB and `max_entries` JWK Sets
    /// of at most [`KeySetLimits::max_body_len`](crate::KeySetLimits::max_body_len) bytes,
    /// which JSON string escaping may double. A driver reads no more than this from a file.
    pub fn snapshot_max_len(&self) -> usize {
        let entries = self.cache.max_entries.max(1);
        let per_set = self.key_limits.max_body_len.saturating_mul(2);
        entries
            .saturating_mul(per_set.saturating_add(16 * 1024))
            .saturating_add(64 * 1024)
    }

    /// The configuration fingerprint (see the [module docs](crate::cache::snapshot)).
    fn cache_fingerprint(&self) -> String {
        let mut text = String::from("auth0-api cache snapshot\n");
        match &self.source {
            IssuerSource::Single(issuer) => {
                let _ = writeln!(text, "issuer {}", issuer.as_str());
            }
            IssuerSource::Static(list) => {
                let mut issuers: Vec<&str> = list.iter().map(|i| i.as_str()).collect();
                issuers.sort_unstable();
                for issuer in issuers {
                    let _ = writeln!(text, "domain {issuer}");
                }
            }
            IssuerSource::Resolver(_) | IssuerSource::Deferred => text.push_str("resolver\n"),
        }
        let policy = &self.domain_policy;
        let _ = writeln!(
            text,
            "domain policy {} {}",
            policy.allow_ip_literals, policy.allow_localhost
        );
        let mut algorithms: Vec<&str> = self.algorithms.iter().map(|a| a.name()).collect();
        algorithms.sort_unstable();
        let _ = writeln!(text, "algorithms {}", algorithms.join(","));
        let limits = &self.key_limits;
        let _ = writeln!(
            text,
            "key limits {} {} {}..={}",
            limits.max_body_len,
            limits.max_keys,
            limits.rsa_modulus_bits.start(),
            limits.rsa_modulus_bits.end()
        );
        let _ = writeln!(
            text,
            "ttl {} max_stale {}",
            self.cache.ttl.as_secs(),
            self.cache.max_stale.as_secs()
        );
        hex(&Sha256::digest(text.as_bytes()))
    }
}

/// The document of `record`, checked as a fetched one is (URLs absolute `https`, in their
/// normalised spelling).
fn check_document(record: &DiscoveryRecord) -> Result<DiscoveryDocument, DocumentError> {
    let same = |url: &str, member: &'static str| match normalize_https_url(url, member) {
        Ok(normal) if normal == url => Ok(()),
        Ok(_) => Err(DocumentError::InvalidUrl(member)),
        Err(e) => Err(e),
    };
    if record.issuer.is_empty() {
        return Err(DocumentError::MissingMember("issuer"));
    }
    same(&record.jwks_uri, "jwks_uri")?;
    if let Some(endpoint) = &record.token_endpoint {
        same(endpoint, "token_endpoint")?;
    }
    Ok(DiscoveryDocument {
        issuer: record.issuer.clone(),
        jwks_uri: record.jwks_uri.clone(),
        token_endpoint: record.token_endpoint.clone(),
    })
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::VerifierConfig;

    /// With a resolver any issuer may be configured, but only one the resolver could have
    /// produced (canonical under the domain policy) is restored.
    #[test]
    fn a_resolver_verifier_restores_only_canonical_issuers() {
        let v = VerifierConfig::new()
            .audience("api://orders")
            .deferred_domain_resolver()
            .build()
            .unwrap();
        for (issuer, accepted) in [
            ("https://tenant.example/", true),
            ("https://127.0.0.1/", false),
            ("https://Tenant.example/", false),
            ("https://tenant.example", false),
            ("tenant", false),
        ] {
            let mut caches = v.new_caches();
            let mut snapshot = v.snapshot_caches(&caches);
            snapshot.discovery.push(DiscoveryRecord {
                issuer: issuer.into(),
                jwks_uri: "https://tenant.example/.well-known/jwks.json".into(),
                token_endpoint: None,
                fetched_at: 100,
            });
            snapshot.digest = snapshot.compute_digest();
            let restored = v.restore_caches(&mut caches, &snapshot, UnixTime::from_secs(110));
            if accepted {
                assert_eq!(restored.map(|r| r.discovery), Ok(1), "{issuer}");
            } else {
                assert_eq!(
                    restored.map(|_| ()),
                    Err(SnapshotError::InvalidDocument(
                        DocumentError::IssuerMismatch
                    )),
                    "{issuer}"
                );
            }
        }
    }
}
