//! [`Companion`]: one profile's Hearth, the object every shell (CLI, Android, iOS) drives.
//!
//! Data flows one way: a command comes in, runs as one store transaction that updates the
//! group document, the timeline and the outbox together, and the screens read view models
//! ([`GroupInfo`], [`TimelinePage`]) back. No command is acknowledged before its transaction
//! has committed, so whatever a shell reports as done survives a crash.
//!
//! Group documents are loaded only to change them, and kept in memory afterwards. A cached
//! document is reused only if the group's `doc_version` in the store still matches, so two
//! processes on one store (the CLI, a background task) never build on a stale document.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::crypto::StoreSecret;
use crate::error::{Error, InputError, Result, StoreError};
use crate::filters::Filtered;
use crate::group::doc::{LocalChange, Mark};
use crate::group::storage::{self, GroupSummary, Standing, SyncState};
use crate::group::{
    assemble, new_group_id, parse_group_name, Capacity, ChapterDoc, GroupId, Member,
};
use crate::identity::{DeviceId, DeviceKeys, Pseudonym, Role};
use crate::membership::{seal_epoch, EpochKey};
use crate::message::{next_stamp, MessageId, MessageText, Reaction, SortKey};
use crate::moderation::Seen;
use crate::outbox::Outbox;
use crate::profile::{self, Profile};
use crate::store::{Store, Writer};
use crate::timeline::{self, DeliveryState, Update};
use hearth_protocol::ids::Hash;
use hearth_protocol::membership::{self as log, MemberState, Membership, Op, OpBody};
use hearth_protocol::AgreementKey;

/// The store file inside a profile's home directory.
pub const STORE_FILE: &str = "hearth.db";

/// Changes kept beside a snapshot before they are folded into a new one.
const COMPACT_AFTER_CHANGES: usize = 256;

/// A group as the group list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub id: GroupId,
    pub name: String,
    /// A one-to-one conversation (a group of exactly two) rather than a group.
    pub conversation: bool,
    pub capacity: u32,
    pub capacity_reason: Option<String>,
    pub member_count: usize,
}

/// The profile as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileInfo {
    pub name: String,
    pub role: Role,
    pub device: DeviceId,
}

/// How many people gave one reaction, and whether this profile is one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionCount {
    pub reaction: Reaction,
    pub count: usize,
    pub mine: bool,
}

/// One message on the chat screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineItem {
    pub id: MessageId,
    pub sort_key: SortKey,
    pub author: DeviceId,
    /// The author's pseudonym, or a placeholder naming her device if it is not known yet.
    pub author_name: String,
    pub is_mine: bool,
    /// Empty when the message was deleted.
    pub text: String,
    /// The author's device clock when she sent it; shown as such, not used for ordering.
    pub sent_at: i64,
    pub edited: bool,
    pub deleted: bool,
    pub reactions: Vec<ReactionCount>,
    pub state: DeliveryState,
    /// A moderator hid it (or its author was muted when she posted it). Members see a
    /// placeholder: `text` is empty unless the viewer is its author or a moderator.
    pub hidden: bool,
    /// Waiting for a moderator's approval; only moderators and its author see it.
    pub held: bool,
    /// Why it is hidden or held: for its author and moderators only.
    pub moderation_note: Option<String>,
    /// A moderator's correction shown under it, and who wrote it.
    pub correction: Option<String>,
    pub correction_by: Option<String>,
    /// The author's content warning.
    pub warning: Option<String>,
    /// Blurred or hidden by this member's own content filters (never her own messages).
    pub filter: Option<Filtered>,
}

/// A page of the timeline, oldest first. `older` is the cursor for the page before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelinePage {
    pub items: Vec<TimelineItem>,
    pub older: Option<SortKey>,
}

/// A group's chapter documents in memory, valid while the store's `doc_version` matches.
struct CachedDoc {
    chapters: BTreeMap<u32, ChapterDoc>,
    version: i64,
    /// Changes stored beside the newest snapshot of each chapter.
    changes_since_snapshot: BTreeMap<u32, usize>,
}

pub struct Companion {
    pub(crate) store: Store,
    pub(crate) profile: Profile,
    pub(crate) clock: Arc<dyn Clock>,
    docs: HashMap<i64, CachedDoc>,
}

impl Companion {
    /// Creates a profile and its encrypted store in `home`. Refuses if one already exists.
    pub fn create(home: &Path, secret: StoreSecret, name: &str, role: Role) -> Result<Companion> {
        Self::create_with_clock(home, secret, name, role, Arc::new(SystemClock))
    }

    pub fn create_with_clock(
        home: &Path,
        secret: StoreSecret,
        name: &str,
        role: Role,
        clock: Arc<dyn Clock>,
    ) -> Result<Companion> {
        let name = Pseudonym::parse(name)?;
        if let StoreSecret::Passphrase(p) = &secret {
            if p.chars().count() < 8 {
                return Err(InputError::new(
                    "passphrase",
                    "a passphrase must be at least 8 characters",
                )
                .into());
            }
        }
        create_private_dir(home).map_err(StoreError::from)?;
        let profile = Profile {
            name,
            role,
            keys: Arc::new(DeviceKeys::generate()?),
            created_at: clock.now_ms(),
            relay: None,
        };
        let path = home.join(STORE_FILE);
        let store = Store::create::<Error>(&path, &secret, |w| Ok(profile::insert(w, &profile)?))?;
        Ok(Companion {
            store,
            profile,
            clock,
            docs: HashMap::new(),
        })
    }

    /// Opens the profile in `home`.
    pub fn open(home: &Path, secret: StoreSecret) -> Result<Companion> {
        Self::open_with_clock(home, secret, Arc::new(SystemClock))
    }

    pub fn open_with_clock(
        home: &Path,
        secret: StoreSecret,
        clock: Arc<dyn Clock>,
    ) -> Result<Companion> {
        let store = Store::open(&home.join(STORE_FILE), &secret)?;
        let profile = profile::load(store.conn(), store.cipher())?;
        Ok(Companion {
            store,
            profile,
            clock,
            docs: HashMap::new(),
        })
    }

    pub fn close(self) -> Result<()> {
        Ok(self.store.close()?)
    }

    /// Renames a group in its current chapter; members' devices take the new name at their
    /// next sync (their documents accept a rename only from a moderator).
    pub(crate) fn rename_group(&mut self, group: &GroupId, name: &str) -> Result<()> {
        let row = self.group_row(group)?;
        let my_name = self.profile.name.to_string();
        self.change_group(row, |g| {
            if g.summary.standing != Standing::Member {
                return Err(Error::NotAMember);
            }
            if let Some(change) = g.current()?.introduce(&my_name, Some((name, None)))? {
                g.record(&change)?;
            }
            g.summary.name = name.to_string();
            Ok(())
        })
    }

    /// This profile's clock (milliseconds since 1970): the system clock, or a test's.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn store_path(&self) -> PathBuf {
        self.store.path().to_path_buf()
    }

    pub fn profile(&self) -> ProfileInfo {
        ProfileInfo {
            name: self.profile.name.to_string(),
            role: self.profile.role,
            device: self.profile.keys.device_id(),
        }
    }

    /// Creates a group moderated by this profile. Only moderators create groups.
    pub fn create_group(&mut self, name: &str, capacity: Capacity) -> Result<GroupInfo> {
        self.require(Role::Moderator, "create groups", "moderators")?;
        self.found_group(name, capacity)
    }

    /// Starts a one-to-one conversation: a closed group of exactly two, end-to-end encrypted
    /// like any group, that this profile then invites the other person to. Volunteers start
    /// them with the mothers they support (and coordinators with volunteers). The starter
    /// holds the conversation's keys (she admits the other person and can end it); nobody
    /// else, the relay included, can read it, and a third person can never join.
    pub fn start_conversation(&mut self, name: &str) -> Result<GroupInfo> {
        if !matches!(self.profile.role, Role::Volunteer | Role::Moderator) {
            return Err(Error::NotAllowed {
                action: "start one-to-one conversations",
                allowed: "volunteers and moderators",
                role: self.profile.role,
            });
        }
        self.found_group(
            name,
            Capacity {
                limit: Capacity::MIN,
                reason: None,
            },
        )
    }

    /// Refuses a group name another of her groups (other than `except`) has, ignoring case.
    pub(crate) fn check_name_free(&self, name: &str, except: Option<&GroupId>) -> Result<()> {
        let taken = self
            .groups()?
            .iter()
            .any(|g| Some(&g.id) != except && g.name.to_lowercase() == name.to_lowercase());
        if taken {
            return Err(InputError::new(
                "name",
                format!("you already have a group called {name:?}"),
            )
            .into());
        }
        Ok(())
    }

    fn found_group(&mut self, name: &str, capacity: Capacity) -> Result<GroupInfo> {
        let name = parse_group_name(name)?;
        self.check_name_free(&name, None)?;
        let now = self.clock.now_ms();
        let keys = &self.profile.keys;
        let me = keys.device_id();
        let id = new_group_id()?;
        let me_state = MemberState {
            role: Role::Moderator,
            agreement: AgreementKey(keys.agreement_public()),
            since_epoch: 1,
            since_at: now,
        };
        let key = EpochKey::random()?;
        let epoch = seal_epoch(&id, 1, &key, &BTreeMap::from([(me, me_state)]))?;
        let create = log::sign_op(
            keys.as_ref(),
            &Op {
                v: hearth_protocol::VERSION,
                group: id,
                index: 0,
                prev: Hash::ZERO,
                author: me,
                at: now,
                body: OpBody::Create {
                    capacity: capacity.limit,
                    agreement: AgreementKey(keys.agreement_public()),
                    epoch,
                },
            },
        );
        // Verify what we made exactly as every other device and the relay will.
        Membership::genesis(&create).map_err(|e| Error::Document(e.to_string()))?;
        let mut chapter = ChapterDoc::genesis(&id, 1, me)?;
        let intro = chapter
            .introduce(
                self.profile.name.as_str(),
                Some((name.as_str(), capacity.reason.as_deref())),
            )?
            .ok_or_else(|| Error::Document("a new chapter needs an introduction".into()))?;
        let mut summary = GroupSummary {
            id,
            name,
            capacity,
            members: vec![Member {
                device: me,
                name: self.profile.name.to_string(),
                // Whoever founds a group holds its keys: moderator in its log, whatever her
                // profile's role (a volunteer's one-to-one conversation).
                role: Role::Moderator,
                since_epoch: 1,
                admitted_at: now,
            }],
            standing: Standing::Member,
            max_stamp: 0,
            outbox: Outbox::default(),
            chapter: 1,
            first_chapter: 1,
            keys: BTreeMap::from([(1, key)]),
            sync: SyncState::default(),
            invites: Vec::new(),
            last_post_at: 0,
        };
        summary.outbox.record(1)?;
        let row = self.store.write(|w| {
            let row = storage::insert(w, &summary)?;
            storage::append_op(w, row, 0, &create)?;
            storage::append_change(w, row, 1, Some(1), &intro.bytes)?;
            Ok::<_, Error>(row)
        })?;
        self.docs.insert(
            row,
            CachedDoc {
                chapters: BTreeMap::from([(1, chapter)]),
                version: 0,
                changes_since_snapshot: BTreeMap::from([(1, 1)]),
            },
        );
        Ok(info(&summary))
    }

    /// Every group on this device, in the order this device joined them.
    pub fn groups(&self) -> Result<Vec<GroupInfo>> {
        Ok(storage::list(self.store.conn(), self.store.cipher())?
            .iter()
            .map(|(_, s)| info(s))
            .collect())
    }

    /// Resolves what a person typed: a group id, or a name (exact, then ignoring case).
    pub fn find_group(&self, id_or_name: &str) -> Result<GroupInfo> {
        resolve_group(self.groups()?, id_or_name)
    }

    /// Sends one message. Returns once it is durably stored; it shows as pending until synced.
    pub fn send(&mut self, group: &GroupId, text: &str) -> Result<MessageId> {
        let ids = self.send_many(group, &[text])?;
        Ok(ids[0])
    }

    /// Sends one message with a content warning (shown before the text; members who filter
    /// such topics see it blurred).
    pub fn send_with_warning(
        &mut self,
        group: &GroupId,
        text: &str,
        warning: &str,
    ) -> Result<MessageId> {
        let warning = warning.trim();
        if !crate::group::doc::valid_warning(warning) {
            return Err(InputError::new(
                "warning",
                format!(
                    "a content warning is 1 to {} characters",
                    crate::group::doc::MAX_WARNING_CHARS
                ),
            )
            .into());
        }
        let ids = self.post(group, &[text], Some(warning))?;
        Ok(ids[0])
    }

    /// Sends several messages in one transaction: all are stored, or (on any error) none.
    pub fn send_many(&mut self, group: &GroupId, texts: &[&str]) -> Result<Vec<MessageId>> {
        self.post(group, texts, None)
    }

    /// Checks the group's rules for this member (rules accepted, not muted, slow mode).
    fn check_posting(&self, row: i64, count: usize) -> Result<()> {
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let state = self.state_of(row)?;
        let me = self.profile.keys.device_id();
        let now = self.clock.now_ms();
        if let Some(e) = state.ending.as_ref().filter(|e| now >= e.ends_at) {
            return Err(InputError::new(
                "group",
                format!(
                    "this group ended on {} and is read-only; you can still read and export it",
                    crate::moderation::actions::utc(e.ends_at)
                ),
            )
            .into());
        }
        let rules = crate::moderation::actions::posting_rules(&state, &summary, &me, now);
        if rules.must_accept {
            return Err(Error::RulesNotAccepted);
        }
        if let Some(until) = rules.muted_until {
            return Err(Error::Muted {
                until,
                until_text: chrono::DateTime::from_timestamp_millis(until)
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|| until.to_string()),
            });
        }
        if rules.slow_secs > 0 {
            let next = summary.last_post_at + i64::from(rules.slow_secs) * 1_000;
            if count > 1 || (summary.last_post_at > 0 && next > now) {
                let wait = ((next - now).max(0) + 999) / 1_000;
                return Err(Error::SlowMode {
                    wait_secs: u32::try_from(wait).unwrap_or(u32::MAX).max(1),
                });
            }
        }
        Ok(())
    }

    fn post(
        &mut self,
        group: &GroupId,
        texts: &[&str],
        warning: Option<&str>,
    ) -> Result<Vec<MessageId>> {
        let texts = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                MessageText::parse(t).map_err(|e| match texts.len() {
                    1 => e,
                    n => InputError::new(format!("text (message {} of {n})", i + 1), e.reason),
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let row = self.group_row(group)?;
        self.check_posting(row, texts.len())?;
        let now = self.clock.now_ms();
        self.change_group(row, |g| {
            g.summary.last_post_at = now;
            let mut updates = Vec::with_capacity(texts.len());
            let mut ids = Vec::with_capacity(texts.len());
            for text in &texts {
                let id = MessageId::random()?;
                let stamp = next_stamp(now, g.summary.max_stamp);
                g.summary.max_stamp = stamp;
                let change =
                    g.current()?
                        .add_message_with(&id, text.as_str(), now, stamp, warning)?;
                let local_seq = g.record(&change)?;
                let record = assemble(g.chapters, &id)?
                    .ok_or_else(|| Error::Document(format!("message {id} vanished")))?;
                ids.push(id);
                updates.push(Update {
                    record,
                    local_seq: Some(local_seq),
                });
            }
            timeline::apply(g.w, g.row, updates)?;
            Ok(ids)
        })
    }

    /// Replaces the text of one of this profile's messages.
    pub fn edit(&mut self, group: &GroupId, id: &MessageId, text: &str) -> Result<()> {
        let text = MessageText::parse(text)?;
        let now = self.clock.now_ms();
        self.change_message(group, id, |record, me| {
            own_live(record, me, "edit")?;
            Ok(Some(vec![
                Mark::Text(text.as_str().to_string()),
                Mark::EditedAt(now),
            ]))
        })
    }

    /// Deletes one of this profile's messages; others see that a message was deleted.
    pub fn delete(&mut self, group: &GroupId, id: &MessageId) -> Result<()> {
        let now = self.clock.now_ms();
        self.change_message(group, id, |record, me| {
            own_live(record, me, "delete")?;
            Ok(Some(vec![
                Mark::Deleted(true),
                Mark::Text(String::new()),
                Mark::EditedAt(now),
            ]))
        })
    }

    /// Adds (`on`) or removes this profile's reaction to a message.
    pub fn react(
        &mut self,
        group: &GroupId,
        id: &MessageId,
        reaction: Reaction,
        on: bool,
    ) -> Result<()> {
        self.change_message(group, id, |record, me| {
            if record.deleted {
                return Err(Error::MessageDeleted);
            }
            let present = record
                .reactions
                .get(&reaction)
                .is_some_and(|who| who.contains(&me));
            Ok((present != on).then(|| vec![Mark::Reaction(reaction, on)]))
        })
    }

    /// The newest `limit` messages (or those before `before`), oldest first. Reads only the
    /// timeline blocks it needs, never the group's document.
    pub fn timeline(
        &self,
        group: &GroupId,
        before: Option<SortKey>,
        limit: usize,
    ) -> Result<TimelinePage> {
        if limit == 0 {
            return Err(InputError::new("limit", "a page needs at least one message").into());
        }
        let row = self.group_row(group)?;
        let summary = storage::load(self.store.conn(), self.store.cipher(), row)?;
        let (entries, more) =
            timeline::page(self.store.conn(), self.store.cipher(), row, before, limit)?;
        let me = self.profile.keys.device_id();
        let names: HashMap<DeviceId, &Member> =
            summary.members.iter().map(|m| (m.device, m)).collect();
        let moderation = self.state_of(row)?;
        let is_moderator = |d: &DeviceId| names.get(d).is_some_and(|m| m.role == Role::Moderator);
        let viewer_moderator = is_moderator(&me);
        let filters = self.content_filters()?;
        let filter = |e: &timeline::Entry, text: &str| {
            (filters.any() && e.author() != me && !text.is_empty())
                .then(|| filters.apply(&crate::filters::assess(text, e.warning())))
                .flatten()
        };
        let items: Vec<TimelineItem> = entries
            .iter()
            .filter_map(|e| {
                let overlay = moderation.overlay(&Seen {
                    id: &e.id(),
                    author: &e.author(),
                    stamp: e.sort_key().stamp,
                    author_moderator: is_moderator(&e.author()),
                    author_admitted_at: names.get(&e.author()).map_or(0, |m| m.admitted_at),
                    viewer: &me,
                    viewer_moderator,
                });
                if !overlay.visible {
                    return None;
                }
                let correction = moderation.corrections.get(&e.id());
                let text = if overlay.show_text {
                    e.text().to_string()
                } else {
                    String::new()
                };
                Some(TimelineItem {
                    filter: filter(e, &text),
                    id: e.id(),
                    sort_key: e.sort_key(),
                    author: e.author(),
                    author_name: names
                        .get(&e.author())
                        .filter(|m| !m.name.is_empty())
                        .map(|m| m.name.clone())
                        .unwrap_or_else(|| format!("member {}", e.author().short())),
                    is_mine: e.author() == me,
                    text,
                    sent_at: e.sent_at(),
                    edited: e.edited_at().is_some() && !e.deleted(),
                    deleted: e.deleted(),
                    reactions: e
                        .reactions()
                        .map(|(reaction, devices)| ReactionCount {
                            reaction,
                            count: devices.len(),
                            mine: devices.contains(&me),
                        })
                        .collect(),
                    state: e.state(&summary.outbox),
                    hidden: overlay.hidden,
                    held: overlay.held,
                    moderation_note: overlay.note,
                    correction: correction.map(|c| c.text.clone()),
                    correction_by: correction.map(|c| {
                        names
                            .get(&c.by)
                            .filter(|m| !m.name.is_empty())
                            .map(|m| m.name.clone())
                            .unwrap_or_else(|| "a moderator".to_string())
                    }),
                    warning: e.warning().map(str::to_string),
                })
            })
            .collect();
        // From the page's first entry, shown or not: a held post at the top of a page must
        // not end the paging.
        let older = if more {
            entries.first().map(|e| e.sort_key())
        } else {
            None
        };
        Ok(TimelinePage { items, older })
    }

    /// This device's changes to `group` that the relay has not acknowledged yet.
    pub fn outbox(&self, group: &GroupId) -> Result<Outbox> {
        let row = self.group_row(group)?;
        Ok(storage::load(self.store.conn(), self.store.cipher(), row)?.outbox)
    }

    /// Records an acknowledgement on its own, for the outbox tests below. (The sync engine
    /// acknowledges inside the transaction that applies the relay's answer; see
    /// `sync::acknowledge`.)
    #[cfg(test)]
    pub(crate) fn acknowledge_upload(&mut self, group: &GroupId, seq: u64) -> Result<()> {
        let row = self.group_row(group)?;
        self.store.write(|w| {
            let mut summary = storage::load(&w.tx, w.cipher, row)?;
            summary.outbox.acknowledge(seq)?;
            let version = storage::doc_version(&w.tx, row)?;
            storage::update(w, row, &summary, version)?;
            Ok::<_, Error>(())
        })
    }

    pub(crate) fn require(
        &self,
        role: Role,
        action: &'static str,
        allowed: &'static str,
    ) -> Result<()> {
        if self.profile.role != role {
            return Err(Error::NotAllowed {
                action,
                allowed,
                role: self.profile.role,
            });
        }
        Ok(())
    }

    pub(crate) fn group_row(&self, group: &GroupId) -> Result<i64> {
        storage::find(self.store.conn(), self.store.cipher(), group)?.ok_or_else(|| {
            Error::UnknownGroup {
                given: group.to_hex(),
            }
        })
    }

    /// Marks one message (in whichever chapter it lives) from the newest chapter, and
    /// refreshes its timeline entry. `decide` sees the message as it stands and returns the
    /// marks to write, or `None` when nothing needs to change.
    fn change_message(
        &mut self,
        group: &GroupId,
        id: &MessageId,
        decide: impl FnOnce(&crate::message::MessageRecord, DeviceId) -> Result<Option<Vec<Mark>>>,
    ) -> Result<()> {
        let row = self.group_row(group)?;
        let me = self.profile.keys.device_id();
        self.change_group(row, |g| {
            let record = assemble(g.chapters, id)?
                .ok_or_else(|| Error::UnknownMessage { id: id.to_hex() })?;
            let Some(marks) = decide(&record, me)? else {
                return Ok(());
            };
            let change = g.current()?.set_marks(id, &marks)?;
            g.record(&change)?;
            let record = assemble(g.chapters, id)?
                .ok_or_else(|| Error::UnknownMessage { id: id.to_hex() })?;
            timeline::apply(
                g.w,
                g.row,
                vec![Update {
                    record,
                    local_seq: None,
                }],
            )?;
            Ok(())
        })
    }

    /// Runs `f` on the group's document inside one write transaction, then bumps the group's
    /// document version. If anything fails, the in-memory document is dropped (it may hold the
    /// failed change) and reloaded from the store next time.
    pub(crate) fn change_group<T>(
        &mut self,
        row: i64,
        f: impl FnOnce(&mut GroupWrite<'_, '_>) -> Result<T>,
    ) -> Result<T> {
        let me = self.profile.keys.device_id();
        let cached = self.docs.remove(&row);
        let (value, cached) = self.store.write(|w| {
            let version = storage::doc_version(&w.tx, row)?;
            let mut summary = storage::load(&w.tx, w.cipher, row)?;
            let mut cached = match cached {
                Some(c) if c.version == version => c,
                _ => load_chapters(w, row, &summary, me)?,
            };
            let mut g = GroupWrite {
                w,
                row,
                chapters: &mut cached.chapters,
                summary: &mut summary,
                changes: 0,
            };
            let value = f(&mut g)?;
            let (chapter, changes) = (g.summary.chapter, g.changes);
            *cached.changes_since_snapshot.entry(chapter).or_default() += changes;
            cached.version = version + 1;
            storage::update(w, row, &summary, cached.version)?;
            Ok::<_, Error>((value, cached))
        })?;
        let cached = self.compact_if_due(row, cached)?;
        self.docs.insert(row, cached);
        Ok(value)
    }

    /// Folds stored changes into a new snapshot once enough have piled up, so loading stays fast
    /// and the store small. A failure here loses nothing: the changes stay as they were.
    fn compact_if_due(&mut self, row: i64, mut cached: CachedDoc) -> Result<CachedDoc> {
        let due: Vec<u32> = cached
            .changes_since_snapshot
            .iter()
            .filter(|(_, n)| **n >= COMPACT_AFTER_CHANGES)
            .map(|(c, _)| *c)
            .collect();
        for chapter in due {
            let Some(doc) = cached.chapters.get_mut(&chapter) else {
                continue;
            };
            let snapshot = doc.save();
            let version = cached.version;
            let compacted = self.store.write(|w| {
                // Another process may have written since; its changes would be lost from the
                // snapshot, so only compact what this document has seen.
                if storage::doc_version(&w.tx, row)? != version {
                    return Ok::<_, Error>(false);
                }
                let acked = storage::load(&w.tx, w.cipher, row)?.outbox.acked_seq;
                storage::compact(w, row, chapter, &snapshot, acked)?;
                Ok(true)
            })?;
            if compacted {
                cached.changes_since_snapshot.insert(chapter, 0);
                // The old snapshot and changes are now free pages; give them back to the phone.
                self.store.reclaim_free_pages()?;
            }
        }
        Ok(cached)
    }
}

/// Loads every chapter of a group that this device holds.
fn load_chapters(
    w: &Writer<'_>,
    row: i64,
    summary: &GroupSummary,
    me: DeviceId,
) -> Result<CachedDoc> {
    let mut chapters = BTreeMap::new();
    let mut changes_since_snapshot = BTreeMap::new();
    for n in storage::chapters(&w.tx, row)? {
        let chunks = storage::load_chunks(&w.tx, w.cipher, row, n)?;
        let doc = ChapterDoc::load(&summary.id, n, me, chunks.iter().map(Vec::as_slice))?;
        changes_since_snapshot.insert(n, chunks.len());
        chapters.insert(n, doc);
    }
    if summary.chapter > 0 && !chapters.contains_key(&summary.chapter) {
        chapters.insert(
            summary.chapter,
            ChapterDoc::genesis(&summary.id, summary.chapter, me)?,
        );
    }
    Ok(CachedDoc {
        chapters,
        version: storage::doc_version(&w.tx, row)?,
        changes_since_snapshot,
    })
}

fn own_live(
    record: &crate::message::MessageRecord,
    me: DeviceId,
    action: &'static str,
) -> Result<()> {
    if record.author != me {
        return Err(Error::NotYourMessage { action });
    }
    if record.deleted {
        return Err(Error::MessageDeleted);
    }
    Ok(())
}

/// One write to a group: the open transaction, the group's document and summary, and a count
/// of the changes recorded (to know when to compact).
pub(crate) struct GroupWrite<'a, 'w> {
    pub(crate) w: &'a Writer<'w>,
    pub(crate) row: i64,
    pub(crate) chapters: &'a mut BTreeMap<u32, ChapterDoc>,
    pub(crate) summary: &'a mut GroupSummary,
    pub(crate) changes: usize,
}

impl GroupWrite<'_, '_> {
    /// The chapter this device writes in.
    pub(crate) fn current(&mut self) -> Result<&mut ChapterDoc> {
        if self.summary.standing != Standing::Member {
            return Err(Error::NotAMember);
        }
        self.chapters
            .get_mut(&self.summary.chapter)
            .ok_or_else(|| Error::Document(format!("chapter {} is missing", self.summary.chapter)))
    }

    /// Stores a local change in the current chapter and counts it into the outbox, in this
    /// transaction. Returns its outbox number.
    pub(crate) fn record(&mut self, change: &LocalChange) -> Result<u64> {
        let n = self.summary.outbox.local_seq + 1;
        storage::append_change(
            self.w,
            self.row,
            self.summary.chapter,
            Some(n),
            &change.bytes,
        )?;
        self.summary.outbox.record(n)?;
        self.changes += 1;
        Ok(n)
    }
}

/// Picks the group `id_or_name` means: the group with that id, else the one with exactly that
/// name, else the one whose name matches ignoring case. Two groups with one name (possible once
/// groups sync from several moderators) are ambiguous rather than a guess.
fn resolve_group(all: Vec<GroupInfo>, id_or_name: &str) -> Result<GroupInfo> {
    if let Some(id) = GroupId::parse_hex(id_or_name) {
        if let Some(g) = all.iter().find(|g| g.id == id) {
            return Ok(g.clone());
        }
    }
    let wanted = id_or_name.trim();
    let mut matches: Vec<&GroupInfo> = all.iter().filter(|g| g.name == wanted).collect();
    if matches.is_empty() {
        matches = all
            .iter()
            .filter(|g| g.name.to_lowercase() == wanted.to_lowercase())
            .collect();
    }
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::UnknownGroup {
            given: id_or_name.to_string(),
        }),
        many => Err(Error::AmbiguousGroup {
            given: id_or_name.to_string(),
            count: many.len(),
        }),
    }
}

pub(crate) fn info(s: &GroupSummary) -> GroupInfo {
    GroupInfo {
        id: s.id,
        name: s.name.clone(),
        conversation: s.capacity.limit == Capacity::MIN,
        capacity: s.capacity.limit,
        capacity_reason: s.capacity.reason.clone(),
        member_count: s.members.len(),
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::crypto::SecretKey;

    fn key() -> StoreSecret {
        StoreSecret::RawKey(SecretKey::from_bytes([7; 32]))
    }

    fn moderator(dir: &Path) -> (Companion, ManualClock) {
        let clock = ManualClock::new(1_700_000_000_000);
        let c = Companion::create_with_clock(
            dir,
            key(),
            "Midwife Ada",
            Role::Moderator,
            Arc::new(clock.clone()),
        )
        .unwrap();
        (c, clock)
    }

    fn texts(page: &TimelinePage) -> Vec<&str> {
        page.items.iter().map(|i| i.text.as_str()).collect()
    }

    #[test]
    fn sends_and_reads_back_in_order_as_pending() {
        let dir = tempfile::tempdir().unwrap();
        let (mut c, clock) = moderator(dir.path());
        let g = c
            .create_group("Due in March", Capacity::new(None, None).unwrap())
            .unwrap();
        assert_eq!(g.capacity, 30);
        assert_eq!(g.member_count, 1);
        for i in 0..5 {
            c.send(&g.id, &format!("message {i}")).unwrap();
            clock.advance(10);
        }
        let page = c.timeline(&g.id, None, 3).unwrap();
        assert_eq!(texts(&page), ["message 2", "message 3", "message 4"]);
        assert!(page
            .items
            .iter()
            .all(|i| i.state == DeliveryState::Pending && i.is_mine));
        assert_eq!(page.items[0].author_name, "Midwife Ada");
        let older = c.timeline(&g.id, page.older, 3).unwrap();
        assert_eq!(texts(&older), ["message 0", "message 1"]);
        assert_eq!(older.older, None);
        // The group's creation and five messages wait for the relay, numbered 1..=6 per author.
        assert_eq!(c.outbox(&g.id).unwrap().pending(), 1..=6);
        // The relay acknowledges the creation and the first three messages.
        c.acknowledge_upload(&g.id, 4).unwrap();
        c.acknowledge_upload(&g.id, 2).unwrap(); // a late duplicate changes nothing
        let all = c.timeline(&g.id, None, 10).unwrap();
        let states: Vec<_> = all.items.iter().map(|i| i.state).collect();
        use DeliveryState::{Pending, Sent};
        assert_eq!(states, [Sent, Sent, Sent, Pending, Pending]);
        assert!(
            c.acknowledge_upload(&g.id, 7).is_err(),
            "no change 7 exists"
        );
        assert_eq!(c.outbox(&g.id).unwrap().pending(), 5..=6);
    }

    #[test]
    fn messages_survive_reopening_and_a_clock_that_goes_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let (mut c, clock) = moderator(dir.path());
        let g = c
            .create_group("Group", Capacity::new(None, None).unwrap())
            .unwrap();
        c.send(&g.id, "first").unwrap();
        clock.advance(-60_000); // the phone's clock was corrected backwards
        c.send(&g.id, "second").unwrap();
        c.close().unwrap();
        let c = Companion::open(dir.path(), key()).unwrap();
        let page = c.timeline(&g.id, None, 10).unwrap();
        assert_eq!(texts(&page), ["first", "second"]);
        // sent_at shows the device clock as it was, even though the order ignores it.
        assert!(page.items[1].sent_at < page.items[0].sent_at);
    }

    #[test]
    fn edit_delete_and_react() {
        let dir = tempfile::tempdir().unwrap();
        let (mut c, _) = moderator(dir.path());
        let g = c
            .create_group("Group", Capacity::new(None, None).unwrap())
            .unwrap();
        let a = c.send(&g.id, "typo hree").unwrap();
        let b = c.send(&g.id, "to be removed").unwrap();
        c.edit(&g.id, &a, "typo here").unwrap();
        c.react(&g.id, &a, Reaction::Hug, true).unwrap();
        c.react(&g.id, &a, Reaction::Helpful, true).unwrap();
        c.react(&g.id, &a, Reaction::Helpful, false).unwrap();
        c.delete(&g.id, &b).unwrap();
        let page = c.timeline(&g.id, None, 10).unwrap();
        let (first, second) = (&page.items[0], &page.items[1]);
        assert_eq!((first.text.as_str(), first.edited), ("typo here", true));
        assert_eq!(
            first.reactions,
            vec![ReactionCount {
                reaction: Reaction::Hug,
                count: 1,
                mine: true
            }]
        );
        assert!(second.deleted && second.text.is_empty() && !second.edited);
        assert!(matches!(
            c.edit(&g.id, &b, "again"),
            Err(Error::MessageDeleted)
        ));
        let unknown = MessageId([9; 16]);
        assert!(matches!(
            c.edit(&g.id, &unknown, "x"),
            Err(Error::UnknownMessage { .. })
        ));
    }

    #[test]
    fn bad_batches_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut c, _) = moderator(dir.path());
        let g = c
            .create_group("Group", Capacity::new(None, None).unwrap())
            .unwrap();
        let long = "x".repeat(MessageText::MAX_BYTES + 1);
        for batch in [
            vec!["fine", "   "],
            vec!["fine", long.as_str()],
            vec!["bell\u{7}"],
        ] {
            let err = c.send_many(&g.id, &batch).unwrap_err();
            assert!(matches!(err, Error::Input(_)), "{err}");
        }
        let err = c.send_many(&g.id, &["ok", ""]).unwrap_err().to_string();
        assert!(err.contains("message 2 of 2"), "{err}");
        assert!(c.timeline(&g.id, None, 10).unwrap().items.is_empty());
        assert_eq!(
            c.outbox(&g.id).unwrap().len(),
            1,
            "only the group's creation"
        );
    }

    #[test]
    fn only_moderators_create_groups() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Companion::create(dir.path(), key(), "Bea", Role::Mother).unwrap();
        let err = c
            .create_group("Mine", Capacity::new(None, None).unwrap())
            .unwrap_err();
        assert!(matches!(err, Error::NotAllowed { .. }));
        assert_eq!(
            err.to_string(),
            "only moderators can create groups; this profile is a mother"
        );
        assert!(c.groups().unwrap().is_empty());
    }

    #[test]
    fn groups_are_found_by_id_or_unique_name() {
        let dir = tempfile::tempdir().unwrap();
        let (mut c, _) = moderator(dir.path());
        let a = c
            .create_group("Due in March", Capacity::new(None, None).unwrap())
            .unwrap();
        let b = c
            .create_group("Loss support", Capacity::new(Some(12), None).unwrap())
            .unwrap();
        assert_eq!(c.find_group(&a.id.to_hex()).unwrap().id, a.id);
        assert_eq!(c.find_group("loss SUPPORT").unwrap().id, b.id);
        assert!(matches!(
            c.find_group("nope"),
            Err(Error::UnknownGroup { .. })
        ));
        let dup = c
            .create_group("due in march", Capacity::new(None, None).unwrap())
            .unwrap_err();
        assert!(matches!(dup, Error::Input(_)));
        let names: Vec<_> = c.groups().unwrap().into_iter().map(|g| g.name).collect();
        assert_eq!(names, ["Due in March", "Loss support"]);
        assert!(matches!(c.timeline(&a.id, None, 0), Err(Error::Input(_))));
    }

    #[test]
    fn a_name_two_groups_share_is_ambiguous() {
        let group = |id: u8, name: &str| GroupInfo {
            id: GroupId([id; 16]),
            name: name.into(),
            conversation: false,
            capacity: 30,
            capacity_reason: None,
            member_count: 1,
        };
        let all = vec![
            group(1, "March"),
            group(2, "March"),
            group(3, "march"),
            group(4, "April"),
        ];
        let err = resolve_group(all.clone(), "March").unwrap_err();
        assert_eq!(
            err.to_string(),
            "2 groups are called \"March\"; use the group id instead"
        );
        assert_eq!(
            resolve_group(all.clone(), &GroupId([2; 16]).to_hex())
                .unwrap()
                .id,
            GroupId([2; 16])
        );
        // An exact match wins over one that only matches ignoring case.
        assert_eq!(
            resolve_group(all.clone(), "march").unwrap().id,
            GroupId([3; 16])
        );
        assert_eq!(
            resolve_group(all.clone(), " april ").unwrap().id,
            GroupId([4; 16])
        );
        assert!(matches!(
            resolve_group(all, "MARCH"),
            Err(Error::AmbiguousGroup { count: 3, .. })
        ));
    }

    #[test]
    fn compaction_keeps_every_message() {
        let dir = tempfile::tempdir().unwrap();
        let (mut c, _) = moderator(dir.path());
        let g = c
            .create_group("Group", Capacity::new(None, None).unwrap())
            .unwrap();
        let lines: Vec<String> = (0..COMPACT_AFTER_CHANGES + 10)
            .map(|i| format!("line {i}"))
            .collect();
        for chunk in lines.chunks(50) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            c.send_many(&g.id, &refs).unwrap();
        }
        let row = c.group_row(&g.id).unwrap();
        let chunks = storage::load_chunks(c.store.conn(), c.store.cipher(), row, 1).unwrap();
        assert!(
            chunks.len() < COMPACT_AFTER_CHANGES,
            "compacted into a snapshot, got {}",
            chunks.len()
        );
        c.close().unwrap();
        // A fresh process loads the snapshot plus the tail and can keep writing.
        let mut c = Companion::open(dir.path(), key()).unwrap();
        let last = c.send(&g.id, "after compaction").unwrap();
        c.edit(&g.id, &last, "after compaction, edited").unwrap();
        let chunks = storage::load_chunks(c.store.conn(), c.store.cipher(), row, 1).unwrap();
        let doc = ChapterDoc::load(
            &g.id,
            1,
            c.profile.keys.device_id(),
            chunks.iter().map(Vec::as_slice),
        )
        .unwrap();
        assert_eq!(doc.message_ids().unwrap().len(), lines.len() + 1);
        // Nothing was acknowledged, so every local change is still a row of its own for the
        // sync engine to send, snapshot or not.
        let pending =
            storage::local_changes_after(c.store.conn(), c.store.cipher(), row, 0).unwrap();
        assert_eq!(pending.len() as u64, c.outbox(&g.id).unwrap().local_seq);
    }

    #[test]
    fn two_handles_on_one_store_do_not_lose_each_others_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (mut a, _) = moderator(dir.path());
        let g = a
            .create_group("Group", Capacity::new(None, None).unwrap())
            .unwrap();
        let mut b = Companion::open(dir.path(), key()).unwrap();
        a.send(&g.id, "from a").unwrap();
        b.send(&g.id, "from b").unwrap();
        a.send(&g.id, "from a again").unwrap();
        let page = b.timeline(&g.id, None, 10).unwrap();
        assert_eq!(texts(&page), ["from a", "from b", "from a again"]);
        let row = a.group_row(&g.id).unwrap();
        let chunks = storage::load_chunks(a.store.conn(), a.store.cipher(), row, 1).unwrap();
        let doc = ChapterDoc::load(
            &g.id,
            1,
            a.profile.keys.device_id(),
            chunks.iter().map(Vec::as_slice),
        )
        .unwrap();
        assert_eq!(doc.message_ids().unwrap().len(), 3);
    }

    #[test]
    fn wrong_secret_and_missing_profile_are_clear() {
        let dir = tempfile::tempdir().unwrap();
        let err = Companion::open(dir.path(), key()).err().unwrap();
        assert!(
            matches!(err, Error::Store(StoreError::NotFound { .. })),
            "{err}"
        );
        moderator(dir.path()).0.close().unwrap();
        let wrong = StoreSecret::RawKey(SecretKey::from_bytes([8; 32]));
        let err = Companion::open(dir.path(), wrong).err().unwrap();
        assert_eq!(err.to_string(), "wrong key: it does not open this store");
        let again = Companion::create(dir.path(), key(), "Other", Role::Mother)
            .err()
            .unwrap();
        assert!(matches!(
            again,
            Error::Store(StoreError::AlreadyExists { .. })
        ));
        let short = Companion::create(
            &dir.path().join("x"),
            StoreSecret::Passphrase("short".into()),
            "A",
            Role::Mother,
        );
        assert!(matches!(short.err().unwrap(), Error::Input(_)));
    }
}
