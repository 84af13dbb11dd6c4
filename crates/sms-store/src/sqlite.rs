//! The SQLite file: how each connection to it is set up, the thread that checkpoints its WAL,
//! and the file's permissions.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel::sqlite::SqliteConnection;

/// Sets SQLite's library up for this process before its first use: multi-thread mode (no mutex
/// around each connection's every call) and no memory statistics (no process-wide mutex around
/// every allocation). Answers whether both took; they cannot once SQLite has been used, and
/// then it stays as built (serialised, which is correct, only slower).
///
/// Why: the store's writer runs every write of the process one after another, and a profile of
/// it spent 12 % of its time locking and unlocking those mutexes (BENCHMARKS.md). Each of the
/// store's connections is used by one thread at a time (diesel's `SqliteConnection` is not
/// `Sync`; the pool hands a connection to one caller at a time), which is all multi-thread mode
/// asks; the statistics are read by nothing here. No safe binding offers `sqlite3_config`.
///
/// # Safety
/// `sqlite3_config` is not thread-safe: call this before anything in the process uses SQLite and
/// while no other thread can (first thing in `main`).
#[allow(unsafe_code)]
pub unsafe fn configure_sqlite() -> bool {
    use libsqlite3_sys as ffi;
    // SAFETY: the caller guarantees that no other thread uses SQLite meanwhile. Both options
    // take an int (or nothing) as SQLite documents them; before `sqlite3_initialize` they only
    // set fields of its global configuration, and after it they answer SQLITE_MISUSE and change
    // nothing.
    let (threads, statistics) = unsafe {
        (
            ffi::sqlite3_config(ffi::SQLITE_CONFIG_MULTITHREAD),
            ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, std::ffi::c_int::from(false)),
        )
    };
    threads == ffi::SQLITE_OK && statistics == ffi::SQLITE_OK
}

/// A connection to the file at `path`, in WAL mode, with the settings every connection shares.
pub(crate) fn open(path: &Path) -> Result<SqliteConnection, diesel::ConnectionError> {
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
    // `temp_store = MEMORY`: the writer runs each write of a group in a savepoint, and SQLite
    // keeps the pages a savepoint may have to restore in a statement journal, a temporary file
    // past 64 KiB: under load the writer created, wrote and deleted one every few dozen
    // milliseconds (`strace`: more page writes to them than to the WAL). They only ever serve a
    // rollback inside the transaction, so memory loses nothing a crash would not.
    conn.batch_execute(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
         PRAGMA temp_store = MEMORY; \
         PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES};"
    ))
    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// SQLite checkpoints the WAL into the database from the connection whose commit crossed the
/// threshold (1000 pages by default), inside that writer's transaction slot and with an fsync:
/// with writers serialised, every writer waits for it (the profile: a third of the CPU idle
/// under load). A thread of the store's checkpoints instead, every
/// [`CHECKPOINT_EVERY`], in PASSIVE mode, which never blocks readers or writers; the
/// connections' own threshold stays as a backstop, raised so it is not normally reached.
///
/// Backfilling is not enough to keep the WAL small: SQLite starts it over from its first frame
/// only when a write transaction begins with every frame already in the database, which under
/// a steady stream of groups never happens, so the WAL grew to the backstop and the writer's own
/// commit then checkpointed everything the checkpointer had not reached yet, with two syncs,
/// while requests queued behind it (12 to 30 ms, every half second under load; BENCHMARKS.md).
/// Now, once the WAL holds [`REWIND_AT`] frames, the checkpointer makes a second pass at once
/// (it finds only what was written during the first) and asks the writer ([`Rewind`]) to
/// checkpoint the little that is left: its next transaction then starts the WAL over. The
/// writer does it when no write is waiting, so that the queue does not wait for its syncs; only
/// a WAL past [`REWIND_BY`] (a writer that never ran out of work) is checkpointed between two
/// groups, with writes waiting.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
const BACKSTOP_CHECKPOINT_PAGES: u32 = 10_000;
/// Frames (4 KiB pages) in the WAL past which the checkpointer asks the writer to start it over.
const REWIND_AT: i64 = 1_000;
/// Frames past which the writer starts the WAL over even with writes waiting.
const REWIND_BY: i64 = 4 * REWIND_AT;

/// The checkpointer's request that the writer finish a checkpoint: when it has nothing else to
/// do ([`Rewind::take_when_idle`]), or, once the WAL is long, between two groups
/// ([`Rewind::take_if_due`]).
#[derive(Debug, Default)]
pub(crate) struct Rewind(AtomicU8);

impl Rewind {
    const ASKED: u8 = 1;
    const DUE: u8 = 2;

    /// Whether a checkpoint was asked for; clears the request. For a writer with no write
    /// waiting.
    pub(crate) fn take_when_idle(&self) -> bool {
        self.0.swap(0, Ordering::Relaxed) != 0
    }

    /// Whether the WAL is long enough that the checkpoint cannot wait for an idle moment;
    /// clears the request if so.
    pub(crate) fn take_if_due(&self) -> bool {
        self.0.compare_exchange(Self::DUE, 0, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    /// Asks for a checkpoint of a WAL of `frames`.
    fn ask(&self, frames: i64) {
        let level = if frames >= REWIND_BY { Self::DUE } else { Self::ASKED };
        self.0.fetch_max(level, Ordering::Relaxed);
    }
}

/// One checkpoint, as `PRAGMA wal_checkpoint` reports it.
#[derive(QueryableByName)]
struct Checkpoint {
    /// Frames in the WAL.
    #[diesel(sql_type = BigInt)]
    log: i64,
}

/// A PASSIVE checkpoint on `conn`: copies what no reader still needs, blocks no one. Answers
/// how many frames the WAL holds.
pub(crate) fn checkpoint(conn: &mut SqliteConnection) -> QueryResult<i64> {
    diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result::<Checkpoint>(conn).map(|c| c.log)
}

/// How long a checkpoint took, and who ran it: `checkpointer` (its thread's passes, which block
/// no one), `writer-idle` (the writer with no write waiting) or `writer` (between two groups,
/// while writes queue).
pub(crate) fn record_checkpoint(by: &'static str, took: Duration) {
    metrics::histogram!("sms_db_checkpoint_duration_seconds", "by" => by).record(took.as_secs_f64());
}

pub(crate) fn spawn_checkpointer(path: PathBuf, rewind: Arc<Rewind>, alive: Weak<()>) {
    let spawned = std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(move || {
        let mut conn: Option<SqliteConnection> = None;
        while alive.strong_count() > 0 {
            std::thread::sleep(CHECKPOINT_EVERY);
            if conn.is_none() {
                // Set up as every connection is: `journal_mode = WAL` makes it open the WAL. A
                // connection that has not, because it was made before the file was first
                // written in WAL mode, answers every checkpoint with -1 and checkpoints nothing.
                conn = open(&path)
                    .ok()
                    .and_then(|mut c| c.batch_execute("PRAGMA busy_timeout = 1000;").is_ok().then_some(c));
            }
            let Some(c) = conn.as_mut() else { continue };
            let started = std::time::Instant::now();
            let passes = checkpoint(c).and_then(|log| {
                if log >= REWIND_AT {
                    checkpoint(c)?;
                    rewind.ask(log);
                }
                Ok(log)
            });
            match passes {
                Ok(log) if log >= 0 => record_checkpoint("checkpointer", started.elapsed()),
                // -1: the connection does not see the WAL; the next one is made anew.
                Ok(_) => conn = None,
                Err(e) => {
                    tracing::debug!(error = %e, "WAL checkpoint failed; retrying");
                    conn = None;
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the WAL checkpointer; SQLite checkpoints on commit");
    }
}

/// The SQLite file holds numbers, texts and token hashes: its directory (when this creates it)
/// and the file are its owner's only. SQLite gives its WAL and shared-memory files the
/// database file's permissions.
pub(crate) fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true);
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        dir.mode(0o700);
        file.mode(0o600);
    }
    if let Some(parent) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        dir.create(parent)?;
    }
    file.open(path).map(drop)
}
