// Opens a Hearth Automerge export (the file named on the command line) with the official
// JavaScript Automerge package and prints what it holds as JSON on one line, so the export
// tests can compare it with what the member's timeline shows.
import { readFileSync } from "node:fs";
import * as Automerge from "@automerge/automerge";

const path = process.argv[2];
if (!path) {
  console.error("usage: node check-export.mjs EXPORT_FILE");
  process.exit(2);
}
const doc = Automerge.load(new Uint8Array(readFileSync(path)));
const str = (v) => (v === null || v === undefined ? null : String(v));
const out = {
  format: str(doc.format),
  group: { id: str(doc.group.id), name: str(doc.group.name) },
  exported_by: str(doc.exported_by),
  messages: doc.messages.map((m) => ({
    id: str(m.id),
    author: str(m.author),
    text: str(m.text),
    sent_at: Number(m.sent_at),
    edited: m.edited,
    hidden: m.hidden,
    correction: str(m.correction),
    warning: str(m.warning),
    reactions: Object.fromEntries(
      Object.entries(m.reactions).map(([k, v]) => [k, Number(v)]),
    ),
  })),
};
console.log(JSON.stringify(out));
