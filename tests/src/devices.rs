//! Devices for sync scenarios: each a profile in its own temporary home, driven through the
//! core's `Companion` over HTTP to a relay (directly or through a [`crate::proxy::Proxy`]).

use std::sync::Arc;
use std::time::Duration;

use hearth_core::{
    Backoff, Capacity, Companion, GroupId, HttpTransport, ManualClock, Role, SecretKey,
    StoreSecret, SyncOptions, SyncReport, TimelineItem,
};

/// Fast retries: scenario tests run against loopback.
pub fn quick_options() -> SyncOptions {
    SyncOptions {
        attempts: 8,
        backoff: Backoff::new(Duration::from_millis(20), Duration::from_millis(200)),
        max_rounds: 12,
    }
}

pub struct Device {
    pub name: String,
    pub home: tempfile::TempDir,
    pub companion: Companion,
    pub clock: Arc<ManualClock>,
    url: String,
}

/// Devices' clocks start at the real time (the relay checks invite expiry by its own clock)
/// and are then moved by hand.
pub fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Device {
    pub fn new(name: &str, role: Role, url: &str) -> Device {
        let home = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(ManualClock::new(wall_clock_ms()));
        let companion =
            Companion::create_with_clock(home.path(), secret(), name, role, clock.clone())
                .expect("create profile");
        Device {
            name: name.to_string(),
            home,
            companion,
            clock,
            url: url.to_string(),
        }
    }

    /// Points later syncs at another address (a proxy, a restarted relay).
    pub fn set_url(&mut self, url: &str) {
        self.url = url.to_string();
    }

    pub fn transport(&self) -> HttpTransport {
        HttpTransport::new(&self.url)
    }

    pub fn sync(&mut self) -> SyncReport {
        self.try_sync()
            .unwrap_or_else(|e| panic!("{} could not sync: {e}", self.name))
    }

    pub fn try_sync(&mut self) -> hearth_core::Result<SyncReport> {
        let mut t = self.transport();
        self.companion.sync(&mut t, &quick_options())
    }

    /// One sync over any transport (a faulty one, a proxy), with quick retries.
    pub fn sync_over(
        &mut self,
        t: &mut dyn hearth_core::Transport,
    ) -> hearth_core::Result<SyncReport> {
        self.companion.sync(t, &quick_options())
    }

    pub fn create_group(&mut self, name: &str) -> GroupId {
        self.companion
            .create_group(name, Capacity::new(None, None).unwrap())
            .expect("create group")
            .id
    }

    /// Invite → join → admission, syncing the moderator and the joiner as needed.
    pub fn admit(&mut self, group: &GroupId, joiner: &mut Device, role: Role) {
        let code = self
            .companion
            .invite(group, role, 24 * 3600 * 1000)
            .expect("invite")
            .code;
        self.sync();
        let mut t = joiner.transport();
        joiner.companion.join(&code, &mut t).expect("join");
        self.sync();
        joiner.sync();
    }

    pub fn send(&mut self, group: &GroupId, text: &str) {
        self.clock.advance(1000);
        self.companion.send(group, text).expect("send");
    }

    /// The whole timeline, oldest first.
    pub fn timeline(&self, group: &GroupId) -> Vec<TimelineItem> {
        let mut items = Vec::new();
        let mut before = None;
        loop {
            let page = self
                .companion
                .timeline(group, before, 500)
                .expect("timeline");
            let mut p = page.items;
            p.append(&mut items);
            items = p;
            match page.older {
                Some(k) => before = Some(k),
                None => return items,
            }
        }
    }

    /// (author name, text) in order: what a person sees.
    pub fn texts(&self, group: &GroupId) -> Vec<(String, String)> {
        self.timeline(group)
            .into_iter()
            .map(|i| (i.author_name, i.text))
            .collect()
    }

    /// Reopens the profile from its store, as after a restart.
    pub fn restart(&mut self) {
        let clock = self.clock.clone();
        let fresh =
            Companion::open_with_clock(self.home.path(), secret(), clock).expect("reopen profile");
        let old = std::mem::replace(&mut self.companion, fresh);
        drop(old);
    }
}

pub fn secret() -> StoreSecret {
    StoreSecret::RawKey(SecretKey::from_bytes([7; 32]))
}

impl Device {
    /// What a removed member still has on her phone: every epoch key her store holds, read
    /// from the store itself with her secret (as she could).
    pub fn into_epoch_keys(self, group: &GroupId) -> std::collections::BTreeMap<u32, [u8; 32]> {
        let path = self.companion.store_path();
        self.companion.close().expect("close profile");
        let store = hearth_core::store::Store::open(&path, &secret()).expect("open her store");
        let row = hearth_core::group::storage::find(store.conn(), store.cipher(), group)
            .unwrap()
            .expect("her store holds the group");
        let summary = hearth_core::group::storage::load(store.conn(), store.cipher(), row).unwrap();
        summary.keys.iter().map(|(n, k)| (*n, k.0)).collect()
    }
}

/// Every envelope a relay's SQLite file holds: (epoch, chapters, CBOR envelope).
pub fn relay_envelopes(db: &std::path::Path) -> Vec<(u32, hearth_protocol::envelope::Envelope)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open relay db");
    let mut stmt = conn
        .prepare("SELECT epoch, envelope FROM envelopes ORDER BY cursor")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .unwrap()
        .map(|r| {
            let (e, bytes) = r.unwrap();
            (
                e,
                hearth_protocol::wire::decode("envelope", &bytes).unwrap(),
            )
        })
        .collect()
}

/// A phone-to-phone bundle holding `envelopes` and no log, as a peer could hand over.
pub fn bundle_of(group: &GroupId, envelopes: Vec<hearth_protocol::envelope::Envelope>) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Bundle {
        v: u8,
        g: GroupId,
        l: Vec<hearth_protocol::ids::Signed>,
        e: Vec<hearth_protocol::envelope::Envelope>,
    }
    hearth_protocol::wire::encode(&Bundle {
        v: 1,
        g: *group,
        l: Vec::new(),
        e: envelopes,
    })
}

/// A relay on loopback with its SQLite file in a fresh temporary directory (kept alive by the
/// returned guard, so tests can read the relay's own file).
pub fn relay() -> (tempfile::TempDir, hearth_relay::RelayHandle) {
    let dir = tempfile::tempdir().expect("temp dir");
    let handle = hearth_relay::spawn_for_tests(&dir.path().join("relay.db"));
    (dir, handle)
}

/// Every byte of every file directly in `dir` (a relay's database, WAL and journal), for tests
/// that check nothing readable is stored there.
pub fn all_bytes_of(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("dir entry").path();
        if p.is_file() {
            out.extend(std::fs::read(&p).expect("read file"));
        }
    }
    out
}

/// Whether `needle` appears in `hay` as UTF-8 bytes.
pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}
