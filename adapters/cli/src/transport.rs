//! Where the CLI's requests go: canned fixtures (no I/O at all) or HTTPS through the ureq
//! transport. Either way the flows run on the blocking driver (`auth0_api_driver::Driver`).

use std::time::Duration;

use auth0_api::{HttpOutcome, HttpRequest};
use auth0_api_driver::FixtureTransport;
use auth0_api_ureq::{ClientOptions, UreqTransport};

/// Sends the core's requests.
pub(crate) enum Transport {
    /// Answers GETs (and POSTs) of known URLs with file contents; anything else is a
    /// transport failure. No network I/O happens.
    Fixtures(FixtureTransport),
    /// HTTPS through the ureq transport: redirects off, timeouts, bodies capped at 1 MiB, and
    /// a proxy only when one is given (never from the environment).
    Network(Box<UreqTransport>),
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
        let transport = UreqTransport::new(&options).map_err(|e| e.to_string())?;
        Ok(Transport::Network(Box::new(transport)))
    }
}

impl auth0_api_driver::Transport for Transport {
    fn send(&self, request: HttpRequest) -> HttpOutcome {
        match self {
            Transport::Fixtures(fixtures) => auth0_api_driver::Transport::send(fixtures, request),
            Transport::Network(transport) => transport.send(request),
        }
    }
}
