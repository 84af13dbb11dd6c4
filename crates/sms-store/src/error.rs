use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// A persistence fault. Outages are kept apart from other errors so the HTTP layer can answer
/// 503 for them and 500 for the rest; nothing here is ever turned into "not found".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (pool timeout, refused or dropped connection).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique constraint refused the write (the caller knows which one it risked).
    #[error("conflict with an existing row")]
    Conflict,
    /// The consumer already has an active chat (the database backstop of the one-session rule).
    #[error("the consumer already has an active chat")]
    ActiveChat { chat_id: Option<sms_domain::ChatId> },
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("database error: {0}")]
    Database(DieselError),
}

impl StoreError {
    /// Whether the connection it happened on may be dead: a fault of the database's, not a
    /// refusal (a conflict, an active chat) that leaves the connection as good as before.
    pub fn may_be_connection_fault(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Database(_))
    }
}

impl From<DieselError> for StoreError {
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Self::Conflict,
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => Self::Unavailable(info.message().to_owned()),
            DieselError::DatabaseError(_, info) if is_sqlite_busy(info.message()) => {
                Self::Unavailable(info.message().to_owned())
            }
            _ => Self::Database(err),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(err: r2d2::Error) -> Self {
        Self::Unavailable(err.to_string())
    }
}

fn is_sqlite_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}
