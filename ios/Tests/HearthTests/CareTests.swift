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
        _ = try tl.answerOffer(offerId: offer, accept: true)
        _ = try meeting.amina.syncNow()
        _ = try meeting.ruth.syncNow()
        XCTAssertEqual(try meeting.ruth.group(groupId: meeting.group.id).offers().first?.accepted, true)
    }

    func testAMatchReachesTheVolunteerThenTheMother() throws {
        let dir = try tempDir()
        let meeting = try Meeting(in: dir)
        defer { meeting.close() }
        let jo = try Hearth.create(home: dir.appendingPathComponent("jo"), key: RawStoreKey.random(),
                                   name: "Jo", role: .volunteer, relay: try relayURL())
        defer { try? jo.shutdown() }

        let volunteers = try meeting.ruth.createGroup(name: "Volunteers", capacity: nil, capacityReason: nil)
        let vtl = try meeting.ruth.group(groupId: volunteers.id)
        try vtl.setVolunteersOnly(on: true)
        XCTAssertThrowsError(try vtl.invite(role: .mother, validForSecs: 3600)) { error in
            guard case .some(.InvalidInput(let field, _)) = error as? HearthError else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "role")
        }
        let invite = try vtl.invite(role: .volunteer, validForSecs: 3600)
        _ = try meeting.ruth.syncNow()
        _ = try jo.join(code: invite.code)
        _ = try meeting.ruth.syncNow()
        _ = try jo.syncNow()
        try jo.setDebriefGroup(groupId: volunteers.id)
        _ = try meeting.ruth.syncNow()

        let matched = try meeting.ruth.confirmMatch(volunteersGroupId: volunteers.id, volunteer: "Jo",
                                                    motherGroupId: meeting.group.id, mother: "Amina",
                                                    text: "Both first babies")
        _ = try meeting.ruth.syncNow()
        _ = try jo.syncNow()
        let offer = try jo.group(groupId: volunteers.id).offers().first
        XCTAssertEqual(offer?.kind, .match)
        XCTAssertEqual(offer?.mother, "Amina")
        let started = try jo.group(groupId: volunteers.id).answerOffer(offerId: matched, accept: true).started
        let convo = try XCTUnwrap(started)
        _ = try jo.syncNow()
        _ = try meeting.ruth.syncNow()
        _ = try meeting.ruth.introduce(volunteersGroupId: volunteers.id, matchOfferId: matched, text: "")
        _ = try meeting.ruth.syncNow()
        _ = try meeting.amina.syncNow()
        let atl = try meeting.amina.group(groupId: meeting.group.id)
        let intro = try XCTUnwrap(try atl.offers().first)
        XCTAssertTrue(intro.joinsConversation)
        let code = try XCTUnwrap(try atl.answerOffer(offerId: intro.id, accept: true).invite)
        _ = try meeting.amina.join(code: code)
        _ = try jo.syncNow()
        _ = try meeting.amina.syncNow()
        _ = try jo.group(groupId: convo.id).send(text: "Hello Amina, I'm Jo")
        _ = try jo.syncNow()
        _ = try meeting.amina.syncNow()
        XCTAssertTrue(try meeting.amina.group(groupId: convo.id).page(before: nil, limit: 20).items
            .contains { $0.text.contains("I'm Jo") })
    }
}
