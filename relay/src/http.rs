//! The HTTP face of the relay: routes, request bodies, error answers, one log line per request.
//!
//! A request the relay cannot take at all (unreadable CBOR, wrong protocol version, a bad
//! request signature, too large, too fast, an unknown path) gets a 4xx status and a JSON
//! [`ErrorBody`] naming the problem; a failure of the relay itself gets 500 `internal`, with the
//! detail in the log only. A bad request never affects other clients: nothing here holds a
//! lock across a request, and a refused request writes nothing.
//!
//! Bodies are read frame by frame against the configured limit, so an oversized body is refused
//! without being held in memory; it is drained (up to a bound) before the 413 goes out, because
//! a client still sending would otherwise see its connection reset instead of the answer.
//!
//! Logs never contain bodies, keys or group contents: the request line carries the path, the
//! status, the first 8 hex digits of the signing device, counts (envelopes and direct notes in
//! and out), sizes and latency. Direct notes count towards the request body limit and the
//! device's rate limit like everything else in a sync.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use hearth_protocol::api::{
    ApiError, Code, ErrorBody, GroupSync, SyncRequest, SyncResponse, HEALTH_PATH, JOIN_PATH,
    SYNC_PATH,
};
use hearth_protocol::ids::Signed;
use hearth_protocol::membership::{LogError, SignedJoin};
use hearth_protocol::wire::{self, WireError};
use hearth_protocol::DeviceId;
use http_body_util::BodyExt;

use crate::limit::LimitKey;
use crate::reply::{group_reply, Acks, Budget, ReplyCtx};
use crate::server::Relay;
use crate::sync::{self, open_directs, open_snapshot, open_upload, GroupUpload, GroupWritten};

/// Groups one sync may name; a device belongs to a handful.
const MAX_GROUPS_PER_SYNC: usize = 256;
/// How much of an oversized body is read and thrown away so the client can read the 413.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(10);

pub(crate) fn router(relay: Arc<Relay>) -> Router {
    Router::new()
        .route(HEALTH_PATH, get(health))
        .route(SYNC_PATH, post(sync))
        .route(JOIN_PATH, post(join))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(log_request))
        .with_state(relay)
}

/// What a handler tells the request log about its request.
#[derive(Debug, Clone, Default)]
struct RequestNote {
    device: Option<DeviceId>,
    groups: usize,
    envelopes_in: usize,
    envelopes_out: usize,
    directs_in: usize,
    directs_out: usize,
    bytes_in: Option<usize>,
    code: Option<Code>,
}

/// A request refused as a whole.
#[derive(Debug)]
struct HttpError {
    status: StatusCode,
    code: Code,
    reason: String,
    retry_after: Option<Duration>,
    close: bool,
}

impl HttpError {
    fn new(status: StatusCode, code: Code, reason: impl Into<String>) -> HttpError {
        HttpError {
            status,
            code,
            reason: reason.into(),
            retry_after: None,
            close: false,
        }
    }

    /// The relay's own failure: the detail goes to the log, the client learns only that.
    fn internal(detail: impl std::fmt::Display) -> HttpError {
        tracing::error!(error = %detail, "internal error while handling a request");
        HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Code::Internal,
            "the relay failed to handle this request; try again (whatever of it was already \
             stored comes back as a duplicate)",
        )
    }

    /// A write that did not commit.
    fn from_relay(e: crate::RelayError) -> HttpError {
        match e {
            crate::RelayError::ShuttingDown => HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::Internal,
                "the relay is restarting; nothing in this request was acknowledged, try again \
                 shortly",
            ),
            other => HttpError::internal(other),
        }
    }

    fn closing(mut self) -> HttpError {
        self.close = true;
        self
    }
}

fn wire_error(e: WireError) -> HttpError {
    let (status, code) = match e {
        WireError::Malformed { .. } => (StatusCode::BAD_REQUEST, Code::Malformed),
        WireError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, Code::TooLarge),
        WireError::Version { .. } => (StatusCode::BAD_REQUEST, Code::Version),
    };
    HttpError::new(status, code, e.to_string())
}

fn api_error(e: ApiError) -> HttpError {
    match e {
        ApiError::Wire(w) => wire_error(w),
        ApiError::BadSignature => {
            HttpError::new(StatusCode::UNAUTHORIZED, Code::BadSignature, e.to_string())
        }
    }
}

fn join_error(e: LogError) -> HttpError {
    match e {
        LogError::Wire(w) => wire_error(w),
        LogError::BadSignature(_) => {
            HttpError::new(StatusCode::UNAUTHORIZED, Code::BadSignature, e.to_string())
        }
        other => HttpError::new(StatusCode::BAD_REQUEST, Code::Malformed, other.to_string()),
    }
}

fn rate_limited(wait: Duration) -> HttpError {
    HttpError {
        retry_after: Some(wait),
        ..HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            Code::RateLimited,
            format!(
                "too many requests from this client; try again in {} ms",
                wait.as_millis().max(1)
            ),
        )
    }
}

fn error_response(e: HttpError, mut note: RequestNote) -> Response {
    let body = serde_json::to_vec(&ErrorBody {
        code: e.code,
        reason: e.reason,
    })
    // A struct of an enum and a string always serialises.
    .unwrap_or_else(|_| b"{\"code\":\"internal\",\"reason\":\"\"}".to_vec());
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = e.status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(wait) = e.retry_after {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    if e.close {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    note.code = Some(e.code);
    response.extensions_mut().insert(note);
    response
}

fn cbor_response(bytes: Vec<u8>, note: RequestNote) -> Response {
    let mut response = Response::new(Body::from(bytes));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/cbor"),
    );
    response.extensions_mut().insert(note);
    response
}

fn finish(result: Result<Vec<u8>, HttpError>, note: RequestNote) -> Response {
    match result {
        Ok(bytes) => cbor_response(bytes, note),
        Err(e) => error_response(e, note),
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HttpError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(HttpError::internal)
}

/// How long a request body may take: a stall limit between frames and an overall limit.
#[derive(Debug, Clone, Copy)]
struct BodyLimits {
    max: usize,
    stall: Duration,
    total: Duration,
}

impl BodyLimits {
    fn of(relay: &Relay) -> BodyLimits {
        BodyLimits {
            max: relay.config.max_body,
            stall: relay.config.body_stall,
            total: relay.config.body_timeout,
        }
    }
}

fn too_slow(what: String) -> HttpError {
    HttpError::new(StatusCode::REQUEST_TIMEOUT, Code::Malformed, what).closing()
}

/// Reads the whole body, refusing (and draining) one over `limits.max` bytes.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limits: BodyLimits,
) -> Result<Bytes, HttpError> {
    let max = limits.max;
    let too_large = |len: String| {
        HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::TooLarge,
            format!("the request body is {len} bytes; this relay accepts at most {max}"),
        )
        .closing()
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<u64>().ok());
    if let Some(len) = declared {
        if len > max as u64 {
            drain(body).await;
            return Err(too_large(len.to_string()));
        }
    }
    let read = async {
        let mut body = body;
        // `declared` is at most `max` here.
        let mut buf = Vec::with_capacity(declared.map_or(0, |n| n as usize));
        loop {
            let frame = match tokio::time::timeout(limits.stall, body.frame()).await {
                Err(_) => {
                    return Err(too_slow(format!(
                        "the request body stalled: nothing arrived for {} s",
                        limits.stall.as_secs()
                    )))
                }
                Ok(None) => break,
                Ok(Some(frame)) => frame.map_err(|e| {
                    HttpError::new(
                        StatusCode::BAD_REQUEST,
                        Code::Malformed,
                        format!("the request body could not be read: {e}"),
                    )
                    .closing()
                })?,
            };
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > max {
                    drain(body).await;
                    return Err(too_large(format!("more than {max}")));
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(Bytes::from(buf))
    };
    tokio::time::timeout(limits.total, read)
        .await
        .unwrap_or_else(|_| {
            Err(too_slow(format!(
                "the request body did not arrive within {} s",
                limits.total.as_secs()
            )))
        })
}

async fn drain(mut body: Body) {
    let mut seen = 0usize;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                seen += data.len();
                if seen > DRAIN_LIMIT {
                    break;
                }
            }
        }
    })
    .await;
}

async fn health() -> Response {
    let body = serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": hearth_protocol::VERSION,
    });
    let mut response = Response::new(Body::from(body.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn shown_path(uri: &Uri) -> String {
    uri.path().chars().take(100).collect()
}

async fn not_found(method: Method, uri: Uri) -> Response {
    let e = HttpError::new(
        StatusCode::NOT_FOUND,
        Code::Malformed,
        format!(
            "no such endpoint: {method} {}; this relay serves GET {HEALTH_PATH}, POST {SYNC_PATH} \
             and POST {JOIN_PATH}",
            shown_path(&uri)
        ),
    );
    error_response(e, RequestNote::default())
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let e = HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        Code::Malformed,
        format!(
            "{method} is not allowed on {}; this relay serves GET {HEALTH_PATH}, POST \
             {SYNC_PATH} and POST {JOIN_PATH}",
            shown_path(&uri)
        ),
    );
    error_response(e, RequestNote::default())
}

async fn sync(State(relay): State<Arc<Relay>>, headers: HeaderMap, body: Body) -> Response {
    let mut note = RequestNote::default();
    let result = sync_request(&relay, &headers, body, &mut note).await;
    finish(result, note)
}

async fn sync_request(
    relay: &Arc<Relay>,
    headers: &HeaderMap,
    body: Body,
    note: &mut RequestNote,
) -> Result<Vec<u8>, HttpError> {
    let bytes = read_body(body, headers, BodyLimits::of(relay)).await?;
    note.bytes_in = Some(bytes.len());
    let signed: Signed = wire::decode("sync request", &bytes).map_err(wire_error)?;
    let request = SyncRequest::open(&signed).map_err(api_error)?;
    let device = request.device;
    note.device = Some(device);
    note.groups = request.groups.len();
    if request.groups.len() > MAX_GROUPS_PER_SYNC {
        return Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            Code::Malformed,
            format!(
                "a sync names at most {MAX_GROUPS_PER_SYNC} groups; this one names {}",
                request.groups.len()
            ),
        ));
    }
    relay
        .limiter
        .check(LimitKey::Device(device))
        .map_err(rate_limited)?;

    // Split each group into what it uploads (for the commit thread) and what it asks for.
    let mut wants = Vec::with_capacity(request.groups.len());
    let mut uploads = Vec::new();
    let mut slots = Vec::new();
    for (i, g) in request.groups.into_iter().enumerate() {
        let GroupSync {
            group,
            log_len,
            cursor,
            ops,
            uploads: envelopes,
            snapshot,
            want_seqs,
            no_snapshot,
            directs,
            direct_cursor,
        } = g;
        note.envelopes_in += envelopes.len();
        note.directs_in += directs.len();
        if !ops.is_empty() || !envelopes.is_empty() || snapshot.is_some() || !directs.is_empty() {
            slots.push(i);
            uploads.push((group, ops, envelopes, snapshot, directs));
        }
        wants.push(GroupSync {
            group,
            log_len,
            cursor,
            want_seqs,
            no_snapshot,
            direct_cursor,
            ..GroupSync::default()
        });
    }

    let mut written: Vec<Option<GroupWritten>> = wants.iter().map(|_| None).collect();
    if !uploads.is_empty() {
        // Signature and hash checks off the commit thread and off the async workers.
        let opened: Vec<GroupUpload> = blocking(move || {
            uploads
                .into_iter()
                .map(|(group, ops, envelopes, snapshot, directs)| GroupUpload {
                    group,
                    ops,
                    uploads: envelopes.iter().map(open_upload).collect(),
                    snapshot: snapshot.as_ref().map(open_snapshot),
                    directs: open_directs(&directs),
                })
                .collect()
        })
        .await?;
        let results = relay
            .commit
            .submit(move |ctx| {
                let results = sync::apply(ctx, &device, &opened)?;
                Ok(opened
                    .iter()
                    .map(|u| u.group)
                    .zip(results)
                    .collect::<Vec<_>>())
            })
            .await
            .map_err(HttpError::from_relay)?;
        for ((group, w), slot) in results.into_iter().zip(slots) {
            if w.snapshot_stored.is_some() {
                relay.snapshots.snapshot_stored(&group);
            }
            written[slot] = Some(w);
        }
    }

    let permit = relay
        .readers
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| HttpError::from_relay(crate::RelayError::ShuttingDown))?;
    let reader = relay.clone();
    let (encoded, sent, acks) = blocking(move || {
        let _permit = permit;
        respond(&reader, device, &wants, written)
    })
    .await?
    .map_err(HttpError::internal)?;
    note.envelopes_out = sent.envelopes;
    note.directs_out = sent.directs;
    if !acks.is_empty() {
        forget_acknowledged(relay, device, acks).await;
    }
    Ok(encoded)
}

/// Deletes the direct notes to `device` that her direct cursors acknowledged. Runs only when
/// the reply found some still held, so an idle sync stays a pure read. The reply does not
/// depend on it: a deletion that fails is logged and happens at her next sync instead.
async fn forget_acknowledged(relay: &Relay, device: DeviceId, acks: Acks) {
    let deleted = relay
        .commit
        .submit(move |ctx| {
            let mut n = 0;
            for (group, upto) in &acks {
                n += ctx.tx.delete_directs_upto(group, &device, *upto)?;
            }
            Ok(n)
        })
        .await;
    match deleted {
        Ok(n) => tracing::debug!(deleted = n, "acknowledged direct notes deleted"),
        Err(e) => tracing::warn!(
            error = %e,
            "acknowledged direct notes were not deleted; the next sync deletes them"
        ),
    }
}

/// How many items a reply carries, for the request log.
#[derive(Debug, Clone, Copy, Default)]
struct Sent {
    envelopes: usize,
    directs: usize,
}

/// Builds and encodes the response in one read transaction; also returns which acknowledged
/// direct notes are still held.
fn respond(
    relay: &Relay,
    device: DeviceId,
    wants: &[GroupSync],
    mut written: Vec<Option<GroupWritten>>,
) -> Result<(Vec<u8>, Sent, Acks), crate::store::StoreError> {
    let ctx = ReplyCtx {
        device,
        cache: &relay.groups,
        snapshots: &relay.snapshots,
    };
    let mut groups = Vec::with_capacity(wants.len());
    let mut acks = Acks::new();
    relay.store.read(&mut |tx| {
        groups.clear();
        acks.clear();
        let mut budget = Budget::new(
            relay.config.reply_envelope_bytes,
            relay.config.reply_snapshot_bytes,
        )
        .with_directs(
            relay.config.reply_direct_notes,
            relay.config.reply_direct_bytes,
        );
        for (want, w) in wants.iter().zip(written.iter_mut()) {
            groups.push(group_reply(
                tx,
                &ctx,
                want,
                w.take(),
                &mut budget,
                &mut acks,
            )?);
        }
        Ok(())
    })?;
    let sent = Sent {
        envelopes: groups.iter().map(|g| g.envelopes.len()).sum(),
        directs: groups.iter().map(|g| g.directs.len()).sum(),
    };
    let response = SyncResponse {
        v: hearth_protocol::VERSION,
        groups,
    };
    Ok((wire::encode(&response), sent, acks))
}

async fn join(
    State(relay): State<Arc<Relay>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut note = RequestNote::default();
    let result = join_request(&relay, peer, &headers, body, &mut note).await;
    finish(result, note)
}

async fn join_request(
    relay: &Arc<Relay>,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
    note: &mut RequestNote,
) -> Result<Vec<u8>, HttpError> {
    relay
        .limiter
        .check(LimitKey::Address(peer.ip()))
        .map_err(rate_limited)?;
    let bytes = read_body(body, headers, BodyLimits::of(relay)).await?;
    note.bytes_in = Some(bytes.len());
    let join: SignedJoin = wire::decode("join request", &bytes).map_err(wire_error)?;
    let request = join.verify().map_err(join_error)?;
    note.device = Some(request.device);
    let answer = relay
        .commit
        .submit(move |ctx| crate::join::register(ctx, &join, &request))
        .await
        .map_err(HttpError::from_relay)?;
    match answer {
        Ok(reply) => Ok(wire::encode(&reply)),
        Err(refusal) => {
            let status = match refusal.code {
                Code::InviteUnknown => StatusCode::NOT_FOUND,
                Code::InviteRevoked | Code::InviteExpired => StatusCode::GONE,
                _ => StatusCode::CONFLICT,
            };
            Err(HttpError::new(status, refusal.code, refusal.reason))
        }
    }
}

/// One structured line per request.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = shown_path(request.uri());
    let declared_in = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    let response = next.run(request).await;
    let note = response
        .extensions()
        .get::<RequestNote>()
        .cloned()
        .unwrap_or_default();
    let status = response.status().as_u16();
    let bytes_in = note.bytes_in.map_or(declared_in, |n| n as u64);
    let bytes_out = response.body().size_hint().exact().unwrap_or(0);
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let device = note.device.map(|d| d.short()).unwrap_or_default();
    let code = note.code.map_or("", Code::as_str);
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                target: "hearth_relay::request",
                %method,
                path,
                status,
                device,
                groups = note.groups,
                envelopes_in = note.envelopes_in,
                envelopes_out = note.envelopes_out,
                directs_in = note.directs_in,
                directs_out = note.directs_out,
                bytes_in,
                bytes_out,
                latency_ms = (latency_ms * 10.0).round() / 10.0,
                code,
                "request"
            )
        };
    }
    if status >= 500 {
        line!(warn);
    } else {
        line!(info);
    }
    response
}
