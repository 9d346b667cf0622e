package org.hearth

import java.io.File
import kotlinx.coroutines.runBlocking
import org.hearth.ffi.DeliveryState
import org.hearth.ffi.ItemState
import org.hearth.ffi.QueueKind
import org.hearth.ffi.ReportReason
import org.hearth.ffi.Role
import org.hearth.ffi.Standing
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/** A moderator and a mother, two profiles in one JVM, through the real relay. */
class TwoPhonesTest {
    @Test
    fun `invite, join, admission, chat both ways, a report and a hide, seen through listeners`(@TempDir dir: File) = watching { scope ->
        Hearth.create(File(dir, "ruth"), RawStoreKey(newKey()), "Midwife Ruth", Role.MODERATOR, relayUrl).use { ruth ->
        Hearth.create(File(dir, "amina"), RawStoreKey(newKey()), "Amina", Role.MOTHER, relayUrl).use { amina ->
            val ruthGroups = Watch(ruth.groupUpdates(), scope)
            ruthGroups.await("Ruth's empty group list") { it.isEmpty() }
            val group = ruth.createGroup("Due in March", null, null)
            ruthGroups.await("the new group in Ruth's list") { gs -> gs.map { it.name } == listOf("Due in March") }

            ruth.group(group.id).use { ruthTl ->
                val ruthItems = Watch(ruthTl.items(), scope)
                ruthTl.send("Welcome, everyone")
                ruthItems.await("Ruth's welcome, pending") { items ->
                    items.map { it.text to it.state } == listOf("Welcome, everyone" to DeliveryState.PENDING)
                }

                // Invite and join.
                val invite = ruthTl.invite(Role.MOTHER, 3_600u)
                runBlocking { ruth.sync() }
                ruthItems.await("Ruth's welcome, sent") { items -> items.single().state == DeliveryState.SENT }
                val aminaGroups = Watch(amina.groupUpdates(), scope)
                val joined = runBlocking { amina.joinGroup(invite.code) }
                assertEquals(group.id, joined.id)
                aminaGroups.await("the group in Amina's list") { gs -> gs.map { it.id } == listOf(group.id) }
                amina.group(group.id).use { assertEquals(Standing.WAITING, it.members().standing) }

                // Ruth's device admits her at its next sync; Amina's next sync brings her in.
                runBlocking { ruth.sync() }
                assertTrue(ruthTl.members().members.size == 2, "Amina is a member at Ruth's: ${ruthTl.members()}")
                runBlocking { amina.sync() }

                amina.group(group.id).use { aminaTl ->
                    assertEquals(Standing.MEMBER, aminaTl.members().standing)
                    val aminaItems = Watch(aminaTl.items(), scope)
                    aminaItems.await("Amina's first view") { true }

                    // Amina to Ruth.
                    val hello = aminaTl.send("Hello! First baby, due on the 14th. Is anyone else not sleeping?")
                    aminaItems.await("her hello, pending") { items -> items.any { it.id == hello && it.state == DeliveryState.PENDING && it.isMine } }
                    runBlocking { amina.sync() }
                    aminaItems.await("her hello, sent") { items -> items.any { it.id == hello && it.state == DeliveryState.SENT } }
                    runBlocking { ruth.sync() }
                    ruthItems.await("Amina's hello at Ruth's") { items ->
                        items.any { it.id == hello && it.authorName == "Amina" && !it.isMine }
                    }

                    // Ruth to Amina.
                    val reply = ruthTl.send("Welcome Amina! Lots of us are up at night.")
                    runBlocking { ruth.sync(); amina.sync() }
                    aminaItems.await("Ruth's reply at Amina's") { items ->
                        items.any { it.id == reply && it.authorName == "Midwife Ruth" && it.text.startsWith("Welcome Amina") }
                    }

                    // Amina reports a message; it reaches Ruth's review queue.
                    val ruthQueue = Watch(ruth.queueUpdates(), scope)
                    ruthQueue.await("Ruth's empty queue") { it.isEmpty() }
                    val advice = aminaTl.send("My aunt says reduced movements are normal near the end, no need to call")
                    val report = aminaTl.report(advice, ReportReason.MISINFORMATION, "I'm not sure this is right")
                    assertEquals(listOf(report), aminaTl.myReports().map { it.id })
                    assertTrue(aminaTl.myReports().single().pending, "waits for the relay")
                    runBlocking { amina.sync(); ruth.sync() }
                    val queued = ruthQueue.await("the report in Ruth's queue") { q -> q.any { it.id == report } }
                        .single { it.id == report }
                    assertEquals(QueueKind.REPORT, queued.kind)
                    assertEquals(advice, queued.messageId)
                    assertEquals("I'm not sure this is right", queued.note)

                    // Ruth hides the message; Amina sees it hidden, with the reason, after a sync.
                    ruthTl.hide(advice, "unsafe advice: reduced movements need a call to triage")
                    ruthItems.await("the hide at Ruth's") { items -> items.any { it.id == advice && it.hidden } }
                    ruth.acknowledge(report)
                    ruthQueue.await("the report acknowledged") { q -> q.single { it.id == report }.state == ItemState.ACKNOWLEDGED }
                    runBlocking { ruth.sync(); amina.sync() }
                    val hidden = aminaItems.await("the hide at Amina's") { items -> items.any { it.id == advice && it.hidden } }
                        .single { it.id == advice }
                    assertTrue(
                        hidden.moderationNote?.contains("unsafe advice: reduced movements need a call to triage") == true,
                        "the author sees why: ${hidden.moderationNote}",
                    )
                    assertTrue(hidden.text.isNotEmpty(), "the author still sees her own words")
                    assertEquals(ItemState.ACKNOWLEDGED, aminaTl.myReports().single().state)

                    // The listeners saw every step in order: first a reset, never a step back.
                    val states = aminaItems.values.map { items -> items.firstOrNull { it.id == hello }?.state }
                    assertFalse(
                        states.dropWhile { it != DeliveryState.SENT }.any { it == DeliveryState.PENDING },
                        "a sent message never shows as pending again: $states",
                    )
                }
            }
        }
        }
    }
}
