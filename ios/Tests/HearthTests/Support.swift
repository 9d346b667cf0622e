import Foundation
import XCTest
import HearthFFI
@testable import Hearth

struct MissingRelay: Error, CustomStringConvertible {
    var description: String { "HEARTH_RELAY is not set: run the tests through scripts/test-swift" }
}

/// The relay scripts/test-swift started for this run. A test that needs one fails without it.
func relayURL() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["HEARTH_RELAY"], !url.isEmpty else {
        throw MissingRelay()
    }
    return url
}

func tempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hearth-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

let waitSeconds: UInt64 = 15

/// Waits for the newest value of `stream` to match, or fails.
func awaitValue<T>(_ stream: AsyncStream<T>, _ what: String, file: StaticString = #filePath, line: UInt = #line,
                   matching: @escaping (T) -> Bool) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            for await value in stream where matching(value) { return value }
            return nil
        }
        group.addTask {
            try await Task.sleep(nanoseconds: waitSeconds * 1_000_000_000)
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        guard let value = first else {
            XCTFail("waited \(waitSeconds) s for \(what)", file: file, line: line)
            throw CancellationError()
        }
        return value
    }
}

/// A moderator and a mother in one group through the relay.
struct Meeting {
    let ruth: HearthCompanion
    let amina: HearthCompanion
    let group: GroupInfo

    init(in dir: URL) throws {
        let relay = try relayURL()
        ruth = try Hearth.create(home: dir.appendingPathComponent("ruth"), key: RawStoreKey.random(),
                                 name: "Midwife Ruth", role: .moderator, relay: relay)
        amina = try Hearth.create(home: dir.appendingPathComponent("amina"), key: RawStoreKey.random(),
                                  name: "Amina", role: .mother, relay: relay)
        group = try ruth.createGroup(name: "Due in March", capacity: nil, capacityReason: nil)
        let invite = try ruth.group(groupId: group.id).invite(role: .mother, validForSecs: 3600)
        _ = try ruth.syncNow()
        _ = try amina.join(code: invite.code)
        _ = try ruth.syncNow()
        _ = try amina.syncNow()
    }

    func close() {
        try? amina.shutdown()
        try? ruth.shutdown()
    }
}
