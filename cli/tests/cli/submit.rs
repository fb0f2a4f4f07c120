//! `siteledger submit` against a real server: a contractor's 10,000 gate passages (`worker.passage.v1`, signed by
//! the general contractor's own enterprise key, enrolled by the city bureau) as a JSON Lines file; the command is
//! killed with SIGKILL while it uploads, re-run, and every line is in the log exactly once, with no equivocation.

use std::collections::HashMap;
use std::process::{Command, Stdio};

use serde_json::json;
use siteledger_api::auth::Role;
use siteledger_client::{IngestClient, MemoryChain, keys};
use siteledger_demo::{city, workforce};
use siteledger_ledger::{Direction, EventStore};
use siteledger_signer::Envelope;

use crate::helpers::{App, PATIENCE, SITELEDGER};

const LINES: usize = 10_000;

/// The general contractor's credit code and the registered workers (on site since 2026-09-01, under contract) of
/// the demo's first workforce project.
async fn contractor_and_workers(app: &App) -> (String, String, Vec<String>) {
    let spec = city::projects(siteledger_demo::PROJECT_PREFIX, &city::enterprises())
        .into_iter()
        .nth(workforce::PROJECTS[0])
        .expect("project");
    let gc = spec.payload["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .find(|p| p["role"] == "general_contractor")
        .and_then(|p| p["credit_code"].as_str())
        .expect("a general contractor")
        .to_owned();
    let stream = format!("project/{}/workforce", spec.project_id);
    let events =
        app.server.state.ledger.store().read_stream(&stream, 0, Direction::Forward, 10_000).await.expect("stream");
    let workers: Vec<String> = events
        .iter()
        .filter(|e| e.kind == "worker.registered.v1")
        .map(|e| Envelope::parse(&e.leaf).expect("envelope").payload()["person_ref"].as_str().expect("ref").to_owned())
        .collect();
    assert!(!workers.is_empty(), "the demo registered workers on {}", spec.project_id);
    (spec.project_id, gc, workers)
}

/// Runs `siteledger submit` with `args` to completion on a blocking thread.
async fn submit(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || Command::new(SITELEDGER).args(args).output().expect("runs"))
        .await
        .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submit_killed_midway_and_rerun_puts_every_line_in_the_log_exactly_once() {
    let app = App::setup().await;
    let state = app.server.state.clone();
    let (project, gc, workers) = contractor_and_workers(&app).await;
    let work = tempfile::tempdir().expect("dir");

    // The contractor's key, enrolled by the city bureau (the demo's root key), continuing the city's chain.
    let key_path = work.path().join("contractor.key");
    let key = keys::generate(&key_path).expect("key");
    let city = keys::load(&state.config.key_dir().join("demo-city.key")).expect("city key");
    let head = state.ledger.store().signer_head(&city.key_id().to_string()).await.expect("head");
    let mut chain = MemoryChain::resume(head.map(|h| (h.signer_seq, h.leaf_hash)));
    let enrol = chain
        .sign(
            &city,
            uuid::Uuid::now_v7(),
            "registry/keys",
            "ledger.key.enrolled.v1",
            "2026-11-01T09:00:00+08:00",
            city::enrollment(key.public(), &gc, "enterprise"),
        )
        .expect("signed");
    let city_token = state.tokens.create("test city", Role::City, None, 1).await.expect("token");
    let answer = IngestClient::new(&app.server.url()).expect("client").post(&city_token.secret, &[enrol]).await;
    assert_eq!(answer.expect("answer").accepted, 1, "the contractor's key is enrolled");

    let token = state.tokens.create("test contractor", Role::Enterprise, Some(&gc), 1).await.expect("token");
    let token_file = work.path().join("token");
    keys::write_secret(&token_file, &token.secret).expect("token file");

    // 10,000 passages through the gate, one a second from 2026-11-02 07:00, across the project's workers.
    let file = work.path().join("passages.jsonl");
    let mut text = String::new();
    for i in 0..LINES {
        let at = time::macros::datetime!(2026-11-02 07:00:00 +08:00) + time::Duration::seconds(i as i64);
        let at = at.format(&time::format_description::well_known::Rfc3339).expect("time");
        let line = json!({"kind": "worker.passage.v1", "stream": format!("project/{project}/workforce/gate"),
            "occurred_at": at, "payload": {"project_id": project, "person_ref": workers[i % workers.len()],
            "gate": "GATE-02", "direction": if (i / workers.len()) % 2 == 0 { "in" } else { "out" }, "method": "card"}});
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(&file, &text).expect("jsonl");
    let state_db = work.path().join("state.db");
    let args: Vec<String> = [
        "submit",
        "--url",
        &app.server.url(),
        "--token-file",
        token_file.to_str().expect("path"),
        "--key",
        key_path.to_str().expect("path"),
        "--state",
        state_db.to_str().expect("path"),
        "--file",
        file.to_str().expect("path"),
        "--batch",
        "50",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();

    // First run: SIGKILL once the log has taken part of the file, while the command is still running.
    let head0 = state.ledger.head();
    let mut child =
        Command::new(SITELEDGER).args(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("starts");
    let mut head = state.ledger.watch_head();
    let advanced = tokio::time::timeout(PATIENCE, head.wait_for(|h| *h >= head0 + 2_000)).await.map(|r| r.is_ok());
    assert_eq!(advanced, Ok(true), "the first run's records reached the log");
    assert!(child.try_wait().expect("status").is_none(), "the first run was still running when killed");
    child.kill().expect("SIGKILL");
    let status = tokio::task::spawn_blocking(move || child.wait().expect("reaped")).await.expect("join");
    assert!(!status.success());
    let mine = |events: &[siteledger_ledger::StoredEvent]| {
        events.iter().filter(|e| e.signer == key.key_id().to_string()).count()
    };
    let store = state.ledger.store();
    let gate = format!("project/{project}/workforce/gate");
    let after_kill = mine(&store.read_stream(&gate, 0, Direction::Forward, 100_000).await.expect("stream"));
    assert!(after_kill < LINES, "the kill came before the upload finished ({after_kill} in the log)");

    // Second run: completes; nothing is signed again.
    let out = submit(args.clone()).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("signed now: 0\n"), "{stdout}");
    assert!(stdout.contains(&format!("already signed by an earlier run: {LINES} ")), "{stdout}");

    // Every line exactly once, in one unbroken chain, and no equivocation record anywhere in the log.
    let events = store.read_stream(&gate, 0, Direction::Forward, 100_000).await.expect("stream");
    let ours: Vec<_> = events.iter().filter(|e| e.signer == key.key_id().to_string()).collect();
    let mut per_time: HashMap<&str, usize> = HashMap::new();
    for e in &ours {
        *per_time.entry(e.occurred_at.as_str()).or_default() += 1;
    }
    assert_eq!(ours.len(), LINES, "every line once");
    assert_eq!(per_time.len(), LINES, "no line twice");
    let mut seqs: Vec<u64> = ours.iter().map(|e| e.signer_seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=LINES as u64).collect::<Vec<_>>());
    let mut from = 0;
    loop {
        let page = store.read_all(from, 5_000).await.expect("log");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        assert!(
            !page.iter().any(|e| e.kind == "ledger.signer.equivocation.v1"),
            "an equivocation record is in the log"
        );
    }

    // A third run sends nothing at all.
    let out = submit(args).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("uploaded this run: accepted 0, duplicate 0"), "{stdout}");
}

/// Bad lines are reported with their line number and member, never with an ID number they carry, and skipped;
/// the good lines go in; the exit status says something was refused. A world-readable token file is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_are_named_and_skipped_without_repeating_an_id_number() {
    let app = App::setup().await;
    let state = app.server.state.clone();
    let (project, gc, workers) = contractor_and_workers(&app).await;
    let work = tempfile::tempdir().expect("dir");
    let key_path = work.path().join("contractor.key");
    let key = keys::generate(&key_path).expect("key");
    let city = keys::load(&state.config.key_dir().join("demo-city.key")).expect("city key");
    let head = state.ledger.store().signer_head(&city.key_id().to_string()).await.expect("head");
    let enrol = MemoryChain::resume(head.map(|h| (h.signer_seq, h.leaf_hash)))
        .sign(
            &city,
            uuid::Uuid::now_v7(),
            "registry/keys",
            "ledger.key.enrolled.v1",
            "2026-11-01T09:00:00+08:00",
            city::enrollment(key.public(), &gc, "enterprise"),
        )
        .expect("signed");
    let city_token = state.tokens.create("test city", Role::City, None, 1).await.expect("token");
    let answer = IngestClient::new(&app.server.url()).expect("client").post(&city_token.secret, &[enrol]).await;
    assert_eq!(answer.expect("answer").accepted, 1);
    let token = state.tokens.create("test contractor", Role::Enterprise, Some(&gc), 1).await.expect("token");
    let token_file = work.path().join("token");
    keys::write_secret(&token_file, &token.secret).expect("token file");

    let id = "330203199001011234";
    let passage = |person: &str, at: &str| {
        json!({"kind": "worker.passage.v1", "stream": format!("project/{project}/workforce/gate"), "occurred_at": at,
            "payload": {"project_id": project, "person_ref": person, "gate": "GATE-02", "direction": "in",
            "method": "card"}})
    };
    let mut bad_member = passage(&workers[0], "2026-11-03T07:00:02+08:00");
    bad_member["payload"][id] = json!("x");
    let mut no_gate = passage(&workers[0], "2026-11-03T07:00:03+08:00");
    no_gate["payload"].as_object_mut().expect("payload").remove("gate");
    let lines = [
        passage(&workers[0], "2026-11-03T07:00:00+08:00").to_string(),
        passage(id, "2026-11-03T07:00:01+08:00").to_string(),
        bad_member.to_string(),
        no_gate.to_string(),
        "{\"kind\": \"worker.passage.v1\",".to_owned(),
        passage(&workers[1], "2026-11-03T07:00:04+08:00").to_string(),
    ];
    let file = work.path().join("mixed.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").expect("jsonl");
    let state_db = work.path().join("state.db");
    let path = |p: &std::path::Path| p.to_str().expect("utf-8 path").to_owned();
    let args = |token: &std::path::Path| {
        vec![
            "submit".to_owned(),
            "--url".into(),
            app.server.url(),
            "--token-file".into(),
            path(token),
            "--key".into(),
            path(&key_path),
            "--state".into(),
            path(&state_db),
            "--file".into(),
            path(&file),
        ]
    };
    let out = submit(args(&token_file)).await;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "a refused line makes the run fail: {stdout}");
    // Line 3's unknown member is named by the number itself: masked.
    for want in [
        "line 2: member `person_ref`",
        "line 3: member `[number withheld]`",
        "line 4: member `gate`",
        "line 5: member `line`",
    ] {
        assert!(stderr.contains(want), "{want} in\n{stderr}");
    }
    assert!(!stderr.contains(id) && !stdout.contains(id), "an ID number was repeated:\n{stderr}\n{stdout}");
    assert!(stdout.contains("invalid, not signed: 4") && stdout.contains("accepted 2"), "{stdout}");
    let gate = format!("project/{project}/workforce/gate");
    let events = state.ledger.store().read_stream(&gate, 0, Direction::Forward, 1000).await.expect("stream");
    assert_eq!(events.iter().filter(|e| e.signer == key.key_id().to_string()).count(), 2, "the good lines went in");

    // A token file others can read is refused before anything is signed.
    let open_token = work.path().join("open-token");
    keys::write_secret(&open_token, &token.secret).expect("token file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&open_token, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let out = submit(args(&open_token)).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("chmod 600"), "{stderr}");
    }
}
