//! A forward proxy on `127.0.0.1` that records every connection it receives, for tests that
//! check whether a client goes through a proxy or not.
//!
//! `CONNECT host:port` requests to a loopback address are tunnelled (so a client configured
//! with the proxy still reaches a local tenant); anything else is answered `502` and closed.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::Error;

/// Every environment variable an HTTP client may read for a proxy (ureq and reqwest read
/// these), the exclusion lists, and the CGI marker that makes reqwest skip `HTTP_PROXY`: a
/// test clears them all before setting the one it checks.
pub const PROXY_VARIABLES: [&str; 9] = [
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUEST_METHOD",
];

/// The longest request head the proxy reads before giving up on a connection.
const MAX_HEAD: usize = 8 * 1024;

#[derive(Default)]
struct Seen {
    connections: usize,
    request_lines: Vec<String>,
}

/// A recording forward proxy; dropping it stops accepting connections.
pub struct RecordingProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RecordingProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingProxy")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RecordingProxy {
    /// Binds `127.0.0.1:0` and starts accepting on a background thread.
    ///
    /// # Errors
    /// [`Error::Io`] when the listener cannot be bound or the thread not spawned.
    pub fn start() -> Result<Self, Error> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::Builder::new()
                .name("recording-proxy".into())
                .spawn(move || accept(&listener, &seen, &stop))?
        };
        Ok(Self {
            addr,
            seen,
            stop,
            thread: Some(thread),
        })
    }

    /// The proxy's URL, `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many TCP connections it has accepted.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .connections
    }

    /// The request line of every request head it has read, in order (for example
    /// `CONNECT 127.0.0.1:4433 HTTP/1.1`).
    #[must_use]
    pub fn request_lines(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .request_lines
            .clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept(listener: &TcpListener, seen: &Arc<Mutex<Seen>>, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .connections += 1;
        let seen = seen.clone();
        let _ = std::thread::Builder::new()
            .name("recording-proxy-conn".into())
            .spawn(move || {
                let _ = serve(stream, &seen);
            });
    }
}

fn serve(mut client: TcpStream, seen: &Mutex<Seen>) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (head, rest) = read_head(&mut client)?;
    let line = head.lines().next().unwrap_or_default().to_owned();
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .request_lines
        .push(line.clone());
    let mut parts = line.split(' ');
    let target = match (parts.next(), parts.next()) {
        (Some("CONNECT"), Some(target)) => target
            .parse::<SocketAddr>()
            .ok()
            .filter(|a| a.ip().is_loopback()),
        _ => None,
    };
    let Some(target) = target else {
        client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")?;
        return Ok(());
    };
    let mut upstream = TcpStream::connect_timeout(&target, Duration::from_secs(5))?;
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    upstream.write_all(&rest)?;
    client.set_read_timeout(None)?;
    let (mut client_read, mut upstream_write) = (client.try_clone()?, upstream.try_clone()?);
    let up = std::thread::spawn(move || {
        let _ = io::copy(&mut client_read, &mut upstream_write);
        let _ = upstream_write.shutdown(Shutdown::Write);
    });
    let _ = io::copy(&mut upstream, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = up.join();
    Ok(())
}

/// Reads up to the end of the request head; returns it and any bytes read past it.
fn read_head(stream: &mut TcpStream) -> io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too long"));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok((String::from_utf8_lossy(&buf).into_owned(), Vec::new()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
