//! Scoped queries over the core read models (districts, projects, enterprises, keys, alarms, timelines). Every
//! query takes a [`Scope`] and applies it in SQL.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::Scope;
use crate::db::{ReadDb, Sql, to_i64, to_u64};
use crate::error::ProjectionError;
use crate::queries::project_visible;

/// One district on the city overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DistrictRow {
    /// Administrative code (e.g. `330212`).
    pub code: String,
    /// Name (e.g. 鄞州区).
    pub name: String,
    /// Visible registered projects in the district.
    pub projects: u64,
    /// Of those, projects with any record that occurred on the day asked (Asia/Shanghai).
    pub projects_with_data_today: u64,
    /// Alarms raised on that day in those projects.
    pub alarms_today: u64,
    /// Alarms currently open in those projects.
    pub open_alarms: u64,
}

/// A project in lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectRow {
    /// Project id.
    pub project_id: String,
    /// Name.
    pub name: String,
    /// District code.
    pub district: String,
    /// District name (the code if the district is unknown).
    pub district_name: String,
    /// Inside the central urban area.
    pub central_urban: bool,
    /// Floor area in m², decimal string as registered.
    pub floor_area_m2: String,
    /// Contract cost in fen (0.01 CNY).
    pub contract_cost_fen: i64,
    /// Start date `YYYY-MM-DD`.
    pub start_date: String,
    /// `occurred_at` of the registration record.
    pub registered_at: String,
    /// Log position of the registration record.
    pub position: u64,
    /// Current participants.
    pub participants: u64,
    /// Records in the project's streams.
    pub events: u64,
    /// Latest `occurred_at` among them (by instant).
    pub last_event_at: Option<String>,
    /// Highest log position among them.
    pub last_position: Option<u64>,
    /// Open alarms.
    pub open_alarms: u64,
}

#[derive(sqlx::FromRow)]
struct ProjectDb {
    project_id: String,
    name: String,
    district: String,
    district_name: String,
    central_urban: i64,
    floor_area_m2: String,
    contract_cost_fen: i64,
    start_date: String,
    registered_at: String,
    position: i64,
    participants: i64,
    events: i64,
    last_event_at: Option<String>,
    last_position: Option<i64>,
    open_alarms: i64,
}

impl From<ProjectDb> for ProjectRow {
    fn from(r: ProjectDb) -> ProjectRow {
        ProjectRow {
            project_id: r.project_id,
            name: r.name,
            district: r.district,
            district_name: r.district_name,
            central_urban: r.central_urban != 0,
            floor_area_m2: r.floor_area_m2,
            contract_cost_fen: r.contract_cost_fen,
            start_date: r.start_date,
            registered_at: r.registered_at,
            position: to_u64(r.position),
            participants: to_u64(r.participants),
            events: to_u64(r.events),
            last_event_at: r.last_event_at,
            last_position: r.last_position.map(to_u64),
            open_alarms: to_u64(r.open_alarms),
        }
    }
}

/// A project's name and district, for labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ProjectLabel {
    /// Project id.
    pub project_id: String,
    /// Name.
    pub name: String,
    /// District code.
    pub district: String,
}

/// A project with open alarms, for the overview's short list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenAlarmsRow {
    /// Project id.
    pub project_id: String,
    /// Name.
    pub name: String,
    /// District code.
    pub district: String,
    /// District name (the code if the district is unknown).
    pub district_name: String,
    /// Open alarms.
    pub open_alarms: u64,
}

#[derive(sqlx::FromRow)]
struct OpenAlarmsDb {
    project_id: String,
    name: String,
    district: String,
    district_name: String,
    open_alarms: i64,
}

/// A participant of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ParticipantRow {
    /// Role (e.g. `construction`, `supervision`).
    pub role: String,
    /// Unified social credit code.
    pub credit_code: String,
    /// The enterprise's registered name, if registered.
    pub enterprise_name: Option<String>,
    /// Log position of the record that added it.
    #[sqlx(try_from = "i64")]
    pub position: u64,
}

/// Records of one kind in a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindCount {
    /// Full kind (e.g. `env.dust.reading.v1`).
    pub kind: String,
    /// Records.
    pub events: u64,
    /// Latest `occurred_at` (by instant).
    pub last_event_at: String,
    /// Highest log position.
    pub last_position: u64,
}

/// A subsystem tile: records grouped by the kind's first segment (`env`, `alarm`, `crane`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubsystemTile {
    /// First segment of the kinds.
    pub subsystem: String,
    /// Records.
    pub events: u64,
    /// Distinct kinds.
    pub kinds: u64,
    /// Latest `occurred_at` (by instant).
    pub last_event_at: String,
    /// Highest log position.
    pub last_position: u64,
}

/// A project's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectDetail {
    /// The list row (counts, last event).
    pub project: ProjectRow,
    /// Current participants with enterprise names.
    pub participants: Vec<ParticipantRow>,
    /// Records per kind, by kind.
    pub kinds: Vec<KindCount>,
    /// Records per subsystem (kind prefix), by subsystem.
    pub tiles: Vec<SubsystemTile>,
}

#[derive(sqlx::FromRow)]
struct KindDb {
    kind: String,
    events: i64,
    last_position: i64,
    last_occurred_at: String,
    last_occurred_us: i64,
}

/// One record in a project's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TimelineRow {
    /// Log position.
    #[sqlx(try_from = "i64")]
    pub position: u64,
    /// Event id.
    pub event_id: String,
    /// Stream.
    pub stream: String,
    /// Kind.
    pub kind: String,
    /// `occurred_at` as signed.
    pub occurred_at: String,
    /// Signer key id.
    pub signer: String,
    /// Short text derived from the payload.
    pub summary: String,
}

/// An enterprise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnterpriseRow {
    /// Unified social credit code.
    pub credit_code: String,
    /// Name.
    pub name: String,
    /// Registered types (e.g. `construction`, `supervision`).
    pub types: Vec<String>,
    /// Visible projects in which it participates.
    pub projects: u64,
    /// Log position of the registration record.
    pub position: u64,
}

#[derive(sqlx::FromRow)]
struct EnterpriseDb {
    credit_code: String,
    name: String,
    types: String,
    projects: i64,
    position: i64,
}

/// A signer key's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Valid now.
    Active,
    /// Revoked (from `revoked_at` on).
    Revoked,
    /// Past `valid_until`.
    Expired,
    /// Before `valid_from`.
    Pending,
}

/// A signer key with its activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRow {
    /// Key id (32 lowercase hex).
    pub key_id: String,
    /// Public key (base64).
    pub public_key: String,
    /// Holder.
    pub subject: String,
    /// Holder's role.
    pub role: String,
    /// Validity start.
    pub valid_from: String,
    /// Validity end (exclusive).
    pub valid_until: Option<String>,
    /// State at query time.
    pub status: KeyStatus,
    /// Revocation time.
    pub revoked_at: Option<String>,
    /// Revocation reason.
    pub revoked_reason: Option<String>,
    /// Project of a `project/<id>/…` subject.
    pub project_id: Option<String>,
    /// Key id of the enrolling signer.
    pub enrolled_by: String,
    /// Log position of the enrollment record.
    pub position: u64,
    /// Records signed by this key.
    pub records: u64,
    /// Log position of its latest record.
    pub last_position: Option<u64>,
    /// `occurred_at` of its latest record.
    pub last_occurred_at: Option<String>,
    /// Its latest signer sequence number.
    pub last_seq: Option<u64>,
    /// Gaps recorded in its chain.
    pub gaps: u64,
    /// Sequence numbers missing in those gaps.
    pub missing: u64,
    /// Equivocations recorded.
    pub equivocations: u64,
}

#[derive(sqlx::FromRow)]
struct KeyDb {
    key_id: String,
    public_key: String,
    subject: String,
    role: String,
    valid_from: String,
    valid_until: Option<String>,
    revoked_at: Option<String>,
    revoked_reason: Option<String>,
    subject_project: Option<String>,
    enrolled_by: String,
    position: i64,
    records: i64,
    last_position: Option<i64>,
    last_occurred_at: Option<String>,
    last_seq: Option<i64>,
    gaps: i64,
    missing: i64,
    equivocations: i64,
}

fn key_status(k: &KeyDb, now: OffsetDateTime) -> KeyStatus {
    status_at(k.revoked_at.as_deref(), k.valid_until.as_deref(), &k.valid_from, now)
}

/// A key's status at `now` from its revocation and validity.
fn status_at(revoked_at: Option<&str>, valid_until: Option<&str>, valid_from: &str, now: OffsetDateTime) -> KeyStatus {
    let parse = |s: &str| OffsetDateTime::parse(s, &Rfc3339).ok();
    if revoked_at.is_some() {
        return KeyStatus::Revoked;
    }
    if valid_until.and_then(parse).is_some_and(|u| now >= u) {
        return KeyStatus::Expired;
    }
    if parse(valid_from).is_some_and(|f| now < f) {
        return KeyStatus::Pending;
    }
    KeyStatus::Active
}

/// Appends the condition on `signer_keys k` of the keys visible to `scope`; `false` if it sees none.
fn keys_visible(q: &mut Sql, scope: &Scope) -> bool {
    match scope {
        Scope::All => {
            q.push("1 = 1");
        }
        Scope::Nothing => return false,
        Scope::District(code) | Scope::Enterprise(code) => {
            q.push("(k.subject_org = ");
            q.bind(code.as_str()).push(" OR (k.subject_project IS NOT NULL AND ");
            project_visible(q, scope, "k.subject_project");
            q.push("))");
        }
    }
    true
}

/// Which keys [`ReadDb::keys_page`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPage {
    /// Only the keys after this one in enrolment order: its (position, key id) ([`ReadDb::key_position`]).
    pub after: Option<(u64, String)>,
    /// At most this many (`None`: all).
    pub limit: Option<usize>,
    /// Only keys with signer gaps or equivocations.
    pub problems: bool,
}

/// Key counts ([`ReadDb::key_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KeyCounts {
    /// Keys.
    pub total: u64,
    /// Active now.
    pub active: u64,
    /// With signer gaps.
    pub with_gaps: u64,
    /// With equivocations.
    pub with_equivocations: u64,
}

/// Which alarms to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmFilter {
    /// Only this project.
    pub project: Option<String>,
    /// Only open alarms.
    pub open_only: bool,
    /// Only alarms raised (occurred) at or after this instant.
    pub since: Option<OffsetDateTime>,
    /// At most this many (default 500, at most 10 000), newest first.
    pub limit: Option<usize>,
}

/// An alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmRow {
    /// Project (none for a ledger alarm whose key belongs to no project).
    pub project_id: Option<String>,
    /// Alarm id (for ledger alarms: the event id of the gap / equivocation record).
    pub alarm_id: String,
    /// Source (device, rule engine, `ledger`).
    pub source: String,
    /// Category (`dust`, `noise`, …, `data_gap`, `equivocation`).
    pub category: String,
    /// `warning` or `violation`.
    pub level: String,
    /// Message.
    pub message: String,
    /// Measured value.
    pub value: Option<String>,
    /// Threshold.
    pub threshold: Option<String>,
    /// Key concerned (the signer of the raise; the misbehaving key for ledger alarms).
    pub key_id: Option<String>,
    /// Event id of the raising record.
    pub event_id: String,
    /// `occurred_at` of the raising record.
    pub raised_at: String,
    /// Log position of the raising record.
    pub position: u64,
    /// Still open.
    pub open: bool,
    /// `occurred_at` of the clearing record.
    pub cleared_at: Option<String>,
    /// Note of the clearing record.
    pub cleared_note: Option<String>,
    /// Log position of the clearing record.
    pub cleared_position: Option<u64>,
}

#[derive(sqlx::FromRow)]
struct AlarmDb {
    project_id: Option<String>,
    alarm_id: String,
    source: String,
    category: String,
    level: String,
    message: String,
    value: Option<String>,
    threshold: Option<String>,
    key_id: Option<String>,
    event_id: String,
    raised_at: String,
    position: i64,
    open: i64,
    cleared_at: Option<String>,
    cleared_note: Option<String>,
    cleared_position: Option<i64>,
}

const PROJECT_SELECT: &str = "SELECT p.project_id, p.name, p.district, COALESCE(d.name, p.district) AS district_name, \
     p.central_urban, p.floor_area_m2, p.contract_cost_fen, p.start_date, p.registered_at, p.position, \
     CAST((SELECT COUNT(*) FROM participants pp WHERE pp.project_id = p.project_id) AS BIGINT) AS participants, \
     CAST(COALESCE(s.events, 0) AS BIGINT) AS events, s.last_occurred_at AS last_event_at, \
     s.last_position AS last_position, \
     CAST((SELECT COUNT(*) FROM alarms a WHERE a.project_id = p.project_id AND a.open = 1) AS BIGINT) AS open_alarms \
     FROM projects p LEFT JOIN districts d ON d.code = p.district \
     LEFT JOIN project_stats s ON s.project_id = p.project_id WHERE ";

/// A condition on the projects table aliased `p` that the scope implies anyway (so it never widens what
/// [`project_visible`] allows), followed by ` AND `: it lets the database walk the district's or the
/// enterprise's own projects by index instead of testing every project in the city.
fn narrow_to_scope(q: &mut Sql, scope: &Scope, p: &str) {
    match scope {
        Scope::District(code) => {
            q.push(&format!("{p}.district = "));
            q.bind(code).push(" AND ");
        }
        Scope::Enterprise(credit) => {
            q.push(&format!("{p}.project_id IN (SELECT n.project_id FROM participants n WHERE n.credit_code = "));
            q.bind(credit).push(") AND ");
        }
        Scope::All | Scope::Nothing => {}
    }
}

impl ReadDb {
    /// Every registered district's name by code (the ten 区县(市) and the zones): for labels, without counting.
    pub async fn district_names(&self) -> Result<HashMap<String, String>, ProjectionError> {
        let rows: Vec<(String, String)> = self.fetch_all(&Sql::new("SELECT code, name FROM districts")).await?;
        Ok(rows.into_iter().collect())
    }

    /// Per-district counts for the city overview. `All` sees every district (the ten fixed ones and any added);
    /// `District` its own; `Enterprise` the districts where it has projects, counting only those projects;
    /// `Nothing` none. `today` is a date in Asia/Shanghai.
    pub async fn districts_overview(&self, scope: &Scope, today: Date) -> Result<Vec<DistrictRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        // One grouped statement per figure, each driven by the index of what it counts (visible projects,
        // today's project days, today's alarms, open alarms), rather than four correlated subqueries per
        // district: the cost follows the city's size, never its history. Day rows and alarms carry their
        // project's district, so a city or district bureau's counts read one index range each, without a lookup
        // per row.
        let day = today.to_string();
        let mut q = Sql::new("SELECT d.code, d.name FROM districts d WHERE ");
        match scope {
            Scope::District(code) => {
                q.push("d.code = ");
                q.bind(code);
            }
            Scope::Enterprise(_) => {
                q.push("EXISTS (SELECT 1 FROM projects p WHERE p.district = d.code AND ");
                project_visible(&mut q, scope, "p.project_id");
                q.push(")");
            }
            Scope::All | Scope::Nothing => {
                q.push("1 = 1");
            }
        }
        q.push(" ORDER BY d.code");
        let districts: Vec<(String, String)> = self.fetch_all(&q).await?;

        // `narrow_to_scope` is the whole visibility rule for these rows: their district is their project's, and an
        // enterprise's projects are those it takes part in (what `project_visible` checks).
        let grouped = |from: &str, condition: &str, day: Option<&str>| {
            let mut q = Sql::new(&format!("SELECT t.district, CAST(COUNT(*) AS BIGINT) FROM {from} t WHERE "));
            narrow_to_scope(&mut q, scope, "t");
            q.push(condition);
            if let Some(day) = day {
                q.bind(day);
            }
            q.push(" GROUP BY t.district");
            q
        };
        let projects = grouped("projects", "1 = 1", None);
        let with_data = grouped("project_days", "t.district IS NOT NULL AND t.day = ", Some(&day));
        let alarms_today = grouped("alarms", "t.district IS NOT NULL AND t.raised_day = ", Some(&day));
        let open = grouped("alarms", "t.district IS NOT NULL AND t.open = 1", None);
        let mut counts: BTreeMap<String, [u64; 4]> = BTreeMap::new();
        for (i, q) in [projects, with_data, alarms_today, open].iter().enumerate() {
            let rows: Vec<(String, i64)> = self.fetch_all(q).await?;
            for (district, n) in rows {
                counts.entry(district).or_default()[i] = to_u64(n);
            }
        }
        Ok(districts
            .into_iter()
            .map(|(code, name)| {
                let [projects, projects_with_data_today, alarms_today, open_alarms] =
                    counts.get(&code).copied().unwrap_or_default();
                DistrictRow { code, name, projects, projects_with_data_today, alarms_today, open_alarms }
            })
            .collect())
    }

    /// Visible registered projects, optionally of one district, by project id: all of them (the answer grows with
    /// the city; lists that must stay small page with [`ReadDb::projects_page`]).
    pub async fn projects(&self, scope: &Scope, district: Option<&str>) -> Result<Vec<ProjectRow>, ProjectionError> {
        self.projects_where(scope, district, None, None).await
    }

    /// One page of visible registered projects, optionally of one district, in project id order: those after
    /// `after` (exclusive; keyset paging, so a page costs its own rows whatever its depth), at most `limit`
    /// (1–1000).
    pub async fn projects_page(
        &self,
        scope: &Scope,
        district: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ProjectRow>, ProjectionError> {
        self.projects_where(scope, district, after, Some(limit.clamp(1, 1000))).await
    }

    async fn projects_where(
        &self,
        scope: &Scope,
        district: Option<&str>,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<ProjectRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(PROJECT_SELECT);
        narrow_to_scope(&mut q, scope, "p");
        project_visible(&mut q, scope, "p.project_id");
        if let Some(d) = district {
            q.push(" AND p.district = ");
            q.bind(d);
        }
        if let Some(a) = after {
            q.push(" AND p.project_id > ");
            q.bind(a);
        }
        q.push(" ORDER BY p.project_id");
        if let Some(limit) = limit {
            q.push(" LIMIT ");
            q.bind(to_i64(limit as u64));
        }
        let rows: Vec<ProjectDb> = self.fetch_all(&q).await?;
        Ok(rows.into_iter().map(ProjectRow::from).collect())
    }

    /// Names and districts of the visible projects among `ids` (for labelling a bounded list, such as the latest
    /// alarms), by project id.
    pub async fn project_labels(&self, scope: &Scope, ids: &[String]) -> Result<Vec<ProjectLabel>, ProjectionError> {
        if *scope == Scope::Nothing || ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("SELECT p.project_id, p.name, p.district FROM projects p WHERE p.project_id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(id);
        }
        q.push(") AND ");
        project_visible(&mut q, scope, "p.project_id");
        q.push(" ORDER BY p.project_id");
        Ok(self.fetch_all(&q).await?)
    }

    /// The visible projects with the most open alarms (at least one), most first, at most `limit` (1–100). The
    /// cost follows the open alarms, not the projects or their history.
    pub async fn projects_with_open_alarms(
        &self,
        scope: &Scope,
        limit: usize,
    ) -> Result<Vec<OpenAlarmsRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT p.project_id, p.name, p.district, COALESCE(d.name, p.district) AS district_name, \
             CAST(COUNT(*) AS BIGINT) AS open_alarms FROM alarms a JOIN projects p ON p.project_id = a.project_id \
             LEFT JOIN districts d ON d.code = p.district WHERE a.open = 1 AND ",
        );
        narrow_to_scope(&mut q, scope, "p");
        project_visible(&mut q, scope, "p.project_id");
        q.push(" GROUP BY p.project_id, p.name, p.district, d.name ORDER BY open_alarms DESC, p.project_id LIMIT ");
        q.bind(to_i64(limit.clamp(1, 100) as u64));
        let rows: Vec<OpenAlarmsDb> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            .map(|r| OpenAlarmsRow {
                project_id: r.project_id,
                name: r.name,
                district: r.district,
                district_name: r.district_name,
                open_alarms: to_u64(r.open_alarms),
            })
            .collect())
    }

    /// One project's page, if it is registered and visible.
    pub async fn project(&self, scope: &Scope, id: &str) -> Result<Option<ProjectDetail>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(None);
        }
        let mut q = Sql::new(PROJECT_SELECT);
        project_visible(&mut q, scope, "p.project_id");
        q.push(" AND p.project_id = ");
        q.bind(id);
        let Some(row) = self.fetch_optional::<ProjectDb>(&q).await? else {
            return Ok(None);
        };
        let participants: Vec<ParticipantRow> = self
            .fetch_all(
                &Sql::new(
                    "SELECT pp.role, pp.credit_code, e.name AS enterprise_name, pp.position FROM participants pp \
                     LEFT JOIN enterprises e ON e.credit_code = pp.credit_code WHERE pp.project_id = ? \
                     ORDER BY pp.role, pp.credit_code",
                )
                .arg(id),
            )
            .await?;
        let kinds: Vec<KindDb> = self
            .fetch_all(
                &Sql::new(
                    "SELECT kind, events, last_position, last_occurred_at, last_occurred_us FROM project_kinds \
                     WHERE project_id = ? ORDER BY kind",
                )
                .arg(id),
            )
            .await?;
        let mut tiles: BTreeMap<String, (SubsystemTile, i64)> = BTreeMap::new();
        for k in &kinds {
            let subsystem = k.kind.split('.').next().unwrap_or_default().to_owned();
            let (t, latest_us) = tiles.entry(subsystem.clone()).or_insert_with(|| {
                (
                    SubsystemTile { subsystem, events: 0, kinds: 0, last_event_at: String::new(), last_position: 0 },
                    i64::MIN,
                )
            });
            t.events += to_u64(k.events);
            t.kinds += 1;
            t.last_position = t.last_position.max(to_u64(k.last_position));
            if k.last_occurred_us > *latest_us {
                *latest_us = k.last_occurred_us;
                t.last_event_at.clone_from(&k.last_occurred_at);
            }
        }
        Ok(Some(ProjectDetail {
            project: row.into(),
            participants,
            kinds: kinds
                .into_iter()
                .map(|k| KindCount {
                    kind: k.kind,
                    events: to_u64(k.events),
                    last_event_at: k.last_occurred_at,
                    last_position: to_u64(k.last_position),
                })
                .collect(),
            tiles: tiles.into_values().map(|(t, _)| t).collect(),
        }))
    }

    /// A project's records, newest first, before `before_position` (exclusive) if given, at most `limit`
    /// (1–1000). Empty if the project is not visible (`All` also sees records of unregistered projects).
    pub async fn project_timeline(
        &self,
        scope: &Scope,
        id: &str,
        before_position: Option<u64>,
        limit: usize,
    ) -> Result<Vec<TimelineRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let limit = limit.clamp(1, 1000);
        let mut q = Sql::new(
            "SELECT pe.position, pe.event_id, pe.stream, pe.kind, pe.occurred_at, pe.signer, pe.summary \
             FROM project_events pe WHERE pe.project_id = ",
        );
        q.bind(id).push(" AND ");
        project_visible(&mut q, scope, "pe.project_id");
        if let Some(b) = before_position {
            q.push(" AND pe.position < ");
            q.bind(b);
        }
        q.push(" ORDER BY pe.position DESC LIMIT ");
        q.bind(to_i64(limit as u64));
        Ok(self.fetch_all(&q).await?)
    }

    /// A visible project's records per Asia/Shanghai day `(day, records)`, the newest day first, at most `limit`
    /// (1–1000): kept for ever, so a timeline reaching before the raw period (whose records are no longer kept one by
    /// one, `ReadDb::prune_site_raw`) still says how many records each day had.
    pub async fn project_days(
        &self,
        scope: &Scope,
        id: &str,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("SELECT pd.day, pd.events FROM project_days pd WHERE pd.project_id = ");
        q.bind(id).push(" AND ");
        project_visible(&mut q, scope, "pd.project_id");
        q.push(" ORDER BY pd.day DESC LIMIT ");
        q.bind(to_i64(limit.clamp(1, 1000) as u64));
        Ok(self.fetch_all(&q).await?)
    }

    /// The registered names of the enterprises `codes` (those registered), by credit code: for labels, without the
    /// counts [`ReadDb::enterprises`] computes for every enterprise.
    pub async fn enterprise_names(&self, codes: &[String]) -> Result<HashMap<String, String>, ProjectionError> {
        if codes.is_empty() {
            return Ok(HashMap::new());
        }
        let mut q = Sql::new("SELECT credit_code, name FROM enterprises WHERE credit_code IN ");
        q.bind_list(codes.iter().map(String::as_str));
        let rows: Vec<(String, String)> = self.fetch_all(&q).await?;
        Ok(rows.into_iter().collect())
    }

    /// Enterprises: `All` every one; `District` those participating in its projects; `Enterprise` itself and its
    /// partners in its projects; `Nothing` none. `projects` counts only visible projects.
    pub async fn enterprises(&self, scope: &Scope) -> Result<Vec<EnterpriseRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT e.credit_code, e.name, e.types, e.position, CAST((SELECT COUNT(DISTINCT pp.project_id) \
             FROM participants pp JOIN projects p ON p.project_id = pp.project_id \
             WHERE pp.credit_code = e.credit_code AND ",
        );
        project_visible(&mut q, scope, "pp.project_id");
        q.push(") AS BIGINT) AS projects FROM enterprises e WHERE ");
        match scope {
            Scope::All | Scope::Nothing => {
                q.push("1 = 1");
            }
            Scope::District(_) | Scope::Enterprise(_) => {
                if let Scope::Enterprise(credit) = scope {
                    q.push("e.credit_code = ");
                    q.bind(credit).push(" OR ");
                }
                q.push("EXISTS (SELECT 1 FROM participants pv WHERE pv.credit_code = e.credit_code AND ");
                project_visible(&mut q, scope, "pv.project_id");
                q.push(")");
            }
        }
        q.push(" ORDER BY e.credit_code");
        let rows: Vec<EnterpriseDb> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            .map(|r| EnterpriseRow {
                credit_code: r.credit_code,
                name: r.name,
                types: serde_json::from_str(&r.types).unwrap_or_default(),
                projects: to_u64(r.projects),
                position: to_u64(r.position),
            })
            .collect())
    }

    /// Signer keys with their activity, by enrollment position. `All` every key; `District` keys whose subject
    /// is its code (or `district/<code>`) or a `project/<id>/…` of its projects; `Enterprise` likewise with its
    /// credit code and its projects; `Nothing` none. Status is judged at the current time.
    pub async fn keys(&self, scope: &Scope) -> Result<Vec<KeyRow>, ProjectionError> {
        self.keys_at(scope, OffsetDateTime::now_utc()).await
    }

    /// [`ReadDb::keys`] with the status judged at `now`.
    pub async fn keys_at(&self, scope: &Scope, now: OffsetDateTime) -> Result<Vec<KeyRow>, ProjectionError> {
        self.keys_page(scope, now, &KeyPage::default()).await
    }

    /// The keys of [`ReadDb::keys`] that `page` selects, in enrolment order, with the status judged at `now`.
    pub async fn keys_page(
        &self,
        scope: &Scope,
        now: OffsetDateTime,
        page: &KeyPage,
    ) -> Result<Vec<KeyRow>, ProjectionError> {
        let mut q = Sql::new(
            "SELECT k.key_id, k.public_key, k.subject, k.role, k.valid_from, k.valid_until, k.revoked_at, \
             k.revoked_reason, k.subject_project, k.enrolled_by, k.position, \
             CAST(COALESCE(s.records, 0) AS BIGINT) AS records, \
             CASE WHEN s.last_position >= 0 THEN s.last_position ELSE NULL END AS last_position, \
             CASE WHEN s.last_position >= 0 THEN s.last_occurred_at ELSE NULL END AS last_occurred_at, \
             CASE WHEN s.last_position >= 0 THEN s.last_seq ELSE NULL END AS last_seq, \
             CAST(COALESCE(s.gaps, 0) AS BIGINT) AS gaps, CAST(COALESCE(s.missing, 0) AS BIGINT) AS missing, \
             CAST(COALESCE(s.equivocations, 0) AS BIGINT) AS equivocations \
             FROM signer_keys k LEFT JOIN signer_stats s ON s.key_id = k.key_id WHERE ",
        );
        if !keys_visible(&mut q, scope) {
            return Ok(Vec::new());
        }
        if page.problems {
            q.push(" AND (COALESCE(s.gaps, 0) > 0 OR COALESCE(s.equivocations, 0) > 0)");
        }
        if let Some((position, key_id)) = &page.after {
            q.push(" AND (k.position, k.key_id) > (");
            q.bind(to_i64(*position)).push(", ").bind(key_id.as_str()).push(")");
        }
        q.push(" ORDER BY k.position, k.key_id");
        if let Some(limit) = page.limit {
            q.push(" LIMIT ");
            q.bind(to_i64(limit as u64));
        }
        let rows: Vec<KeyDb> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            .map(|k| {
                let status = key_status(&k, now);
                KeyRow {
                    status,
                    key_id: k.key_id,
                    public_key: k.public_key,
                    subject: k.subject,
                    role: k.role,
                    valid_from: k.valid_from,
                    valid_until: k.valid_until,
                    revoked_at: k.revoked_at,
                    revoked_reason: k.revoked_reason,
                    project_id: k.subject_project,
                    enrolled_by: k.enrolled_by,
                    position: to_u64(k.position),
                    records: to_u64(k.records),
                    last_position: k.last_position.map(to_u64),
                    last_occurred_at: k.last_occurred_at,
                    last_seq: k.last_seq.map(to_u64),
                    gaps: to_u64(k.gaps),
                    missing: to_u64(k.missing),
                    equivocations: to_u64(k.equivocations),
                }
            })
            .collect())
    }

    /// The enrolment position of key `key_id` visible to `scope` (a [`KeyPage::after`] cursor), if there is one.
    pub async fn key_position(&self, scope: &Scope, key_id: &str) -> Result<Option<u64>, ProjectionError> {
        let mut q = Sql::new("SELECT k.position FROM signer_keys k WHERE ");
        if !keys_visible(&mut q, scope) {
            return Ok(None);
        }
        q.push(" AND k.key_id = ");
        q.bind(key_id);
        let row: Option<(i64,)> = self.fetch_optional(&q).await?;
        Ok(row.map(|(p,)| to_u64(p)))
    }

    /// How many keys [`ReadDb::keys`] lists, by status judged at `now` and with gaps or equivocations: a row of
    /// five small columns per key, not the keys.
    pub async fn key_counts(&self, scope: &Scope, now: OffsetDateTime) -> Result<KeyCounts, ProjectionError> {
        let mut q = Sql::new(
            "SELECT k.valid_from, k.valid_until, k.revoked_at, CAST(COALESCE(s.gaps, 0) AS BIGINT) AS gaps, \
             CAST(COALESCE(s.equivocations, 0) AS BIGINT) AS equivocations \
             FROM signer_keys k LEFT JOIN signer_stats s ON s.key_id = k.key_id WHERE ",
        );
        if !keys_visible(&mut q, scope) {
            return Ok(KeyCounts::default());
        }
        #[derive(sqlx::FromRow)]
        struct Row {
            valid_from: String,
            valid_until: Option<String>,
            revoked_at: Option<String>,
            gaps: i64,
            equivocations: i64,
        }
        let mut c = KeyCounts::default();
        for r in self.fetch_all::<Row>(&q).await? {
            c.total += 1;
            if status_at(r.revoked_at.as_deref(), r.valid_until.as_deref(), &r.valid_from, now) == KeyStatus::Active {
                c.active += 1;
            }
            c.with_gaps += u64::from(r.gaps > 0);
            c.with_equivocations += u64::from(r.equivocations > 0);
        }
        Ok(c)
    }

    /// Alarms, newest (highest raising position) first. Alarms without a project (a ledger alarm on a key that
    /// belongs to no project) are visible to `All` only.
    pub async fn alarms(&self, scope: &Scope, filter: &AlarmFilter) -> Result<Vec<AlarmRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT a.project_id, a.alarm_id, a.source, a.category, a.level, a.message, a.value, a.threshold, \
             a.key_id, a.event_id, a.raised_at, a.position, a.open, a.cleared_at, a.cleared_note, \
             a.cleared_position FROM alarms a WHERE ",
        );
        project_visible(&mut q, scope, "a.project_id");
        if let Some(p) = &filter.project {
            q.push(" AND a.project_id = ");
            q.bind(p);
        }
        if filter.open_only {
            q.push(" AND a.open = 1");
        }
        if let Some(since) = filter.since {
            q.push(" AND a.raised_us >= ");
            q.bind(i64::try_from(since.unix_timestamp_nanos() / 1000).unwrap_or(i64::MIN));
        }
        q.push(" ORDER BY a.position DESC, a.alarm_key LIMIT ");
        q.bind(to_i64(filter.limit.unwrap_or(500).clamp(1, 10_000) as u64));
        let rows: Vec<AlarmDb> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            .map(|a| AlarmRow {
                project_id: a.project_id,
                alarm_id: a.alarm_id,
                source: a.source,
                category: a.category,
                level: a.level,
                message: a.message,
                value: a.value,
                threshold: a.threshold,
                key_id: a.key_id,
                event_id: a.event_id,
                raised_at: a.raised_at,
                position: to_u64(a.position),
                open: a.open != 0,
                cleared_at: a.cleared_at,
                cleared_note: a.cleared_note,
                cleared_position: a.cleared_position.map(to_u64),
            })
            .collect())
    }

    /// Today's date in Asia/Shanghai (for [`ReadDb::districts_overview`]).
    pub fn today() -> Date {
        siteledger_domain::time::shanghai_date(OffsetDateTime::now_utc())
    }
}
