//! Site IoT over the real server: records go through the ingest policy (site admission rules), the `site`
//! projection derives exceedances, and `/v1/site/…` and the `/site` pages answer per the caller's scope.

use reqwest::StatusCode;
use serde_json::{Value, json};
use siteledger_api::auth::Role;
use siteledger_client::KeyedChain;
use siteledger_signer::Envelope;

use crate::helpers::{TestApp, new_id, next_link, obj};
use crate::world::{self, HAISHU, YINZHOU};

fn hj(gw: &mut KeyedChain, project: &str, at: &str, items: Value) -> Envelope {
    gw.sign(
        new_id(),
        &format!("project/{project}/site/DUST-1"),
        "env.hj212.data.v1",
        at,
        obj(json!({"project_id": project, "device_id": "DUST-1", "mn": "010000A8900016F000169DC0", "st": "39",
                   "cn": "2011", "data_time": at, "deviations": ["missing_qn"], "items": items})),
    )
    .expect("sign")
}

async fn json_of(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let r = app.get(path, Some(token)).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_data_is_scoped_per_district_and_exceedances_are_derived() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let night = hj(
        &mut w.gw1,
        "NB-2026-0001",
        "2026-03-02T22:20:00+08:00",
        json!([{"code": "LA", "unit": "dB(A)", "rtd": "55.1", "flag": "N"}]),
    );
    let crane = w
        .gw1
        .sign(
            new_id(),
            "project/NB-2026-0001/site/TC-01",
            "crane.sample.v1",
            "2026-03-02T09:00:00+08:00",
            obj(json!({"project_id": "NB-2026-0001", "device_id": "TC-01", "sampled_at": "2026-03-02T09:00:00+08:00",
                       "load_t": "0", "moment_pct": "100", "height_m": "40", "radius_m": "30", "slew_deg": "10",
                       "wind_m_s": "12", "tilt_deg": "0.1"})),
        )
        .expect("sign");
    let haishu = hj(
        &mut w.gw2,
        "NB-2026-0002",
        "2026-03-02T10:00:00+08:00",
        json!([{"code": "a34002", "unit": "ug/m3", "rtd": "300"}]),
    );
    app.ingest_ok(&[night.clone(), crane, haishu]).await;
    app.settle().await;

    let yz = app.token(Role::District, Some(YINZHOU)).await;
    let hs = app.token(Role::District, Some(HAISHU)).await;
    let city = app.token(Role::City, None).await;

    let projects = |v: &Value| -> Vec<String> {
        v["projects"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["project_id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let (s, v) = json_of(&app, "/v1/site/overview?day=2026-03-02", &yz).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(projects(&v), vec!["NB-2026-0001"], "{v}");
    assert_eq!(v["districts"][0]["district"], YINZHOU);
    let (_, v) = json_of(&app, "/v1/site/overview?day=2026-03-02", &hs).await;
    assert_eq!(projects(&v), vec!["NB-2026-0002"], "{v}");
    assert_eq!(v["projects"][0]["pm10"], "300");
    let (_, v) = json_of(&app, "/v1/site/overview?day=2026-03-02", &city).await;
    assert_eq!(projects(&v).len(), 2, "{v}");

    // A district token sees its district's project page and not the other's (404 like a missing one).
    let (s, v) = json_of(&app, "/v1/site/projects/NB-2026-0001?at=2026-03-02T23:00:00%2B08:00", &yz).await;
    assert_eq!(s, StatusCode::OK);
    let rules: Vec<&str> = v["alarms"].as_array().expect("alarms").iter().filter_map(|a| a["rule"].as_str()).collect();
    assert!(
        rules.contains(&"env_noise") && rules.contains(&"crane_moment") && rules.contains(&"crane_wind"),
        "{rules:?}"
    );
    let noise = v["alarms"].as_array().expect("alarms").iter().find(|a| a["rule"] == "env_noise").expect("noise");
    assert_eq!(noise["event_ids"], json!([night.id().to_string()]));
    assert_eq!(noise["value"], "55.1");
    assert_eq!(noise["threshold"], "55");
    assert_eq!(v["thresholds"]["noise_night"], "55");
    let (s, _) = json_of(&app, "/v1/site/projects/NB-2026-0002", &yz).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = json_of(&app, "/v1/site/projects/NB-2026-0002/series", &yz).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = json_of(&app, "/v1/site/projects/NB-2026-0001/series?metric=co2", &yz).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) =
        json_of(&app, "/v1/site/districts/330212/series?metric=noise&at=2026-03-02T23:00:00%2B08:00", &yz).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v[0]["value"], "55.1", "{v}");
    let (_, v) =
        json_of(&app, "/v1/site/districts/330212/series?metric=noise&at=2026-03-02T23:00:00%2B08:00", &hs).await;
    assert_eq!(v, json!([]), "haishu sees nothing of yinzhou's district series");
    // The hourly roll-up of the night's noise: its Leq and the 20 minutes of its violation window, said so.
    let hourly = "/v1/site/projects/NB-2026-0001/series?metric=noise&resolution=hour&at=2026-03-02T23:00:00%2B08:00";
    let (s, v) = json_of(&app, hourly, &yz).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (&v[0]["resolution"], &v[0]["value"], &v[0]["exceed_min"]),
        (&json!("hour"), &json!("55.1"), &json!(20))
    );
    let (s, _) = json_of(&app, &hourly.replace("0001", "0002"), &yz).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "roll-ups are scoped like windows");
    let (s, _) = json_of(&app, &hourly.replace("=hour", "=week"), &yz).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, v) = json_of(&app, "/v1/site/alarms?project=NB-2026-0001", &hs).await;
    assert_eq!(v, json!([]), "haishu sees no yinzhou alarms");
    let (_, v) = json_of(&app, "/v1/site/alarms", &hs).await;
    assert!(v.as_array().expect("arr").iter().all(|a| a["project_id"] == "NB-2026-0002"), "{v}");

    // Pages: the site overview and the project page with its chart; the other district's page is a 404.
    let page = |path: &'static str, token: String| {
        let app = &app;
        async move {
            let r = app.client.get(app.url(path)).bearer_auth(token).send().await.expect("page");
            (r.status(), r.text().await.expect("body"))
        }
    };
    let (s, body) = page("/site", yz.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("设备监测") && body.contains("NB-2026-0001") && !body.contains("NB-2026-0002"));
    let (s, body) = page("/site/projects/NB-2026-0001", yz.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("噪声限值") && body.contains("/static/site.js"), "project page");
    let (s, _) = page("/site/projects/NB-2026-0001", hs.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, body) = page("/site/districts/330212", yz.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("鄞州区") && body.contains("NB-2026-0001"), "district page");
    let (s, _) = page("/site/districts/330212", hs.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "haishu has no site data in yinzhou");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_admission_rules_refuse_impossible_records_with_the_rule_name() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let policy = |version: u64| {
        json!({"jurisdiction": YINZHOU, "version": version, "effective_from": "2026-03-01T00:00:00+08:00",
               "noise_day_limit_db_a": "70", "noise_night_limit_db_a": "50", "night_start": "22:00",
               "night_end": "06:00", "leq_window_min": 20, "pm10_warn_ug_m3": "150", "pm10_alarm_ug_m3": "200",
               "pm_window_min": 60, "pm10_placeholder": true})
    };
    let sign = |s: &mut KeyedChain, version: u64| {
        s.sign(
            new_id(),
            "district/330212/policy/env",
            "env.policy.v1",
            "2026-03-01T00:00:00+08:00",
            obj(policy(version)),
        )
        .expect("sign")
    };
    let v1 = sign(&mut app.city, 1);
    app.ingest_ok(&[v1]).await;
    let again = sign(&mut app.city, 1);
    let by_gateway = sign(&mut w.gw1, 2);
    let cycle = w
        .gw1
        .sign(
            new_id(),
            "project/NB-2026-0001/site/TC-01",
            "crane.cycle.v1",
            "2026-03-02T09:00:00+08:00",
            obj(json!({"project_id": "NB-2026-0001", "device_id": "TC-01", "started_at": "2026-03-02T09:00:00+08:00",
                       "ended_at": "2026-03-02T08:59:00+08:00", "max_load_t": "1", "max_moment_pct": "50",
                       "max_wind_m_s": "3", "radius_m": "20", "height_m": "30", "over_moment_count": 0})),
        )
        .expect("sign");
    let token = app.token(Role::City, None).await;
    let v: Value = app
        .post_events(&token, &json!([again.to_value(), by_gateway.to_value(), cycle.to_value()]))
        .await
        .json()
        .await
        .expect("json");
    let msg = |i: usize| v["results"][i]["message"].as_str().unwrap_or_default().to_owned();
    assert!(msg(0).contains("site.policy_version rule"), "{v}");
    assert!(msg(1).contains("site.policy_signer rule") || v["results"][1]["status"] == "rejected", "{v}");
    assert!(msg(2).contains("site.cycle_order rule"), "{v}");
    let v2 = sign(&mut app.city, 2);
    app.ingest_ok(&[v2]).await;
}

/// A camera status record of NB-2026-0001, signed by its gateway.
fn camera_status(gw: &mut KeyedChain, at: &str, status: &str) -> Envelope {
    let cam = "33020000001320000001";
    gw.sign(
        new_id(),
        &format!("project/NB-2026-0001/site/{cam}"),
        "video.camera.status.v1",
        at,
        obj(json!({"project_id": "NB-2026-0001", "device_id": cam, "status": status})),
    )
    .expect("sign")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_offline_six_of_twenty_four_hours_answers_75_percent_per_day_scoped() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let mut records = Vec::new();
    for h in (0..8).chain(14..24) {
        records.push(camera_status(&mut w.gw1, &format!("2026-03-01T{h:02}:00:00+08:00"), "online"));
    }
    records.insert(8, camera_status(&mut w.gw1, "2026-03-01T08:00:00+08:00", "offline"));
    records.push(camera_status(&mut w.gw1, "2026-03-02T00:00:00+08:00", "online"));
    app.ingest_ok(&records).await;
    app.settle().await;
    let yz = app.token(Role::District, Some(YINZHOU)).await;
    let hs = app.token(Role::District, Some(HAISHU)).await;

    let path =
        "/v1/site/projects/NB-2026-0001/cameras/days?from=2026-03-01&to=2026-03-01&at=2026-03-02T00:00:00%2B08:00";
    let (s, v) = json_of(&app, path, &yz).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["days"],
        json!([{"device_id": "33020000001320000001", "day": "2026-03-01", "online_s": 64_800, "known_s": 86_400,
                "online_permille": 750}])
    );
    // The site page of that day says the same, though the camera was online at the moment asked.
    let (_, p) = json_of(&app, "/v1/site/projects/NB-2026-0001?at=2026-03-01T23:59:59%2B08:00", &yz).await;
    assert_eq!(p["camera_online_permille"], 750, "{p}");
    // Another district's bureau: 404, as for the other site endpoints; a reversed or too long range: 400.
    let (s, _) = json_of(&app, path, &hs).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = json_of(&app, "/v1/site/projects/NB-2026-0001/cameras/days?from=2026-03-02&to=2026-03-01", &yz).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = json_of(&app, "/v1/site/projects/NB-2026-0001/cameras/days?from=2026-01-01&to=2026-03-31", &yz).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // The dashboard's project page shows each camera's share of today (its value depends on today's date).
    let html = app.get("/site/projects/NB-2026-0001", Some(&yz)).await.text().await.expect("page");
    assert!(html.contains("今日在线率") && html.contains("33020000001320000001"), "{html}");
    // … and of the last 7 and 30 days: the camera has been silent since its last report (online, 2026-03-02),
    // so all of that time counts offline once the silence interval has passed.
    assert!(html.contains("近7日在线率") && html.contains("近30日在线率"), "{html}");
    let row = html
        .split("<tr><td class=\"mono\">33020000001320000001</td>")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .expect("camera row");
    assert_eq!(row.matches("<td class=\"num\">0.0%</td>").count(), 3, "today, 7 and 30 days: {row}");
}

/// A district's page draws the 12 monitors with the highest windows of the last 24 hours, not one line per monitor
/// (a district has hundreds: pages of megabytes at a day's end), and says how many there are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_chart_draws_the_twelve_highest_monitors_and_counts_them_all() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    // Three hours ago, in Shanghai time: inside the page's last 24 hours.
    let at = (time::OffsetDateTime::now_utc() - time::Duration::hours(3))
        .to_offset(time::UtcOffset::from_hms(8, 0, 0).expect("offset"));
    let at = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:00+08:00",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    );
    let envs: Vec<Envelope> = (1..=14)
        .map(|i| {
            let device = format!("DUST-{i:02}");
            w.gw1
                .sign(
                    new_id(),
                    &format!("project/NB-2026-0001/device/{device}"),
                    "env.dust_noise.reading.v1",
                    &at,
                    obj(json!({"project_id": "NB-2026-0001", "device_id": device,
                               "pm10_ug_m3": format!("{}.5", 40 + i), "pm25_ug_m3": "30.1", "noise_db_a": "61.2"})),
                )
                .expect("sign")
        })
        .collect();
    app.ingest_ok(&envs).await;
    app.settle().await;
    let yz = app.token(Role::District, Some(YINZHOU)).await;
    let resp = app.client.get(app.url("/site/districts/330212")).bearer_auth(&yz).send().await.expect("page");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.expect("body");
    assert!(body.contains("最高的 12 个监测点（共 14 个）"), "the chart says what it draws: {body}");
    // PM10 54.5 (DUST-14) … 43.5 (DUST-03) drawn; 42.5 and 41.5 (DUST-02, DUST-01) not.
    let pm10 = &body[body.find("PM10 小时均值").expect("the PM10 chart")..];
    let pm10 = &pm10[..pm10.find("</svg>").expect("its end")];
    for i in 3..=14 {
        assert!(pm10.contains(&format!("<title>NB-2026-0001 DUST-{i:02}</title>")), "DUST-{i:02} drawn");
    }
    for i in 1..=2 {
        assert!(!pm10.contains(&format!("<title>NB-2026-0001 DUST-{i:02}</title>")), "DUST-{i:02} not drawn");
    }
    // Every monitor's windows from the series endpoint, in pages that say when another follows.
    let all: Value =
        app.get("/v1/site/districts/330212/series?metric=pm10", Some(&yz)).await.json().await.expect("json");
    let all = all.as_array().expect("array").clone();
    assert!(all.len() >= 14, "{all:?}");
    let mut paged: Vec<Value> = Vec::new();
    let mut next = Some("/v1/site/districts/330212/series?metric=pm10&limit=5".to_owned());
    while let Some(path) = next.take() {
        let r = app.get(&path, Some(&yz)).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        next = next_link(&r);
        let page: Value = r.json().await.expect("json");
        let page = page.as_array().expect("array");
        assert!(!page.is_empty() && page.len() <= 5, "{path}");
        paged.extend(page.iter().cloned());
        assert!(paged.len() <= all.len(), "the pages end");
    }
    assert_eq!(paged, all, "the pages, followed, are the whole series in order");
    for bad in ["limit=0", "limit=20001", "after_project=NB-2026-0001", "after_device=DUST-01&after_start_us=1"] {
        let r = app.get(&format!("/v1/site/districts/330212/series?{bad}"), Some(&yz)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}
