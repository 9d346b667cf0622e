//! `uniffi-bindgen` pinned to the same uniffi as `hearth-ffi`: the generated code checks the
//! library's API checksums at load time, so both must come from one version. Run it from inside
//! the workspace (it reads `cargo metadata` to find `bindings/uniffi.toml`), e.g.
//! `cargo run -p uniffi-bindgen -- generate --library target/debug/libhearth_ffi.so
//! --language kotlin --out-dir android/generated --no-format`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
