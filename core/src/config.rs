//! Verifier configuration and its validation (SPEC section 1).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use crate::cache::{CachePolicy, Caches, PolicyError};
use crate::domain::{DomainPolicy, Issuer};
use crate::jose::compact::Limits;
use crate::jose::jwk::KeySetLimits;
use crate::jose::provider::{CryptoProvider, RUST_CRYPTO};
use crate::jose::{Algorithm, JoseError};

/// How DPoP-bound tokens (RFC 9449) are treated. Defaults to [`DpopMode::Allowed`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DpopMode {
    /// Bearer and DPoP tokens are both accepted; each is held to its own rules.
    #[default]
    Allowed,
    /// Only DPoP-bound tokens presented with the `DPoP` scheme and a valid proof.
    Required,
    /// Only the `Bearer` scheme; DPoP is ignored entirely (a token with `cnf.jkt` is accepted
    /// as a bearer token).
    Disabled,
}

/// DPoP settings (SPEC section 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DpopOptions {
    /// The mode. Defaults to [`DpopMode::Allowed`].
    pub mode: DpopMode,
    /// The maximum age of a proof (`iat` in the past). Defaults to 300 s; at most
    /// [`MAX_WINDOW`].
    pub iat_offset: Duration,
    /// How far in the future a proof `iat` may be. Defaults to 30 s; at most [`MAX_WINDOW`].
    pub iat_leeway: Duration,
}

impl Default for DpopOptions {
    fn default() -> Self {
        Self {
            mode: DpopMode::Allowed,
            iat_offset: Duration::from_secs(300),
            iat_leeway: Duration::from_secs(30),
        }
    }
}

/// Why a configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required option is missing or empty (`missing_required_argument_error`).
    Missing(&'static str),
    /// An option has an invalid value (`invalid_configuration_error`).
    Invalid {
        /// The option at fault.
        option: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A number or duration is 0 where 0 would switch a protection off, such as the refetch
    /// cooldown or the in-flight marks of the caches (`invalid_configuration_error`).
    Zero(&'static str),
    /// A number or duration is above the largest value that can be used safely, such as a
    /// JSON nesting depth deep enough to overflow the stack, or a clock leeway long enough to
    /// accept expired tokens indefinitely (`invalid_configuration_error`).
    TooLarge {
        /// The option at fault.
        option: &'static str,
        /// The largest value accepted, in the option's unit (seconds for durations).
        max: usize,
    },
}

impl ConfigError {
    /// The wire code: `missing_required_argument_error` or `invalid_configuration_error`.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Missing(_) => "missing_required_argument_error",
            ConfigError::Invalid { .. } | ConfigError::Zero(_) | ConfigError::TooLarge { .. } => {
                "invalid_configuration_error"
            }
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Missing(option) => write!(f, "missing required option {option}"),
            ConfigError::Invalid { option, reason } => {
                write!(f, "invalid option {option}: {reason}")
            }
            ConfigError::Zero(option) => write!(f, "invalid option {option}: must not be zero"),
            ConfigError::TooLarge { option, max } => {
                write!(f, "invalid option {option}: must be at most {max}")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

impl From<PolicyError> for ConfigError {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::Zero(option) => ConfigError::Zero(option),
            PolicyError::TooLarge { option, max } => ConfigError::TooLarge { option, max },
        }
    }
}

/// What a [`DomainResolver`] is told about the request it resolves for.
#[derive(Clone, Copy, Debug)]
pub struct ResolverInput<'a> {
    /// The full request URL, when the caller gave it.
    pub request_url: Option<&'a str>,
    /// The request headers, as given by the caller.
    pub headers: &'a [(&'a str, &'a str)],
    /// The token's `iss`, NOT verified yet: use it only to choose among domains you trust.
    pub unverified_issuer: &'a str,
}

/// Chooses, per request, the domains whose tokens are accepted (multiple custom domains).
///
/// Called before any network request, once per verification, only after the token passed the
/// checks that need no network. Each answer is normalised like a configured domain; the
/// token's `iss` must equal one of them exactly.
pub trait DomainResolver: Send + Sync {
    /// The accepted domains for this request.
    ///
    /// # Errors
    /// Any failure rejects the token (the error is kept as the rejection's source).
    fn resolve(&self, input: &ResolverInput<'_>) -> Result<Vec<String>, ResolverError>;
}

/// A resolver's failure, carried as the rejection's source.
#[derive(Debug)]
pub struct ResolverError(pub Box<dyn core::error::Error + Send + Sync>);

impl fmt::Display for ResolverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "domain resolver failed: {}", self.0)
    }
}

impl core::error::Error for ResolverError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Where the expected issuer comes from.
pub(crate) enum IssuerSource {
    Single(Issuer),
    Static(Vec<Issuer>),
    Resolver(Box<dyn DomainResolver>),
    /// The driver resolves the domains of each request (see
    /// [`VerifierConfig::deferred_domain_resolver`]).
    Deferred,
}

impl fmt::Debug for IssuerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssuerSource::Single(i) => f.debug_tuple("Single").field(i).finish(),
            IssuerSource::Static(l) => f.debug_tuple("Static").field(l).finish(),
            IssuerSource::Resolver(_) => f.write_str("Resolver"),
            IssuerSource::Deferred => f.write_str("Deferred"),
        }
    }
}

/// Builds a [`Verifier`]. See SPEC section 1 for each option.
#[derive(Default)]
pub struct VerifierConfig {
    domain: Option<String>,
    domains: Option<Vec<String>>,
    /// [`IssuerSource::Resolver`] or [`IssuerSource::Deferred`], when chosen.
    resolver: Option<IssuerSource>,
    audiences: Vec<String>,
    algorithms: Option<Vec<String>>,
    dpop: DpopOptions,
    cache: CachePolicy,
    limits: Limits,
    key_limits: KeySetLimits,
    required_claims: Vec<String>,
    leeway: Duration,
    provider: Option<&'static dyn CryptoProvider>,
    resource_metadata: Option<String>,
    domain_policy: DomainPolicy,
    require_at_jwt: bool,
}

impl VerifierConfig {
    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires the access-token header `typ` to be `at+jwt` (RFC 9068 section 2.1), for
    /// tenants that issue JWT access tokens of that profile. Off by default: then `JWT`,
    /// `at+jwt` and no `typ` are accepted, and a `typ` naming another kind of JWT
    /// (`dpop+jwt`, `id_token+jwt`, any other `+jwt`) is refused either way (RFC 8725
    /// section 3.11).
    pub fn require_at_jwt(mut self, require: bool) -> Self {
        self.require_at_jwt = require;
        self
    }

    /// The tenant domain, e.g. `example.auth0.com` (normalised to `https://host/`).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// A static allowlist of domains (multiple custom domains); used instead of `domain` for
    /// verification.
    pub fn domains<I, S>(mut self, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.domains = Some(domains.into_iter().map(Into::into).collect());
        self
    }

    /// A resolver called per request (multiple custom domains); used instead of `domain`.
    /// Replaces [`deferred_domain_resolver`](Self::deferred_domain_resolver).
    pub fn domain_resolver(mut self, resolver: impl DomainResolver + 'static) -> Self {
        self.resolver = Some(IssuerSource::Resolver(Box::new(resolver)));
        self
    }

    /// Multiple custom domains resolved per request by the driver, for resolvers that do I/O
    /// of their own (an asynchronous lookup, for example). Start verifications with
    /// [`Verifier::start_verification`]: it returns
    /// [`Started::NeedDomains`](crate::verify::Started::NeedDomains), whose
    /// [`input`](crate::verify::PendingDomains::input) is what a [`DomainResolver`] would be
    /// given and whose [`resolved`](crate::verify::PendingDomains::resolved) takes the answer,
    /// checked exactly as a resolver's. Replaces [`domain_resolver`](Self::domain_resolver).
    pub fn deferred_domain_resolver(mut self) -> Self {
        self.resolver = Some(IssuerSource::Deferred);
        self
    }

    /// The API identifier every token must carry in `aud`. Required (or
    /// [`audiences`](Self::audiences)); replaces any audience set before.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences = alloc::vec![audience.into()];
        self
    }

    /// Several API identifiers: a token is accepted when its `aud` (a string or an array)
    /// contains any of them. Replaces any audience set before; the first is the one
    /// [`Verifier::audience`] reports.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// The accepted algorithms by name. Defaults to `["RS256"]`; duplicates are removed; any
    /// `HS*`, `none` or unknown name is a configuration error. Names are exact JWA names
    /// (`"ES256"`, not `"es256"` or `" ES256"`).
    pub fn algorithms<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.algorithms = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// DPoP mode and proof time window. Defaults to [`DpopOptions::default`].
    pub fn dpop(mut self, dpop: DpopOptions) -> Self {
        self.dpop = dpop;
        self
    }

    /// Cache lifetimes and bounds. Defaults to [`CachePolicy::default`].
    pub fn cache(mut self, cache: CachePolicy) -> Self {
        self.cache = cache;
        self
    }

    /// Token size and nesting limits. Defaults to [`Limits::default`] (16 KiB, depth 32).
    /// The depth must lie in 1..=64 (deeper nesting could exhaust the stack) and the size
    /// must not be 0.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// JWK Set limits. Defaults to [`KeySetLimits::default`].
    pub fn key_set_limits(mut self, limits: KeySetLimits) -> Self {
        self.key_limits = limits;
        self
    }

    /// Claims every token must carry, in addition to `iss`, `aud`, `exp` and `iat`.
    pub fn required_claim(mut self, name: impl Into<String>) -> Self {
        self.required_claims.push(name.into());
        self
    }

    /// Clock skew tolerated on `exp` and `nbf`. Defaults to 0 s; at most [`MAX_WINDOW`].
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The crypto provider. Defaults to [`RUST_CRYPTO`].
    pub fn crypto_provider(mut self, provider: &'static dyn CryptoProvider) -> Self {
        self.provider = Some(provider);
        self
    }

    /// The RFC 9728 metadata URL advertised as `resource_metadata` on every challenge.
    pub fn resource_metadata_url(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// Which hosts a domain may name beyond DNS names. Defaults to [`DomainPolicy::STRICT`]:
    /// IP literals and `localhost` are refused (allow them for local tenants and tests).
    pub fn domain_policy(mut self, policy: DomainPolicy) -> Self {
        self.domain_policy = policy;
        self
    }

    /// Validates the configuration.
    ///
    /// With a static list of [`domains`](Self::domains) longer than
    /// [`CachePolicy::max_entries`], the caches are sized to hold one entry per domain, so
    /// tokens cycling through the domains never evict one another.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] for a missing audience or issuer source,
    /// [`ConfigError::Invalid`] for a domain that does not normalise, an unusable algorithm
    /// list, or an RSA size range outside 2048..=8192 bits; [`ConfigError::Zero`] and
    /// [`ConfigError::TooLarge`] for cache and token limits that would switch a protection
    /// off (see [`CachePolicy::check`] and [`VerifierConfig::limits`]), and for a `leeway`, DPoP
    /// `iat_offset` or `iat_leeway`, or cache `fetch_timeout` above [`MAX_WINDOW`].
    pub fn build(self) -> Result<Verifier, ConfigError> {
        let require_at_jwt = self.require_at_jwt;
        if self.audiences.is_empty() {
            return Err(ConfigError::Missing("audience"));
        }
        if self.audiences.iter().any(|a| a.trim().is_empty()) {
            return Err(ConfigError::Invalid {
                option: "audience",
                reason: "an audience is empty",
            });
        }
        let mut audiences: Vec<String> = Vec::with_capacity(self.audiences.len());
        for audience in self.audiences {
            if !audiences.contains(&audience) {
                audiences.push(audience);
            }
        }
        let invalid_domain = |option| {
            move |_| ConfigError::Invalid {
                option,
                reason: "not a valid https domain",
            }
        };
        let domain = match self.domain {
            Some(d) => Some(
                Issuer::from_domain_with(&d, &self.domain_policy)
                    .map_err(invalid_domain("domain"))?,
            ),
            None => None,
        };
        let source = if let Some(resolver) = self.resolver {
            resolver
        } else if let Some(list) = self.domains {
            if list.is_empty() {
                return Err(ConfigError::Invalid {
                    option: "domains",
                    reason: "empty list",
                });
            }
            let issuers = list
                .iter()
                .map(|d| Issuer::from_domain_with(d, &self.domain_policy))
                .collect::<Result<Vec<_>, _>>()
                .map_err(invalid_domain("domains"))?;
            IssuerSource::Static(issuers)
        } else if let Some(domain) = domain.clone() {
            IssuerSource::Single(domain)
        } else {
            return Err(ConfigError::Missing("domain"));
        };
        let algorithms = match self.algorithms {
            None => alloc::vec![Algorithm::RS256],
            Some(names) => parse_algorithms(&names)?,
        };
        let bits = &self.key_limits.rsa_modulus_bits;
        if *bits.start() < 2048
            || *bits.end() > crate::jose::key::MAX_RSA_MODULUS_BITS
            || bits.is_empty()
        {
            return Err(ConfigError::Invalid {
                option: "key_set_limits",
                reason: "rsa sizes must lie in 2048..=8192",
            });
        }
        self.cache.check()?;
        check_window("cache.fetch_timeout", self.cache.fetch_timeout)?;
        check_limits(&self.limits)?;
        check_window("leeway", self.leeway)?;
        check_window("dpop.iat_offset", self.dpop.iat_offset)?;
        check_window("dpop.iat_leeway", self.dpop.iat_leeway)?;
        let mut cache = self.cache;
        if let IssuerSource::Static(list) = &source {
            cache.max_entries = cache.max_entries.max(list.len());
        }
        Ok(Verifier {
            domain,
            source,
            audiences,
            algorithms,
            dpop: self.dpop,
            cache,
            limits: self.limits,
            key_limits: self.key_limits,
            required_claims: self.required_claims,
            leeway: self.leeway,
            provider: self.provider.unwrap_or(&RUST_CRYPTO),
            resource_metadata: self.resource_metadata,
            domain_policy: self.domain_policy,
            require_at_jwt,
        })
    }
}

/// The longest clock leeway, DPoP `iat` window bound or fetch timeout accepted: one hour.
/// Longer values would make expired tokens or old proofs acceptable indefinitely, or let one
/// fetch that is never answered hold back every flow for that long.
pub const MAX_WINDOW: Duration = Duration::from_secs(3600);

/// Refuses `value` above [`MAX_WINDOW`].
fn check_window(option: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value > MAX_WINDOW {
        return Err(ConfigError::TooLarge {
            option,
            max: MAX_WINDOW.as_secs() as usize,
        });
    }
    Ok(())
}

/// Checks token limits: a JSON depth in 1..=[`MAX_DEPTH`](crate::jose::json::MAX_DEPTH)
/// (a deeper limit would let a small token exhaust the stack) and a non-zero token size.
///
/// # Errors
/// [`ConfigError::Zero`] for a zero depth or size, [`ConfigError::TooLarge`] for a deeper
/// limit.
pub(crate) fn check_limits(limits: &Limits) -> Result<(), ConfigError> {
    use crate::jose::json::MAX_DEPTH;
    if limits.max_json_depth == 0 {
        return Err(ConfigError::Zero("limits.max_json_depth"));
    }
    if limits.max_json_depth > MAX_DEPTH {
        return Err(ConfigError::TooLarge {
            option: "limits.max_json_depth",
            max: MAX_DEPTH,
        });
    }
    if limits.max_token_len == 0 {
        return Err(ConfigError::Zero("limits.max_token_len"));
    }
    Ok(())
}

/// Parses an algorithm list: non-empty, asymmetric only, duplicates removed, order kept.
///
/// # Errors
/// [`ConfigError::Invalid`] for an empty list or a name that is `HS*`, `none` or unknown.
pub(crate) fn parse_algorithms<S: AsRef<str>>(names: &[S]) -> Result<Vec<Algorithm>, ConfigError> {
    let mut out = Vec::new();
    for name in names {
        let alg = Algorithm::from_name(name.as_ref()).map_err(|e| ConfigError::Invalid {
            option: "algorithms",
            reason: match e {
                JoseError::SymmetricAlgorithm => "symmetric algorithms are not allowed",
                JoseError::UnsecuredAlgorithm => "none is not allowed",
                _ => "unsupported algorithm",
            },
        })?;
        if !out.contains(&alg) {
            out.push(alg);
        }
    }
    if out.is_empty() {
        return Err(ConfigError::Invalid {
            option: "algorithms",
            reason: "empty list",
        });
    }
    Ok(out)
}

/// A validated configuration: verifies access tokens (see [`Verifier::verify_access_token`]).
#[derive(Debug)]
pub struct Verifier {
    pub(crate) domain: Option<Issuer>,
    pub(crate) source: IssuerSource,
    /// Never empty (checked when built).
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) dpop: DpopOptions,
    pub(crate) cache: CachePolicy,
    pub(crate) limits: Limits,
    pub(crate) key_limits: KeySetLimits,
    pub(crate) required_claims: Vec<String>,
    pub(crate) leeway: Duration,
    pub(crate) provider: &'static dyn CryptoProvider,
    pub(crate) resource_metadata: Option<String>,
    pub(crate) domain_policy: DomainPolicy,
    pub(crate) require_at_jwt: bool,
}

impl Verifier {
    /// Empty caches with this verifier's policy.
    pub fn new_caches(&self) -> Caches {
        Caches::new(self.cache)
    }

    /// The tenant issuer (`https://host/`) when `domain` was configured.
    pub fn domain(&self) -> Option<&Issuer> {
        self.domain.as_ref()
    }

    /// The (first) audience.
    pub fn audience(&self) -> &str {
        self.audiences.first().map_or("", String::as_str)
    }

    /// Every accepted audience, in the order configured.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The accepted algorithms.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The DPoP options.
    pub fn dpop(&self) -> &DpopOptions {
        &self.dpop
    }

    /// The cache policy.
    pub fn cache_policy(&self) -> &CachePolicy {
        &self.cache
    }

    /// The crypto provider.
    pub fn crypto_provider(&self) -> &'static dyn CryptoProvider {
        self.provider
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;
    use alloc::vec;

    use super::*;

    fn config() -> VerifierConfig {
        VerifierConfig::new()
            .domain("tenant.example")
            .audience("api://orders")
    }

    /// Item 11: values that would switch the cache protections off, or let a token overflow
    /// the stack, are configuration errors.
    #[test]
    fn limits_that_disable_protections_are_refused() {
        let cache = |policy: CachePolicy| config().cache(policy).build().map(|_| ());
        let limits = |limits: Limits| config().limits(limits).build().map(|_| ());
        let cases: Vec<(&str, Result<(), ConfigError>, ConfigError)> = vec![
            (
                "no cache entries",
                cache(CachePolicy {
                    max_entries: 0,
                    ..CachePolicy::default()
                }),
                ConfigError::Zero("cache.max_entries"),
            ),
            (
                "no cooldown",
                cache(CachePolicy {
                    refetch_cooldown: Duration::ZERO,
                    ..CachePolicy::default()
                }),
                ConfigError::Zero("cache.refetch_cooldown"),
            ),
            (
                "no in-flight mark",
                cache(CachePolicy {
                    fetch_timeout: Duration::ZERO,
                    ..CachePolicy::default()
                }),
                ConfigError::Zero("cache.fetch_timeout"),
            ),
            (
                "depth that overflows the stack",
                limits(Limits {
                    max_json_depth: 100_000,
                    ..Limits::default()
                }),
                ConfigError::TooLarge {
                    option: "limits.max_json_depth",
                    max: crate::jose::json::MAX_DEPTH,
                },
            ),
            (
                "depth just above the cap",
                limits(Limits {
                    max_json_depth: crate::jose::json::MAX_DEPTH + 1,
                    ..Limits::default()
                }),
                ConfigError::TooLarge {
                    option: "limits.max_json_depth",
                    max: crate::jose::json::MAX_DEPTH,
                },
            ),
            (
                "zero depth",
                limits(Limits {
                    max_json_depth: 0,
                    ..Limits::default()
                }),
                ConfigError::Zero("limits.max_json_depth"),
            ),
            (
                "zero token size",
                limits(Limits {
                    max_token_len: 0,
                    ..Limits::default()
                }),
                ConfigError::Zero("limits.max_token_len"),
            ),
            (
                "leeway that never expires a token",
                config().leeway(Duration::MAX).build().map(|_| ()),
                ConfigError::TooLarge {
                    option: "leeway",
                    max: 3600,
                },
            ),
            (
                "dpop proofs valid for a day",
                config()
                    .dpop(DpopOptions {
                        iat_offset: Duration::from_secs(86_400),
                        ..DpopOptions::default()
                    })
                    .build()
                    .map(|_| ()),
                ConfigError::TooLarge {
                    option: "dpop.iat_offset",
                    max: 3600,
                },
            ),
            (
                "dpop proofs from the far future",
                config()
                    .dpop(DpopOptions {
                        iat_leeway: Duration::from_secs(3601),
                        ..DpopOptions::default()
                    })
                    .build()
                    .map(|_| ()),
                ConfigError::TooLarge {
                    option: "dpop.iat_leeway",
                    max: 3600,
                },
            ),
            (
                "in-flight mark that never ends",
                cache(CachePolicy {
                    fetch_timeout: Duration::MAX,
                    ..CachePolicy::default()
                }),
                ConfigError::TooLarge {
                    option: "cache.fetch_timeout",
                    max: 3600,
                },
            ),
        ];
        for (name, got, expected) in cases {
            assert_eq!(got, Err(expected.clone()), "{name}");
            assert_eq!(expected.code(), "invalid_configuration_error", "{name}");
            let text = expected.to_string();
            assert!(text.starts_with("invalid option "), "{text}");
        }
        // The limits themselves, TTL 0 and the largest depth are accepted.
        let ok = config()
            .cache(CachePolicy {
                ttl: Duration::ZERO,
                max_entries: 1,
                ..CachePolicy::default()
            })
            .limits(Limits {
                max_json_depth: crate::jose::json::MAX_DEPTH,
                max_token_len: 1,
            })
            .leeway(MAX_WINDOW)
            .dpop(DpopOptions {
                iat_offset: MAX_WINDOW,
                iat_leeway: MAX_WINDOW,
                ..DpopOptions::default()
            })
            .build();
        assert!(ok.is_ok(), "{ok:?}");
    }

    /// Item 9: the caches hold at least one entry per static domain.
    #[test]
    fn caches_are_sized_to_the_static_domains() {
        let hosts = ["a.example", "b.example", "c.example"];
        let small = CachePolicy {
            max_entries: 2,
            ..CachePolicy::default()
        };
        let v = config().domains(hosts).cache(small).build().unwrap();
        assert_eq!(v.cache_policy().max_entries, 3);
        // A larger setting is kept; a single domain changes nothing.
        let v = config().domains(hosts).build().unwrap();
        assert_eq!(v.cache_policy().max_entries, 100);
        let v = config().cache(small).build().unwrap();
        assert_eq!(v.cache_policy().max_entries, 2);
    }
}
