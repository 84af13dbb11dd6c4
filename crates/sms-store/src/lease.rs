//! How a worker takes leased work: the claim is a write, what it claimed is read after the
//! claim's commit, on a connection of the worker's own. On SQLite the claim runs on the store's
//! one writer among everyone's writes and the read does not (BENCHMARKS.md); on PostgreSQL the
//! two are short transactions of their own.

use crate::{DbConn, Store, StoreError};

impl Store {
    /// Claims with `claim` (a write, [`Store::write`]), then reads what it claimed with `read`.
    /// When the read fails, `hand_back` makes the claimed items due again at once, rather than
    /// leased to no one until the lease ends (which frees them anyway if that fails too), and
    /// the read's error is the answer. Blocking: call it from a blocking thread.
    pub fn claim_then_read<I, T>(
        &self,
        claim: impl FnOnce(&mut DbConn) -> Result<Vec<I>, StoreError> + Send + 'static,
        read: impl FnOnce(&mut DbConn, &[I]) -> Result<Vec<T>, StoreError>,
        hand_back: impl FnOnce(&mut DbConn, &[I]) -> Result<usize, StoreError> + Send + 'static,
    ) -> Result<Vec<T>, StoreError>
    where
        I: Send + 'static,
    {
        let ids = self.write(claim)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.with_conn(|conn| read(conn, &ids)).inspect_err(|_| {
            let back: Result<usize, StoreError> = self.write(move |conn| hand_back(conn, &ids));
            drop(back);
        })
    }
}
