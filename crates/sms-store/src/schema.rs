//! Diesel's view of the tables in `migrations/`. Written by hand: both backends share it.

diesel::table! {
    tenants (id) {
        id -> BigInt,
        subdomain -> Text,
        name -> Text,
        lang -> Text,
        sms_enabled -> Bool,
        outbound_sms_enabled -> Bool,
        session_timeout_minutes -> Integer,
        rate_limit_per_second -> Integer,
        rate_limit_burst -> Integer,
        created_at -> Timestamp,
        active -> Bool,
        help_text -> Nullable<Text>,
        opt_out_text -> Nullable<Text>,
        opt_in_text -> Nullable<Text>,
        quiet_hours_start -> Nullable<Text>,
        quiet_hours_end -> Nullable<Text>,
        jwt_revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbound_numbers (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        number -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    agents (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        email -> Text,
        email_lower -> Text,
        first_name -> Text,
        last_name -> Text,
        name -> Text,
        agent_number -> Nullable<BigInt>,
        avatar_url -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        status_updated_at -> Timestamp,
        console_role -> Text,
        password_set_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    console_credentials (agent_id) {
        agent_id -> BigInt,
        password_hash -> Text,
        failed_count -> Integer,
        failures_since -> Nullable<Timestamp>,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    console_invitations (id) {
        id -> BigInt,
        token_hash -> Text,
        agent_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    console_sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        csrf_token -> Text,
        agent_id -> Nullable<BigInt>,
        operator -> Nullable<Text>,
        tenant_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    end_users (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        number -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    chats (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        end_user_id -> BigInt,
        agent_id -> Nullable<BigInt>,
        chat_type -> Text,
        lang -> Text,
        status -> Text,
        outbound_number -> Text,
        ticket_id -> Nullable<Text>,
        disconnected_by -> Text,
        lock_token -> Nullable<Text>,
        created_at -> Timestamp,
        assigned_at -> Nullable<Timestamp>,
        ends_at -> Nullable<Timestamp>,
        last_activity_at -> Timestamp,
        expires_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    participants (id) {
        id -> BigInt,
        chat_id -> BigInt,
        kind -> Text,
        status -> Text,
        user_id -> Nullable<BigInt>,
        end_user_id -> Nullable<BigInt>,
        connected_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
        chat_duration -> Nullable<Integer>,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        chat_id -> Nullable<BigInt>,
        tenant_id -> BigInt,
        direction -> Text,
        body -> Text,
        segments -> Integer,
        delivery_status -> Text,
        provider_message_id -> Nullable<Text>,
        error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        from_number -> Text,
        to_number -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        locked_until -> Nullable<Timestamp>,
        agent_id -> Nullable<BigInt>,
        media -> Nullable<Text>,
        automatic -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    opt_outs (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        number -> Text,
        created_at -> Timestamp,
        keyword -> Nullable<Text>,
        outbound_number -> Nullable<Text>,
        message_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    unrouted_messages (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        from_number -> Text,
        to_number -> Text,
        body -> Text,
        provider_message_id -> Nullable<Text>,
        created_at -> Timestamp,
        media -> Nullable<Text>,
    }
}

diesel::table! {
    idempotency_keys (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        key -> Text,
        request_hash -> Text,
        state -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
        locked_until -> Timestamp,
        expires_at -> Timestamp,
        lease_token -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        url -> Text,
        events -> Text,
        description -> Nullable<Text>,
        disabled -> Bool,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        format -> Text,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        event_id -> Text,
        event_type -> Text,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        endpoint_id -> BigInt,
        event_id -> BigInt,
        status -> Text,
        attempts -> Integer,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    inbound_receipts (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        message_sid -> Text,
        created_at -> Timestamp,
        keyword -> Bool,
    }
}

diesel::joinable!(api_tokens -> tenants (tenant_id));
diesel::joinable!(outbound_numbers -> tenants (tenant_id));
diesel::joinable!(agents -> tenants (tenant_id));
diesel::joinable!(console_credentials -> agents (agent_id));
diesel::joinable!(console_invitations -> agents (agent_id));
diesel::joinable!(end_users -> tenants (tenant_id));
diesel::joinable!(chats -> end_users (end_user_id));
diesel::joinable!(participants -> chats (chat_id));
diesel::joinable!(messages -> chats (chat_id));
diesel::joinable!(webhook_deliveries -> events (event_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    api_tokens,
    outbound_numbers,
    agents,
    end_users,
    chats,
    participants,
    messages,
    opt_outs,
    unrouted_messages,
    idempotency_keys,
    webhook_endpoints,
    events,
    webhook_deliveries,
    inbound_receipts,
    console_credentials,
    console_invitations,
    console_sessions
);
