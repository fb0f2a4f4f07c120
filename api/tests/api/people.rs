//! People sign in the browser (issue 15, docs/PEOPLE.md), over HTTP without the browser: the challenge sign-in,
//! the CSRF header of cookie sessions, enrolment requests scoped to their organisation, and the chain head
//! endpoint's scoping. Each test is named after the attack or mistake it pins.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{Value, json};
use siteledger_api::auth::Role;
use siteledger_client::KeyedChain;
use siteledger_signer::{Envelope, SigningKey};
use time::format_description::well_known::Rfc3339;

use crate::helpers::{TestApp, enrollment, new_id};
use crate::world::{self, World};

/// A city with two contractors, B and C, each with its organisation key enrolled.
struct Orgs {
    app: TestApp,
    world: World,
    key_b: KeyedChain,
    key_c: KeyedChain,
}

async fn orgs_with(app: TestApp) -> Orgs {
    let mut app = app;
    let world = world::build(&mut app).await;
    let key_b = KeyedChain::new(SigningKey::from_seed(&[0x71; 32]));
    let key_c = KeyedChain::new(SigningKey::from_seed(&[0x72; 32]));
    let mut envs = Vec::new();
    for (k, code) in [(&key_b, &world.contractor_b), (&key_c, &world.contractor_c)] {
        let pk = *k.key().public();
        envs.push(
            app.city
                .sign(new_id(), "registry/keys", "ledger.key.enrolled.v1", "2026-01-06T09:00:00+08:00", {
                    enrollment(&pk, code, "enterprise")
                })
                .expect("sign"),
        );
    }
    app.ingest_ok(&envs).await;
    // Enrolment requests check the registry's read model: wait until it holds the enterprises.
    app.settle().await;
    Orgs { app, world, key_b, key_c }
}

async fn orgs() -> Orgs {
    orgs_with(TestApp::spawn().await).await
}

/// Shanghai time `minutes` from now (negative: ago), as records carry it.
fn shanghai(minutes: i64) -> String {
    let eight = time::UtcOffset::from_hms(8, 0, 0).expect("offset");
    let t = time::OffsetDateTime::now_utc().to_offset(eight) + time::Duration::minutes(minutes);
    t.format(&time::format_description::well_known::Rfc3339).expect("time")
}

/// The organisation's key signs the enrolment of `person` as `<org>/person/<handle>`.
fn enrol(org: &mut KeyedChain, org_code: &str, handle: &str, person: &SigningKey) -> Envelope {
    let subject = format!("{org_code}/person/{handle}");
    let mut payload = enrollment(person.public(), &subject, "staff");
    payload.insert("valid_from".into(), json!(shanghai(-60)));
    org.sign(new_id(), "registry/keys", "ledger.key.enrolled.v1", &shanghai(0), payload).expect("sign")
}

/// What the page signs to sign in.
fn login_signature(key: &SigningKey, nonce: &str) -> String {
    let mut message = b"siteledger-login-v1\0".to_vec();
    message.extend_from_slice(nonce.as_bytes());
    STANDARD.encode(key.sign(&message))
}

async fn post(app: &TestApp, path: &str, body: &Value) -> (u16, Value, reqwest::header::HeaderMap) {
    let r = app.client.post(app.url(path)).json(body).send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

async fn nonce_for(app: &TestApp, key: &SigningKey) -> String {
    let (status, v, _) = post(app, "/v1/people/challenge", &json!({"key_id": key.public().key_id().to_string()})).await;
    assert_eq!(status, 200, "{v}");
    v["nonce"].as_str().expect("nonce").to_owned()
}

/// Signs in with `key`: the session's secret (from the cookie) and its CSRF token.
async fn sign_in(app: &TestApp, key: &SigningKey) -> (String, String) {
    let nonce = nonce_for(app, key).await;
    let body =
        json!({"key_id": key.public().key_id().to_string(), "nonce": nonce, "signature": login_signature(key, &nonce)});
    let (status, v, headers) = post(app, "/v1/people/session", &body).await;
    assert_eq!(status, 200, "{v}");
    let cookie = headers.get(SET_COOKIE).and_then(|c| c.to_str().ok()).expect("cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let secret = cookie.split(';').next().and_then(|kv| kv.strip_prefix("siteledger_token=")).expect("secret");
    (secret.to_owned(), v["csrf"].as_str().expect("csrf").to_owned())
}

/// B enrols one of its people and returns the person's key.
async fn b_person(o: &mut Orgs, seed: u8, handle: &str) -> SigningKey {
    let person = SigningKey::from_seed(&[seed; 32]);
    let env = enrol(&mut o.key_b, &o.world.contractor_b.clone(), handle, &person);
    o.app.ingest_ok(&[env]).await;
    person
}

// ---------------------------------------------------------------------------------------------------------------
// the challenge sign-in

#[tokio::test]
async fn a_replayed_login_nonce_is_refused() {
    let mut o = orgs().await;
    let person = b_person(&mut o, 0x31, "S-1").await;
    let nonce = nonce_for(&o.app, &person).await;
    let body = json!({"key_id": person.public().key_id().to_string(), "nonce": nonce, "signature": login_signature(&person, &nonce)});
    let (first, v, _) = post(&o.app, "/v1/people/session", &body).await;
    assert_eq!(first, 200, "{v}");
    assert_eq!(v["role"], "enterprise");
    assert_eq!(v["scope"], o.world.contractor_b.as_str(), "the session has the person's organisation's scope");
    let (again, v, headers) = post(&o.app, "/v1/people/session", &body).await;
    assert_eq!(again, 401, "the same signed nonce opened a second session: {v}");
    assert!(headers.get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn a_login_nonce_issued_for_another_key_is_refused() {
    let mut o = orgs().await;
    let alice = b_person(&mut o, 0x32, "S-2").await;
    let bob = b_person(&mut o, 0x33, "S-3").await;
    // Bob signs a nonce issued to Alice: the nonce is bound to Alice's key.
    let nonce = nonce_for(&o.app, &alice).await;
    let body = json!({"key_id": bob.public().key_id().to_string(), "nonce": nonce, "signature": login_signature(&bob, &nonce)});
    let (status, v, _) = post(&o.app, "/v1/people/session", &body).await;
    assert_eq!(status, 401, "{v}");
    // And it is spent: Alice cannot use it afterwards either.
    let body = json!({"key_id": alice.public().key_id().to_string(), "nonce": nonce, "signature": login_signature(&alice, &nonce)});
    assert_eq!(post(&o.app, "/v1/people/session", &body).await.0, 401);
}

#[tokio::test]
async fn a_login_signed_by_an_unenrolled_key_is_refused() {
    let mut o = orgs().await;
    let person = b_person(&mut o, 0x34, "S-4").await;
    let stranger = SigningKey::from_seed(&[0x35; 32]);
    // An unenrolled key gets no challenge at all.
    let (status, v, _) =
        post(&o.app, "/v1/people/challenge", &json!({"key_id": stranger.public().key_id().to_string()})).await;
    assert_eq!(status, 404, "{v}");
    // Nor does it sign in by signing an enrolled person's nonce under that person's key id.
    let nonce = nonce_for(&o.app, &person).await;
    let body = json!({"key_id": person.public().key_id().to_string(), "nonce": nonce, "signature": login_signature(&stranger, &nonce)});
    let (status, v, headers) = post(&o.app, "/v1/people/session", &body).await;
    assert_eq!(status, 401, "{v}");
    assert!(headers.get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn a_login_signed_by_a_revoked_key_is_refused() {
    let mut o = orgs().await;
    let person = b_person(&mut o, 0x36, "S-6").await;
    let revocation = o
        .key_b
        .sign(
            new_id(),
            "registry/keys",
            "ledger.key.revoked.v1",
            &shanghai(0),
            crate::helpers::obj(json!({"key_id": person.public().key_id().to_string(), "revoked_at": shanghai(-1), "reason": "设备遗失 lost phone"})),
        )
        .expect("sign");
    o.app.ingest_ok(&[revocation]).await;
    let nonce = nonce_for(&o.app, &person).await;
    let body = json!({"key_id": person.public().key_id().to_string(), "nonce": nonce, "signature": login_signature(&person, &nonce)});
    let (status, v, headers) = post(&o.app, "/v1/people/session", &body).await;
    assert_eq!(status, 403, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("revoked")), "{v}");
    assert!(headers.get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn a_malformed_login_body_is_a_clear_400_naming_the_member() {
    let mut o = orgs().await;
    let person = b_person(&mut o, 0x37, "S-7").await;
    let key_id = person.public().key_id().to_string();
    for (path, body, member) in [
        ("/v1/people/session", json!({"key_id": 7, "nonce": "n", "signature": "s"}), "key_id"),
        ("/v1/people/session", json!({"key_id": key_id, "nonce": "n"}), "signature"),
        ("/v1/people/session", json!({"key_id": key_id, "nonce": ["n"], "signature": "s"}), "nonce"),
        ("/v1/people/session", json!({"key_id": key_id, "nonce": "n", "signature": "s", "admin": true}), "admin"),
        ("/v1/people/challenge", json!({}), "key_id"),
        ("/v1/people/enrolments", json!({"public_key": "AAAA", "role": "staff"}), "organisation"),
    ] {
        let (status, v, _) = post(&o.app, path, &body).await;
        assert_eq!(status, 400, "{path} {body}: {v}");
        assert_eq!(v["code"], "bad_request", "{v}");
        assert!(
            v["message"].as_str().is_some_and(|m| m.contains(member)),
            "{path} {body}: the answer does not name {member}: {v}"
        );
    }
    // Not JSON, and a signature that is not base64 or too short: answered, never a panic.
    let r = o.app.client.post(o.app.url("/v1/people/session")).body("key_id=1").send().await.expect("request");
    assert_eq!(r.status(), 400);
    let nonce = nonce_for(&o.app, &person).await;
    for signature in ["%%%", "AAAA", ""] {
        let (status, v, _) =
            post(&o.app, "/v1/people/session", &json!({"key_id": key_id, "nonce": nonce, "signature": signature}))
                .await;
        assert_eq!(status, 401, "{v}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// CSRF

#[tokio::test]
async fn a_cookie_session_without_the_csrf_header_cannot_write() {
    let mut o = orgs().await;
    let person = b_person(&mut o, 0x38, "S-8").await;
    let (secret, csrf) = sign_in(&o.app, &person).await;
    let events = o.app.url("/v1/events");
    let cookie = format!("siteledger_token={secret}");
    let send = |csrf: Option<&str>| {
        let mut r = o.app.client.post(&events).header(COOKIE, &cookie).json(&json!([]));
        if let Some(c) = csrf {
            r = r.header("X-SiteLedger-CSRF", c);
        }
        r.send()
    };
    let r = send(None).await.expect("request");
    assert_eq!(r.status(), 403, "a forged cross-site form post (cookie only) was let through");
    assert!(r.text().await.unwrap_or_default().contains("CSRF"));
    assert_eq!(send(Some("not-the-token")).await.expect("request").status(), 403);
    // Another session's token does not do either.
    let (_, other_csrf) = sign_in(&o.app, &person).await;
    assert_eq!(send(Some(&other_csrf)).await.expect("request").status(), 403);
    assert_eq!(send(Some(&csrf)).await.expect("request").status(), 200);
    // Reading needs no header.
    let r = o.app.client.get(o.app.url("/v1/whoami")).header(COOKIE, &cookie).send().await.expect("request");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_bearer_token_needs_no_csrf_header() {
    let o = orgs().await;
    let token = o.app.token(Role::Enterprise, Some(&o.world.contractor_b)).await;
    let r = o.app.post_events(&token, &json!([])).await;
    assert_eq!(r.status(), 200, "a machine token was asked for a browser's CSRF header");
}

// ---------------------------------------------------------------------------------------------------------------
// enrolment requests

fn request(key: &SigningKey, org: &str, handle: &str) -> Value {
    json!({"public_key": key.public().to_base64(), "role": "staff", "organisation": org, "handle": handle, "name": "李工"})
}

fn pending_keys(v: &Value) -> Vec<String> {
    v["pending"].as_array().expect("pending").iter().map(|r| r["key_id"].as_str().expect("key").to_owned()).collect()
}

#[tokio::test]
async fn another_organisations_admin_cannot_list_its_enrolment_requests() {
    let o = orgs().await;
    let person = SigningKey::from_seed(&[0x41; 32]);
    let key_id = person.public().key_id().to_string();
    let (status, v, _) = post(&o.app, "/v1/people/enrolments", &request(&person, &o.world.contractor_b, "S-41")).await;
    assert_eq!(status, 201, "{v}");
    let list = |token: String| {
        let app = &o.app;
        async move { app.get("/v1/people/enrolments", Some(&token)).await.json::<Value>().await.expect("json") }
    };
    let own = list(o.app.token(Role::Enterprise, Some(&o.world.contractor_b)).await).await;
    assert_eq!(pending_keys(&own), vec![key_id.clone()], "{own}");
    let other = list(o.app.token(Role::Enterprise, Some(&o.world.contractor_c)).await).await;
    assert!(pending_keys(&other).is_empty(), "C's administrator sees B's request: {other}");
    assert!(!other.to_string().contains("李工"), "C's administrator sees the name B's person gave: {other}");
    let district = list(o.app.token(Role::District, Some(world::YINZHOU)).await).await;
    assert!(pending_keys(&district).is_empty(), "a district bureau sees an enterprise's request: {district}");
    // Auditors and gateways administer nobody.
    let auditor = o.app.token(Role::Auditor, None).await;
    assert_eq!(o.app.get("/v1/people/enrolments", Some(&auditor)).await.status(), 403);
}

#[tokio::test]
async fn another_organisations_admin_cannot_approve_its_people() {
    let mut o = orgs().await;
    let person = SigningKey::from_seed(&[0x42; 32]);
    let (status, v, _) = post(&o.app, "/v1/people/enrolments", &request(&person, &o.world.contractor_b, "S-42")).await;
    assert_eq!(status, 201, "{v}");
    // C's key signs the enrolment of B's person.
    let forged = enrol(&mut o.key_c, &o.world.contractor_b.clone(), "S-42", &person);
    let token = o.app.token(Role::Enterprise, Some(&o.world.contractor_c)).await;
    let r: Value = o.app.post_events(&token, &json!([forged.to_value()])).await.json().await.expect("json");
    assert_eq!(r["results"][0]["status"], "rejected", "{r}");
    let status: Value =
        o.app.get(&format!("/v1/people/keys/{}", person.public().key_id()), None).await.json().await.expect("json");
    assert!(status["enrolled"].is_null(), "C enrolled B's person: {status}");
    assert_eq!(
        post(&o.app, "/v1/people/challenge", &json!({"key_id": person.public().key_id().to_string()})).await.0,
        404
    );
}

#[tokio::test]
async fn an_id_number_as_enrolment_handle_is_refused_without_echoing_it() {
    let o = orgs().await;
    let id = world::id_number(5);
    let person = SigningKey::from_seed(&[0x43; 32]);
    for handle in [id.clone(), format!("S-{id}")] {
        let r = o
            .app
            .client
            .post(o.app.url("/v1/people/enrolments"))
            .json(&request(&person, &o.world.contractor_b, &handle))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 400);
        let text = r.text().await.expect("text");
        assert!(text.contains("handle"), "{text}");
        assert!(!text.contains(&id) && !text.contains(&id[..17]), "the ID number was echoed: {text}");
    }
    let token = o.app.token(Role::City, None).await;
    let all: Value = o.app.get("/v1/people/enrolments", Some(&token)).await.json().await.expect("json");
    assert!(pending_keys(&all).is_empty(), "a request with an ID number was stored: {all}");
}

// ---------------------------------------------------------------------------------------------------------------
// the chain head endpoint

#[tokio::test]
async fn a_gateways_chain_head_is_hidden_outside_its_project() {
    let o = orgs().await;
    let path = format!("/v1/people/keys/{}", o.world.gw1.key().key_id());
    assert_eq!(o.app.get(&path, None).await.status(), 401, "anonymous callers learn a gateway's project");
    let outsider = o.app.token(Role::Enterprise, Some(&o.world.contractor_c)).await;
    let r = o.app.get(&path, Some(&outsider)).await;
    assert_eq!(r.status(), 404, "an enterprise outside NB-2026-0001 learns its gateway");
    assert!(!r.text().await.unwrap_or_default().contains("NB-2026-0001"));
    let builder = o.app.token(Role::Enterprise, Some(&o.world.contractor_b)).await;
    let v: Value = o.app.get(&path, Some(&builder)).await.json().await.expect("json");
    assert_eq!(v["enrolled"]["subject"], "project/NB-2026-0001/gateway/GW-1", "{v}");
    assert_eq!(v["next_seq"], 1);
    let r = o.app.get("/v1/people/keys/not-a-key", None).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_persons_chain_head_follows_what_they_signed() {
    let mut o = orgs().await;
    let b_code = o.world.contractor_b.clone();
    let path = format!("/v1/people/keys/{}", o.key_b.key().key_id());
    let before: Value = o.app.get(&path, None).await.json().await.expect("json");
    assert_eq!(before["next_seq"], 1, "{before}");
    assert!(before["prev"].is_null());
    let person = SigningKey::from_seed(&[0x44; 32]);
    let env = enrol(&mut o.key_b, &b_code, "S-44", &person);
    o.app.ingest_ok(&[env]).await;
    let after: Value = o.app.get(&path, None).await.json().await.expect("json");
    assert_eq!(after["next_seq"], 2, "{after}");
    assert_eq!(after["prev"].as_str().map(str::len), Some(64));
    let person_status: Value =
        o.app.get(&format!("/v1/people/keys/{}", person.public().key_id()), None).await.json().await.expect("json");
    assert_eq!(person_status["enrolled"]["subject"], format!("{b_code}/person/S-44"));
    assert_eq!(person_status["enrolled"]["role"], "staff");
}

// ---------------------------------------------------------------------------------------------------------------
// sessions: bound to their key, revoked at logout, challenges in the token database

/// Posts records with a cookie session (and its CSRF header); the per-item results.
async fn post_in_session(app: &TestApp, secret: &str, csrf: &str, envs: &[Envelope]) -> Vec<Value> {
    let body = Value::Array(envs.iter().map(Envelope::to_value).collect());
    let r = app
        .client
        .post(app.url("/v1/events"))
        .header(COOKIE, format!("siteledger_token={secret}"))
        .header("X-SiteLedger-CSRF", csrf)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.expect("json")["results"].as_array().expect("results").clone()
}

#[tokio::test]
async fn a_record_signed_by_another_key_in_a_persons_session_is_refused() {
    let mut o = orgs().await;
    let b_code = o.world.contractor_b.clone();
    let person = b_person(&mut o, 0x51, "S-51").await;
    // B's administrator signs in with B's key; a stolen person key's record posted in that session is refused.
    let (secret, csrf) = sign_in(&o.app, o.key_b.key()).await;
    let mut person_chain = KeyedChain::new(person);
    let other = SigningKey::from_seed(&[0x52; 32]);
    let by_person = enrol(&mut person_chain, &b_code, "S-52", &other);
    let results = post_in_session(&o.app, &secret, &csrf, &[by_person]).await;
    assert_eq!(results[0]["status"], "rejected", "{results:?}");
    assert_eq!(results[0]["code"], "forbidden_signer");
    let message = results[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&o.key_b.key().key_id().to_string()) && message.contains("session"), "{message}");
    // The session's own key signs, and is admitted.
    let by_admin = enrol(&mut o.key_b, &b_code, "S-52", &other);
    let results = post_in_session(&o.app, &secret, &csrf, &[by_admin]).await;
    assert_eq!(results[0]["status"], "accepted", "{results:?}");
    // A machine token of the same enterprise is not bound to a key.
    let token = o.app.token(Role::Enterprise, Some(&b_code)).await;
    let third = SigningKey::from_seed(&[0x53; 32]);
    let r: Value = o
        .app
        .post_events(&token, &json!([enrol(&mut o.key_b, &b_code, "S-53", &third).to_value()]))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(r["results"][0]["status"], "accepted", "{r}");
}

#[tokio::test]
async fn a_copied_session_cookie_is_dead_after_logout() {
    let mut o = orgs().await;
    let person = b_person(&mut o, 0x54, "S-54").await;
    let (secret, _) = sign_in(&o.app, &person).await;
    assert_eq!(o.app.get("/v1/whoami", Some(&secret)).await.status(), 200);
    let r = o
        .app
        .client
        .post(o.app.url("/logout"))
        .header(COOKIE, format!("siteledger_token={secret}"))
        .send()
        .await
        .expect("logout");
    assert!(r.status().is_success() || r.status().is_redirection(), "{}", r.status());
    // Whoever copied the cookie before the logout cannot use it afterwards, as cookie or bearer.
    assert_eq!(o.app.get("/v1/whoami", Some(&secret)).await.status(), 401);
    let r = o.app.client.get(o.app.url("/v1/whoami")).header(COOKIE, format!("siteledger_token={secret}")).send().await;
    assert_eq!(r.expect("request").status(), 401);
    let listed = o.app.server.state.tokens.list().await.expect("tokens");
    assert!(listed.iter().any(|t| t.revoked_at.is_some()), "the session's token row is revoked, not deleted");
    // A machine token pasted into the login page is not revoked by logging out of the page.
    let token = o.app.token(Role::Enterprise, Some(&o.world.contractor_b)).await;
    let r = o.app.client.post(o.app.url("/logout")).header(COOKIE, format!("siteledger_token={token}")).send().await;
    // The test client follows the redirect to the login page.
    assert!(r.expect("logout").url().path().starts_with("/login"));
    assert_eq!(o.app.get("/v1/whoami", Some(&token)).await.status(), 200);
}

/// B's administrator revokes `person`'s key (revoked a minute ago), signed with B's key.
fn revoke(o: &mut Orgs, person: &SigningKey) -> Envelope {
    let payload = json!({"key_id": person.public().key_id().to_string(), "revoked_at": shanghai(-1), "reason": "设备遗失 lost phone"});
    o.key_b
        .sign(new_id(), "registry/keys", "ledger.key.revoked.v1", &shanghai(0), crate::helpers::obj(payload))
        .expect("sign")
}

#[tokio::test]
async fn a_revoked_persons_open_session_can_no_longer_read() {
    let mut o = orgs().await;
    let person = b_person(&mut o, 0x58, "S-58").await;
    let (secret, csrf) = sign_in(&o.app, &person).await;
    let (other_secret, _) = sign_in(&o.app, &person).await;
    assert_eq!(o.app.get("/v1/whoami", Some(&secret)).await.status(), 200);
    // The phone is lost: B's administrator revokes the key (posted with a machine token, not the session).
    let env = revoke(&mut o, &person);
    o.app.ingest_ok(&[env]).await;
    // Whoever holds the phone (and its cookie) can neither read nor write any more, as cookie or bearer.
    let r = o.app.get("/v1/whoami", Some(&secret)).await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.expect("json");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("登录此会话的密钥") && message.contains("revoked"), "{v}");
    let r = o
        .app
        .client
        .get(o.app.url("/v1/projects"))
        .header(COOKIE, format!("siteledger_token={other_secret}"))
        .send()
        .await;
    assert_eq!(r.expect("request").status(), 401, "the key's second session still reads");
    let body = Value::Array(vec![]);
    let r = o
        .app
        .client
        .post(o.app.url("/v1/events"))
        .header(COOKIE, format!("siteledger_token={secret}"))
        .header("X-SiteLedger-CSRF", &csrf)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 401);
    // Both sessions' tokens are revoked in the token database (every instance refuses them), not only refused here.
    let listed = o.app.server.state.tokens.list().await.expect("tokens");
    assert_eq!(listed.iter().filter(|t| t.revoked_at.is_some()).count(), 2, "{listed:?}");
    // B's own session (another key) is untouched.
    let (admin, _) = sign_in(&o.app, o.key_b.key()).await;
    assert_eq!(o.app.get("/v1/whoami", Some(&admin)).await.status(), 200);
}

#[tokio::test]
async fn a_session_whose_key_was_revoked_behind_the_apis_back_is_refused_at_its_next_request() {
    let mut o = orgs().await;
    let person = b_person(&mut o, 0x59, "S-59").await;
    let (secret, _) = sign_in(&o.app, &person).await;
    // The revocation reaches the ledger without passing `POST /v1/events` (another producer of the same log).
    let env = revoke(&mut o, &person);
    let outcomes = o.app.server.state.ledger.ingest(vec![env]).await.expect("ingest");
    assert!(matches!(outcomes[0], siteledger_ledger::IngestOutcome::Accepted { .. }), "{outcomes:?}");
    assert_eq!(o.app.get("/v1/whoami", Some(&secret)).await.status(), 401, "the session outlived its key");
    // And its token is revoked, so the answer stays the same.
    let listed = o.app.server.state.tokens.list().await.expect("tokens");
    assert_eq!(listed.iter().filter(|t| t.revoked_at.is_some()).count(), 1, "{listed:?}");
}

#[tokio::test]
async fn a_session_ends_when_its_keys_validity_does_not_a_day_later() {
    let mut o = orgs().await;
    let person = SigningKey::from_seed(&[0x5a; 32]);
    let subject = format!("{}/person/S-5A", o.world.contractor_b);
    let mut payload = enrollment(person.public(), &subject, "staff");
    payload.insert("valid_from".into(), json!(shanghai(-60)));
    // The key is valid for three more seconds (a contract ending today, say).
    let eight = time::UtcOffset::from_hms(8, 0, 0).expect("offset");
    let until = (time::OffsetDateTime::now_utc() + time::Duration::seconds(3)).to_offset(eight);
    let until = until.replace_nanosecond(0).expect("whole seconds");
    payload.insert("valid_until".into(), json!(until.format(&Rfc3339).expect("time")));
    let env = o.key_b.sign(new_id(), "registry/keys", "ledger.key.enrolled.v1", &shanghai(0), payload).expect("sign");
    o.app.ingest_ok(&[env]).await;
    let (secret, _) = sign_in(&o.app, &person).await;
    assert_eq!(o.app.get("/v1/whoami", Some(&secret)).await.status(), 200, "valid until {until}");
    // Wait for the key's validity to end (the instant under test), then the same session is refused.
    let left = until - time::OffsetDateTime::now_utc() + time::Duration::milliseconds(200);
    if left.is_positive() {
        tokio::time::sleep(left.unsigned_abs()).await;
    }
    assert_eq!(o.app.get("/v1/whoami", Some(&secret)).await.status(), 401, "the session outlived its key's validity");
}

#[tokio::test]
async fn an_expired_login_nonce_is_refused() {
    let mut o = orgs().await;
    let person = b_person(&mut o, 0x55, "S-55").await;
    let key_id = person.public().key_id().to_string();
    let issued = time::OffsetDateTime::now_utc() - time::Duration::minutes(6);
    let nonce = o.app.server.state.people.challenges.issue(&key_id, issued).await.expect("issue");
    let body = json!({"key_id": key_id, "nonce": nonce, "signature": login_signature(&person, &nonce)});
    let (status, v, headers) = post(&o.app, "/v1/people/session", &body).await;
    assert_eq!(status, 401, "a six-minute-old nonce opened a session: {v}");
    assert!(headers.get(SET_COOKIE).is_none());
    // One issued four minutes ago still works.
    let issued = time::OffsetDateTime::now_utc() - time::Duration::minutes(4);
    let nonce = o.app.server.state.people.challenges.issue(&key_id, issued).await.expect("issue");
    let body = json!({"key_id": key_id, "nonce": nonce, "signature": login_signature(&person, &nonce)});
    assert_eq!(post(&o.app, "/v1/people/session", &body).await.0, 200);
}

#[tokio::test]
async fn unanswered_login_challenges_do_not_pile_up() {
    let o = orgs().await;
    let challenges = &o.app.server.state.people.challenges;
    let key_id = o.key_b.key().key_id().to_string();
    let long_ago = time::OffsetDateTime::now_utc() - time::Duration::minutes(30);
    for _ in 0..20 {
        challenges.issue(&key_id, long_ago).await.expect("issue");
    }
    assert_eq!(challenges.open_count().await.expect("count"), 20);
    // The next one prunes every expired challenge.
    nonce_for(&o.app, o.key_b.key()).await;
    assert_eq!(challenges.open_count().await.expect("count"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_challenge_from_one_instance_is_answered_at_another_on_postgres() {
    let pg = siteledger_testkit::shared_postgres();
    let url = pg.create_unique_database("people").expect("database");
    // Two instances behind one address share the token database (each with its own log here; both hold the
    // same enrolments).
    let mut a = orgs_with(TestApp::spawn_with(|c| c.auth_url = Some(url.clone())).await).await;
    let mut b = orgs_with(TestApp::spawn_with(|c| c.auth_url = Some(url.clone())).await).await;
    let person = b_person(&mut a, 0x56, "S-56").await;
    b_person(&mut b, 0x56, "S-56").await;
    let key_id = person.public().key_id().to_string();
    let nonce = nonce_for(&a.app, &person).await;
    let body = json!({"key_id": key_id, "nonce": nonce, "signature": login_signature(&person, &nonce)});
    let (status, v, headers) = post(&b.app, "/v1/people/session", &body).await;
    assert_eq!(status, 200, "instance B does not know instance A's challenge: {v}");
    // Single use across instances.
    assert_eq!(post(&a.app, "/v1/people/session", &body).await.0, 401, "the nonce was accepted twice");
    // The session works at A, is bound to the key at A, and a logout at B ends it at A.
    let cookie = headers.get(SET_COOKIE).and_then(|c| c.to_str().ok()).expect("cookie");
    let secret = cookie.split(';').next().and_then(|kv| kv.strip_prefix("siteledger_token=")).expect("secret");
    let csrf = v["csrf"].as_str().expect("csrf");
    let other = SigningKey::from_seed(&[0x57; 32]);
    let b_code = a.world.contractor_b.clone();
    let results = post_in_session(&a.app, secret, csrf, &[enrol(&mut a.key_b, &b_code, "S-57", &other)]).await;
    assert_eq!(results[0]["code"], "forbidden_signer", "{results:?}");
    assert_eq!(a.app.get("/v1/whoami", Some(secret)).await.status(), 200);
    let r = b.app.client.post(b.app.url("/logout")).header(COOKIE, format!("siteledger_token={secret}")).send().await;
    // The test client follows the redirect to the login page.
    assert!(r.expect("logout").url().path().starts_with("/login"));
    assert_eq!(a.app.get("/v1/whoami", Some(secret)).await.status(), 401, "logged out at B, still in at A");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_at_one_instance_keeps_its_session_open_at_another_on_postgres() {
    let pg = siteledger_testkit::shared_postgres();
    let url = pg.create_unique_database("people_revoked").expect("database");
    // Two instances share the token database; each has its own log here, so B's ledger never sees A's revocation.
    let mut a = orgs_with(TestApp::spawn_with(|c| c.auth_url = Some(url.clone())).await).await;
    let mut b = orgs_with(TestApp::spawn_with(|c| c.auth_url = Some(url.clone())).await).await;
    let person = b_person(&mut a, 0x5a, "S-5A").await;
    b_person(&mut b, 0x5a, "S-5A").await;
    let (secret, _) = sign_in(&b.app, &person).await;
    assert_eq!(b.app.get("/v1/whoami", Some(&secret)).await.status(), 200);
    let env = revoke(&mut a, &person);
    a.app.ingest_ok(&[env]).await;
    let r = b.app.get("/v1/whoami", Some(&secret)).await;
    assert_eq!(r.status(), 401, "revoked at A, the session still reads at B");
    let v: Value = r.json().await.expect("json");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("revoked")), "{v}");
}
