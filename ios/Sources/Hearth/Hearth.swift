import Foundation
import HearthFFI

/// Opening and creating profiles with the platform's defaults.
public enum Hearth {
    /// Creates a profile in `home` (inside Application Support), its store encrypted under
    /// `key` (the Keychain), syncing through `relay`.
    public static func create(
        home: URL, key: StoreKeySource, name: String, role: Role, relay: String? = nil,
        transport: RelayTransport = URLSessionTransport()
    ) throws -> HearthCompanion {
        try HearthCompanion.create(home: home.path, key: key, transport: transport, name: name, role: role, relay: relay)
    }

    public static func open(
        home: URL, key: StoreKeySource, transport: RelayTransport = URLSessionTransport()
    ) throws -> HearthCompanion {
        try HearthCompanion.open(home: home.path, key: key, transport: transport)
    }
}

// MARK: - AsyncStream over the listeners
//
// Each stream registers one listener when made and cancels it when the consumer stops
// (the task is cancelled or the loop ends). Streams buffer without limit: no update is lost
// and the Rust dispatcher thread never waits for a slow consumer.

private final class Forward<T>: @unchecked Sendable {
    let yield: (T) -> Void
    init(_ yield: @escaping (T) -> Void) { self.yield = yield }
}

private final class TimelineForward: TimelineListener, @unchecked Sendable {
    let f: Forward<[TimelineDiff]>
    init(_ f: Forward<[TimelineDiff]>) { self.f = f }
    func onUpdate(diffs: [TimelineDiff]) throws { f.yield(diffs) }
}

private final class GroupsForward: GroupsListener, @unchecked Sendable {
    let f: Forward<[GroupInfo]>
    init(_ f: Forward<[GroupInfo]>) { self.f = f }
    func onUpdate(groups: [GroupInfo]) throws { f.yield(groups) }
}

private final class ModerationForward: ModerationListener, @unchecked Sendable {
    let f: Forward<ModerationView>
    init(_ f: Forward<ModerationView>) { self.f = f }
    func onUpdate(view: ModerationView) throws { f.yield(view) }
}

private final class QueueForward: QueueListener, @unchecked Sendable {
    let f: Forward<[QueueItem]>
    init(_ f: Forward<[QueueItem]>) { self.f = f }
    func onUpdate(items: [QueueItem]) throws { f.yield(items) }
}

private final class SyncForward: SyncListener, @unchecked Sendable {
    let f: Forward<SyncStatus>
    init(_ f: Forward<SyncStatus>) { self.f = f }
    func onSync(status: SyncStatus) throws { f.yield(status) }
}

private func stream<T>(_ register: (Forward<T>) throws -> ListenerHandle) rethrows -> AsyncStream<T> {
    var continuation: AsyncStream<T>.Continuation!
    let stream = AsyncStream<T>(bufferingPolicy: .unbounded) { continuation = $0 }
    let handle = try register(Forward { continuation.yield($0) })
    continuation.onTermination = { _ in handle.cancel() }
    return stream
}

extension GroupTimeline {
    /// The newest `limit` messages as diffs: a `.reset` first, then changes.
    public func diffs(limit: UInt32 = 50) throws -> AsyncStream<[TimelineDiff]> {
        try stream { try addListener(limit: limit, listener: TimelineForward($0)) }
    }

    /// The newest `limit` messages, oldest first, as a whole list after every change.
    public func items(limit: UInt32 = 50) throws -> AsyncStream<[TimelineItem]> {
        let batches = try self.diffs(limit: limit)
        return AsyncStream { continuation in
            let task = Task {
                var list: [TimelineItem] = []
                for await batch in batches {
                    list.apply(batch)
                    continuation.yield(list)
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func moderationUpdates() throws -> AsyncStream<ModerationView> {
        try stream { try addModerationListener(listener: ModerationForward($0)) }
    }
}

extension HearthCompanion {
    public func groupUpdates() throws -> AsyncStream<[GroupInfo]> {
        try stream { try addGroupsListener(listener: GroupsForward($0)) }
    }

    public func queueUpdates() throws -> AsyncStream<[QueueItem]> {
        try stream { try addQueueListener(listener: QueueForward($0)) }
    }

    public func syncUpdates() throws -> AsyncStream<SyncStatus> {
        try stream { try addSyncListener(listener: SyncForward($0)) }
    }

    /// Syncs once off the calling thread (the main actor stays free).
    public func sync() async throws -> SyncReport {
        try await Task.detached { try self.syncNow() }.value
    }

    /// For a BGAppRefreshTask: returns within `deadlineMs`; call `setTaskCompleted(success:)`
    /// with `outcome == .caughtUp`.
    public func syncInBackground(deadlineMs: UInt32) async -> BackgroundSyncReport {
        await Task.detached { self.backgroundSync(deadlineMs: deadlineMs) }.value
    }
}

extension Array where Element == TimelineItem {
    /// Applies timeline diffs in order.
    public mutating func apply(_ diffs: [TimelineDiff]) {
        for diff in diffs {
            switch diff {
            case .reset(let items): self = items
            case .insert(let index, let item): insert(item, at: Int(index))
            case .set(let index, let item): self[Int(index)] = item
            case .remove(let index): remove(at: Int(index))
            }
        }
    }
}
