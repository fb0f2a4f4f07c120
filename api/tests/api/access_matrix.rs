//! The access-control matrix: every path of the server's own `/openapi.json` and every dashboard page, asked by
//! every role, over a city with data in every area ([`crate::world::build_city`]). One table ([`MATRIX`]) holds
//! the expected answer of each cell; it is rendered into `docs/ACCESS.md` (compared byte for byte; rewrite with
//! `UPDATE_ACCESS_DOC=1`). For every answer the test also checks that no project outside the role's scope is
//! named (id or name, unless the request itself named it) and that no ID number (17 digits + digit/X with a valid
//! check character) or bank card number (16–19 digits) appears, unless the role is entitled to the plaintext.
//!
//! The table must cover every `(method, path)` of `/openapi.json` and every route of the dashboard's and the
//! people's routers (`api/src/dashboard/*.rs`, `api/src/people/*.rs`): a new endpoint fails the test until its
//! row is written.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{Value, json};
use siteledger_api::auth::Role as TokenRole;
use siteledger_api::config::Config;
use siteledger_api::server::RunningServer;

use crate::helpers::{TestApp, city_key};
use crate::world::{self, City, HAISHU, P1, P2, P3, YINZHOU};

/// What a cell expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 200, and nothing outside the role's scope.
    Scoped,
    /// 200, public by design (the transparency log holds every record): any project may be named.
    Public,
    /// 200 with the plaintext of a person: only the city bureau and the enterprise that took the person in.
    Plaintext,
    /// 303 to the login page.
    Login,
    /// This status.
    Status(u16),
}

use Expect::{Login as L, Plaintext as T, Public as P, Scoped as S};
const R: Expect = Expect::Status(303);
const U: Expect = Expect::Status(401);
const F: Expect = Expect::Status(403);
const N: Expect = Expect::Status(404);
const C: Expect = Expect::Status(201);

impl Expect {
    fn cell(self) -> String {
        match self {
            Expect::Scoped => "200 scoped".into(),
            Expect::Public => "200 public".into(),
            Expect::Plaintext => "200 plaintext".into(),
            Expect::Login => "303 → login".into(),
            Expect::Status(s) => s.to_string(),
        }
    }
}

/// The roles, in the table's column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    City,
    DistrictOwn,
    DistrictOther,
    EnterpriseOwn,
    EnterpriseOther,
    Auditor,
    Gateway,
    Anonymous,
    DemoVisitor,
}

const ROLES: [Role; 9] = [
    Role::City,
    Role::DistrictOwn,
    Role::DistrictOther,
    Role::EnterpriseOwn,
    Role::EnterpriseOther,
    Role::Auditor,
    Role::Gateway,
    Role::Anonymous,
    Role::DemoVisitor,
];

impl Role {
    fn header(self) -> &'static str {
        match self {
            Role::City => "city",
            Role::DistrictOwn => "district (own)",
            Role::DistrictOther => "district (other)",
            Role::EnterpriseOwn => "enterprise (own)",
            Role::EnterpriseOther => "enterprise (other)",
            Role::Auditor => "auditor",
            Role::Gateway => "gateway",
            Role::Anonymous => "anonymous",
            Role::DemoVisitor => "demo visitor",
        }
    }

    /// The projects this role may see.
    fn projects(self) -> &'static [&'static str] {
        match self {
            Role::City | Role::Auditor | Role::DemoVisitor => &[P1, P2, P3],
            Role::DistrictOwn => &[P1, P3],
            Role::DistrictOther => &[P2],
            Role::EnterpriseOwn => &[P1],
            Role::EnterpriseOther => &[P2, P3],
            Role::Gateway | Role::Anonymous => &[],
        }
    }
}

/// A request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    None,
    /// `[]`.
    EmptyBatch,
    /// A new person (fresh ID number).
    Person,
    /// A new card (fresh number) for the subject person.
    Card,
    /// A national-platform import of one new worker onto P1 as C1.
    Import,
    /// A court package of P1's record.
    Export,
    /// The login form with the role's token.
    LoginForm,
    /// The subject is a person taken in just before the request (DELETE erases it).
    FreshPerson,
    /// Raw bytes never uploaded before (an attachment).
    Blob,
    /// A person's enrolment request for a fresh browser key, as staff of C1.
    Enrol,
    /// A challenge for the city bureau's key (an organisation's key may sign in).
    Challenge,
    /// The city bureau's key signs a fresh challenge: the session opens whatever token the caller holds.
    SignedChallenge,
}

struct Row {
    method: &'static str,
    path: &'static str,
    query: &'static str,
    body: Body,
    /// Answers entitled to P1 (the subject project) must name it: the world gives the endpoint real content.
    names_subject: bool,
    cells: [Expect; 9],
}

const fn row(method: &'static str, path: &'static str, query: &'static str, cells: [Expect; 9]) -> Row {
    Row { method, path, query, body: Body::None, names_subject: false, cells }
}

const fn named(method: &'static str, path: &'static str, query: &'static str, cells: [Expect; 9]) -> Row {
    Row { method, path, query, body: Body::None, names_subject: true, cells }
}

const fn with(method: &'static str, path: &'static str, body: Body, names_subject: bool, cells: [Expect; 9]) -> Row {
    Row { method, path, query: "", body, names_subject, cells }
}

/// Every role scoped, anonymous refused (API).
const SCOPED: [Expect; 9] = [S, S, S, S, S, S, S, U, S];
/// The subject project's own endpoints (API): a project outside the scope answers 404 like a missing one.
const PROJECT: [Expect; 9] = [S, S, N, S, N, S, N, U, S];
/// Every role scoped, anonymous sent to the login page (dashboard).
const PAGE: [Expect; 9] = [S, S, S, S, S, S, S, L, S];
/// The subject project's pages.
const PROJECT_PAGE: [Expect; 9] = [S, S, N, S, N, S, N, L, S];
const PUBLIC: [Expect; 9] = [P; 9];

/// The matrix. Path parameters name the subjects: project P1 (鄞州, contractor C1), district 鄞州, enterprise C1, a
/// record of P1, a person C1 took in, leaf 0. "own" roles have the subject in their scope, "other" roles do not.
#[rustfmt::skip]
const MATRIX: &[Row] = &[
    // operations and the document itself
    row("GET", "/healthz", "", PUBLIC),
    row("GET", "/readyz", "", PUBLIC),
    row("GET", "/metrics", "", PUBLIC),
    row("GET", "/openapi.json", "", PUBLIC),
    // transparency: the public log
    row("GET", "/v1/log/checkpoint", "", PUBLIC),
    row("GET", "/v1/log/key", "", PUBLIC),
    row("GET", "/v1/log/leaves", "from=0&limit=1000", PUBLIC),
    row("GET", "/v1/log/leaves/{index}", "", PUBLIC),
    row("GET", "/v1/log/proof/inclusion", "index=0&size={size}", PUBLIC),
    row("GET", "/v1/log/proof/consistency", "from=1&to={size}", PUBLIC),
    row("GET", "/v1/evidence/{event_id}", "", PUBLIC),
    // ingest and scoped queries
    with("POST", "/v1/events", Body::EmptyBatch, false, [S, S, S, S, S, F, S, U, F]),
    // attachments (附件): any writer uploads; a file is served to whoever may read a record citing it (P1's test
    // report cites the subject PDF), 404 to everyone else
    with("POST", "/v1/blobs", Body::Blob, false, [C, C, C, C, C, F, C, U, F]),
    row("GET", "/v1/blobs/{sha256}", "", PROJECT),
    named("GET", "/v1/events", "limit=1000", SCOPED),
    named("GET", "/v1/feed", "after=0", SCOPED),
    row("GET", "/v1/whoami", "", SCOPED),
    row("GET", "/v1/districts", "", SCOPED),
    named("GET", "/v1/projects", "", SCOPED),
    named("GET", "/v1/projects/{id}", "", PROJECT),
    named("GET", "/v1/projects/{id}/events", "", PROJECT),
    named("GET", "/v1/alarms", "", SCOPED),
    named("GET", "/v1/keys", "", SCOPED),
    // 实名制与工资
    with("POST", "/v1/workforce/people", Body::Person, false, [S, F, F, S, S, F, F, U, F]),
    row("GET", "/v1/workforce/people/{person_ref}", "purpose=inspection", [T, N, N, T, N, N, N, U, N]),
    with("DELETE", "/v1/workforce/people/{person_ref}", Body::FreshPerson, false, [S, N, N, S, N, N, N, U, N]),
    with("POST", "/v1/workforce/people/{person_ref}/cards", Body::Card, false, [F, N, N, S, N, N, N, U, N]),
    row("GET", "/v1/workforce/vault/access", "", [S, F, F, F, F, S, F, U, S]),
    named("GET", "/v1/workforce/roster", "", SCOPED),
    named("GET", "/v1/workforce/attendance", "project={P1}&day=2026-04-01", SCOPED),
    named("GET", "/v1/workforce/payroll", "project={P1}&month=2026-04", SCOPED),
    named("GET", "/v1/workforce/arrears", "", SCOPED),
    named("GET", "/v1/workforce/arrears/summary", "", SCOPED),
    with("POST", "/v1/workforce/import/project-workers", Body::Import, false, [F, F, F, S, F, F, F, U, F]),
    named("GET", "/v1/workforce/export/payroll", "project={P1}&month=2026-04", SCOPED),
    // 设备监测
    named("GET", "/v1/site/overview", "", SCOPED),
    named("GET", "/v1/site/projects/{id}", "", PROJECT),
    row("GET", "/v1/site/projects/{id}/series", "", PROJECT),
    row("GET", "/v1/site/projects/{id}/cameras/days", "", PROJECT),
    row("GET", "/v1/site/districts/{code}/series", "metric=noise", SCOPED),
    named("GET", "/v1/site/alarms", "", SCOPED),
    // 监管协同
    named("GET", "/v1/supervision/command", "", SCOPED),
    named("GET", "/v1/supervision/inspections", "", SCOPED),
    named("GET", "/v1/supervision/stop-orders", "", SCOPED),
    named("GET", "/v1/supervision/rectifications", "", SCOPED),
    named("GET", "/v1/supervision/testing/reports", "", SCOPED),
    named("GET", "/v1/supervision/testing/unqualified", "", SCOPED),
    row("GET", "/v1/supervision/testing/gaps", "", SCOPED),
    named("GET", "/v1/supervision/hazards", "", SCOPED),
    named("GET", "/v1/supervision/bim/nodes", "", SCOPED),
    named("GET", "/v1/tasks", "", SCOPED),
    // 星级评定、信用评价与年度督查
    named("GET", "/v1/ratings", "", SCOPED),
    named("GET", "/v1/ratings/{project_id}", "", PROJECT),
    named("GET", "/v1/ratings/{project_id}/compute", "as_of=2026-03-26", PROJECT),
    row("GET", "/v1/rating-policies", "", SCOPED),
    named("GET", "/v1/credit", "", SCOPED),
    row("GET", "/v1/reports", "", SCOPED),
    named("GET", "/v1/reports/annual", "year=2026&district={D}&format=json", [S, S, F, F, F, S, F, U, S]),
    named("GET", "/v1/replay/projects/{project_id}", "", PROJECT),
    named("GET", "/v1/replay/enterprises/{credit_code}", "", [S, N, N, S, N, S, N, U, S]),
    with("POST", "/v1/evidence/export", Body::Export, true, PROJECT),
    // the dashboard
    named("GET", "/", "", PAGE),
    named("GET", "/districts/{code}", "", [S, S, N, S, S, S, N, L, S]),
    named("GET", "/projects/{id}", "", PROJECT_PAGE),
    named("GET", "/verify/{event_id}", "", PROJECT_PAGE),
    named("GET", "/alarms", "", PAGE),
    named("GET", "/keys", "", PAGE),
    row("GET", "/login", "", PUBLIC),
    with("POST", "/login", Body::LoginForm, false, [R, R, R, R, R, R, F, U, U]),
    row("POST", "/logout", "", [R; 9]),
    row("GET", "/static/{name}", "", PUBLIC),
    named("GET", "/workforce", "", PAGE),
    named("GET", "/site", "", PAGE),
    named("GET", "/site/districts/{code}", "", [S, S, N, S, S, S, N, L, S]),
    named("GET", "/site/projects/{id}", "", PROJECT_PAGE),
    named("GET", "/command", "", PAGE),
    named("GET", "/command/rectifications", "", PAGE),
    named("GET", "/command/testing", "", PAGE),
    named("GET", "/command/hazards", "", PAGE),
    named("GET", "/command/bim", "", PAGE),
    named("GET", "/command/tasks", "", PAGE),
    named("GET", "/ratings", "", PAGE),
    named("GET", "/ratings/projects/{id}", "", PROJECT_PAGE),
    named("GET", "/ratings/credit/{code}", "", [S, S, N, S, N, S, N, L, S]),
    // people sign in the browser (issue 15, docs/PEOPLE.md): anyone may ask for enrolment and sign in with an
    // enrolled key; an organisation's administrator lists its own requests; a gateway's key (P1's) is answered
    // only to callers who may see its project
    with("POST", "/v1/people/enrolments", Body::Enrol, false, [C; 9]),
    row("GET", "/v1/people/enrolments", "", [S, S, S, S, S, F, F, U, F]),
    named("GET", "/v1/people/keys/{key_id}", "", PROJECT),
    with("POST", "/v1/people/challenge", Body::Challenge, false, PUBLIC),
    with("POST", "/v1/people/session", Body::SignedChallenge, false, PUBLIC),
    row("GET", "/people", "", PUBLIC),
    row("GET", "/people/admin", "", [S, S, S, S, S, F, F, P, P]),
    row("GET", "/people/forms/{form}", "", PAGE),
];

// ---------------------------------------------------------------------------------------------------------------
// docs/ACCESS.md

const DOC_HEAD: &str = r#"# Access control: who sees what

This file is rendered from the table in `api/tests/api/access_matrix.rs` (`UPDATE_ACCESS_DOC=1 cargo nextest run
-p siteledger-api --test api access_matrix`); the test fails when the two differ, and when `/openapi.json`, the
dashboard's or the people's routers gain a path the table does not cover. The test builds a signed city with data in every area
(two districts, six enterprises, three projects, workers in the vault, site readings, supervision records, rating
policy, credit rules, decisions and reports), asks every path as every role, compares the status with the table,
and checks every answer: no project outside the role's scope is named (by id or name, unless the request named
it), and no ID number (17 digits + check character) or bank card number (16–19 digits) appears except in a
"plaintext" cell.

## Roles

| role | token | sees |
|---|---|---|
| city | `city` (市住建局) | everything; writes any signed record; reads a person's plaintext (recorded) |
| district (own / other) | `district` + district code (区县(市)住建局) | its district's projects and what derives from them; "own" is 鄞州 (the subject project's district), "other" is 海曙 |
| enterprise (own / other) | `enterprise` + credit code (参建企业) | the projects it takes part in; the plaintext of the people it took into the vault; "own" builds the subject project, "other" builds a 海曙 and a 鄞州 project but not the subject |
| auditor | `auditor` | everything, read-only; the vault's access records, never plaintext |
| gateway | `gateway` + signer key id | nothing to read (its scope is empty); submits records signed by its own key |
| anonymous | none | the public transparency log, health, metrics, the OpenAPI document, the login page and static files |
| demo visitor | none, on a server in demo mode | read-only and city-wide like an auditor (`serve --demo` only: the data are the simulated city's); demo tokens are refused by any server not in demo mode |

Path parameters name the subjects: project `NB-2026-0101` (鄞州, general contractor C1), district 鄞州
(`330212`), enterprise C1, a record of the subject project, a person C1 took into the vault, leaf 0; in query
strings `{P1}` is the subject project, `{D}` its district and `{size}` the log size. A project outside the
caller's scope answers 404 exactly like a missing one; a list filtered on it is empty.

## Decisions (issue 12)

* **The log is public, the platform's derived answers are scoped.** `/v1/log/*` and `GET /v1/evidence/{event_id}`
  serve every record to anyone (docs/FORMAT.md: third parties verify the log offline; personal data never enter
  it, docs/PERSONAL-DATA.md). Everything else is cut to the caller's projects: read models, computed results,
  pages, the live feed and `/v1/events`. Registry records that name a project (its registration, participants,
  the enrolment of its gateway keys) and ledger notices quoting a project's record are shown only to callers who
  may see that project.
* **Credit (published results may be public; the records behind them are not).** `GET /v1/credit` and the
  dashboard's credit ranking and credit page show a visible enterprise's whole score and grade, the records of
  projects the caller may see, and the others only as `withheld: {records, points}` — no event id, position,
  project or kind. A district bureau sees the enterprises taking part in its projects; an enterprise itself; city
  and auditors all (docs/RATING.md §7).
* **Ratings, decisions, replays**: a project's decision, evidence, history and replay follow the project's scope;
  an enterprise's replay (every record behind its score, one reproducible document) is for the city, auditors
  and the enterprise itself. Annual reports: the city's for city and auditors, a district's also for that
  district's bureau. Rating policies and credit rules are public documents for any signed-in caller.
* **Court packages** (`POST /v1/evidence/export`): records named by id must each be visible (a hidden one
  answers 404 like a missing one); a stream filter selects among the caller's visible records only.
* **Attachments** (附件, `GET /v1/blobs/{sha256}`, docs/ATTACHMENTS.md): a file is served to a caller who may
  read at least one record citing its SHA-256, or who uploaded it; to anyone else 404, exactly as for a digest
  never stored, so digests do not leak. Personal attachments (`?person_ref=&purpose=`) follow the vault's reveal
  rules and are recorded like reveals.
* **People's keys** (issue 15, docs/PEOPLE.md): anyone may ask for enrolment (`POST /v1/people/enrolments`, a
  pending request, never a log record) and sign in by signing a challenge with an enrolled key; the session gets
  the scope of the key's organisation. An organisation's administrator lists only its own organisation's requests
  and people (the city bureau every one); auditors and gateways administer nobody. A key's chain head is public
  for people's and organisations' keys; a gateway's or device's key names its project and is answered like the
  project (404 outside the scope). The people's home and approval pages open without a session (the key and the
  sign-in live in the browser); the forms need one.
* **Personal data**: plaintext ID and card numbers leave the vault only through
  `GET /v1/workforce/people/{person_ref}`, to the city bureau and the enterprise that took the person in; every
  read is recorded. No other answer carries them.

## The matrix

"200 scoped": answered, with nothing outside the role's scope. "200 public": answered, public by design.
"200 plaintext": the person's plaintext (the only cells allowed to carry ID or card numbers). "303 → login": a
dashboard page sends an anonymous caller to the login page. Other cells are the HTTP status.

"#;

fn render_doc() -> String {
    let mut out = String::from(DOC_HEAD);
    out.push_str("| method | path |");
    for r in ROLES {
        let _ = write!(out, " {} |", r.header());
    }
    out.push_str("\n|---|---|");
    for _ in ROLES {
        out.push_str("---|");
    }
    out.push('\n');
    for row in MATRIX {
        let q = if row.query.is_empty() { String::new() } else { format!("?{}", row.query) };
        let _ = write!(out, "| {} | `{}{}` |", row.method, row.path, q);
        for c in row.cells {
            let _ = write!(out, " {} |", c.cell());
        }
        out.push('\n');
    }
    out
}

fn doc_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ACCESS.md")
}

#[test]
fn docs_access_md_is_rendered_from_the_matrix() {
    let rendered = render_doc();
    if std::env::var_os("UPDATE_ACCESS_DOC").is_some() {
        std::fs::write(doc_path(), &rendered).expect("write docs/ACCESS.md");
    }
    let committed = std::fs::read_to_string(doc_path()).unwrap_or_default();
    assert!(
        committed == rendered,
        "docs/ACCESS.md differs from the matrix in api/tests/api/access_matrix.rs; rewrite it with \
         UPDATE_ACCESS_DOC=1 cargo nextest run -p siteledger-api --test api access_matrix"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// coverage: the table names every path the server has

/// `(method, path)` of every route in the dashboard's and the people's routers (`src/dashboard/*.rs`,
/// `src/people/*.rs`), read from their source.
fn dashboard_routes() -> BTreeSet<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeSet::new();
    let dirs = [root.join("dashboard"), root.join("people")];
    let entries = dirs.iter().flat_map(|d| std::fs::read_dir(d).expect("router sources"));
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let src = std::fs::read_to_string(&path).expect("source");
        let mut rest = src.as_str();
        while let Some(i) = rest.find(".route(\"") {
            rest = &rest[i + 8..];
            let Some(end) = rest.find('"') else { break };
            let route = rest[..end].to_owned();
            // The handler chain up to the end of this `.route(…)` call: `get(x).post(y)`.
            let call = &rest[end..rest[end..].find("))").map_or(rest.len(), |j| end + j + 2)];
            for (m, name) in [("get(", "GET"), ("post(", "POST"), ("delete(", "DELETE"), ("put(", "PUT")] {
                if call.contains(m) {
                    out.insert((name.to_owned(), route.clone()));
                }
            }
        }
    }
    out
}

fn uncovered(openapi: &Value) -> Vec<String> {
    let table: BTreeSet<(String, String)> = MATRIX.iter().map(|r| (r.method.to_owned(), r.path.to_owned())).collect();
    let mut missing = Vec::new();
    let mut api = BTreeSet::new();
    for (path, ops) in openapi["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("operations").keys() {
            let m = method.to_ascii_uppercase();
            if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str()) {
                api.insert((m, path.clone()));
            }
        }
    }
    let pages = dashboard_routes();
    assert!(pages.len() > 20, "the dashboard's routes were not found in its sources: {pages:?}");
    for (m, p) in api.iter().chain(&pages) {
        if !table.contains(&(m.clone(), p.clone())) {
            missing.push(format!("{m} {p}"));
        }
    }
    // And no stale rows: every row is a path the server has (or the document itself).
    for (m, p) in &table {
        if !api.contains(&(m.clone(), p.clone())) && !pages.contains(&(m.clone(), p.clone())) && p != "/openapi.json" {
            missing.push(format!("stale row {m} {p}"));
        }
    }
    missing
}

#[test]
fn the_matrix_covers_every_path_of_the_openapi_document_and_every_page() {
    let doc = serde_json::to_value(siteledger_api::openapi::document()).expect("json");
    let missing = uncovered(&doc);
    assert!(missing.is_empty(), "rows missing from MATRIX in access_matrix.rs: {missing:#?}");
}

// ---------------------------------------------------------------------------------------------------------------
// the answers

/// What may not appear in answers, and who is entitled to what.
struct Secrets {
    ids: Vec<String>,
    cards: Vec<String>,
}

/// The digit runs of `text` that stand alone: not inside a longer word, and not part of a decimal number (a run
/// after a `.`, or before a `.` and a digit, is a fraction or an integer part, e.g. a metric's `0.6500288100000002`).
fn standalone_runs(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        // An ID number's check character may be X.
        let end = if i < b.len() && (b[i] == b'X' || b[i] == b'x') && i - start == 17 { i + 1 } else { i };
        let before = start.checked_sub(1).map(|k| b[k]);
        let after = b.get(end).copied();
        let in_word =
            before.is_some_and(|c| c.is_ascii_alphanumeric()) || after.is_some_and(|c| c.is_ascii_alphanumeric());
        let decimal = before == Some(b'.') || (after == Some(b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit));
        if !in_word && !decimal {
            out.push(&text[start..end]);
        }
        i = end.max(i);
    }
    out
}

/// ID-number-shaped tokens: 17 digits and a digit or X standing alone, with a valid check character.
fn id_shaped(text: &str) -> Vec<String> {
    standalone_runs(text)
        .into_iter()
        .filter(|r| {
            r.len() == 18
                && siteledger_domain::IdNumber::check_character(&r[..17])
                    .is_ok_and(|c| r[17..].eq_ignore_ascii_case(&c.to_string()))
        })
        .map(str::to_owned)
        .collect()
}

/// Card-number-shaped tokens: 16–19 digits standing alone, except a 16-digit run that reads as a Unix time in
/// microseconds between 2000 and 2100 (read models carry those) and an ID number (reported by [`id_shaped`]).
fn card_shaped(text: &str) -> Vec<String> {
    standalone_runs(text)
        .into_iter()
        .filter(|r| (16..=19).contains(&r.len()) && r.bytes().all(|c| c.is_ascii_digit()))
        .filter(|r| {
            let micros = r.len() == 16
                && r.parse::<u64>().is_ok_and(|v| (946_684_800_000_000..4_102_444_800_000_000).contains(&v));
            !micros && id_shaped(r).is_empty()
        })
        .map(|r| r.to_owned())
        .collect()
}

struct Ctx<'a> {
    city: &'a City,
    base: String,
    client: reqwest::Client,
    size: u64,
    secrets: Secrets,
    next_person: usize,
    failures: Vec<String>,
}

impl Ctx<'_> {
    fn fill(&self, path: &str, person: &str) -> String {
        let code = if path.starts_with("/ratings/credit/") || path.contains("{credit_code}") {
            self.city.c1.clone()
        } else {
            YINZHOU.to_owned()
        };
        path.replace("{id}", P1)
            .replace("{project_id}", P1)
            .replace("{event_id}", &self.city.p1_event)
            .replace("{index}", "0")
            .replace("{person_ref}", person)
            .replace("{credit_code}", &code)
            .replace("{code}", &code)
            .replace("{name}", "app.css")
            .replace("{sha256}", &self.city.report_pdf)
            .replace("{key_id}", &self.city.gw1.key().key_id().to_string())
            .replace("{form}", "inspection")
    }

    fn query(&self, q: &str) -> String {
        q.replace("{P1}", P1).replace("{D}", YINZHOU).replace("{size}", &self.size.to_string())
    }

    /// A fresh person number (recorded as a secret: no answer may carry it).
    fn fresh(&mut self) -> usize {
        self.next_person += 1;
        let i = self.next_person;
        self.secrets.ids.push(world::id_number(i));
        self.secrets.cards.push(world::card_number(i));
        i
    }

    /// Asks one cell; returns (status, location header, body, what the request named).
    async fn ask(&mut self, row: &Row, token: Option<&str>, own_token: &str) -> (u16, String, String, String) {
        let mut person = self.city.p1_person.clone();
        if row.body == Body::FreshPerson {
            let i = self.fresh();
            person = self.intake_fresh(own_token, i).await;
        }
        let path = self.fill(row.path, &person);
        let q = self.query(row.query);
        let url = if q.is_empty() { format!("{}{path}", self.base) } else { format!("{}{path}?{q}", self.base) };
        let method = reqwest::Method::from_bytes(row.method.as_bytes()).expect("method");
        let mut req = self.client.request(method, &url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let body: Option<Value> = match row.body {
            Body::None | Body::FreshPerson | Body::LoginForm | Body::Blob => None,
            Body::Enrol => {
                self.next_person += 1;
                let key =
                    siteledger_signer::SigningKey::from_seed(&[u8::try_from(self.next_person % 251).unwrap_or(0); 32]);
                Some(json!({"public_key": key.public().to_base64(), "role": "staff", "organisation": self.city.c1,
                    "handle": format!("S{}", self.next_person), "name": format!("职员{}", self.next_person)}))
            }
            Body::Challenge => Some(json!({"key_id": city_key().public().key_id().to_string()})),
            Body::SignedChallenge => Some(self.signed_challenge().await),
            Body::EmptyBatch => Some(json!([])),
            Body::Person => {
                let i = self.fresh();
                Some(json!({"id_type": "01", "id_number": world::id_number(i), "name": format!("工人{i}")}))
            }
            Body::Card => {
                let i = self.fresh();
                Some(json!({"card_number": world::card_number(i)}))
            }
            Body::Import => {
                let i = self.fresh();
                Some(json!({"projectCode": P1, "corpCode": self.city.c1, "teamSysNo": "T-01", "workerList": [{
                    "idCardType": "01", "idCardNumber": world::id_number(i), "workerName": format!("工人{i}"),
                    "workType": "020", "workRole": "20", "payRollBankCardNumber": world::card_number(i),
                    "payRollBankName": "中国建设银行"}]}))
            }
            Body::Export => Some(json!({"event_ids": [self.city.p1_event]})),
        };
        let mut named = format!("{path}?{q}");
        if let Some(b) = &body {
            named.push_str(&b.to_string());
            req = req.json(b);
        }
        if row.body == Body::Blob {
            self.next_person += 1;
            let bytes = format!("整改照片 {} / rectification photo", self.next_person);
            named.push_str(&bytes);
            req = req.header(reqwest::header::CONTENT_TYPE, "image/jpeg").body(bytes);
        }
        if row.body == Body::LoginForm {
            // A token is `slt_` + base64url: nothing in it needs escaping in a form body.
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(format!("token={}&next=%2F", token.unwrap_or_default()));
        }
        let mut resp = req.send().await.unwrap_or_else(|e| panic!("{} {url}: {e}", row.method));
        let status = resp.status().as_u16();
        let location =
            resp.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let text = if row.path == "/v1/feed" && status == 200 {
            // The feed never ends: read until the last record every scope sees (the world's sentinel).
            let (a, b) = (format!("id: {}\n", self.city.sentinel), format!("id:{}\n", self.city.sentinel));
            let mut buf = Vec::new();
            while let Some(chunk) = resp.chunk().await.expect("feed chunk") {
                buf.extend_from_slice(&chunk);
                let s = String::from_utf8_lossy(&buf);
                if s.contains(&a) || s.contains(&b) {
                    break;
                }
            }
            String::from_utf8_lossy(&buf).into_owned()
        } else {
            resp.text().await.unwrap_or_default()
        };
        (status, location, text, named)
    }

    /// A fresh challenge for the city bureau's key, signed by it: the body of `POST /v1/people/session`.
    async fn signed_challenge(&self) -> Value {
        let key = city_key();
        let key_id = key.public().key_id().to_string();
        let c: Value = self
            .client
            .post(format!("{}/v1/people/challenge", self.base))
            .json(&json!({"key_id": key_id}))
            .send()
            .await
            .expect("challenge")
            .json()
            .await
            .expect("json");
        let nonce = c["nonce"].as_str().unwrap_or_else(|| panic!("challenge: {c}"));
        let mut message = b"siteledger-login-v1\0".to_vec();
        message.extend_from_slice(nonce.as_bytes());
        let signature = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key.sign(&message));
        json!({"key_id": key_id, "nonce": nonce, "signature": signature})
    }

    async fn intake_fresh(&self, c1_token: &str, i: usize) -> String {
        let r = self
            .client
            .post(format!("{}/v1/workforce/people", self.base))
            .bearer_auth(c1_token)
            .json(&json!({"id_type": "01", "id_number": world::id_number(i), "name": format!("工人{i}")}))
            .send()
            .await
            .expect("intake");
        let v: Value = r.json().await.expect("json");
        v["person_ref"].as_str().unwrap_or_else(|| panic!("intake: {v}")).to_owned()
    }

    fn check(&mut self, row: &Row, role: Role, expect: Expect, answer: (u16, String, String, String)) {
        let (status, location, text, named) = answer;
        let cell =
            format!("{} {}{} as {}", row.method, row.path, if row.query.is_empty() { "" } else { "?…" }, role.header());
        let want = match expect {
            Expect::Scoped | Expect::Public | Expect::Plaintext => 200,
            Expect::Login => 303,
            Expect::Status(s) => s,
        };
        if status != want || (expect == Expect::Login && !location.starts_with("/login")) {
            let snippet: String = text.chars().take(300).collect();
            self.failures.push(format!("{cell}: expected {}, got {status} {location} {snippet}", expect.cell()));
        }
        // Personal data.
        if expect == Expect::Plaintext {
            if status == 200 && !text.contains(&world::id_number(0)) {
                self.failures.push(format!("{cell}: the entitled answer does not carry the person's ID number"));
            }
        } else {
            let known = self.secrets.ids.iter().chain(&self.secrets.cards).filter(|s| text.contains(s.as_str()));
            let shaped = id_shaped(&text).into_iter().chain(card_shaped(&text));
            let found: BTreeSet<String> = known.cloned().chain(shaped).collect();
            if !found.is_empty() {
                self.failures.push(format!("{cell}: ID or card numbers in the answer: {found:?}"));
            }
        }
        // Projects outside the scope (unless public by design, or named by the request itself).
        if expect != Expect::Public {
            for (id, name) in &self.city.names {
                if role.projects().contains(id) || named.contains(id) {
                    continue;
                }
                if text.contains(id) || text.contains(name) {
                    self.failures.push(format!("{cell}: names project {id} ({name}), outside the scope"));
                }
            }
        }
        if row.names_subject && expect == Expect::Scoped && role.projects().contains(&P1) && !text.contains(P1) {
            self.failures.push(format!("{cell}: the answer does not show the subject project {P1} (no real content?)"));
        }
    }
}

fn server_config(dir: &std::path::Path, demo: bool) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        log_origin: "test.siteledger.example/log".into(),
        trust_roots: vec![city_key().public().to_base64()],
        checkpoint_interval_ms: 50,
        demo,
        ..Config::default()
    }
}

/// Waits until the server's read models have applied the whole log (a condition, not a deadline: the bound only
/// turns a hang into a failure).
async fn caught_up(server: &RunningServer) {
    let head = server.state.ledger.head();
    let mut w = server.state.read.watch_applied();
    for _ in 0..3000 {
        if server.state.read.applied() >= head {
            return;
        }
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), w.changed()).await;
    }
    panic!("the read models did not catch up with the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_and_page_answers_every_role_as_the_matrix_says() {
    let mut app = TestApp::spawn().await;
    let city = world::build_city(&mut app).await;
    caught_up(&app.server).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .expect("client");

    // The table covers the server's own document.
    let doc: Value = client.get(app.url("/openapi.json")).send().await.expect("openapi").json().await.expect("json");
    let missing = uncovered(&doc);
    assert!(missing.is_empty(), "rows missing from MATRIX in access_matrix.rs: {missing:#?}");

    let gw_key = city.gw1.key().key_id().to_string();
    let tokens: [Option<String>; 9] = [
        Some(app.token(TokenRole::City, None).await),
        Some(app.token(TokenRole::District, Some(YINZHOU)).await),
        Some(app.token(TokenRole::District, Some(HAISHU)).await),
        Some(app.token(TokenRole::Enterprise, Some(&city.c1)).await),
        Some(app.token(TokenRole::Enterprise, Some(&city.c2)).await),
        Some(app.token(TokenRole::Auditor, None).await),
        Some(app.token(TokenRole::Gateway, Some(&gw_key)).await),
        None,
        None,
    ];
    let c1_token = tokens[3].clone().expect("c1");
    let size = app.server.state.ledger.head();
    let mut ctx = Ctx {
        base: app.server.url(),
        client: client.clone(),
        size,
        secrets: Secrets { ids: city.id_numbers.clone(), cards: city.card_numbers.clone() },
        next_person: 100,
        failures: Vec::new(),
        city: &city,
    };
    let mut asked = 0;
    for row in MATRIX {
        for (i, role) in ROLES.iter().enumerate() {
            if *role == Role::DemoVisitor {
                continue;
            }
            let answer = ctx.ask(row, tokens[i].as_deref(), &c1_token).await;
            ctx.check(row, *role, row.cells[i], answer);
            asked += 1;
        }
    }

    // The demo visitor: the same data directory served in demo mode (without the simulated city).
    // Vault reads and intakes above appended their signed access records (vault.access.v1): the head moved.
    let TestApp { server, dir, .. } = app;
    let head_at_shutdown = server.state.ledger.head();
    server.shutdown().await;
    let demo = siteledger_api::server::spawn(server_config(dir.path(), true)).await.expect("demo server");
    caught_up(&demo).await;
    assert_eq!(demo.state.ledger.head(), head_at_shutdown, "nothing was appended meanwhile");
    ctx.base = demo.url();
    let i = ROLES.iter().position(|r| *r == Role::DemoVisitor).expect("column");
    for row in MATRIX {
        let answer = ctx.ask(row, None, &c1_token).await;
        ctx.check(row, Role::DemoVisitor, row.cells[i], answer);
        asked += 1;
    }
    demo.shutdown().await;
    assert_eq!(asked, MATRIX.len() * ROLES.len());
    let failures = std::mem::take(&mut ctx.failures);
    assert!(
        failures.is_empty(),
        "{} of {asked} cells differ from the matrix:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_shape_checks_find_id_and_card_numbers_and_nothing_else() {
    let id = world::id_number(7);
    let card = world::card_number(7);
    let text = format!(
        r#"{{"a":"{id}","b":{card},"hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","at_us":1790000000000000,"m":"3302**********123X"}}"#
    );
    assert_eq!(id_shaped(&text), vec![id.clone()]);
    assert_eq!(card_shaped(&text), vec![card.clone()]);
    // A wrong check character is not an ID number; a 15-digit run is not a card.
    let mut wrong = id.clone();
    let last = if wrong.ends_with('1') { '2' } else { '1' };
    wrong.replace_range(17.., &last.to_string());
    assert!(id_shaped(&wrong).is_empty());
    assert!(card_shaped("123456789012345").is_empty());
    assert_eq!(card_shaped("6222021234567890123"), vec!["6222021234567890123".to_owned()]);
    assert_eq!(id_shaped(&format!("<td>{}</td>", world::id_number(3))).len(), 1, "in HTML too");
    assert!(card_shaped("uptime 0.6500288100000002 s, 6500288100000002.5 s").is_empty(), "decimals are not cards");
    assert_eq!(card_shaped("卡号6222021234567890123。"), vec!["6222021234567890123".to_owned()], "in Chinese text");
}
