package org.hearth

import java.io.File
import java.security.SecureRandom
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import org.hearth.ffi.HearthCompanion
import org.hearth.ffi.GroupInfo
import org.hearth.ffi.Role
import org.junit.jupiter.api.Assertions.fail

/** The relay scripts/test-kotlin started for this run. */
val relayUrl: String
    get() = System.getProperty("hearth.relay")
        ?: error("-Dhearth.relay is not set: run the tests through scripts/test-kotlin")

fun newKey(): ByteArray = ByteArray(32).also { SecureRandom().nextBytes(it) }

/** How long a test waits for an update before failing. */
const val WAIT_MS = 15_000L

/**
 * Collects a flow in the background and lets a test wait for its newest value to match.
 * Everything a listener delivered stays in [values], in order.
 */
class Watch<T>(flow: Flow<T>, scope: CoroutineScope) {
    private val seen = MutableStateFlow<List<T>>(emptyList())
    val values: List<T> get() = seen.value

    init {
        scope.launch(Dispatchers.IO) { flow.collect { v -> seen.update { it + v } } }
    }

    fun await(what: String, matches: (T) -> Boolean): T = runBlocking {
        withTimeoutOrNull(WAIT_MS) {
            seen.first { list -> list.isNotEmpty() && matches(list.last()) }.last()
        } ?: fail("waited ${WAIT_MS / 1000} s for $what; the last update was ${values.lastOrNull()}")
    }
}

/** A scope for watchers that a test cancels when it ends. */
inline fun <R> watching(block: (CoroutineScope) -> R): R {
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)
    try {
        return block(scope)
    } finally {
        scope.cancel()
    }
}

/** A moderator and a mother, each with her own profile, in one group through the relay. */
class Meeting(dir: File) : AutoCloseable {
    val ruth: HearthCompanion = Hearth.create(File(dir, "ruth"), RawStoreKey(newKey()), "Midwife Ruth", Role.MODERATOR, relayUrl)
    val amina: HearthCompanion = Hearth.create(File(dir, "amina"), RawStoreKey(newKey()), "Amina", Role.MOTHER, relayUrl)
    val group: GroupInfo

    init {
        group = ruth.createGroup("Due in March", null, null)
        val invite = ruth.group(group.id).use { it.invite(Role.MOTHER, 3_600u) }
        ruth.syncNow() // the invite reaches the relay
        amina.join(invite.code)
        ruth.syncNow() // her device admits Amina
        amina.syncNow() // Amina gets the group's key
    }

    override fun close() {
        amina.close()
        ruth.close()
    }
}
