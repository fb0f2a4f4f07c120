//! Derived site alarms (设备监测派生报警): the one table of rule codes with their label, levels, citation and shape,
//! and pure evaluators from readings, the policy in force and the state a read model keeps, to the alarms raised,
//! continued or cleared, each citing the records it rests on.
//!
//! Three shapes ([`Shape`]):
//! - **window**: `env_noise`, `env_pm10` judge a window of readings; the window is judged again as readings arrive
//!   and its alarm disappears when the window falls back below its limit. A window is kept as running sums
//!   ([`WindowSums`], one reading added at a time, judged by [`judge_sums`]) so that judging it costs the same
//!   whatever it holds; [`judge_window`] judges a slice of readings the same way;
//! - **one-off**: a record that is itself the finding (a work cycle, a cut-off, a failed drop test, a meter total
//!   that went down, a camera alarm);
//! - **episode**: open from the first offending record while records offend, cleared by the first record judged
//!   and found normal ([`step_episode`]); the level only rises within an episode. Some rules judge only some records
//!   (the operator while a load is on the hook or a cage moves; leakage when the meter reports a residual current):
//!   the others leave the episode as it is.
//!
//! Nothing here reads a clock or a database: the projection `site` loads the state (window sums, open episode,
//! operator session, last inspections, previous meter total), calls these functions and stores what they decide;
//! the dashboard shows [`AlarmRule::label`]. Thresholds come from [`rules`](super::rules).
//!
//! | module | what |
//! |---|---|
//! | here | the rule table ([`AlarmRule`]), [`DerivedAlarm`], [`Finding`], episodes ([`step_episode`]) |
//! | `window` | 扬尘噪声 windows ([`WindowSums`], [`judge_sums`], [`judge_window`]) |
//! | `devices` | cranes, hoists, meters, cameras ([`judge_crane_sample`], [`judge_hoist_sample`], [`judge_meter`], …) |

mod devices;
mod window;

use std::fmt;

use super::rules::Band;
use crate::quantity::Decimal;

pub use self::devices::*;
pub use self::window::*;

/// How many event ids an alarm row cites at most (the first ones of an episode or a window).
pub const MAX_CITED: usize = 50;

// ---------------------------------------------------------------------------------------------------------------
// The rule table
// ---------------------------------------------------------------------------------------------------------------

/// How serious an alarm is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlarmLevel {
    /// 预警.
    Warning,
    /// 违规 / 超标.
    Violation,
}

impl AlarmLevel {
    /// `warning` or `violation`, as stored and served.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Violation => "violation",
        }
    }

    /// The level of a stored `warning` / `violation`.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Warning, Self::Violation].into_iter().find(|l| l.as_str() == s)
    }

    /// The level of a band outside normal.
    pub const fn of_band(band: Band) -> Option<Self> {
        match band {
            Band::Normal => None,
            Band::Warning => Some(Self::Warning),
            Band::Violation => Some(Self::Violation),
        }
    }
}

/// How an alarm of a rule lives (see the module overview).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Judged over a window of readings, again as readings arrive.
    Window,
    /// One record, one alarm.
    OneOff,
    /// Open while records offend, cleared by a normal one.
    Episode,
}

/// A derived-alarm rule. Its code (`env_noise`, `crane_device_71`, `video_alarm_5_2`, …) is stored in alarm rows
/// and served by `/v1/site/alarms`: the codes are a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlarmRule {
    /// 噪声超标: a Leq window above the day or night limit.
    EnvNoise,
    /// PM10 超标: a window mean above the warning or alarm threshold.
    EnvPm10,
    /// 力矩/起重量: a crane sample in the moment or load band.
    CraneMoment,
    /// 风速停机: a crane sample at or above the wind stop.
    CraneWind,
    /// 未持证/未打卡操作: a load on the hook without a certified operator logged in.
    CraneOperator,
    /// A work cycle without a valid operator.
    CraneCycleOperator,
    /// A work cycle in the moment band.
    CraneCycleMoment,
    /// 控制回路断电: the black box cut the control circuit.
    CraneCutoff,
    /// A black-box alarm as sent (`AlarmType`), raised and cleared by the box.
    CraneDevice(u16),
    /// 升降机超载.
    HoistLoad,
    /// 升降机风速停机.
    HoistWind,
    /// 升降机未持证操作: a moving cage without a certified operator logged in.
    HoistOperator,
    /// 坠落试验未通过.
    HoistDropTestFailed,
    /// 防坠安全器标定过期: a moving cage with the safety gear calibration expired or missing.
    HoistCalibration,
    /// 坠落试验逾期: a moving cage with the drop test overdue or missing.
    HoistDropTest,
    /// 表计读数下降: a cumulative total went down.
    MeterDecrease,
    /// 漏电流超限: residual current above the limit.
    MeterLeakage,
    /// A GB/T 28181 camera alarm (报警方式, 报警类型).
    VideoAlarm {
        /// `AlarmMethod`.
        method: u8,
        /// `AlarmType`.
        alarm_type: u16,
    },
}

/// One row of the rule table.
struct Spec {
    /// The code, or the prefix of a family's codes (`crane_device_`, `video_alarm_`).
    code: &'static str,
    label: &'static str,
    levels: &'static [AlarmLevel],
    citation: &'static str,
    shape: Shape,
}

const W: &[AlarmLevel] = &[AlarmLevel::Warning];
const V: &[AlarmLevel] = &[AlarmLevel::Violation];
const WV: &[AlarmLevel] = &[AlarmLevel::Warning, AlarmLevel::Violation];

const fn spec(
    code: &'static str,
    label: &'static str,
    levels: &'static [AlarmLevel],
    citation: &'static str,
    shape: Shape,
) -> Spec {
    Spec { code, label, levels, citation, shape }
}

const MOMENT: &str = "GB 5144-2006 §6.1.2/§6.2.2";
const WIND: &str = "六级风（≥ 12 m/s）停止作业（行业实践）";
const OPERATOR: &str = "建设部令第166号 第二十五条";

impl AlarmRule {
    /// Every rule with a fixed code (the families `crane_device_<code>` and `video_alarm_<method>_<type>` aside).
    pub const FIXED: [AlarmRule; 16] = [
        Self::EnvNoise,
        Self::EnvPm10,
        Self::CraneMoment,
        Self::CraneWind,
        Self::CraneOperator,
        Self::CraneCycleOperator,
        Self::CraneCycleMoment,
        Self::CraneCutoff,
        Self::HoistLoad,
        Self::HoistWind,
        Self::HoistOperator,
        Self::HoistDropTestFailed,
        Self::HoistCalibration,
        Self::HoistDropTest,
        Self::MeterDecrease,
        Self::MeterLeakage,
    ];

    /// The table: code, label, levels, citation, shape.
    const fn spec(self) -> Spec {
        use Shape::{Episode, OneOff, Window};
        match self {
            Self::EnvNoise => spec("env_noise", "噪声超标", V, "GB 12523-2011 表1", Window),
            Self::EnvPm10 => spec("env_pm10", "PM10 超标", WV, "武汉 2017 实践阈值（宁波无数值，占位）", Window),
            Self::CraneMoment => spec("crane_moment", "力矩/起重量", WV, MOMENT, Episode),
            Self::CraneWind => spec("crane_wind", "风速停机", V, WIND, Episode),
            Self::CraneOperator => spec("crane_operator", "未持证/未打卡操作", V, OPERATOR, Episode),
            Self::CraneCycleOperator => spec("crane_cycle_operator", "工作循环无有效操作员", V, OPERATOR, OneOff),
            Self::CraneCycleMoment => spec("crane_cycle_moment", "工作循环超力矩", WV, MOMENT, OneOff),
            Self::CraneCutoff => spec("crane_cutoff", "控制回路断电", V, "JGJ 332-2014 §3.1.1", OneOff),
            Self::CraneDevice(_) => spec("crane_device_", "黑匣子报警", W, "JGJ 332-2014 §3.1.1", Episode),
            Self::HoistLoad => spec("hoist_load", "升降机超载", WV, "额定载重量（crane.policy.v1 载重分级）", Episode),
            Self::HoistWind => spec("hoist_wind", "升降机风速停机", V, WIND, Episode),
            Self::HoistOperator => spec("hoist_operator", "升降机未持证操作", V, OPERATOR, Episode),
            Self::HoistDropTestFailed => {
                spec("hoist_drop_test_failed", "坠落试验未通过", V, "JGJ 215-2010 §5.3.6", OneOff)
            }
            Self::HoistCalibration => {
                spec("hoist_calibration", "防坠安全器标定过期", V, "JGJ 215-2010 §4.1.7", Episode)
            }
            Self::HoistDropTest => spec("hoist_drop_test", "坠落试验逾期", V, "JGJ 215-2010 §5.3.6", Episode),
            Self::MeterDecrease => spec("meter_decrease", "表计读数下降", W, "累计读数单调不减（数据完整性）", OneOff),
            Self::MeterLeakage => spec("meter_leakage", "漏电流超限", V, "JGJ 46（剩余电流 ≤ 30 mA）", Episode),
            Self::VideoAlarm { .. } => spec("video_alarm_", "视频报警", WV, "GB/T 28181 报警事件", OneOff),
        }
    }

    /// The stored code (`env_noise`, `crane_device_71`, `video_alarm_5_2`).
    pub fn code(self) -> String {
        self.to_string()
    }

    /// The rule of a stored code; `None` for a code no rule writes.
    pub fn parse(code: &str) -> Option<Self> {
        if let Some(r) = Self::FIXED.into_iter().find(|r| r.spec().code == code) {
            return Some(r);
        }
        if let Some(c) = code.strip_prefix(Self::CraneDevice(0).spec().code) {
            return c.parse().ok().map(Self::CraneDevice);
        }
        let rest = code.strip_prefix(Self::VideoAlarm { method: 0, alarm_type: 0 }.spec().code)?;
        let (method, alarm_type) = rest.split_once('_')?;
        Some(Self::VideoAlarm { method: method.parse().ok()?, alarm_type: alarm_type.parse().ok()? })
    }

    /// The Chinese label the pages show (`噪声超标`, `黑匣子报警 71`).
    pub fn label(self) -> String {
        match self {
            Self::CraneDevice(c) => format!("{} {c}", self.spec().label),
            _ => self.spec().label.to_owned(),
        }
    }

    /// The label of a stored code, or the code itself if no rule writes it.
    pub fn label_of(code: &str) -> String {
        Self::parse(code).map_or_else(|| code.to_owned(), Self::label)
    }

    /// The levels an alarm of this rule can have.
    pub const fn levels(self) -> &'static [AlarmLevel] {
        self.spec().levels
    }

    /// The clause or practice the rule rests on.
    pub const fn citation(self) -> &'static str {
        self.spec().citation
    }

    /// How its alarms live.
    pub const fn shape(self) -> Shape {
        self.spec().shape
    }
}

impl fmt::Display for AlarmRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = self.spec().code;
        match self {
            Self::CraneDevice(c) => write!(f, "{prefix}{c}"),
            Self::VideoAlarm { method, alarm_type } => write!(f, "{prefix}{method}_{alarm_type}"),
            _ => f.write_str(prefix),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------------------------------------------------

/// An alarm a rule raises: what a row of the read model holds, but its time and place (the caller's record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedAlarm {
    /// The rule.
    pub rule: AlarmRule,
    /// Its level.
    pub level: AlarmLevel,
    /// Chinese first, then English.
    pub message: String,
    /// The value judged.
    pub value: Option<Decimal>,
    /// The threshold it was judged against.
    pub threshold: Option<Decimal>,
    /// The event ids it rests on, in order (a row keeps the first [`MAX_CITED`]).
    pub cited: Vec<String>,
    /// How many records it rests on: `cited.len()`, except for a window alarm, whose `cited` holds only the
    /// first [`MAX_CITED`] of its window's readings.
    pub samples: u64,
}

impl DerivedAlarm {
    fn new(rule: AlarmRule, level: AlarmLevel, message: String, cited: Vec<String>) -> Self {
        let samples = cited.len() as u64;
        Self { rule, level, message, value: None, threshold: None, cited, samples }
    }

    fn resting_on(mut self, samples: u64) -> Self {
        self.samples = samples;
        self
    }

    fn judged(mut self, value: &Decimal, threshold: &Decimal) -> Self {
        self.value = Some(value.clone());
        self.threshold = Some(threshold.clone());
        self
    }
}

/// What a rule found on a record it judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The record offends: raise or continue the episode.
    Offends(DerivedAlarm),
    /// The record is normal: clear the episode if one is open.
    Passes,
}

impl Finding {
    fn of(alarm: Option<DerivedAlarm>) -> Self {
        alarm.map_or(Self::Passes, Self::Offends)
    }
}

/// A finding of an episode rule (a rule that did not judge the record is absent).
pub type Judged = (AlarmRule, Finding);

// ---------------------------------------------------------------------------------------------------------------
// Episodes
// ---------------------------------------------------------------------------------------------------------------

/// The open episode of a rule on a device, as the read model keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenEpisode {
    /// Its level so far.
    pub level: AlarmLevel,
    /// Records that offended.
    pub samples: u64,
    /// The event ids it cites (at most [`MAX_CITED`]).
    pub cited: Vec<String>,
}

/// What to write for a record judged by an episode rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpisodeStep {
    /// Nothing (a normal record and no open episode).
    Unchanged,
    /// Open a new episode, citing the record.
    Raise(DerivedAlarm),
    /// The open episode goes on.
    Continue {
        /// Its level: the higher of the episode's and the record's.
        level: AlarmLevel,
        /// Records that offended, this one included.
        samples: u64,
        /// Its citations, this record appended while fewer than [`MAX_CITED`].
        cited: Vec<String>,
        /// The record's alarm when the level rose: its message and value replace the episode's.
        risen: Option<DerivedAlarm>,
    },
    /// Close the open episode: this record cleared it.
    Clear,
}

/// The next state of an episode after a record (`event_id`) judged by its rule.
pub fn step_episode(open: Option<OpenEpisode>, finding: Finding, event_id: &str) -> EpisodeStep {
    match (open, finding) {
        (None, Finding::Passes) => EpisodeStep::Unchanged,
        (Some(_), Finding::Passes) => EpisodeStep::Clear,
        (None, Finding::Offends(mut a)) => {
            a.cited = vec![event_id.to_owned()];
            a.samples = 1;
            EpisodeStep::Raise(a)
        }
        (Some(o), Finding::Offends(a)) => {
            let mut cited = o.cited;
            if cited.len() < MAX_CITED {
                cited.push(event_id.to_owned());
            }
            // A violation stays a violation until cleared.
            let level = o.level.max(a.level);
            let risen = (level != o.level).then_some(a);
            EpisodeStep::Continue { level, samples: o.samples.saturating_add(1), cited, risen }
        }
    }
}
