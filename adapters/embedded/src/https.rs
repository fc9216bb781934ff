//! [`HttpsTransport`]: HTTPS over an `embedded-nal-async` stack, TLS 1.3 by `embedded-tls`,
//! HTTP/1.1 framing by `reqwless`.
//!
//! One connection per request (`connection: close`): verification fetches two small
//! documents and then serves from the caches, so keeping connections open buys little and
//! would pin the TLS buffers.
//!
//! `reqwless`'s own `HttpClient` is not used: its TLS set-up fixes the certificate verifier.
//! This transport opens the TLS connection itself with the application's provider and uses
//! `reqwless` for the HTTP request and response framing.
//!
//! # Trust
//!
//! The application decides which servers to trust through the [`TlsProvider`] it passes.
//! The default, and the one to use against a tenant, is [`Pinned`](crate::pin::Pinned): the
//! server's leaf certificate must carry a public key whose SubjectPublicKeyInfo SHA-256 is
//! one of the application's pins, and the server must prove it holds the matching private key
//! (its TLS 1.3 `CertificateVerify` signature is checked with that key). Several pins may be
//! given, so a key rotation is a configuration change made ahead of time. See the
//! [`pin`](crate::pin) module for computing pins.
//!
//! Why not a certificate authority: `embedded-tls`'s own verifiers, usable through
//! [`Verified`], cannot check a public CA's chain. The `webpki` one (feature `webpki`) ignores
//! the intermediates the server sends, so the anchor would have to be the issuing
//! intermediate itself; the `pki` one (feature `rustpki`) follows the chain the server sends
//! but never checks that an issuer is a CA (basic constraints) or may sign certificates (key
//! usage), so any leaf under the anchor can issue a certificate for any name. With a public CA
//! as the anchor, anyone holding any certificate under it could then serve a forged key set.
//! A pin names the tenant's key and nothing else.
//!
//! [`Verified`] remains for an application that brings its own [`TlsVerifier`] (for example
//! a private CA that issues the leaf directly). Whatever the verifier, the transport refuses
//! a handshake that ended without the verifier accepting a certificate and then its
//! signature ([`HttpsError::Unauthenticated`]): `embedded-tls` itself would accept a server
//! that skipped both messages.
//!
//! A provider without a verifier would make `embedded-tls` skip certificate checks
//! silently; [`HttpsTransport`] refuses to connect with one ([`HttpsError::NoVerifier`]).
//!
//! # Limits
//!
//! TLS 1.3 only, cipher suite `TLS_AES_128_GCM_SHA256`, key exchange on `secp256r1`: the
//! suite and group every TLS 1.3 server must support (RFC 8446 section 9.1). The pinned
//! verifier accepts servers whose key is ECDSA P-256 or P-384; with [`Verified`], an RSA
//! server needs `embedded-tls`'s `alloc` feature (which offers RSA signature schemes) and,
//! for the `pki` verifier, its `rsa` feature.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, SocketAddr};

use auth0_api::{
    HttpOutcome, HttpRequest, HttpResponse, MAX_RESPONSE_BODY, Method, TransportError,
    TransportErrorKind,
};
use embedded_io::Error as _;
use embedded_io_async::{Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use embedded_tls::{
    Aes128GcmSha256, CertificateRef, CertificateVerifyRef, CryptoProvider, CryptoRngCore,
    TlsCipherSuite, TlsConfig, TlsConnection, TlsContext, TlsError, TlsVerifier, UnsecureProvider,
};
use reqwless::request::{Request, RequestBuilder};
use reqwless::response::Response;

use crate::Transport;
use crate::pin::PinError;

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
    /// The pinned verifier refused the server: its key is not pinned, or it did not prove
    /// holding the key. The connection was closed before any request was sent.
    Pin(PinError),
    /// The handshake ended without the verifier accepting a certificate and then the
    /// server's signature with its key; no request was sent.
    Unauthenticated,
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
            HttpsError::Pin(e) => write!(f, "server refused by its key pins: {e}"),
            HttpsError::Unauthenticated => {
                f.write_str("tls handshake ended without authenticating the server")
            }
            HttpsError::NoVerifier => f.write_str("no certificate verifier configured"),
            HttpsError::Http(e) => write!(f, "http response unreadable: {e:?}"),
        }
    }
}

impl core::error::Error for HttpsError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            HttpsError::Pin(e) => Some(e),
            _ => None,
        }
    }
}

fn fail(kind: TransportErrorKind, error: HttpsError) -> TransportError {
    TransportError::with_source(kind, error)
}

/// A [`CryptoProvider`] the transport can ask whether each handshake authenticated the
/// server.
///
/// [`Pinned`](crate::pin::Pinned) (the default) and [`Verified`] implement it; so does
/// `embedded-tls`'s [`UnsecureProvider`], which the transport refuses
/// ([`HttpsError::NoVerifier`]).
pub trait TlsProvider: CryptoProvider<CipherSuite = Aes128GcmSha256> {
    /// Called before each handshake: forget what the previous one established.
    fn handshake_starts(&mut self);

    /// Called with the result of each handshake. `Ok` only when the server was
    /// authenticated; an error closes the connection before any request is written.
    ///
    /// # Errors
    /// Why the server is not trusted: the handshake's [`TlsError`], or a more precise
    /// reason the provider knows.
    fn handshake_ends(&mut self, handshake: Result<(), TlsError>) -> Result<(), HttpsError>;
}

/// A [`CryptoProvider`] made of the application's random number generator and certificate
/// verifier, for an application bringing its own [`TlsVerifier`]; most use
/// [`Pinned`](crate::pin::Pinned).
///
/// The transport accepts a handshake only when `verifier` accepted the server's certificate
/// and then its signature, in that order, once each.
///
/// `R` should be a hardware or properly seeded generator: it makes the key share.
#[derive(Debug)]
pub struct Verified<R, V> {
    rng: R,
    verifier: Watched<V>,
}

impl<R, V> Verified<R, V>
where
    R: CryptoRngCore,
    V: TlsVerifier<Aes128GcmSha256>,
{
    /// A provider drawing randomness from `rng` and trusting what `verifier` accepts.
    pub fn new(rng: R, verifier: V) -> Self {
        Self {
            rng,
            verifier: Watched {
                inner: verifier,
                certificate: false,
                signature: false,
            },
        }
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

impl<R, V> TlsProvider for Verified<R, V>
where
    R: CryptoRngCore,
    V: TlsVerifier<Aes128GcmSha256>,
{
    fn handshake_starts(&mut self) {
        self.verifier.certificate = false;
        self.verifier.signature = false;
    }

    fn handshake_ends(&mut self, handshake: Result<(), TlsError>) -> Result<(), HttpsError> {
        handshake.map_err(HttpsError::Tls)?;
        if self.verifier.certificate && self.verifier.signature {
            Ok(())
        } else {
            Err(HttpsError::Unauthenticated)
        }
    }
}

impl<R: CryptoRngCore> TlsProvider for UnsecureProvider<'_, Aes128GcmSha256, R> {
    fn handshake_starts(&mut self) {}

    fn handshake_ends(&mut self, _: Result<(), TlsError>) -> Result<(), HttpsError> {
        Err(HttpsError::NoVerifier)
    }
}

/// An application's verifier, with a record of what it accepted in the current handshake.
#[derive(Debug)]
struct Watched<V> {
    inner: V,
    certificate: bool,
    signature: bool,
}

impl<V: TlsVerifier<Aes128GcmSha256>> TlsVerifier<Aes128GcmSha256> for Watched<V> {
    fn set_hostname_verification(&mut self, hostname: &str) -> Result<(), TlsError> {
        self.inner.set_hostname_verification(hostname)
    }

    fn verify_certificate(
        &mut self,
        transcript: &<Aes128GcmSha256 as TlsCipherSuite>::Hash,
        cert: CertificateRef<'_>,
    ) -> Result<(), TlsError> {
        // One certificate per handshake (RFC 8446 section 4.4).
        if self.certificate {
            return Err(TlsError::InvalidHandshake);
        }
        self.inner.verify_certificate(transcript, cert)?;
        self.certificate = true;
        Ok(())
    }

    fn verify_signature(&mut self, verify: CertificateVerifyRef<'_>) -> Result<(), TlsError> {
        // A signature only after the certificate it is checked against, and only once.
        if !self.certificate || self.signature {
            return Err(TlsError::InvalidHandshake);
        }
        self.inner.verify_signature(verify)?;
        self.signature = true;
        Ok(())
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
    P: TlsProvider,
{
    tcp: &'b T,
    dns: &'b D,
    provider: P,
    buffers: Buffers<'b>,
}

impl<T, D, P> fmt::Debug for HttpsTransport<'_, T, D, P>
where
    T: TcpConnect,
    D: Dns,
    P: TlsProvider,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsTransport").finish_non_exhaustive()
    }
}

impl<'b, T, D, P> HttpsTransport<'b, T, D, P>
where
    T: TcpConnect,
    D: Dns,
    P: TlsProvider,
{
    /// A transport connecting through `tcp`, resolving names with `dns`, authenticating
    /// servers with `provider`: [`Pinned`](crate::pin::Pinned) to trust the tenant's key,
    /// or [`Verified`] with a verifier of the application's own.
    pub fn new(tcp: &'b T, dns: &'b D, provider: P, buffers: Buffers<'b>) -> Self {
        Self {
            tcp,
            dns,
            provider,
            buffers,
        }
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

        // The host, a name or an IP literal, is sent as SNI and handed to the verifier (the
        // pinned one does not need it: the key is the identity).
        let config = TlsConfig::new().with_server_name(target.host);
        let Buffers {
            tls_read,
            tls_write,
            headers,
            body,
        } = &mut self.buffers;
        let mut tls: TlsConnection<'_, _, Aes128GcmSha256> =
            TlsConnection::new(socket, tls_read, tls_write);
        self.provider.handshake_starts();
        let handshake = tls.open(TlsContext::new(&config, &mut self.provider)).await;
        // Refused, the connection is dropped without a request written on it.
        self.provider
            .handshake_ends(handshake)
            .map_err(|e| fail(TransportErrorKind::Connect, e))?;
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
    P: TlsProvider,
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
        head.headers(&extra)
            .body(body)
            .build()
            .write_header(conn)
            .await
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
    let declared = response.content_length;
    if declared.is_some_and(|len| len > cap) {
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
            // With a declared length that fits, "buffer too small" means the connection
            // ended before the body did.
            reqwless::Error::BufferTooSmall if declared.is_none() => {
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
            (
                "HTTPS://t.example",
                Some(("t.example", 443, "t.example", "/")),
            ),
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

    /// A connection that answers with canned bytes and records what was written.
    struct Canned<'a> {
        answer: &'a [u8],
        written: Vec<u8>,
    }

    impl embedded_io::ErrorType for Canned<'_> {
        type Error = embedded_io::ErrorKind;
    }

    impl Read for Canned<'_> {
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            // A few bytes at a time, as a network would deliver them.
            let n = buf.len().min(self.answer.len()).min(7);
            let (now, rest) = self.answer.split_at(n);
            buf[..n].copy_from_slice(now);
            self.answer = rest;
            Ok(n)
        }
    }

    impl Write for Canned<'_> {
        async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }

        async fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    fn exchange(request: &HttpRequest, answer: &[u8], body_room: usize) -> (HttpOutcome, String) {
        let target = Target::parse(&request.url).unwrap();
        let mut conn = Canned {
            answer,
            written: Vec::new(),
        };
        let mut headers = [0u8; 256];
        let mut body = alloc::vec![0u8; body_room];
        let outcome = {
            let future = http_exchange(&mut conn, request, &target, &mut headers, &mut body);
            let mut future = core::pin::pin!(future);
            let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
            let core::task::Poll::Ready(outcome) = future.as_mut().poll(&mut cx) else {
                panic!("canned connections never wait");
            };
            outcome
        };
        (outcome, String::from_utf8(conn.written).unwrap())
    }

    #[test]
    fn a_post_is_framed_with_its_headers_and_body() {
        let mut request = HttpRequest::get("https://t.example:8443/oauth/token");
        request.method = Method::Post;
        request.headers.push((
            String::from("content-type"),
            String::from("application/x-www-form-urlencoded"),
        ));
        request.body = b"grant_type=x".to_vec();
        let answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                       Transfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n2\r\n:1\r\n1\r\n}\r\n0\r\n\r\n";
        let (outcome, written) = exchange(&request, answer, 64);
        let response = outcome.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, br#"{"a":1}"#);
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert!(
            written.starts_with("POST /oauth/token HTTP/1.1\r\n"),
            "{written}"
        );
        for line in [
            "Host: t.example:8443\r\n",
            "Content-Length: 12\r\n",
            "content-type: application/x-www-form-urlencoded\r\n",
            "accept: application/json\r\n",
            "connection: close\r\n",
        ] {
            assert!(written.contains(line), "{line:?} in {written}");
        }
        assert!(written.ends_with("\r\n\r\ngrant_type=x"), "{written}");
    }

    #[test]
    fn answers_are_judged_by_status_size_and_framing() {
        let get = HttpRequest::get("https://t.example/k");
        let long_head = alloc::format!("HTTP/1.1 200 OK\r\nx: {}\r\n\r\n", "y".repeat(300));
        let cases: &[(&[u8], usize, Result<&[u8], TransportErrorKind>)] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
                2,
                Ok(b"{}"),
            ),
            (
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx",
                8,
                Ok(b"x"),
            ),
            (
                b"HTTP/1.1 302 Found\r\nLocation: https://evil.example/\r\n\r\n",
                8,
                Err(TransportErrorKind::Redirect),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{}}",
                2,
                Err(TransportErrorKind::BodyTooLarge),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                2,
                Err(TransportErrorKind::BodyTooLarge),
            ),
            (
                b"HTTP/1.1 200 OK\r\n\r\nuntil-close",
                11,
                Ok(b"until-close"),
            ),
            (
                b"HTTP/1.1 200 OK\r\n\r\nuntil-close",
                10,
                Err(TransportErrorKind::BodyTooLarge),
            ),
            (long_head.as_bytes(), 8, Err(TransportErrorKind::Other)),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
                16,
                Err(TransportErrorKind::Other),
            ),
            (b"garbage\r\n\r\n", 8, Err(TransportErrorKind::Other)),
        ];
        for (answer, room, want) in cases {
            let (outcome, written) = exchange(&get, answer, *room);
            assert!(written.starts_with("GET /k HTTP/1.1\r\nHost: t.example\r\n"));
            assert!(!written.contains("Content-Length"), "a GET has no body");
            let got = outcome
                .as_ref()
                .map(|r| r.body.as_slice())
                .map_err(|e| e.kind());
            assert_eq!(got, *want, "{:?}", String::from_utf8_lossy(answer));
        }
    }

    #[test]
    fn verified_accepts_a_handshake_only_after_a_certificate_then_its_signature() {
        use embedded_tls::{CertificateEntryRef, NoVerify, SignatureScheme};

        let transcript = <Aes128GcmSha256 as TlsCipherSuite>::Hash::default();
        let certificate = || {
            let mut chain = CertificateRef::with_context(&[]);
            chain.add(CertificateEntryRef::X509(b"leaf")).unwrap();
            chain
        };
        let signature = || CertificateVerifyRef {
            signature_scheme: SignatureScheme::EcdsaSecp256r1Sha256,
            signature: b"sig",
        };
        // A verifier accepting anything, to see the order the transport enforces.
        let mut provider = Verified::new(rand_core::OsRng, NoVerify);

        // The server skipped both messages; embedded-tls would call that a handshake.
        provider.handshake_starts();
        assert!(matches!(
            provider.handshake_ends(Ok(())),
            Err(HttpsError::Unauthenticated)
        ));

        // A certificate without its signature.
        provider.handshake_starts();
        let verifier = provider.verifier().unwrap();
        verifier
            .verify_certificate(&transcript, certificate())
            .unwrap();
        assert!(matches!(
            provider.handshake_ends(Ok(())),
            Err(HttpsError::Unauthenticated)
        ));

        // A signature first, then a second certificate or signature: refused.
        provider.handshake_starts();
        let verifier = provider.verifier().unwrap();
        assert!(verifier.verify_signature(signature()).is_err());
        verifier
            .verify_certificate(&transcript, certificate())
            .unwrap();
        assert!(
            verifier
                .verify_certificate(&transcript, certificate())
                .is_err()
        );
        verifier.verify_signature(signature()).unwrap();
        assert!(verifier.verify_signature(signature()).is_err());

        // Both, in order: accepted; the next handshake starts from nothing.
        provider.handshake_starts();
        let verifier = provider.verifier().unwrap();
        verifier
            .verify_certificate(&transcript, certificate())
            .unwrap();
        verifier.verify_signature(signature()).unwrap();
        assert!(provider.handshake_ends(Ok(())).is_ok());
        provider.handshake_starts();
        assert!(provider.handshake_ends(Ok(())).is_err());
        // A failed handshake is the TLS error.
        assert!(matches!(
            provider.handshake_ends(Err(TlsError::InvalidCertificate)),
            Err(HttpsError::Tls(TlsError::InvalidCertificate))
        ));
    }

    #[test]
    fn https_error_messages_are_lower_case_without_period() {
        let all = [
            HttpsError::UnsupportedUrl,
            HttpsError::Dns,
            HttpsError::Io(embedded_io::ErrorKind::TimedOut),
            HttpsError::Tls(TlsError::InvalidCertificate),
            HttpsError::Pin(PinError::NotPinned),
            HttpsError::Unauthenticated,
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
