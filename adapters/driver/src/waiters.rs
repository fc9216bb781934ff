//! Per-[`FetchKey`] wake-ups: a flow told to wait for a key sleeps until that key's fetch
//! is handed over or abandoned, and no other completion wakes it.
//!
//! A waiter takes a [`Ticket`] while the caches lock is held (right after its poll answered
//! `Wait`); a fetch completes the key while the caches lock is held too (right after its
//! response or abandonment was recorded). So a completion either happened before the
//! ticket (the waiter's poll would have seen it) or bumps the generation the ticket holds:
//! no wake-up is lost.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use auth0_api::FetchKey;

/// The flows waiting for one key.
#[derive(Default)]
struct Slot {
    /// Bumped by each completion of the key.
    generation: u64,
    /// Tickets not yet spent; the slot is dropped when none is left.
    tickets: usize,
    /// The waiters' wakers, by ticket id.
    wakers: Vec<(u64, Waker)>,
}

/// The registry of waiting flows, by key.
#[derive(Default)]
pub(crate) struct Waiters {
    slots: Mutex<HashMap<FetchKey, Slot>>,
    next_id: AtomicU64,
    wakeups: AtomicU64,
}

/// A waiter's place: the key and the generation it saw.
#[derive(Debug)]
pub(crate) struct Ticket {
    key: FetchKey,
    generation: u64,
    id: u64,
}

impl Waiters {
    fn slots(&self) -> MutexGuard<'_, HashMap<FetchKey, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A ticket for `key`. Take it under the caches lock that saw the `Wait`.
    pub(crate) fn ticket(&self, key: FetchKey) -> Ticket {
        let mut slots = self.slots();
        let slot = slots.entry(key.clone()).or_default();
        slot.tickets += 1;
        Ticket {
            generation: slot.generation,
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            key,
        }
    }

    /// Wakes the waiters of `key`, and only them. Call under the caches lock that recorded
    /// the fetch's end.
    pub(crate) fn complete(&self, key: &FetchKey) {
        let wakers = {
            let mut slots = self.slots();
            let Some(slot) = slots.get_mut(key) else {
                return;
            };
            slot.generation = slot.generation.wrapping_add(1);
            std::mem::take(&mut slot.wakers)
        };
        for (_, waker) in wakers {
            waker.wake();
        }
    }

    /// A future ready once `ticket`'s key completes, or when polled at or after `deadline`
    /// (the core gives up on an in-flight mark after the cache's `fetch_timeout`, and the
    /// waiter may then fetch the resource itself).
    pub(crate) fn wait(&self, ticket: Ticket, deadline: Instant) -> Wait<'_> {
        Wait {
            waiters: self,
            ticket: Some(ticket),
            deadline,
        }
    }

    /// How many waits have ended, by wake-up or time limit.
    pub(crate) fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }

    fn spend(slots: &mut HashMap<FetchKey, Slot>, ticket: &Ticket) {
        if let Some(slot) = slots.get_mut(&ticket.key) {
            slot.wakers.retain(|(id, _)| *id != ticket.id);
            slot.tickets = slot.tickets.saturating_sub(1);
            if slot.tickets == 0 {
                slots.remove(&ticket.key);
            }
        }
    }
}

/// Ready when the key of its ticket completes. Dropped early, it gives the ticket back.
pub(crate) struct Wait<'w> {
    waiters: &'w Waiters,
    ticket: Option<Ticket>,
    deadline: Instant,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let waiters = self.waiters;
        let Some(ticket) = self.ticket.as_ref() else {
            return Poll::Ready(());
        };
        let mut slots = waiters.slots();
        let done = slots
            .get(&ticket.key)
            .is_none_or(|slot| slot.generation != ticket.generation)
            || Instant::now() >= self.deadline;
        if !done {
            if let Some(slot) = slots.get_mut(&ticket.key) {
                match slot.wakers.iter_mut().find(|(id, _)| *id == ticket.id) {
                    Some((_, waker)) => waker.clone_from(cx.waker()),
                    None => slot.wakers.push((ticket.id, cx.waker().clone())),
                }
            }
            return Poll::Pending;
        }
        drop(slots);
        if let Some(ticket) = self.ticket.take() {
            Waiters::spend(&mut waiters.slots(), &ticket);
            waiters.wakeups.fetch_add(1, Ordering::Relaxed);
        }
        Poll::Ready(())
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            Waiters::spend(&mut self.waiters.slots(), &ticket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;
    use std::time::Duration;

    struct Counting(AtomicUsize);

    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn key(name: &str) -> FetchKey {
        FetchKey::Jwks(format!("https://{name}.example/jwks"))
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    /// A waiter for key A is not woken by the completion of key B, and is woken once by A's.
    #[test]
    fn only_the_awaited_key_wakes() {
        let waiters = Waiters::default();
        let counter = Arc::new(Counting(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        let mut wait = Box::pin(waiters.wait(waiters.ticket(key("a")), later()));
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        waiters.complete(&key("b"));
        waiters.complete(&FetchKey::Discovery("https://a.example/".into()));
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        waiters.complete(&key("a"));
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(wait.as_mut().poll(&mut cx).is_ready());
        assert_eq!(waiters.wakeups(), 1);
        assert!(
            waiters.slots().is_empty(),
            "the spent ticket's slot is dropped"
        );
    }

    /// A completion between the ticket and the first poll is not lost.
    #[test]
    fn a_completion_before_the_first_poll_is_seen() {
        let waiters = Waiters::default();
        let ticket = waiters.ticket(key("a"));
        waiters.complete(&key("a"));
        let mut wait = Box::pin(waiters.wait(ticket, later()));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(wait.as_mut().poll(&mut cx).is_ready());
    }

    /// A dropped wait gives its ticket back; a completion without waiters keeps nothing.
    #[test]
    fn dropped_waits_and_idle_keys_leave_nothing_behind() {
        let waiters = Waiters::default();
        let mut cx = Context::from_waker(Waker::noop());
        let mut wait = Box::pin(waiters.wait(waiters.ticket(key("a")), later()));
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        drop(wait);
        waiters.complete(&key("z"));
        assert!(waiters.slots().is_empty());
        assert_eq!(waiters.wakeups(), 0);
    }

    /// Past its deadline a wait ends without a wake-up, so the flow polls again (and the
    /// core, past `fetch_timeout`, lets it fetch).
    #[test]
    fn a_wait_ends_at_its_deadline() {
        let waiters = Waiters::default();
        let mut wait = Box::pin(waiters.wait(waiters.ticket(key("a")), Instant::now()));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(wait.as_mut().poll(&mut cx).is_ready());
        assert!(waiters.slots().is_empty());
    }
}
