//! Typed ids: one type per kind of row, so two ids cannot be swapped in a call, and an id from a
//! path is parsed once, at the edge.

/// Declares id newtypes over the database's `BIGINT` keys.
macro_rules! ids {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(value: i64) -> Self {
                Self(value)
            }

            pub const fn get(self) -> i64 {
                self.0
            }

            /// The id a path segment names: only an integer names a row (anything else names
            /// none, which the caller answers as not found).
            pub fn from_path(raw: &str) -> Option<Self> {
                raw.parse().ok()
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                raw.parse::<i64>().map(Self)
            }
        }

        impl From<i64> for $name {
            fn from(value: i64) -> Self {
                Self(value)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        /// For binding the id as a query parameter by reference.
        impl AsRef<i64> for $name {
            fn as_ref(&self) -> &i64 {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

ids! {
    /// A tenant.
    TenantId,
    /// A chat (the CCAI chat object's `id`).
    ChatId,
    /// A message, either direction.
    MessageId,
    /// An agent of a tenant.
    AgentId,
    /// A consumer of a tenant (the chat object's `end_user.id`).
    EndUserId,
    /// A tenant's outbound number.
    NumberId,
    /// A tenant's API token.
    TokenId,
    /// A tenant's event webhook endpoint.
    EndpointId,
    /// One event's delivery to one endpoint.
    DeliveryId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_paths_are_integers_only() {
        assert_eq!(ChatId::from_path("114"), Some(ChatId::new(114)));
        assert_eq!(ChatId::from_path("-1").map(ChatId::get), Some(-1));
        for bad in ["", "abc", "1.0", " 1", "1e3", "99999999999999999999"] {
            assert_eq!(ChatId::from_path(bad), None, "{bad:?}");
        }
        assert_eq!(ChatId::new(7).to_string(), "7");
        assert_eq!(serde_json::to_string(&AgentId::new(9)).ok().as_deref(), Some("9"));
    }
}
