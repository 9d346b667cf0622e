package org.hearth

import java.io.File
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import kotlin.concurrent.thread
import org.hearth.ffi.BackgroundOutcome
import org.hearth.ffi.Role
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/** start / stop / sync_now / background_sync, as an app's lifecycle drives them. */
class LifecycleTest {
    @Test
    fun `a started profile receives without being asked, and stops`(@TempDir dir: File) = watching { scope ->
        Meeting(dir).use { m ->
            m.amina.group(m.group.id).use { aminaTl ->
                val items = Watch(aminaTl.items(), scope)
                val syncs = Watch(m.amina.syncUpdates(), scope)
                assertTrue(m.amina.start(1u))
                assertFalse(m.amina.start(1u), "already running")
                syncs.await("the loop's first sync") { it.ok }

                val id = m.ruth.group(m.group.id).use { it.send("Anyone around tonight?") }
                m.ruth.syncNow()
                items.await("Ruth's message, fetched by the loop") { list -> list.any { it.id == id } }

                assertTrue(m.amina.wake())
                assertTrue(m.amina.stop())
                assertFalse(m.amina.stop(), "already stopped")
                assertFalse(m.amina.wake(), "nothing to wake")
            }
        }
    }

    @Test
    fun `a background sync catches up and says so`(@TempDir dir: File) {
        Meeting(dir).use { m ->
            m.ruth.group(m.group.id).use { it.send("A new pinned resource is up") }
            m.ruth.syncNow()
            val report = m.amina.backgroundSync(10_000u)
            assertEquals(BackgroundOutcome.CAUGHT_UP, report.outcome, report.toString())
            assertNotNull(report.report)
            assertTrue(report.report!!.messagesUpdated >= 1uL, report.toString())
            assertTrue(report.elapsedMs < 10_000uL)
        }
    }

    @Test
    fun `a background sync keeps its deadline when the relay never answers`(@TempDir dir: File) {
        // A server that accepts connections and never says a word.
        val silent = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
        val held = mutableListOf<Socket>()
        val acceptor = thread(isDaemon = true) {
            try {
                while (true) held.add(silent.accept())
            } catch (_: Exception) {
            }
        }
        try {
            val url = "http://127.0.0.1:${silent.localPort}"
            Hearth.create(File(dir, "amina"), RawStoreKey(newKey()), "Amina", Role.MOTHER, url).use { amina ->
                val before = System.nanoTime()
                val report = amina.backgroundSync(1_500u)
                val tookMs = (System.nanoTime() - before) / 1_000_000
                assertEquals(BackgroundOutcome.DEADLINE_REACHED, report.outcome, report.toString())
                assertTrue(tookMs < 2_500, "returned after $tookMs ms for a 1500 ms deadline")
                assertTrue(report.elapsedMs <= tookMs.toULong() + 1uL)
            }
        } finally {
            silent.close()
            acceptor.join(1_000)
            held.forEach { it.close() }
        }
    }
}
