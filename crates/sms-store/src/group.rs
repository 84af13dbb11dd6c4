//! Group commit for SQLite: one writer thread takes the writes that queued while it was busy
//! and commits them in one transaction.
//!
//! SQLite admits one writer at a time. With each request committing on its own, the process
//! did one `BEGIN IMMEDIATE … COMMIT` per request, every commit appending the pages it touched
//! to the WAL (the same index and table pages again and again), and every hand-over of the
//! write lock woke another thread. Here the requests' writes queue for a thread of the store's;
//! it runs whatever has queued, each write inside a savepoint of its own, and commits once.
//! A write that fails rolls back to its savepoint alone; the others commit. No caller hears of
//! its write before the commit that holds it, so an acknowledged write survives a crash as
//! before. A lone write (no load) is committed at once, as it was: nothing waits to gather.
//!
//! An async caller queues its write and awaits the answer ([`crate::Store::queue_write`]): no
//! thread of its own blocks for it, so a request's write costs one hand-over to the writer and
//! one back, not two more through a blocking thread.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::time::Instant;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::SqliteConnection;

use crate::conn::{checkout, Pool, PooledConn};
use crate::sqlite::Rewind;
use crate::{DbConn, StoreError};

/// Writes committed together at most: enough to share a commit among every request in flight,
/// few enough that the savepoints' bookkeeping stays small.
const GROUP_AT_MOST: usize = 64;

/// A queued write, its result type erased.
trait Pending: Send {
    /// Runs the write on `conn`, inside the writer's transaction; answers whether it succeeded
    /// (its savepoint is released) or not (rolled back to it). A panic is caught and kept for
    /// the caller.
    fn run(&mut self, conn: &mut DbConn) -> bool;
    /// Tells the caller: its own result if the transaction committed, or if the write failed
    /// anyway; otherwise the commit's fault.
    fn finish(self: Box<Self>, committed: Result<(), &StoreError>);
    /// When it was queued.
    fn queued(&self) -> Instant;
}

/// What the caller hears: its write's result, or the panic it raised, raised again in the
/// caller's thread as if the write had run there.
type Answer<T, E> = std::thread::Result<Result<T, E>>;

struct Write<T, E, F> {
    queued: Instant,
    work: Option<F>,
    ran: Option<Answer<T, E>>,
    reply: Reply<Answer<T, E>>,
}

/// Where the caller waits for its answer.
enum Reply<A> {
    /// A thread blocked in [`GroupWriter::write`].
    Blocking(mpsc::SyncSender<A>),
    /// A task awaiting a [`WriteAnswer`].
    Awaited(tokio::sync::oneshot::Sender<A>),
}

impl<T, E, F> Pending for Write<T, E, F>
where
    T: Send,
    E: From<StoreError> + Send,
    F: FnOnce(&mut DbConn) -> Result<T, E> + Send,
{
    fn run(&mut self, conn: &mut DbConn) -> bool {
        let Some(work) = self.work.take() else { return false };
        let ran = catch_unwind(AssertUnwindSafe(|| work(conn)));
        let ok = matches!(ran, Ok(Ok(_)));
        self.ran = Some(ran);
        ok
    }

    fn finish(self: Box<Self>, committed: Result<(), &StoreError>) {
        let answer = match (self.ran, committed) {
            (Some(Err(panic)), _) => Err(panic),
            (Some(Ok(Err(e))), _) => Ok(Err(e)),
            (Some(Ok(Ok(value))), Ok(())) => Ok(Ok(value)),
            (Some(Ok(Ok(_))) | None, Err(fault)) => Ok(Err(E::from(same_fault(fault)))),
            (None, Ok(())) => Ok(Err(E::from(StoreError::Unavailable("the write did not run".into())))),
        };
        // The caller may have gone (its thread panicked, its task was dropped): nothing to tell.
        match self.reply {
            Reply::Blocking(reply) => drop(reply.send(answer)),
            Reply::Awaited(reply) => drop(reply.send(answer)),
        }
    }

    fn queued(&self) -> Instant {
        self.queued
    }
}

/// The commit's fault, told to each write of the group.
fn same_fault(fault: &StoreError) -> StoreError {
    match fault {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Conflict => StoreError::Conflict,
        StoreError::ActiveChat { chat_id } => StoreError::ActiveChat { chat_id: *chat_id },
        other => StoreError::Unavailable(format!("the group's commit failed: {other}")),
    }
}

/// The queue into the writer thread; cheap to clone. The thread ends when the last clone is
/// dropped.
#[derive(Clone)]
pub(crate) struct GroupWriter {
    queue: mpsc::Sender<Box<dyn Pending>>,
}

impl GroupWriter {
    pub(crate) fn spawn(pool: Pool, rewind: Arc<Rewind>) -> Result<Self, StoreError> {
        let (queue, waiting) = mpsc::channel::<Box<dyn Pending>>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_groups(&pool, &rewind, &waiting))
            .map_err(|e| StoreError::Config(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self { queue })
    }

    /// Queues `work` and waits for its commit. Blocking.
    pub(crate) fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = mpsc::sync_channel(1);
        let pending: Box<dyn Pending> =
            Box::new(Write { queued: Instant::now(), work: Some(work), ran: None, reply: Reply::Blocking(reply) });
        if self.queue.send(pending).is_err() {
            return Err(writer_stopped());
        }
        match answer.recv() {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => Err(writer_stopped()),
        }
    }

    /// Queues `work`; the answer is ready once the group holding it has committed. Never blocks.
    pub(crate) fn queue<T, E, F>(&self, work: F) -> WriteAnswer<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let pending: Box<dyn Pending> =
            Box::new(Write { queued: Instant::now(), work: Some(work), ran: None, reply: Reply::Awaited(reply) });
        // A writer that stopped dropped the write unrun: its answer is the fault below.
        let _ = self.queue.send(pending);
        WriteAnswer { answer }
    }
}

fn writer_stopped<E: From<StoreError>>() -> E {
    E::from(StoreError::Unavailable("the SQLite writer stopped".into()))
}

/// The answer to a write queued by [`crate::Store::queue_write`]: its own result once its group
/// committed (or the commit's fault), or the panic it raised. Dropping it does not withdraw the
/// write: what was queued is committed or not as if the caller still waited.
#[must_use = "the write runs anyway; its result is in the answer"]
pub struct WriteAnswer<T, E> {
    answer: tokio::sync::oneshot::Receiver<Answer<T, E>>,
}

impl<T, E: From<StoreError>> Future for WriteAnswer<T, E> {
    type Output = std::thread::Result<Result<T, E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.answer).poll(cx).map(|answer| answer.unwrap_or_else(|_| Ok(Err(writer_stopped()))))
    }
}

/// The writer thread: waits for a write, takes whatever else has queued, commits them together.
/// When no write is waiting it finishes the checkpoint the checkpointer asked for, if any
/// ([`Rewind`]); between two groups only when the WAL has grown long.
///
/// It keeps one connection from group to group: SQLite empties a connection's page cache when
/// another connection has written since its last transaction, so a writer that took whichever
/// connection was free would read its pages anew after every hand-over. After a group that
/// failed, the connection goes back to the pool, which tests it; the next group takes another.
fn write_groups(pool: &Pool, rewind: &Rewind, waiting: &mpsc::Receiver<Box<dyn Pending>>) {
    let mut held: Option<PooledConn> = None;
    loop {
        let first = match waiting.try_recv() {
            Ok(first) => first,
            Err(mpsc::TryRecvError::Disconnected) => return,
            Err(mpsc::TryRecvError::Empty) => {
                if rewind.take_when_idle() {
                    let started = Instant::now();
                    if held.is_none() {
                        held = checkout(pool).ok();
                    }
                    if let Some(conn) = held.as_mut() {
                        if let DbConn::Sqlite(c) = &mut **conn {
                            // A checkpoint that fails leaves the WAL as it was; the backstop holds.
                            let _ = crate::sqlite::checkpoint(c);
                            crate::sqlite::record_checkpoint("writer-idle", started.elapsed());
                        }
                    }
                }
                match waiting.recv() {
                    Ok(first) => first,
                    Err(_) => return,
                }
            }
        };
        let mut group = vec![first];
        while group.len() < GROUP_AT_MOST {
            match waiting.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let mut steps = Steps::start(&group);
        let mut conn = match held.take().map_or_else(|| checkout(pool), Ok) {
            Ok(conn) => conn,
            Err(fault) => {
                group.into_iter().for_each(|write| write.finish(Err(&fault)));
                continue;
            }
        };
        steps.done("checkout");
        if rewind.take_if_due() {
            if let DbConn::Sqlite(c) = &mut *conn {
                let _ = crate::sqlite::checkpoint(c);
                steps.checkpointed();
            }
        }
        let mut ran = None;
        let committed = crate::transaction(&mut conn, |conn| {
            let began = Instant::now();
            let ran_all = group.iter_mut().try_for_each(|write| in_savepoint(conn, write.as_mut()));
            ran = Some((began, Instant::now()));
            ran_all
        });
        steps.ran(ran);
        // Kept only after a commit: after a failed group the pool takes the connection back and
        // tests it (one left inside a transaction it could not roll back is discarded there).
        match &committed {
            Ok(()) => held = Some(conn),
            Err(e) if e.may_be_connection_fault() => conn.mark_suspect(),
            Err(_) => {}
        }
        let committed = committed.as_ref().map(|_| ());
        group.into_iter().for_each(|write| write.finish(committed));
    }
}

/// How long a group's steps took, for `sms_db_writer_step_duration_seconds`: the bench reads
/// it to tell which of the writer's waits a slow request sat in.
struct Steps {
    last: Instant,
}

impl Steps {
    const METRIC: &'static str = "sms_db_writer_step_duration_seconds";

    /// The group is gathered: each write's time in the queue.
    fn start(group: &[Box<dyn Pending>]) -> Self {
        let now = Instant::now();
        for write in group {
            metrics::histogram!(Self::METRIC, "step" => "queue")
                .record(now.duration_since(write.queued()).as_secs_f64());
        }
        metrics::histogram!("sms_db_writer_group_size").record(group.len() as f64);
        Self { last: now }
    }

    fn done(&mut self, step: &'static str) {
        let now = Instant::now();
        metrics::histogram!(Self::METRIC, "step" => step).record(now.duration_since(self.last).as_secs_f64());
        self.last = now;
    }

    /// The writer finished the checkpoint the checkpointer asked for.
    fn checkpointed(&mut self) {
        let now = Instant::now();
        crate::sqlite::record_checkpoint("writer", now.duration_since(self.last));
        self.last = now;
    }

    /// The transaction ended: `ran` is when its writes began and ended, if they ran.
    fn ran(&mut self, ran: Option<(Instant, Instant)>) {
        let Some((began, ended)) = ran else { return self.done("begin") };
        let end = Instant::now();
        for (step, from, to) in [("begin", self.last, began), ("writes", began, ended), ("commit", ended, end)] {
            metrics::histogram!(Self::METRIC, "step" => step).record(to.saturating_duration_since(from).as_secs_f64());
        }
        self.last = end;
    }
}

/// Runs one write inside a savepoint of the group's transaction: released when it succeeds,
/// rolled back to when it fails or panics. A fault of the savepoint's own fails the group, and
/// so does a panic that left a transaction of the write's own open.
fn in_savepoint(conn: &mut DbConn, write: &mut dyn Pending) -> Result<(), StoreError> {
    let DbConn::Sqlite(c) = conn else {
        // Only SQLite stores have a writer; anything else runs the write as it comes.
        write.run(conn);
        return Ok(());
    };
    <AnsiTransactionManager as TransactionManager<SqliteConnection>>::begin_transaction(c)?;
    let depth = savepoint_depth(conn);
    let succeeded = write.run(conn);
    if savepoint_depth(conn) != depth {
        return Err(StoreError::Unavailable("a write of the group failed midway".into()));
    }
    let DbConn::Sqlite(c) = conn else { return Ok(()) };
    if succeeded {
        <AnsiTransactionManager as TransactionManager<SqliteConnection>>::commit_transaction(c)?;
    } else {
        <AnsiTransactionManager as TransactionManager<SqliteConnection>>::rollback_transaction(c)?;
    }
    Ok(())
}

fn savepoint_depth(conn: &mut DbConn) -> Option<u32> {
    match conn {
        DbConn::Sqlite(c) => {
            <AnsiTransactionManager as TransactionManager<SqliteConnection>>::transaction_manager_status_mut(c)
                .transaction_depth()
                .ok()
                .flatten()
                .map(std::num::NonZeroU32::get)
        }
        DbConn::Postgres(_) => None,
    }
}

impl crate::Store {
    /// Runs work that writes. On SQLite the store's writer runs it, inside a transaction shared
    /// with the writes queued meanwhile (the module's documentation), so it is atomic, and the
    /// queue is first come, first served: a worker's batch and a request's write wait their turn
    /// alike. On PostgreSQL, which commits concurrent transactions in parallel, it runs on a
    /// pooled connection of the caller's thread, in a transaction only if `work` opens one
    /// ([`crate::transaction`], which inside the writer joins its transaction). Blocking: call it
    /// from a blocking thread, holding no connection of this store.
    pub fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + crate::Fault + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.write(work),
            None => self.with_conn(work),
        }
    }

    /// [`Store::write`] for async callers, where the store has a writer (SQLite): `work` is
    /// queued for it and the answer awaited, no thread blocked meanwhile. Without a writer
    /// (PostgreSQL) `work` comes back, for [`Store::write`] on a blocking thread.
    pub fn queue_write<T, E, F>(&self, work: F) -> Result<WriteAnswer<T, E>, F>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => Ok(writer.queue(work)),
            None => Err(work),
        }
    }
}
