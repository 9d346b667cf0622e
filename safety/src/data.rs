//! The built-in data files, which build.rs deflates into the library.

use std::io::Read;

use flate2::read::DeflateDecoder;

/// Inflates a built-in file. Its bytes were deflated at build time from a file in `data/`, so a
/// failure here is a broken build, not bad input.
pub(crate) fn inflate(deflated: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(deflated.len() * 4);
    DeflateDecoder::new(deflated)
        .read_to_end(&mut out)
        .expect("build.rs deflated the built-in data files");
    out
}

/// Inflates a built-in text file (a lexicon).
pub(crate) fn inflate_text(deflated: &[u8]) -> String {
    String::from_utf8(inflate(deflated)).expect("the built-in data files are UTF-8")
}
