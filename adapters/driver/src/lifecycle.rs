//! Refresh ahead of expiry and cache snapshots, for a [`Client`].
//!
//! # Background refresh
//! A warm verification that uses a discovery document or JWK Set in the last part of its
//! TTL (or a stale one whose cooldown ended) is answered from the cache at once; the core
//! notes the refresh as due and the driver raises a signal (two atomic loads on the warm
//! path, nothing more). The refresh itself runs elsewhere, never in the request that
//! noticed it:
//!
//! - blocking transports: [`Client::spawn_refresher`] starts one detached thread that waits
//!   for the signal and runs [`Client::refresh_due`]; it ends when its [`Refresher`] handle
//!   is dropped or the last `Arc` of the client is;
//! - async transports: the library spawns nothing. Run one task on your runtime:
//!   `loop { client.refresh_wanted().await; client.refresh_due_async().await; }`;
//! - either: call [`Client::refresh_due`] / [`Client::refresh_due_async`] from a timer of
//!   your own.
//!
//! Each refresh sets the resource's in-flight mark, so however many callers run
//! `refresh_due` at once there is one request per resource; verifications meanwhile keep
//! using the cached value.
//!
//! # Snapshots
//! [`Client::save_snapshot`] writes the caches to a file atomically (a temporary file in the
//! same directory, flushed to disk, then renamed over the target); [`Client::load_snapshot`]
//! loads one at start. A file that is missing, truncated, edited, of another format version
//! or another verifier configuration is refused with a [`SnapshotFileError`] and the caches
//! are left as they were: verifications then fetch as usual.

use std::fmt;
use std::fs;
use std::future::Future;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use auth0_api::{CacheSnapshot, FetchKey, RefreshError, Refreshed, Restored, SnapshotError};

use crate::{AsyncTransport, Client, Transport};

/// The signal a warm verification raises when a refresh is due.
#[derive(Default)]
pub(crate) struct RefreshSignal {
    pending: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
    ready: Condvar,
}

impl RefreshSignal {
    fn wakers(&self) -> MutexGuard<'_, Vec<Waker>> {
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Raises the signal. Cheap when it is already raised (one load).
    pub(crate) fn raise(&self) {
        if self.pending.load(Ordering::Relaxed) || self.pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let wakers = std::mem::take(&mut *self.wakers());
        self.ready.notify_all();
        for waker in wakers {
            waker.wake();
        }
    }

    /// Takes the signal: whether it was raised.
    fn take(&self) -> bool {
        self.pending.swap(false, Ordering::AcqRel)
    }

    /// Blocks until the signal is raised or `timeout` passes; says whether it was raised.
    fn wait(&self, timeout: Duration) -> bool {
        let guard = self.wakers();
        if self.take() {
            return true;
        }
        let _unused = self
            .ready
            .wait_timeout_while(guard, timeout, |_| !self.pending.load(Ordering::Acquire))
            .unwrap_or_else(PoisonError::into_inner);
        self.take()
    }
}

/// Ready once a verification raised the refresh signal.
struct Raised<'s> {
    signal: &'s RefreshSignal,
}

impl Future for Raised<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut wakers = self.signal.wakers();
        if self.signal.take() {
            return Poll::Ready(());
        }
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// What one [`Client::refresh_due`] call did.
#[derive(Debug, Default)]
pub struct RefreshReport {
    /// Resources fetched again.
    pub updated: usize,
    /// Resources no longer due when their turn came (refreshed meanwhile, or another fetch
    /// in flight).
    pub not_due: usize,
    /// Refreshes that failed; the cached values stay usable (stale) for `max_stale`.
    pub failed: Vec<(FetchKey, RefreshError)>,
}

impl<T> Client<T> {
    /// Whether a verification noticed a due refresh that no `refresh_due` took yet.
    pub fn refresh_pending(&self) -> bool {
        self.driver.shared.signal.pending.load(Ordering::Relaxed)
            || self.driver.shared.read().refresh_wanted()
    }

    /// Ready once a verification noticed a due refresh (for a refresh task of your own;
    /// see the [module docs](self)). Cancel-safe.
    pub fn refresh_wanted(&self) -> impl Future<Output = ()> + Send + '_ {
        Raised {
            signal: &self.driver.shared.signal,
        }
    }

    /// Blocks until a verification noticed a due refresh or `timeout` passed; says which.
    pub fn wait_refresh_wanted(&self, timeout: Duration) -> bool {
        self.driver.shared.signal.wait(timeout)
    }

    /// A snapshot of the caches (see [`auth0_api::cache::snapshot`]).
    pub fn snapshot(&self) -> CacheSnapshot {
        self.verifier.snapshot_caches(&self.driver.shared.read())
    }

    /// Loads `snapshot` into the caches at the clock's `now`.
    ///
    /// # Errors
    /// The [`SnapshotError`] of a refused snapshot; the caches are then unchanged.
    pub fn restore(&self, snapshot: &CacheSnapshot) -> Result<Restored, SnapshotError> {
        let now = self.driver.shared.now();
        let mut caches = self.driver.shared.write();
        self.verifier.restore_caches(&mut caches, snapshot, now)
    }

    /// Writes a snapshot of the caches to `path` atomically: a temporary file in the same
    /// directory is written, flushed to disk and renamed over `path`, so a reader (or a
    /// crash) sees the old file or the new one, never a part.
    ///
    /// ```
    /// use auth0_api::VerifierConfig;
    /// use auth0_api_driver::{Client, FixtureTransport, system_clock};
    ///
    /// let verifier = || {
    ///     VerifierConfig::new()
    ///         .domain("example.auth0.com")
    ///         .audience("https://api.example.com")
    ///         .build()
    /// };
    /// let path = std::env::temp_dir().join(format!("auth0-doc-{}.json", std::process::id()));
    /// let client = Client::new(verifier()?, FixtureTransport::new(), system_clock);
    /// client.save_snapshot(&path)?;
    /// // At the next start:
    /// let restarted = Client::new(verifier()?, FixtureTransport::new(), system_clock);
    /// match restarted.load_snapshot(&path) {
    ///     Ok(restored) => println!("{} key sets restored", restored.jwks),
    ///     // Not fatal: the first verifications fetch as usual.
    ///     Err(e) => eprintln!("cache snapshot not used: {e}"),
    /// }
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`SnapshotFileError::Io`] when the file cannot be written; `path` is then unchanged.
    pub fn save_snapshot(&self, path: impl AsRef<Path>) -> Result<(), SnapshotFileError> {
        write_atomically(path.as_ref(), &self.snapshot().to_json()).map_err(SnapshotFileError::Io)
    }

    /// Loads the snapshot at `path` into the caches (see [`save_snapshot`](Self::save_snapshot)).
    /// At most [`Verifier::snapshot_max_len`](auth0_api::Verifier::snapshot_max_len) bytes
    /// are read.
    ///
    /// # Errors
    /// [`SnapshotFileError::Io`] when the file cannot be read (a missing file included),
    /// [`SnapshotFileError::Snapshot`] when it is refused; the caches are then unchanged and
    /// verifications fetch as usual.
    pub fn load_snapshot(&self, path: impl AsRef<Path>) -> Result<Restored, SnapshotFileError> {
        let limit = self.verifier.snapshot_max_len();
        let file = fs::File::open(path.as_ref()).map_err(SnapshotFileError::Io)?;
        // A file known to be too long is refused before any of it is read.
        if file
            .metadata()
            .is_ok_and(|m| m.len() > u64::try_from(limit).unwrap_or(u64::MAX))
        {
            return Err(SnapshotFileError::Snapshot(SnapshotError::Malformed));
        }
        let mut bytes = Vec::new();
        let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        file.take(cap)
            .read_to_end(&mut bytes)
            .map_err(SnapshotFileError::Io)?;
        if bytes.len() > limit {
            return Err(SnapshotFileError::Snapshot(SnapshotError::Malformed));
        }
        let snapshot = CacheSnapshot::from_json(&bytes).map_err(SnapshotFileError::Snapshot)?;
        self.restore(&snapshot).map_err(SnapshotFileError::Snapshot)
    }

    fn due_keys(&self) -> Vec<FetchKey> {
        self.driver.shared.signal.take();
        let now = self.driver.shared.now();
        self.driver.shared.read().take_due_refreshes(now)
    }
}

fn record(report: &mut RefreshReport, key: FetchKey, result: Result<Refreshed, RefreshError>) {
    match result {
        Ok(Refreshed::Updated) => report.updated += 1,
        Ok(Refreshed::NotDue) => report.not_due += 1,
        Err(e) => report.failed.push((key, e)),
    }
}

impl<T: Transport> Client<T> {
    /// Refreshes, on this thread, every cached resource due for a refresh (see the
    /// [module docs](self)). Call it off the request path.
    pub fn refresh_due(&self) -> RefreshReport {
        let mut report = RefreshReport::default();
        for key in self.due_keys() {
            let mut flow = self.verifier.refresh(key.clone());
            let result = self.driver.drive(&mut flow);
            record(&mut report, key, result);
        }
        report
    }
}

impl<T: Transport + Send + Sync + 'static> Client<T> {
    /// Starts a detached thread that runs [`refresh_due`](Self::refresh_due) whenever a
    /// verification notices a due refresh. The thread holds only a weak reference: it ends
    /// soon after the returned handle or the last `Arc` of the client is dropped.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn spawn_refresher(client: &Arc<Self>) -> std::io::Result<Refresher> {
        let weak = Arc::downgrade(client);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("auth0-api-refresh".into())
            .spawn(move || refresh_loop(&weak, &stopped))?;
        Ok(Refresher {
            stop,
            client: Arc::downgrade(client) as Weak<dyn Raise>,
            thread: Some(thread),
        })
    }
}

/// How long the refresher thread sleeps at most between two looks at its stop flag.
const REFRESHER_TICK: Duration = Duration::from_millis(500);

fn refresh_loop<T: Transport>(client: &Weak<Client<T>>, stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        let Some(client) = client.upgrade() else {
            return;
        };
        if client.wait_refresh_wanted(REFRESHER_TICK) && !stop.load(Ordering::Acquire) {
            let _report = client.refresh_due();
        }
    }
}

/// Raises a client's signal without knowing its transport type.
trait Raise: Send + Sync {
    fn raise(&self);
}

impl<T: Send + Sync> Raise for Client<T> {
    fn raise(&self) {
        self.driver.shared.signal.raise();
    }
}

/// The handle of a [`Client::spawn_refresher`] thread. Dropping it tells the thread to
/// stop without waiting for it; [`stop`](Self::stop) also waits.
pub struct Refresher {
    stop: Arc<AtomicBool>,
    client: Weak<dyn Raise>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Refresher {
    /// Stops the thread and waits until it has ended: a refresh it was running has then
    /// been stored in the caches (or has failed).
    pub fn stop(mut self) {
        self.signal_stop();
        if let Some(thread) = self.thread.take() {
            // The loop does not panic; if a transport did, the refresh is over all the same.
            let _ = thread.join();
        }
    }

    fn signal_stop(&self) {
        self.stop.store(true, Ordering::Release);
        if let Some(client) = self.client.upgrade() {
            client.raise();
        }
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

impl fmt::Debug for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresher").finish_non_exhaustive()
    }
}

impl<T: AsyncTransport> Client<T> {
    /// Refreshes every cached resource due for a refresh (see the [module docs](self)). Run
    /// it in a task of its own, not in a request's.
    pub async fn refresh_due_async(&self) -> RefreshReport {
        let mut report = RefreshReport::default();
        for key in self.due_keys() {
            let mut flow = self.verifier.refresh(key.clone());
            let result = self.driver.drive_async(&mut flow).await;
            record(&mut report, key, result);
        }
        report
    }
}

/// Why a snapshot file was not written or not used.
#[derive(Debug)]
#[non_exhaustive]
pub enum SnapshotFileError {
    /// The file could not be read or written.
    Io(std::io::Error),
    /// The file was read and refused.
    Snapshot(SnapshotError),
}

impl fmt::Display for SnapshotFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotFileError::Io(e) => write!(f, "cache snapshot file: {e}"),
            SnapshotFileError::Snapshot(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SnapshotFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SnapshotFileError::Io(e) => Some(e),
            SnapshotFileError::Snapshot(e) => Some(e),
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, synced, then
/// renamed; the directory is synced too where the platform allows it.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let temp = dir.join(temp_name);
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
        return written;
    }
    // Makes the rename itself durable; not every platform can open a directory.
    if let Ok(dir) = fs::File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}
