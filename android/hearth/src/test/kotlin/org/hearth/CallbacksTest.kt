package org.hearth

import java.io.File
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import org.hearth.ffi.HearthException
import org.hearth.ffi.HttpRequest
import org.hearth.ffi.HttpResponse
import org.hearth.ffi.RelayTransport
import org.hearth.ffi.Role
import org.hearth.ffi.StoreKeySource
import org.hearth.ffi.TimelineDiff
import org.hearth.ffi.TimelineListener
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import kotlin.test.assertFailsWith
import org.junit.jupiter.api.io.TempDir

/** Closing things (twice), and platform callbacks that throw. */
class CallbacksTest {
    private class Recorder : TimelineListener {
        val updates = CopyOnWriteArrayList<List<TimelineDiff>>()
        val inserted = AtomicInteger()
        override fun onUpdate(diffs: List<TimelineDiff>) {
            updates.add(diffs)
            inserted.addAndGet(diffs.count { it is TimelineDiff.Insert })
        }

        fun awaitInserts(n: Int) {
            val until = System.currentTimeMillis() + WAIT_MS
            while (inserted.get() < n && System.currentTimeMillis() < until) Thread.sleep(5)
            assertEquals(n, inserted.get(), "inserts delivered; updates: $updates")
        }
    }

    @Test
    fun `objects close twice, and a closed profile says so`(@TempDir dir: File) {
        val home = File(dir, "ruth")
        val key = newKey()
        val ruth = Hearth.create(home, RawStoreKey(key), "Midwife Ruth", Role.MODERATOR)
        val group = ruth.createGroup("Due in March", null, null)
        val tl = ruth.group(group.id)
        val early = Recorder()
        val late = Recorder()
        val earlyHandle = tl.addListener(10u, early)
        val lateHandle = tl.addListener(10u, late)
        assertTrue(earlyHandle.isActive())

        // A closed handle gets nothing more; the other listener proves the update went out.
        earlyHandle.cancel()
        earlyHandle.cancel()
        assertFalse(earlyHandle.isActive())
        earlyHandle.close()
        earlyHandle.close()
        tl.send("after the first handle closed")
        late.awaitInserts(1)
        assertEquals(0, early.inserted.get(), "a cancelled listener got an update: ${early.updates}")
        lateHandle.close()

        // Shutting down closes the store; again is harmless; every later call says Closed.
        ruth.shutdown()
        ruth.shutdown()
        assertFailsWith<HearthException.Closed> { ruth.profile() }
        assertFailsWith<HearthException.Closed> { tl.send("too late") }
        assertFailsWith<HearthException.Closed> { tl.addListener(10u, Recorder()) }
        assertFalse(ruth.stop())
        tl.close()
        tl.close()
        ruth.close()
        ruth.close()
        // The generated wrapper refuses calls on a closed object rather than crashing.
        assertFailsWith<IllegalStateException> { ruth.profile() }

        // Closed means closed for good, not damaged: the store opens again.
        Hearth.open(home, RawStoreKey(key)).use { again ->
            again.group(group.id).use { assertEquals(1, it.page(null, 10u).items.size) }
        }
    }

    @Test
    fun `a listener that throws breaks neither the command nor the other listeners`(@TempDir dir: File) {
        Hearth.create(File(dir, "ruth"), RawStoreKey(newKey()), "Midwife Ruth", Role.MODERATOR).use { ruth ->
            val group = ruth.createGroup("Due in March", null, null)
            ruth.group(group.id).use { tl ->
                val calls = AtomicInteger()
                val thrower = object : TimelineListener {
                    override fun onUpdate(diffs: List<TimelineDiff>) {
                        calls.incrementAndGet()
                        throw IllegalStateException("a bug in the app's listener")
                    }
                }
                val good = Recorder()
                tl.addListener(10u, thrower).use {
                    tl.addListener(10u, good).use {
                        tl.send("one")
                        tl.send("two")
                        good.awaitInserts(2)
                    }
                }
                // Reset plus two changes, each thrown and counted, and it stayed subscribed.
                assertEquals(3, calls.get())
                assertEquals(3uL, ruth.listenerFailures())
                assertEquals(listOf("one", "two"), tl.page(null, 10u).items.map { it.text })
            }
        }
    }

    @Test
    fun `a transport or key source that throws comes back as an error`(@TempDir dir: File) {
        val throwing = object : RelayTransport {
            override fun post(request: HttpRequest): HttpResponse = throw IllegalStateException("boom in the HTTP stack")
        }
        val code = Hearth.create(File(dir, "ruth"), RawStoreKey(newKey()), "Midwife Ruth", Role.MODERATOR, relayUrl, throwing).use { ruth ->
            val group = ruth.createGroup("Due in March", null, null)
            val code = ruth.group(group.id).use { it.invite(Role.MOTHER, 60u).code }
            val e = assertFailsWith<HearthException.Platform> { ruth.syncNow() }
            assertTrue(e.detail.contains("boom in the HTTP stack"), e.detail)
            val report = ruth.backgroundSync(5_000u)
            assertEquals(org.hearth.ffi.BackgroundOutcome.FAILED, report.outcome)
            code
        }
        val offline = object : RelayTransport {
            override fun post(request: HttpRequest): HttpResponse = throw HearthException.RelayUnreachable("airplane mode")
        }
        Hearth.create(File(dir, "amina"), RawStoreKey(newKey()), "Amina", Role.MOTHER, relayUrl, offline).use { amina ->
            assertFailsWith<HearthException.RelayUnreachable> { amina.join(code) }
        }

        val locked = object : StoreKeySource {
            override fun storeKey(): ByteArray = throw SecurityException("device locked before first unlock")
        }
        val e = assertFailsWith<HearthException.KeyUnavailable> { Hearth.open(File(dir, "ruth"), locked) }
        assertTrue(e.detail.contains("device locked"), e.detail)
        val declined = object : StoreKeySource {
            override fun storeKey(): ByteArray = throw HearthException.KeyUnavailable("the user cancelled the prompt")
        }
        assertEquals(
            "the user cancelled the prompt",
            assertFailsWith<HearthException.KeyUnavailable> { Hearth.open(File(dir, "ruth"), declined) }.detail,
        )
    }

    @Test
    fun `a listener may call back into the profile without deadlocking`(@TempDir dir: File) {
        Hearth.create(File(dir, "ruth"), RawStoreKey(newKey()), "Midwife Ruth", Role.MODERATOR).use { ruth ->
            val group = ruth.createGroup("Due in March", null, null)
            ruth.group(group.id).use { tl ->
                val seen = CountDownLatch(1)
                val reentrant = object : TimelineListener {
                    override fun onUpdate(diffs: List<TimelineDiff>) {
                        // Reads and even commands from inside a listener are fine: no lock is held.
                        if (tl.page(null, 10u).items.any { it.text == "ping" } &&
                            tl.page(null, 10u).items.none { it.text == "pong" }
                        ) {
                            tl.send("pong")
                            seen.countDown()
                        }
                    }
                }
                tl.addListener(10u, reentrant).use {
                    tl.send("ping")
                    assertTrue(seen.await(WAIT_MS, TimeUnit.MILLISECONDS), "the listener ran and sent")
                }
                assertEquals(listOf("ping", "pong"), tl.page(null, 10u).items.map { it.text })
            }
        }
    }
}
