import XCTest
import HearthFFI
@testable import Hearth

private final class Throwing: TimelineListener, @unchecked Sendable {
    let lock = NSLock()
    var calls = 0
    func onUpdate(diffs: [TimelineDiff]) throws {
        lock.lock(); calls += 1; lock.unlock()
        throw NSError(domain: "app", code: 1, userInfo: [NSLocalizedDescriptionKey: "a bug in the app's listener"])
    }
}

private final class Boom: RelayTransport, @unchecked Sendable {
    func post(request: HttpRequest) throws -> HttpResponse {
        throw NSError(domain: "http", code: 2, userInfo: [NSLocalizedDescriptionKey: "boom in the HTTP stack"])
    }
}

/// Mirrors CallbacksTest.kt.
final class CallbacksTests: XCTestCase {
    func testClosingTwiceAndAClosedProfile() throws {
        let dir = try tempDir()
        let ruth = try Hearth.create(home: dir.appendingPathComponent("ruth"), key: RawStoreKey.random(),
                                     name: "Midwife Ruth", role: .moderator)
        let group = try ruth.createGroup(name: "Due in March", capacity: nil, capacityReason: nil)
        let tl = try ruth.group(groupId: group.id)
        let handle = try tl.addListener(limit: 10, listener: Throwing())
        handle.cancel()
        handle.cancel()
        XCTAssertFalse(handle.isActive())
        try ruth.shutdown()
        try ruth.shutdown()
        XCTAssertThrowsError(try tl.send(text: "too late")) { error in
            guard case .some(.Closed) = error as? HearthError else { return XCTFail("\(error)") }
        }
    }

    func testAThrowingListenerBreaksNeitherTheCommandNorOthers() async throws {
        let dir = try tempDir()
        let ruth = try Hearth.create(home: dir.appendingPathComponent("ruth"), key: RawStoreKey.random(),
                                     name: "Midwife Ruth", role: .moderator)
        defer { try? ruth.shutdown() }
        let group = try ruth.createGroup(name: "Due in March", capacity: nil, capacityReason: nil)
        let tl = try ruth.group(groupId: group.id)
        let thrower = Throwing()
        let handle = try tl.addListener(limit: 10, listener: thrower)
        let items = try tl.items()
        _ = try tl.send(text: "one")
        _ = try tl.send(text: "two")
        _ = try await awaitValue(items, "both messages") { $0.map(\.text) == ["one", "two"] }
        handle.cancel()
        XCTAssertGreaterThanOrEqual(ruth.listenerFailures(), 1)
    }

    func testAThrowingTransportIsAPlatformError() throws {
        let dir = try tempDir()
        let ruth = try Hearth.create(home: dir.appendingPathComponent("ruth"), key: RawStoreKey.random(),
                                     name: "Midwife Ruth", role: .moderator, relay: try relayURL(), transport: Boom())
        defer { try? ruth.shutdown() }
        XCTAssertThrowsError(try ruth.syncNow()) { error in
            guard case .some(.Platform) = error as? HearthError else { return XCTFail("\(error)") }
        }
    }
}
