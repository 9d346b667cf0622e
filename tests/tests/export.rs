//! Data portability: a member's own messages as a readable file, and the group's history as
//! she sees it as an Automerge document that the official JavaScript Automerge package opens
//! (`tests/js/check-export.mjs`, installed by `scripts/test` with `npm ci --prefix tests/js`).

use std::path::PathBuf;
use std::process::Command;

use hearth_core::{Reaction, Role};
use hearth_tests::devices::{relay, Device};
use serde_json::Value;

/// Opens an export with JavaScript Automerge and returns what it read. Fails loudly, naming
/// what to install, when node or the package is missing.
fn open_in_javascript(bytes: &[u8]) -> Value {
    let js: PathBuf = [env!("CARGO_MANIFEST_DIR"), "js"].iter().collect();
    assert!(
        js.join("node_modules/@automerge/automerge").exists(),
        "the JavaScript Automerge package is not installed in {}: run `npm ci --prefix tests/js` \
         (scripts/test does)",
        js.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("group.automerge");
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new("node")
        .arg(js.join("check-export.mjs"))
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run node (install Node.js; scripts/test needs it): {e}")
        });
    assert!(
        out.status.success(),
        "node could not open the export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn exports_are_complete_readable_and_open_in_javascript_automerge() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let mut joy = Device::new("Joy", Role::Mother, &url);
    let g = ruth.create_group("Due in October");
    ruth.admit(&g, &mut amina, Role::Mother);
    ruth.admit(&g, &mut joy, Role::Mother);
    amina.sync();
    joy.sync();

    // Enough messages to span several timeline pages and blocks.
    let texts: Vec<String> = (0..620)
        .map(|i| format!("Amina's note {i}: ¿cómo estáis? 🤰"))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    amina.companion.send_many(&g, &refs).unwrap();
    amina
        .companion
        .send_with_warning(&g, "Our first scan was hard", "pregnancy loss")
        .unwrap();
    amina.sync();
    joy.send(&g, "Joy's own words stay Joy's");
    joy.send(&g, "Eat liver, it's full of iron");
    joy.sync();
    ruth.sync();
    let liver = ruth
        .timeline(&g)
        .into_iter()
        .find(|i| i.text.starts_with("Eat liver"))
        .unwrap()
        .id;
    ruth.companion
        .correct(&g, &liver, "Liver is not advised in pregnancy (vitamin A).")
        .unwrap();
    ruth.sync();
    amina.sync();
    let first = amina
        .timeline(&g)
        .into_iter()
        .find(|i| i.text.starts_with("Joy's"))
        .unwrap()
        .id;
    amina
        .companion
        .react(&g, &first, Reaction::Hug, true)
        .unwrap();

    // Text: her own messages only, all of them, readable.
    let text = amina.companion.export_text(&g).unwrap();
    assert!(
        text.starts_with("Hearth: Due in October\n"),
        "{}",
        &text[..200]
    );
    for t in &texts {
        assert!(text.contains(t.as_str()), "missing {t:?}");
    }
    assert!(text.contains("(content warning: pregnancy loss) Our first scan was hard"));
    assert!(
        !text.contains("Joy's own words"),
        "other members' words are theirs"
    );
    assert_eq!(text.lines().filter(|l| l.starts_with('[')).count(), 621);

    // Automerge: everything her timeline shows, in order, opened by JavaScript Automerge.
    let bytes = amina.companion.export_automerge(&g).unwrap();
    let js = open_in_javascript(&bytes);
    assert_eq!(js["format"], "hearth-export/1");
    assert_eq!(js["group"]["name"], "Due in October");
    assert_eq!(js["exported_by"], "Amina");
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = amina.companion.timeline(&g, before, 200).unwrap();
        let mut items = page.items;
        items.extend(all);
        all = items;
        match page.older {
            Some(k) => before = Some(k),
            None => break,
        }
    }
    let messages = js["messages"].as_array().unwrap();
    assert_eq!(messages.len(), all.len());
    assert_eq!(messages.len(), 621 + 2);
    for (m, i) in messages.iter().zip(&all) {
        assert_eq!(m["id"], i.id.to_hex());
        assert_eq!(m["author"], i.author_name);
        assert_eq!(m["text"], i.text);
        assert_eq!(m["sent_at"], i.sent_at);
        assert_eq!(m["correction"].as_str(), i.correction.as_deref());
        assert_eq!(m["warning"].as_str(), i.warning.as_deref());
    }
    let liver = messages
        .iter()
        .find(|m| m["text"] == "Eat liver, it's full of iron")
        .unwrap();
    assert_eq!(
        liver["correction"],
        "Liver is not advised in pregnancy (vitamin A)."
    );
    let hugged = messages
        .iter()
        .find(|m| m["text"] == "Joy's own words stay Joy's")
        .unwrap();
    assert_eq!(hugged["reactions"]["hug"], 1);
}

#[test]
fn a_two_person_conversation_exports_both_sides() {
    let (_dir, relay) = relay();
    let url = relay.url();
    let mut ruth = Device::new("Ruth", Role::Moderator, &url);
    let mut amina = Device::new("Amina", Role::Mother, &url);
    let g = ruth
        .companion
        .create_group(
            "Ruth and Amina",
            hearth_core::Capacity::new(Some(2), None).unwrap(),
        )
        .unwrap()
        .id;
    ruth.sync();
    ruth.admit(&g, &mut amina, Role::Mother);
    amina.sync();
    ruth.send(&g, "How are you this week?");
    ruth.sync();
    amina.sync();
    amina.send(&g, "Better, thank you");
    amina.sync();
    let text = amina.companion.export_text(&g).unwrap();
    assert!(text.contains("whole conversation"), "{text}");
    assert!(text.contains("Ruth: How are you this week?"), "{text}");
    assert!(text.contains("Amina: Better, thank you"), "{text}");
}
