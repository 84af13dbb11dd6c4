//! The domain's typed ids mapped to the columns: a non-null id column is read as `i64` and
//! converted (`#[diesel(deserialize_as = i64)]`); a nullable one through [`OptionalId`].

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, Queryable};
use diesel::sql_types::{BigInt, Nullable};

/// A nullable id column as read, before it becomes an `Option` of the domain's id type
/// (`#[diesel(deserialize_as = OptionalId)]`).
#[derive(Debug, Clone, Copy)]
pub struct OptionalId(Option<i64>);

impl<DB> Queryable<Nullable<BigInt>, DB> for OptionalId
where
    DB: Backend,
    Option<i64>: FromSql<Nullable<BigInt>, DB>,
{
    type Row = Option<i64>;

    fn build(row: Option<i64>) -> deserialize::Result<Self> {
        Ok(Self(row))
    }
}

impl<T: From<i64>> From<OptionalId> for Option<T> {
    fn from(id: OptionalId) -> Self {
        id.0.map(T::from)
    }
}
