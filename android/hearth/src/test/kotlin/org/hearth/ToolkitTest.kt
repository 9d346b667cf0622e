package org.hearth

import java.io.File
import org.hearth.ffi.AlertSeverity
import org.hearth.ffi.AlertState
import org.hearth.ffi.HearthException
import org.hearth.ffi.QueueKind
import org.hearth.ffi.SelfCheckFlag
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import kotlin.test.assertFailsWith

/** The moderator's toolkit, her own alerts and self-checks, and the export, through the relay. */
class ToolkitTest {
    @Test
    fun `pins, holding posts for review, mute and unmute reach the mother, and the audit log is the moderators'`(@TempDir dir: File) {
        Meeting(dir).use { m ->
            m.ruth.group(m.group.id).use { ruthTl ->
            m.amina.group(m.group.id).use { aminaTl ->
                val pin = ruthTl.pin("Reduced movements", "Call maternity triage the same day; don't wait.", "NHS")
                ruthTl.setHold(true, 0u)
                m.ruth.syncNow()
                m.amina.syncNow()
                assertEquals(listOf("Reduced movements"), aminaTl.moderation().pins.map { it.title })
                assertTrue(aminaTl.moderation().holdingAll)

                // Held: her post waits for a moderator, and only the two of them see it.
                val post = aminaTl.send("Is raspberry leaf tea safe at 36 weeks?")
                m.amina.syncNow()
                m.ruth.syncNow()
                assertTrue(ruthTl.page(null, 50u).items.single { it.id == post }.held, "held at Ruth's")
                ruthTl.approve(post)
                ruthTl.setHold(false, 0u)
                m.ruth.syncNow()
                m.amina.syncNow()
                assertFalse(aminaTl.page(null, 50u).items.single { it.id == post }.held, "approved at Amina's")

                // Muted: the app is told until when, and nothing is sent.
                ruthTl.mute("Amina", 600u, "a pause while we talk")
                m.ruth.syncNow()
                m.amina.syncNow()
                val muted = assertFailsWith<HearthException.Muted> { aminaTl.send("hello?") }
                assertTrue(muted.untilMs > System.currentTimeMillis(), "muted until later: ${muted.untilMs}")
                assertFailsWith<HearthException.InvalidInput> { ruthTl.mute("Amina", 0u, "") }
                ruthTl.unmute("Amina")
                m.ruth.syncNow()
                m.amina.syncNow()
                aminaTl.send("Thank you for explaining")

                ruthTl.unpin(pin)
                val actions = ruthTl.auditLog().map { it.action }
                for (a in listOf("pin", "hold", "approve", "mute", "unmute", "unpin")) {
                    assertTrue(a in actions, "$a in the audit log: $actions")
                }
                assertFailsWith<HearthException.NotAllowed> { aminaTl.auditLog() }
                assertFailsWith<HearthException.NotAllowed> { aminaTl.pin("t", "b", "s") }

                // A private nudge from Ruth reaches only Amina.
                ruthTl.nudge("Amina", "Hi Amina, how are you feeling this week?")
                m.ruth.syncNow()
                m.amina.syncNow()
                val nudge = aminaTl.nudges().single()
                assertEquals("Midwife Ruth", nudge.from)
                assertFalse(nudge.mine)
            }
            }
        }
    }

    @Test
    fun `a self-check stays on her phone until she shares it with one moderator`(@TempDir dir: File) {
        Meeting(dir).use { m ->
            val form = m.amina.selfCheckForm("en")
            assertEquals(10, form.items.size)
            assertTrue(form.items.all { it.options.size == 4 }, "four options per item")

            val bad = assertFailsWith<HearthException.InvalidInput> {
                m.amina.takeSelfCheck(byteArrayOf(0, 0, 0), "en")
            }
            assertEquals("answers", bad.field)
            val badItem = assertFailsWith<HearthException.InvalidInput> {
                m.amina.takeSelfCheck(byteArrayOf(0, 0, 4, 0, 0, 0, 0, 0, 0, 0), "en")
            }
            assertEquals("item 3", badItem.field)
            assertTrue(m.amina.selfCheckHistory().isEmpty(), "a bad form keeps nothing")

            // Item 10 above zero starts the safety pathway whatever the total.
            val check = m.amina.takeSelfCheck(byteArrayOf(0, 0, 0, 0, 0, 0, 0, 0, 0, 1), "en")
            assertTrue(check.item10Positive)
            assertEquals(SelfCheckFlag.SELF_HARM, check.flags.first())
            assertEquals(listOf(check.id), m.amina.selfCheckHistory().map { it.id })

            m.ruth.syncNow()
            assertTrue(m.ruth.queue(false).none { it.kind == QueueKind.SELF_CHECK }, "nothing shared yet")
            m.amina.group(m.group.id).use { tl ->
                assertFailsWith<HearthException.InvalidInput> { tl.shareSelfCheck(check.id, "Amina") }
                tl.shareSelfCheck(check.id, "Midwife Ruth")

                tl.raiseAlert(AlertSeverity.URGENT, listOf("self_harm"), "")
                assertEquals(AlertState.OPEN, tl.myAlerts().single().state)
            }
            assertEquals(listOf("Midwife Ruth"), m.amina.selfCheckHistory().single().sharedWith)
            m.amina.syncNow()
            m.ruth.syncNow()
            val kinds = m.ruth.queue(false).map { it.kind }
            assertTrue(QueueKind.SELF_CHECK in kinds && QueueKind.ALERT in kinds, "her shared check and alert: $kinds")

            // The full export is an Automerge document (its magic bytes).
            m.amina.group(m.group.id).use { tl ->
                val doc = tl.exportAutomerge()
                assertEquals(listOf(0x85, 0x6f, 0x4a, 0x83), doc.take(4).map { it.toInt() and 0xff })
            }
        }
    }
}
