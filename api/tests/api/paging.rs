//! Lists that stay small in a big city (issue 16): `/v1/projects` pages by keyset with a `Link: rel="next"`
//! header, the overview and the district pages read a bounded number of rows whatever the number of projects,
//! and every page keeps the caller's scope. Work is counted (rows the read database returned), not timed.

use serde_json::{Value, json};
use siteledger_api::auth::Role;
use siteledger_signer::Envelope;

use crate::helpers::{TestApp, new_id, next_link, obj};
use crate::world::{self, HAISHU, World, YINZHOU, alarm};

/// 江北区, a third district for the bulk projects.
const JIANGBEI: &str = "330205";

/// Bulk projects registered beside the world's three.
const BULK: usize = 240;

/// The world's three projects and [`BULK`] more over 鄞州, 海曙 and 江北, the general contractor alternating
/// between the world's contractors B and C; open alarms on NB-2026-0001 (three) and NB-2026-0002 (one).
async fn big_city() -> (TestApp, World) {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let mut envs: Vec<Envelope> = Vec::new();
    for i in 0..BULK {
        let district = [YINZHOU, HAISHU, JIANGBEI][i % 3];
        let gc = if i % 2 == 0 { &w.contractor_b } else { &w.contractor_c };
        let payload = json!({
            "project_id": format!("NB-2026-{:04}", 1000 + i), "name": format!("批量项目{i}号"), "district": district,
            "central_urban": false, "floor_area_m2": "1000.00", "contract_cost_fen": 1_000_000_i64,
            "start_date": "2026-03-01",
            "participants": [{"role": "owner", "credit_code": w.owner_a}, {"role": "general_contractor", "credit_code": gc}],
        });
        envs.push(
            app.city
                .sign(
                    new_id(),
                    "registry/orgs",
                    "registry.project.registered.v1",
                    "2026-01-05T09:00:00+08:00",
                    obj(payload),
                )
                .expect("sign"),
        );
    }
    for n in 1..=3 {
        envs.push(alarm(&mut w.gw1, "NB-2026-0001", n));
    }
    envs.push(alarm(&mut w.gw2, "NB-2026-0002", 4));
    app.ingest_ok(&envs).await;
    app.settle().await;
    (app, w)
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array().expect("array").iter().map(|p| p["project_id"].as_str().expect("id").to_owned()).collect()
}

/// Rows the read database returned while answering `path`: the least of three tries, because background readers
/// (the projector's bookkeeping, periodic recomputations) share the counter and only ever add to it.
async fn rows_read(app: &TestApp, path: &str, token: &str) -> u64 {
    let mut least = u64::MAX;
    for _ in 0..3 {
        let before = app.server.state.read.query_work();
        let resp = app.get(path, Some(token)).await;
        assert_eq!(resp.status(), 200, "{path}");
        resp.bytes().await.expect("body");
        least = least.min(app.server.state.read.query_work().since(before).rows);
    }
    least
}

/// Walks `first` and its `next` links; returns the ids of every page in order, and the number of pages.
async fn walk(app: &TestApp, token: &str, first: &str, page_size: usize) -> (Vec<String>, usize) {
    let (mut all, mut pages, mut path) = (Vec::new(), 0, Some(first.to_owned()));
    while let Some(p) = path {
        let resp = app.get(&p, Some(token)).await;
        assert_eq!(resp.status(), 200, "{p}");
        path = next_link(&resp);
        let page = ids(&resp.json::<Value>().await.expect("json"));
        assert!(page.len() <= page_size, "{p}: {} rows", page.len());
        assert!(path.is_none() || page.len() == page_size, "{p}: a short page with a next link");
        all.extend(page);
        pages += 1;
        assert!(pages <= BULK + 3, "paging does not end");
    }
    (all, pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_projects_walks_every_visible_project_exactly_once_in_every_scope() {
    let (app, w) = big_city().await;
    let tokens = [
        app.token(Role::City, None).await,
        app.token(Role::District, Some(YINZHOU)).await,
        app.token(Role::District, Some(HAISHU)).await,
        app.token(Role::Enterprise, Some(&w.contractor_b)).await,
        app.token(Role::Enterprise, Some(&w.contractor_c)).await,
    ];
    for token in &tokens {
        // The unpaged answer is still every visible project (the v1 contract).
        let unpaged: Value = app.get("/v1/projects", Some(token)).await.json().await.expect("json");
        let unpaged = ids(&unpaged);
        let (paged, pages) = walk(&app, token, "/v1/projects?limit=50", 50).await;
        assert_eq!(paged, unpaged, "pages in id order, each project once, the same set as unpaged");
        assert_eq!(pages, unpaged.len().div_ceil(50).max(1));
        // With a district filter the links keep it.
        let (yz, _) = walk(&app, token, &format!("/v1/projects?district={YINZHOU}&limit=17"), 17).await;
        let unpaged_yz: Value =
            app.get(&format!("/v1/projects?district={YINZHOU}"), Some(token)).await.json().await.expect("json");
        assert_eq!(yz, ids(&unpaged_yz));
    }
    // The scopes themselves: the city sees all, a district its own, a contractor its projects.
    let count = |v: Value| v.as_array().expect("array").len();
    assert_eq!(count(app.get("/v1/projects", Some(&tokens[0])).await.json().await.expect("json")), BULK + 3);
    assert_eq!(count(app.get("/v1/projects", Some(&tokens[2])).await.json().await.expect("json")), BULK / 3 + 1);
    let (b_pages, _) = walk(&app, &tokens[3], "/v1/projects?limit=50", 50).await;
    assert_eq!(b_pages.len(), BULK / 2 + 1, "contractor B: every second bulk project and NB-2026-0001");
    // A district bureau paging from another district's project id still sees only its own projects.
    let (haishu, _) = walk(&app, &tokens[2], "/v1/projects?after=NB-2026-0001&limit=30", 30).await;
    assert!(!haishu.iter().any(|id| id == "NB-2026-0003" || id == "NB-2026-1000"), "{haishu:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_projects_reads_its_own_rows_not_every_project_in_the_city() {
    let (app, _w) = big_city().await;
    let city = app.token(Role::City, None).await;
    let path = "/v1/projects?limit=50&after=NB-2026-1100";
    let resp = app.get(path, Some(&city)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(next_link(&resp).as_deref(), Some("/v1/projects?limit=50&after=NB-2026-1150"));
    let page = ids(&resp.json::<Value>().await.expect("json"));
    assert_eq!(page.first().map(String::as_str), Some("NB-2026-1101"));
    assert_eq!(page.len(), 50);
    // The page and the one row that says a next page exists.
    let rows = rows_read(&app, path, &city).await;
    assert!(rows <= 51, "a page of 50 read {rows} rows of a city of {}", BULK + 3);
    // Bad paging input is a clear 400, not a silent default.
    for bad in ["/v1/projects?limit=0", "/v1/projects?limit=1001", "/v1/projects?limit=ten"] {
        let resp = app.get(bad, Some(&city)).await;
        assert_eq!(resp.status(), 400, "{bad}");
        assert!(resp.text().await.expect("body").contains("limit"), "{bad}: the error names the parameter");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_reads_a_bounded_number_of_rows_however_many_projects_the_city_has() {
    let (app, _w) = big_city().await;
    let city = app.token(Role::City, None).await;
    let html = app.get("/", Some(&city)).await.text().await.expect("html");
    // Eleven districts, four grouped counts per district, 12 latest alarms, their labels, 10 projects with
    // open alarms: nothing that grows with the projects.
    let bound = 11 + 4 * 11 + 12 + 12 + 10;
    let rows = rows_read(&app, "/", &city).await;
    assert!(rows <= bound, "the overview read {rows} rows for {} projects (bound {bound})", BULK + 3);
    assert!(html.contains(&format!("id=\"total-projects\">{}<", BULK + 3)), "the totals still count every project");
    assert!(!html.contains("批量项目"), "no bulk project without alarms is listed on the overview");
    // The projects with open alarms, most first, linked to their pages.
    let hot = &html[html.find("id=\"hot-projects\"").expect("hot list")..];
    let (first, second) = (hot.find("/projects/NB-2026-0001").expect("0001"), hot.find("/projects/NB-2026-0002"));
    assert!(first < second.expect("0002"), "NB-2026-0001 (3 open) before NB-2026-0002 (1 open)");
    // A district bureau's short list keeps to its district.
    let haishu = app.token(Role::District, Some(HAISHU)).await;
    let html = app.get("/", Some(&haishu)).await.text().await.expect("html");
    assert!(html.contains("/projects/NB-2026-0002") && !html.contains("NB-2026-0001"), "haishu sees only its own");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_page_lists_its_projects_in_bounded_pages_within_scope() {
    let (app, _w) = big_city().await;
    let yinzhou = app.token(Role::District, Some(YINZHOU)).await;
    let mut seen: Vec<String> = Vec::new();
    let mut path = Some(format!("/districts/{YINZHOU}"));
    while let Some(p) = path {
        let resp = app.get(&p, Some(&yinzhou)).await;
        assert_eq!(resp.status(), 200, "{p}");
        let html = resp.text().await.expect("html");
        // A page of 50 (and the lookahead row), each with its contractors and kinds, plus the district counts.
        let rows = rows_read(&app, &p, &yinzhou).await;
        assert!(rows <= 51 + 50 * 6 + 11 * 5 + 50, "{p} read {rows} rows");
        let page: Vec<String> = html
            .match_indices("<td><a href=\"/projects/")
            .map(|(i, m)| html[i + m.len()..].split('"').next().expect("id").to_owned())
            .collect();
        assert!(page.len() <= 50, "{p}: {} projects on one page", page.len());
        seen.extend(page);
        path = html
            .find("rel=\"next\" href=\"")
            .map(|i| html[i + 17..].split('"').next().expect("href").replace("&amp;", "&"));
    }
    let all: Value =
        app.get(&format!("/v1/projects?district={YINZHOU}"), Some(&yinzhou)).await.json().await.expect("json");
    assert_eq!(seen, ids(&all), "the pages list every project of the district once, in id order");
    assert_eq!(seen.len(), BULK / 3 + 2);
    // Another district's page stays a 404 for this bureau, on any page.
    let other = app.get(&format!("/districts/{HAISHU}?after=NB-2026-0001"), Some(&yinzhou)).await;
    assert_eq!(other.status(), 404);
}

/// `/v1/keys` pages in enrolment order by `limit` and `after` (the last key id), with a `Link: rel="next"` header
/// while more follow: the pages hold every key the unpaged answer holds, once, in its order, in every scope; a key
/// the caller does not see is no cursor; `problems=true` keeps the keys with gaps or equivocations. The dashboard's
/// `/keys` counts every key and lists a page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_keys_walks_every_visible_key_once_and_the_keys_page_counts_them_all() {
    let (app, w) = big_city().await;
    let key_ids = |v: &Value| -> Vec<String> {
        v.as_array().expect("array").iter().map(|k| k["key_id"].as_str().expect("id").to_owned()).collect()
    };
    let city = app.token(Role::City, None).await;
    let tokens = [
        city.clone(),
        app.token(Role::District, Some(YINZHOU)).await,
        app.token(Role::Enterprise, Some(&w.contractor_b)).await,
    ];
    for token in &tokens {
        let unpaged: Value = app.get("/v1/keys", Some(token)).await.json().await.expect("json");
        let unpaged = key_ids(&unpaged);
        let (mut paged, mut path) = (Vec::new(), Some("/v1/keys?limit=2".to_owned()));
        while let Some(p) = path {
            let resp = app.get(&p, Some(token)).await;
            assert_eq!(resp.status(), 200, "{p}");
            path = next_link(&resp);
            let page = key_ids(&resp.json::<Value>().await.expect("json"));
            assert!(page.len() <= 2 && (path.is_none() || page.len() == 2), "{p}: {page:?}");
            paged.extend(page);
            assert!(paged.len() <= unpaged.len(), "paging does not end");
        }
        assert_eq!(paged, unpaged);
    }
    let all: Value = app.get("/v1/keys", Some(&city)).await.json().await.expect("json");
    let all_ids = key_ids(&all);
    assert!(all_ids.len() >= 3, "{all_ids:?}");
    // A key outside the caller's scope is no cursor; limits are checked.
    let yinzhou_ids = key_ids(&app.get("/v1/keys", Some(&tokens[1])).await.json::<Value>().await.expect("json"));
    let hidden = all_ids.iter().find(|k| !yinzhou_ids.contains(k)).expect("a key 鄞州 does not see");
    for (path, token) in [
        (format!("/v1/keys?after={hidden}"), &tokens[1]),
        ("/v1/keys?after=0000".to_owned(), &city),
        ("/v1/keys?limit=0".to_owned(), &city),
        ("/v1/keys?limit=1001".to_owned(), &city),
    ] {
        let resp = app.get(&path, Some(token)).await;
        assert_eq!(resp.status(), 400, "{path}");
    }
    let problems: Value = app.get("/v1/keys?problems=true", Some(&city)).await.json().await.expect("json");
    let expected: Vec<String> = all
        .as_array()
        .expect("array")
        .iter()
        .filter(|k| k["gaps"].as_u64() > Some(0) || k["equivocations"].as_u64() > Some(0))
        .map(|k| k["key_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(key_ids(&problems), expected);

    // The dashboard: every key counted, a page listed (the city has fewer keys than a page holds).
    let page = app.client.get(app.url("/keys")).header("cookie", format!("siteledger_token={city}")).send().await;
    let page = page.expect("page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    let total = format!("<span class=\"stat-value\">{}</span>", all_ids.len());
    assert!(html.contains(&total), "the total {total} on /keys");
    assert_eq!(html.matches("<tr>").count() - 1, all_ids.len(), "a row per key (and the header's)");
}

/// `/ratings` counts every project but lists at most 200 (those below their requirement and those not rated first)
/// and says so; `?district=` lists every project of that district.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ratings_page_lists_a_bounded_page_and_a_district_in_full() {
    let (app, _w) = big_city().await;
    let city = app.token(Role::City, None).await;
    let page = |path: &'static str| {
        let (app, city) = (&app, city.clone());
        async move {
            let resp = app.client.get(app.url(path)).header("cookie", format!("siteledger_token={city}")).send();
            let resp = resp.await.expect("page");
            assert_eq!(resp.status(), 200, "{path}");
            let html = resp.text().await.expect("html");
            let table = &html[html.find("id=\"ratings\"").expect("the ratings table")..];
            let table = &table[..table.find("</table>").expect("its end")];
            (table.matches("/ratings/projects/").count(), html)
        }
    };
    let (listed, html) = page("/ratings").await;
    assert_eq!(listed, 200, "a page of the city's {} projects", BULK + 3);
    assert!(html.contains(&format!("共 {} 个", BULK + 3)), "the page says how many there are");
    let (listed, html) = page("/ratings?district=330205").await;
    assert_eq!(listed, BULK / 3, "every project of 江北");
    assert!(html.contains("全市 all districts"));
}

/// The answers that cover a whole scope (the overview pages of `/site`, a district, `/workforce`, `/ratings` and
/// `/keys`, and the unpaged JSON of projects, keys, the site overview and the arrears summary) are computed once for
/// the callers of a scope asking together (issue 16: fifty clients must not each total the city), never shared
/// across scopes, and a record folded after an answer was kept is in the next answer. (Also: a stored summary pass
/// follows a batch within the pause, not at the next retention tick a minute later.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_of_a_scope_share_one_computation_never_across_scopes_and_see_each_folded_record() {
    let (mut app, mut w) = big_city().await;
    app.ingest_ok(&[world::reading(&mut w.gw1, "NB-2026-0001", 1), world::reading(&mut w.gw2, "NB-2026-0002", 1)])
        .await;
    app.settle().await;
    let city = app.token(Role::City, None).await;
    let haishu = app.token(Role::District, Some(HAISHU)).await;
    let overview = "/v1/site/overview?day=2026-03-02";
    let listed = |v: &Value| -> Vec<String> {
        v["projects"]
            .as_array()
            .expect("projects")
            .iter()
            .map(|p| p["project_id"].as_str().expect("id").to_owned())
            .collect()
    };
    // No stored summary pass may land during the bursts below (it would be a reason to compute again): wait until
    // the readings' summaries are stored. A pass follows a batch within the pause (5 s), so half a minute is ample;
    // a batch folded just after a pass ended used to wait for the next retention tick, a minute after start.
    for _ in 0..300 {
        let v: Value = app.get(overview, Some(&city)).await.json().await.expect("json");
        let due = app.server.state.read.site_summaries_due().await.expect("due");
        if v["pending"] == 0 && due.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(app.server.state.read.site_summaries_due().await.expect("due").is_empty(), "the summaries were stored");

    let district = format!("/site/districts/{YINZHOU}");
    // (path, reads the clock: kept for the second it was computed in)
    let paths: [(&str, bool); 10] = [
        ("/site", false),
        (overview, false),
        ("/v1/projects", false),
        (&district, true),
        ("/workforce", false),
        ("/ratings", false),
        ("/keys", true),
        ("/v1/keys", true),
        ("/v1/workforce/arrears/summary", false),
        ("/v1/workforce/arrears/summary?by=district", false),
    ];
    for (path, clock) in paths {
        app.server.state.answers.clear();
        let before = app.server.state.answers.computed();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..30 {
            let (client, url) = (app.client.clone(), app.url(path));
            let (token, of_haishu) = if i % 3 == 0 { (haishu.clone(), true) } else { (city.clone(), false) };
            tasks.spawn(async move {
                let resp = client.get(url).bearer_auth(token).send().await.expect("request");
                (of_haishu, resp.status().as_u16(), resp.text().await.expect("body"))
            });
        }
        let mut bodies: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        while let Some(done) = tasks.join_next().await {
            let (of_haishu, status, body) = done.expect("task");
            // 海曙 has no site data in 鄞州: its district page is a 404, computed (and shared) like any other.
            let expected = if of_haishu && path == district { 404 } else { 200 };
            assert_eq!(status, expected, "{path} (海曙: {of_haishu}): {body}");
            bodies[usize::from(of_haishu)].push(body);
        }
        let computed = app.server.state.answers.computed() - before;
        // One per scope; the answers that read the clock once more per second the burst spans (a busy test machine
        // may stretch 30 requests over a second or two).
        if clock {
            assert!((2..=6).contains(&computed), "{path}: {computed} computations for 30 callers of 2 scopes");
        } else {
            assert_eq!(computed, 2, "{path}: one computation per scope for 30 callers");
        }
        if path.starts_with("/v1/") {
            for of_scope in &bodies {
                assert!(of_scope.windows(2).all(|b| b[0] == b[1]), "{path}: one answer per scope");
            }
            if !path.contains("arrears") {
                // (No wage facts in this city: both arrears summaries are empty.)
                assert_ne!(bodies[0][0], bodies[1][0], "{path}: 海曙's answer is not the city's");
            }
        }
        if path == overview {
            let of = |b: &str| listed(&serde_json::from_str(b).expect("json"));
            assert_eq!(of(&bodies[1][0]), vec!["NB-2026-0002"], "海曙 sees its own project only");
            assert_eq!(of(&bodies[0][0]), vec!["NB-2026-0002", "NB-2026-0001"], "by district, 海曙 330203 first");
        }
    }

    // Operators see the same count.
    let metrics = app.get("/metrics", None).await.text().await.expect("metrics");
    let shared = format!("siteledger_shared_answers_computed_total {}\n", app.server.state.answers.computed());
    assert!(metrics.contains(&shared), "{shared} in\n{metrics}");

    // A project registered and read after the answers were kept is in the next ones, for every scope it is in.
    let payload = json!({
        "project_id": "NB-2026-0999", "name": "后来的项目", "district": HAISHU, "central_urban": false,
        "floor_area_m2": "1000.00", "contract_cost_fen": 1_000_000_i64, "start_date": "2026-03-01",
        "participants": [{"role": "owner", "credit_code": w.owner_a}, {"role": "general_contractor", "credit_code": w.contractor_b}],
    });
    let registered = app
        .city
        .sign(new_id(), "registry/orgs", "registry.project.registered.v1", "2026-01-05T09:00:00+08:00", obj(payload))
        .expect("sign");
    app.ingest_ok(&[registered]).await;
    // A newer reading of 海曙's monitor (PM10 70.5, it was 41.5).
    app.ingest_ok(&[world::reading(&mut w.gw2, "NB-2026-0002", 30)]).await;
    app.settle().await;
    for token in [&city, &haishu] {
        let v: Value = app.get(overview, Some(token)).await.json().await.expect("json");
        let p = v["projects"].as_array().expect("projects").iter().find(|p| p["project_id"] == "NB-2026-0002");
        assert_eq!(p.expect("0002")["pm10"], "70.5", "the newer reading is the latest value: {v}");
        let v: Value = app.get("/v1/projects", Some(token)).await.json().await.expect("json");
        assert!(ids(&v).contains(&"NB-2026-0999".to_owned()), "the new project is listed");
        let html = app.get("/ratings?district=330203", Some(token)).await.text().await.expect("html");
        assert!(html.contains("NB-2026-0999"), "the ratings page lists the new project");
    }
}
