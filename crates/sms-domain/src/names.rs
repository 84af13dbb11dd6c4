//! Enumerations kept as text in the database: each value has one stored name, and reading a
//! name back that is not one of them is a fault, never a silent default.

/// A stored name that no value of the enumeration has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {name:?}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
}

/// Declares an enumeration with one stored name per value, and its `as_str`, `parse`, `ALL`,
/// `Display`, and the `String` conversions that diesel's `serialize_as` and `deserialize_as` write
/// and read rows with.
macro_rules! stored_names {
    ($(#[$meta:meta])* $vis:vis enum $name:ident as $kind:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored (and answered) name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(value: &str) -> Option<Self> {
                match value { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_owned()
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::names::UnknownName;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value).ok_or($crate::names::UnknownName { kind: $kind, name: value })
            }
        }
    };
}

pub(crate) use stored_names;
