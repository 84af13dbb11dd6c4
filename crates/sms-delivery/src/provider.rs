//! The provider seam.

use sms_domain::{E164Number, MessageId};

/// One message to hand over.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub message_id: MessageId,
    pub from: E164Number,
    pub to: E164Number,
    pub body: String,
    /// An MMS's media, in order (empty for an SMS).
    pub media_urls: Vec<String>,
    /// Where the provider should report delivery (`…/webhooks/twilio/{subdomain}/status`).
    pub status_callback: String,
}

/// Why a provider did not take a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Timeouts, 5xx, 429: try again later.
    #[error("{0}")]
    Transient(String),
    /// Any other refusal: the message fails with this reason.
    #[error("{0}")]
    Permanent(String),
    /// The recipient unsubscribed at the provider (Twilio's error 21610): the message fails
    /// with this reason, and the number is opted out.
    #[error("{0}")]
    Unsubscribed(String),
}

/// Hands a message to an SMS carrier (or stand-in). Answers the provider's message id, if any.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    async fn send(&self, message: &Outgoing) -> Result<Option<String>, SendError>;
    fn name(&self) -> &'static str;
}

/// For development: records the message as sent and logs it (number masked, no body).
pub struct LogProvider;

#[async_trait::async_trait]
impl Provider for LogProvider {
    async fn send(&self, message: &Outgoing) -> Result<Option<String>, SendError> {
        tracing::info!(message_id = message.message_id.get(), to = %message.to.masked(), chars = message.body.chars().count(), "log provider: message sent");
        Ok(Some(format!("log-{}", message.message_id)))
    }

    fn name(&self) -> &'static str {
        "log"
    }
}
