package org.hearth

import java.io.IOException
import java.net.HttpURLConnection
import java.net.URL
import java.util.concurrent.Executors
import java.util.concurrent.ScheduledExecutorService
import java.util.concurrent.TimeUnit
import org.hearth.ffi.HearthException
import org.hearth.ffi.HttpRequest
import org.hearth.ffi.HttpResponse
import org.hearth.ffi.RelayTransport

/**
 * The relay transport on [HttpURLConnection], present on Android and the JVM (swap in OkHttp
 * by implementing [RelayTransport] the same way). The core calls it on a background thread.
 * Network failures become [HearthException.RelayUnreachable]; the whole exchange is cut off
 * after `request.timeoutMs`, so background syncs keep their deadline.
 */
class UrlConnectionTransport : RelayTransport {
    override fun post(request: HttpRequest): HttpResponse {
        val timeout = request.timeoutMs.toLong().coerceIn(1, Int.MAX_VALUE.toLong())
        val conn = try {
            URL(request.url).openConnection() as HttpURLConnection
        } catch (e: IOException) {
            throw unreachable(request, e)
        }
        // connect and read timeouts bound each step; the watchdog bounds the total.
        val watchdog = cutoff.schedule({ conn.disconnect() }, timeout, TimeUnit.MILLISECONDS)
        try {
            conn.requestMethod = "POST"
            conn.doOutput = true
            conn.useCaches = false
            conn.instanceFollowRedirects = false
            conn.connectTimeout = timeout.toInt()
            conn.readTimeout = timeout.toInt()
            for ((name, value) in request.headers) conn.setRequestProperty(name, value)
            conn.setFixedLengthStreamingMode(request.body.size)
            conn.outputStream.use { it.write(request.body) }
            val status = conn.responseCode
            val stream = if (status >= 400) conn.errorStream else conn.inputStream
            val body = stream?.use { it.readBytes() } ?: ByteArray(0)
            return HttpResponse(status.toUShort(), body)
        } catch (e: IOException) {
            throw unreachable(request, e)
        } finally {
            watchdog.cancel(false)
            conn.disconnect()
        }
    }

    private fun unreachable(request: HttpRequest, e: IOException) =
        HearthException.RelayUnreachable("${request.url}: ${e.javaClass.simpleName}: ${e.message ?: "no detail"}")

    private companion object {
        val cutoff: ScheduledExecutorService = Executors.newSingleThreadScheduledExecutor { r ->
            Thread(r, "hearth-http-cutoff").apply { isDaemon = true }
        }
    }
}
