//! [`HttpsTransport`]: HTTPS over an `embedded-nal-async` stack, TLS 1.3 by `embedded-tls`,
//! HTTP/1.1 framing by `reqwless`.
//!
//! One connection per request (`connection: close`): verification fetches two small
//! documents and then serves from the caches, so keeping connections open buys little and
//! would pin the TLS buffers.
//!
//! # Trust
//!
//! The application decides which servers to trust, through the [`TlsVerifier`] inside the
//! [`CryptoProvider`] it passes (see [`Verified`]) and the trust anchor given to
//! [`HttpsTransport::with_trust_anchor`]. `embedded-tls` offers two verifiers:
//!
//! - `embedded_tls::webpki::CertVerifier` (feature `webpki`): path to the trust anchor, key
//!   usage, validity period against the verifier's `TlsClock`, and the URL's host against the
//!   certificate's subject alternative names (DNS names and IP addresses). Its clock must
//!   tell the time: without one every certificate is out of its validity period.
//! - `embedded_tls::pki::CertVerifier` (always built): signatures up to the anchor and the
//!   host against the leaf's *common name* only; subject alternative names are not read.
//!
//! A provider without a verifier would make `embedded-tls` skip certificate checks
//! silently; [`HttpsTransport`] refuses to connect with one ([`HttpsError::NoVerifier`]).
//!
//! # Limits
//!
//! TLS 1.3 only, cipher suite `TLS_AES_128_GCM_SHA256`, key exchange on `secp256r1`: the
//! suite and group every TLS 1.3 server must support (RFC 8446 section 9.1). Server
//! certificates signed with ECDSA P-256/P-384 or Ed25519 verify out of the box; an RSA
//! server needs `embedded-tls`'s `alloc` feature (which offers RSA signature schemes) and,
//! for the `pki` verifier, its `rsa` feature.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, SocketAddr};

use auth0_api::http::{
    HttpOutcome, HttpRequest, HttpResponse, MAX_RESPONSE_BODY, Method, TransportError,
    TransportErrorKind,
};
use embedded_io::Error as _;
use embedded_io_async::{Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use embedded_tls::{
    Aes128GcmSha256, Certificate, CryptoProvider, CryptoRngCore, TlsConfig, TlsConnection,
    TlsContext, TlsError, TlsVerifier,
};
use reqwless::request::{Request, RequestBuilder};
use reqwless::response::Response;

use crate::Transport;

/// Why an HTTPS exchange failed: the source of the [`TransportError`] the transport returns.
#[derive(Debug)]
#[non_exhaustive]
pub enum HttpsError {
    /// The URL is not an absolute `https` URL this transport can reach.
    UnsupportedUrl,
    /// Name resolution failed.
    Dns,
    /// Connecting, reading or writing failed at the TCP level.
    Io(embedded_io::ErrorKind),
    /// The TLS handshake or record layer failed (certificate rejected, alert, bad record).
    Tls(TlsError),
    /// The crypto provider has no certificate verifier; connecting would trust any server.
    NoVerifier,
    /// The HTTP response could not be read (bad framing, headers larger than the buffer).
    Http(reqwless::Error),
}

impl fmt::Display for HttpsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpsError::UnsupportedUrl => f.write_str("not an https url"),
            HttpsError::Dns => f.write_str("name resolution failed"),
            HttpsError::Io(kind) => write!(f, "network i/o failed: {kind:?}"),
            HttpsError::Tls(e) => write!(f, "tls failed: {e:?}"),
            HttpsError::NoVerifier => f.write_str("no certificate verifier configured"),
            HttpsError::Http(e) => write!(f, "http response unreadable: {e:?}"),
        }
    }
}

impl core::error::Error for HttpsError {}

fn fail(kind: TransportErrorKind, error: HttpsError) -> TransportError {
    TransportError::with_source(kind, error)
}

/// A [`CryptoProvider`] made of the application's random number generator and certificate
/// verifier: the TLS trust decision, in the application's hands.
///
/// `R` should be a hardware or properly seeded generator: it makes the key share.
#[derive(Debug)]
pub struct Verified<R, V> {
    rng: R,
    verifier: V,
}

impl<R, V> Verified<R, V>
where
    R: CryptoRngCore,
    V: TlsVerifier<Aes128GcmSha256>,
{
    /// A provider drawing randomness from `rng` and trusting what `verifier` accepts.
    pub fn new(rng: R, verifier: V) -> Self {
        Self { rng, verifier }
    }
}

impl<R, V> CryptoProvider for Verified<R, V>
where
    R: CryptoRngCore,
    V: TlsVerifier<Aes128GcmSha256>,
{
    type CipherSuite = Aes128GcmSha256;
    // No client certificates: nothing is ever signed.
    type Signature = [u8; 0];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Aes128GcmSha256>, TlsError> {
        Ok(&mut self.verifier)
    }
}

/// The buffers a transport works in, sized by the application.
///
/// - `tls_read`: one whole TLS record; 16 640 bytes fits the largest a server may send.
/// - `tls_write`: the `ClientHello` and request records; 4 096 bytes is plenty.
/// - `headers`: the response status line and headers; 2 048 bytes is usually enough.
/// - `body`: the response body. A longer body fails with
///   [`TransportErrorKind::BodyTooLarge`]; at most [`MAX_RESPONSE_BODY`] of it is used. A
///   tenant's JWK Set is typically a few kilobytes.
#[derive(Debug)]
pub struct Buffers<'b> {
    /// TLS record read buffer.
    pub tls_read: &'b mut [u8],
    /// TLS record write buffer.
    pub tls_write: &'b mut [u8],
    /// Response head buffer.
    pub headers: &'b mut [u8],
    /// Response body buffer.
    pub body: &'b mut [u8],
}

/// HTTPS [`Transport`] over `embedded-nal-async` TCP and DNS.
///
/// Never follows redirects (`3xx` is [`TransportErrorKind::Redirect`]), refuses bodies
/// longer than the body buffer or [`MAX_RESPONSE_BODY`], and refuses plain `http` URLs.
pub struct HttpsTransport<'b, T, D, P>
where
    T: TcpConnect,
    D: Dns,
    P: CryptoProvider<CipherSuite = Aes128GcmSha256>,
{
    tcp: &'b T,
    dns: &'b D,
    provider: P,
    anchor: Option<&'b [u8]>,
    buffers: Buffers<'b>,
}

impl<T, D, P> fmt::Debug for HttpsTransport<'_, T, D, P>
where
    T: TcpConnect,
    D: Dns,
    P: CryptoProvider<CipherSuite = Aes128GcmSha256>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsTransport")
            .field("has_anchor", &self.anchor.is_some())
            .finish_non_exhaustive()
    }
}

impl<'b, T, D, P> HttpsTransport<'b, T, D, P>
where
    T: TcpConnect,
    D: Dns,
    P: CryptoProvider<CipherSuite = Aes128GcmSha256>,
{
    /// A transport connecting through `tcp`, resolving names with `dns`, authenticating
    /// servers with `provider`'s verifier (see [`Verified`]).
    pub fn new(tcp: &'b T, dns: &'b D, provider: P, buffers: Buffers<'b>) -> Self {
        Self {
            tcp,
            dns,
            provider,
            anchor: None,
            buffers,
        }
    }

    /// The DER certificate the verifier checks the server's chain against (for
    /// `embedded-tls`'s verifiers: the one trusted root).
    #[must_use]
    pub fn with_trust_anchor(mut self, der: &'b [u8]) -> Self {
        self.anchor = Some(der);
        self
    }

    async fn exchange(&mut self, request: &HttpRequest) -> HttpOutcome {
        let target = Target::parse(&request.url)
            .ok_or_else(|| fail(TransportErrorKind::Unavailable, HttpsError::UnsupportedUrl))?;
        let ip = match target.host.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => self
                .dns
                .get_host_by_name(target.host, AddrType::Either)
                .await
                .map_err(|_| fail(TransportErrorKind::Connect, HttpsError::Dns))?,
        };
        if self.provider.verifier().is_err() {
            return Err(fail(TransportErrorKind::Connect, HttpsError::NoVerifier));
        }
        let socket = self
            .tcp
            .connect(SocketAddr::new(ip, target.port))
            .await
            .map_err(|e| fail(TransportErrorKind::Connect, HttpsError::Io(e.kind())))?;

        // The host, a name or an IP literal, is both sent as SNI and checked by the verifier.
        let mut config = TlsConfig::new().with_server_name(target.host);
        if let Some(der) = self.anchor {
            config = config.with_ca(Certificate::X509(der));
        }
        let Buffers {
            tls_read,
            tls_write,
            headers,
            body,
        } = &mut self.buffers;
        let mut tls: TlsConnection<'_, _, Aes128GcmSha256> =
            TlsConnection::new(socket, tls_read, tls_write);
        tls.open(TlsContext::new(&config, &mut self.provider))
            .await
            .map_err(|e| fail(TransportErrorKind::Connect, HttpsError::Tls(e)))?;
        let outcome = http_exchange(&mut tls, request, &target, headers, body).await;
        // close_notify; the answer is complete either way.
        let _ = tls.close().await;
        outcome
    }
}

impl<T, D, P> Transport for HttpsTransport<'_, T, D, P>
where
    T: TcpConnect,
    D: Dns,
    P: CryptoProvider<CipherSuite = Aes128GcmSha256>,
{
    async fn send(&mut self, request: &HttpRequest) -> HttpOutcome {
        self.exchange(request).await
    }
}

/// One HTTP/1.1 request and its response on an open connection.
///
/// Public so the same framing can run over another secure channel (or, in tests, a plain
/// one); [`HttpsTransport`] is the way to use it over the network.
///
/// # Errors
/// A [`TransportError`]: `Redirect` for `3xx`, `BodyTooLarge` past the body buffer or
/// [`MAX_RESPONSE_BODY`], `Other` for I/O and framing failures.
pub async fn http_exchange<C: Read + Write>(
    conn: &mut C,
    request: &HttpRequest,
    target: &Target<'_>,
    header_buf: &mut [u8],
    body_buf: &mut [u8],
) -> HttpOutcome {
    let io = |e: reqwless::Error| fail(TransportErrorKind::Other, HttpsError::Http(e));
    let extra: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain([("connection", "close")])
        .collect();
    let method = match request.method {
        Method::Get => reqwless::request::Method::GET,
        Method::Post => reqwless::request::Method::POST,
    };
    let head = Request::new(method, target.path).host(target.authority);
    if request.body.is_empty() {
        head.headers(&extra).build().write_header(conn).await
    } else {
        let body: &[u8] = &request.body;
        head.headers(&extra).body(body).build().write_header(conn).await
    }
    .map_err(io)?;
    conn.write_all(&request.body)
        .await
        .map_err(|e| io(reqwless::Error::Network(e.kind())))?;
    conn.flush()
        .await
        .map_err(|e| io(reqwless::Error::Network(e.kind())))?;

    let response = Response::read(conn, method, header_buf).await.map_err(io)?;
    let status = response.status.0;
    // RFC 9110 section 15.4: never followed, the issuer and JWKS locations are exact.
    if (300..400).contains(&status) {
        return Err(TransportError::new(TransportErrorKind::Redirect));
    }
    let headers = response
        .headers()
        .filter(|(name, _)| !name.is_empty())
        .filter_map(|(name, value)| {
            let value = core::str::from_utf8(value).ok()?;
            Some((name.to_ascii_lowercase(), String::from(value)))
        })
        .collect();
    let cap = body_buf.len().min(MAX_RESPONSE_BODY);
    if response.content_length.is_some_and(|len| len > cap) {
        return Err(TransportError::new(TransportErrorKind::BodyTooLarge));
    }
    let room = body_buf
        .get_mut(..cap)
        .ok_or_else(|| TransportError::new(TransportErrorKind::Other))?;
    let len = response
        .body()
        .reader()
        .read_to_end(room)
        .await
        .map_err(|e| match e {
            reqwless::Error::BufferTooSmall => {
                TransportError::new(TransportErrorKind::BodyTooLarge)
            }
            other => io(other),
        })?;
    let body = room
        .get(..len)
        .ok_or_else(|| TransportError::new(TransportErrorKind::Other))?;
    Ok(HttpResponse {
        status,
        headers,
        body: body.to_vec(),
    })
}

/// The parts of an absolute `https` URL a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target<'u> {
    /// The host, without brackets for IPv6 literals: for DNS, SNI and the certificate check.
    pub host: &'u str,
    /// The port, 443 unless given.
    pub port: u16,
    /// `host[:port]` as written in the URL, for the `Host` header (RFC 9110 section 7.2).
    pub authority: &'u str,
    /// Path and query, `/` when empty; the fragment is dropped.
    pub path: &'u str,
}

impl<'u> Target<'u> {
    /// Splits `url`; `None` unless it is `https://host[:port][/path][?query]` without user
    /// information.
    pub fn parse(url: &'u str) -> Option<Self> {
        let rest = strip_prefix_ignore_case(url, "https://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let tail = tail.split('#').next().unwrap_or("");
        let path = if tail.is_empty() { "/" } else { tail };
        if !path.starts_with('/') || authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => 443,
        };
        if host.is_empty() || port == 0 {
            return None;
        }
        Some(Self {
            host,
            port,
            authority,
            path,
        })
    }
}

fn strip_prefix_ignore_case<'u>(s: &'u str, prefix: &str) -> Option<&'u str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_split_into_host_port_authority_and_path() {
        let cases: &[(&str, Option<(&str, u16, &str, &str)>)] = &[
            (
                "https://t.example/.well-known/openid-configuration",
                Some((
                    "t.example",
                    443,
                    "t.example",
                    "/.well-known/openid-configuration",
                )),
            ),
            (
                "https://127.0.0.1:8443/jwks?x=1#frag",
                Some(("127.0.0.1", 8443, "127.0.0.1:8443", "/jwks?x=1")),
            ),
            ("HTTPS://t.example", Some(("t.example", 443, "t.example", "/"))),
            // A query without a path: no request target to put it on, refused.
            ("https://t.example?q", None),
            ("https://[::1]:9/k", Some(("::1", 9, "[::1]:9", "/k"))),
            ("https://[::1]/k", Some(("::1", 443, "[::1]", "/k"))),
            ("http://t.example/", None),
            ("https://", None),
            ("https://:443/", None),
            ("https://t.example:/", None),
            ("https://t.example:0/", None),
            ("https://t.example:99999/", None),
            ("https://t.example:+1/", None),
            ("https://user@t.example/", None),
            ("https://[::1/", None),
            ("ftp://t.example/", None),
            ("https:/t.example", None),
        ];
        for (url, want) in cases {
            let got = Target::parse(url).map(|t| (t.host, t.port, t.authority, t.path));
            assert_eq!(got, *want, "{url}");
        }
    }

    #[test]
    fn https_error_messages_are_lower_case_without_period() {
        let all = [
            HttpsError::UnsupportedUrl,
            HttpsError::Dns,
            HttpsError::Io(embedded_io::ErrorKind::TimedOut),
            HttpsError::Tls(TlsError::InvalidCertificate),
            HttpsError::NoVerifier,
            HttpsError::Http(reqwless::Error::Codec),
        ];
        for e in all {
            let text = alloc::format!("{e}");
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }
}
