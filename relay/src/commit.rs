//! The commit thread: every write goes through one thread that owns the store's writer, and
//! requests that arrive while a commit is in flight share the next one (group commit).
//!
//! Why: the relay acknowledges an envelope only after the transaction holding it has committed
//! with `synchronous=FULL`, and on the 2-core reference machine one such commit (an fsync of
//! the WAL) takes about 3 ms. One commit per request would cap the relay near 300 requests a
//! second whatever the CPU could do. Committing everything that queued up during the previous
//! fsync in one transaction keeps the guarantee — each request's writes are in a transaction
//! that has committed before its response is sent — and lets throughput grow with load.
//!
//! Each request runs inside its own savepoint, so one failing request rolls back only its own
//! writes; the others in the batch still commit. Membership states changed by a request are
//! kept in a per-batch overlay (later requests in the same batch see them) and published to the
//! shared [`GroupCache`] only after the commit succeeded, so no reader ever sees a membership
//! that the database might not hold.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use hearth_protocol::membership::Membership;
use hearth_protocol::GroupId;
use tokio::sync::oneshot;

use crate::error::RelayError;
use crate::groups::GroupCache;
use crate::store::{ReadTx, RelayStore, StoreError, WriteTx};

/// The most requests one commit takes: bounds how long any one of them waits for the others.
const MAX_BATCH: usize = 128;

/// What a request's write work sees: the open transaction, and membership as this transaction
/// has it.
pub struct WriteCtx<'a> {
    pub tx: &'a mut dyn WriteTx,
    /// The relay's clock for this commit, milliseconds since 1970.
    pub now: i64,
    cache: &'a GroupCache,
    batch: &'a HashMap<GroupId, Arc<Membership>>,
    changed: HashMap<GroupId, Arc<Membership>>,
}

impl WriteCtx<'_> {
    /// The group's membership including every change made earlier in this transaction.
    pub fn membership(&mut self, group: &GroupId) -> Result<Option<Arc<Membership>>, StoreError> {
        if let Some(m) = self.changed.get(group).or_else(|| self.batch.get(group)) {
            return Ok(Some(m.clone()));
        }
        let read: &mut dyn ReadTx = &mut *self.tx;
        self.cache.load(read, group)
    }

    /// Records the group's membership after an operation this request stored.
    pub fn set_membership(&mut self, group: &GroupId, m: Arc<Membership>) {
        self.changed.insert(*group, m);
    }
}

/// One request's write work, type-erased so requests of any kind can share a commit.
trait Job: Send {
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> Result<(), StoreError>;
    /// Called once the fate of the transaction holding this job's writes is known.
    fn finish(self: Box<Self>, committed: Result<(), String>);
}

struct Pending<F, R> {
    work: Option<F>,
    output: Option<R>,
    reply: oneshot::Sender<Result<R, RelayError>>,
}

impl<F, R> Job for Pending<F, R>
where
    F: FnOnce(&mut WriteCtx<'_>) -> Result<R, StoreError> + Send,
    R: Send,
{
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> Result<(), StoreError> {
        if let Some(work) = self.work.take() {
            self.output = Some(work(ctx)?);
        }
        Ok(())
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let result = match (committed, self.output) {
            (Ok(()), Some(output)) => Ok(output),
            (Ok(()), None) => Err(RelayError::Storage("the write did not run".into())),
            (Err(e), _) => Err(RelayError::Storage(e)),
        };
        // The requester may have gone (client disconnected); the writes stand regardless.
        let _ = self.reply.send(result);
    }
}

pub struct CommitThread {
    queue: Mutex<Option<mpsc::Sender<Box<dyn Job>>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl CommitThread {
    pub fn start(store: Arc<dyn RelayStore>, cache: Arc<GroupCache>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
        let thread = std::thread::Builder::new()
            .name("hearth-relay-commit".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut jobs = VecDeque::from([first]);
                    while jobs.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(job) => jobs.push_back(job),
                            Err(_) => break,
                        }
                    }
                    commit_batch(&*store, &cache, jobs);
                }
            })?;
        Ok(CommitThread {
            queue: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs `work` in a transaction and resolves once that transaction has committed.
    pub async fn submit<R, F>(&self, work: F) -> Result<R, RelayError>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Pending {
            work: Some(work),
            output: None,
            reply,
        });
        {
            let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            let sender = queue.as_ref().ok_or(RelayError::ShuttingDown)?;
            sender.send(job).map_err(|_| RelayError::ShuttingDown)?;
        }
        answer.await.map_err(|_| RelayError::ShuttingDown)?
    }

    /// Commits what is queued, then stops the thread. Blocking.
    pub fn stop(&self) {
        // Dropping the only sender ends the thread's loop once the queue is empty.
        drop(self.queue.lock().unwrap_or_else(|p| p.into_inner()).take());
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::error!("the commit thread panicked");
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn commit_batch(store: &dyn RelayStore, cache: &GroupCache, mut queue: VecDeque<Box<dyn Job>>) {
    let now = now_ms();
    let mut batch: HashMap<GroupId, Arc<Membership>> = HashMap::new();
    let mut ran: Vec<Box<dyn Job>> = Vec::new();
    let mut failed: Vec<(Box<dyn Job>, String)> = Vec::new();
    let result = store.write(&mut |tx| {
        while let Some(mut job) = queue.pop_front() {
            if let Err(e) = tx.savepoint() {
                queue.push_front(job);
                return Err(e);
            }
            let mut ctx = WriteCtx {
                tx: &mut *tx,
                now,
                cache,
                batch: &batch,
                changed: HashMap::new(),
            };
            // A bug in the relay's rules must cost one request, not the thread every later
            // write depends on.
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job.run(&mut ctx)))
                .unwrap_or_else(|_| {
                    Err(StoreError::Corrupt {
                        what: "request",
                        detail: "the relay's rules panicked on this request".into(),
                    })
                });
            let changed = std::mem::take(&mut ctx.changed);
            match outcome {
                Ok(()) => {
                    let released = tx.release();
                    ran.push(job);
                    released?;
                    batch.extend(changed);
                }
                Err(e) => {
                    tracing::error!(error = %e, "a request's writes were rolled back");
                    let undone = tx.rollback_to_savepoint();
                    failed.push((job, e.to_string()));
                    undone?;
                }
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => {
            for (group, m) in batch {
                cache.publish(&group, m);
            }
            for job in ran {
                job.finish(Ok(()));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, requests = ran.len() + queue.len(), "a commit failed; nothing in it was acknowledged");
            let reason = e.to_string();
            for job in ran.into_iter().chain(queue) {
                job.finish(Err(reason.clone()));
            }
        }
    }
    for (job, reason) in failed {
        job.finish(Err(reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;
    use hearth_protocol::ids::Signed;
    use hearth_protocol::{DeviceId, Signature};

    fn op() -> Signed {
        Signed {
            bytes: vec![1, 2, 3],
            sig: Signature([0; 64]),
        }
    }

    /// Writes a group with one operation, then fails or panics if told to.
    fn write(
        group: u8,
        end: &'static str,
    ) -> impl FnOnce(&mut WriteCtx<'_>) -> Result<(), StoreError> {
        move |ctx| {
            let g = GroupId([group; 16]);
            ctx.tx.create_group(&g, &DeviceId([group; 32]), ctx.now)?;
            ctx.tx
                .append_op(&g, 0, &DeviceId([group; 32]), &op(), ctx.now)?;
            match end {
                "fail" => Err(StoreError::Corrupt {
                    what: "test",
                    detail: "told to fail".into(),
                }),
                "panic" => panic!("told to panic"),
                _ => Ok(()),
            }
        }
    }

    #[test]
    fn a_failing_request_rolls_back_alone_and_the_thread_survives() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn RelayStore> =
            Arc::new(SqliteStore::open(&dir.path().join("r.db")).unwrap());
        let commit = CommitThread::start(store.clone(), Arc::new(GroupCache::default())).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (a, b, c, d) = runtime.block_on(async {
            tokio::join!(
                commit.submit(write(1, "ok")),
                commit.submit(write(2, "fail")),
                commit.submit(write(3, "panic")),
                commit.submit(write(4, "ok")),
            )
        });
        assert!(a.is_ok() && d.is_ok());
        assert!(matches!(b, Err(RelayError::Storage(_))));
        assert!(matches!(c, Err(RelayError::Storage(_))));
        let mut lens = Vec::new();
        store
            .read(&mut |tx| {
                lens = (1..=4u8)
                    .map(|g| tx.log_len(&GroupId([g; 16])))
                    .collect::<Result<_, _>>()?;
                Ok(())
            })
            .unwrap();
        assert_eq!(
            lens,
            [1, 0, 0, 1],
            "only the failed requests' writes are gone"
        );
        commit.stop();
        assert!(matches!(
            runtime.block_on(commit.submit(write(5, "ok"))),
            Err(RelayError::ShuttingDown)
        ));
        store.close().unwrap();
    }
}
