import XCTest
import HearthFFI
@testable import Hearth

/// Mirrors ErrorsTest.kt.
final class ErrorsTests: XCTestCase {
    func testWrongKeyMissingProfileAndShortKey() throws {
        let dir = try tempDir()
        let home = dir.appendingPathComponent("amina")
        let key = RawStoreKey.random()
        try Hearth.create(home: home, key: key, name: "Amina", role: .mother).shutdown()
        XCTAssertThrowsError(try Hearth.open(home: home, key: RawStoreKey.random())) { error in
            guard case .some(.WrongKey) = error as? HearthError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try Hearth.open(home: dir.appendingPathComponent("nobody"), key: key)) { error in
            guard case .some(.NoProfile) = error as? HearthError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try Hearth.open(home: home, key: key).profile().name, "Amina")
    }

    func testOversizeMessageAndBadInviteWriteNothing() throws {
        let dir = try tempDir()
        let ruth = try Hearth.create(home: dir.appendingPathComponent("ruth"), key: RawStoreKey.random(),
                                     name: "Midwife Ruth", role: .moderator)
        defer { try? ruth.shutdown() }
        let group = try ruth.createGroup(name: "Due in March", capacity: nil, capacityReason: nil)
        let tl = try ruth.group(groupId: group.id)
        XCTAssertThrowsError(try tl.send(text: String(repeating: "x", count: 8193))) { error in
            guard case .some(.InvalidInput(let field, _)) = error as? HearthError else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "text")
        }
        XCTAssertThrowsError(try ruth.join(code: "not a code")) { error in
            guard case .some(.InvalidInput(let field, _)) = error as? HearthError else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "invite code")
        }
        XCTAssertTrue(try tl.page(before: nil, limit: 10).items.isEmpty)
    }

    func testAUsedInviteIsRefused() throws {
        let dir = try tempDir()
        let m = try Meeting(in: dir)
        defer { m.close() }
        let code = try m.ruth.group(groupId: m.group.id).invite(role: .mother, validForSecs: 60).code
        _ = try m.ruth.syncNow()
        let dee = try Hearth.create(home: dir.appendingPathComponent("dee"), key: RawStoreKey.random(),
                                    name: "Dee", role: .mother, relay: try relayURL())
        _ = try dee.join(code: code)
        let cara = try Hearth.create(home: dir.appendingPathComponent("cara"), key: RawStoreKey.random(),
                                     name: "Cara", role: .mother, relay: try relayURL())
        XCTAssertThrowsError(try cara.join(code: code)) { error in
            guard case .some(.InviteRefused(let reason, _)) = error as? HearthError else { return XCTFail("\(error)") }
            XCTAssertEqual(reason, "used")
        }
    }
}
