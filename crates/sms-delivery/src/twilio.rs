//! Twilio: the Messages REST API out, and the `X-Twilio-Signature` check of its callbacks in.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::{classify, transport, Outgoing, Provider, SendError};

/// Sends through `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`.
/// Twilio's own API, where `TWILIO_BASE_URL` points unless set.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// Twilio's error for a send to a number that unsubscribed (replied STOP) at Twilio.
pub const UNSUBSCRIBED: i64 = 21610;

pub struct TwilioProvider {
    client: reqwest::Client,
    base_url: String,
    account_sid: String,
    auth_token: String,
}

impl TwilioProvider {
    pub fn new(client: reqwest::Client, base_url: &str, account_sid: &str, auth_token: &str) -> Self {
        Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
        }
    }
}

#[derive(Deserialize)]
struct Created {
    sid: Option<String>,
}

#[derive(Deserialize)]
struct Refusal {
    code: Option<i64>,
    message: Option<String>,
}

#[async_trait::async_trait]
impl Provider for TwilioProvider {
    async fn send(&self, message: &Outgoing) -> Result<Option<String>, SendError> {
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.base_url, self.account_sid);
        let mut form = vec![("To", message.to.as_str()), ("From", message.from.as_str())];
        if !message.body.is_empty() || message.media_urls.is_empty() {
            form.push(("Body", message.body.as_str()));
        }
        // An MMS: Twilio takes each medium as a `MediaUrl` parameter of its own, in order.
        form.extend(message.media_urls.iter().map(|url| ("MediaUrl", url.as_str())));
        form.push(("StatusCallback", message.status_callback.as_str()));
        let response = self
            .client
            .post(url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(|e| transport(&e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| transport(&e))?;
        if status.is_success() {
            return Ok(serde_json::from_str::<Created>(&text).ok().and_then(|c| c.sid));
        }
        let reason = match serde_json::from_str::<Refusal>(&text) {
            Ok(Refusal { code: Some(code), message: Some(m) }) => {
                format!("twilio {}: {m} (code {code})", status.as_u16())
            }
            Ok(Refusal { message: Some(m), .. }) => format!("twilio {}: {m}", status.as_u16()),
            _ => format!("twilio {}", status.as_u16()),
        };
        if matches!(serde_json::from_str::<Refusal>(&text), Ok(Refusal { code: Some(UNSUBSCRIBED), .. })) {
            return Err(SendError::Unsubscribed(reason));
        }
        classify(status, reason).map(|()| None)
    }

    fn name(&self) -> &'static str {
        "twilio"
    }
}

/// Twilio's request signature: Base64 of HMAC-SHA1 under the auth token, over the full URL
/// followed by every form parameter's name and value, sorted by name.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut payload = String::from(url);
    for (name, value) in sorted {
        payload.push_str(name);
        payload.push_str(value);
    }
    let mut mac = match Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(payload.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks `X-Twilio-Signature` in constant time.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], presented: &str) -> bool {
    let expected = signature(auth_token, url, params);
    !presented.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn signature_matches_an_independent_implementation() {
        // The parameters of Twilio's "Webhooks security" example; the expected value was
        // computed with Python's hmac and hashlib over the same URL and sorted parameters.
        let p = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        let sig = signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &p);
        assert_eq!(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(verify("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &p, &sig));
        assert!(!verify("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &p, "x"));
        assert!(!verify("other", "https://mycompany.com/myapp.php?foo=1&bar=2", &p, &sig));
        assert!(!verify("12345", "https://mycompany.com/other", &p, &sig));
        assert!(!verify("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &p, ""));
    }
}
