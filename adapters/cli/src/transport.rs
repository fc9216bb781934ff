//! Where the CLI's requests go: canned fixtures (no I/O at all) or HTTPS through the ureq
//! adapter.

use std::collections::HashMap;
use std::time::Duration;

use auth0_api::cache::{CachePolicy, Caches};
use auth0_api::http::{
    HttpOutcome, HttpRequest, HttpResponse, Method, TransportError, TransportErrorKind,
};
use auth0_api_ureq::{Client, ClientOptions};

/// Sends the core's requests.
pub(crate) enum Transport {
    /// Answers GETs (and POSTs) of known URLs with file contents; anything else is a
    /// transport failure. No network I/O happens.
    Fixtures {
        gets: HashMap<String, Vec<u8>>,
        posts: HashMap<String, Vec<u8>>,
    },
    /// HTTPS through the ureq adapter: redirects off, timeouts, bodies capped at 1 MiB, and
    /// a proxy only when one is given (never from the environment).
    Network(Box<Client>),
}

impl Transport {
    /// A network transport trusting only `ca_pem` when given, the public web PKI otherwise,
    /// through `proxy` when given and directly otherwise: the proxy environment variables
    /// are not read.
    pub(crate) fn network(
        ca_pem: Option<&[u8]>,
        timeout: Duration,
        proxy: Option<String>,
    ) -> Result<Self, String> {
        let options = ClientOptions {
            timeout,
            connect_timeout: timeout.min(Duration::from_secs(5)),
            root_certificates_pem: ca_pem.map(|pem| vec![pem.to_vec()]).unwrap_or_default(),
            proxy,
            ..ClientOptions::default()
        };
        let client = Client::with_caches(Caches::new(CachePolicy::default()), options)
            .map_err(|e| e.to_string())?;
        Ok(Transport::Network(Box::new(client)))
    }

    /// Sends `request` and returns what the core must be told.
    pub(crate) fn send(&self, request: HttpRequest) -> HttpOutcome {
        match self {
            Transport::Fixtures { gets, posts } => {
                let table = match request.method {
                    Method::Get => gets,
                    Method::Post => posts,
                };
                table
                    .get(&request.url)
                    .map(|body| HttpResponse::json(body.clone()))
                    .ok_or_else(|| TransportError::new(TransportErrorKind::Unavailable))
            }
            Transport::Network(client) => client.send(request),
        }
    }
}
