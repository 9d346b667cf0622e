import XCTest
import HearthFFI
@testable import Hearth

/// Mirrors LifecycleTest.kt.
final class LifecycleTests: XCTestCase {
    func testAStartedProfileReceivesWithoutBeingAsked() async throws {
        let dir = try tempDir()
        let m = try Meeting(in: dir)
        defer { m.close() }
        let items = try m.amina.group(groupId: m.group.id).items()
        XCTAssertTrue(try m.amina.start(intervalSecs: 1))
        let id = try m.ruth.group(groupId: m.group.id).send(text: "Anyone around tonight?")
        _ = try m.ruth.syncNow()
        _ = try await awaitValue(items, "Ruth's message, fetched by the loop") { $0.contains { $0.id == id } }
        XCTAssertTrue(m.amina.stop())
        XCTAssertFalse(m.amina.stop())
    }

    func testABackgroundSyncCatchesUp() async throws {
        let dir = try tempDir()
        let m = try Meeting(in: dir)
        defer { m.close() }
        _ = try m.ruth.group(groupId: m.group.id).send(text: "A new pinned resource is up")
        _ = try m.ruth.syncNow()
        let report = await m.amina.syncInBackground(deadlineMs: 10_000)
        XCTAssertEqual(report.outcome, .caughtUp)
        XCTAssertLessThan(report.elapsedMs, 10_000)
    }
}
