//! The `verify_access_token` flow (SPEC sections 2 to 4).
//!
//! ```text
//!  verify_access_token ──(pre-network checks: scheme, shape, alg, issuer allowlist)──┐
//!                                                                                    │
//!   the key (discovery -> JWKS -> key, through the shared caches) ──> signature, claims, DPoP ──┐
//!                                                                                                │
//!   [external replay check only] CheckReplay ──(first seen / seen before / unavailable)──> Done <─┘
//! ```
//!
//! Finding the key is the cache protocol every flow shares (the crate's key-fetch
//! sub-machine): a cached key, a wait for another flow's fetch, a refusal within the failure
//! cooldown, or a discovery or JWKS request, with one refetch for an unknown `kid`.
//!
//! With an [external replay check](crate::Caches::with_external_replay), a verified DPoP
//! proof stops the flow at [`Action::CheckReplay`] after every other check passed: the
//! driver's store answers through [`VerifyAccessToken::handle_replay`].
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
pub(crate) mod context;
pub mod dpop;
pub(crate) mod error;

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use self::context::RequestContext;
use self::dpop::{Binding, DpopParams, ProofInput, Scheme};
use self::error::{Reason, VerifyError};
use crate::cache::jwks::KeyLookup;
use crate::cache::{
    Caches, FetchError, FetchKey, KeyFetch, ReplayCache, ReplayCheck, ReplayKey, ReplayOutcome,
    Step,
};
use crate::claims::{ClaimError, ClaimRules, Claims};
use crate::config::{IssuerSource, ResolverError, ResolverInput, Verifier};
use crate::domain::Issuer;
use crate::extract::AuthScheme;
use crate::flow::Action;
use crate::http::HttpOutcome;
use crate::jose::JoseError;
use crate::jose::compact::CompactJws;
use crate::jose::jwk::Jwk;
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
            .map_err(|e| self.rejection(e.into(), false))?;
        let dpop_scheme = scheme == Scheme::DPoP;
        let fail = |reason: Reason| self.rejection(reason, dpop_scheme);
        if token.is_empty() {
            return Err(fail(Reason::MissingToken));
        }
        let mut jws =
            CompactJws::parse(token, &self.limits).map_err(|e| fail(Reason::Malformed(e)))?;
        let allowed = ctx.algorithms.unwrap_or(&self.algorithms);
        // `EdDSA` and `Ed25519` (RFC 9864) name one primitive here: either admits both.
        let alg = jws.header().alg.primitive();
        if !allowed.iter().any(|a| a.primitive() == alg) {
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

    /// Checks verified `claims` against a route's `policy`; `scheme` is the scheme the
    /// request used (the refusal goes on its challenge).
    ///
    /// ```
    /// use auth0_api::{AuthScheme, Claims, Policy, VerifierConfig};
    ///
    /// let verifier = VerifierConfig::new()
    ///     .domain("example.auth0.com")
    ///     .audience("https://api.example.com")
    ///     .build()?;
    /// let claims = Claims::from_payload(br#"{"sub":"user|1","scope":"read:orders"}"#, 16)?;
    /// let policy = Policy::new().all_scopes(["read:orders", "write:orders"]);
    /// let err = verifier.authorize(&claims, &policy, AuthScheme::Bearer).unwrap_err();
    /// assert_eq!((err.status(), err.code()), (403, "insufficient_scope"));
    /// assert_eq!(
    ///     err.www_authenticate()[0],
    ///     r#"Bearer realm="api", error="insufficient_scope", error_description="insufficient scope", scope="read:orders write:orders""#,
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A [`VerifyError`] with [`Reason::Forbidden`]: status 403, code `insufficient_scope`.
    pub fn authorize(
        &self,
        claims: &Claims,
        policy: &crate::authorize::Policy,
        scheme: AuthScheme,
    ) -> Result<(), VerifyError> {
        policy
            .check(claims)
            .map_err(|denied| self.rejection(Reason::Forbidden(denied), scheme == AuthScheme::DPoP))
    }

    /// The error this verifier answers for `reason`, with its challenges (the error on the
    /// `scheme` challenge, the configured `resource_metadata`): for framework adapters that
    /// refuse a request before verification starts, such as when extraction fails.
    ///
    /// ```
    /// use auth0_api::extract::{ExtractError, extract_token};
    /// use auth0_api::{AuthScheme, VerifierConfig};
    ///
    /// let verifier = VerifierConfig::new().domain("example.auth0.com").audience("api").build()?;
    /// let headers = [("Authorization", "Bearer a b")];
    /// let err = extract_token(headers, None, None).unwrap_err();
    /// let err = verifier.reject(err.into(), AuthScheme::Bearer);
    /// assert_eq!((err.status(), err.error_code().as_str()), (400, "invalid_request"));
    /// // No credentials at all: 401 and no error code (RFC 6750 section 3.1).
    /// let err = verifier.reject(ExtractError::NotFound.into(), AuthScheme::Bearer);
    /// assert_eq!(err.status(), 401);
    /// assert_eq!(err.www_authenticate()[0], r#"Bearer realm="api""#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reject(&self, reason: Reason, scheme: AuthScheme) -> VerifyError {
        self.rejection(reason, scheme == AuthScheme::DPoP)
    }

    fn rejection(&self, reason: Reason, dpop_scheme: bool) -> VerifyError {
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
// `Ready` is the common case and lives on the caller's stack; boxing it would cost every
// verification an allocation to save a deferred-resolver verification some stack.
#[allow(clippy::large_enum_variant)]
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
        self.parsed.verifier.rejection(reason, dpop_scheme)
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
            token: Token {
                verifier: self.verifier,
                token: self.token,
                ctx: self.ctx,
                jws: self.jws,
                claims: Some(self.claims),
                scheme: self.scheme,
                issuer,
            },
            keys: KeyFetch::new(),
            state: State::Active,
        }
    }
}

/// Whether the flow goes on; where it is in the cache protocol is [`KeyFetch`]'s business.
#[derive(Debug)]
enum State {
    /// Finding the key (the embedded [`KeyFetch`] knows how far it got).
    Active,
    /// Every check passed but the external replay check: waiting for the store's answer
    /// (`None` until [`VerifyAccessToken::handle_replay`] gives it).
    CheckingReplay {
        claims: Claims,
        answer: Option<ReplayOutcome>,
    },
    /// Done.
    Finished,
    /// Failed; every later poll gives this error.
    Failed(VerifyError),
}

/// The token under verification and what it is checked against.
#[derive(Debug)]
struct Token<'a> {
    verifier: &'a Verifier,
    token: &'a str,
    ctx: RequestContext<'a>,
    jws: CompactJws<'a>,
    /// Taken when the checks run.
    claims: Option<Claims>,
    scheme: Scheme,
    /// Borrowed from the configuration unless a resolver chose it.
    issuer: Cow<'a, Issuer>,
}

/// A verification in progress. See the [module docs](self) for its states.
///
/// Drive it with [`poll`](Self::poll) and [`handle_response`](Self::handle_response); one
/// request is outstanding at a time.
#[derive(Debug)]
#[must_use = "a flow does nothing until it is polled"]
pub struct VerifyAccessToken<'a> {
    token: Token<'a>,
    /// The discovery -> JWKS -> key walk through the shared caches.
    keys: KeyFetch,
    state: State,
}

impl<'a> VerifyAccessToken<'a> {
    /// The expected issuer of this token.
    pub fn issuer(&self) -> &Issuer {
        &self.token.issuer
    }

    /// The token header's `alg` (already checked against the allowed list).
    pub fn alg(&self) -> crate::jose::Algorithm {
        self.token.jws.header().alg
    }

    /// The token header's `kid`, as sent (untrusted: escape it before logging it).
    pub fn kid(&self) -> Option<&str> {
        self.token.jws.header().kid.as_deref()
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
        match &self.state {
            State::Failed(e) => return Err(e.clone()),
            State::Finished => return Err(self.fail(Reason::Misuse)),
            State::Active if self.keys.is_outstanding() => return Err(self.fail(Reason::Misuse)),
            State::Active => {}
            State::CheckingReplay { .. } => return self.replay_answered(),
        }
        let issuer = self.token.issuer.as_str();
        if self.keys.needs_discovery() {
            match self.keys.poll_discovery(caches, issuer, now) {
                Ok(Step::Ready(_)) => {}
                Ok(Step::Wait(key)) => return Ok(Action::Wait(key)),
                Ok(Step::Fetch(request)) => return Ok(Action::NeedHttp(request)),
                Err(e) => return Err(self.fail(e.into())),
            }
        }
        let header = self.token.jws.header();
        match self.keys.poll_key(caches, header, now) {
            Ok(Step::Ready(())) => {}
            Ok(Step::Wait(key)) => return Ok(Action::Wait(key)),
            Ok(Step::Fetch(request)) => return Ok(Action::NeedHttp(request)),
            Err(e) => return Err(self.fail(e.into())),
        }
        let external = caches.has_external_replay();
        // One lookup, which also marks the set most recently used.
        let outcome = match self.keys.key(caches, self.token.jws.header(), now) {
            Some((key, replay)) => self.token.finish(key, replay, external, now),
            None => Err(Reason::UnknownKid),
        };
        match outcome {
            Ok(Checked::Done(claims)) => {
                self.state = State::Finished;
                Ok(Action::Done(claims))
            }
            Ok(Checked::Replay(claims, check)) => {
                self.state = State::CheckingReplay {
                    claims,
                    answer: None,
                };
                Ok(Action::CheckReplay(check))
            }
            Err(reason) => Err(self.fail(reason)),
        }
    }

    /// Takes the replay store's answer to the [`Action::CheckReplay`] the last
    /// [`poll`](Self::poll) gave; the next `poll` finishes the flow with it:
    /// [`ReplayOutcome::FirstSeen`] gives the claims, [`ReplayOutcome::SeenBefore`] fails
    /// with [`DpopError::Replayed`](self::dpop::DpopError::Replayed) (as the in-memory cache
    /// does), [`ReplayOutcome::Unavailable`] with [`Reason::ReplayStoreUnavailable`] (503).
    ///
    /// Never fails by itself: an answer nothing asked for (or a second answer) makes the next
    /// `poll` return [`Reason::Misuse`].
    pub fn handle_replay(&mut self, outcome: ReplayOutcome) {
        match &mut self.state {
            State::CheckingReplay { answer, .. } if answer.is_none() => *answer = Some(outcome),
            State::Failed(_) => {}
            _ => {
                self.fail(Reason::Misuse);
            }
        }
    }

    /// The end of a flow stopped at the external replay check.
    fn replay_answered(&mut self) -> Result<Action<Claims>, VerifyError> {
        let (claims, answer) = match core::mem::replace(&mut self.state, State::Finished) {
            State::CheckingReplay {
                claims,
                answer: Some(answer),
            } => (claims, answer),
            // Polled again without an answer.
            _ => return Err(self.fail(Reason::Misuse)),
        };
        match answer {
            ReplayOutcome::FirstSeen => Ok(Action::Done(claims)),
            ReplayOutcome::SeenBefore => Err(self.fail(Reason::Dpop(dpop::DpopError::Replayed))),
            ReplayOutcome::Unavailable => Err(self.fail(Reason::ReplayStoreUnavailable)),
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
        // The replay cache needs exclusive access; an external check, the driver's store.
        let token = &mut self.token;
        let proof_to_check = token.ctx.dpop_proof.is_some() || token.scheme == Scheme::DPoP;
        let replay_step = caches.has_replay_cache() || caches.has_external_replay();
        if !matches!(self.state, State::Active)
            || !self.keys.needs_discovery()
            || (proof_to_check && replay_step)
        {
            return None;
        }
        let doc = caches.fresh_discovery(token.issuer.as_str(), now)?;
        let KeyLookup::Hit(key) = caches.key(&doc.jwks_uri, token.jws.header(), now) else {
            return None;
        };
        Some(match token.finish(key, None, false, now) {
            Ok(Checked::Done(claims)) => {
                self.state = State::Finished;
                Ok(claims)
            }
            // Not reached: no replay step is due on this path (checked above).
            Ok(Checked::Replay(..)) => Err(self.fail(Reason::Misuse)),
            Err(reason) => Err(self.fail(reason)),
        })
    }

    /// Takes the outcome of the request the last [`poll`](Self::poll) asked for.
    ///
    /// Never fails by itself: a bad response, or a response with nothing outstanding, makes
    /// the next `poll` return the error.
    pub fn handle_response(&mut self, caches: &mut Caches, outcome: HttpOutcome, now: UnixTime) {
        if !matches!(self.state, State::Active) {
            if !matches!(self.state, State::Failed(_)) {
                self.fail(Reason::Misuse);
            }
            return;
        }
        let verifier = self.token.verifier;
        let keys = (verifier.provider, &verifier.key_limits);
        let issuer = self.token.issuer.as_str();
        if let Err(e) = self
            .keys
            .handle_response(caches, &outcome, issuer, keys, now)
        {
            self.fail(e.into());
        }
    }

    /// The cache slot the outstanding request fills, if any (see [`Flow::fetching`]).
    ///
    /// [`Flow::fetching`]: crate::flow::Flow::fetching
    pub fn fetching(&self) -> Option<FetchKey> {
        self.keys.fetching(self.token.issuer.as_str())
    }

    /// Gives up the outstanding request, clearing its in-flight mark without recording a
    /// failure (see [`Flow::abandon`]). The flow fails with [`Reason::Misuse`] afterwards.
    ///
    /// [`Flow::abandon`]: crate::flow::Flow::abandon
    pub fn abandon(&mut self, caches: &mut Caches) {
        self.keys.abandon(caches, self.token.issuer.as_str());
        if matches!(self.state, State::Active | State::CheckingReplay { .. }) {
            self.fail(Reason::Misuse);
        }
    }

    fn fail(&mut self, reason: Reason) -> VerifyError {
        let error = match &self.state {
            State::Failed(e) => e.clone(),
            _ => self.token.error(reason),
        };
        self.state = State::Failed(error.clone());
        error
    }
}

impl From<FetchError> for Reason {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::Discovery(e) => Reason::DiscoveryFailed(e),
            FetchError::Jwks(e) => Reason::JwksFetchFailed(e),
            FetchError::InvalidJwks(e) => Reason::InvalidJwks(e),
            FetchError::UnknownKid => Reason::UnknownKid,
            FetchError::Unusable(e) => Reason::KeyMismatch(e),
            FetchError::Misuse => Reason::Misuse,
        }
    }
}

/// What the checks of a token with its key established.
enum Checked {
    /// Every check passed.
    Done(Claims),
    /// Every check passed but the external replay check of the DPoP proof.
    Replay(Claims, ReplayCheck),
}

impl Token<'_> {
    /// SPEC section 2 steps 6 to 8, with the key chosen. With `external_replay`, a verified
    /// DPoP proof is not checked for replay here (`replay` is then `None`): its key and
    /// window are handed back for the driver's store.
    fn finish(
        &mut self,
        key: &Jwk,
        replay: Option<&mut ReplayCache>,
        external_replay: bool,
        now: UnixTime,
    ) -> Result<Checked, Reason> {
        self.jws.verify(key).map_err(|e| match e {
            JoseError::InvalidSignature => Reason::InvalidSignature,
            other => Reason::KeyMismatch(other),
        })?;
        let claims = self.claims.take().ok_or(Reason::Misuse)?;
        let verifier = self.verifier;
        let (audience, others) = verifier
            .audiences
            .split_first()
            .map_or(("", &[][..]), |(first, rest)| (first.as_str(), rest));
        let rules = ClaimRules::new(self.issuer.as_str(), audience)
            .with_other_audiences(others)
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
            let proof = dpop::verify_proof(&input, replay)?;
            if external_replay {
                // Remembered as long as the in-memory cache would: the proof's whole window.
                let window = dpop.iat_offset.saturating_add(dpop.iat_leeway);
                let check = ReplayCheck::new(
                    ReplayKey::new(&proof.jkt, &proof.jti),
                    now.saturating_add(window),
                );
                return Ok(Checked::Replay(claims, check));
            }
        }
        Ok(Checked::Done(claims))
    }

    fn error(&self, reason: Reason) -> VerifyError {
        VerifyError::new(
            reason,
            self.verifier.dpop.mode,
            self.scheme == Scheme::DPoP,
            self.verifier.resource_metadata.as_deref(),
        )
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

    fn fetching(&self) -> Option<FetchKey> {
        VerifyAccessToken::fetching(self)
    }

    fn handle_replay(&mut self, outcome: ReplayOutcome) {
        VerifyAccessToken::handle_replay(self, outcome);
    }

    fn abandon(&mut self, caches: &mut Caches) {
        VerifyAccessToken::abandon(self, caches);
    }
}
