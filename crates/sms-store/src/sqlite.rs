//! The SQLite file: how each connection to it is set up, the thread that checkpoints its WAL,
//! and the file's permissions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;

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
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
const BACKSTOP_CHECKPOINT_PAGES: u32 = 10_000;

pub(crate) fn spawn_checkpointer(path: PathBuf, alive: std::sync::Weak<()>) {
    let spawned = std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(move || {
        let mut conn: Option<SqliteConnection> = None;
        while alive.strong_count() > 0 {
            std::thread::sleep(CHECKPOINT_EVERY);
            if conn.is_none() {
                conn = SqliteConnection::establish(&path.to_string_lossy()).ok();
            }
            if let Some(c) = conn.as_mut() {
                if let Err(e) = c.batch_execute("PRAGMA busy_timeout = 1000; PRAGMA wal_checkpoint(PASSIVE);") {
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
