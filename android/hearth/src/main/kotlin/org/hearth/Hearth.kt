// The idiomatic Kotlin layer over the generated bindings (org.hearth.ffi): factories with
// defaults, Flows over the listeners, suspend wrappers for calls that wait for the network,
// and the platform hooks (HTTP on HttpURLConnection, a raw store key). Runs unchanged on
// Android and on the plain JVM, where it is tested.
package org.hearth

import java.io.File
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.hearth.ffi.BackgroundSyncReport
import org.hearth.ffi.HearthCompanion
import org.hearth.ffi.GroupInfo
import org.hearth.ffi.RelayTransport
import org.hearth.ffi.Role
import org.hearth.ffi.StoreKeySource
import org.hearth.ffi.SyncReport

/** Opening and creating profiles. Close what these return (`use { }`): that closes the store. */
object Hearth {
    /**
     * Creates a profile in [home] (an app-private directory), encrypted under [key] — 32 bytes
     * from Android Keystore (see docs/mobile.md) — syncing through [relay].
     */
    fun create(
        home: File,
        key: StoreKeySource,
        name: String,
        role: Role,
        relay: String? = null,
        transport: RelayTransport = UrlConnectionTransport(),
    ): HearthCompanion = HearthCompanion.create(home.path, key, transport, name, role, relay)

    /** Opens the profile in [home]. */
    fun open(
        home: File,
        key: StoreKeySource,
        transport: RelayTransport = UrlConnectionTransport(),
    ): HearthCompanion = HearthCompanion.open(home.path, key, transport)
}

/** A store key held in memory: the bytes your keystore wrapper unwrapped, or a test key. */
class RawStoreKey(key: ByteArray) : StoreKeySource {
    private val key = key.copyOf()

    init {
        require(key.size == 32) { "a store key is 32 bytes, got ${key.size}" }
    }

    override fun storeKey(): ByteArray = key.copyOf()
}

/** Syncs once on [Dispatchers.IO]; call from any coroutine, including the main one. */
suspend fun HearthCompanion.sync(): SyncReport = withContext(Dispatchers.IO) { syncNow() }

/** Joins with an invite code on [Dispatchers.IO]. */
suspend fun HearthCompanion.joinGroup(code: String): GroupInfo = withContext(Dispatchers.IO) { join(code) }

/**
 * A bounded sync for WorkManager: returns within [deadlineMs]. Map its outcome to
 * `Result.success()` (caught up) or `Result.retry()` (more to do, offline, deadline reached).
 */
suspend fun HearthCompanion.syncInBackground(deadlineMs: Long): BackgroundSyncReport =
    withContext(Dispatchers.IO) { backgroundSync(deadlineMs.coerceIn(0, UInt.MAX_VALUE.toLong()).toUInt()) }
