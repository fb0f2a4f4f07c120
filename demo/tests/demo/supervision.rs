//! The demo city's 监管协同 traffic: its history puts overdue rectifications, missing expert reviews, report-number
//! gaps and breached tasks in the command view, scoped per district, and a cycle of live steps is accepted.

use serde_json::json;
use siteledger_api::auth::Role;

use crate::helpers::DemoApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_command_view_shows_overdue_rectifications_missing_reviews_and_report_gaps() {
    let _ = tracing_subscriber::fmt().with_env_filter("warn").with_test_writer().try_init();
    let mut app = DemoApp::setup().await;
    let token = app.token(Role::City, None).await;
    // The history is in; one cycle of live traffic on top (a notice, the contractor's answer, the review).
    for _ in 0..3 {
        app.demo.supervision_step().await.expect("supervision step");
    }
    app.settle().await;
    let view = app.get_json("/v1/supervision/command", &token).await;
    // The history's last records are the tasks between bureaus (XT-…).
    assert!(
        view["open_tasks"]
            .as_array()
            .is_some_and(|a| a.iter().any(|t| t["task_id"].as_str().is_some_and(|id| id.starts_with("XT-")))),
        "{view}"
    );
    let overdue = view["overdue_rectifications"].as_array().expect("array");
    assert!(overdue.iter().all(|r| r["overdue"] == true && r["overdue_hours"].as_i64().unwrap_or(0) >= 0));
    assert!(overdue.iter().any(|r| r["status"] == "reopened"), "a failed review that is overdue");
    assert!(overdue.iter().any(|r| r["status"] == "open"), "an unanswered notice that is overdue");
    let missing = view["missing_reviews"].as_array().expect("array");
    assert!(missing.iter().any(|h| h["class"] == "major" && h["missing"] == json!(["expert_review"])), "{missing:?}");
    let gaps = view["report_gaps"].as_array().expect("array");
    assert!(gaps.iter().any(|g| g["from"] == 108 && g["to"] == 108), "{gaps:?}");
    assert!(view["unreported_unqualified"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(view["monitoring_anomalies"].as_array().is_some_and(|a| !a.is_empty()));
    let register = app.get_json("/v1/supervision/testing/unqualified", &token).await;
    let states: Vec<&str> = register.as_array().expect("a").iter().filter_map(|u| u["reporting"].as_str()).collect();
    assert!(states.contains(&"overdue") && states.contains(&"reported"), "{states:?}");
    let bim = app.get_json("/v1/supervision/bim/nodes", &token).await;
    assert!(bim.as_array().expect("a").iter().any(|n| n["deviation_days"].as_i64().unwrap_or(0) > 0), "a late node");
    assert!(view["open_tasks"].as_array().expect("a").iter().any(|t| t["breached"] == true));
    let first = &view["districts"][0];
    assert!(
        first["overdue_rectifications"].as_u64().unwrap_or(0) + first["breached_tasks"].as_u64().unwrap_or(0) > 0,
        "overdue first"
    );

    // A district bureau sees its own district only.
    let code = first["code"].as_str().expect("code").to_owned();
    let district = app.token(Role::District, Some(&code)).await;
    let dv = app.get_json("/v1/supervision/command", &district).await;
    assert!(dv["districts"].as_array().expect("a").iter().all(|d| d["code"] == code.as_str()), "{dv}");
    assert!(dv["overdue_rectifications"].as_array().expect("a").iter().all(|r| r["district"] == code.as_str()));
    assert!(dv["open_tasks"].as_array().expect("a").iter().all(|t| t["district"] == code.as_str()));
    assert!(dv["missing_reviews"].as_array().expect("a").iter().all(|h| h["district"] == code.as_str()));

    // The page (layout.nav = command) shows the same, in Chinese.
    let html = app.get("/command", Some(&token)).await.text().await.expect("html");
    assert!(html.contains("协同指挥") && html.contains(r#"href="/command" class="active""#), "nav");
    for id in ["sv-overdue-rectifications", "sv-missing-reviews", "sv-report-gaps", "sv-open-task-list"] {
        assert!(html.contains(id), "{id}");
    }
    assert!(html.contains("未经专家论证"), "missing expert review shown");
    assert!(html.contains("-108</span>") || html.contains("-108 "), "gap 108 shown");
    assert!(html.contains("逾期"), "overdue shown");
    assert!(html.contains("/static/supervision.js") && html.contains("/v1/feed?kinds=inspection.,testing."), "live");
    let js = app.get("/static/supervision.js", None).await;
    assert_eq!(js.status(), 200);
    assert!(js.text().await.expect("js").contains("EventSource"));
    for page in ["/command/rectifications", "/command/testing", "/command/hazards", "/command/bim", "/command/tasks"] {
        let resp = app.get(page, Some(&token)).await;
        assert_eq!(resp.status(), 200, "{page}");
    }

    // Nothing the demo sent was rejected.
    assert!(app.rejections().await.is_empty(), "{:?}", app.rejections().await);
    app.server.shutdown().await;
}
