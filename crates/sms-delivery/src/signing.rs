//! How event deliveries are signed: the Standard Webhooks signature of the standard format, the
//! platform's `X-Signature` of the `ccai` format, and the endpoints' secrets.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};

/// The prefix of a signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: `whsec_` and the Base64 of 32 random bytes.
pub fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", BASE64.encode(rand::random::<[u8; 32]>()))
}

/// One Standard Webhooks signature, `v1,` and the Base64 of HMAC-SHA256 over
/// `{id}.{timestamp}.{body}`, keyed with the decoded part of `secret` after `whsec_`. `None` for
/// a secret that is not of that form.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = BASE64.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()?;
    sign_with_key(&key, id, timestamp, body)
}

/// The signature of [`sign`] under a key of raw bytes.
pub fn sign_with_key(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
}

/// The key a shared secret signs with: the decoded Base64 after `whsec_` for a secret of that
/// form (as event endpoints have), its UTF-8 bytes otherwise (an operator's own secret).
pub fn key_of(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|encoded| BASE64.decode(encoded).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// The `webhook-signature` header: the signature under the current secret and, while a rotation
/// lasts, the one under the previous secret, separated by a space.
pub fn signature_header(secret: &str, previous: Option<&str>, id: &str, timestamp: i64, body: &[u8]) -> String {
    [Some(secret), previous]
        .into_iter()
        .flatten()
        .filter_map(|s| sign(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The platform's `X-Signature` header (`ccai` endpoints): `primary=` and the Base64 of
/// HMAC-SHA256 over the `X-Signature-Timestamp` value followed by the body, keyed with the
/// secret's UTF-8 bytes whole; while a rotation lasts, ` secondary=` and the signature under the
/// previous secret.
pub fn platform_signature_header(secret: &str, previous: Option<&str>, timestamp: &str, body: &[u8]) -> String {
    let sign = |secret: &str| -> Option<String> {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).ok()?;
        mac.update(timestamp.as_bytes());
        mac.update(body);
        Some(BASE64.encode(mac.finalize().into_bytes()))
    };
    let primary = format!("primary={}", sign(secret).unwrap_or_default());
    match previous.and_then(sign) {
        Some(secondary) => format!("{primary} secondary={secondary}"),
        None => primary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification's reference libraries: this secret,
        // id, timestamp and body sign to this value.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig.as_deref(), Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
        assert_eq!(sign("not-a-secret", "id", 1, body), None);
        let both = signature_header(secret, Some(secret), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(
            both,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn the_platforms_signature_covers_the_timestamp_and_the_body() {
        let (timestamp, body) = ("2026-12-05T10:00:00.000Z", br#"{"event_type":"chat_created"}"#);
        let expected = {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"whsec_new").unwrap();
            mac.update(b"2026-12-05T10:00:00.000Z{\"event_type\":\"chat_created\"}");
            BASE64.encode(mac.finalize().into_bytes())
        };
        assert_eq!(platform_signature_header("whsec_new", None, timestamp, body), format!("primary={expected}"));
        let both = platform_signature_header("whsec_new", Some("whsec_old"), timestamp, body);
        assert!(both.starts_with(&format!("primary={expected} secondary=")), "{both}");
        assert_ne!(both, platform_signature_header("whsec_new", Some("whsec_old"), "2026-12-05T10:00:01.000Z", body));
    }

    #[test]
    fn secrets_are_32_random_bytes() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        let decoded = BASE64.decode(a.trim_start_matches(SECRET_PREFIX)).unwrap_or_default();
        assert_eq!(decoded.len(), 32);
    }
}
