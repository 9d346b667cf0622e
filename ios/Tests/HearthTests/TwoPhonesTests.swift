import XCTest
import HearthFFI
@testable import Hearth

/// Mirrors android/hearth/src/test/kotlin/org/hearth/TwoPhonesTest.kt.
final class TwoPhonesTests: XCTestCase {
    func testInviteJoinAdmissionChatReportAndHideSeenThroughListeners() async throws {
        let dir = try tempDir()
        let relay = try relayURL()
        let ruth = try Hearth.create(home: dir.appendingPathComponent("ruth"), key: RawStoreKey.random(),
                                     name: "Midwife Ruth", role: .moderator, relay: relay)
        let amina = try Hearth.create(home: dir.appendingPathComponent("amina"), key: RawStoreKey.random(),
                                      name: "Amina", role: .mother, relay: relay)
        defer { try? amina.shutdown(); try? ruth.shutdown() }

        let group = try ruth.createGroup(name: "Due in March", capacity: nil, capacityReason: nil)
        let ruthTl = try ruth.group(groupId: group.id)
        let ruthItems = try ruthTl.items()
        _ = try ruthTl.send(text: "Welcome, everyone")
        _ = try await awaitValue(ruthItems, "Ruth's welcome") { $0.map(\.text) == ["Welcome, everyone"] }

        let invite = try ruthTl.invite(role: .mother, validForSecs: 3600)
        _ = try await ruth.sync()
        let joined = try amina.join(code: invite.code)
        XCTAssertEqual(joined.id, group.id)
        XCTAssertEqual(try amina.group(groupId: group.id).members().standing, .waiting)
        _ = try await ruth.sync()
        XCTAssertEqual(try ruthTl.members().members.count, 2)
        _ = try await amina.sync()

        let aminaTl = try amina.group(groupId: group.id)
        XCTAssertEqual(try aminaTl.members().standing, .member)
        let aminaItems = try aminaTl.items()
        let hello = try aminaTl.send(text: "Hello! First baby, due on the 14th.")
        _ = try await amina.sync()
        _ = try await ruth.sync()
        _ = try await awaitValue(ruthItems, "Amina's hello at Ruth's") { items in
            items.contains { $0.id == hello && $0.authorName == "Amina" }
        }

        let reply = try ruthTl.send(text: "Welcome Amina!")
        _ = try await ruth.sync()
        _ = try await amina.sync()
        _ = try await awaitValue(aminaItems, "Ruth's reply at Amina's") { items in
            items.contains { $0.id == reply && $0.authorName == "Midwife Ruth" }
        }

        let queue = try ruth.queueUpdates()
        let advice = try aminaTl.send(text: "My aunt says reduced movements are normal near the end")
        let report = try aminaTl.report(messageId: advice, reason: .misinformation, note: "not sure this is right")
        _ = try await amina.sync()
        _ = try await ruth.sync()
        _ = try await awaitValue(queue, "the report in Ruth's queue") { $0.contains { $0.id == report } }

        try ruthTl.hide(messageId: advice, reason: "unsafe advice")
        _ = try await ruth.sync()
        _ = try await amina.sync()
        let seen = try await awaitValue(aminaItems, "the hide at Amina's") { items in
            items.contains { $0.id == advice && $0.hidden }
        }
        let hidden = try XCTUnwrap(seen.first { $0.id == advice })
        XCTAssertTrue(hidden.moderationNote?.contains("unsafe advice") ?? false)
    }
}
