//! The contract every flow keeps: [`Action`] and [`FetchKey`].

use crate::cache::{ReplayCheck, ReplayOutcome};
use crate::http::HttpRequest;

pub(crate) use crate::cache::FetchKey;

/// What a flow needs from its driver next.
///
/// Returned by a flow's `poll`. The driver MUST act on it before polling again.
#[must_use = "an Action says what the driver owes the flow next"]
#[derive(Debug)]
pub enum Action<T> {
    /// The driver MUST send exactly this request once and feed the outcome (the response,
    /// or the transport failure) to the flow's `handle_response` before the next `poll`.
    NeedHttp(HttpRequest),
    /// Another flow is fetching this resource into the shared caches. The driver SHOULD wait
    /// until that fetch completes (or a short while) and then `poll` again; it MUST NOT send
    /// a request for it.
    Wait(FetchKey),
    /// Only with an [external replay check](crate::Caches::with_external_replay): the DPoP
    /// proof passed every other check, and its key must now be checked and inserted in the
    /// shared replay store (atomically), to be remembered through
    /// [`ReplayCheck::until`]. The driver MUST hand the store's answer to
    /// [`Flow::handle_replay`] before the next `poll`; a driver without a store answers
    /// [`ReplayOutcome::Unavailable`].
    CheckReplay(ReplayCheck),
    /// The flow is finished with this result; further polls return an error.
    Done(T),
}

/// What every flow offers its driver, so one drive loop serves them all.
///
/// ```
/// use auth0_api::Caches;
/// use auth0_api::{Action, Flow, ReplayOutcome};
/// use auth0_api::{HttpOutcome, HttpRequest};
/// use auth0_api::UnixTime;
///
/// fn drive<F: Flow>(
///     flow: &mut F,
///     caches: &mut Caches,
///     send: impl Fn(HttpRequest) -> HttpOutcome,
///     now: impl Fn() -> UnixTime,
/// ) -> Result<F::Output, F::Error> {
///     loop {
///         match flow.poll(caches, now())? {
///             Action::NeedHttp(request) => {
///                 let outcome = send(request);
///                 flow.handle_response(caches, outcome, now());
///             }
///             Action::Wait(_) => { /* wait for the other fetch, then poll again */ }
///             // No store here: refuse rather than accept a proof that may be replayed.
///             Action::CheckReplay(_) => flow.handle_replay(ReplayOutcome::Unavailable),
///             Action::Done(output) => return Ok(output),
///         }
///     }
/// }
/// ```
pub trait Flow {
    /// What the flow produces.
    type Output;
    /// Why it fails.
    type Error;

    /// The next action. See the flow's own `poll`.
    ///
    /// # Errors
    /// The flow's sticky error.
    fn poll(
        &mut self,
        caches: &mut crate::cache::Caches,
        now: crate::time::UnixTime,
    ) -> Result<Action<Self::Output>, Self::Error>;

    /// Takes the outcome of the request the last `poll` asked for.
    fn handle_response(
        &mut self,
        caches: &mut crate::cache::Caches,
        outcome: crate::http::HttpOutcome,
        now: crate::time::UnixTime,
    );

    /// Takes the replay store's answer to the [`Action::CheckReplay`] the last `poll` gave.
    /// Never fails by itself: an answer nothing asked for makes the next `poll` fail (a
    /// misuse), and the flow's own answer to the outcome comes from that `poll`.
    fn handle_replay(&mut self, outcome: ReplayOutcome);

    /// The cache slot the outstanding request fills (a discovery document or a JWK Set),
    /// if it fills one: a driver wakes the flows waiting for this key once it handed the
    /// response over or abandoned the request. `None` for a token-endpoint request or when
    /// nothing is outstanding.
    fn fetching(&self) -> Option<FetchKey>;

    /// Gives up the outstanding request, for a driver that was cancelled before the
    /// response came (a dropped future): the slot's in-flight mark is cleared at once and
    /// no failure is recorded, so flows waiting for it fetch it themselves instead of
    /// waiting for [`fetch_timeout`](crate::cache::CachePolicy::fetch_timeout). The flow
    /// is finished afterwards.
    fn abandon(&mut self, caches: &mut crate::cache::Caches);
}
