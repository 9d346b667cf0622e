//! The records and enums the apps see, each a plain copy of a core view model. Ids cross as
//! lowercase hex strings (as the CLI prints them) and times as milliseconds since 1970.

use hearth_core::filters::{ContentFilters as CoreFilters, FilterMode as CoreFilterMode};
use hearth_core::moderation::actions as moderation;
use hearth_core::notes::safety;
use hearth_core::notes::views as notes;
use hearth_core::notes::ReportReason as CoreReportReason;
use hearth_core::{GroupId, MessageId, SortKey};
use hearth_safety::detect::Level;
use hearth_safety::escalation::{Severity, Tier};
use hearth_safety::helpcard::Situation as CoreSituation;

use crate::error::{HearthError, Result};

pub(crate) fn parse_group(id: &str) -> Result<GroupId> {
    GroupId::parse_hex(id).ok_or_else(|| {
        HearthError::input(
            "group",
            format!("{id:?} is not a group id (32 hexadecimal characters)"),
        )
    })
}

pub(crate) fn parse_message(id: &str) -> Result<MessageId> {
    MessageId::parse(id).map_err(|e| HearthError::input(&e.field, e.reason))
}

pub(crate) fn parse_cursor(cursor: &str) -> Result<SortKey> {
    SortKey::parse(cursor.trim()).ok_or_else(|| {
        HearthError::input(
            "before",
            "not a page cursor from an earlier TimelinePage.older",
        )
    })
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    Mother,
    Volunteer,
    Moderator,
}

impl From<hearth_core::Role> for Role {
    fn from(r: hearth_core::Role) -> Self {
        match r {
            hearth_core::Role::Mother => Role::Mother,
            hearth_core::Role::Volunteer => Role::Volunteer,
            hearth_core::Role::Moderator => Role::Moderator,
        }
    }
}

impl From<Role> for hearth_core::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Mother => hearth_core::Role::Mother,
            Role::Volunteer => hearth_core::Role::Volunteer,
            Role::Moderator => hearth_core::Role::Moderator,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProfileInfo {
    pub name: String,
    pub role: Role,
    /// This device's id (hex).
    pub device: String,
}

impl From<hearth_core::ProfileInfo> for ProfileInfo {
    fn from(p: hearth_core::ProfileInfo) -> Self {
        ProfileInfo {
            name: p.name,
            role: p.role.into(),
            device: p.device.to_hex(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GroupInfo {
    pub id: String,
    pub name: String,
    /// A one-to-one conversation (a group of exactly two) rather than a group.
    pub conversation: bool,
    pub capacity: u32,
    pub capacity_reason: Option<String>,
    pub member_count: u32,
}

impl From<hearth_core::GroupInfo> for GroupInfo {
    fn from(g: hearth_core::GroupInfo) -> Self {
        GroupInfo {
            id: g.id.to_hex(),
            name: g.name,
            conversation: g.conversation,
            capacity: g.capacity,
            capacity_reason: g.capacity_reason,
            member_count: count(g.member_count),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Reaction {
    Hug,
    Helpful,
    SameHere,
    YouGotThis,
    ThankYou,
}

impl From<hearth_core::Reaction> for Reaction {
    fn from(r: hearth_core::Reaction) -> Self {
        use hearth_core::Reaction as R;
        match r {
            R::Hug => Reaction::Hug,
            R::Helpful => Reaction::Helpful,
            R::SameHere => Reaction::SameHere,
            R::YouGotThis => Reaction::YouGotThis,
            R::ThankYou => Reaction::ThankYou,
        }
    }
}

impl From<Reaction> for hearth_core::Reaction {
    fn from(r: Reaction) -> Self {
        use hearth_core::Reaction as R;
        match r {
            Reaction::Hug => R::Hug,
            Reaction::Helpful => R::Helpful,
            Reaction::SameHere => R::SameHere,
            Reaction::YouGotThis => R::YouGotThis,
            Reaction::ThankYou => R::ThankYou,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReactionCount {
    pub reaction: Reaction,
    pub count: u32,
    pub mine: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeliveryState {
    /// Stored on this device (safe), not yet acknowledged by the relay.
    Pending,
    Sent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FilterMode {
    Show,
    Blur,
    Hide,
}

impl From<CoreFilterMode> for FilterMode {
    fn from(m: CoreFilterMode) -> Self {
        match m {
            CoreFilterMode::Show => FilterMode::Show,
            CoreFilterMode::Blur => FilterMode::Blur,
            CoreFilterMode::Hide => FilterMode::Hide,
        }
    }
}

impl From<FilterMode> for CoreFilterMode {
    fn from(m: FilterMode) -> Self {
        match m {
            FilterMode::Show => CoreFilterMode::Show,
            FilterMode::Blur => CoreFilterMode::Blur,
            FilterMode::Hide => CoreFilterMode::Hide,
        }
    }
}

/// Why this member's own filters blur or collapse a message.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Filtered {
    pub mode: FilterMode,
    pub reasons: Vec<String>,
}

/// One message on the chat screen.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TimelineItem {
    pub id: String,
    /// Orders the timeline; also the cursor for paging back.
    pub sort_key: String,
    pub author: String,
    pub author_name: String,
    pub is_mine: bool,
    /// Empty when deleted, or hidden from this viewer.
    pub text: String,
    /// The author's device clock when she sent it (ms); shown, never used for ordering.
    pub sent_at_ms: i64,
    pub edited: bool,
    pub deleted: bool,
    pub reactions: Vec<ReactionCount>,
    pub state: DeliveryState,
    pub hidden: bool,
    pub held: bool,
    pub moderation_note: Option<String>,
    pub correction: Option<String>,
    pub correction_by: Option<String>,
    pub warning: Option<String>,
    pub filter: Option<Filtered>,
}

impl From<hearth_core::TimelineItem> for TimelineItem {
    fn from(i: hearth_core::TimelineItem) -> Self {
        TimelineItem {
            id: i.id.to_hex(),
            sort_key: i.sort_key.to_hex(),
            author: i.author.to_hex(),
            author_name: i.author_name,
            is_mine: i.is_mine,
            text: i.text,
            sent_at_ms: i.sent_at,
            edited: i.edited,
            deleted: i.deleted,
            reactions: i
                .reactions
                .into_iter()
                .map(|r| ReactionCount {
                    reaction: r.reaction.into(),
                    count: count(r.count),
                    mine: r.mine,
                })
                .collect(),
            state: match i.state {
                hearth_core::DeliveryState::Pending => DeliveryState::Pending,
                hearth_core::DeliveryState::Sent => DeliveryState::Sent,
            },
            hidden: i.hidden,
            held: i.held,
            moderation_note: i.moderation_note,
            correction: i.correction,
            correction_by: i.correction_by,
            warning: i.warning,
            filter: i.filter.map(|f| Filtered {
                mode: f.mode.into(),
                reasons: f.reasons,
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TimelinePage {
    /// Oldest first.
    pub items: Vec<TimelineItem>,
    /// Pass as `before` to get the page before this one; `None` at the start of the group.
    pub older: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Member {
    pub device: String,
    /// Empty until a chapter this device holds has told her pseudonym.
    pub name: String,
    pub role: Role,
    pub since_epoch: u32,
    pub is_me: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct WaitingMember {
    pub device: String,
    pub name: Option<String>,
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Standing {
    Member,
    /// Registered with an invite; a moderator's device admits her at its next sync.
    Waiting,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MembersView {
    pub members: Vec<Member>,
    pub waiting: Vec<WaitingMember>,
    pub capacity: u32,
    pub standing: Standing,
    pub notes: Vec<String>,
}

impl From<hearth_core::MembersView> for MembersView {
    fn from(v: hearth_core::MembersView) -> Self {
        MembersView {
            members: v
                .members
                .into_iter()
                .map(|m| Member {
                    device: m.device.to_hex(),
                    name: m.name,
                    role: m.role.into(),
                    since_epoch: m.since_epoch,
                    is_me: m.is_me,
                })
                .collect(),
            waiting: v
                .waiting
                .into_iter()
                .map(|w| WaitingMember {
                    device: w.device.to_hex(),
                    name: w.name,
                    role: w.role.into(),
                })
                .collect(),
            capacity: v.capacity,
            standing: match v.standing {
                "member" => Standing::Member,
                "waiting" => Standing::Waiting,
                _ => Standing::Removed,
            },
            notes: v.notes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InviteInfo {
    /// What the moderator reads out or shows as a QR code.
    pub code: String,
    pub role: Role,
    pub expires_at_ms: i64,
}

impl From<hearth_core::InviteInfo> for InviteInfo {
    fn from(i: hearth_core::InviteInfo) -> Self {
        InviteInfo {
            code: i.code,
            role: i.role.into(),
            expires_at_ms: i.expires_at,
        }
    }
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    pub round_trips: u32,
    pub failed_attempts: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Messages created, edited, deleted or reacted to by others that arrived.
    pub messages_updated: u64,
    /// Reports, alerts and nudges that arrived for this device.
    pub notes_received: u64,
    /// This device's changes still waiting for the relay, over all groups.
    pub pending: u64,
    /// Every group is caught up.
    pub complete: bool,
    pub notes: Vec<String>,
}

impl From<hearth_core::SyncReport> for SyncReport {
    fn from(r: hearth_core::SyncReport) -> Self {
        SyncReport {
            round_trips: r.round_trips,
            failed_attempts: r.failed_attempts,
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            messages_updated: r.messages_updated,
            notes_received: r.notes_received,
            pending: r.pending,
            complete: r.complete,
            notes: r.notes,
        }
    }
}

// ---- safety

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Situation {
    SelfHarm,
    HarmToBaby,
    DomesticAbuse,
    RedFlag,
    LowMood,
}

impl From<CoreSituation> for Situation {
    fn from(s: CoreSituation) -> Self {
        match s {
            CoreSituation::SelfHarm => Situation::SelfHarm,
            CoreSituation::HarmToBaby => Situation::HarmToBaby,
            CoreSituation::DomesticAbuse => Situation::DomesticAbuse,
            CoreSituation::RedFlag => Situation::RedFlag,
            CoreSituation::LowMood => Situation::LowMood,
        }
    }
}

impl From<Situation> for CoreSituation {
    fn from(s: Situation) -> Self {
        match s {
            Situation::SelfHarm => CoreSituation::SelfHarm,
            Situation::HarmToBaby => CoreSituation::HarmToBaby,
            Situation::DomesticAbuse => CoreSituation::DomesticAbuse,
            Situation::RedFlag => CoreSituation::RedFlag,
            Situation::LowMood => CoreSituation::LowMood,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HelpLine {
    pub name: String,
    pub number: String,
    pub hours: String,
    pub text: Option<String>,
}

/// Where to get help now: works offline (the help card ships with the app).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HelpNow {
    pub situation: Situation,
    pub message: String,
    pub emergency: String,
    pub maternity_triage: Option<String>,
    pub lines: Vec<HelpLine>,
    pub region: String,
    pub note: Option<String>,
    /// Set when the card is a sample whose numbers a programme has not verified.
    pub notice: Option<String>,
}

impl From<safety::HelpNow> for HelpNow {
    fn from(h: safety::HelpNow) -> Self {
        HelpNow {
            situation: h.situation.into(),
            message: h.message,
            emergency: h.emergency,
            maternity_triage: h.maternity_triage,
            lines: h
                .lines
                .into_iter()
                .map(|l| HelpLine {
                    name: l.name,
                    number: l.number,
                    hours: l.hours,
                    text: l.text,
                })
                .collect(),
            region: h.region,
            note: h.note,
            notice: h.notice,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RiskLevel {
    None,
    Concern,
    Urgent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum AlertSeverity {
    Concern,
    Urgent,
}

impl From<Severity> for AlertSeverity {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Concern => AlertSeverity::Concern,
            Severity::Urgent => AlertSeverity::Urgent,
        }
    }
}

impl From<AlertSeverity> for Severity {
    fn from(s: AlertSeverity) -> Self {
        match s {
            AlertSeverity::Concern => Severity::Concern,
            AlertSeverity::Urgent => Severity::Urgent,
        }
    }
}

/// What the on-device detector found in a draft. Nothing is sent or hidden: show `help` and
/// offer to alert her moderators (`GroupTimeline.raise_alert`) if `can_alert`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DraftCheck {
    pub level: RiskLevel,
    pub categories: Vec<String>,
    pub red_flags: Vec<String>,
    pub help: Option<HelpNow>,
    pub severity: Option<AlertSeverity>,
    pub can_alert: bool,
}

impl From<safety::DraftCheck> for DraftCheck {
    fn from(d: safety::DraftCheck) -> Self {
        DraftCheck {
            level: match d.level {
                Level::None => RiskLevel::None,
                Level::Concern => RiskLevel::Concern,
                Level::Urgent => RiskLevel::Urgent,
            },
            categories: d.categories,
            red_flags: d.red_flags,
            help: d.help.map(Into::into),
            severity: d.severity.map(Into::into),
            can_alert: d.can_alert,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TopicFilter {
    /// `loss`, `birth_trauma`, `low_mood` or `medical_detail`.
    pub topic: String,
    pub mode: FilterMode,
}

/// This member's own content filters (they never hide anything from anyone else).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ContentFilters {
    pub topics: Vec<TopicFilter>,
    /// Messages the detector finds distressing, whatever their topic.
    pub distressing: FilterMode,
}

impl From<CoreFilters> for ContentFilters {
    fn from(f: CoreFilters) -> Self {
        ContentFilters {
            topics: f
                .topics
                .into_iter()
                .map(|(topic, mode)| TopicFilter {
                    topic,
                    mode: mode.into(),
                })
                .collect(),
            distressing: f.distressing.into(),
        }
    }
}

// ---- moderation

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Rules {
    pub id: String,
    pub text: String,
    pub set_by: String,
    pub set_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Pin {
    pub id: String,
    pub title: String,
    pub body: String,
    pub source: String,
    pub pinned_by: String,
    pub pinned_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum EndingPhase {
    /// Set, more than four weeks away.
    Planned,
    FourWeeks,
    OneWeek,
    Farewell,
    /// Read-only: nobody can post; everyone can still read and export.
    Ended,
}

/// A group's planned ending, as members see it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Ending {
    pub ends_at_ms: i64,
    pub farewell_from_ms: i64,
    pub phase: EndingPhase,
    /// What to show members now (none while the end is more than four weeks away).
    pub reminder: Option<String>,
    /// What comes next, in the moderator's words.
    pub next: String,
    pub set_by: String,
    pub read_only: bool,
}

/// The group's rules, pins, settings and duty, and this member's own standing in it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ModerationView {
    pub is_moderator: bool,
    pub rules: Option<Rules>,
    pub must_accept_rules: bool,
    pub pins: Vec<Pin>,
    pub slow_mode_secs: u32,
    pub holding_all: bool,
    pub new_member_days: u32,
    pub on_duty: Vec<String>,
    pub nobody_on_duty: bool,
    /// While nobody is on duty: the banner with where to get help now.
    pub help_now: Option<HelpNow>,
    pub i_am_on_duty: bool,
    pub muted_until_ms: Option<i64>,
    pub next_post_at_ms: Option<i64>,
    /// The group's planned ending, if its moderators set one.
    pub ending: Option<Ending>,
    pub stage: GroupStage,
    /// Volunteers and coordinators only: a debrief group no mother is invited to.
    pub volunteers_only: bool,
}

/// Where a group is in its members' journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum GroupStage {
    Antenatal,
    Postnatal,
}

impl From<moderation::ModerationView> for ModerationView {
    fn from(v: moderation::ModerationView) -> Self {
        ModerationView {
            is_moderator: v.is_moderator,
            rules: v.rules.map(|r| Rules {
                id: r.id,
                text: r.text,
                set_by: r.set_by,
                set_at_ms: r.set_at,
            }),
            must_accept_rules: v.must_accept_rules,
            pins: v
                .pins
                .into_iter()
                .map(|p| Pin {
                    id: p.id,
                    title: p.title,
                    body: p.body,
                    source: p.source,
                    pinned_by: p.pinned_by,
                    pinned_at_ms: p.pinned_at,
                })
                .collect(),
            slow_mode_secs: v.slow_mode_secs,
            holding_all: v.holding_all,
            new_member_days: v.new_member_days,
            on_duty: v.on_duty,
            nobody_on_duty: v.nobody_on_duty,
            help_now: v.help_now.map(Into::into),
            i_am_on_duty: v.i_am_on_duty,
            muted_until_ms: v.muted_until,
            next_post_at_ms: v.next_post_at,
            stage: if v.stage == "postnatal" {
                GroupStage::Postnatal
            } else {
                GroupStage::Antenatal
            },
            volunteers_only: v.volunteers_only,
            ending: v.ending.map(|e| Ending {
                ends_at_ms: e.ends_at,
                farewell_from_ms: e.farewell_from,
                phase: match e.phase {
                    "four_weeks" => EndingPhase::FourWeeks,
                    "one_week" => EndingPhase::OneWeek,
                    "farewell" => EndingPhase::Farewell,
                    "ended" => EndingPhase::Ended,
                    _ => EndingPhase::Planned,
                },
                reminder: e.reminder,
                next: e.next,
                set_by: e.set_by,
                read_only: e.read_only,
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReportReason {
    Misinformation,
    Distress,
    Abuse,
    /// Risk to herself or the baby.
    Risk,
    Spam,
    Other,
}

impl From<ReportReason> for CoreReportReason {
    fn from(r: ReportReason) -> Self {
        match r {
            ReportReason::Misinformation => CoreReportReason::Misinformation,
            ReportReason::Distress => CoreReportReason::Distress,
            ReportReason::Abuse => CoreReportReason::Abuse,
            ReportReason::Risk => CoreReportReason::Risk,
            ReportReason::Spam => CoreReportReason::Spam,
            ReportReason::Other => CoreReportReason::Other,
        }
    }
}

impl From<CoreReportReason> for ReportReason {
    fn from(r: CoreReportReason) -> Self {
        match r {
            CoreReportReason::Misinformation => ReportReason::Misinformation,
            CoreReportReason::Distress => ReportReason::Distress,
            CoreReportReason::Abuse => ReportReason::Abuse,
            CoreReportReason::Risk => ReportReason::Risk,
            CoreReportReason::Spam => ReportReason::Spam,
            CoreReportReason::Other => ReportReason::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ItemState {
    Open,
    Acknowledged,
    Resolved,
}

fn item_state(s: &str) -> ItemState {
    match s {
        "acknowledged" => ItemState::Acknowledged,
        "resolved" => ItemState::Resolved,
        _ => ItemState::Open,
    }
}

/// A report as its reporter sees it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MyReport {
    pub id: String,
    pub message_id: String,
    pub reason: ReportReason,
    pub state: ItemState,
    pub outcome: String,
    pub sent_at_ms: i64,
    /// Still waiting to reach the relay.
    pub pending: bool,
}

impl From<notes::MyReport> for MyReport {
    fn from(r: notes::MyReport) -> Self {
        MyReport {
            id: r.id,
            message_id: r.message_id,
            reason: r.reason.into(),
            state: item_state(r.state),
            outcome: r.outcome,
            sent_at_ms: r.sent_at,
            pending: r.pending,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum QueueKind {
    Report,
    Alert,
    SelfCheck,
    /// A received message this device's detector flagged.
    Detected,
    /// A volunteer's private note to her supervisors.
    Supervision,
    /// A mother asks for a different volunteer (no reason is asked).
    VolunteerChange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum EscalationTier {
    Volunteer,
    Moderator,
    Referral,
}

impl From<Tier> for EscalationTier {
    fn from(t: Tier) -> Self {
        match t {
            Tier::Volunteer => EscalationTier::Volunteer,
            Tier::Moderator => EscalationTier::Moderator,
            Tier::Referral => EscalationTier::Referral,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ContextLine {
    pub author: String,
    pub message_id: String,
    pub text: String,
    pub sent_at_ms: i64,
    pub reported: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Escalation {
    /// The tier that must act now.
    pub tier: EscalationTier,
    pub acknowledged_by_tier: Option<EscalationTier>,
    pub due_at_ms: Option<i64>,
    pub overdue_ms: i64,
    pub action: String,
}

/// One item of the moderators' review queue.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QueueItem {
    /// What `acknowledge` and `resolve` take.
    pub id: String,
    pub group: String,
    pub group_name: String,
    pub kind: QueueKind,
    pub message_id: Option<String>,
    pub reason: String,
    pub state: ItemState,
    /// Higher is more urgent (urgent alerts 5 … spam 0).
    pub severity: u8,
    pub raised_at_ms: i64,
    pub raised_by: String,
    pub note: String,
    pub outcome: String,
    pub context: Vec<ContextLine>,
    pub escalation: Option<Escalation>,
}

impl From<notes::QueueItem> for QueueItem {
    fn from(q: notes::QueueItem) -> Self {
        QueueItem {
            id: q.id,
            group: q.group,
            group_name: q.group_name,
            kind: match q.kind {
                "alert" => QueueKind::Alert,
                "self_check" => QueueKind::SelfCheck,
                "detected" => QueueKind::Detected,
                "supervision" => QueueKind::Supervision,
                "volunteer_change" => QueueKind::VolunteerChange,
                _ => QueueKind::Report,
            },
            message_id: q.message_id,
            reason: q.reason,
            state: item_state(q.state),
            severity: q.severity,
            raised_at_ms: q.raised_at,
            raised_by: q.raised_by,
            note: q.note,
            outcome: q.outcome,
            context: q
                .context
                .into_iter()
                .map(|c| ContextLine {
                    author: c.author,
                    message_id: c.message_id,
                    text: c.text,
                    sent_at_ms: c.sent_at,
                    reported: c.reported,
                })
                .collect(),
            escalation: q.escalation.map(|e| Escalation {
                tier: e.tier.into(),
                acknowledged_by_tier: e.acknowledged_by_tier.map(Into::into),
                due_at_ms: e.due_at,
                overdue_ms: e.overdue_ms,
                action: e.action,
            }),
        }
    }
}
