//! [`HearthCompanion`]: one profile, the object an app holds for as long as the profile is
//! open. (Not `Companion`, the core's name: in Kotlin that is the name of every class's
//! companion object, and the generated class would not compile.)
//!
//! It keeps two core handles on the same encrypted store (the core supports several, as the
//! CLI and a background task do): `ui` serves commands and views under a short lock; `net`
//! is checked out for a whole sync or join, so the app's HTTP client runs with **no lock
//! held** and the screens stay responsive while a slow network call is under way. A second
//! sync waits for the first to hand the network handle back.
//!
//! Lifecycle: `start` runs a sync loop on a thread of its own (foreground), `stop` ends it,
//! `sync_now` syncs once on the caller's thread, and `background_sync` syncs within a deadline
//! for Android WorkManager or iOS BGTaskScheduler and reports what it did. `shutdown` closes
//! the store; dropping the last reference does too.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hearth_core::filters::FilterMode as CoreFilterMode;
use hearth_core::{Backoff, Capacity, Companion as Core, SyncOptions};

use crate::error::{HearthError, Result};
use crate::listeners::{
    lock, GroupsListener, Hub, ListenerHandle, QueueListener, Sink, SyncListener, SyncStatus, View,
    Watch,
};
use crate::platform::{read_key, secret, RelayHttp, RelayTransport, StoreKeySource};
use crate::timeline::GroupTimeline;
use crate::types::{
    parse_group, ContentFilters, FilterMode, GroupInfo, HelpNow, ProfileInfo, QueueItem, Role,
    Situation, SyncReport,
};

/// The network handle's slot: checked out for the length of one sync or join.
struct NetSlot {
    handle: Option<Core>,
    closed: bool,
}

pub(crate) struct Shared {
    ui: Mutex<Option<Core>>,
    net: Mutex<NetSlot>,
    net_returned: Condvar,
    transport: Arc<dyn RelayTransport>,
    pub(crate) hub: Hub,
    sync_loop: Mutex<Option<SyncLoop>>,
}

struct SyncLoop {
    control: Arc<(Mutex<LoopState>, Condvar)>,
    thread: JoinHandle<()>,
}

#[derive(Default)]
struct LoopState {
    stop: bool,
    wake: bool,
}

/// A checked-out network handle; goes back into its slot when dropped, even on a panic.
struct NetGuard<'a> {
    shared: &'a Shared,
    core: Option<Core>,
}

impl std::ops::Deref for NetGuard<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.core.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for NetGuard<'_> {
    fn deref_mut(&mut self) -> &mut Core {
        self.core.as_mut().expect("present until dropped")
    }
}

impl Drop for NetGuard<'_> {
    fn drop(&mut self) {
        if let Some(core) = self.core.take() {
            let mut slot = lock(&self.shared.net);
            if slot.closed {
                let _ = core.close();
            } else {
                slot.handle = Some(core);
            }
            self.shared.net_returned.notify_all();
        }
    }
}

/// How a foreground sync tries: a person may be waiting, so a dead relay is reported within
/// seconds (the next sync resumes).
fn foreground_options() -> SyncOptions {
    SyncOptions {
        attempts: 3,
        backoff: Backoff::new(Duration::from_millis(400), Duration::from_secs(4)),
        ..SyncOptions::default()
    }
}

/// A background sync makes one attempt per round trip: a retry's wait would eat its deadline.
fn background_options() -> SyncOptions {
    SyncOptions {
        attempts: 1,
        ..SyncOptions::default()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Shared {
    fn open(ui: Core, net: Core, transport: Arc<dyn RelayTransport>) -> Arc<Shared> {
        Arc::new(Shared {
            ui: Mutex::new(Some(ui)),
            net: Mutex::new(NetSlot {
                handle: Some(net),
                closed: false,
            }),
            net_returned: Condvar::new(),
            transport,
            hub: Hub::new(),
            sync_loop: Mutex::new(None),
        })
    }

    fn ui(&self) -> Result<MutexGuard<'_, Option<Core>>> {
        let guard = lock(&self.ui);
        if guard.is_none() {
            return Err(HearthError::closed());
        }
        Ok(guard)
    }

    /// Runs a read on the UI handle.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Core) -> hearth_core::Result<T>) -> Result<T> {
        let guard = self.ui()?;
        let core = guard.as_ref().ok_or_else(HearthError::closed)?;
        Ok(f(core)?)
    }

    /// Runs a command on the UI handle, then refreshes every listener (with the lock released).
    pub(crate) fn change<T>(
        &self,
        f: impl FnOnce(&mut Core) -> hearth_core::Result<T>,
    ) -> Result<T> {
        let value = {
            let mut guard = self.ui()?;
            let core = guard.as_mut().ok_or_else(HearthError::closed)?;
            f(core)?
        };
        self.refresh(None);
        Ok(value)
    }

    /// Recomputes the watched views and queues what changed for the listeners.
    pub(crate) fn refresh(&self, only: Option<u64>) {
        let _serial = lock(&self.hub.refresh);
        let watches = self.hub.watches(only);
        if watches.is_empty() {
            return;
        }
        let views: Vec<(u64, View)> = {
            let guard = lock(&self.ui);
            let Some(core) = guard.as_ref() else { return };
            watches
                .into_iter()
                .filter_map(|(id, w)| match compute(core, &w) {
                    Ok(v) => Some((id, v)),
                    Err(e) => {
                        eprintln!("hearth: could not refresh listener {id}: {e}");
                        None
                    }
                })
                .collect()
        };
        self.hub.publish(views);
    }

    pub(crate) fn subscribe(&self, watch: Watch, sink: Sink) -> Result<Arc<ListenerHandle>> {
        drop(self.ui()?); // refuse on a closed profile
        let handle = self.hub.subscribe(watch, sink);
        self.refresh(Some(handle_id(&handle)));
        Ok(handle)
    }

    /// Takes the network handle, waiting for a sync under way to finish (up to `wait`).
    fn checkout(&self, wait: Option<Duration>) -> Result<NetGuard<'_>> {
        let until = wait.map(|w| Instant::now() + w);
        let mut slot = lock(&self.net);
        loop {
            if slot.closed {
                return Err(HearthError::closed());
            }
            if let Some(core) = slot.handle.take() {
                return Ok(NetGuard {
                    shared: self,
                    core: Some(core),
                });
            }
            slot = match until {
                None => self
                    .net_returned
                    .wait(slot)
                    .unwrap_or_else(|p| p.into_inner()),
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(HearthError::StoreBusy {
                            detail: "another sync was still running when the time ran out".into(),
                        });
                    }
                    self.net_returned
                        .wait_timeout(slot, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    fn relay_http(&self, deadline: Option<Instant>) -> Result<RelayHttp> {
        let base = self
            .read(|c| Ok(c.relay()))?
            .ok_or_else(|| HearthError::NoRelay {
                detail: "no relay is set for this profile; set one with set_relay".into(),
            })?;
        Ok(RelayHttp::new(base, self.transport.clone(), deadline))
    }

    /// One sync over the network handle; listeners are refreshed and told either way (what
    /// was applied before a failure stays applied).
    fn sync(
        &self,
        options: SyncOptions,
        deadline: Option<Instant>,
        wait: Option<Duration>,
    ) -> (Result<SyncReport>, bool) {
        let result = (|| {
            let mut http = self.relay_http(deadline)?;
            let mut net = self.checkout(wait)?;
            let result = net.sync(&mut http, &options);
            drop(net);
            let deadline_hit = http.deadline_hit;
            Ok::<_, HearthError>((
                result.map(SyncReport::from).map_err(|e| http.explain(e)),
                deadline_hit,
            ))
        })();
        let (result, deadline_hit) = match result {
            Ok((r, hit)) => (r, hit),
            Err(e) => (Err(e), false),
        };
        if !matches!(result, Err(HearthError::Closed { .. })) {
            self.refresh(None);
            self.hub.publish_sync(SyncStatus {
                ok: result.is_ok(),
                offline: matches!(result, Err(HearthError::RelayUnreachable { .. })),
                report: result.as_ref().ok().cloned(),
                error: result.as_ref().err().map(|e| e.to_string()),
                at_ms: now_ms(),
            });
        }
        (result, deadline_hit)
    }

    fn stop_loop(&self) -> bool {
        let Some(running) = lock(&self.sync_loop).take() else {
            return false;
        };
        let (state, cv) = &*running.control;
        lock(state).stop = true;
        cv.notify_all();
        // The loop thread finishes a sync under way on its own; it holds no reference that
        // keeps the profile open, and never joins here, so `stop` returns at once.
        drop(running.thread);
        true
    }

    fn shutdown(&self) -> Result<()> {
        self.stop_loop();
        self.hub.clear();
        let ui = lock(&self.ui).take();
        let net = {
            let mut slot = lock(&self.net);
            slot.closed = true;
            slot.handle.take()
        };
        self.net_returned.notify_all();
        let mut result = Ok(());
        for core in [ui, net].into_iter().flatten() {
            if let Err(e) = core.close() {
                result = Err(e.into());
            }
        }
        result
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn handle_id(handle: &ListenerHandle) -> u64 {
    handle.id()
}

fn compute(core: &Core, watch: &Watch) -> hearth_core::Result<View> {
    Ok(match watch {
        Watch::Groups => View::Groups(core.groups()?.into_iter().map(Into::into).collect()),
        Watch::Timeline { group, limit } => View::Timeline(
            core.timeline(group, None, *limit)?
                .items
                .into_iter()
                .map(|i| (i.sort_key, i.into()))
                .collect(),
        ),
        Watch::Moderation { group } => View::Moderation(Box::new(core.moderation(group)?.into())),
        Watch::Queue => View::Queue(core.queue(false)?.into_iter().map(Into::into).collect()),
        Watch::Sync => unreachable!("sync subscriptions are never refreshed (Hub::watches)"),
    })
}

/// How a background sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum BackgroundOutcome {
    /// Everything is sent and fetched.
    CaughtUp,
    /// Progress was made; there is more (schedule another run soon).
    MoreToDo,
    /// The deadline came first; what was done is kept.
    DeadlineReached,
    /// The relay could not be reached; nothing is lost.
    Offline,
    /// Another sync held the network until the deadline.
    Busy,
    /// Something else went wrong: see `error`.
    Failed,
}

/// What `background_sync` did, for WorkManager's `Result` or BGTask's `setTaskCompleted`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BackgroundSyncReport {
    pub outcome: BackgroundOutcome,
    pub report: Option<SyncReport>,
    pub error: Option<String>,
    pub elapsed_ms: u64,
}

/// One profile on this device. Thread-safe: call it from any thread, but not the UI thread
/// for `join`, `sync_now` and `background_sync`, which wait for the network.
#[derive(uniffi::Object)]
pub struct HearthCompanion {
    pub(crate) shared: Arc<Shared>,
}

impl HearthCompanion {
    fn with_handles(
        home: &str,
        key: &dyn StoreKeySource,
        transport: Arc<dyn RelayTransport>,
        make_ui: impl FnOnce(&std::path::Path, hearth_core::StoreSecret) -> hearth_core::Result<Core>,
    ) -> Result<Arc<HearthCompanion>> {
        let home = PathBuf::from(home);
        let key = read_key(key)?;
        let ui = make_ui(&home, secret(&key))?;
        let net = Core::open(&home, secret(&key))?;
        Ok(Arc::new(HearthCompanion {
            shared: Shared::open(ui, net, transport),
        }))
    }
}

#[uniffi::export]
impl HearthCompanion {
    /// Creates a profile and its encrypted store in `home` (an app-private directory). The
    /// key comes from `key` (the platform keystore); `relay` is the relay's address, if known.
    #[uniffi::constructor]
    pub fn create(
        home: String,
        key: Arc<dyn StoreKeySource>,
        transport: Arc<dyn RelayTransport>,
        name: String,
        role: Role,
        relay: Option<String>,
    ) -> Result<Arc<HearthCompanion>> {
        // Check the address before anything is written.
        let relay = relay
            .map(|r| hearth_core::sync::parse_relay_url(&r))
            .transpose()?;
        HearthCompanion::with_handles(&home, key.as_ref(), transport, |home, secret| {
            let mut core = Core::create(home, secret, &name, role.into())?;
            if let Some(relay) = &relay {
                core.set_relay(relay)?;
            }
            Ok(core)
        })
    }

    /// Opens the profile in `home`.
    #[uniffi::constructor]
    pub fn open(
        home: String,
        key: Arc<dyn StoreKeySource>,
        transport: Arc<dyn RelayTransport>,
    ) -> Result<Arc<HearthCompanion>> {
        HearthCompanion::with_handles(&home, key.as_ref(), transport, Core::open)
    }

    pub fn profile(&self) -> Result<ProfileInfo> {
        self.shared.read(|c| Ok(c.profile().into()))
    }

    pub fn relay(&self) -> Result<Option<String>> {
        self.shared.read(|c| Ok(c.relay()))
    }

    /// Sets the relay this profile syncs through (`https://host:port`).
    pub fn set_relay(&self, url: String) -> Result<()> {
        self.shared.change(|c| c.set_relay(&url))
    }

    /// Every group on this device, in the order it joined them.
    pub fn groups(&self) -> Result<Vec<GroupInfo>> {
        self.shared
            .read(|c| Ok(c.groups()?.into_iter().map(Into::into).collect()))
    }

    /// A group by id, or by a name typed (exact, then ignoring case).
    pub fn find_group(&self, id_or_name: String) -> Result<GroupInfo> {
        self.shared.read(|c| Ok(c.find_group(&id_or_name)?.into()))
    }

    /// Creates a group moderated by this profile (moderators only). `capacity` defaults to 30;
    /// above 30 needs a `capacity_reason`.
    pub fn create_group(
        &self,
        name: String,
        capacity: Option<u32>,
        capacity_reason: Option<String>,
    ) -> Result<GroupInfo> {
        let capacity = Capacity::new(capacity, capacity_reason.as_deref())
            .map_err(hearth_core::Error::from)?;
        self.shared
            .change(|c| Ok(c.create_group(&name, capacity)?.into()))
    }

    /// Starts a one-to-one conversation (volunteers and moderators): a closed group of
    /// exactly two, which she then invites the other person to.
    pub fn start_conversation(&self, name: String) -> Result<GroupInfo> {
        self.shared
            .change(|c| Ok(c.start_conversation(&name)?.into()))
    }

    /// The object for one group's screen: its timeline, members, moderation and safety.
    pub fn group(&self, group_id: String) -> Result<Arc<GroupTimeline>> {
        let id = parse_group(&group_id)?;
        self.shared
            .read(|c| c.find_group(&id.to_hex()).map(|_| ()))?;
        Ok(Arc::new(GroupTimeline::new(self.shared.clone(), id)))
    }

    /// Registers this device with an invite code at the relay. The group appears at once as
    /// waiting; she is admitted when a moderator's device next syncs, and sees the group from
    /// her own next sync. Waits for the network: not on the UI thread.
    pub fn join(&self, code: String) -> Result<GroupInfo> {
        let mut http = self.shared.relay_http(None)?;
        let joined = {
            let mut net = self.shared.checkout(None)?;
            net.join(&code, &mut http)
        };
        let info = joined.map_err(|e| http.explain(e))?;
        self.shared.refresh(None);
        Ok(info.into())
    }

    /// The review queue across every group this profile moderates: most severe first.
    pub fn queue(&self, include_resolved: bool) -> Result<Vec<QueueItem>> {
        self.shared.read(|c| {
            Ok(c.queue(include_resolved)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Takes a report or alert in hand; the reporter and the other moderators see it.
    pub fn acknowledge(&self, item_id: String) -> Result<()> {
        self.shared.change(|c| c.acknowledge(&item_id))
    }

    /// Closes a report or alert with an outcome the reporter sees.
    pub fn resolve(&self, item_id: String, outcome: String) -> Result<()> {
        self.shared.change(|c| c.resolve(&item_id, &outcome))
    }

    pub fn content_filters(&self) -> Result<ContentFilters> {
        self.shared.read(|c| Ok(c.content_filters()?.into()))
    }

    /// Sets one of her filters: `topic` is `loss`, `birth_trauma`, `low_mood`,
    /// `medical_detail` or `distressing`. Timelines re-render through their listeners.
    pub fn set_content_filter(&self, topic: String, mode: FilterMode) -> Result<ContentFilters> {
        self.shared.change(|c| {
            Ok(c.set_content_filter(&topic, CoreFilterMode::from(mode))?
                .into())
        })
    }

    /// Where to get help now, from this profile's region's help card (offline).
    pub fn help_now(&self, situation: Situation) -> Result<HelpNow> {
        self.shared
            .read(|c| Ok(c.help_now(situation.into())?.into()))
    }

    /// The region whose help card to show (like "GB"); the default card until set.
    pub fn set_help_region(&self, region: String) -> Result<()> {
        self.shared.change(|c| c.set_help_region(&region))
    }

    pub fn add_groups_listener(
        &self,
        listener: Arc<dyn GroupsListener>,
    ) -> Result<Arc<ListenerHandle>> {
        self.shared.subscribe(Watch::Groups, Sink::Groups(listener))
    }

    pub fn add_queue_listener(
        &self,
        listener: Arc<dyn QueueListener>,
    ) -> Result<Arc<ListenerHandle>> {
        self.shared.subscribe(Watch::Queue, Sink::Queue(listener))
    }

    /// Tells `listener` what every later sync did.
    pub fn add_sync_listener(
        &self,
        listener: Arc<dyn SyncListener>,
    ) -> Result<Arc<ListenerHandle>> {
        self.shared.subscribe(Watch::Sync, Sink::Sync(listener))
    }

    /// Listener calls that threw since the profile was opened (each is also logged).
    pub fn listener_failures(&self) -> u64 {
        self.shared.hub.failures()
    }

    // ---- lifecycle

    /// Starts syncing in the foreground: now, then every `interval_secs` (at least 1), on a
    /// thread of its own. Results reach the sync listeners. Returns false if already running.
    pub fn start(&self, interval_secs: u32) -> Result<bool> {
        drop(self.shared.ui()?);
        let mut slot = lock(&self.shared.sync_loop);
        if slot.is_some() {
            return Ok(false);
        }
        let control = Arc::new((Mutex::new(LoopState::default()), Condvar::new()));
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        let ctl = control.clone();
        let interval = Duration::from_secs(u64::from(interval_secs.max(1)));
        let thread = std::thread::Builder::new()
            .name("hearth-sync".into())
            .spawn(move || loop {
                if lock(&ctl.0).stop {
                    break;
                }
                match weak.upgrade() {
                    // Dropped before the next wait: the loop never keeps the profile open.
                    Some(shared) => drop(shared.sync(foreground_options(), None, None)),
                    None => break,
                }
                let (state, cv) = &*ctl;
                let mut s = lock(state);
                let until = Instant::now() + interval;
                while !s.stop && !s.wake {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    s = cv
                        .wait_timeout(s, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                s.wake = false;
            })
            .map_err(|e| HearthError::Internal {
                detail: format!("could not start the sync thread: {e}"),
            })?;
        *slot = Some(SyncLoop { control, thread });
        Ok(true)
    }

    /// Stops the foreground sync loop (a sync under way finishes in the background). Returns
    /// false if it was not running.
    pub fn stop(&self) -> bool {
        self.shared.stop_loop()
    }

    /// Asks a running sync loop to sync now rather than at its next interval (after a push
    /// wake-up, or when the app returns to the foreground). Returns false if none runs.
    pub fn wake(&self) -> bool {
        let guard = lock(&self.shared.sync_loop);
        let Some(running) = guard.as_ref() else {
            return false;
        };
        let (state, cv) = &*running.control;
        lock(state).wake = true;
        cv.notify_all();
        true
    }

    /// Syncs once, now, on the calling thread (not the UI thread): sends what waits, fetches
    /// what is new. Waits for a sync already under way to finish first.
    pub fn sync_now(&self) -> Result<SyncReport> {
        self.shared.sync(foreground_options(), None, None).0
    }

    /// A bounded sync for WorkManager or BGTaskScheduler: returns within `deadline_ms` (given
    /// a transport that honours `HttpRequest.timeout_ms`), never throws, and says what it did.
    pub fn background_sync(&self, deadline_ms: u32) -> BackgroundSyncReport {
        let started = Instant::now();
        let budget = Duration::from_millis(u64::from(deadline_ms));
        let deadline = started + budget;
        let (result, deadline_hit) =
            self.shared
                .sync(background_options(), Some(deadline), Some(budget));
        // A request cut off by the deadline fails like a lost connection; it is the deadline.
        let out_of_time = deadline_hit || Instant::now() + Duration::from_millis(50) >= deadline;
        let outcome = match &result {
            Ok(r) if r.complete => BackgroundOutcome::CaughtUp,
            Ok(_) if out_of_time => BackgroundOutcome::DeadlineReached,
            Ok(_) => BackgroundOutcome::MoreToDo,
            Err(HearthError::StoreBusy { .. }) => BackgroundOutcome::Busy,
            Err(_) if out_of_time => BackgroundOutcome::DeadlineReached,
            Err(HearthError::RelayUnreachable { .. }) => BackgroundOutcome::Offline,
            Err(_) => BackgroundOutcome::Failed,
        };
        BackgroundSyncReport {
            outcome,
            error: result.as_ref().err().map(|e| e.to_string()),
            report: result.ok(),
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Stops syncing, drops every listener and closes the store. Safe to call again; every
    /// later call on this profile (or its groups) fails with `HearthError.Closed`.
    pub fn shutdown(&self) -> Result<()> {
        self.shared.shutdown()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{channel, Receiver, Sender};

    use super::*;
    use crate::listeners::{TimelineDiff, TimelineListener};
    use crate::platform::{HttpRequest, HttpResponse};

    struct Key([u8; 32]);
    impl StoreKeySource for Key {
        fn store_key(&self) -> Result<Vec<u8>> {
            Ok(self.0.to_vec())
        }
    }

    struct Offline;
    impl RelayTransport for Offline {
        fn post(&self, _: HttpRequest) -> Result<HttpResponse> {
            Err(HearthError::RelayUnreachable {
                detail: "offline".into(),
            })
        }
    }

    struct Diffs(Mutex<Sender<Vec<TimelineDiff>>>);
    impl TimelineListener for Diffs {
        fn on_update(&self, diffs: Vec<TimelineDiff>) -> Result<()> {
            let _ = lock(&self.0).send(diffs);
            Ok(())
        }
    }

    fn next(rx: &Receiver<Vec<TimelineDiff>>) -> Vec<TimelineDiff> {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("an update within 10 s")
    }

    fn moderator(dir: &std::path::Path) -> Arc<HearthCompanion> {
        HearthCompanion::create(
            dir.join("ruth").to_string_lossy().into_owned(),
            Arc::new(Key([7; 32])),
            Arc::new(Offline),
            "Midwife Ruth".into(),
            Role::Moderator,
            Some("http://127.0.0.1:9".into()),
        )
        .unwrap()
    }

    #[test]
    fn a_listener_gets_a_reset_then_the_change_and_nothing_after_cancel() {
        let dir = tempfile::tempdir().unwrap();
        let ruth = moderator(dir.path());
        let group = ruth
            .create_group("Due in March".into(), None, None)
            .unwrap();
        let tl = ruth.group(group.id.clone()).unwrap();
        let (tx, rx) = channel();
        let handle = tl
            .add_listener(10, Arc::new(Diffs(Mutex::new(tx))))
            .unwrap();
        assert_eq!(next(&rx), vec![TimelineDiff::Reset { items: vec![] }]);
        let id = tl.send("Welcome".into()).unwrap();
        match next(&rx).as_slice() {
            [TimelineDiff::Insert { index: 0, item }] => assert_eq!(item.id, id),
            other => panic!("expected one insert, got {other:?}"),
        }
        tl.edit(id.clone(), "Welcome, everyone".into()).unwrap();
        match next(&rx).as_slice() {
            [TimelineDiff::Set { index: 0, item }] => assert!(item.edited),
            other => panic!("expected one set, got {other:?}"),
        }
        handle.cancel();
        tl.send("after cancel".into()).unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    }

    #[test]
    fn offline_sync_loses_nothing_and_a_closed_profile_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let ruth = moderator(dir.path());
        let group = ruth
            .create_group("Due in March".into(), None, None)
            .unwrap();
        ruth.group(group.id.clone())
            .unwrap()
            .send("kept".into())
            .unwrap();
        assert!(matches!(
            ruth.sync_now(),
            Err(HearthError::RelayUnreachable { .. })
        ));
        let report = ruth.background_sync(2_000);
        assert_eq!(report.outcome, BackgroundOutcome::Offline, "{report:?}");
        ruth.shutdown().unwrap();
        ruth.shutdown().unwrap();
        assert!(matches!(ruth.groups(), Err(HearthError::Closed { .. })));
        let again = HearthCompanion::open(
            dir.path().join("ruth").to_string_lossy().into_owned(),
            Arc::new(Key([7; 32])),
            Arc::new(Offline),
        )
        .unwrap();
        let page = again.group(group.id).unwrap().page(None, 10).unwrap();
        assert_eq!(page.items[0].text, "kept");
        let wrong = HearthCompanion::open(
            dir.path().join("ruth").to_string_lossy().into_owned(),
            Arc::new(Key([8; 32])),
            Arc::new(Offline),
        );
        assert!(matches!(wrong, Err(HearthError::WrongKey { .. })));
    }
}
