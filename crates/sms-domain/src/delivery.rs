//! Delivery vocabulary: statuses that only move forward, retry timing, and the consumer's
//! opt-out keywords.

use std::time::Duration;

crate::names::stored_names! {
    /// Where an outbound message is on its way to the consumer.
    pub enum DeliveryStatus as "delivery status" {
        Queued = "queued",
        Sending = "sending",
        Sent = "sent",
        Delivered = "delivered",
        Undelivered = "undelivered",
        Failed = "failed",
        /// An inbound message: it came from the consumer.
        Received = "received",
    }
}

impl DeliveryStatus {
    /// Maps a Twilio `MessageStatus` to ours; statuses Twilio reports before it has the message
    /// (`accepted`, `scheduled`) mean no change.
    pub fn from_twilio(value: &str) -> Option<Self> {
        match value {
            "queued" | "sending" => Some(Self::Sending),
            "sent" => Some(Self::Sent),
            "delivered" | "read" => Some(Self::Delivered),
            "undelivered" => Some(Self::Undelivered),
            "failed" | "canceled" => Some(Self::Failed),
            _ => None,
        }
    }

    /// The order statuses move in: a later report never moves a message back.
    pub fn rank(self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::Sending => 1,
            Self::Sent => 2,
            Self::Delivered | Self::Undelivered | Self::Failed | Self::Received => 3,
        }
    }

    /// Whether a report of `next` may replace `self`.
    pub fn may_become(self, next: DeliveryStatus) -> bool {
        next.rank() > self.rank()
    }
}

/// When to try a message again: about `base` after the first attempt, doubling, at most `max`
/// apart, with "equal jitter" (half the delay fixed, half random) so retries of many messages do
/// not arrive together. `attempt` counts attempts made so far (1 after the first).
pub fn retry_delay(attempt: u32, base: Duration, max: Duration, random_unit: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exponent).min(max);
    let half = full / 2;
    half + half.mul_f64(random_unit.clamp(0.0, 1.0))
}

/// What a consumer's reply asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// `STOP`, `STOPALL`, `UNSUBSCRIBE`, `CANCEL`, `END`, `QUIT`, `REVOKE`, `OPTOUT`.
    OptOut,
    /// `START`, `UNSTOP`.
    OptIn,
    /// `YES`: an opt-in only from a number that is opted out; otherwise an ordinary reply.
    Yes,
    /// `HELP`, `INFO`.
    Help,
}

/// The keyword a reply is, if it is one: the whole message, trimmed of surrounding white space
/// and of trailing `.` or `!`, equal to a keyword in any case. Answers the keyword as matched,
/// in capitals, too.
pub fn keyword(body: &str) -> Option<(Keyword, String)> {
    let word = body.trim().trim_end_matches(['.', '!']).trim_end().to_uppercase();
    let kind = match word.as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" | "REVOKE" | "OPTOUT" => Keyword::OptOut,
        "START" | "UNSTOP" => Keyword::OptIn,
        "YES" => Keyword::Yes,
        "HELP" | "INFO" => Keyword::Help,
        _ => return None,
    };
    Some((kind, word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_only_move_forward() {
        use DeliveryStatus::*;
        assert!(Queued.may_become(Sending));
        assert!(Sending.may_become(Sent));
        assert!(Sent.may_become(Delivered));
        assert!(Sending.may_become(Failed));
        assert!(!Delivered.may_become(Sent), "a late sent does not overwrite delivered");
        assert!(!Failed.may_become(Sent));
        assert!(!Delivered.may_become(Undelivered));
        assert!(!Sent.may_become(Sending));
        assert_eq!(DeliveryStatus::from_twilio("read"), Some(Delivered));
        assert_eq!(DeliveryStatus::from_twilio("accepted"), None);
        assert_eq!(DeliveryStatus::parse("undelivered"), Some(Undelivered));
    }

    #[test]
    fn retry_delays_double_up_to_the_cap_with_jitter() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(300);
        assert_eq!(retry_delay(1, base, max, 1.0), Duration::from_secs(1));
        assert_eq!(retry_delay(1, base, max, 0.0), Duration::from_millis(500));
        assert_eq!(retry_delay(2, base, max, 1.0), Duration::from_secs(2));
        assert_eq!(retry_delay(4, base, max, 1.0), Duration::from_secs(8));
        assert_eq!(retry_delay(10, base, max, 1.0), max, "capped at 5 minutes");
        assert_eq!(retry_delay(60, base, max, 0.0), max / 2);
        let mid = retry_delay(3, base, max, 0.5);
        assert!(mid > Duration::from_secs(2) && mid < Duration::from_secs(4));
    }

    fn kind(text: &str) -> Option<Keyword> {
        keyword(text).map(|(k, _)| k)
    }

    #[test]
    fn keywords_are_whole_messages_in_any_case() {
        for word in ["STOP", "stop", " Stop ", "STOPALL", "unsubscribe", "Cancel", "END", "quit", "Revoke", "optout"] {
            assert_eq!(kind(word), Some(Keyword::OptOut), "{word}");
        }
        for word in ["START", "unstop", " Start"] {
            assert_eq!(kind(word), Some(Keyword::OptIn), "{word}");
        }
        assert_eq!(kind("yes"), Some(Keyword::Yes));
        for word in ["HELP", "help", "Info", "INFO."] {
            assert_eq!(kind(word), Some(Keyword::Help), "{word}");
        }
        for text in ["stop please", "please stop", "", "yes please", "opt out", "STOP?", "S T O P", ".STOP"] {
            assert_eq!(kind(text), None, "{text}");
        }
    }

    #[test]
    fn trailing_stops_and_bangs_are_ignored() {
        for text in ["Stop.", "STOP!", "stop!!", " Stop. ", "stop .", "stop!.!", "\tSTOP\n"] {
            assert_eq!(keyword(text), Some((Keyword::OptOut, "STOP".to_owned())), "{text:?}");
        }
        assert_eq!(keyword("Revoke!"), Some((Keyword::OptOut, "REVOKE".to_owned())));
    }
}
