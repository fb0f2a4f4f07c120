//! `report annual`, `replay` and `evidence export` read the event store directly and write the same bytes as the
//! library (and so as the API) at the same tree size; a report signed with `--sign-key` is accepted by the platform;
//! a package verifies offline.

use serde_json::Value;
use siteledger_api::evidence::{self, Selection};
use siteledger_api::ratings;
use siteledger_api::replay::{self, Subject};
use siteledger_api::reports::{self, ReportRequest};
use siteledger_demo::city;
use siteledger_domain::ids::ProjectId;

use crate::helpers::{App, siteledger, success};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_writes_the_same_report_replay_and_package_as_the_library() {
    let mut app = App::setup().await;
    for _ in 0..2 {
        app.demo.tick().await.expect("tick");
    }
    app.settle().await;
    let ledger = app.server.state.ledger.clone();
    ledger.checkpoint_now().await.expect("checkpoint");
    let store = ledger.store();
    let n = ledger.head();
    let data = app.dir.path();
    let out = tempfile::tempdir().expect("tempdir");
    let year = ratings::today_shanghai().date().year();

    // The annual report: HTML, CSV and JSON, byte for byte.
    let req = ReportRequest { year, district: None, at_size: n, policy_version: None, as_of: None };
    let report = reports::annual(store, &req).await.expect("report");
    let (year_s, n_s) = (year.to_string(), n.to_string());
    let out_s = out.path().to_str().expect("utf-8 path");
    let run = siteledger(data, &["report", "annual", "--year", &year_s, "--at-size", &n_s, "--out", out_s]).await;
    let printed = success("report annual", &run);
    assert!(printed.contains(report.record.content_sha256.as_str()), "{printed}");
    let file = |ext: &str| std::fs::read(out.path().join(format!("report-city-{year}-{n}.{ext}"))).expect(ext);
    assert_eq!(file("html"), report.html.as_bytes());
    assert_eq!(file("csv"), report.csv.as_bytes());
    assert_eq!(file("json"), report.json);

    // With the city bureau's key the CLI also signs report.annual.v1; the platform accepts it.
    let key = data.join("keys").join("demo-city.key");
    let key_s = key.to_str().expect("utf-8 path");
    let run = siteledger(
        data,
        &["report", "annual", "--year", &year_s, "--at-size", &n_s, "--out", out_s, "--sign-key", key_s],
    )
    .await;
    success("report annual --sign-key", &run);
    let body: Value = serde_json::from_slice(&file("envelope.json")).expect("json");
    assert_eq!(body[0]["kind"], "report.annual.v1");
    assert_eq!(body[0]["payload"]["content_sha256"], report.record.content_sha256.as_str());
    let token = app.server.state.tokens.create("test", siteledger_api::auth::Role::City, None, 1).await.expect("token");
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/v1/events", app.server.url()))
        .bearer_auth(&token.secret)
        .json(&body)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["results"][0]["status"], "accepted", "{answer}");

    // A project's replay at size n.
    let project = city::projects(siteledger_demo::PROJECT_PREFIX, &city::enterprises()).swap_remove(0);
    let subject = Subject::Project(ProjectId::parse(&project.project_id).expect("project id"));
    let doc = replay::replay(store, &subject, n).await.expect("replay");
    let run = siteledger(data, &["replay", "--as-of", &n_s, "--project", &project.project_id]).await;
    let printed: Value = serde_json::from_str(&success("replay", &run)).expect("replay prints JSON");
    assert_eq!(printed, doc);

    // A court package of the project's readings: the same bytes, and it verifies offline.
    let stream = format!("project/{}/", project.project_id);
    let device = format!("device_id={}", project.device_id);
    let sel = Selection::Filter {
        stream: stream.clone(),
        kind_prefix: Some("env.".into()),
        from: None,
        to: None,
        payload_equals: vec![("device_id".into(), project.device_id.clone())],
    };
    let bundle = evidence::export(store, &ledger.log_verifier().vkey(), &sel).await.expect("bundle");
    assert_eq!(bundle.records.iter().filter(|r| r.envelope["kind"] == "env.dust_noise.reading.v1").count(), 2);
    let case = out.path().join("case.json");
    let case_s = case.to_str().expect("utf-8 path");
    let run = siteledger(
        data,
        &["evidence", "export", "--stream", &stream, "--kind", "env.", "--where", &device, "--out", case_s],
    )
    .await;
    success("evidence export", &run);
    let from_cli = std::fs::read(&case).expect("bundle file");
    assert_eq!(from_cli, bundle.to_bytes());
    let verdict = siteledger_signer::verify_bundle(&from_cli, ledger.log_verifier());
    assert!(verdict.ok, "{}", verdict.to_text());
    // Beside it, the court report of verifying it.
    let html = std::fs::read_to_string(out.path().join("case.report.html")).expect("case.report.html");
    assert!(html.contains("核验结论：通过") && html.contains(&format!("全部 {} 项核验通过", verdict.checks.len())));
    assert!(std::fs::read(out.path().join("case.report.pdf")).expect("case.report.pdf").starts_with(b"%PDF-1.7"));
    app.server.shutdown().await;
}

/// The signer crate's verifier binary (another package's, so cargo does not hand this test its path): built if
/// this run has not built it yet.
fn verifier() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../signer/Cargo.toml");
    let out = std::process::Command::new(env!("CARGO"))
        .args(["build", "--locked", "--quiet", "--bin", "siteledger-verify", "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "building siteledger-verify: {}", String::from_utf8_lossy(&out.stderr));
    let bin = std::path::Path::new(crate::helpers::SITELEDGER).with_file_name("siteledger-verify");
    assert!(bin.is_file(), "no verifier at {}", bin.display());
    bin
}

/// `evidence export --attachments`: an inspection finding cites a photo uploaded to the platform; the package
/// holds it under its digest, the demo's other cited photos (never uploaded) are listed as not included, and
/// `siteledger-verify --attachments` passes, then fails naming the file once one byte of it is flipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_export_with_attachments_verifies_and_a_flipped_byte_fails() {
    let app = App::setup().await;
    app.settle().await;
    let data = app.dir.path();
    let store = app.server.state.ledger.store();
    let client = reqwest::Client::new();
    let token = app.server.state.tokens.create("test", siteledger_api::auth::Role::City, None, 1).await.expect("token");
    let photo = b"\xff\xd8\xff\xe0 rectification photo of the 5th floor edge protection".to_vec();
    let stored: Value = client
        .post(format!("{}/v1/blobs", app.server.url()))
        .bearer_auth(&token.secret)
        .body(photo.clone())
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    let sha = stored["sha256"].as_str().expect("sha256").to_owned();
    assert_eq!(stored["media_type"], "image/jpeg");

    // The city bureau inspects a demo project and records a finding citing the photo.
    let project = city::projects(siteledger_demo::PROJECT_PREFIX, &city::enterprises()).swap_remove(0);
    let gc = project.payload["participants"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["role"] == "general_contractor"))
        .and_then(|p| p["credit_code"].as_str())
        .expect("general contractor")
        .to_owned();
    let key = siteledger_signer::SigningKey::read_file(&data.join("keys").join("demo-city.key")).expect("key");
    let head = siteledger_ledger::EventStore::signer_head(store, &key.key_id().to_string()).await.expect("head");
    let mut chain = siteledger_client::MemoryChain::resume(head.map(|h| (h.signer_seq, h.leaf_hash)));
    let pid = project.project_id.clone();
    let stream = format!("project/{pid}/supervision");
    let at = "2026-03-20T10:00:00+08:00";
    let mut sign = |kind: &str, payload: Value| {
        let Value::Object(m) = payload else { unreachable!() };
        chain.sign(&key, uuid::Uuid::now_v7(), &stream, kind, at, m).expect("sign").to_value()
    };
    let body = Value::Array(vec![
        sign(
            "inspection.inspection.recorded.v1",
            serde_json::json!({"project_id": pid, "inspection_id": "INS-CLI-1", "inspection_kind": "safety",
                "inspector": "王建国", "scope": "临边洞口防护", "inspected_party": gc}),
        ),
        sign(
            "inspection.finding.recorded.v1",
            serde_json::json!({"project_id": pid, "inspection_id": "INS-CLI-1", "finding_id": "F-CLI-1",
                "level": "serious", "category": "临边防护", "description": "5层楼板临边未设防护栏杆", "photo_hashes": [sha]}),
        ),
    ]);
    let answer: Value = client
        .post(format!("{}/v1/events", app.server.url()))
        .bearer_auth(&token.secret)
        .json(&body)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert!(answer["results"].as_array().expect("results").iter().all(|r| r["status"] == "accepted"), "{answer}");
    app.server.state.ledger.checkpoint_now().await.expect("checkpoint");

    let out = tempfile::tempdir().expect("tmp");
    let dir = out.path().join("case");
    let dir_s = dir.to_str().expect("utf-8 path");
    let run = siteledger(
        data,
        &[
            "evidence",
            "export",
            "--stream",
            &format!("project/{pid}/"),
            "--kind",
            "inspection.",
            "--attachments",
            "--out",
            dir_s,
        ],
    )
    .await;
    let printed = success("evidence export --attachments", &run);
    assert!(printed.contains("1 attachments included"), "{printed}");
    let file = dir.join("attachments").join(&sha);
    assert_eq!(std::fs::read(&file).expect("attachment"), photo);
    let vkey = app.server.state.ledger.log_verifier().vkey();
    let verify = || {
        std::process::Command::new(verifier())
            .arg(dir.join("bundle.json"))
            .args(["--log-key", &vkey, "--attachments"])
            .arg(dir.join("attachments"))
            .output()
            .expect("siteledger-verify runs")
    };
    let ok = verify();
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stdout));
    // The package's court report checked the files: the photo is verified by hash, the others not included.
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(html.contains("核验结论：通过") && html.contains("--attachments attachments"), "report");
    // (The digest's last occurrence is its row of the attachments table, after the checks that name it.)
    let row = html.rsplit(sha.as_str()).next().and_then(|r| r.split("</tr>").next()).expect("the photo's row");
    assert!(row.contains("哈希一致"), "{row}");
    assert!(html.contains("未随附"), "the demo's photos never uploaded are listed as not included");
    assert!(dir.join("report.pdf").is_file());

    let mut flipped = photo.clone();
    flipped[10] ^= 0x04;
    std::fs::write(&file, flipped).expect("write");
    let bad = verify();
    let text = String::from_utf8_lossy(&bad.stdout).into_owned();
    assert_eq!(bad.status.code(), Some(1), "{text}");
    let verdict = text.split("VERDICT").nth(1).expect("verdict");
    assert!(verdict.contains(&format!("file {sha}")) && verdict.contains("inspection.finding.recorded.v1"), "{text}");
    app.server.shutdown().await;
}

/// With witnesses configured and their cosignatures of the checkpoint stored (as the server stores them),
/// `evidence export` writes a version 1.2 bundle carrying them, and its court report shows each witness, whether
/// it cosigned and the configured policy: met at 2 of 3, failed (exit status non-zero, files still written) at 3 of
/// 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_export_carries_stored_cosignatures_and_reports_the_witness_policy() {
    use siteledger_signer::cosignature::Cosigner;
    let mut app = App::setup().await;
    app.demo.tick().await.expect("tick");
    app.settle().await;
    let ledger = app.server.state.ledger.clone();
    ledger.checkpoint_now().await.expect("checkpoint");
    let note = siteledger_ledger::EventStore::latest_checkpoint(ledger.store())
        .await
        .expect("checkpoint read")
        .expect("a checkpoint")
        .note;
    let (text, _) = siteledger_signer::note::split(&note).expect("note");
    let size: u64 = text.lines().nth(1).and_then(|l| l.parse().ok()).expect("size");
    let witnesses: Vec<Cosigner> = ["w1", "w2", "w3"]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let key = siteledger_signer::SigningKey::from_seed(&[0x71 + i as u8; 32]);
            Cosigner::new(&format!("witness.court.example/{n}"), key).expect("cosigner")
        })
        .collect();
    // w1 and w2 cosigned; w3 (configured too) never answered.
    for (i, w) in witnesses.iter().take(2).enumerate() {
        let line = w.cosign(text, 1_767_225_600 + i as u64).expect("cosign");
        app.server.state.cosignatures.put(size, w.name(), &line).await.expect("stored");
    }
    let data = app.dir.path();
    let config = data.join("witnesses.toml");
    let toml: String = witnesses
        .iter()
        .map(|w| format!("[[witnesses]]\nurl = \"http://127.0.0.1:9\"\nkey = \"{}\"\n", w.verifier().vkey()))
        .collect();
    std::fs::write(&config, toml).expect("config");
    let config_s = config.to_str().expect("utf-8 path");

    let out = tempfile::tempdir().expect("tmp");
    let case = out.path().join("case.json");
    let case_s = case.to_str().expect("utf-8 path");
    let project = city::projects(siteledger_demo::PROJECT_PREFIX, &city::enterprises()).swap_remove(0);
    let stream = format!("project/{}/", project.project_id);
    let export = |k: &'static str| {
        let args = ["evidence", "export", "--stream", &stream, "--kind", "env.", "--out", case_s, "--config", config_s];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.extend(["--witness-threshold".to_owned(), k.to_owned()]);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            siteledger(data, &args).await
        }
    };
    success("evidence export (2 of 3 witnesses)", &export("2").await);
    let bytes = std::fs::read(&case).expect("bundle");
    let bundle = siteledger_signer::Bundle::parse(&bytes).expect("bundle");
    assert_eq!(bundle.format, siteledger_signer::bundle::BUNDLE_FORMAT_V1_2);
    assert_eq!(bundle.witnesses.as_ref().map(Vec::len), Some(2));
    let html = std::fs::read_to_string(out.path().join("case.report.html")).expect("report");
    assert!(html.contains("核验结论：通过"), "verdict");
    for w in &witnesses {
        assert!(html.contains(w.name()), "{}", w.name());
    }
    assert_eq!(html.matches("已联署 cosigned").count(), 2);
    assert!(html.contains("见证人策略（需 2 / 3 个联署）：满足"));

    // All three demanded: the files are written, the report says the policy is not met, the command fails.
    let run = export("3").await;
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("witness policy"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let html = std::fs::read_to_string(out.path().join("case.report.html")).expect("report");
    assert!(html.contains("核验结论：未通过") && html.contains("见证人策略（需 3 / 3 个联署）：不满足"));
    app.server.shutdown().await;
}
