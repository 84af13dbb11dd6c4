//! A tenant and what it owns: its tokens, outbound numbers and agents, each kept within the tenant.

use chrono::Duration;
use sms_domain::time::now_millis;
use sms_domain::{AgentId, AgentStatus, NumberId, TenantId};
use sms_store::numbers::{self, SendChecks};
use sms_store::opt_outs;
use sms_store::{agents, tenants, tokens, AgentChanges, DbConn, Store, StoreError, TenantChanges, Window};
use sms_test_support::TestDb;

use crate::common::{
    conn, new_agent, new_tenant, num, ok, run, some, tenant, CONSUMER, OTHER_OUTBOUND, OUTBOUND, UNREGISTERED,
};

fn tenant_lifecycle(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let acme = tenant(&mut c, "acme");
    assert_eq!((acme.subdomain.as_str(), acme.name.as_str(), acme.lang.as_str()), ("acme", "acme Inc.", "en"));
    assert_eq!((acme.sms_enabled, acme.outbound_sms_enabled, acme.session_timeout_minutes), (true, true, 15));
    assert_eq!((acme.rate_limit_per_second, acme.rate_limit_burst), (10, 20));
    assert!(matches!(tenants::create(&mut c, &new_tenant("acme")), Err(StoreError::Conflict)), "unique subdomain");
    let globex = tenant(&mut c, "globex");
    let listed: Vec<(TenantId, String)> =
        ok(tenants::list(&mut c, Window::default())).0.into_iter().map(|t| (t.id, t.subdomain)).collect();
    assert_eq!(listed, [(acme.id, "acme".to_owned()), (globex.id, "globex".to_owned())], "in creation order");
    let found = some(ok(tenants::find_by_subdomain(&mut c, "acme")), "acme");
    assert_eq!((found.id, found.created_at), (acme.id, acme.created_at));
    assert!(ok(tenants::find_by_subdomain(&mut c, "initech")).is_none());

    let changes = TenantChanges { name: Some("Acme Corp".into()), sms_enabled: Some(false), ..Default::default() };
    assert!(!changes.is_empty() && TenantChanges::default().is_empty());
    let new = some(ok(tenants::update(&mut c, acme.id, &changes)), "acme");
    assert_eq!((new.name.as_str(), new.sms_enabled, new.lang.as_str()), ("Acme Corp", false, "en"), "the rest is kept");
    let same = some(ok(tenants::update(&mut c, acme.id, &TenantChanges::default())), "acme");
    assert_eq!((same.name.as_str(), same.sms_enabled, same.session_timeout_minutes), ("Acme Corp", false, 15));
    assert!(ok(tenants::update(&mut c, TenantId::new(globex.id.get() + 1000), &changes)).is_none(), "a missing tenant");
    assert_eq!(some(ok(tenants::find_by_subdomain(&mut c, "globex")), "globex").name, "globex Inc.");
}

fn token_lifecycle(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex, now) = (tenant(&mut c, "acme"), tenant(&mut c, "globex"), now_millis());
    let a = ok(tokens::create(&mut c, acme.id, "hash-a", now));
    let b = ok(tokens::create(&mut c, acme.id, "hash-b", now));
    let g = ok(tokens::create(&mut c, globex.id, "hash-g", now));
    assert_eq!((a.tenant_id, a.token_hash.as_str(), a.created_at, a.revoked_at), (acme.id, "hash-a", now, None));
    let who = |c: &mut DbConn, subdomain: &str, hash: &str| ok(tokens::authenticate(c, subdomain, hash)).map(|t| t.id);
    assert_eq!((who(&mut c, "acme", "hash-a"), who(&mut c, "acme", "hash-b")), (Some(acme.id), Some(acme.id)));
    assert_eq!(who(&mut c, "acme", "hash-g"), None, "another tenant's token");
    assert_eq!(who(&mut c, "acme\0", "hash-a"), None, "a subdomain no tenant can have");
    assert!(ok(tokens::revoke(&mut c, acme.id, a.id, now)));
    assert!(ok(tokens::revoke(&mut c, acme.id, a.id, now + Duration::hours(1))), "revoked twice, still found");
    let listed: Vec<_> =
        ok(tokens::list(&mut c, acme.id, Window::default())).0.into_iter().map(|t| (t.id, t.revoked_at)).collect();
    assert_eq!(listed, [(a.id, Some(now)), (b.id, None)], "the first revocation time is kept");
    assert!(!ok(tokens::revoke(&mut c, acme.id, g.id, now)), "another tenant's token");
    assert!(!ok(tokens::revoke(&mut c, globex.id, b.id, now)), "another tenant's token");
    assert_eq!(who(&mut c, "acme", "hash-a"), None, "a revoked token");
    assert_eq!((who(&mut c, "acme", "hash-b"), who(&mut c, "globex", "hash-g")), (Some(acme.id), Some(globex.id)));
    let (page, total) = ok(tokens::list(&mut c, acme.id, Window { offset: 1, limit: 5 }));
    assert_eq!((page.iter().map(|t| t.id).collect::<Vec<_>>(), total), (vec![b.id], 2), "a window of the list");
}

fn number_registry(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex, now) = (tenant(&mut c, "acme"), tenant(&mut c, "globex"), now_millis());
    let first = ok(numbers::create(&mut c, acme.id, &num("(628) 555-0199"), now));
    assert_eq!((first.tenant_id, first.number.as_str(), first.created_at), (acme.id, OUTBOUND, now), "in E.164");
    let taken = numbers::create(&mut c, globex.id, &num(OUTBOUND), now);
    assert!(matches!(taken, Err(StoreError::Conflict)), "a number belongs to one tenant");
    let second = ok(numbers::create(&mut c, acme.id, &num(OTHER_OUTBOUND), now));
    let listed: Vec<String> =
        ok(numbers::list(&mut c, acme.id, Window::default())).0.into_iter().map(|n| n.number.into_inner()).collect();
    assert_eq!(listed, [OUTBOUND, OTHER_OUTBOUND]);
    assert!(ok(numbers::list(&mut c, globex.id, Window::default())).0.is_empty());

    let checks = |c: &mut DbConn, tenant_id: TenantId, outbound: &str| {
        let SendChecks { outbound_registered, opted_out } =
            ok(numbers::send_checks(c, tenant_id, &num(outbound), &num(CONSUMER)));
        (outbound_registered, opted_out)
    };
    assert_eq!(checks(&mut c, acme.id, OUTBOUND), (true, false));
    assert_eq!(checks(&mut c, globex.id, OUTBOUND), (false, false), "registered by another tenant");
    assert!(ok(opt_outs::record(&mut c, acme.id, &num(CONSUMER), Default::default(), now)));
    assert_eq!(checks(&mut c, acme.id, OUTBOUND), (true, true));
    assert_eq!(checks(&mut c, acme.id, UNREGISTERED), (false, true));
    assert_eq!(checks(&mut c, globex.id, OUTBOUND), (false, false), "an opt-out is the tenant's");

    assert!(ok(numbers::delete(&mut c, globex.id, first.id)).is_none(), "another tenant's number");
    let removed = ok(numbers::delete(&mut c, acme.id, first.id)).map(|n| n.number);
    assert_eq!(removed.as_ref().map(|n| n.as_str()), Some(OUTBOUND), "answers the number taken away");
    assert!(ok(numbers::delete(&mut c, acme.id, first.id)).is_none(), "deleted already");
    let left: Vec<NumberId> =
        ok(numbers::list(&mut c, acme.id, Window::default())).0.into_iter().map(|n| n.id).collect();
    assert_eq!(left, [second.id]);
    assert_eq!(ok(numbers::create(&mut c, globex.id, &num(OUTBOUND), now)).tenant_id, globex.id, "free again");
}

fn agent_directory(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex) = (tenant(&mut c, "acme"), tenant(&mut c, "globex"));
    let ada = ok(agents::create(&mut c, &new_agent(acme.id, "Ada@Example.com")));
    assert_eq!((ada.tenant_id, ada.email.as_str(), ada.status), (acme.id, "Ada@Example.com", AgentStatus::Active));
    assert_eq!((ada.email_lower.as_str(), ada.agent_number), ("ada@example.com", Some(7)));
    assert!(ada.is_active() && ada.avatar_url.is_none());
    let twice = agents::create(&mut c, &new_agent(acme.id, "ADA@example.COM"));
    assert!(matches!(twice, Err(StoreError::Conflict)), "e-mails are unique per tenant, in any case");
    let twin = ok(agents::create(&mut c, &new_agent(globex.id, "ada@example.com")));
    let bob = ok(agents::create(&mut c, &new_agent(acme.id, "bob@example.com")));
    let ids = |c: &mut DbConn, tenant_id: TenantId| -> Vec<AgentId> {
        ok(agents::list(c, tenant_id, Window::default())).0.iter().map(|a| a.id).collect()
    };
    assert_eq!((ids(&mut c, acme.id), ids(&mut c, globex.id)), (vec![ada.id, bob.id], vec![twin.id]));
    assert_eq!(some(ok(agents::find(&mut c, acme.id, ada.id)), "ada").email, "Ada@Example.com");
    assert!(ok(agents::find(&mut c, globex.id, ada.id)).is_none(), "another tenant's agent");
    assert_eq!(ok(agents::find_by_email(&mut c, acme.id, " ADA@example.com ")).map(|a| a.id), Some(ada.id));
    assert_eq!(ok(agents::find_by_email(&mut c, globex.id, "ada@EXAMPLE.com")).map(|a| a.id), Some(twin.id));
    assert!(ok(agents::find_by_email(&mut c, acme.id, "eve@example.com")).is_none());

    let off = AgentChanges { status: Some("deactivated"), agent_number: Some(None), ..Default::default() };
    let new = some(ok(agents::update(&mut c, acme.id, ada.id, &off, now_millis())), "ada");
    assert_eq!((new.status, new.agent_number, new.email.as_str()), (AgentStatus::Deactivated, None, "Ada@Example.com"));
    assert!(!new.is_active());
    assert!(ok(agents::update(&mut c, globex.id, ada.id, &off, now_millis())).is_none(), "another tenant's agent");
    assert_eq!(some(ok(agents::find(&mut c, globex.id, twin.id)), "twin").status, AgentStatus::Active);
    let same = some(ok(agents::update(&mut c, acme.id, bob.id, &AgentChanges::default(), now_millis())), "bob");
    assert_eq!((same.email.as_str(), same.status), ("bob@example.com", AgentStatus::Active), "an empty change");
    let to_ada = AgentChanges { email_lower: Some("ada@example.com".into()), ..Default::default() };
    assert!(matches!(agents::update(&mut c, acme.id, bob.id, &to_ada, now_millis()), Err(StoreError::Conflict)));
}

sms_test_support::on_both_backends!(
    attr = test, run = run;
    tenant_lifecycle,
    token_lifecycle,
    number_registry,
    agent_directory,
);
