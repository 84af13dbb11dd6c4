//! The send body's checks, each alone and in their order.

use super::*;
use serde_json::{json, Value};

const ON: TenantPolicy = TenantPolicy { sms_enabled: true, outbound_sms_enabled: true };
const OWNED: &str = "+16285550199";

/// The whole domain part of the order, with the tenant's numbers played by a fixed one.
fn check(body: Value, policy: TenantPolicy) -> Result<(Addressed, Content), SmsError> {
    let body = SendSmsBody::from_json(body.to_string().as_bytes()).expect("body should parse");
    let addressed = body.addressing(policy)?;
    if addressed.outbound.as_str() != OWNED {
        return Err(SmsError::OutboundNumberNotFound);
    }
    let content = body.content()?;
    Ok((addressed, content))
}

fn seed() -> Value {
    json!({
        "chat_type": "Messaging (SMS)",
        "end_user_number": "+1 415-555-0100",
        "outbound_number": "+1 628-555-0199",
        "message": "lorem ipsum",
        "ticket_id": "5006x00000XXxxxXXX"
    })
}

fn with(changes: &[(&str, Value)]) -> Value {
    let mut body = seed();
    for (key, value) in changes {
        if let Some(map) = body.as_object_mut() {
            if value.is_null() && key.starts_with('-') {
                map.remove(&key[1..]);
            } else {
                map.insert((*key).to_owned(), value.clone());
            }
        }
    }
    body
}

fn err(body: Value) -> SmsError {
    err_with(body, ON)
}

fn err_with(body: Value, policy: TenantPolicy) -> SmsError {
    match check(body, policy) {
        Err(e) => e,
        Ok(ok) => panic!("expected an error, got {ok:?}"),
    }
}

const ABSENT: Value = Value::Null;

#[test]
fn seed_request_is_valid() {
    let (addressed, content) = check(seed(), ON).unwrap();
    assert_eq!(addressed.chat_type, ChatType::MessagingSms);
    assert_eq!(addressed.end_user.as_str(), "+14155550100");
    assert_eq!(addressed.outbound.as_str(), "+16285550199");
    assert_eq!(content.message, "lorem ipsum");
    assert_eq!(content.ticket_id.as_deref(), Some("5006x00000XXxxxXXX"));
}

#[test]
fn row_1_chat_type_absent_or_null() {
    assert_eq!(err(with(&[("-chat_type", ABSENT)])), SmsError::ChatTypeMissing);
    assert_eq!(err(with(&[("chat_type", Value::Null)])), SmsError::ChatTypeMissing);
    assert_eq!(SmsError::ChatTypeMissing.to_string(), "chat_type needs to be provided");
}

#[test]
fn row_2_chat_type_not_allowed() {
    for bad in ["In-app", "", "sms", "Messaging(SMS)", " SMS"] {
        assert_eq!(err(with(&[("chat_type", json!(bad))])), SmsError::ChatTypeInvalid);
    }
    assert_eq!(SmsError::ChatTypeInvalid.to_string(), "valid chat type needs to be provided");
    for good in ["Messaging (SMS)", "Messaging (API)", "SMS"] {
        assert!(check(with(&[("chat_type", json!(good))]), ON).is_ok(), "{good}");
    }
}

#[test]
fn rows_3_and_4_tenant_switches() {
    let off = TenantPolicy { sms_enabled: false, outbound_sms_enabled: true };
    assert_eq!(err_with(seed(), off), SmsError::SmsDisabled);
    assert_eq!(SmsError::SmsDisabled.to_string(), "SMS is not enabled");
    let out_off = TenantPolicy { sms_enabled: true, outbound_sms_enabled: false };
    assert_eq!(err_with(seed(), out_off), SmsError::OutboundSmsDisabled);
    assert_eq!(SmsError::OutboundSmsDisabled.to_string(), "Outbound SMS is not enabled");
    let both_off = TenantPolicy { sms_enabled: false, outbound_sms_enabled: false };
    assert_eq!(err_with(seed(), both_off), SmsError::SmsDisabled);
}

#[test]
fn row_5_end_user_number_missing() {
    for body in [
        with(&[("-end_user_number", ABSENT)]),
        with(&[("end_user_number", Value::Null)]),
        with(&[("end_user_number", json!(""))]),
        with(&[("end_user_number", json!("   "))]),
    ] {
        assert_eq!(err(body), SmsError::EndUserNumberMissing);
    }
    assert_eq!(SmsError::EndUserNumberMissing.to_string(), "end_user_number is required");
}

#[test]
fn row_6_end_user_number_invalid() {
    for bad in ["12345", "abc", "+1 000-000-0000", "+1 415-555-0100 ext. 12"] {
        assert_eq!(err(with(&[("end_user_number", json!(bad))])), SmsError::EndUserNumberInvalid);
    }
    assert_eq!(SmsError::EndUserNumberInvalid.to_string(), "end_user_number is invalid");
}

#[test]
fn row_7_non_us_numbers() {
    for bad in ["+82 000-000-0000", "+1 416-555-0100", "+44 20 7946 0958"] {
        assert_eq!(err(with(&[("end_user_number", json!(bad))])), SmsError::NonUsNumber);
        assert_eq!(err(with(&[("outbound_number", json!(bad))])), SmsError::NonUsNumber);
    }
    assert_eq!(SmsError::NonUsNumber.to_string(), "Non-US phone number not allowed");
}

#[test]
fn row_8_outbound_number_missing() {
    for body in [
        with(&[("-outbound_number", ABSENT)]),
        with(&[("outbound_number", Value::Null)]),
        with(&[("outbound_number", json!(" "))]),
    ] {
        assert_eq!(err(body), SmsError::OutboundNumberMissing);
    }
    assert_eq!(SmsError::OutboundNumberMissing.to_string(), "outbound_number is required");
}

#[test]
fn row_9_outbound_number_invalid() {
    assert_eq!(err(with(&[("outbound_number", json!("12345"))])), SmsError::OutboundNumberInvalid);
    assert_eq!(SmsError::OutboundNumberInvalid.to_string(), "outbound_number is invalid");
}

#[test]
fn row_10_outbound_number_not_owned() {
    assert_eq!(err(with(&[("outbound_number", json!("+1 415-555-0199"))])), SmsError::OutboundNumberNotFound);
    assert_eq!(SmsError::OutboundNumberNotFound.to_string(), "outbound_number is not found");
}

#[test]
fn row_11_message_missing() {
    for body in [
        with(&[("-message", ABSENT)]),
        with(&[("message", Value::Null)]),
        with(&[("message", json!(""))]),
        with(&[("message", json!(" \n\t "))]),
        with(&[("message", json!("\u{3000}"))]),
    ] {
        assert_eq!(err(body), SmsError::MessageMissing);
    }
    assert_eq!(SmsError::MessageMissing.to_string(), "message is required");
}

#[test]
fn message_length_counts_code_points() {
    let at_limit = "é".repeat(MAX_MESSAGE_CHARS);
    assert!(check(with(&[("message", json!(at_limit))]), ON).is_ok());
    let emoji = "😀".repeat(MAX_MESSAGE_CHARS);
    assert!(check(with(&[("message", json!(emoji))]), ON).is_ok());
    let over = "a".repeat(MAX_MESSAGE_CHARS + 1);
    assert_eq!(err(with(&[("message", json!(over))])), SmsError::MessageTooLong);
    assert_eq!(SmsError::MessageTooLong.to_string(), "message is too long");
}

#[test]
fn ticket_id_rules() {
    let (_, content) = check(with(&[("ticket_id", json!(""))]), ON).unwrap();
    assert_eq!(content.ticket_id, None);
    assert!(check(with(&[("ticket_id", json!("t".repeat(255)))]), ON).is_ok());
    assert_eq!(err(with(&[("ticket_id", json!("t".repeat(256)))])), SmsError::TicketIdTooLong);
    assert_eq!(SmsError::TicketIdTooLong.to_string(), "ticket_id is too long");
}

#[test]
fn precedence_follows_the_table() {
    // Everything wrong at once: the missing chat type wins.
    let all_bad = json!({"end_user_number": "x", "outbound_number": "y", "message": ""});
    let disabled = TenantPolicy { sms_enabled: false, outbound_sms_enabled: false };
    assert_eq!(err_with(all_bad.clone(), disabled), SmsError::ChatTypeMissing);
    // An invalid chat type beats the tenant switches.
    assert_eq!(err_with(with(&[("chat_type", json!("In-app"))]), disabled), SmsError::ChatTypeInvalid);
    // SMS switched off beats a missing number.
    assert_eq!(err_with(with(&[("-end_user_number", ABSENT)]), disabled), SmsError::SmsDisabled);
    // A missing end-user number beats a bad outbound number and a missing message.
    assert_eq!(
        err(with(&[("-end_user_number", ABSENT), ("outbound_number", json!("1")), ("message", json!(""))])),
        SmsError::EndUserNumberMissing
    );
    // An invalid end-user number beats a non-US outbound number.
    assert_eq!(
        err(with(&[("end_user_number", json!("12345")), ("outbound_number", json!("+82 000-000-0000"))])),
        SmsError::EndUserNumberInvalid
    );
    // A non-US end-user number beats a missing outbound number.
    assert_eq!(
        err(with(&[("end_user_number", json!("+82 10-1234-5678")), ("-outbound_number", ABSENT)])),
        SmsError::NonUsNumber
    );
    // A missing outbound number beats a missing message.
    assert_eq!(err(with(&[("-outbound_number", ABSENT), ("message", json!(""))])), SmsError::OutboundNumberMissing);
    // An invalid outbound number beats a missing message.
    assert_eq!(
        err(with(&[("outbound_number", json!("abc")), ("message", json!(""))])),
        SmsError::OutboundNumberInvalid
    );
    // An outbound number that is not the tenant's beats a missing message.
    assert_eq!(
        err(with(&[("outbound_number", json!("+1 415-555-0199")), ("message", json!(""))])),
        SmsError::OutboundNumberNotFound
    );
    // A missing message beats the ticket length.
    assert_eq!(err(with(&[("message", json!("")), ("ticket_id", json!("t".repeat(300)))])), SmsError::MessageMissing);
    // A message too long beats a ticket too long.
    assert_eq!(
        err(with(&[("message", json!("a".repeat(1601))), ("ticket_id", json!("t".repeat(300)))])),
        SmsError::MessageTooLong
    );
}

#[test]
fn row_12_message() {
    assert_eq!(
        SmsError::ActiveSession { chat_id: Some(crate::ChatId::new(1)) }.to_string(),
        "Outbound SMS failed. Consumer is already in an active SMS session."
    );
}

#[test]
fn body_faults_name_the_field_or_the_parse_error() {
    assert_eq!(SendSmsBody::from_json(b"[1]").err(), Some(BodyError::NotObject));
    assert_eq!(SendSmsBody::from_json(b"\"x\"").err(), Some(BodyError::NotObject));
    assert!(matches!(SendSmsBody::from_json(b"{"), Err(BodyError::NotJson(_))));
    assert!(matches!(SendSmsBody::from_json(b""), Err(BodyError::NotJson(_))));
    assert!(matches!(SendSmsBody::from_json(b"{} x"), Err(BodyError::NotJson(_))));
    match SendSmsBody::from_json(br#"{"chat_type": 5}"#) {
        Err(e @ BodyError::WrongType { .. }) => {
            assert_eq!(e.to_string(), "invalid value for chat_type: invalid type: integer `5`, expected a string");
        }
        other => panic!("{other:?}"),
    }
    match SendSmsBody::from_json(br#"{"agentId": "1"}"#) {
        Err(BodyError::WrongType { field, .. }) => assert_eq!(field, "agentId"),
        other => panic!("{other:?}"),
    }
    assert!(SendSmsBody::from_json(br#"{"unknown": [1, {"a": 2}]}"#).is_ok());
}

#[test]
fn camel_case_agent_fields_win_over_aliases() {
    let body =
        SendSmsBody::from_json(br#"{"agentId": 1, "agent_id": 2, "agentEmail": "a@x", "agent_email": "b@x"}"#).unwrap();
    assert_eq!(body.agent_selector(), AgentSelector { id: Some(crate::AgentId::new(1)), email: Some("a@x".into()) });
    let snake = SendSmsBody::from_json(br#"{"agent_id": 2, "agent_email": "b@x"}"#).unwrap();
    assert_eq!(snake.agent_selector(), AgentSelector { id: Some(crate::AgentId::new(2)), email: Some("b@x".into()) });
    assert!(SendSmsBody::default().agent_selector().is_empty());
}
