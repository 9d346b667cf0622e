//! A group's journey and the quiet moves within it, through the relay: moderators move a group
//! from antenatal to postnatal (renamed on every device); after a loss a moderator privately
//! offers a member loss support and only the two of them ever see it; a mother asks for a
//! different volunteer without giving a reason and it reaches the coordinators' queue.

use hearth_core::moderation::Stage;
use hearth_core::notes::OfferKind;
use hearth_core::{Error, Role};
use hearth_tests::devices::{all_bytes_of, contains, relay, Device};

#[test]
fn a_group_moves_to_postnatal_and_offers_stay_private() {
    let (dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut bea = Device::new("Bea", Role::Mother, &url);
    let g = ruth.create_group("Due in March");
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.admit(&g, &mut bea, Role::Mother);
    for d in [&mut amina, &mut bea] {
        d.sync();
        assert_eq!(d.companion.moderation(&g).unwrap().stage, "antenatal");
    }

    // Only a moderator moves the group on; a bad name changes nothing.
    assert!(matches!(
        amina.companion.set_stage(&g, Stage::Postnatal, None),
        Err(Error::NotAllowed { .. })
    ));
    assert!(ruth
        .companion
        .set_stage(&g, Stage::Postnatal, Some("   "))
        .is_err());
    assert_eq!(ruth.companion.moderation(&g).unwrap().stage, "antenatal");
    ruth.companion
        .set_stage(&g, Stage::Postnatal, Some("March babies"))
        .unwrap();
    ruth.sync();
    for d in [&mut amina, &mut bea] {
        d.sync();
        assert_eq!(d.companion.moderation(&g).unwrap().stage, "postnatal");
        assert_eq!(
            d.companion.find_group(&g.to_hex()).unwrap().name,
            "March babies"
        );
    }
    let audit = ruth.companion.audit_log(&g).unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "stage" && a.detail == "postnatal"));

    // A quiet offer after a loss: Amina sees it, Bea never does, nor does the relay.
    let text = "OFFER-SECRET I'm so sorry. There is a loss-support group, and Jo can call you.";
    assert!(matches!(
        bea.companion
            .offer(&g, "Amina", OfferKind::LossSupport, text),
        Err(Error::NotAllowed { .. })
    ));
    let offer = ruth
        .companion
        .offer(&g, "Amina", OfferKind::LossSupport, text)
        .unwrap();
    ruth.sync();
    amina.sync();
    bea.sync();
    let seen = amina.companion.offers(&g).unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].kind, seen[0].accepted), ("loss_support", None));
    assert!(bea.companion.offers(&g).unwrap().is_empty());
    assert!(
        bea.timeline(&g).is_empty(),
        "nothing is announced to the group"
    );
    amina
        .companion
        .answer_offer(&g, &offer.to_hex(), true)
        .unwrap();
    amina.sync();
    ruth.sync();
    assert_eq!(ruth.companion.offers(&g).unwrap()[0].accepted, Some(true));
    assert!(!contains(&all_bytes_of(dir.path()), "OFFER-SECRET"));

    // Asking for a different volunteer: no reason, straight to the coordinators' queue.
    amina.companion.ask_for_another_volunteer(&g).unwrap();
    amina.sync();
    ruth.sync();
    let queue = ruth.companion.queue(false).unwrap();
    let item = queue
        .iter()
        .find(|q| q.kind == "volunteer_change")
        .expect("the request in the queue");
    assert_eq!(item.raised_by, "Amina");
    assert!(
        item.note.contains("No reason is asked for"),
        "{}",
        item.note
    );
    ruth.companion.acknowledge(&item.id).unwrap();
    assert!(bea.companion.queue(false).unwrap().is_empty());
}
