//! Folding records: order, duplicates, carried copies, spans.

use super::*;

fn dev(b: u8) -> DeviceId {
    DeviceId([b; 32])
}

fn held(id: u8, by: u8, at: i64, action: Action) -> Held {
    Held {
        id: RecordId([id; 16]),
        by: dev(by),
        chapter: 1,
        carried: false,
        record: ModRecord {
            at,
            why: format!("reason {id}"),
            action,
        },
    }
}

const M: MessageId = MessageId([7; 16]);

#[test]
fn the_newest_decision_wins_whatever_the_arrival_order() {
    let records = vec![
        held(2, 1, 200, Action::Restore { message: M }),
        held(1, 2, 100, Action::Hide { message: M }),
    ];
    let mut reversed = records.clone();
    reversed.reverse();
    for r in [records, reversed] {
        let s = ModState::fold(r);
        assert!(!s.hidden.contains_key(&M));
        assert_eq!(s.audit.len(), 2);
        assert_eq!(s.audit[0].record.action.name(), "hide");
    }
    let s = ModState::fold(vec![
        held(1, 2, 100, Action::Hide { message: M }),
        held(1, 2, 100, Action::Hide { message: M }),
    ]);
    assert_eq!(s.audit.len(), 1, "a record counts once");
    assert_eq!(s.hidden[&M].why, "reason 1");
}

#[test]
fn mutes_cover_their_span_and_unmute_cuts_it() {
    let a = dev(5);
    let s = ModState::fold(vec![
        held(
            1,
            1,
            1_000,
            Action::Mute {
                member: a,
                until: 5_000,
            },
        ),
        held(2, 1, 3_000, Action::Unmute { member: a }),
    ]);
    assert!(s.muted_at(&a, 999).is_none());
    assert!(s.muted_at(&a, 1_000).is_some());
    assert!(s.muted_at(&a, 2_999).is_some());
    assert!(s.muted_at(&a, 3_000).is_none(), "unmuted");
    assert!(s.muted_at(&a, 4_000).is_none());
}

#[test]
fn held_posts_show_to_moderators_and_their_author_until_approved() {
    let (author, other, moderator) = (dev(5), dev(6), dev(1));
    let mut s = ModState::fold(vec![held(
        1,
        1,
        1_000,
        Action::Hold {
            group: true,
            new_member_days: 0,
        },
    )]);
    fn seen<'a>(author: &'a DeviceId, viewer: &'a DeviceId, viewer_moderator: bool) -> Seen<'a> {
        Seen {
            id: &M,
            author,
            stamp: 2_000,
            author_moderator: false,
            author_admitted_at: 0,
            viewer,
            viewer_moderator,
        }
    }
    let seen = |viewer, m| seen(&author, viewer, m);
    let o = s.overlay(&seen(&other, false));
    assert!(o.held && !o.visible && o.note.is_none());
    let o = s.overlay(&seen(&author, false));
    assert!(o.held && o.visible && o.note.is_some());
    assert!(s.overlay(&seen(&moderator, true)).visible);
    // A post from before the hold began is not held.
    let before = Seen {
        stamp: 500,
        ..seen(&other, false)
    };
    assert!(!s.overlay(&before).held);
    s = ModState::fold(vec![
        held(
            1,
            1,
            1_000,
            Action::Hold {
                group: true,
                new_member_days: 0,
            },
        ),
        held(2, 1, 3_000, Action::Approve { message: M }),
    ]);
    let o = s.overlay(&seen(&other, false));
    assert!(!o.held && o.visible && o.show_text);
}

#[test]
fn new_members_posts_are_held_for_their_first_days() {
    let s = ModState::fold(vec![held(
        1,
        1,
        0,
        Action::Hold {
            group: false,
            new_member_days: 3,
        },
    )]);
    let author = dev(5);
    let viewer = dev(6);
    let at = |stamp| Seen {
        id: &M,
        author: &author,
        stamp,
        author_moderator: false,
        author_admitted_at: 10 * DAY_MS,
        viewer: &viewer,
        viewer_moderator: false,
    };
    assert!(s.overlay(&at(12 * DAY_MS)).held);
    assert!(!s.overlay(&at(13 * DAY_MS)).held);
}

#[test]
fn carried_copies_stand_in_until_the_original_arrives() {
    let rules = held(
        1,
        1,
        100,
        Action::Rules {
            text: "Be kind".into(),
        },
    );
    let carry = held(
        9,
        2,
        500,
        Action::Carry {
            records: vec![Carried {
                id: rules.id,
                by: rules.by,
                record: rules.record.clone(),
            }],
        },
    );
    let newcomer = ModState::fold(vec![carry.clone()]);
    assert_eq!(newcomer.rules.as_ref().unwrap().text, "Be kind");
    assert_eq!(newcomer.rules.as_ref().unwrap().by, dev(1));
    assert!(newcomer.audit[0].carried);
    let old_timer = ModState::fold(vec![carry, rules]);
    assert_eq!(old_timer.audit.len(), 1);
    assert!(!old_timer.audit[0].carried);
}

#[test]
fn live_records_are_what_shapes_the_group_now() {
    let a = dev(5);
    let s = ModState::fold(vec![
        held(1, 1, 100, Action::Rules { text: "Old".into() }),
        held(2, 1, 200, Action::Rules { text: "New".into() }),
        held(
            3,
            1,
            300,
            Action::Mute {
                member: a,
                until: 400,
            },
        ),
        held(
            4,
            1,
            300,
            Action::Mute {
                member: dev(6),
                until: 9_000,
            },
        ),
        held(
            5,
            1,
            300,
            Action::SlowMode {
                seconds: 30,
                off_duty: 0,
            },
        ),
        held(
            6,
            1,
            310,
            Action::SlowMode {
                seconds: 60,
                off_duty: 600,
            },
        ),
        held(7, 1, 320, Action::Duty { on: true }),
        held(8, 1, 330, Action::Hide { message: M }),
    ]);
    let ids: Vec<u8> = s.live_records(1_000).iter().map(|c| c.id.0[0]).collect();
    assert_eq!(ids, vec![2, 4, 6, 7]);
}

#[test]
fn malformed_records_are_refused() {
    let bad = [
        ModRecord {
            at: 1_000,
            why: String::new(),
            action: Action::Mute {
                member: dev(1),
                until: 999,
            },
        },
        ModRecord {
            at: 0,
            why: "x".repeat(MAX_REASON_CHARS + 1),
            action: Action::Hide { message: M },
        },
        ModRecord {
            at: 0,
            why: String::new(),
            action: Action::Rules { text: "  ".into() },
        },
        ModRecord {
            at: 0,
            why: String::new(),
            action: Action::Carry {
                records: vec![Carried {
                    id: RecordId([1; 16]),
                    by: dev(1),
                    record: ModRecord {
                        at: 0,
                        why: String::new(),
                        action: Action::Carry { records: vec![] },
                    },
                }],
            },
        },
    ];
    for r in bad {
        assert!(r.validate().is_err(), "{r:?}");
        assert!(ModRecord::decode(&r.encode()).is_none());
    }
    assert!(ModRecord::decode(b"\xff\x00garbage").is_none());
}
