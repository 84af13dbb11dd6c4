//! Live changes for the console (SPEC section 14): which chats changed, heard by every
//! instance within moments of the commit, so that open pages update without a reload.
//!
//! Every workflow that changes a chat, a message or an opt-out writes an event for the
//! tenant's systems (see `events`); the same calls note the chat here. The notes are kept per
//! blocking task and published once its work has committed: over Redis when instances share
//! one, in process otherwise. Nothing is published before the commit, so a page that reloads
//! on a change always reads it. Each instance has one [`Hub`]: it hears the changes, and when
//! somebody is watching, reads each changed chat's agent once (not once per viewer) so that an
//! agent hears only of its own and unassigned chats.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sms_domain::TenantId;
use sms_lock::{Heard, RedisChannel};
use sms_store::Store;
use tokio::sync::{broadcast, mpsc};

/// A chat (or, with `chat` `None`, something else of the tenant's, an opt-out) changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub tenant: i64,
    pub chat: Option<i64>,
}

thread_local! {
    static NOTED: RefCell<Vec<Change>> = const { RefCell::new(Vec::new()) };
}

/// Notes a change made by the work running on this thread, to be published after its commit.
pub(crate) fn note(tenant_id: TenantId, chat: Option<i64>) {
    let change = Change { tenant: tenant_id.get(), chat };
    NOTED.with(|noted| {
        let mut noted = noted.borrow_mut();
        if !noted.contains(&change) {
            noted.push(change);
        }
    });
}

/// The changes noted on this thread since the last call.
pub(crate) fn take() -> Vec<Change> {
    NOTED.with(|noted| std::mem::take(&mut *noted.borrow_mut()))
}

/// What a viewer hears.
#[derive(Debug, Clone)]
pub enum Seen {
    /// These chats changed; `agent` is each one's agent now.
    Changed(Arc<Vec<SeenChange>>),
    /// Changes may have been missed (the feed was away): read everything again.
    Resync,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenChange {
    pub tenant: TenantId,
    pub chat: Option<i64>,
    /// The chat's agent as it is now (`None`: unassigned, or no chat).
    pub agent: Option<i64>,
}

/// The channel on Redis (`{prefix}console-changes`) where instances tell each other which
/// chats changed.
pub fn redis_channel(target: &sms_lock::RedisTarget, prefix: &str) -> Result<RedisChannel, sms_lock::LockError> {
    RedisChannel::new(target, prefix, CHANNEL)
}

/// How changes travel between instances.
#[derive(Clone)]
pub(crate) struct LiveFeed {
    inner: Arc<FeedInner>,
}

struct FeedInner {
    /// Changes heard (from this instance or, over Redis, from any), to the hub.
    heard: broadcast::Sender<Heard>,
    /// Changes to publish over Redis, when instances share one.
    outgoing: Option<mpsc::UnboundedSender<Vec<Change>>>,
    channel: Option<RedisChannel>,
    outgoing_rx: std::sync::Mutex<Option<mpsc::UnboundedReceiver<Vec<Change>>>>,
}

/// The name of the channel on Redis, after the key prefix.
const CHANNEL: &str = "console-changes";
/// Most changes one message on Redis carries.
const MAX_PER_MESSAGE: usize = 500;
/// Changes that arrive together are told together: a burst costs one read per batch.
const GATHER: Duration = Duration::from_millis(50);

impl LiveFeed {
    pub(crate) fn new(channel: Option<RedisChannel>) -> Self {
        let (heard, _) = broadcast::channel(1024);
        let (outgoing, outgoing_rx) = match channel {
            Some(_) => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        Self {
            inner: Arc::new(FeedInner { heard, outgoing, channel, outgoing_rx: std::sync::Mutex::new(outgoing_rx) }),
        }
    }

    /// Publishes committed changes; never blocks.
    pub(crate) fn publish(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        match &self.inner.outgoing {
            Some(outgoing) => {
                let _closed = outgoing.send(changes);
            }
            None => {
                if let Ok(payload) = serde_json::to_string(&changes) {
                    // Nobody listening is no fault.
                    let _ = self.inner.heard.send(Heard::Message(payload));
                }
            }
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Heard> {
        self.inner.heard.subscribe()
    }

    /// Over Redis: publishes what this instance changed and hears every instance's changes,
    /// for as long as the future runs. In process: nothing to do.
    pub(crate) async fn run(&self) {
        let Some(channel) = &self.inner.channel else { return };
        let outgoing = self.inner.outgoing_rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let publish = async {
            let Some(mut outgoing) = outgoing else { return };
            while let Some(mut changes) = outgoing.recv().await {
                // Whatever else is waiting goes in the same message: a busy instance publishes
                // once per burst, not once per request.
                while changes.len() < MAX_PER_MESSAGE {
                    match outgoing.try_recv() {
                        Ok(more) => changes.extend(more),
                        Err(_) => break,
                    }
                }
                let Ok(payload) = serde_json::to_string(&changes) else { continue };
                if let Err(e) = channel.publish(&payload).await {
                    // The pages of other instances catch up when their viewers reconnect.
                    tracing::debug!(error = %e, "could not publish console changes");
                }
            }
        };
        let heard = self.inner.heard.clone();
        let listen = channel.listen(move |h| {
            let _ = heard.send(h);
        });
        tokio::join!(publish, listen);
    }
}

/// One per instance: turns heard changes into what viewers see.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    seen: broadcast::Sender<Seen>,
    viewers: AtomicUsize,
}

/// A viewer's subscription; the hub counts it while it lives.
pub struct Viewing {
    hub: Hub,
    pub receiver: broadcast::Receiver<Seen>,
    /// Turns true when the instance shuts down: the page's stream ends (the browser reconnects
    /// to another instance).
    pub closing: tokio::sync::watch::Receiver<bool>,
}

impl Drop for Viewing {
    fn drop(&mut self) {
        self.hub.inner.viewers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Hub {
    pub(crate) fn new() -> Self {
        let (seen, _) = broadcast::channel(1024);
        Self { inner: Arc::new(HubInner { seen, viewers: AtomicUsize::new(0) }) }
    }

    pub(crate) fn watch(&self, closing: tokio::sync::watch::Receiver<bool>) -> Viewing {
        self.inner.viewers.fetch_add(1, Ordering::Relaxed);
        Viewing { hub: self.clone(), receiver: self.inner.seen.subscribe(), closing }
    }

    /// Hears `feed` and tells viewers, for as long as the future runs.
    pub(crate) async fn run(&self, feed: &LiveFeed, store: Store) {
        let mut heard = feed.subscribe();
        loop {
            let first = match heard.recv().await {
                Ok(h) => h,
                Err(broadcast::error::RecvError::Lagged(_)) => Heard::Listening,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let mut batch = vec![first];
            let until = tokio::time::Instant::now() + GATHER;
            while let Ok(Ok(next)) = tokio::time::timeout_at(until, heard.recv()).await {
                batch.push(next);
            }
            if self.inner.viewers.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut changes: Vec<Change> = Vec::new();
            let mut resync = false;
            for h in batch {
                match h {
                    Heard::Message(payload) => {
                        for change in serde_json::from_str::<Vec<Change>>(&payload).unwrap_or_default() {
                            if !changes.contains(&change) {
                                changes.push(change);
                            }
                        }
                    }
                    // Subscribed again after a loss, or fell behind: something may be missed.
                    Heard::Listening | Heard::Lost => resync = true,
                }
            }
            if resync {
                let _ = self.inner.seen.send(Seen::Resync);
            }
            if changes.is_empty() {
                continue;
            }
            let ids: Vec<i64> = changes.iter().filter_map(|c| c.chat).collect();
            let store = store.clone();
            let agents =
                tokio::task::spawn_blocking(move || store.with_conn(|conn| sms_store::chats::agents_of(conn, &ids)))
                    .await
                    .ok()
                    .and_then(Result::ok);
            let Some(agents) = agents else {
                // The chats' agents cannot be read: everyone reads their pages again.
                let _ = self.inner.seen.send(Seen::Resync);
                continue;
            };
            let seen: Vec<SeenChange> = changes
                .iter()
                .map(|c| SeenChange {
                    tenant: TenantId::new(c.tenant),
                    chat: c.chat,
                    agent: c.chat.and_then(|id| agents.iter().find(|(chat, _)| *chat == id).and_then(|(_, a)| *a)),
                })
                .collect();
            let _ = self.inner.seen.send(Seen::Changed(Arc::new(seen)));
        }
    }
}
