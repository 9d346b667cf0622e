package org.hearth

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.flow
import org.hearth.ffi.HearthCompanion
import org.hearth.ffi.GroupInfo
import org.hearth.ffi.GroupTimeline
import org.hearth.ffi.GroupsListener
import org.hearth.ffi.ListenerHandle
import org.hearth.ffi.ModerationListener
import org.hearth.ffi.ModerationView
import org.hearth.ffi.QueueItem
import org.hearth.ffi.QueueListener
import org.hearth.ffi.SyncListener
import org.hearth.ffi.SyncStatus
import org.hearth.ffi.TimelineDiff
import org.hearth.ffi.TimelineItem
import org.hearth.ffi.TimelineListener

// Flows over the listeners. Each collection registers one listener and closes its handle when
// the collector stops (scope cancelled, screen gone). The channel is unbounded, so no update
// is ever dropped and the Rust dispatcher thread never waits for a slow collector.

private fun <T> listen(register: (emit: (T) -> Unit) -> ListenerHandle): Flow<T> =
    callbackFlow {
        val handle = register { value -> trySend(value) }
        awaitClose { handle.close() }
    }.buffer(Channel.UNLIMITED)

/** The timeline's diffs: a `Reset` first, then changes. */
fun GroupTimeline.diffs(limit: Int = 50): Flow<List<TimelineDiff>> = listen { emit ->
    addListener(limit.toUInt(), object : TimelineListener {
        override fun onUpdate(diffs: List<TimelineDiff>) = emit(diffs)
    })
}

/** The newest [limit] messages, oldest first, as a whole list after every change. */
fun GroupTimeline.items(limit: Int = 50): Flow<List<TimelineItem>> = flow {
    val list = ArrayList<TimelineItem>()
    diffs(limit).collect { diffs ->
        list.applyDiffs(diffs)
        emit(list.toList())
    }
}

/** Applies timeline diffs in order (what a RecyclerView adapter would do with them). */
fun MutableList<TimelineItem>.applyDiffs(diffs: List<TimelineDiff>) {
    for (d in diffs) {
        when (d) {
            is TimelineDiff.Reset -> { clear(); addAll(d.items) }
            is TimelineDiff.Insert -> add(d.index.toInt(), d.item)
            is TimelineDiff.Set -> set(d.index.toInt(), d.item)
            is TimelineDiff.Remove -> removeAt(d.index.toInt())
        }
    }
}

fun GroupTimeline.moderationUpdates(): Flow<ModerationView> = listen { emit ->
    addModerationListener(object : ModerationListener {
        override fun onUpdate(view: ModerationView) = emit(view)
    })
}

fun HearthCompanion.groupUpdates(): Flow<List<GroupInfo>> = listen { emit ->
    addGroupsListener(object : GroupsListener {
        override fun onUpdate(groups: List<GroupInfo>) = emit(groups)
    })
}

fun HearthCompanion.queueUpdates(): Flow<List<QueueItem>> = listen { emit ->
    addQueueListener(object : QueueListener {
        override fun onUpdate(items: List<QueueItem>) = emit(items)
    })
}

fun HearthCompanion.syncUpdates(): Flow<SyncStatus> = listen { emit ->
    addSyncListener(object : SyncListener {
        override fun onSync(status: SyncStatus) = emit(status)
    })
}
