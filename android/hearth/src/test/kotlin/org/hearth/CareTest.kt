package org.hearth

import java.io.File
import org.hearth.ffi.CheckinOutcome
import org.hearth.ffi.GroupStage
import org.hearth.ffi.HearthException
import org.hearth.ffi.OfferKind
import org.hearth.ffi.QueueKind
import org.hearth.ffi.Role
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import kotlin.test.assertFailsWith

/** One-to-one support, a group's stage and quiet offers, through the relay. */
class CareTest {
    @Test
    fun `check-ins from plan to skip, and a follow-up needs a debrief group`(@TempDir dir: File) {
        Meeting(dir).use { m ->
            // Ruth also supports Amina one to one, in a conversation she starts.
            val convo = m.ruth.startConversation("Ruth and Amina")
            val invite = m.ruth.group(convo.id).use { it.invite(Role.MOTHER, 3_600u) }
            m.ruth.syncNow()
            m.amina.join(invite.code)
            m.ruth.syncNow()
            m.amina.syncNow()

            m.ruth.group(convo.id).use { tl ->
                val bad = assertFailsWith<HearthException.InvalidInput> {
                    tl.planCheckins("tuesday", "19:00", "Mars/Olympus", 1u, null)
                }
                assertEquals("time_zone", bad.field)
                val plan = tl.planCheckins("tuesday", "19:00", "Europe/London", 1u, null)
                assertTrue(plan.contains("19:00"), plan)
            }
            assertEquals(1u, m.ruth.checkins().caseload)
            m.ruth.syncNow()
            m.amina.syncNow()
            val mine = m.amina.myCheckins().single()
            assertEquals("Midwife Ruth", mine.volunteer)
            assertNotNull(mine.nextAtMs)
            m.amina.group(convo.id).use { assertEquals(mine.nextDate, it.skipCheckin()) }

            m.ruth.group(convo.id).use { tl ->
                val noDebrief = assertFailsWith<HearthException.InvalidInput> {
                    tl.recordCheckin(CheckinOutcome.NEEDS_FOLLOW_UP, "worried", mine.nextDate)
                }
                assertEquals("debrief", noDebrief.field)
            }
            assertFailsWith<HearthException.InvalidInput> { m.ruth.setCaseloadCap(0u) }
            m.ruth.setVolunteerDuty(false)
            assertTrue(m.ruth.checkins().due.isEmpty(), "no prompts while off duty")
        }
    }

    @Test
    fun `a group moves to postnatal, an offer stays private, a mother asks for another volunteer`(@TempDir dir: File) {
        Meeting(dir).use { m ->
            m.ruth.group(m.group.id).use { it.setStage(GroupStage.POSTNATAL, "March babies") }
            m.ruth.syncNow()
            m.amina.syncNow()
            m.amina.group(m.group.id).use { tl ->
                assertEquals(GroupStage.POSTNATAL, tl.moderation().stage)
                assertEquals("March babies", tl.info().name)
                assertFailsWith<HearthException.NotAllowed> { tl.setStage(GroupStage.ANTENATAL, null) }
            }

            val offer = m.ruth.group(m.group.id).use {
                it.offer("Amina", OfferKind.LOSS_SUPPORT, "There is a loss-support group if you would like it")
            }
            m.ruth.syncNow()
            m.amina.syncNow()
            m.amina.group(m.group.id).use { tl ->
                assertEquals(listOf(offer), tl.offers().map { it.id })
                tl.answerOffer(offer, true)
                tl.askForAnotherVolunteer()
            }
            m.amina.syncNow()
            m.ruth.syncNow()
            m.ruth.group(m.group.id).use { assertEquals(true, it.offers().single().accepted) }
            assertTrue(m.ruth.queue(false).any { it.kind == QueueKind.VOLUNTEER_CHANGE })
        }
    }

    @Test
    fun `a coordinator's match reaches the volunteer, then the mother, with their consent`(@TempDir dir: File) {
        Meeting(dir).use { m ->
            Hearth.create(File(dir, "jo"), RawStoreKey(newKey()), "Jo", Role.VOLUNTEER, relayUrl).use { jo ->
                // The volunteers' debrief group: volunteers and coordinators only.
                val volunteers = m.ruth.createGroup("Volunteers", null, null)
                m.ruth.group(volunteers.id).use { tl ->
                    tl.setVolunteersOnly(true)
                    val refused = assertFailsWith<HearthException.InvalidInput> { tl.invite(Role.MOTHER, 3_600u) }
                    assertEquals("role", refused.field)
                    val invite = tl.invite(Role.VOLUNTEER, 3_600u)
                    m.ruth.syncNow()
                    jo.join(invite.code)
                }
                m.ruth.syncNow()
                jo.syncNow()
                jo.group(volunteers.id).use { assertTrue(it.moderation().volunteersOnly) }
                jo.setDebriefGroup(volunteers.id)
                m.ruth.syncNow() // Amina's and Jo's pseudonyms reach Ruth

                val matched = m.ruth.confirmMatch(volunteers.id, "Jo", m.group.id, "Amina", "Both first babies")
                m.ruth.syncNow()
                jo.syncNow()
                val answered = jo.group(volunteers.id).use { tl ->
                    val offer = tl.offers().single()
                    assertEquals(OfferKind.MATCH, offer.kind)
                    assertEquals("Amina", offer.mother)
                    tl.answerOffer(matched, true)
                }
                val convo = requireNotNull(answered.started) { "accepting the match starts a conversation" }
                assertTrue(convo.conversation)
                jo.syncNow()
                m.ruth.syncNow()
                m.ruth.introduce(volunteers.id, matched, "")
                m.ruth.syncNow()
                m.amina.syncNow()
                val invite = m.amina.group(m.group.id).use { tl ->
                    val offer = tl.offers().single()
                    assertEquals(OfferKind.ONE_TO_ONE, offer.kind)
                    assertTrue(offer.joinsConversation)
                    requireNotNull(tl.answerOffer(offer.id, true).invite) { "accepting the introduction hands back its invite" }
                }
                m.amina.join(invite)
                jo.syncNow()
                m.amina.syncNow()
                jo.group(convo.id).use { it.send("Hello Amina, I'm Jo") }
                jo.syncNow()
                m.amina.syncNow()
                m.amina.group(convo.id).use { tl ->
                    assertTrue(tl.page(null, 20u).items.any { it.text.contains("I'm Jo") })
                }
            }
        }
    }
}
