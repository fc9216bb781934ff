//! HTTP/1.1 over TLS: accept loop, fault injection, counters and routing.

use std::convert::Infallible;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Either, Full, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::{HUGE_BODY_LEN, RecordedRequest, Shared, endpoint};

/// Largest request body the tenant reads.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

pub(crate) type Answer = Response<Full<Bytes>>;

/// What goes on the wire: an answer, or one whose body stalls part way.
type Served = Response<Either<Full<Bytes>, StalledBody>>;

/// A body sent in two parts with a wait between them: `head` at once, `tail` after the
/// sleep. Its exact size is announced, so the client knows more is due.
pub(crate) struct StalledBody {
    head: Option<Bytes>,
    tail: Option<Bytes>,
    len: u64,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl StalledBody {
    /// Must be called inside the tenant's runtime (the sleep starts now).
    fn new(body: Bytes, sent: usize, delay: Duration) -> Self {
        let sent = sent.min(body.len());
        StalledBody {
            len: body.len() as u64,
            head: Some(body.slice(..sent)).filter(|b| !b.is_empty()),
            tail: Some(body.slice(sent..)),
            sleep: Box::pin(tokio::time::sleep(delay)),
        }
    }
}

impl Body for StalledBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        if self.tail.is_none() {
            return Poll::Ready(None);
        }
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        Poll::Ready(self.tail.take().map(|tail| Ok(Frame::data(tail))))
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.tail.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}

/// Accepts connections until `shutdown` fires; each connection is served on its own task.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    shared: Arc<Shared>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    // A client that does not trust the CA simply fails the handshake.
                    let Ok(tls) = acceptor.accept(stream).await else { return };
                    let service = hyper::service::service_fn(move |request| {
                        handle(Arc::clone(&shared), request)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        }
    }
}

/// A JSON answer.
pub(crate) fn json(status: StatusCode, body: &Value) -> Answer {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut answer = Response::new(Full::new(Bytes::from(bytes)));
    *answer.status_mut() = status;
    let headers = answer.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    answer
}

fn error(status: StatusCode, code: &str, description: &str) -> Answer {
    json(
        status,
        &serde_json::json!({ "error": code, "error_description": description }),
    )
}

fn status_from(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Served, Infallible> {
    let stall_body = {
        let path = request.uri().path();
        let state = shared.state();
        state.faults.get(path).and_then(|f| f.stall_body)
    };
    let answer = answer(shared, request).await?;
    let Some((sent, delay)) = stall_body else {
        return Ok(answer.map(Either::Left));
    };
    let (mut parts, body) = answer.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    parts
        .headers
        .insert(CONTENT_LENGTH, hyper::header::HeaderValue::from(body.len()));
    let body = StalledBody::new(body, sent, delay);
    Ok(Response::from_parts(parts, Either::Right(body)))
}

async fn answer(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Answer, Infallible> {
    let path = request.uri().path().to_owned();
    {
        let mut state = shared.state();
        state.total = state.total.saturating_add(1);
        let count = state.counts.entry(path.clone()).or_insert(0);
        *count = count.saturating_add(1);
    }

    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let status = StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(error(
                status,
                "invalid_request",
                "request body too large or broken",
            ));
        }
    };
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or_else(|| path.clone(), |p| p.to_string()),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let fault = {
        let mut state = shared.state();
        state.last_requests.insert(path.clone(), recorded);
        state.faults.get(&path).cloned().unwrap_or_default()
    };

    if let Some(delay) = fault.stall {
        tokio::time::sleep(delay).await;
    }
    if let Some((code, location)) = fault.redirect {
        let mut answer = Response::new(Full::new(Bytes::new()));
        *answer.status_mut() = status_from(code);
        if let Ok(value) = hyper::header::HeaderValue::from_str(&location) {
            answer.headers_mut().insert(LOCATION, value);
        }
        return Ok(answer);
    }
    if let Some(code) = fault.status {
        return Ok(error(status_from(code), "server_error", "injected failure"));
    }
    if let Some((code, headers, bytes)) = fault.canned {
        let mut answer = Response::new(Full::new(Bytes::from(bytes)));
        *answer.status_mut() = status_from(code);
        for (name, value) in headers {
            let name = hyper::header::HeaderName::from_bytes(name.as_bytes());
            let value = hyper::header::HeaderValue::from_str(&value);
            if let (Ok(name), Ok(value)) = (name, value) {
                answer.headers_mut().append(name, value);
            }
        }
        return Ok(answer);
    }
    if fault.huge {
        return Ok(huge_answer());
    }

    Ok(route(&shared, &parts.method, &path, &parts.headers, &body))
}

/// A syntactically valid JSON object of exactly [`HUGE_BODY_LEN`] bytes.
fn huge_answer() -> Answer {
    let prefix = b"{\"padding\":\"";
    let suffix = b"\"}";
    let mut bytes = Vec::with_capacity(HUGE_BODY_LEN);
    bytes.extend_from_slice(prefix);
    bytes.resize(HUGE_BODY_LEN.saturating_sub(suffix.len()), b'a');
    bytes.extend_from_slice(suffix);
    let mut answer = Response::new(Full::new(Bytes::from(bytes)));
    answer.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    answer
}

/// An endpoint: shared state, request headers and body in, answer out.
type Handler = fn(&Shared, &hyper::HeaderMap, &[u8]) -> Answer;

fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &hyper::HeaderMap,
    body: &[u8],
) -> Answer {
    let (allowed, answer): (Method, Handler) = match path {
        "/.well-known/openid-configuration" => (Method::GET, |shared, _, _| {
            json(StatusCode::OK, &shared.discovery())
        }),
        "/.well-known/jwks.json" => (Method::GET, |shared, _, _| {
            json(StatusCode::OK, &shared.jwks())
        }),
        "/oauth/token" => (Method::POST, endpoint::token),
        _ => return error(StatusCode::NOT_FOUND, "not_found", "no such endpoint"),
    };
    if method != allowed {
        let mut answer = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "method not allowed",
        );
        if let Ok(value) = hyper::header::HeaderValue::from_str(allowed.as_str()) {
            answer.headers_mut().insert(ALLOW, value);
        }
        return answer;
    }
    answer(shared, headers, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_body_is_json_of_the_announced_size() {
        let answer = huge_answer();
        let body = answer.into_body();
        let bytes = futures_free_collect(body);
        assert_eq!(bytes.len(), HUGE_BODY_LEN);
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(value.get("padding").is_some());
    }

    fn futures_free_collect(body: Full<Bytes>) -> Bytes {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async { body.collect().await.unwrap().to_bytes() })
    }

    #[test]
    fn injected_status_codes_fall_back_to_500() {
        assert_eq!(status_from(503), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status_from(42), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status_from(1000), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
