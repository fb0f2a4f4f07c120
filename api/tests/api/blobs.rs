//! Attachments (附件, docs/ATTACHMENTS.md): upload, content addressing and idempotence, scoping by the records
//! that cite a file, the evidence package with its files verified by the real `siteledger-verify` binary, personal
//! attachments sealed in the vault and shredded with the person, and both stores on real SQLite files and the
//! real PostgreSQL of the test suite.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use siteledger_api::auth::Role;
use siteledger_api::blobs::{AnyBlobStore, BlobStore, FsBlobStore, NewBlob, PgBlobStore, sha256_hex};
use siteledger_api::evidence::{self, Selection};

use crate::helpers::TestApp;
use crate::world::{self, HAISHU, P1, REPORT_PDF, YINZHOU, upload};

async fn caught_up(app: &TestApp) {
    let head = app.server.state.ledger.head();
    let mut w = app.server.state.read.watch_applied();
    let ok = tokio::time::timeout(crate::helpers::PATIENCE, w.wait_for(|a| *a >= head)).await.map(|r| r.is_ok());
    assert_eq!(ok, Ok(true), "the read models did not catch up");
}

async fn fetch(app: &TestApp, token: Option<&str>, path: &str) -> (u16, Vec<u8>, String) {
    let mut req = app.client.get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, r.bytes().await.expect("body").to_vec(), ct)
}

/// The signer crate's verifier binary, built by cargo if this run has not built it yet (it is another package's
/// binary, so cargo does not hand its path to this test).
fn verifier() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../signer/Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args(["build", "--locked", "--quiet", "--bin", "siteledger-verify", "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "building siteledger-verify: {}", String::from_utf8_lossy(&out.stderr));
    // This test binary lives in target/debug/deps; the verifier in target/debug.
    let exe = std::env::current_exe().expect("test binary");
    let bin = exe.parent().and_then(|d| d.parent()).expect("target dir").join("siteledger-verify");
    assert!(bin.is_file(), "no verifier at {}", bin.display());
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_report_pdf_package_verifies_and_a_flipped_byte_fails_naming_the_file() {
    let mut app = TestApp::spawn().await;
    let city = world::build_city(&mut app).await;
    caught_up(&app).await;
    app.server.state.ledger.checkpoint_now().await.expect("checkpoint");
    assert_eq!(city.report_pdf, sha256_hex(REPORT_PDF));

    // The package of P1's testing records: bundle.json (v1.1) and the PDF the report cites.
    let out = tempfile::tempdir().expect("tmp");
    let sel = Selection::Filter {
        stream: format!("project/{P1}/supervision"),
        kind_prefix: Some("testing.".into()),
        from: None,
        to: None,
        payload_equals: vec![],
    };
    let vkey = app.server.state.ledger.log_verifier().vkey();
    let store = app.server.state.ledger.store();
    let package =
        evidence::write_package(store, &app.server.state.blobs, &vkey, &sel, out.path()).await.expect("package");
    assert_eq!(package.included, std::slice::from_ref(&city.report_pdf));
    assert!(package.missing.is_empty());
    let report =
        package.bundle.records.iter().find(|r| r.envelope["kind"] == "testing.report.issued.v1").expect("report");
    assert_eq!(report.attachments.as_deref(), Some(&[city.report_pdf.clone()][..]));
    let pdf = out.path().join("attachments").join(&city.report_pdf);
    assert_eq!(std::fs::read(&pdf).expect("pdf"), REPORT_PDF);

    let verify = |json: bool| {
        let mut cmd = Command::new(verifier());
        cmd.arg(out.path().join("bundle.json"))
            .args(["--log-key", &vkey, "--attachments"])
            .arg(out.path().join("attachments"));
        if json {
            cmd.arg("--json");
        }
        cmd.output().expect("siteledger-verify runs")
    };
    let ok = verify(false);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stdout));

    // One flipped byte of the PDF: the verifier fails and names the file and the record citing it.
    let mut bytes = REPORT_PDF.to_vec();
    bytes[12] ^= 0x01;
    std::fs::write(&pdf, &bytes).expect("write");
    let bad = verify(true);
    assert_eq!(bad.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&bad.stdout).expect("json report");
    let failed: Vec<&Value> = v["checks"].as_array().expect("checks").iter().filter(|c| c["ok"] == false).collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["check"], "attachment");
    let detail = failed[0]["detail"].as_str().expect("detail");
    let event_id = report.envelope["id"].as_str().expect("id");
    assert!(detail.contains(&format!("file {}", city.report_pdf)) && detail.contains(event_id), "{detail}");
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_served_only_to_callers_who_may_read_a_citing_record() {
    let mut app = TestApp::spawn().await;
    let city = world::build_city(&mut app).await;
    caught_up(&app).await;
    let path = format!("/v1/blobs/{}", city.report_pdf);
    let own_district = app.token(Role::District, Some(YINZHOU)).await;
    let other_district = app.token(Role::District, Some(HAISHU)).await;
    let own = app.token(Role::Enterprise, Some(&city.c1)).await;
    let other = app.token(Role::Enterprise, Some(&city.c2)).await;
    let (status, body, ct) = fetch(&app, Some(&own_district), &path).await;
    assert_eq!((status, body.as_slice(), ct.as_str()), (200, REPORT_PDF, "application/pdf"));
    assert_eq!(fetch(&app, Some(&own), &path).await.0, 200);
    // Another district's bureau and an enterprise outside P1: 404, exactly as for a digest never stored.
    let unknown = format!("/v1/blobs/{}", "0".repeat(64));
    for token in [&other_district, &other] {
        let (status, body, _) = fetch(&app, Some(token), &path).await;
        let (unknown_status, unknown_body, _) = fetch(&app, Some(token), &unknown).await;
        assert_eq!((status, unknown_status), (404, 404));
        let msg = |b: &[u8]| serde_json::from_slice::<Value>(b).expect("json")["code"].clone();
        assert_eq!(msg(&body), msg(&unknown_body));
    }
    // An uploader always fetches its own upload, cited or not; nobody else fetches an uncited file.
    let (status, stored) = upload(&app, &other, "", b"photo nobody cites yet").await;
    assert_eq!(status, 201, "{stored}");
    let mine = format!("/v1/blobs/{}", stored["sha256"].as_str().expect("sha"));
    assert_eq!(fetch(&app, Some(&other), &mine).await.0, 200);
    assert_eq!(fetch(&app, Some(&own), &mine).await.0, 404);
    assert_eq!(fetch(&app, None, &mine).await.0, 401);
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_is_content_addressed_idempotent_and_bounded() {
    // Attachments have their own limit, not the record batches' (here smaller than the PDF).
    let app = TestApp::spawn_with(|c| {
        c.max_blob_bytes = 1024;
        c.max_body_bytes = 64;
    })
    .await;
    assert!(REPORT_PDF.len() > 64);
    let token = app.token(Role::City, None).await;
    let (status, first) = upload(&app, &token, "", REPORT_PDF).await;
    assert_eq!(status, 201);
    assert_eq!(first["sha256"], sha256_hex(REPORT_PDF));
    assert_eq!(first["bytes"], REPORT_PDF.len());
    // The declared type is recorded, the sniffed one served: a PDF sent as an image is a PDF.
    assert_eq!(first["media_type"], "application/pdf");
    let (status, again) = upload(&app, &token, "", REPORT_PDF).await;
    assert_eq!((status, &again), (200, &first));
    // The file sits under its digest, written whole.
    let sha = first["sha256"].as_str().expect("sha");
    let file = app.dir.path().join("blobs").join(&sha[0..2]).join(&sha[2..4]).join(sha);
    assert_eq!(std::fs::read(file).expect("stored file"), REPORT_PDF);

    let (status, err) = upload(&app, &token, "", &[0u8; 2048]).await;
    assert_eq!(status, 413, "{err}");
    let (status, err) = upload(&app, &token, "", b"").await;
    assert_eq!(status, 400, "{err}");
    let auditor = app.token(Role::Auditor, None).await;
    assert_eq!(upload(&app, &auditor, "", b"x").await.0, 403);
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_digest_in_the_path_is_a_400_naming_the_rule() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::City, None).await;
    for bad in ["abc", &"A".repeat(64), &"g".repeat(64), &"0".repeat(65), "..%2F..%2Fkeys%2Fvault.key"] {
        let (status, body, _) = fetch(&app, Some(&token), &format!("/v1/blobs/{bad}")).await;
        let v: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(status, 400, "{bad}: {v}");
        assert!(v["message"].as_str().expect("message").contains("64 lowercase hex"), "{v}");
    }
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_attachment_is_unreadable_after_erasure_and_the_citing_record_still_verifies() {
    let mut app = TestApp::spawn().await;
    let city = world::build_city(&mut app).await;
    caught_up(&app).await;
    let c1 = app.token(Role::Enterprise, Some(&city.c1)).await;
    let c2 = app.token(Role::Enterprise, Some(&city.c2)).await;
    let cityt = app.token(Role::City, None).await;
    let person = city.p1_person.clone();
    let contract = "劳动合同 / labour contract of the subject worker".as_bytes();

    // Only an owner (or the city bureau) may seal for the person; another enterprise: 404.
    assert_eq!(upload(&app, &c2, &format!("?person_ref={person}"), contract).await.0, 404);
    let (status, stored) = upload(&app, &c1, &format!("?person_ref={person}"), contract).await;
    assert_eq!(status, 201, "{stored}");
    let sha = stored["sha256"].as_str().expect("sha").to_owned();
    assert_eq!(sha, sha256_hex(contract));
    // Sealed in the vault, not in the plain store: the plain path does not serve it, the file tree has no copy.
    assert_eq!(fetch(&app, Some(&cityt), &format!("/v1/blobs/{sha}")).await.0, 404);
    assert!(!app.dir.path().join("blobs").join(&sha[0..2]).join(&sha[2..4]).join(&sha).exists());

    let personal = |purpose: &str| format!("/v1/blobs/{sha}?person_ref={person}&purpose={purpose}");
    assert_eq!(fetch(&app, Some(&c1), &personal("")).await.0, 400);
    let (status, body, _) = fetch(&app, Some(&c1), &personal("labour_dispute")).await;
    assert_eq!((status, body.as_slice()), (200, contract));
    assert_eq!(fetch(&app, Some(&cityt), &personal("labour_dispute")).await.0, 200);
    assert_eq!(fetch(&app, Some(&c2), &personal("labour_dispute")).await.0, 404);
    // Every seal and read is a signed access record naming the field `attachments`, never the contents.
    let log = app.get(&format!("/v1/workforce/vault/access?person_ref={person}"), Some(&cityt)).await;
    let text = log.text().await.expect("text");
    assert!(text.contains("attachments") && !text.contains("劳动合同"), "{text}");

    // The registration record of the person still verifies after the city bureau crypto-shreds the person.
    let r = app.client.delete(app.url(&format!("/v1/workforce/people/{person}"))).bearer_auth(&cityt).send().await;
    assert_eq!(r.expect("erase").status(), 200);
    assert_eq!(fetch(&app, Some(&cityt), &personal("labour_dispute")).await.0, 404);
    assert_eq!(fetch(&app, Some(&c1), &personal("labour_dispute")).await.0, 404);
    let vault_db = std::fs::read(app.dir.path().join("vault.db")).expect("vault.db");
    assert!(!vault_db.windows(sha.len()).any(|w| w == sha.as_bytes()), "the sealed row is gone from the file");
    app.server.state.ledger.checkpoint_now().await.expect("checkpoint");
    let sel = Selection::Filter {
        stream: format!("vault/access/{person}"),
        kind_prefix: None,
        from: None,
        to: None,
        payload_equals: vec![],
    };
    let vkey = app.server.state.ledger.log_verifier().vkey();
    let bundle = evidence::export(app.server.state.ledger.store(), &vkey, &sel).await.expect("bundle");
    let report = siteledger_signer::verify_bundle(&bundle.to_bytes(), app.server.state.ledger.log_verifier());
    assert!(report.ok, "{}", report.to_text());
    app.server.shutdown().await;
}

/// The contract, run against both implementations: the filesystem store on a real directory and SQLite file, and
/// the PostgreSQL store on the suite's real PostgreSQL.
async fn store_contract(store: &AnyBlobStore) {
    let bytes = b"%PDF-1.7 store contract".as_slice();
    let blob = NewBlob::new(bytes, Some("application/pdf".into()), "tok-a");
    let sha = blob.sha256.clone();
    assert_eq!(store.meta(&sha).await.expect("meta"), None);
    assert_eq!(store.read(&sha).await.expect("read"), None);
    let (meta, fresh) = store.put(&blob).await.expect("put");
    assert!(fresh);
    assert_eq!((meta.bytes, meta.media_type.as_str()), (bytes.len() as u64, "application/pdf"));
    let (again, fresh) = store.put(&NewBlob::new(bytes, None, "tok-b")).await.expect("put again");
    assert!(!fresh);
    assert_eq!(again, meta, "the first upload's metadata stays");
    assert_eq!(store.read(&sha).await.expect("read").as_deref(), Some(bytes));
    assert!(store.uploaded_by(&sha, "tok-a").await.expect("a"));
    assert!(store.uploaded_by(&sha, "tok-b").await.expect("b"));
    assert!(!store.uploaded_by(&sha, "tok-c").await.expect("c"));
}

#[tokio::test]
async fn filesystem_store_keeps_the_contract_and_refuses_a_changed_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = AnyBlobStore::open(&format!("fs:{}", dir.path().join("blobs").display())).await.expect("open");
    store_contract(&store).await;
    // A file altered on disk is not served as the cited file.
    let fs = FsBlobStore::open(&dir.path().join("blobs"), &dir.path().join("blobs.db")).await.expect("open");
    let sha = sha256_hex(b"%PDF-1.7 store contract");
    std::fs::write(fs.path_of(&sha), b"%PDF-1.7 store contracT").expect("tamper");
    assert!(fs.read(&sha).await.is_err());
    // A file that went missing (a crash between rename and row cannot cause it, a lost disk can) is rewritten.
    std::fs::remove_file(fs.path_of(&sha)).expect("rm");
    let (_, fresh) = fs.put(&NewBlob::new(b"%PDF-1.7 store contract", None, "tok-a")).await.expect("put");
    assert!(!fresh);
    assert!(fs.read(&sha).await.expect("read").is_some());
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path().join("blobs").join("tmp")).expect("tmp dir").count(), 0);
}

#[tokio::test]
async fn postgres_store_keeps_the_contract() {
    let pg = siteledger_testkit::shared_postgres();
    let url = pg.create_unique_database("blobs").expect("database");
    let store = AnyBlobStore::open(&url).await.expect("open");
    assert!(matches!(store, AnyBlobStore::Pg(_)));
    store_contract(&store).await;
    let _ = PgBlobStore::open(&url).await.expect("reopen keeps the tables");
}
