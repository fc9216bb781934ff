//! Where the CLI's requests go: canned fixtures (no I/O at all) or HTTPS through ureq.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use auth0_api::http::{
    HttpOutcome, HttpRequest, HttpResponse, MAX_RESPONSE_BODY, Method, TransportError,
    TransportErrorKind,
};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// Sends the core's requests.
pub(crate) enum Transport {
    /// Answers GETs (and POSTs) of known URLs with file contents; anything else is a
    /// transport failure. No network I/O happens.
    Fixtures {
        gets: HashMap<String, Vec<u8>>,
        posts: HashMap<String, Vec<u8>>,
    },
    /// HTTPS only, redirects off, timeouts, bodies capped at 1 MiB.
    Network(ureq::Agent),
}

impl Transport {
    /// A network transport trusting `ca_pem` (in addition to nothing else) when given, the
    /// public web PKI otherwise.
    pub(crate) fn network(ca_pem: Option<&[u8]>, timeout: Duration) -> Result<Self, String> {
        let mut tls = TlsConfig::builder();
        if let Some(pem) = ca_pem {
            let cert = Certificate::from_pem(pem)
                .map_err(|e| format!("cannot read the CA certificate: {e}"))?
                .to_owned();
            tls = tls.root_certs(RootCerts::Specific(Arc::new(vec![cert])));
        }
        let agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .https_only(true)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(timeout.min(Duration::from_secs(5))))
            .timeout_global(Some(timeout))
            .build()
            .new_agent();
        Ok(Transport::Network(agent))
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
            Transport::Network(agent) => send_network(agent, request),
        }
    }
}

fn send_network(agent: &ureq::Agent, request: HttpRequest) -> HttpOutcome {
    let request: ureq::http::Request<Vec<u8>> = request.into();
    let mut response = agent.run(request).map_err(transport_error)?;
    let status = response.status().as_u16();
    if (300..400).contains(&status) {
        return Err(TransportError::new(TransportErrorKind::Redirect));
    }
    let headers = response
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BODY as u64 + 1)
        .read_to_vec()
        .map_err(transport_error)?;
    if body.len() > MAX_RESPONSE_BODY {
        return Err(TransportError::new(TransportErrorKind::BodyTooLarge));
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn transport_error(e: ureq::Error) -> TransportError {
    let kind = match &e {
        ureq::Error::Timeout(_) => TransportErrorKind::Timeout,
        ureq::Error::BodyExceedsLimit(_) => TransportErrorKind::BodyTooLarge,
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            TransportErrorKind::Connect
        }
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => TransportErrorKind::Connect,
        _ => TransportErrorKind::Other,
    };
    TransportError::with_source(kind, e)
}
