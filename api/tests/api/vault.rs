//! The personal-data vault against a hostile client (issue 12): registering a person another enterprise took in
//! grants nothing, every access is a signed record in the public log (and no record means no access), the import
//! checks every identifier and the caller's enterprise, body type errors are JSON and never repeat the value, and
//! a `vault.db` of the first schema is migrated without losing data.

use serde_json::{Value, json};
use siteledger_api::auth::Role;
use siteledger_client::MemoryChain;
use siteledger_domain::IdNumber;
use siteledger_ledger::EventStore;
use siteledger_signer::{NoteVerifier, SigningKey, verify_bundle};

use crate::helpers::{TestApp, new_id, obj};
use crate::world;

const P: &str = "NB-2026-0001";

/// A checksum-valid resident ID number born in 1985.
fn id_number(i: usize) -> String {
    let first17 = format!("330212198506{:02}{:03}", 1 + i % 28, 200 + i);
    format!("{first17}{}", IdNumber::check_character(&first17).expect("17 digits"))
}

async fn post(app: &TestApp, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let r = app.client.post(app.url(path)).bearer_auth(token).json(body).send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, String) {
    let r = app.get(path, Some(token)).await;
    (r.status().as_u16(), r.text().await.expect("body"))
}

async fn delete(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let r = app.client.delete(app.url(path)).bearer_auth(token).send().await.expect("request");
    (r.status().as_u16(), r.json().await.expect("json"))
}

/// Every `vault.access.v1` record of the log, as (stream, payload, leaf text).
async fn access_records(app: &TestApp) -> Vec<(String, Value, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let page = app.server.state.ledger.read_all(from, 1000).await.expect("read");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for e in page.into_iter().filter(|e| e.kind == "vault.access.v1") {
            let leaf = String::from_utf8(e.leaf.clone()).expect("utf-8");
            let v: Value = serde_json::from_str(&leaf).expect("json");
            out.push((e.stream.clone(), v["payload"].clone(), leaf));
        }
    }
    out
}

/// Issue 12 item 1: an enterprise that knows only a worker's ID number registers "the same person" and gets the
/// shared reference, but reads back only what it brought, never the first employer's name, phone or card; its
/// erasure removes only its own tie; the first employer keeps everything; the answer does not say someone else
/// had the person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_takeover_by_id_number_reveals_nothing_and_erases_nothing() {
    let mut app = TestApp::spawn().await;
    let w = world::build(&mut app).await;
    let b = app.token(Role::Enterprise, Some(&w.contractor_b)).await;
    let c = app.token(Role::Enterprise, Some(&w.contractor_c)).await;
    let city = app.token(Role::City, None).await;
    let id = id_number(1);
    let (status, first) = post(
        &app,
        &b,
        "/v1/workforce/people",
        &json!({"id_type": "01", "id_number": id,
        "name": "周永福", "phone": "13957400001", "cards": ["6228480000000401234"]}),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let p = first["person_ref"].as_str().expect("ref").to_owned();

    // The attacker: only the ID number.
    let (status, taken) =
        post(&app, &c, "/v1/workforce/people", &json!({"id_type": "01", "id_number": id, "name": "随便写"})).await;
    assert_eq!(status, 200, "{taken}");
    assert_eq!(taken["person_ref"], p.as_str(), "one person, one reference (实名制 cross-project checks)");
    assert_eq!(taken["existing"], false, "the answer does not tell C that someone else registered the person");
    let (status, again) =
        post(&app, &b, "/v1/workforce/people", &json!({"id_type": "01", "id_number": id, "name": "周永福"})).await;
    assert_eq!((status, &again["existing"]), (200, &json!(true)), "existing: this caller already had the person");

    let (status, seen) = get(&app, &c, &format!("/v1/workforce/people/{p}?purpose=wage_payment")).await;
    assert_eq!(status, 200, "{seen}");
    let seen_v: Value = serde_json::from_str(&seen).expect("json");
    assert_eq!((seen_v["id_number"].as_str(), seen_v["name"].as_str()), (Some(id.as_str()), Some("随便写")));
    assert_eq!(seen_v["cards"], json!([]));
    for secret in ["周永福", "13957400001", "6228480000000401234"] {
        assert!(!seen.contains(secret), "C read B's {secret}: {seen}");
    }
    // C cannot register a card onto B's registration either, once unlinked (below); first, C's erasure.
    let (status, erased) = delete(&app, &c, &format!("/v1/workforce/people/{p}")).await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["crypto_shredded"], false, "only C's tie went");
    assert_eq!(get(&app, &c, &format!("/v1/workforce/people/{p}?purpose=wage_payment")).await.0, 404);
    let (status, card) =
        post(&app, &c, &format!("/v1/workforce/people/{p}/cards"), &json!({"card_number": "6228480000000409999"}))
            .await;
    assert_eq!(status, 404, "{card}");
    let (status, mine) = get(&app, &b, &format!("/v1/workforce/people/{p}?purpose=wage_payment")).await;
    assert_eq!(status, 200, "{mine}");
    let mine: Value = serde_json::from_str(&mine).expect("json");
    assert_eq!((mine["name"].as_str(), mine["phone"].as_str()), (Some("周永福"), Some("13957400001")));
    assert_eq!(mine["cards"], json!(["6228480000000401234"]));
    // The city bureau sees every owner's registration (only B's is left).
    let (status, all) = get(&app, &city, &format!("/v1/workforce/people/{p}?purpose=inspection")).await;
    assert_eq!(status, 200, "{all}");
    let all: Value = serde_json::from_str(&all).expect("json");
    let owners: Vec<&str> =
        all["owners"].as_array().expect("owners").iter().filter_map(|o| o["owner"].as_str()).collect();
    assert_eq!(owners, [w.contractor_b.as_str()]);
    // The last tie goes: the person is crypto-shredded.
    let (status, erased) = delete(&app, &b, &format!("/v1/workforce/people/{p}")).await;
    assert_eq!((status, &erased["crypto_shredded"]), (200, &json!(true)), "{erased}");
    assert_eq!(get(&app, &city, &format!("/v1/workforce/people/{p}?purpose=inspection")).await.0, 404);
    app.server.shutdown().await;
}

/// Issue 12 (vault deliverable): every intake, card, reveal and erasure is a `vault.access.v1` record in the public
/// log, signed by the server's own `platform` key (enrolled by the ledger's system key), holding no personal data,
/// provable with an evidence bundle; the access list is read from those records; a purpose is a code; and when the
/// record cannot be written the access fails (no unrecorded reveal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vault_read_and_erase_is_a_signed_record() {
    let mut app = TestApp::spawn().await;
    let w = world::build(&mut app).await;
    let b = app.token(Role::Enterprise, Some(&w.contractor_b)).await;
    let city = app.token(Role::City, None).await;
    let id = id_number(2);
    let (card, phone) = ("6228480000000402345", "13957400002");
    let (_, person) = post(
        &app,
        &b,
        "/v1/workforce/people",
        &json!({"id_type": "01", "id_number": id, "name": "陈春生", "phone": phone}),
    )
    .await;
    let p = person["person_ref"].as_str().expect("ref").to_owned();
    assert_eq!(post(&app, &b, &format!("/v1/workforce/people/{p}/cards"), &json!({"card_number": card})).await.0, 200);
    assert_eq!(get(&app, &b, &format!("/v1/workforce/people/{p}?purpose=wage_complaint")).await.0, 200);
    assert_eq!(get(&app, &city, &format!("/v1/workforce/people/{p}?purpose=inspection")).await.0, 200);
    // A purpose is a code: free text (here an ID number) and no purpose are refused, nothing revealed, not echoed.
    for q in [format!("?purpose={id}"), String::new(), "?purpose=欠薪核查".to_owned()] {
        let (status, body) = get(&app, &b, &format!("/v1/workforce/people/{p}{q}")).await;
        assert_eq!(status, 400, "{q}: {body}");
        assert!(!body.contains(&id) && body.contains("wage_complaint"), "{body}");
    }

    let records = access_records(&app).await;
    let actions: Vec<(&str, &str)> = records
        .iter()
        .map(|(_, pl, _)| (pl["action"].as_str().unwrap_or(""), pl["accessor_role"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        actions,
        [("intake", "enterprise"), ("card", "enterprise"), ("reveal", "enterprise"), ("reveal", "city_bureau")]
    );
    for (stream, payload, leaf) in &records {
        assert_eq!(stream, &format!("vault/access/{p}"));
        assert_eq!(payload["person_ref"], p.as_str());
        for secret in [id.as_str(), "陈春生", phone, card] {
            assert!(!leaf.contains(secret), "a vault access record holds personal data: {leaf}");
        }
    }
    assert_eq!(records[2].1["purpose"], "wage_complaint");
    assert_eq!(records[2].1["fields"], json!(["id", "name", "phone", "cards"]));
    // Signed by a platform key that the ledger's system key enrolled.
    let signer: Value = serde_json::from_str(&records[0].2).expect("json");
    let keys = app.server.state.ledger.store().keys().await.expect("keys");
    let key = keys.iter().find(|k| Some(k.key_id.as_str()) == signer["signer"].as_str()).expect("enrolled signer");
    assert_eq!(key.role, "platform");
    let enrolment = app.server.state.ledger.store().events_by_id(&[key.enrolled_by]).await.expect("read");
    let system_key_id =
        SigningKey::read_file(&app.dir.path().join("keys").join("system.key")).expect("system key").key_id();
    assert_eq!(enrolment[0].signer, system_key_id.to_string(), "enrolled by the ledger's system key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::metadata(app.dir.path().join("keys").join("vault-audit.key")).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The access list is read from the signed records, and each one is provable offline.
    let list: Value =
        serde_json::from_str(&get(&app, &city, &format!("/v1/workforce/vault/access?person_ref={p}")).await.1)
            .expect("json");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 4);
    assert_eq!((list[0]["action"].as_str(), list[3]["action"].as_str()), (Some("reveal"), Some("intake")));
    assert!(list[1]["detail"].as_str().is_some_and(|d| d.contains("wage_complaint")), "{list:?}");
    app.server.state.ledger.checkpoint_now().await.expect("checkpoint");
    let verifier =
        NoteVerifier::parse(app.get("/v1/log/key", None).await.text().await.expect("key").trim()).expect("verifier");
    let event_id = list[0]["event_id"].as_str().expect("signed");
    let bundle = app.get(&format!("/v1/evidence/{event_id}"), None).await.bytes().await.expect("bundle");
    let report = verify_bundle(&bundle, &verifier);
    assert!(report.ok, "{}", report.to_text());

    // The erasure is recorded too.
    assert_eq!(delete(&app, &b, &format!("/v1/workforce/people/{p}")).await.0, 200);
    let records = access_records(&app).await;
    assert_eq!(
        records.last().map(|r| (r.1["action"].clone(), r.1["purpose"].clone())),
        Some((json!("erase"), json!("erasure")))
    );

    // No record, no access: with the audit key revoked (as after its compromise), a reveal cannot be recorded and
    // reveals nothing; an intake stores nothing.
    let (_, other) =
        post(&app, &b, "/v1/workforce/people", &json!({"id_type": "01", "id_number": id_number(3), "name": "李建军"}))
            .await;
    let q = other["person_ref"].as_str().expect("ref").to_owned();
    let system = SigningKey::read_file(&app.dir.path().join("keys").join("system.key")).expect("system key");
    let head = app
        .server
        .state
        .ledger
        .store()
        .signer_head(&system.key_id().to_string())
        .await
        .expect("head")
        .expect("genesis");
    let revoke = MemoryChain::after(head.signer_seq, head.leaf_hash)
        .sign(&system, new_id(), "ledger/keys", "ledger.key.revoked.v1", "2026-01-01T00:00:00+08:00",
            obj(json!({"key_id": key.key_id, "revoked_at": "2026-01-01T00:00:00+08:00", "reason": "test: audit key withdrawn"})))
        .expect("sign");
    app.ingest_ok(&[revoke]).await;
    let before = access_records(&app).await.len();
    let (status, body) = get(&app, &b, &format!("/v1/workforce/people/{q}?purpose=wage_payment")).await;
    assert_eq!(status, 503, "{body}");
    assert!(!body.contains("李建军") && !body.contains(&id_number(3)), "{body}");
    let (status, _) =
        post(&app, &b, "/v1/workforce/people", &json!({"id_type": "01", "id_number": id_number(4), "name": "王海"}))
            .await;
    assert_eq!(status, 503);
    assert_eq!(access_records(&app).await.len(), before, "nothing recorded");
    let list: Value = serde_json::from_str(&get(&app, &city, "/v1/workforce/vault/access").await.1).expect("json");
    assert_eq!(list.as_array().expect("array").len(), 6, "the failed accesses are not listed");
    app.server.shutdown().await;
}

/// Issue 12 item 8: the import checks `corpCode` (GB 32100: check character, charset, length) and every row's
/// identifiers before anything reaches the vault, naming the member and never the ID number, and an enterprise
/// imports only for itself (the city bureau for anyone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_an_invalid_credit_code_and_a_foreign_corp_code() {
    let mut app = TestApp::spawn().await;
    let w = world::build(&mut app).await;
    let b = app.token(Role::Enterprise, Some(&w.contractor_b)).await;
    let city = app.token(Role::City, None).await;
    let path = "/v1/workforce/import/project-workers";
    let worker = |i: usize| json!({"idCardType": "01", "idCardNumber": id_number(i), "workerName": "陈春生", "workType": "240", "workRole": "20"});
    let body = |corp: &str, workers: Vec<Value>| json!({"projectCode": P, "corpCode": corp, "teamSysNo": "T-09", "workerList": workers});
    let mut wrong_check = w.contractor_b.clone();
    let last = wrong_check.pop().expect("char");
    wrong_check.push(if last == '0' { '1' } else { '0' });
    let forbidden = format!("{}I{}", &w.contractor_b[..8], &w.contractor_b[9..]);
    for (corp, check) in [
        (wrong_check.as_str(), "check character mismatch"),
        (forbidden.as_str(), "invalid character 'I'"),
        (&w.contractor_b[..17], "18 characters"),
        (&format!("{}0", w.contractor_b), "18 characters"),
    ] {
        let (status, v) = post(&app, &b, path, &body(corp, vec![worker(5)])).await;
        assert_eq!(status, 400, "{corp}: {v}");
        let msg = v["message"].as_str().expect("message");
        assert!(msg.contains("`corpCode`") && msg.contains(check), "{corp}: {msg}");
    }
    // Another enterprise's workers: refused.
    let (status, v) = post(&app, &b, path, &body(&w.contractor_c, vec![worker(5)])).await;
    assert_eq!(status, 403, "{v}");
    // Row identifiers: named by row and member, the ID number not repeated; nothing is imported.
    let mut bad_id = id_number(6);
    let last = bad_id.pop().expect("char");
    bad_id.push(if last == '0' { '1' } else { '0' });
    let mut bad_row = worker(6);
    bad_row["idCardNumber"] = json!(bad_id);
    let mut bad_trade = worker(7);
    bad_trade["workType"] = json!("ABC");
    let (status, v) = post(&app, &b, path, &body(&w.contractor_b, vec![worker(5), bad_row, bad_trade])).await;
    assert_eq!(status, 400, "{v}");
    let msg = v["message"].as_str().expect("message");
    assert!(msg.contains("`workerList[1].idCardNumber`") && msg.contains("check character mismatch"), "{msg}");
    assert!(msg.contains("`workerList[2].workType`"), "{msg}");
    assert!(!msg.contains(&bad_id) && !msg.contains(&id_number(5)), "{msg}");
    let (_, fresh) =
        post(&app, &b, "/v1/workforce/people", &json!({"id_type": "01", "id_number": id_number(5), "name": "陈春生"}))
            .await;
    assert_eq!(fresh["existing"], false, "the valid row of the refused import was not taken in");
    // The city bureau does not import: the records are the employer's to sign, and intake ties people to the caller.
    let (status, v) = post(&app, &city, path, &body(&w.contractor_b, vec![worker(8)])).await;
    assert_eq!(status, 403, "{v}");
    let (_, fresh) =
        post(&app, &b, "/v1/workforce/people", &json!({"id_type": "01", "id_number": id_number(8), "name": "工人"}))
            .await;
    assert_eq!(fresh["existing"], false, "the city's refused import took nobody in");
    app.server.shutdown().await;
}

/// Issue 12 item 11: a JSON body of the wrong type is answered `{code, message}` (not axum's plain text), naming
/// the member and the expected type, never the value (here a 17-digit ID prefix sent as a number).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_type_error_is_json_and_does_not_echo_the_value() {
    let mut app = TestApp::spawn().await;
    let w = world::build(&mut app).await;
    let b = app.token(Role::Enterprise, Some(&w.contractor_b)).await;
    let city = app.token(Role::City, None).await;
    let prefix = "33020319800101001";
    let cases: Vec<(&str, &str, String, &str)> = vec![
        (
            b.as_str(),
            "/v1/workforce/people",
            format!(r#"{{"id_type": "01", "id_number": {prefix}, "name": "某人"}}"#),
            "`id_number`",
        ),
        (
            b.as_str(),
            "/v1/workforce/people/P-0123456789abcdef0123456789abcdef/cards",
            format!(r#"{{"card_number": {prefix}23}}"#),
            "`card_number`",
        ),
        (
            b.as_str(),
            "/v1/workforce/import/project-workers",
            format!(
                r#"{{"projectCode": "{P}", "corpCode": "{}", "teamSysNo": "T-1", "workerList": [{{"idCardType": "01", "idCardNumber": {prefix}, "workerName": "x", "workType": "240", "workRole": "20"}}]}}"#,
                w.contractor_b
            ),
            "`workerList[0].idCardNumber`",
        ),
        (city.as_str(), "/v1/evidence/export", format!(r#"{{"event_ids": {prefix}}}"#), "`event_ids`"),
        (city.as_str(), "/v1/evidence/export", format!(r#"{{"x{prefix}": 1}}"#), "unknown field"),
    ];
    for (token, path, body, member) in cases {
        let r = app
            .client
            .post(app.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), 400, "{path}");
        assert!(
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.starts_with("application/json")),
            "{path}"
        );
        let text = r.text().await.expect("body");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}"));
        assert_eq!(v["code"], "bad_request", "{text}");
        let msg = v["message"].as_str().expect("message");
        assert!(msg.contains(member), "{path}: {msg}");
        assert!(!text.contains(prefix), "{path}: the answer repeats the value: {text}");
    }
    // Syntax errors and a missing content type: JSON errors too.
    for (ct, body) in [("application/json", r#"{"id_type": "01", "#), ("text/plain", r#"{"id_type": "01"}"#)] {
        let r = app
            .client
            .post(app.url("/v1/workforce/people"))
            .bearer_auth(&b)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), 400, "{ct}");
        let v: Value = r.json().await.expect("a JSON error");
        assert_eq!(v["code"], "bad_request");
    }
    app.server.shutdown().await;
}

/// Writes a `vault.db` exactly as the first vault schema did (one shared set of fields per person, sealed with
/// `person|field` as associated data), for `owners` (the first one registered the fields); returns the data key.
async fn first_schema_vault(dir: &std::path::Path, person: &str, number: &str, owners: &[&str]) -> [u8; 32] {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{ChaCha20Poly1305, Nonce};
    use hmac::{Hmac, Mac};
    let mac = |key: &[u8], msg: &[u8]| {
        let mut m = <Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(key).expect("hmac key");
        m.update(msg);
        <[u8; 32]>::from(m.finalize().into_bytes())
    };
    let seal = |key: &[u8; 32], aad: &[u8], plain: &[u8], n: u8| {
        let nonce = [n; 12];
        let ct = ChaCha20Poly1305::new_from_slice(key)
            .expect("key")
            .encrypt(&Nonce::from(nonce), Payload { msg: plain, aad })
            .expect("seal");
        (nonce.to_vec(), ct)
    };
    let master = [0x5a; 32];
    let dek = [0x3c; 32];
    std::fs::create_dir_all(dir.join("keys")).expect("keys dir");
    std::fs::write(dir.join("keys").join("vault.key"), master).expect("master key");
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("vault.db"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Delete);
    let db = sqlx::SqlitePool::connect_with(opts).await.expect("open");
    for t in [
        "CREATE TABLE vault_people (person_ref TEXT PRIMARY KEY, wrapped_key BLOB NOT NULL, key_nonce BLOB NOT NULL, blind_index TEXT NOT NULL UNIQUE, owner TEXT NOT NULL, created_at TEXT NOT NULL)",
        "CREATE TABLE vault_fields (person_ref TEXT NOT NULL, field TEXT NOT NULL, nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, PRIMARY KEY (person_ref, field))",
        "CREATE TABLE vault_owners (person_ref TEXT NOT NULL, owner TEXT NOT NULL, PRIMARY KEY (person_ref, owner))",
        "CREATE TABLE vault_erased (person_ref TEXT PRIMARY KEY, erased_at TEXT NOT NULL)",
        "CREATE TABLE vault_access (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, principal TEXT NOT NULL, person_ref TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)",
    ] {
        sqlx::query(t).execute(&db).await.expect("schema");
    }
    let (nonce, wrapped) = seal(&master, format!("siteledger/vault/dek/v1|{person}").as_bytes(), &dek, 1);
    let blind = hex::encode(mac(&mac(&master, b"siteledger/vault/index/v1"), format!("id|01|{number}").as_bytes()));
    sqlx::query("INSERT INTO vault_people VALUES (?, ?, ?, ?, ?, '2026-03-01T00:00:00Z')")
        .bind(person)
        .bind(wrapped)
        .bind(nonce)
        .bind(blind)
        .bind(owners[0])
        .execute(&db)
        .await
        .expect("person");
    let card = "6228480000000407777";
    let card_field =
        format!("card:hmac-sha256:{}", hex::encode(mac(&dek, format!("siteledger/card/v1|{card}").as_bytes())));
    for (i, (field, value)) in [
        ("id_type", "01"),
        ("id_number", number),
        ("name", "周永福"),
        ("phone", "13957400007"),
        (card_field.as_str(), card),
    ]
    .into_iter()
    .enumerate()
    {
        let (nonce, ct) = seal(&dek, format!("{person}|{field}").as_bytes(), value.as_bytes(), 10 + i as u8);
        sqlx::query("INSERT INTO vault_fields VALUES (?, ?, ?, ?)")
            .bind(person)
            .bind(field)
            .bind(nonce)
            .bind(ct)
            .execute(&db)
            .await
            .expect("field");
    }
    for o in owners {
        sqlx::query("INSERT INTO vault_owners VALUES (?, ?)").bind(person).bind(*o).execute(&db).await.expect("owner");
    }
    sqlx::query("INSERT INTO vault_access (at, principal, person_ref, action, detail) VALUES ('2026-03-01T00:00:00Z', 'abc enterprise:x', ?, 'intake', 'id,name')")
        .bind(person)
        .execute(&db)
        .await
        .expect("access");
    db.close().await;
    dek
}

/// A `vault.db` of the first schema (fields shared by every owner) opens under the new one without losing data:
/// the fields become the first owner's, a second owner keeps its tie to the ID and nothing else, the blind index
/// and the data key still work (same reference, same commitment), and the old access rows stay listed, unsigned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_of_the_first_schema_is_migrated_without_losing_data() {
    use hmac::Mac;
    let legacy = tempfile::tempdir().expect("tempdir");
    let b_code = world::credit_code("91330200MA2BBBBB0");
    let c_code = world::credit_code("91330200MA2CCCCC0");
    let person = "P-00112233445566778899aabbccddeeff";
    let number = id_number(9);
    let dek = first_schema_vault(legacy.path(), person, &number, &[&b_code, &c_code]).await;
    let from = legacy.path().to_path_buf();
    let mut app = TestApp::spawn_with(move |c| {
        std::fs::create_dir_all(c.data_dir.join("keys")).expect("keys dir");
        std::fs::copy(from.join("vault.db"), c.data_dir.join("vault.db")).expect("copy db");
        std::fs::copy(from.join("keys").join("vault.key"), c.data_dir.join("keys").join("vault.key"))
            .expect("copy key");
    })
    .await;
    let w = world::build(&mut app).await;
    assert_eq!((w.contractor_b.as_str(), w.contractor_c.as_str()), (b_code.as_str(), c_code.as_str()));
    let b = app.token(Role::Enterprise, Some(&w.contractor_b)).await;
    let c = app.token(Role::Enterprise, Some(&w.contractor_c)).await;
    let city = app.token(Role::City, None).await;
    let read = |token: &String| {
        let app = &app;
        let token = token.clone();
        async move {
            let (status, body) = get(app, &token, &format!("/v1/workforce/people/{person}?purpose=wage_payment")).await;
            assert_eq!(status, 200, "{body}");
            serde_json::from_str::<Value>(&body).expect("json")
        }
    };
    let first = read(&b).await;
    assert_eq!(
        (first["id_number"].as_str(), first["name"].as_str(), first["phone"].as_str()),
        (Some(number.as_str()), Some("周永福"), Some("13957400007"))
    );
    assert_eq!(first["cards"], json!(["6228480000000407777"]));
    let second = read(&c).await;
    assert_eq!((second["id_number"].as_str(), second["name"].as_str()), (Some(number.as_str()), Some("")));
    assert_eq!((second["phone"].clone(), second["cards"].clone()), (Value::Null, json!([])));
    let all = read(&city).await;
    assert_eq!(all["owners"].as_array().map(Vec::len), Some(2));
    // The blind index and the data key survived: same reference, and the commitment under the same key.
    let (status, again) =
        post(&app, &b, "/v1/workforce/people", &json!({"id_type": "01", "id_number": number, "name": "周永福"})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!((again["person_ref"].as_str(), again["existing"].as_bool()), (Some(person), Some(true)));
    let mut m = <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(&dek).expect("key");
    m.update(format!("siteledger/id/v1|01|{number}").as_bytes());
    assert_eq!(again["id_commitment"], format!("hmac-sha256:{}", hex::encode(m.finalize().into_bytes())));
    // The old access row is still listed, unsigned; the new ones are signed.
    let list: Value =
        serde_json::from_str(&get(&app, &city, &format!("/v1/workforce/vault/access?person_ref={person}")).await.1)
            .expect("json");
    let list = list.as_array().expect("array");
    assert_eq!(list.last().map(|r| (r["event_id"].clone(), r["action"].clone())), Some((Value::Null, json!("intake"))));
    assert!(list[..list.len() - 1].iter().all(|r| r["event_id"].is_string()), "{list:?}");
    let vault_db = std::fs::read(app.dir.path().join("vault.db")).expect("db");
    assert!(!String::from_utf8_lossy(&vault_db).contains("CREATE TABLE vault_fields"), "the old table is gone");
    app.server.shutdown().await;
}
