// The cost of crossing the FFI from Kotlin: one plain call, and one listener update (a command
// that changes a timeline, through to the diff arriving in a Kotlin listener). Prints figures;
// asserts nothing. Usage: Bench [--quick] WORK_DIR
package org.hearth.bench

import java.io.File
import java.util.concurrent.Semaphore
import java.util.concurrent.TimeUnit
import org.hearth.Hearth
import org.hearth.RawStoreKey
import org.hearth.ffi.HearthException
import org.hearth.ffi.HttpRequest
import org.hearth.ffi.HttpResponse
import org.hearth.ffi.RelayTransport
import org.hearth.ffi.Role
import org.hearth.ffi.TimelineDiff
import org.hearth.ffi.TimelineListener

/** No relay: the benchmark measures the device alone. */
private object Offline : RelayTransport {
    override fun post(request: HttpRequest): HttpResponse = throw HearthException.RelayUnreachable("offline")
}

private fun rate(n: Int, nanos: Long) = n * 1e9 / nanos

fun main(args: Array<String>) {
    val quick = args.contains("--quick")
    val dir = File(args.lastOrNull { !it.startsWith("--") } ?: error("usage: Bench [--quick] WORK_DIR"))
    dir.deleteRecursively()
    val calls = if (quick) 20_000 else 500_000
    val updates = if (quick) 100 else 2_000

    Hearth.create(File(dir, "bench"), RawStoreKey(ByteArray(32) { it.toByte() }), "Midwife Bench", Role.MODERATOR, null, Offline).use { c ->
        val group = c.createGroup("Bench", null, null)
        c.group(group.id).use { tl ->
            // One FFI call: a method that reads in-memory state and returns a small record.
            repeat(calls / 10) { c.profile() } // warm up the JIT
            var t = System.nanoTime()
            repeat(calls) { c.profile() }
            var ns = System.nanoTime() - t
            println("ffi call (HearthCompanion.profile): %.0f calls/s, %.2f µs each".format(rate(calls, ns), ns / 1e3 / calls))

            // The cheapest calls: a string from an object, and a bool from a handle (no record).
            repeat(calls / 10) { tl.groupId() }
            t = System.nanoTime()
            repeat(calls) { tl.groupId() }
            ns = System.nanoTime() - t
            println("ffi call (GroupTimeline.groupId, a string): %.0f calls/s, %.2f µs each".format(rate(calls, ns), ns / 1e3 / calls))
            tl.addListener(1u, object : TimelineListener {
                override fun onUpdate(diffs: List<TimelineDiff>) {}
            }).use { handle ->
                repeat(calls / 10) { handle.isActive() }
                t = System.nanoTime()
                repeat(calls) { handle.isActive() }
                ns = System.nanoTime() - t
            }
            println("ffi call (ListenerHandle.isActive, a bool): %.0f calls/s, %.2f µs each".format(rate(calls, ns), ns / 1e3 / calls))

            // One listener update: send a message, wait for its diff in the listener.
            val arrived = Semaphore(0)
            val listener = object : TimelineListener {
                override fun onUpdate(diffs: List<TimelineDiff>) {
                    if (diffs.any { it is TimelineDiff.Insert }) arrived.release()
                }
            }
            tl.addListener(20u, listener).use {
                repeat(updates / 10) { i ->
                    tl.send("warm-up $i")
                    check(arrived.tryAcquire(10, TimeUnit.SECONDS)) { "no update arrived" }
                }
                t = System.nanoTime()
                repeat(updates) { i ->
                    tl.send("message $i")
                    check(arrived.tryAcquire(10, TimeUnit.SECONDS)) { "no update arrived" }
                }
                ns = System.nanoTime() - t
            }
            println("listener update (send, then its diff in a Kotlin listener): %.0f updates/s, %.2f ms each".format(rate(updates, ns), ns / 1e6 / updates))

            // The same commands without a listener, to separate the store's share.
            t = System.nanoTime()
            repeat(updates) { i -> tl.send("plain $i") }
            ns = System.nanoTime() - t
            println("send alone (no listener): %.0f sends/s, %.2f ms each".format(rate(updates, ns), ns / 1e6 / updates))
        }
        c.shutdown()
    }
    dir.deleteRecursively()
}
