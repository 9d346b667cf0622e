package org.hearth

import java.io.File
import org.hearth.ffi.FilterMode
import org.hearth.ffi.RiskLevel
import org.hearth.ffi.Situation
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import kotlin.test.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/** The safety pathway and content filters, as the apps reach them. */
class SafetyTest {
    @Test
    fun `a worrying draft gets help, an everyday one nothing, and filters blur what she chose`(@TempDir dir: File) = watching { scope ->
        Meeting(dir).use { m ->
            m.amina.group(m.group.id).use { tl ->
                val worrying = tl.checkDraft("I can't do this anymore, I want to die")
                assertEquals(RiskLevel.URGENT, worrying.level, worrying.toString())
                val help = assertNotNull(worrying.help)
                assertTrue(help.emergency.isNotBlank(), "an emergency number: $help")
                assertTrue(worrying.canAlert, "her group has a moderator to alert")
                val everyday = tl.checkDraft("Does anyone have tips for heartburn?")
                assertEquals(RiskLevel.NONE, everyday.level)
                assertNull(everyday.help)
                assertTrue(m.amina.helpNow(Situation.SELF_HARM).emergency.isNotBlank())

                // Nobody is on duty yet: the group shows where to get help now.
                val moderation = tl.moderation()
                assertTrue(moderation.nobodyOnDuty)
                assertNotNull(moderation.helpNow)
                assertFalse(moderation.isModerator)

                // Her own filter blurs distressing messages from others, in the listener's view.
                val filters = m.amina.setContentFilter("distressing", FilterMode.BLUR)
                assertEquals(FilterMode.BLUR, filters.distressing)
                val items = Watch(tl.items(), scope)
                val id = m.ruth.group(m.group.id).use { it.send("I feel so hopeless and alone tonight, I can't stop crying") }
                m.ruth.syncNow()
                m.amina.syncNow()
                val item = items.await("the message, blurred for her") { list -> list.any { it.id == id } }.single { it.id == id }
                assertEquals(FilterMode.BLUR, item.filter?.mode, item.toString())
                assertTrue(item.text.isNotEmpty(), "blurred, not removed")
            }
        }
    }
}
