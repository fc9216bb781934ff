//! The `verify_access_token` flow (SPEC sections 2 to 4).
//!
//! ```text
//!  verify_access_token ──(pre-network checks: scheme, shape, alg, issuer allowlist)──┐
//!                                                                                    │
//!   Start ──(discovery cached)──> Keys ──(key cached)──> signature, claims, DPoP ──> Done
//!     │                           │  ▲
//!     └─> ExpectDiscovery ────────┘  └── ExpectJwks (cold, stale, or unknown kid after cooldown)
//! ```
//!
//! Methods: [`VerifyAccessToken::poll`] gives the next [`Action`];
//! [`VerifyAccessToken::handle_response`] takes the outcome of the request it asked for;
//! [`VerifyAccessToken::poll_shared`] finishes a warm verification with shared access to the
//! caches. Errors are sticky: once failed, every `poll` returns the same error.
//!
//! Multiple custom domains resolved by the driver (for example with an asynchronous lookup)
//! start with [`Verifier::start_verification`], which stops before the issuer is chosen:
//! [`Started::NeedDomains`] gives the resolver's input and takes its answer.

pub mod challenge;
pub mod context;
pub mod dpop;
pub mod error;

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use self::context::RequestContext;
use self::dpop::{Binding, DpopParams, ProofInput, Scheme};
use self::error::{Reason, VerifyError};
use crate::cache::jwks::KeyLookup;
use crate::cache::{Caches, DiscoveryStep, ReplayCache};
use crate::claims::{ClaimError, ClaimRules, Claims};
use crate::config::{IssuerSource, ResolverError, ResolverInput, Verifier};
use crate::discovery::{self, check_json_response};
use crate::domain::Issuer;
use crate::flow::{Action, FetchKey};
use crate::http::{HttpOutcome, HttpRequest};
use crate::jose::JoseError;
use crate::jose::compact::CompactJws;
use crate::jose::jwk::{Jwk, JwkSet};
use crate::time::UnixTime;

/// Explicit typing (RFC 8725 section 3.11): whether `typ` may head an access token. `typ`
/// is a media type (RFC 7515 section 4.1.9): compared ignoring ASCII case, the
/// `application/` prefix optional. No `typ`, `JWT` and `at+jwt` (RFC 9068) pass, and any
/// other value not naming a `+jwt` kind; `dpop+jwt`, `id_token+jwt`, `logout+jwt` and every
/// other `+jwt` are refused. With `require_at_jwt`, only `at+jwt` passes.
fn is_access_token_typ(typ: Option<&str>, require_at_jwt: bool) -> bool {
    const PREFIX: &str = "application/";
    let Some(typ) = typ else {
        return !require_at_jwt;
    };
    let subtype = match typ.get(..PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(PREFIX) => &typ[PREFIX.len()..],
        _ => typ,
    };
    if subtype.eq_ignore_ascii_case("at+jwt") {
        return true;
    }
    if require_at_jwt {
        return false;
    }
    let plus_jwt = subtype.len() >= 4
        && subtype
            .get(subtype.len() - 4..)
            .is_some_and(|s| s.eq_ignore_ascii_case("+jwt"));
    !plus_jwt
}

impl Verifier {
    /// Starts verifying `token`. Every check SPEC section 2 can decide without the network
    /// runs here: scheme rules, token shape, `alg` (never `none` or `HS*`, and in the allowed
    /// list), and with multiple custom domains the issuer allowlist or resolver.
    ///
    /// With a [deferred resolver](crate::config::VerifierConfig::deferred_domain_resolver)
    /// use [`start_verification`](Self::start_verification) instead: here it is
    /// [`Reason::Misuse`].
    ///
    /// # Errors
    /// A [`VerifyError`] naming the failed check, with its `WWW-Authenticate` values.
    pub fn verify_access_token<'a>(
        &'a self,
        token: &'a str,
        ctx: &RequestContext<'a>,
    ) -> Result<VerifyAccessToken<'a>, VerifyError> {
        match self.start_verification(token, ctx)? {
            Started::Ready(flow) => Ok(flow),
            Started::NeedDomains(pending) => Err(pending.reject(Reason::Misuse)),
        }
    }

    /// Starts verifying `token` like [`verify_access_token`](Self::verify_access_token), and
    /// with a [deferred resolver](crate::config::VerifierConfig::deferred_domain_resolver)
    /// stops before choosing the issuer, to let the driver resolve the request's domains.
    ///
    /// # Errors
    /// As [`verify_access_token`](Self::verify_access_token).
    pub fn start_verification<'a>(
        &'a self,
        token: &'a str,
        ctx: &RequestContext<'a>,
    ) -> Result<Started<'a>, VerifyError> {
        let params = DpopParams {
            proof: ctx.dpop_proof.is_some(),
            method: ctx.http_method.is_some(),
            url: ctx.http_url.is_some(),
            uses_domains: !matches!(self.source, IssuerSource::Single(_)),
        };
        let scheme = dpop::check_scheme(self.dpop.mode, ctx.scheme, params)
            .map_err(|e| self.reject(e.into(), false))?;
        let dpop_scheme = scheme == Scheme::DPoP;
        let fail = |reason: Reason| self.reject(reason, dpop_scheme);
        if token.is_empty() {
            return Err(fail(Reason::MissingToken));
        }
        let mut jws =
            CompactJws::parse(token, &self.limits).map_err(|e| fail(Reason::Malformed(e)))?;
        let allowed = ctx.algorithms.unwrap_or(&self.algorithms);
        if !allowed.contains(&jws.header().alg) {
            return Err(fail(Reason::AlgorithmNotAllowed));
        }
        if !is_access_token_typ(jws.header().typ.as_deref(), self.require_at_jwt) {
            return Err(fail(Reason::TokenType));
        }
        let claims = Claims::from_vec(jws.take_payload(), self.limits.max_json_depth)
            .map_err(|e| fail(Reason::MalformedClaims(e)))?;
        let parsed = Parsed {
            verifier: self,
            token,
            ctx: *ctx,
            jws,
            claims,
            scheme,
        };
        // SPEC section 2 step 3: with `domains`, `iss` must be one of them exactly.
        let issuer = match &self.source {
            IssuerSource::Single(issuer) => Cow::Borrowed(issuer),
            IssuerSource::Static(list) => {
                let found = parsed.iss().and_then(|iss| {
                    list.iter()
                        .find(|i| i.as_str() == iss)
                        .ok_or(Reason::IssuerNotAllowed)
                });
                match found {
                    Ok(issuer) => Cow::Borrowed(issuer),
                    Err(reason) => return Err(fail(reason)),
                }
            }
            IssuerSource::Resolver(resolver) => {
                let answer = match parsed.iss() {
                    Ok(iss) => resolver.resolve(&parsed.resolver_input(iss)),
                    Err(reason) => return Err(fail(reason)),
                };
                return PendingDomains { parsed }
                    .resolved(answer)
                    .map(Started::Ready);
            }
            IssuerSource::Deferred => {
                if let Err(reason) = parsed.iss() {
                    return Err(fail(reason));
                }
                return Ok(Started::NeedDomains(PendingDomains { parsed }));
            }
        };
        Ok(Started::Ready(parsed.into_flow(issuer)))
    }

    fn reject(&self, reason: Reason, dpop_scheme: bool) -> VerifyError {
        VerifyError::new(
            reason,
            self.dpop.mode,
            dpop_scheme,
            self.resource_metadata.as_deref(),
        )
    }
}

/// What [`Verifier::start_verification`] gives.
#[derive(Debug)]
#[must_use = "a verification does nothing until it is driven"]
pub enum Started<'a> {
    /// The issuer is chosen: drive the flow.
    Ready(VerifyAccessToken<'a>),
    /// The verifier has a deferred resolver: resolve the domains for
    /// [`PendingDomains::input`], then hand the answer to [`PendingDomains::resolved`].
    NeedDomains(PendingDomains<'a>),
}

/// A verification waiting for the driver to resolve the request's domains (multiple custom
/// domains with a [deferred resolver](crate::config::VerifierConfig::deferred_domain_resolver)).
#[derive(Debug)]
#[must_use = "a verification does nothing until it is driven"]
pub struct PendingDomains<'a> {
    parsed: Parsed<'a>,
}

impl<'a> PendingDomains<'a> {
    /// What a [`DomainResolver`](crate::config::DomainResolver) would be given for this
    /// request.
    pub fn input(&self) -> ResolverInput<'_> {
        self.parsed
            .resolver_input(self.parsed.iss().unwrap_or_default())
    }

    /// Takes the resolver's answer, checked as a
    /// [`DomainResolver`](crate::config::DomainResolver)'s: each domain is normalised like a
    /// configured one, and the token's `iss` must equal one exactly.
    ///
    /// # Errors
    /// [`Reason::ResolverFailed`] for a failure (kept as the error's
    /// [`source`](core::error::Error::source)), an empty answer or a value that is not a
    /// domain; [`Reason::IssuerNotAllowed`] when `iss` is not among the domains.
    pub fn resolved(
        self,
        answer: Result<Vec<String>, ResolverError>,
    ) -> Result<VerifyAccessToken<'a>, VerifyError> {
        let domains = match answer {
            Ok(domains) if !domains.is_empty() => domains,
            Ok(_) => return Err(self.reject(Reason::ResolverFailed)),
            Err(e) => return Err(self.reject(Reason::ResolverFailed).with_source(e)),
        };
        let policy = &self.parsed.verifier.domain_policy;
        let mut issuers = Vec::with_capacity(domains.len());
        for domain in &domains {
            match Issuer::from_domain_with(domain, policy) {
                Ok(issuer) => issuers.push(issuer),
                Err(_) => return Err(self.reject(Reason::ResolverFailed)),
            }
        }
        let iss = self.parsed.iss().unwrap_or_default();
        match issuers.iter().position(|i| i.as_str() == iss) {
            Some(found) => Ok(self
                .parsed
                .into_flow(Cow::Owned(issuers.swap_remove(found)))),
            None => Err(self.reject(Reason::IssuerNotAllowed)),
        }
    }

    fn reject(&self, reason: Reason) -> VerifyError {
        let dpop_scheme = self.parsed.scheme == Scheme::DPoP;
        self.parsed.verifier.reject(reason, dpop_scheme)
    }
}

/// A token that passed the checks before the choice of issuer.
#[derive(Debug)]
struct Parsed<'a> {
    verifier: &'a Verifier,
    token: &'a str,
    ctx: RequestContext<'a>,
    jws: CompactJws<'a>,
    claims: Claims,
    scheme: Scheme,
}

impl<'a> Parsed<'a> {
    /// The token's `iss`, which multiple custom domains need.
    fn iss(&self) -> Result<&str, Reason> {
        self.claims
            .iss()
            .ok()
            .flatten()
            .ok_or(Reason::MissingIssuer)
    }

    fn resolver_input<'s>(&'s self, iss: &'s str) -> ResolverInput<'s> {
        ResolverInput {
            request_url: self.ctx.http_url,
            headers: self.ctx.headers,
            unverified_issuer: iss,
        }
    }

    fn into_flow(self, issuer: Cow<'a, Issuer>) -> VerifyAccessToken<'a> {
        VerifyAccessToken {
            verifier: self.verifier,
            token: self.token,
            ctx: self.ctx,
            jws: self.jws,
            claims: Some(self.claims),
            scheme: self.scheme,
            issuer,
            state: State::Start,
        }
    }
}

/// Where the flow is: each state holds only what is known then.
#[derive(Debug)]
enum State {
    /// Looking for the issuer's discovery document.
    Start,
    /// Waiting for the discovery response.
    ExpectDiscovery,
    /// Looking for the key; `local` holds a set this flow fetched when caching is off.
    Keys {
        jwks_uri: String,
        local: Option<JwkSet>,
        refetched: bool,
    },
    /// Waiting for the JWKS response.
    ExpectJwks {
        jwks_uri: String,
    },
    /// Done or failed.
    Finished,
    Failed(VerifyError),
}

/// A verification in progress. See the [module docs](self) for its states.
///
/// Drive it with [`poll`](Self::poll) and [`handle_response`](Self::handle_response); one
/// request is outstanding at a time.
#[derive(Debug)]
#[must_use = "a flow does nothing until it is polled"]
pub struct VerifyAccessToken<'a> {
    verifier: &'a Verifier,
    token: &'a str,
    ctx: RequestContext<'a>,
    jws: CompactJws<'a>,
    claims: Option<Claims>,
    scheme: Scheme,
    /// Borrowed from the configuration unless a resolver chose it.
    issuer: Cow<'a, Issuer>,
    state: State,
}

impl<'a> VerifyAccessToken<'a> {
    /// The expected issuer of this token.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// Advances the flow.
    ///
    /// # Errors
    /// The sticky [`VerifyError`] once verification failed; [`Reason::Misuse`] when a
    /// response is outstanding or the flow already finished.
    pub fn poll(
        &mut self,
        caches: &mut Caches,
        now: UnixTime,
    ) -> Result<Action<Claims>, VerifyError> {
        loop {
            match core::mem::replace(&mut self.state, State::Finished) {
                State::Failed(e) => {
                    self.state = State::Failed(e.clone());
                    return Err(e);
                }
                State::Finished | State::ExpectDiscovery | State::ExpectJwks { .. } => {
                    return Err(self.fail(Reason::Misuse));
                }
                State::Start => match caches.discovery_step(self.issuer.as_str(), now) {
                    DiscoveryStep::Fresh(doc) => {
                        let jwks_uri = doc.jwks_uri.clone();
                        self.state = State::Keys {
                            jwks_uri,
                            local: None,
                            refetched: false,
                        };
                    }
                    DiscoveryStep::Wait(key) => {
                        self.state = State::Start;
                        return Ok(Action::Wait(key));
                    }
                    DiscoveryStep::RecentlyFailed => {
                        return Err(self.fail(Reason::DiscoveryFailed(None)));
                    }
                    DiscoveryStep::Fetch(request) => {
                        self.state = State::ExpectDiscovery;
                        return Ok(Action::NeedHttp(request));
                    }
                },
                State::Keys {
                    local: Some(set), ..
                } => {
                    let outcome = match set.select(self.jws.header()) {
                        Ok(key) => self.finish(key, caches.replay_mut(), now),
                        Err(_) => Err(Reason::UnknownKid),
                    };
                    return self.conclude(outcome);
                }
                State::Keys {
                    jwks_uri,
                    local: None,
                    refetched,
                } => {
                    // One lookup, which also marks the set most recently used.
                    let (lookup, replay) = caches.key_and_replay(&jwks_uri, self.jws.header(), now);
                    match lookup {
                        KeyLookup::Hit(key) => {
                            let outcome = self.finish(key, replay, now);
                            return self.conclude(outcome);
                        }
                        KeyLookup::Wait => {
                            let key = FetchKey::Jwks(jwks_uri.clone());
                            self.state = State::Keys {
                                jwks_uri,
                                local: None,
                                refetched,
                            };
                            return Ok(Action::Wait(key));
                        }
                        // One fetch per verification: after a refetch, an unknown kid is final.
                        KeyLookup::Fetch if !refetched => {
                            if !caches.begin_jwks(&jwks_uri, now) {
                                // The cache is full of resources within their cooldown.
                                return Err(self.fail(Reason::JwksFetchFailed(None)));
                            }
                            let request = HttpRequest::get(jwks_uri.clone());
                            self.state = State::ExpectJwks { jwks_uri };
                            return Ok(Action::NeedHttp(request));
                        }
                        KeyLookup::Fetch | KeyLookup::UnknownKey => {
                            return Err(self.fail(Reason::UnknownKid));
                        }
                        KeyLookup::RecentlyFailed => {
                            return Err(self.fail(Reason::JwksFetchFailed(None)));
                        }
                        KeyLookup::Unusable(e) => return Err(self.fail(Reason::KeyMismatch(e))),
                    }
                }
            }
        }
    }

    /// Finishes a warm verification with shared access to the caches: `Some` with the result
    /// when the discovery document and the key are cached and fresh, `None` when the flow
    /// needs [`poll`](Self::poll) (a fetch, a wait, or the DPoP replay cache). A warm hit
    /// counts as a use of the cached document and key set, so busy tenants are evicted last.
    pub fn poll_shared(
        &mut self,
        caches: &Caches,
        now: UnixTime,
    ) -> Option<Result<Claims, VerifyError>> {
        // The replay cache needs exclusive access.
        let proof_to_check = self.ctx.dpop_proof.is_some() || self.scheme == Scheme::DPoP;
        if !matches!(self.state, State::Start) || (proof_to_check && caches.has_replay_cache()) {
            return None;
        }
        let doc = caches.fresh_discovery(self.issuer.as_str(), now)?;
        let KeyLookup::Hit(key) = caches.key(&doc.jwks_uri, self.jws.header(), now) else {
            return None;
        };
        let outcome = self.finish(key, None, now);
        Some(match outcome {
            Ok(claims) => {
                self.state = State::Finished;
                Ok(claims)
            }
            Err(reason) => Err(self.fail(reason)),
        })
    }

    /// Takes the outcome of the request the last [`poll`](Self::poll) asked for.
    ///
    /// Never fails by itself: a bad response, or a response with nothing outstanding, makes
    /// the next `poll` return the error.
    pub fn handle_response(&mut self, caches: &mut Caches, outcome: HttpOutcome, now: UnixTime) {
        match core::mem::replace(&mut self.state, State::Finished) {
            State::ExpectDiscovery => {
                let issuer = self.issuer.as_str();
                let parsed = match &outcome {
                    Ok(response) => discovery::parse_discovery(issuer, response).map_err(Some),
                    Err(_) => Err(None),
                };
                match parsed {
                    Ok(doc) => {
                        let jwks_uri = doc.jwks_uri.clone();
                        caches.finish_discovery(issuer, Some(doc), now);
                        self.state = State::Keys {
                            jwks_uri,
                            local: None,
                            refetched: false,
                        };
                    }
                    Err(e) => {
                        caches.finish_discovery(issuer, None, now);
                        self.state = State::Failed(self.error(Reason::DiscoveryFailed(e)));
                    }
                }
            }
            State::ExpectJwks { jwks_uri } => {
                let parsed = match &outcome {
                    Ok(response) => check_json_response(response)
                        .map_err(|e| Reason::JwksFetchFailed(Some(e)))
                        .and_then(|body| {
                            JwkSet::parse_with(
                                body,
                                self.verifier.provider,
                                &self.verifier.key_limits,
                            )
                            .map_err(Reason::InvalidJwks)
                        }),
                    Err(_) => Err(Reason::JwksFetchFailed(None)),
                };
                match parsed {
                    Ok(set) => {
                        let local = caches.finish_jwks(&jwks_uri, Some(set), now);
                        self.state = State::Keys {
                            jwks_uri,
                            local,
                            refetched: true,
                        };
                    }
                    Err(reason) => {
                        caches.finish_jwks(&jwks_uri, None, now);
                        self.state = State::Failed(self.error(reason));
                    }
                }
            }
            State::Failed(e) => self.state = State::Failed(e),
            _ => self.state = State::Failed(self.error(Reason::Misuse)),
        }
    }

    fn conclude(&mut self, outcome: Result<Claims, Reason>) -> Result<Action<Claims>, VerifyError> {
        match outcome {
            Ok(claims) => {
                self.state = State::Finished;
                Ok(Action::Done(claims))
            }
            Err(reason) => Err(self.fail(reason)),
        }
    }

    /// SPEC section 2 steps 6 to 8, with the key chosen.
    fn finish(
        &mut self,
        key: &Jwk,
        replay: Option<&mut ReplayCache>,
        now: UnixTime,
    ) -> Result<Claims, Reason> {
        self.jws.verify(key).map_err(|e| match e {
            JoseError::InvalidSignature => Reason::InvalidSignature,
            other => Reason::KeyMismatch(other),
        })?;
        let claims = self.claims.take().ok_or(Reason::Misuse)?;
        let verifier = self.verifier;
        let rules = ClaimRules::new(self.issuer.as_str(), &verifier.audience)
            .with_required(&verifier.required_claims)
            .with_leeway(verifier.leeway);
        claims.validate(&rules, now).map_err(Reason::Claims)?;
        if let Some(name) = claims.first_missing(self.ctx.required_claims) {
            return Err(Reason::Claims(ClaimError::Missing(name.clone())));
        }
        let dpop = &verifier.dpop;
        let has_proof = self.ctx.dpop_proof.is_some();
        let cnf = claims.get("cnf");
        let binding = dpop::check_binding(dpop.mode, self.scheme, has_proof, cnf.as_ref())?;
        if let Binding::Proof { jkt } = binding {
            // RFC 9449 section 4.3 and section 7.1: the proof, bound to this token and key.
            let input = ProofInput {
                proof: self.ctx.dpop_proof,
                access_token: self.token,
                jkt,
                method: self.ctx.http_method,
                url: self.ctx.http_url,
                now,
                iat_offset: dpop.iat_offset,
                iat_leeway: dpop.iat_leeway,
                limits: verifier.limits,
                provider: verifier.provider,
            };
            dpop::verify_proof(&input, replay)?;
        }
        Ok(claims)
    }

    fn error(&self, reason: Reason) -> VerifyError {
        VerifyError::new(
            reason,
            self.verifier.dpop.mode,
            self.scheme == Scheme::DPoP,
            self.verifier.resource_metadata.as_deref(),
        )
    }

    fn fail(&mut self, reason: Reason) -> VerifyError {
        let error = match &self.state {
            State::Failed(e) => e.clone(),
            _ => self.error(reason),
        };
        self.state = State::Failed(error.clone());
        error
    }
}

#[cfg(test)]
mod tests;

impl crate::flow::Flow for VerifyAccessToken<'_> {
    type Output = Claims;
    type Error = VerifyError;

    fn poll(&mut self, caches: &mut Caches, now: UnixTime) -> Result<Action<Claims>, VerifyError> {
        VerifyAccessToken::poll(self, caches, now)
    }

    fn handle_response(&mut self, caches: &mut Caches, outcome: HttpOutcome, now: UnixTime) {
        VerifyAccessToken::handle_response(self, caches, outcome, now);
    }
}
