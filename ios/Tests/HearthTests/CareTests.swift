import Foundation
import XCTest
import HearthFFI
@testable import Hearth

/// Mirrors CareTest.kt.
final class CareTests: XCTestCase {
    func testCheckInsFromPlanToSkip() throws {
        let meeting = try Meeting(in: try tempDir())
        defer { meeting.close() }
        let convo = try meeting.ruth.startConversation(name: "Ruth and Amina")
        let invite = try meeting.ruth.group(groupId: convo.id).invite(role: .mother, validForSecs: 3600)
        _ = try meeting.ruth.syncNow()
        _ = try meeting.amina.join(code: invite.code)
        _ = try meeting.ruth.syncNow()
        _ = try meeting.amina.syncNow()

        let tl = try meeting.ruth.group(groupId: convo.id)
        XCTAssertThrowsError(try tl.planCheckins(day: "tuesday", at: "19:00", timeZone: "Mars/Olympus",
                                                 everyWeeks: 1, start: nil)) { error in
            guard case .some(.InvalidInput(let field, _)) = error as? HearthError else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "time_zone")
        }
        _ = try tl.planCheckins(day: "tuesday", at: "19:00", timeZone: "Europe/London", everyWeeks: 1, start: nil)
        _ = try meeting.ruth.syncNow()
        _ = try meeting.amina.syncNow()
        let mine = try meeting.amina.myCheckins()
        XCTAssertEqual(mine.first?.volunteer, "Midwife Ruth")
        XCTAssertEqual(try meeting.amina.group(groupId: convo.id).skipCheckin(), mine.first?.nextDate)

        try meeting.ruth.setVolunteerDuty(on: false)
        XCTAssertTrue(try meeting.ruth.checkins().due.isEmpty)
    }

    func testStageAndAQuietOffer() throws {
        let meeting = try Meeting(in: try tempDir())
        defer { meeting.close() }
        try meeting.ruth.group(groupId: meeting.group.id).setStage(stage: .postnatal, rename: "March babies")
        _ = try meeting.ruth.syncNow()
        _ = try meeting.amina.syncNow()
        let tl = try meeting.amina.group(groupId: meeting.group.id)
        XCTAssertEqual(try tl.moderation().stage, .postnatal)
        XCTAssertEqual(try tl.info().name, "March babies")

        let offer = try meeting.ruth.group(groupId: meeting.group.id)
            .offer(member: "Amina", kind: .lossSupport, text: "There is a loss-support group if you would like it")
        _ = try meeting.ruth.syncNow()
        _ = try meeting.amina.syncNow()
        XCTAssertEqual(try tl.offers().map { $0.id }, [offer])
        try tl.answerOffer(offerId: offer, accept: true)
        _ = try meeting.amina.syncNow()
        _ = try meeting.ruth.syncNow()
        XCTAssertEqual(try meeting.ruth.group(groupId: meeting.group.id).offers().first?.accepted, true)
    }
}
