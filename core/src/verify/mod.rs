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
use crate::cache::jwks::{self, KeyLookup};
use crate::cache::{Caches, DiscoveryStep, ReplayCache};
use crate::claims::{ClaimError, ClaimRules, Claims};
use crate::config::{DomainResolver, IssuerSource, ResolverInput, Verifier};
use crate::discovery::{self, check_json_response};
use crate::domain::{DomainPolicy, Issuer};
use crate::flow::{Action, FetchKey};
use crate::http::{HttpOutcome, HttpRequest};
use crate::jose::JoseError;
use crate::jose::compact::CompactJws;
use crate::jose::jwk::{Jwk, JwkSet};
use crate::time::UnixTime;

impl Verifier {
    /// Starts verifying `token`. Every check SPEC section 2 can decide without the network
    /// runs here: scheme rules, token shape, `alg` (never `none` or `HS*`, and in the allowed
    /// list), and with multiple custom domains the issuer allowlist or resolver.
    ///
    /// # Errors
    /// A [`VerifyError`] naming the failed check, with its `WWW-Authenticate` values.
    pub fn verify_access_token<'a>(
        &'a self,
        token: &'a str,
        ctx: &RequestContext<'a>,
    ) -> Result<VerifyAccessToken<'a>, VerifyError> {
        let mode = self.dpop.mode;
        let fail = |reason: Reason, dpop_scheme: bool| {
            VerifyError::new(reason, mode, dpop_scheme, self.resource_metadata.as_deref())
        };
        let params = DpopParams {
            proof: ctx.dpop_proof.is_some(),
            method: ctx.http_method.is_some(),
            url: ctx.http_url.is_some(),
            uses_domains: !matches!(self.source, IssuerSource::Single(_)),
        };
        let scheme =
            dpop::check_scheme(mode, ctx.scheme, params).map_err(|e| fail(e.into(), false))?;
        let dpop_scheme = scheme == Scheme::DPoP;
        let fail = |reason: Reason| fail(reason, dpop_scheme);
        if token.is_empty() {
            return Err(fail(Reason::MissingToken));
        }
        let mut jws =
            CompactJws::parse(token, &self.limits).map_err(|e| fail(Reason::Malformed(e)))?;
        let allowed = ctx.algorithms.unwrap_or(&self.algorithms);
        if !allowed.contains(&jws.header().alg) {
            return Err(fail(Reason::AlgorithmNotAllowed));
        }
        let claims = Claims::from_vec(jws.take_payload(), self.limits.max_json_depth)
            .map_err(|e| fail(Reason::MalformedClaims(e)))?;
        let issuer = self.choose_issuer(&claims, ctx).map_err(fail)?;
        Ok(VerifyAccessToken {
            verifier: self,
            token,
            ctx: *ctx,
            jws,
            claims: Some(claims),
            scheme,
            issuer,
            state: State::Start,
        })
    }

    /// SPEC section 2 step 3: with `domains`, `iss` must be one of them exactly.
    fn choose_issuer(
        &self,
        claims: &Claims,
        ctx: &RequestContext<'_>,
    ) -> Result<Cow<'_, Issuer>, Reason> {
        let listed = |list: &[Issuer], iss: &str| {
            list.iter()
                .position(|i| i.as_str() == iss)
                .ok_or(Reason::IssuerNotAllowed)
        };
        match &self.source {
            IssuerSource::Single(issuer) => Ok(Cow::Borrowed(issuer)),
            IssuerSource::Static(list) => {
                let iss = claims.iss().ok().flatten().ok_or(Reason::MissingIssuer)?;
                let found = listed(list, iss)?;
                list.get(found)
                    .map(Cow::Borrowed)
                    .ok_or(Reason::IssuerNotAllowed)
            }
            IssuerSource::Resolver(resolver) => {
                let iss = claims.iss().ok().flatten().ok_or(Reason::MissingIssuer)?;
                let mut list = resolve(resolver.as_ref(), ctx, iss, &self.domain_policy)?;
                let found = listed(&list, iss)?;
                Ok(Cow::Owned(list.swap_remove(found)))
            }
        }
    }
}

fn resolve(
    resolver: &dyn DomainResolver,
    ctx: &RequestContext<'_>,
    iss: &str,
    policy: &DomainPolicy,
) -> Result<Vec<Issuer>, Reason> {
    let input = ResolverInput {
        request_url: ctx.http_url,
        headers: ctx.headers,
        unverified_issuer: iss,
    };
    let domains = resolver
        .resolve(&input)
        .map_err(|_| Reason::ResolverFailed)?;
    if domains.is_empty() {
        return Err(Reason::ResolverFailed);
    }
    domains
        .iter()
        .map(|d| Issuer::from_domain_with(d, policy).map_err(|_| Reason::ResolverFailed))
        .collect()
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
                            caches.begin_jwks(&jwks_uri, now);
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
    /// needs [`poll`](Self::poll) (a fetch, a wait, or the DPoP replay cache).
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
        let KeyLookup::Hit(key) = jwks::lookup(
            caches.jwks(&doc.jwks_uri),
            caches.policy(),
            self.jws.header(),
            now,
        ) else {
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
