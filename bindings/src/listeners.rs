//! Live updates. An app registers a listener (a foreign callback trait) for a view and keeps
//! the returned [`ListenerHandle`]; closing or dropping the handle unsubscribes. The listener
//! first gets the whole view, then, after every command or sync that may have changed it,
//! the change: index-based diffs for a timeline (apply them in order to your list), the new
//! value for the small views (groups, moderation, queue) whenever it differs.
//!
//! Invariants:
//! - No lock is held while a listener runs. Views are computed under the profile's lock,
//!   diffed under the hub's lock, and queued; one dispatcher thread per profile calls the
//!   listeners, so each listener sees its updates in order, off the caller's thread, and a
//!   listener may call back into the profile without deadlocking.
//! - Refreshes are serialised (`refresh` lock), so a slower refresh never overwrites a newer
//!   view with an older one.
//! - A listener that throws is reported and keeps its subscription; the command that caused the
//!   update has already succeeded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, Weak};

use hearth_core::{GroupId, SortKey};

use crate::error::HearthError;
use crate::types::{GroupInfo, ModerationView, QueueItem, SyncReport, TimelineItem};

/// A change to a timeline list, applied in order (like Android's `ListUpdateCallback` or a
/// SwiftUI diff): indices refer to the list as it stands after the previous diff.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TimelineDiff {
    /// Replace the whole list (always the first update a listener gets).
    Reset {
        items: Vec<TimelineItem>,
    },
    Insert {
        index: u32,
        item: TimelineItem,
    },
    Set {
        index: u32,
        item: TimelineItem,
    },
    Remove {
        index: u32,
    },
}

/// The newest messages of one group, oldest first, as diffs.
#[uniffi::export(foreign)]
pub trait TimelineListener: Send + Sync {
    fn on_update(&self, diffs: Vec<TimelineDiff>) -> Result<(), HearthError>;
}

/// The group list, whole, whenever it changes.
#[uniffi::export(foreign)]
pub trait GroupsListener: Send + Sync {
    fn on_update(&self, groups: Vec<GroupInfo>) -> Result<(), HearthError>;
}

/// One group's rules, pins, duty and this member's standing, whenever they change.
#[uniffi::export(foreign)]
pub trait ModerationListener: Send + Sync {
    fn on_update(&self, view: ModerationView) -> Result<(), HearthError>;
}

/// The moderators' review queue (open items), whenever it changes.
#[uniffi::export(foreign)]
pub trait QueueListener: Send + Sync {
    fn on_update(&self, items: Vec<QueueItem>) -> Result<(), HearthError>;
}

/// What each sync did (the background loop's, `sync_now`'s and `background_sync`'s).
#[uniffi::export(foreign)]
pub trait SyncListener: Send + Sync {
    fn on_sync(&self, status: SyncStatus) -> Result<(), HearthError>;
}

/// The outcome of one sync, for a status line ("offline, 3 messages waiting").
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatus {
    pub ok: bool,
    /// The relay could not be reached: nothing is lost, the next sync sends it.
    pub offline: bool,
    pub report: Option<SyncReport>,
    pub error: Option<String>,
    pub at_ms: i64,
}

/// What a subscription watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Watch {
    Groups,
    Timeline {
        group: GroupId,
        limit: usize,
    },
    Moderation {
        group: GroupId,
    },
    Queue,
    /// Sync events; not a view, nothing to refresh.
    Sync,
}

/// A view as computed, kept to diff the next one against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum View {
    Groups(Vec<GroupInfo>),
    Timeline(Vec<(SortKey, TimelineItem)>),
    Moderation(Box<ModerationView>),
    Queue(Vec<QueueItem>),
}

#[derive(Clone)]
pub(crate) enum Sink {
    Groups(Arc<dyn GroupsListener>),
    Timeline(Arc<dyn TimelineListener>),
    Moderation(Arc<dyn ModerationListener>),
    Queue(Arc<dyn QueueListener>),
    Sync(Arc<dyn SyncListener>),
}

enum Payload {
    Groups(Vec<GroupInfo>),
    Timeline(Vec<TimelineDiff>),
    Moderation(Box<ModerationView>),
    Queue(Vec<QueueItem>),
    Sync(SyncStatus),
}

struct Delivery {
    id: u64,
    sink: Sink,
    payload: Payload,
}

struct Sub {
    watch: Watch,
    sink: Sink,
    last: Option<View>,
}

struct HubState {
    subs: Mutex<BTreeMap<u64, Sub>>,
    failures: AtomicU64,
}

/// The subscriptions of one profile and the thread that delivers to them.
pub(crate) struct Hub {
    state: Arc<HubState>,
    next: AtomicU64,
    tx: Mutex<Sender<Delivery>>,
    /// Held for a whole refresh (compute, diff, queue), never while a listener runs.
    pub(crate) refresh: Mutex<()>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere must not take every later call down with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Hub {
    pub(crate) fn new() -> Hub {
        let state = Arc::new(HubState {
            subs: Mutex::new(BTreeMap::new()),
            failures: AtomicU64::new(0),
        });
        let (tx, rx) = channel::<Delivery>();
        let weak = Arc::downgrade(&state);
        // The thread ends when the hub (and so the sender) is dropped.
        let spawned = std::thread::Builder::new()
            .name("hearth-listeners".into())
            .spawn(move || {
                for d in rx {
                    let Some(state) = weak.upgrade() else { break };
                    if !lock(&state.subs).contains_key(&d.id) {
                        continue; // unsubscribed after this was queued
                    }
                    let result = match (d.sink, d.payload) {
                        (Sink::Groups(l), Payload::Groups(v)) => l.on_update(v),
                        (Sink::Timeline(l), Payload::Timeline(v)) => l.on_update(v),
                        (Sink::Moderation(l), Payload::Moderation(v)) => l.on_update(*v),
                        (Sink::Queue(l), Payload::Queue(v)) => l.on_update(v),
                        (Sink::Sync(l), Payload::Sync(v)) => l.on_sync(v),
                        _ => Ok(()),
                    };
                    if let Err(e) = result {
                        state.failures.fetch_add(1, Ordering::Relaxed);
                        eprintln!("hearth: listener {} failed: {e}", d.id);
                    }
                }
            });
        if let Err(e) = spawned {
            eprintln!("hearth: could not start the listener thread: {e}");
        }
        Hub {
            state,
            next: AtomicU64::new(1),
            tx: Mutex::new(tx),
            refresh: Mutex::new(()),
        }
    }

    pub(crate) fn subscribe(&self, watch: Watch, sink: Sink) -> Arc<ListenerHandle> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.state.subs).insert(
            id,
            Sub {
                watch,
                sink,
                last: None,
            },
        );
        Arc::new(ListenerHandle {
            hub: Arc::downgrade(&self.state),
            id,
        })
    }

    /// The subscriptions to refresh: all, or just `only` (a new one's first view).
    pub(crate) fn watches(&self, only: Option<u64>) -> Vec<(u64, Watch)> {
        lock(&self.state.subs)
            .iter()
            .filter(|(id, s)| only.is_none_or(|o| o == **id) && s.watch != Watch::Sync)
            .map(|(id, s)| (*id, s.watch.clone()))
            .collect()
    }

    /// Diffs each new view against what its listener last got and queues what changed.
    pub(crate) fn publish(&self, views: Vec<(u64, View)>) {
        let tx = lock(&self.tx);
        let mut subs = lock(&self.state.subs);
        for (id, view) in views {
            let Some(sub) = subs.get_mut(&id) else {
                continue;
            };
            let payload = match (&sub.last, &view) {
                (Some(old), new) if old == new => None,
                (Some(View::Timeline(old)), View::Timeline(new)) => {
                    Some(Payload::Timeline(diff(old, new)))
                }
                (_, View::Timeline(new)) => Some(Payload::Timeline(vec![TimelineDiff::Reset {
                    items: new.iter().map(|(_, i)| i.clone()).collect(),
                }])),
                (_, View::Groups(v)) => Some(Payload::Groups(v.clone())),
                (_, View::Moderation(v)) => Some(Payload::Moderation(v.clone())),
                (_, View::Queue(v)) => Some(Payload::Queue(v.clone())),
            };
            sub.last = Some(view);
            if let Some(payload) = payload {
                // A send fails only if the dispatcher thread is gone; nothing to deliver to.
                let _ = tx.send(Delivery {
                    id,
                    sink: sub.sink.clone(),
                    payload,
                });
            }
        }
    }

    /// Tells every sync listener what a sync did.
    pub(crate) fn publish_sync(&self, status: SyncStatus) {
        let tx = lock(&self.tx);
        for (id, sub) in lock(&self.state.subs).iter() {
            if let Sink::Sync(_) = sub.sink {
                let _ = tx.send(Delivery {
                    id: *id,
                    sink: sub.sink.clone(),
                    payload: Payload::Sync(status.clone()),
                });
            }
        }
    }

    /// Listener calls that threw, since the profile was opened.
    pub(crate) fn failures(&self) -> u64 {
        self.state.failures.load(Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        lock(&self.state.subs).clear();
    }
}

/// Keeps a listener subscribed. `cancel()`, or closing/dropping the handle, unsubscribes;
/// both may be called any number of times.
#[derive(uniffi::Object)]
pub struct ListenerHandle {
    hub: Weak<HubState>,
    id: u64,
}

#[uniffi::export]
impl ListenerHandle {
    /// Stops updates: none starts after this returns (one already running finishes).
    pub fn cancel(&self) {
        if let Some(hub) = self.hub.upgrade() {
            lock(&hub.subs).remove(&self.id);
        }
    }

    pub fn is_active(&self) -> bool {
        self.hub
            .upgrade()
            .is_some_and(|hub| lock(&hub.subs).contains_key(&self.id))
    }
}

impl ListenerHandle {
    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for ListenerHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// The diffs that turn `old` into `new`; both are sorted by sort key, which never changes
/// for a message, so one merge walk finds every insert, change and removal.
pub(crate) fn diff(
    old: &[(SortKey, TimelineItem)],
    new: &[(SortKey, TimelineItem)],
) -> Vec<TimelineDiff> {
    let mut out = Vec::new();
    let (mut i, mut j, mut at) = (0, 0, 0u32);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some((ko, _)), Some((kn, _))) if ko < kn => {
                out.push(TimelineDiff::Remove { index: at });
                i += 1;
            }
            (Some(_), None) => {
                out.push(TimelineDiff::Remove { index: at });
                i += 1;
            }
            (Some((ko, io)), Some((kn, inew))) if ko == kn => {
                if io != inew {
                    out.push(TimelineDiff::Set {
                        index: at,
                        item: inew.clone(),
                    });
                }
                i += 1;
                j += 1;
                at += 1;
            }
            (_, Some((_, inew))) => {
                out.push(TimelineDiff::Insert {
                    index: at,
                    item: inew.clone(),
                });
                j += 1;
                at += 1;
            }
            (None, None) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DeliveryState;
    use hearth_core::MessageId;

    fn item(stamp: i64, text: &str) -> (SortKey, TimelineItem) {
        let id = MessageId([stamp as u8; 16]);
        let key = SortKey { stamp, id };
        (
            key,
            TimelineItem {
                id: id.to_hex(),
                sort_key: key.to_hex(),
                author: String::new(),
                author_name: "A".into(),
                is_mine: false,
                text: text.into(),
                sent_at_ms: stamp,
                edited: false,
                deleted: false,
                reactions: vec![],
                state: DeliveryState::Sent,
                hidden: false,
                held: false,
                moderation_note: None,
                correction: None,
                correction_by: None,
                warning: None,
                filter: None,
            },
        )
    }

    /// Applies diffs as an app would.
    fn apply(list: &mut Vec<TimelineItem>, diffs: &[TimelineDiff]) {
        for d in diffs {
            match d {
                TimelineDiff::Reset { items } => *list = items.clone(),
                TimelineDiff::Insert { index, item } => list.insert(*index as usize, item.clone()),
                TimelineDiff::Set { index, item } => list[*index as usize] = item.clone(),
                TimelineDiff::Remove { index } => {
                    list.remove(*index as usize);
                }
            }
        }
    }

    #[test]
    fn diffs_rebuild_the_new_list_from_the_old() {
        let old = vec![item(1, "a"), item(2, "b"), item(4, "d"), item(6, "f")];
        let new = vec![
            item(2, "b (edited)"),
            item(3, "c"),
            item(4, "d"),
            item(7, "g"),
        ];
        let diffs = diff(&old, &new);
        let mut list: Vec<TimelineItem> = old.iter().map(|(_, i)| i.clone()).collect();
        apply(&mut list, &diffs);
        let want: Vec<TimelineItem> = new.iter().map(|(_, i)| i.clone()).collect();
        assert_eq!(list, want);
        // Unchanged items are not sent again.
        assert!(!diffs
            .iter()
            .any(|d| matches!(d, TimelineDiff::Set { item, .. } if item.text == "d")));
        assert!(diff(&new, &new).is_empty());
        let mut list = Vec::new();
        apply(&mut list, &diff(&[], &new));
        assert_eq!(list, want);
    }
}
