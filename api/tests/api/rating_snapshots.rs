//! Ratings, credit and annual reports resumed from snapshots of the rating fold (issue 16): the same bytes as a
//! fold from record 0, only the records after the snapshot read, a corrupted or foreign snapshot never trusted,
//! and from-zero still there for auditors (library, `?from_zero=true`). Over the city world of
//! [`crate::world::build_city`], on the server's own SQLite files.

use serde_json::Value;
use siteledger_api::auth::Role;
use siteledger_api::ratings::{self, LogPrefix};
use siteledger_api::reports::{self, AnnualReport, ReportRequest};
use siteledger_domain::LocalDate;
use siteledger_domain::district::DistrictCode;
use siteledger_ledger::EventStore;
use siteledger_projections::ReadDb;

use crate::helpers::TestApp;
use crate::world::{self, YINZHOU};

fn request(district: Option<&str>, at_size: u64) -> ReportRequest {
    ReportRequest {
        year: 2026,
        district: district.map(|d| DistrictCode::parse(d).expect("code")),
        at_size,
        policy_version: None,
        as_of: None,
    }
}

fn assert_same_report(a: &AnnualReport, b: &AnnualReport, what: &str) {
    // As text: a difference then reads as JSON, not as thousands of byte values.
    assert_eq!(String::from_utf8_lossy(&a.json), String::from_utf8_lossy(&b.json), "{what}: JSON bytes");
    assert_eq!(a.html, b.html, "{what}: HTML");
    assert_eq!(a.csv, b.csv, "{what}: CSV");
    assert_eq!(a.record, b.record, "{what}: report.annual.v1 payload");
}

/// Takes snapshots at `sizes` (without and with credit rules v1), as earlier computations would have left them.
async fn snapshots_at(app: &TestApp, sizes: &[u64]) {
    let store = app.server.state.ledger.store();
    let read = &app.server.state.read;
    for &n in sizes {
        for rules in [None, Some(1)] {
            let p = LogPrefix::load(store, n, rules).await.expect("prefix");
            p.save_snapshot(store, read, rules).await.expect("snapshot");
        }
    }
}

/// Opens the server's read database file beside it, as an operator (or a fault) would, to damage a snapshot.
async fn raw_read_db(app: &TestApp) -> sqlx::SqlitePool {
    let path = app.dir.path().join("read.db");
    sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display())).await.expect("read.db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_annual_report_equals_the_from_zero_one_byte_for_byte() {
    let mut app = TestApp::spawn().await;
    let _city = world::build_city(&mut app).await;
    let store = app.server.state.ledger.store();
    let read = &app.server.state.read;
    let n = store.head().await.expect("head");
    let (s1, s2) = (n / 3, 2 * n / 3);
    snapshots_at(&app, &[s1, s2]).await;

    for district in [None, Some(YINZHOU)] {
        let req = request(district, n);
        let zero = reports::annual(store, &req).await.expect("from zero");
        assert_eq!((zero.resumed_from, zero.folded), (0, n), "the reference folds every record");
        let inc = reports::annual_with(store, Some(read), &req).await.expect("incremental");
        assert_same_report(&inc, &zero, &format!("{district:?} at {n}"));
        assert_eq!(inc.resumed_from, s2, "resumed from the newest snapshot at or below N");
        assert_eq!(inc.folded, n - s2, "only the records after the snapshot are read");
    }
    // An as-of query at an older size resumes from the older snapshot.
    let mid = (s1 + s2) / 2;
    let zero = reports::annual(store, &request(None, mid)).await.expect("from zero");
    let inc = reports::annual_with(store, Some(read), &request(None, mid)).await.expect("incremental");
    assert_same_report(&inc, &zero, "older size");
    assert_eq!((inc.resumed_from, inc.folded), (s1, mid - s1));

    // The fold itself, not only what the report shows of it, is the same state.
    let zero = LogPrefix::load(store, n, Some(1)).await.expect("from zero");
    let inc = LogPrefix::load_with(store, Some(read), n, Some(1)).await.expect("incremental");
    assert!(inc.resumed_from > 0);
    assert_eq!(inc.state_bytes(), zero.state_bytes(), "canonical fold state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_rating_decisions_and_credit_scores_equal_the_from_zero_ones() {
    let mut app = TestApp::spawn().await;
    let _city = world::build_city(&mut app).await;
    let store = app.server.state.ledger.store();
    let read = &app.server.state.read;
    let n = store.head().await.expect("head");
    let s = n / 2;
    snapshots_at(&app, &[s]).await;
    let as_of = LocalDate::parse("2026-03-26").expect("date");

    let zero = LogPrefix::load(store, n, Some(1)).await.expect("from zero");
    let inc = LogPrefix::load_with(store, Some(read), n, Some(1)).await.expect("incremental");
    assert_eq!((inc.resumed_from, inc.folded), (s, n - s));
    let decisions = |p: &LogPrefix| -> Vec<Vec<u8>> {
        ratings::all_decisions(p, 1, as_of).expect("decisions").values().map(ratings::decision_bytes).collect()
    };
    let zero_decisions = decisions(&zero);
    assert_eq!(zero_decisions.len(), 3, "the city world's three projects");
    assert_eq!(decisions(&inc), zero_decisions, "decision bytes");
    let rules = ratings::credit_rules_at(store, n, 1).await.expect("rules");
    let scores = |p: &LogPrefix| ratings::canonical_bytes(&ratings::credit_scores(p, &rules, as_of));
    let zero_scores = ratings::credit_scores(&zero, &rules, as_of);
    assert!(zero_scores.iter().any(|s| !s.records.is_empty()), "the world's findings and alarms score");
    assert_eq!(scores(&inc), scores(&zero), "credit score bytes");

    // Over HTTP: the same bodies with and without `from_zero=true`, and headers saying what was folded.
    let token = app.token(Role::City, None).await;
    let get = |path: String| {
        let (app, token) = (&app, &token);
        async move {
            let r = app.get(&path, Some(token)).await;
            assert_eq!(r.status(), 200, "{path}");
            let header = |name: &str| -> u64 {
                r.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect(name)
            };
            let fold = (header("x-fold-resumed-from"), header("x-fold-records"));
            (fold, r.bytes().await.expect("body"))
        }
    };
    let q = format!("at_size={n}&as_of=2026-03-26");
    for path in [
        format!("/v1/credit?{q}"),
        format!("/v1/ratings/{}/compute?{q}", world::P1),
        format!("/v1/reports/annual?year=2026&format=csv&at_size={n}"),
    ] {
        let (fold_inc, body_inc) = get(path.clone()).await;
        let (fold_zero, body_zero) = get(format!("{path}&from_zero=true")).await;
        assert_eq!(body_inc, body_zero, "{path}: same bytes");
        assert_eq!(fold_zero, (0, n), "{path}: from zero folds every record");
        assert!(fold_inc.0 >= s && fold_inc.1 == n - fold_inc.0, "{path}: resumed, {fold_inc:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_or_foreign_fold_snapshot_is_ignored_and_the_report_is_still_identical() {
    let mut app = TestApp::spawn().await;
    let _city = world::build_city(&mut app).await;
    let store = app.server.state.ledger.store();
    let read = &app.server.state.read;
    let n = store.head().await.expect("head");
    let sizes = [n / 4, n / 2, 3 * n / 4];
    snapshots_at(&app, &sizes).await;
    let raw = raw_read_db(&app).await;
    let set = |sql: &'static str, size: u64| {
        let raw = raw.clone();
        async move {
            let done = sqlx::query(sql)
                .bind(i64::try_from(size).expect("size"))
                .execute(&raw)
                .await
                .expect("update")
                .rows_affected();
            assert_eq!(done, 1, "{sql}");
        }
    };
    // The newest: its days with data moved a month (still a well-formed state of the right size; only its digest
    // says it is not what was written).
    set(
        "UPDATE rating_fold_snapshots SET state = replace(state, '\"2026-03-0', '\"2026-04-0') \
         WHERE rules_version = 0 AND tree_size = ? AND instr(state, '\"2026-03-0') > 0",
        sizes[2],
    )
    .await;
    // The next: a root that is not the log's at that size (a read database of another log).
    set(
        "UPDATE rating_fold_snapshots SET root = (CASE WHEN substr(root, 1, 2) = '00' THEN 'ff' ELSE '00' END) \
         || substr(root, 3) WHERE rules_version = 0 AND tree_size = ?",
        sizes[1],
    )
    .await;
    let zero = reports::annual(store, &request(None, n)).await.expect("from zero");
    let inc = reports::annual_with(store, Some(read), &request(None, n)).await.expect("incremental");
    assert_same_report(&inc, &zero, "after corruption");
    assert_eq!(inc.resumed_from, sizes[0], "both damaged snapshots were passed over");
    let left: Vec<u64> = read.fold_snapshots(0, n, 10).await.expect("list").iter().map(|m| m.tree_size).collect();
    assert!(!left.contains(&sizes[1]) && !left.contains(&sizes[2]), "the damaged ones are deleted: {left:?}");

    // A state that hashes right but does not parse (written by other code): passed over too; with nothing usable
    // left the report is folded from record 0, still the same bytes.
    set(
        "UPDATE rating_fold_snapshots SET state = '{}', \
         sha256 = '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a' \
         WHERE rules_version = 0 AND tree_size = ?",
        sizes[0],
    )
    .await;
    let inc = reports::annual_with(store, Some(read), &request(None, n)).await.expect("incremental");
    assert_same_report(&inc, &zero, "nothing usable");
    assert_eq!((inc.resumed_from, inc.folded), (0, n));
    raw.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_credit_ranking_leaves_a_snapshot_the_next_computation_resumes_from() {
    let mut app = TestApp::spawn().await;
    let _city = world::build_city(&mut app).await;
    let store = app.server.state.ledger.store();
    let read: &ReadDb = &app.server.state.read;
    let n = store.head().await.expect("head");
    assert!(read.fold_snapshots(1, n, 10).await.expect("list").is_empty());
    let token = app.token(Role::City, None).await;
    let r = app.get("/ratings", Some(&token)).await;
    assert_eq!(r.status(), 200);
    // The page folded the log once (from record 0, nothing to resume from) and kept the state.
    let head = app.server.state.ledger.head();
    let kept = read.fold_snapshots(1, head, 10).await.expect("list");
    assert_eq!(kept.len(), 1, "{kept:?}");
    let at = kept[0].tree_size;
    assert!(at >= n, "at the head the page computed at");
    // The next recomputation (the page's, a minute later, or the API's) folds only what came after it.
    let p = LogPrefix::load_with(store, Some(read), head, Some(1)).await.expect("prefix");
    assert_eq!((p.resumed_from, p.folded), (at, head - at));
    let r: Value = app.get(&format!("/v1/credit?at_size={head}"), Some(&token)).await.json().await.expect("json");
    assert_eq!(r["tree_size"], head);
}

/// P1's camera over ten days from 2026-03-01, a status every 30 minutes: online all day, offline the first 6 of
/// 24 h, offline all day (but reporting), cycled. Signed by P1's gateway.
fn camera_days(gw: &mut siteledger_client::KeyedChain) -> Vec<siteledger_signer::Envelope> {
    const CAM: &str = "33021200001320000001";
    let start = time::macros::datetime!(2026-03-01 00:00 +08:00);
    let mut out = Vec::new();
    for d in 0..10i64 {
        let off_until = [0, 360, 1440][usize::try_from(d % 3).expect("index")];
        for m in (0..48).map(|i| i * 30) {
            let at = siteledger_domain::time::shanghai_rfc3339(start + time::Duration::minutes(d * 1440 + m));
            let status = if m < off_until { "offline" } else { "online" };
            out.push(
                gw.sign(
                    crate::helpers::new_id(),
                    &format!("project/{}/site/{CAM}", world::P1),
                    "video.camera.status.v1",
                    &at,
                    crate::helpers::obj(
                        serde_json::json!({"project_id": world::P1, "device_id": CAM, "status": status}),
                    ),
                )
                .expect("sign"),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_v2_reports_and_decisions_cite_measured_camera_time_the_same_resumed_or_from_zero() {
    let mut app = TestApp::spawn().await;
    let mut city = world::build_city(&mut app).await;
    let store = app.server.state.ledger.store();
    let read = &app.server.state.read;
    let v2 = serde_json::to_value(siteledger_domain::rating::policy::notice_2020_72_v2()).expect("json");
    let published = app
        .city
        .sign(
            crate::helpers::new_id(),
            "city/policy/rating",
            "rating.policy.v1",
            "2026-03-01T00:00:00+08:00",
            crate::helpers::obj(v2),
        )
        .expect("sign");
    app.ingest_ok(&[published]).await;
    let before = store.head().await.expect("head");
    for chunk in camera_days(&mut city.gw1).chunks(100) {
        app.ingest_ok(chunk).await;
    }
    let n = store.head().await.expect("head");
    assert_eq!(n - before, 480);
    // A snapshot in the middle of the cameras' records: the resumed fold continues a camera's open span.
    snapshots_at(&app, &[before + 217]).await;
    let as_of = LocalDate::parse("2026-03-10").expect("date");

    let req = |version| ReportRequest {
        year: 2026,
        district: None,
        at_size: n,
        policy_version: Some(version),
        as_of: Some(as_of),
    };
    let zero = reports::annual(store, &req(2)).await.expect("from zero");
    let inc = reports::annual_with(store, Some(read), &req(2)).await.expect("incremental");
    assert_eq!(inc.resumed_from, before + 217);
    assert_same_report(&inc, &zero, "policy 2");
    // 24 + 18 + 0 h, thrice, and 23.5 h on the 10th (the prefix ends at its last report): 149.5 of 239.5 h.
    let video = zero.document["uptime"].as_array().expect("rows").iter().find(|u| u["application"] == "video").cloned();
    let video = video.expect("video row");
    assert_eq!(
        video["camera_online"],
        serde_json::json!({"min_permille": 800, "days_measured": 10, "days_counted": 4,
                           "online_s": 538_200, "known_s": 862_200, "online_permille": 624}),
        "{video}"
    );
    assert_eq!(video["days_with_data"], 4, "only the whole days online count");
    assert!(
        zero.html.contains("按摄像机实测在线时长计")
            && zero.html.contains("<td>≥ 80.0%</td><td>62.4%</td><td>149.5/239.5</td>"),
        "{}",
        zero.html
    );
    assert!(zero.csv.contains("uptime,video.camera_online.online_permille,city,624\n"), "{}", zero.csv);
    // Policy 1 at the same size: every day with a video record, and no trace of the measure.
    let v1 = reports::annual_with(store, Some(read), &req(1)).await.expect("policy 1");
    let video1 = v1.document["uptime"].as_array().expect("rows").iter().find(|u| u["application"] == "video").cloned();
    assert_eq!(video1.as_ref().map(|u| u["days_with_data"].clone()), Some(serde_json::json!(10)));
    assert!(!String::from_utf8_lossy(&v1.json).contains("camera_online") && !v1.html.contains("实测在线"));

    // Decisions: the same bytes resumed or from zero, under both versions; version 2 counts 4 video days of 10.
    let pz = LogPrefix::load(store, n, None).await.expect("from zero");
    let pi = LogPrefix::load_with(store, Some(read), n, None).await.expect("incremental");
    assert!(pi.resumed_from > 0);
    assert_eq!(pi.state_bytes(), pz.state_bytes(), "canonical fold state");
    let p1 = siteledger_domain::ProjectId::parse(world::P1).expect("id");
    for version in [1, 2] {
        let d = |p: &LogPrefix| ratings::decision_bytes(&ratings::decision(p, &p1, version, as_of).expect("decision"));
        assert_eq!(d(&pi), d(&pz), "policy {version}");
    }
    let days = |version| {
        let d = ratings::decision(&pz, &p1, version, as_of).expect("decision");
        d.applications.iter().find(|a| a.id.as_str() == "video").map(|a| (a.days, a.runs))
    };
    assert_eq!((days(1), days(2)), (Some((10, false)), Some((4, false))));
    let policy2 = pz.policy(2).expect("v2").clone();
    let ev = ratings::evidence_document(&pz, &p1, &policy2, as_of);
    assert_eq!(ev["days"]["video"], serde_json::json!(["2026-03-01", "2026-03-04", "2026-03-07", "2026-03-10"]));
    let cam = &ev["camera_online"]["video"];
    assert_eq!((cam["min_permille"].as_u64(), cam["online_permille"].as_u64()), (Some(800), Some(624)), "{cam}");
    assert_eq!(
        cam["days"]["2026-03-02"],
        serde_json::json!({"online_s": 64_800, "known_s": 86_400, "online_permille": 750})
    );
    assert_eq!(cam["days"]["2026-03-03"]["online_permille"], 0, "offline all day, though reporting");
    let policy1 = pz.policy(1).expect("v1").clone();
    assert!(ratings::evidence_document(&pz, &p1, &policy1, as_of).get("camera_online").is_none());
}
