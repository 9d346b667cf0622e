package org.hearth

import java.io.File
import org.hearth.ffi.HearthException
import org.hearth.ffi.Role
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import org.junit.jupiter.api.io.TempDir

/** Each failure arrives as the HearthException variant that tells the app what to show. */
class ErrorsTest {
    @Test
    fun `a wrong key, a missing profile and a short key are told apart`(@TempDir dir: File) {
        val home = File(dir, "amina")
        val key = newKey()
        Hearth.create(home, RawStoreKey(key), "Amina", Role.MOTHER).use { it.groups() }

        val wrong = assertFailsWith<HearthException.WrongKey> { Hearth.open(home, RawStoreKey(newKey())) }
        assertEquals("wrong key: it does not open this store", wrong.detail)
        assertFailsWith<HearthException.NoProfile> { Hearth.open(File(dir, "nobody"), RawStoreKey(key)) }
        assertFailsWith<HearthException.ProfileExists> { Hearth.create(home, RawStoreKey(key), "Amina", Role.MOTHER) }
        val short = assertFailsWith<HearthException.InvalidInput> {
            Hearth.open(home, object : org.hearth.ffi.StoreKeySource {
                override fun storeKey() = ByteArray(16)
            })
        }
        assertEquals("store key", short.field)
        // The right key still opens it: nothing above damaged the store.
        Hearth.open(home, RawStoreKey(key)).use { assertEquals("Amina", it.profile().name) }
    }

    @Test
    fun `bad input, a role that may not, and an oversize message write nothing`(@TempDir dir: File) {
        Hearth.create(File(dir, "ruth"), RawStoreKey(newKey()), "Midwife Ruth", Role.MODERATOR).use { ruth ->
            val group = ruth.createGroup("Due in March", null, null)
            ruth.group(group.id).use { tl ->
                val oversize = assertFailsWith<HearthException.InvalidInput> { tl.send("x".repeat(8_193)) }
                assertEquals("text", oversize.field)
                assertTrue(oversize.detail.contains("8192") || oversize.detail.contains("8,192"), oversize.detail)
                assertEquals("text", assertFailsWith<HearthException.InvalidInput> { tl.send("   ") }.field)
                assertFailsWith<HearthException.InvalidInput> { tl.edit("not-an-id", "text") }
                assertFailsWith<HearthException.NotFound> { tl.edit("00".repeat(16), "text") }
                assertFailsWith<HearthException.InvalidInput> { tl.page(null, 0u) }
                assertTrue(tl.page(null, 10u).items.isEmpty(), "nothing was written")
            }
            assertFailsWith<HearthException.InvalidInput> { ruth.group("zz") }
            assertFailsWith<HearthException.NotFound> { ruth.group("ab".repeat(16)) }
            assertFailsWith<HearthException.InvalidInput> { ruth.createGroup("Too big", 500u, null) }
            assertFailsWith<HearthException.InvalidInput> { ruth.setRelay("ftp://relay.example") }
            assertEquals(1, ruth.groups().size)

            // A conversation is a group of two; an ending shows in the moderation view.
            val conversation = ruth.startConversation("Amina")
            assertTrue(conversation.conversation)
            ruth.group(group.id).use { tl ->
                assertFailsWith<HearthException.InvalidInput> { tl.planEnding(1_000L, 7u, "past") }
                val in60days = System.currentTimeMillis() + 60L * 24 * 3_600_000
                tl.planEnding(in60days, 14u, "the Due in March postnatal group")
                val ending = assertNotNull(tl.moderation().ending)
                assertEquals(org.hearth.ffi.EndingPhase.PLANNED, ending.phase)
                assertEquals("the Due in March postnatal group", ending.next)
                tl.cancelEnding()
                assertEquals(null, tl.moderation().ending)
            }
        }
        Hearth.create(File(dir, "bea"), RawStoreKey(newKey()), "Bea", Role.MOTHER).use { bea ->
            assertFailsWith<HearthException.NotAllowed> { bea.createGroup("Mine", null, null) }
            assertFailsWith<HearthException.NotAllowed> { bea.startConversation("Jo") }
            assertFailsWith<HearthException.NoRelay> { bea.syncNow() }
        }
    }

    @Test
    fun `a bad invite code and a used one are refused, saying why`(@TempDir dir: File) {
        Meeting(dir).use { m ->
            Hearth.create(File(dir, "cara"), RawStoreKey(newKey()), "Cara", Role.MOTHER, relayUrl).use { cara ->
                val garbage = assertFailsWith<HearthException.InvalidInput> { cara.join("not a code") }
                assertEquals("invite code", garbage.field)
                // Amina used the invite when she joined; it is single-use.
                val code = m.ruth.group(m.group.id).use { it.invite(Role.MOTHER, 60u) }.code
                m.ruth.syncNow()
                Hearth.create(File(dir, "dee"), RawStoreKey(newKey()), "Dee", Role.MOTHER, relayUrl).use { it.join(code) }
                val used = assertFailsWith<HearthException.InviteRefused> { cara.join(code) }
                assertEquals("used", used.reason)
                assertTrue(cara.groups().isEmpty(), "a refused join leaves no group behind")
            }
        }
    }

    @Test
    fun `an unreachable relay is an offline error, and nothing is lost`(@TempDir dir: File) {
        val dead = java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()).use { it.localPort }
        Hearth.create(File(dir, "ruth"), RawStoreKey(newKey()), "Midwife Ruth", Role.MODERATOR, "http://127.0.0.1:$dead").use { ruth ->
            val group = ruth.createGroup("Due in March", null, null)
            val id = ruth.group(group.id).use { it.send("Still here when the relay is back") }
            val offline = assertFailsWith<HearthException.RelayUnreachable> { ruth.syncNow() }
            assertTrue(offline.detail.contains("127.0.0.1:$dead"), offline.detail)
            ruth.setRelay(relayUrl)
            assertTrue(ruth.syncNow().complete)
            ruth.group(group.id).use { tl ->
                assertEquals(org.hearth.ffi.DeliveryState.SENT, tl.page(null, 10u).items.single { it.id == id }.state)
            }
        }
    }
}
