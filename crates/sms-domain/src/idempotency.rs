//! The `Idempotency-Key` a client sends to make a retry safe.

/// Longest key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// A key that can only hold a valid value: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

/// Why a header is not a key; `Display` is the message answered with 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Idempotency-Key must be 1 to 255 visible ASCII characters")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    pub fn parse(raw: &[u8]) -> Result<Self, InvalidIdempotencyKey> {
        let valid = (1..=MAX_IDEMPOTENCY_KEY_LEN).contains(&raw.len()) && raw.iter().all(u8::is_ascii_graphic);
        match std::str::from_utf8(raw) {
            Ok(text) if valid => Ok(Self(text.to_owned())),
            _ => Err(InvalidIdempotencyKey),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_1_to_255() {
        assert_eq!(IdempotencyKey::parse(b"order-17").map(|k| k.as_str().to_owned()), Ok("order-17".into()));
        assert!(IdempotencyKey::parse("k".repeat(255).as_bytes()).is_ok());
        for bad in [&b""[..], b"has space", b"tab\t", "é".as_bytes(), "k".repeat(256).as_bytes()] {
            assert_eq!(IdempotencyKey::parse(bad), Err(InvalidIdempotencyKey), "{bad:?}");
        }
    }
}
