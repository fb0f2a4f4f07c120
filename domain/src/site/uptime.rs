//! 在线率 over time: a camera's online time per Asia/Shanghai day from its signed status transitions
//! (`video.camera.status.v1`) and keepalive gaps, not from its status at the moment someone asks.
//!
//! A camera's **timeline** is its latest report: the status and the instant it was signed (`occurred_at`). The
//! span from one report to the next carries the earlier report's status, with two corrections:
//!
//! * **Silence.** A status is sent on change and at least hourly (docs/KINDS.md), so a camera whose last report
//!   said online and that then stays silent for longer than [`SILENCE_US`] counts **offline from that last
//!   report** (issue 19: "a camera silent for longer than the configured interval counts as offline from the last
//!   keepalive"): nothing vouches for the time after it. A silence within the interval is presumed online. The
//!   same rule credits the open span at query time ([`open_span`]), so a camera whose agent died does not stay
//!   "online" for ever: once the interval has passed, its whole silence turns offline.
//! * **Keepalive gaps.** An `offline` report carrying `last_keepalive_at` was offline from that keepalive (the
//!   agent declares a camera offline only after interval × count keepalives were missed): the online credit of the
//!   span ends there, even when the span is longer than the silence interval (the keepalives vouch for it).
//!
//! A report signed before the timeline's latest report (a late or out-of-order record) does not move the timeline
//! and credits nothing ([`Step::Late`]): totals already credited stay as they are, and a rebuild in log order
//! decides the same. Spans are split at Shanghai midnight; one report credits at most [`MAX_SPAN_DAYS`] days.

/// µs in a day.
pub const DAY_US: i64 = 86_400 * 1_000_000;
/// Asia/Shanghai midnight is 16:00 UTC (UTC+08:00 all year, see [`crate::time`]).
const SHANGHAI_OFFSET_US: i64 = 8 * 3_600 * 1_000_000;
/// How long a camera reported online may stay silent before its whole silence counts offline: the hourly
/// report the kind requires plus 5 minutes for the agent's clock and queue. One definition for the fold and the
/// queries; changing it changes folded rows, so it goes with a bump of the `site` projection's version.
pub const SILENCE_US: i64 = 3_900 * 1_000_000;
/// The longest span one report credits, in days back from the report: a report after years of silence writes a
/// bounded number of day rows (the older days of such a span stay unknown rather than offline).
pub const MAX_SPAN_DAYS: i64 = 400;

/// A camera's latest report, as the fold keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeline {
    /// Whether the latest report said online.
    pub online: bool,
    /// When it was signed (µs since the epoch).
    pub at_us: i64,
}

/// One status record, as the fold sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// `online` or not.
    pub online: bool,
    /// Its `occurred_at` (µs).
    pub at_us: i64,
    /// Its `last_keepalive_at` (µs), if sent.
    pub last_keepalive_us: Option<i64>,
}

/// The part of a span that falls on one local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayShare {
    /// Shanghai midnight starting the day (µs).
    pub day_start_us: i64,
    /// Time credited online on that day (µs).
    pub online_us: i64,
    /// Time covered by the camera's timeline on that day (µs): the denominator of its share.
    pub known_us: i64,
}

/// What one report does to a timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Signed before the latest report: ignored (counted by the caller).
    Late,
    /// The new timeline and the day shares the closed span credits (empty for the first report).
    Advanced {
        /// The timeline after the report.
        timeline: Timeline,
        /// The closed span, per day.
        days: Vec<DayShare>,
    },
}

/// Shanghai midnight at or before `us`.
pub fn day_start(us: i64) -> i64 {
    (us.saturating_add(SHANGHAI_OFFSET_US)).div_euclid(DAY_US) * DAY_US - SHANGHAI_OFFSET_US
}

/// Where the online credit of a span starting at `t` and ending at `to_us` ends (`t.at_us` if it said offline).
fn online_end(t: Timeline, to_us: i64, silence_us: i64) -> i64 {
    if t.online && to_us.saturating_sub(t.at_us) <= silence_us { to_us } else { t.at_us }
}

/// Applies one report to a camera's timeline (`None`: its first report).
pub fn step(prev: Option<Timeline>, r: Report, silence_us: i64) -> Step {
    let timeline = Timeline { online: r.online, at_us: r.at_us };
    let Some(p) = prev else { return Step::Advanced { timeline, days: Vec::new() } };
    if r.at_us < p.at_us {
        return Step::Late;
    }
    // An offline report naming the last keepalive is the agent's signed word for when the camera went quiet:
    // online up to it (never outside the span), whatever the silence; otherwise the silence rule decides.
    let end = match r.last_keepalive_us {
        Some(k) if p.online && !r.online => k.clamp(p.at_us, r.at_us),
        _ => online_end(p, r.at_us, silence_us),
    };
    Step::Advanced { timeline, days: split(p.at_us, r.at_us, end) }
}

/// The open span of a timeline up to `now_us` (nothing if `now_us` is not after it), per day, with the silence
/// rule: what a query adds to the folded days.
pub fn open_span(t: Timeline, now_us: i64, silence_us: i64) -> Vec<DayShare> {
    if now_us <= t.at_us {
        return Vec::new();
    }
    split(t.at_us, now_us, online_end(t, now_us, silence_us))
}

/// Splits `[from, to)` at Shanghai midnights, online in `[from, online_to)`; at most [`MAX_SPAN_DAYS`] days back
/// from `to`.
fn split(from: i64, to: i64, online_to: i64) -> Vec<DayShare> {
    // The day of the span's last instant and the days before it.
    let from = from.max(day_start(to.saturating_sub(1)).saturating_sub((MAX_SPAN_DAYS - 1) * DAY_US));
    let mut out = Vec::new();
    let mut d = day_start(from);
    while d < to {
        let next = d.saturating_add(DAY_US);
        let overlap = |a: i64, b: i64| (b.min(next) - a.max(d)).max(0);
        let known_us = overlap(from, to);
        if known_us > 0 {
            out.push(DayShare { day_start_us: d, online_us: overlap(from, online_to), known_us });
        }
        d = next;
    }
    out
}

/// Online time per mille of the time known; `None` when nothing is known.
pub fn share_permille(online_us: i64, known_us: i64) -> Option<u64> {
    let online = u64::try_from(online_us.clamp(0, known_us.max(0))).ok()?;
    let known = u64::try_from(known_us).ok().filter(|k| *k > 0)?;
    u64::try_from(u128::from(online) * 1000 / u128::from(known)).ok()
}
