//! Packs the library's relative relocations. Nearly all of a Rust cdylib's relocations are
//! relative (vtables, string and panic-location tables): unpacked they cost 24 bytes each,
//! about a ninth of the library. Packed, they cost a few kilobytes.
//!
//! - Linux (glibc): `-z pack-relative-relocs` (DT_RELR; GNU ld 2.38+ or lld 15+, and glibc
//!   2.36+ to load the library).
//! - Android: `--pack-dyn-relocs=android`, which the loader reads from Android 6 (API 23), so
//!   the cheapest phones still in use load it. (`android+relr` packs tighter but needs API 28.)
//! - Apple platforms already store them compactly (chained fixups); nothing to add.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    match (os.as_str(), env.as_str()) {
        ("linux", "gnu") => println!("cargo::rustc-cdylib-link-arg=-Wl,-z,pack-relative-relocs"),
        ("android", _) => println!("cargo::rustc-cdylib-link-arg=-Wl,--pack-dyn-relocs=android"),
        _ => {}
    }
    println!("cargo::rerun-if-changed=build.rs");
}
