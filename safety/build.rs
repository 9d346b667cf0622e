//! Deflates the crate's largest built-in data files (the two lexicons and the classifier's
//! weights) into `OUT_DIR`, so the library carries them at about a third of their size; the
//! crate inflates each once, on first use (`data::inflate`). The files in `data/` stay as they
//! are: readable JSON that programmes extend, and the weights the drift test retrains.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::DeflateEncoder;
use flate2::Compression;

const FILES: [&str; 3] = ["lexicon-en.json", "lexicon-es.json", "classifier.bin"];

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for name in FILES {
        let source = Path::new("data").join(name);
        println!("cargo::rerun-if-changed={}", source.display());
        let bytes = std::fs::read(&source)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", source.display()));
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
        encoder
            .write_all(&bytes)
            .and_then(|()| encoder.finish())
            .and_then(|deflated| std::fs::write(out.join(format!("{name}.deflate")), deflated))
            .unwrap_or_else(|e| panic!("cannot deflate {}: {e}", source.display()));
    }
}
