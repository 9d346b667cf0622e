// swift-tools-version:5.9
// Hearth for iOS: the generated bindings (HearthFFI, over the C module hearth_ffiFFI) and a thin
// idiomatic layer (Hearth): AsyncStream over the listeners, a URLSession transport, the store
// key in the Keychain.
//
// Linking the Rust library: for `swift test` on a Mac or Linux, build it first
// (`cargo build -p hearth-ffi` at the repository root) and this package links
// ../target/debug/libhearth_ffi (HEARTH_LIB_DIR overrides the directory; scripts/test-swift
// sets it). An iOS app links an XCFramework of the static library instead (docs/mobile.md).
import Foundation
import PackageDescription

let libDir = ProcessInfo.processInfo.environment["HEARTH_LIB_DIR"]
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../target/debug").standardized.path

let package = Package(
    name: "Hearth",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "Hearth", targets: ["Hearth"]),
    ],
    targets: [
        .target(
            name: "hearth_ffiFFI",
            path: "Sources/hearth_ffiFFI",
            linkerSettings: [
                .unsafeFlags(["-L", libDir]),
                .linkedLibrary("hearth_ffi"),
            ]
        ),
        .target(name: "HearthFFI", dependencies: ["hearth_ffiFFI"], path: "Sources/HearthFFI"),
        .target(name: "Hearth", dependencies: ["HearthFFI"], path: "Sources/Hearth"),
        .testTarget(name: "HearthTests", dependencies: ["Hearth", "HearthFFI"], path: "Tests/HearthTests"),
    ]
)
