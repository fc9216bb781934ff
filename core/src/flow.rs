//! The contract every flow keeps: [`Action`] and [`FetchKey`].

use alloc::string::String;

use crate::http::HttpRequest;

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
    /// The flow is finished with this result; further polls return an error.
    Done(T),
}

/// Names a cache slot being fetched, so a driver can wake the flows waiting for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FetchKey {
    /// The discovery document of this issuer (`https://host[:port]/`).
    Discovery(String),
    /// The JWK Set at this URI.
    Jwks(String),
}
