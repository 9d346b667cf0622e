import Foundation
import XCTest
import HearthFFI
@testable import Hearth

/// Mirrors ToolkitTest.kt.
final class ToolkitTests: XCTestCase {
    func testPinsHoldsMuteAndTheAuditLog() throws {
        let meeting = try Meeting(in: try tempDir())
        defer { meeting.close() }
        let ruthTl = try meeting.ruth.group(groupId: meeting.group.id)
        let aminaTl = try meeting.amina.group(groupId: meeting.group.id)

        let pin = try ruthTl.pin(title: "Reduced movements",
                                 body: "Call maternity triage the same day; don't wait.", source: "NHS")
        try ruthTl.setHold(all: true, newMemberDays: 0)
        _ = try meeting.ruth.syncNow()
        _ = try meeting.amina.syncNow()
        XCTAssertEqual(try aminaTl.moderation().pins.map { $0.title }, ["Reduced movements"])

        let post = try aminaTl.send(text: "Is raspberry leaf tea safe at 36 weeks?")
        _ = try meeting.amina.syncNow()
        _ = try meeting.ruth.syncNow()
        XCTAssertEqual(try ruthTl.page(before: nil, limit: 50).items.first { $0.id == post }?.held, true)
        try ruthTl.approve(messageId: post)
        try ruthTl.setHold(all: false, newMemberDays: 0)
        _ = try meeting.ruth.syncNow()
        _ = try meeting.amina.syncNow()
        XCTAssertEqual(try aminaTl.page(before: nil, limit: 50).items.first { $0.id == post }?.held, false)

        try ruthTl.mute(member: "Amina", forSecs: 600, reason: "a pause while we talk")
        _ = try meeting.ruth.syncNow()
        _ = try meeting.amina.syncNow()
        XCTAssertThrowsError(try aminaTl.send(text: "hello?")) { error in
            guard case .some(.Muted) = error as? HearthError else { return XCTFail("\(error)") }
        }
        try ruthTl.unmute(member: "Amina")
        _ = try meeting.ruth.syncNow()
        _ = try meeting.amina.syncNow()
        _ = try aminaTl.send(text: "Thank you for explaining")

        try ruthTl.unpin(pin: pin)
        let actions = try ruthTl.auditLog().map { $0.action }
        for action in ["pin", "hold", "approve", "mute", "unmute", "unpin"] {
            XCTAssertTrue(actions.contains(action), "\(action) in \(actions)")
        }
        XCTAssertThrowsError(try aminaTl.auditLog()) { error in
            guard case .some(.NotAllowed) = error as? HearthError else { return XCTFail("\(error)") }
        }
    }

    func testASelfCheckStaysOnHerPhoneUntilShared() throws {
        let meeting = try Meeting(in: try tempDir())
        defer { meeting.close() }
        let form = try meeting.amina.selfCheckForm(language: "en")
        XCTAssertEqual(form.items.count, 10)

        XCTAssertThrowsError(try meeting.amina.takeSelfCheck(options: Data([0, 0, 0]), language: "en")) { error in
            guard case .some(.InvalidInput(let field, _)) = error as? HearthError else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "answers")
        }
        let check = try meeting.amina.takeSelfCheck(options: Data([0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), language: "en")
        XCTAssertTrue(check.item10Positive)
        XCTAssertEqual(check.flags.first, .selfHarm)

        let tl = try meeting.amina.group(groupId: meeting.group.id)
        _ = try tl.shareSelfCheck(checkId: check.id, moderator: "Midwife Ruth")
        _ = try meeting.amina.syncNow()
        _ = try meeting.ruth.syncNow()
        XCTAssertTrue(try meeting.ruth.queue(includeResolved: false).contains { $0.kind == .selfCheck })

        let doc = try tl.exportAutomerge()
        XCTAssertEqual(Array(doc.prefix(4)), [0x85, 0x6f, 0x4a, 0x83])
    }
}
