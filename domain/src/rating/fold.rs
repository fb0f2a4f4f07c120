//! The pure fold of a log prefix into what ratings, credit, reports and replays need.
//!
//! [`RatingFold`] takes the records of the log in position order ([`LogRecord`]: the envelope's fields and
//! payload; no store, no clock) and remembers, per project, the Asia/Shanghai days on which each kind was
//! recorded, the registry, the 标准化工地 programme, alarms, signer gaps and rating decisions; with credit rules,
//! the credit records derived from each record. Every result the platform signs is a function of this fold and
//! a policy version, so anyone holding the same log prefix recomputes the same bytes.
//!
//! The fold's state is serialisable (serde): the server keeps snapshots of it keyed by tree size and resumes
//! from them (`siteledger_projections::rating::prefix`), so a computation at size N folds only the records after
//! the newest snapshot. Folding record by record from a restored state gives the same state as folding from 0,
//! which the tests check on the canonical bytes. The state grows with projects × kinds × days, alarms, decisions
//! and credit records, never with the number of records: the positions of a project's records are not kept
//! (the auditor replay, which lists them, reads the log itself).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::date::LocalDate;
use crate::ids::{CreditCode, ProjectId};
use crate::payload::DomainEvent;
use crate::registry::{self, RegistryState};
use crate::site::uptime::{self, Report, Step, Timeline};
use crate::site::{CameraStatus, SiteEvent};
use crate::stream;

use super::credit::{CreditRecord, CreditRules};
use super::policy::{EvidenceDays, ProjectFacts, RatingPolicy};
use super::{RatingEvent, StandardSiteEnrolled};

/// Kind of the ledger's signer-gap notice.
pub const SIGNER_GAP: &str = "ledger.signer.gap.v1";
/// Kind of a key enrollment.
pub const KEY_ENROLLED: &str = "ledger.key.enrolled.v1";

/// One record of the log, as the fold sees it.
#[derive(Debug, Clone, Copy)]
pub struct LogRecord<'a> {
    /// Leaf index.
    pub position: u64,
    /// Event id.
    pub event_id: &'a str,
    /// Stream.
    pub stream: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// `occurred_at` as signed.
    pub occurred_at: &'a str,
    /// Signer key id.
    pub signer: &'a str,
    /// Payload.
    pub payload: &'a Map<String, Value>,
}

/// The Asia/Shanghai calendar day of an RFC 3339 time.
pub fn shanghai_day(rfc3339: &str) -> Option<LocalDate> {
    crate::time::shanghai_day(rfc3339)
}

/// The instant of an RFC 3339 time, in seconds since the epoch.
pub fn unix_seconds(rfc3339: &str) -> Option<i64> {
    OffsetDateTime::parse(rfc3339, &Rfc3339).ok().map(OffsetDateTime::unix_timestamp)
}

/// An alarm's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmLife {
    /// Category (`dust`, `noise`, …).
    pub category: String,
    /// `warning` or `violation`.
    pub level: String,
    /// Raised at (RFC 3339 as signed).
    pub raised_at: String,
    /// Day raised.
    pub raised_day: LocalDate,
    /// Cleared at, if cleared.
    pub cleared_at: Option<String>,
    /// Seconds from raised to cleared.
    pub cleared_after_s: Option<i64>,
    /// Event id of the raise.
    pub event_id: String,
    /// Position of the raise.
    pub position: u64,
}

/// A rating decision found in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionSeen {
    /// Position.
    pub position: u64,
    /// Event id.
    pub event_id: String,
    /// The decision.
    pub decision: super::RatingDecision,
}

/// Everything the fold remembers of one project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectLog {
    /// Kind → Asia/Shanghai days with at least one record of it in the project's streams.
    pub kind_days: BTreeMap<String, BTreeSet<LocalDate>>,
    /// Kind → number of records.
    pub kind_counts: BTreeMap<String, u64>,
    /// Alarms by alarm id.
    pub alarms: BTreeMap<String, AlarmLife>,
    /// Rating decisions in log order.
    pub decisions: Vec<DecisionSeen>,
    /// Start years for which the project is in the 标准化工地 programme.
    pub standard_site_years: BTreeSet<i32>,
    /// Signer gaps of the project's keys: (position, event id, missing records).
    pub gaps: Vec<(u64, String, u64)>,
    /// Its cameras' online time, from `video.camera.status.v1` (absent from the state while it has none).
    #[serde(default, skip_serializing_if = "CameraTime::is_empty")]
    pub cameras: CameraTime,
}

/// Online and known time of one day (µs), summed over a project's cameras.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineDay {
    /// Time credited online.
    pub online_us: i64,
    /// Time covered by the cameras' reports (the share's denominator).
    pub known_us: i64,
}

impl OnlineDay {
    /// Online time per mille of the time known ([`uptime::share_permille`]); `None` when nothing is known.
    pub fn permille(&self) -> Option<u64> {
        uptime::share_permille(self.online_us, self.known_us)
    }
}

/// A project's cameras' online time, folded with [`crate::site::uptime`] (the rules of the site pages' 在线率:
/// spans between reports, the silence interval, keepalive gaps, late reports ignored). Bounded by cameras + days:
/// one latest report per camera and one total per day, whatever the number of reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraTime {
    /// Camera id → its latest report: (said online, `occurred_at` in µs).
    pub latest: BTreeMap<String, (bool, i64)>,
    /// Asia/Shanghai day → the closed spans' online and known time, summed over the cameras.
    pub days: BTreeMap<LocalDate, OnlineDay>,
    /// Reports signed before their camera's latest one: ignored, counted.
    pub late_reports: u64,
}

impl CameraTime {
    /// No camera has reported.
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty() && self.days.is_empty() && self.late_reports == 0
    }

    /// Folds one status report of `camera` ([`uptime::step`]).
    pub fn apply(&mut self, camera: &str, report: Report) {
        let prev = self.latest.get(camera).map(|&(online, at_us)| Timeline { online, at_us });
        match uptime::step(prev, report, uptime::SILENCE_US) {
            Step::Late => self.late_reports += 1,
            Step::Advanced { timeline, days } => {
                self.latest.insert(camera.to_owned(), (timeline.online, timeline.at_us));
                for d in days {
                    if let Some(day) = local_day(d.day_start_us) {
                        let e = self.days.entry(day).or_default();
                        e.online_us += d.online_us;
                        e.known_us += d.known_us;
                    }
                }
            }
        }
    }

    /// The instant of the newest report of any camera of the project (µs), if any: how far the project's
    /// cameras' time is known in this prefix.
    pub fn horizon_us(&self) -> Option<i64> {
        self.latest.values().map(|&(_, at)| at).max()
    }

    /// Online and known time per day: the closed spans plus each camera's open span up to the project's
    /// [horizon](Self::horizon_us), credited with the silence rule ([`uptime::open_span`]), so a camera that went
    /// silent while another kept reporting counts offline once the interval has passed — what the site pages
    /// show when asked at that instant.
    pub fn online_days(&self) -> BTreeMap<LocalDate, OnlineDay> {
        let mut out = self.days.clone();
        let Some(horizon) = self.horizon_us() else { return out };
        for &(online, at_us) in self.latest.values() {
            for d in uptime::open_span(Timeline { online, at_us }, horizon, uptime::SILENCE_US) {
                if let Some(day) = local_day(d.day_start_us) {
                    let e = out.entry(day).or_default();
                    e.online_us += d.online_us;
                    e.known_us += d.known_us;
                }
            }
        }
        out
    }
}

/// The Asia/Shanghai day starting at `day_start_us` (a Shanghai midnight, [`uptime::day_start`]).
fn local_day(day_start_us: i64) -> Option<LocalDate> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(day_start_us) * 1000).ok()?;
    LocalDate::try_from(crate::time::shanghai_date(t)).ok()
}

/// µs since the epoch of an RFC 3339 time.
fn micros(rfc3339: &str) -> Option<i64> {
    crate::time::parse_rfc3339(rfc3339).and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1000).ok())
}

/// The fold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingFold {
    /// The registry as of the last record folded.
    pub registry: RegistryState,
    /// Per-project logs.
    pub projects: BTreeMap<ProjectId, ProjectLog>,
    /// Published rating policies by version, with the position that published them.
    pub policies: BTreeMap<u32, (u64, RatingPolicy)>,
    /// Published credit rules by version.
    pub credit_rules: BTreeMap<u32, (u64, CreditRules)>,
    /// Key id → enrolled subject.
    pub key_subjects: BTreeMap<String, String>,
    /// Credit records, when the fold was created with rules.
    pub credit_records: Vec<CreditRecord>,
    /// The rules used for credit records.
    rules: Option<CreditRules>,
    /// Records folded (the tree size reached when they are the log's first records).
    pub size: u64,
}

impl RatingFold {
    /// An empty fold; with `rules`, credit records are derived as records are folded.
    pub fn new(rules: Option<CreditRules>) -> Self {
        Self { rules, ..Self::default() }
    }

    /// The credit rules the fold derives credit records with, if any.
    pub fn rules(&self) -> Option<&CreditRules> {
        self.rules.as_ref()
    }

    /// The project's facts for [`super::policy::required_level`].
    pub fn facts(&self, project_id: &ProjectId) -> Option<ProjectFacts> {
        let p = self.registry.project(project_id)?;
        let year = p.start_date.date().year();
        let programme = self.projects.get(project_id).is_some_and(|l| l.standard_site_years.contains(&year));
        Some(ProjectFacts {
            central_urban: p.central_urban,
            floor_area_m2: p.floor_area_m2,
            contract_cost_fen: p.contract_cost_fen,
            start_date: p.start_date,
            standard_site_programme: programme,
        })
    }

    /// A project's evidence days per application of `policy`: days with a record of one of the application's
    /// prefixes and, for an application with `min_camera_online_permille`, whose cameras' online share
    /// ([`Self::camera_online`]) reaches it.
    pub fn evidence(&self, project_id: &ProjectId, policy: &RatingPolicy) -> EvidenceDays {
        let mut out = EvidenceDays::new();
        let log = self.projects.get(project_id);
        let mut online: Option<BTreeMap<LocalDate, OnlineDay>> = None;
        for app in &policy.applications {
            let mut days = BTreeSet::new();
            if let Some(log) = log {
                for (kind, d) in &log.kind_days {
                    if app.prefixes.iter().any(|p| p.matches(kind)) {
                        days.extend(d.iter().copied());
                    }
                }
                if let Some(min) = app.min_camera_online_permille {
                    let online = online.get_or_insert_with(|| log.cameras.online_days());
                    days.retain(|d| online.get(d).and_then(OnlineDay::permille).is_some_and(|p| p >= u64::from(min)));
                }
            }
            out.insert(app.id.clone(), days);
        }
        out
    }

    /// A project's cameras' online and known time per Asia/Shanghai day in this prefix ([`CameraTime::online_days`]).
    pub fn camera_online(&self, project_id: &ProjectId) -> BTreeMap<LocalDate, OnlineDay> {
        self.projects.get(project_id).map(|l| l.cameras.online_days()).unwrap_or_default()
    }

    /// Folds the next record (positions must be consecutive from 0 for `size` to be the tree size).
    pub fn apply(&mut self, r: &LogRecord<'_>) {
        self.size = self.size.max(r.position + 1);
        let day = shanghai_day(r.occurred_at);
        if r.kind == KEY_ENROLLED {
            if let (Some(Value::String(k)), Some(Value::String(s))) =
                (r.payload.get("key_id"), r.payload.get("subject"))
            {
                self.key_subjects.insert(k.clone(), s.clone());
            }
            return;
        }
        let project = stream::project_of_stream(r.stream);
        if let Some(p) = &project {
            let log = self.projects.entry(p.clone()).or_default();
            *log.kind_counts.entry(r.kind.to_owned()).or_default() += 1;
            if let Some(d) = day {
                log.kind_days.entry(r.kind.to_owned()).or_default().insert(d);
            }
        }
        if r.kind == crate::site::CAMERA_STATUS
            && let Some(Ok(SiteEvent::CameraStatus(c))) = SiteEvent::parse(r.kind, r.payload)
            && let Some(at_us) = micros(r.occurred_at)
        {
            let report = Report {
                online: c.status == CameraStatus::Online,
                at_us,
                last_keepalive_us: c
                    .last_keepalive_at
                    .as_ref()
                    .and_then(|k| i64::try_from(k.instant().unix_timestamp_nanos() / 1000).ok()),
            };
            self.projects.entry(c.project_id.clone()).or_default().cameras.apply(c.device_id.as_str(), report);
        }
        let mut gap_project = None;
        // Only the kinds the fold reads are type-checked (readings are counted, not parsed).
        let wanted = ["registry.", "alarm.", "rating.", "credit.", "report."].iter().any(|p| r.kind.starts_with(p));
        let parsed = if wanted { DomainEvent::parse(r.kind, r.payload).ok() } else { None };
        match parsed {
            Some(DomainEvent::Registry(e)) => registry::evolve(&mut self.registry, &e),
            Some(DomainEvent::AlarmRaised(a)) => {
                if let Some(d) = day {
                    let log = self.projects.entry(a.project_id.clone()).or_default();
                    log.alarms.insert(
                        a.alarm_id.as_str().to_owned(),
                        AlarmLife {
                            category: a.category.as_str().to_owned(),
                            level: a.level.as_str().to_owned(),
                            raised_at: r.occurred_at.to_owned(),
                            raised_day: d,
                            cleared_at: None,
                            cleared_after_s: None,
                            event_id: r.event_id.to_owned(),
                            position: r.position,
                        },
                    );
                }
            }
            Some(DomainEvent::AlarmCleared(c)) => {
                if let Some(life) =
                    self.projects.get_mut(&c.project_id).and_then(|l| l.alarms.get_mut(c.alarm_id.as_str()))
                    && life.cleared_at.is_none()
                {
                    life.cleared_at = Some(r.occurred_at.to_owned());
                    life.cleared_after_s =
                        unix_seconds(r.occurred_at).zip(unix_seconds(&life.raised_at)).map(|(b, a)| (b - a).max(0));
                }
            }
            Some(DomainEvent::Rating(e)) => match e {
                RatingEvent::Policy(p) => {
                    self.policies.entry(p.version).or_insert((r.position, p));
                }
                RatingEvent::CreditRules(c) => {
                    self.credit_rules.entry(c.version).or_insert((r.position, c));
                }
                RatingEvent::Decision(d) => {
                    let log = self.projects.entry(d.project_id.clone()).or_default();
                    log.decisions.push(DecisionSeen {
                        position: r.position,
                        event_id: r.event_id.to_owned(),
                        decision: d,
                    });
                }
                RatingEvent::StandardSite(StandardSiteEnrolled { project_id, year, .. }) => {
                    self.projects.entry(project_id).or_default().standard_site_years.insert(i32::from(year));
                }
                RatingEvent::Report(_) | RatingEvent::Award(_) => {}
            },
            _ => {}
        }
        if r.kind == SIGNER_GAP
            && let Some(Value::String(key)) = r.payload.get("key_id")
            && let Some(p) = self.key_subjects.get(key).and_then(|s| stream::project_of_stream(s))
        {
            let missing = r.payload.get("missing").and_then(Value::as_u64).unwrap_or(0);
            self.projects.entry(p.clone()).or_default().gaps.push((r.position, r.event_id.to_owned(), missing));
            gap_project = Some(p);
        }
        if let (Some(rules), Some(day)) = (&self.rules, day) {
            let project = project
                .or(gap_project)
                .or_else(|| r.payload.get("project_id").and_then(Value::as_str).and_then(|s| ProjectId::parse(s).ok()));
            let Some(project) = project else { return };
            let Some(p) = self.registry.project(&project) else { return };
            for m in rules.mappings.iter().filter(|m| m.matches(r.kind, r.payload)) {
                let until = day
                    .date()
                    .checked_add(time::Duration::days(i64::from(m.effective_days)))
                    .and_then(|d| LocalDate::try_from(d).ok())
                    .unwrap_or(day);
                let parties: Vec<CreditCode> = p.participants_in(m.party).cloned().collect();
                for credit_code in parties {
                    self.credit_records.push(CreditRecord {
                        credit_code,
                        project_id: Some(project.clone()),
                        mapping: m.id.as_str().to_owned(),
                        polarity: m.polarity,
                        points: m.points,
                        effective_from: day,
                        effective_until: until,
                        event_id: r.event_id.to_owned(),
                        position: r.position,
                        kind: r.kind.to_owned(),
                    });
                }
            }
        }
    }
}
