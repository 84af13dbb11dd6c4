//! The generic webhook provider: a signed JSON POST to the operator's own gateway. Each request
//! is signed the way event webhooks are (Standard Webhooks: `webhook-id`, the same on every
//! retry of a message, `webhook-timestamp`, `webhook-signature`), so that a gateway can refuse a
//! replay; `X-Signature-256` (the body alone) stays for existing gateways.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

use crate::{classify, transport, Outgoing, Provider, SendError};

pub struct WebhookProvider {
    client: reqwest::Client,
    url: String,
    secret: String,
    /// The Standard Webhooks key made from the secret.
    key: Vec<u8>,
}

impl WebhookProvider {
    pub fn new(client: reqwest::Client, url: &str, secret: &str) -> Self {
        Self { client, url: url.to_owned(), secret: secret.to_owned(), key: crate::events::key_of(secret) }
    }
}

#[derive(Serialize)]
struct Payload<'a> {
    message_id: i64,
    from: &'a str,
    to: &'a str,
    body: &'a str,
    /// An MMS's media, in order; empty for an SMS.
    media_urls: &'a [String],
    status_callback: &'a str,
}

#[derive(Deserialize)]
struct Accepted {
    provider_message_id: Option<String>,
}

/// `sha256=<hex>` of HMAC-SHA256 over the exact body bytes, under the shared secret.
pub fn webhook_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[async_trait::async_trait]
impl Provider for WebhookProvider {
    async fn send(&self, message: &Outgoing) -> Result<Option<String>, SendError> {
        let payload = Payload {
            message_id: message.message_id.get(),
            from: message.from.as_str(),
            to: message.to.as_str(),
            body: &message.body,
            media_urls: &message.media_urls,
            status_callback: &message.status_callback,
        };
        let body = serde_json::to_vec(&payload).map_err(|e| SendError::Permanent(e.to_string()))?;
        let (id, timestamp) = (format!("msg_sms_{}", message.message_id), chrono::Utc::now().timestamp());
        let signature = crate::events::sign_with_key(&self.key, &id, timestamp, &body).unwrap_or_default();
        let response = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .header("X-Signature-256", webhook_signature(&self.secret, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| transport(&e))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        classify(status, format!("webhook {}", status.as_u16()))?;
        Ok(serde_json::from_str::<Accepted>(&text).ok().and_then(|a| a.provider_message_id))
    }

    fn name(&self) -> &'static str {
        "webhook"
    }
}

#[cfg(test)]
mod tests {
    use super::webhook_signature;

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // Computed independently with Python's hmac and hashlib.
        assert_eq!(
            webhook_signature("secret", br#"{"a":1}"#),
            "sha256=aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494"
        );
    }
}
