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
