//! Evaluators of device records: crane samples, work cycles, black-box alarms and cut-offs; hoist samples and
//! drop tests; meter readings; camera alarms.

use super::{AlarmLevel, AlarmRule, DerivedAlarm, Finding, Judged};
use crate::date::LocalDate;
use crate::quantity::Decimal;
use crate::site::policy::CranePolicy;
use crate::site::rules::{self, Band, Due, MeterStep, OperatorIssue, OperatorSession};
use crate::site::types::{AlarmAction, MeterKind};
use crate::site::{
    CameraAlarm, CraneAlarm, CraneCutoff, CraneCycle, CraneSample, DropTestPerformed, HoistSample, MeterReading,
};

// ---------------------------------------------------------------------------------------------------------------
// Cranes
// ---------------------------------------------------------------------------------------------------------------

fn band_threshold<'a>(band: Band, warn: &'a Decimal, violation: &'a Decimal) -> &'a Decimal {
    if band == Band::Violation { violation } else { warn }
}

/// The operator finding of an operation on the record's local day: a violation unless a certified operator was
/// logged in (and is the one the record names, if it names one).
fn operator_finding(
    rule: AlarmRule,
    session: Option<&OperatorSession>,
    named: Option<&str>,
    on: LocalDate,
    event_id: &str,
) -> Finding {
    let issue = rules::operator_check(session, named, on).err();
    Finding::of(issue.map(|i| DerivedAlarm::new(rule, AlarmLevel::Violation, i.message(), vec![event_id.to_owned()])))
}

/// A crane sample: moment or load band ([`AlarmRule::CraneMoment`]), wind stop ([`AlarmRule::CraneWind`]) and,
/// while a load is on the hook, the operator ([`AlarmRule::CraneOperator`]) against the `session` logged in.
pub fn judge_crane_sample(
    policy: &CranePolicy,
    s: &CraneSample,
    session: Option<&OperatorSession>,
    event_id: &str,
) -> Vec<Judged> {
    let cite = || vec![event_id.to_owned()];
    let load = s.rated_load_t.as_ref().and_then(|r| rules::load_band(policy, &s.load_t, r)).unwrap_or(Band::Normal);
    let band = rules::moment_band(policy, &s.moment_pct).max(load);
    let moment = AlarmLevel::of_band(band).map(|level| {
        let message = format!(
            "塔吊力矩 {}%、起重量 {} t{}（预警 {}%，违规 {}%） / crane moment/load band",
            s.moment_pct,
            s.load_t,
            s.rated_load_t.as_ref().map(|r| format!("/额定 {r} t")).unwrap_or_default(),
            policy.moment_warn_pct,
            policy.moment_violation_pct
        );
        let th = band_threshold(band, &policy.moment_warn_pct, &policy.moment_violation_pct);
        DerivedAlarm::new(AlarmRule::CraneMoment, level, message, cite()).judged(&s.moment_pct, th)
    });
    let wind = rules::wind_stop(policy, &s.wind_m_s).then(|| {
        let message = format!("风速 {} m/s ≥ {} m/s，应停止作业 / wind stop", s.wind_m_s, policy.wind_stop_m_s);
        DerivedAlarm::new(AlarmRule::CraneWind, AlarmLevel::Violation, message, cite())
            .judged(&s.wind_m_s, &policy.wind_stop_m_s)
    });
    let mut out = vec![(AlarmRule::CraneMoment, Finding::of(moment)), (AlarmRule::CraneWind, Finding::of(wind))];
    // Operation (a load on the hook) needs a logged-in, certified operator.
    if s.load_t.mantissa() > 0 {
        let day = rules::local_date(&s.sampled_at).unwrap_or(LocalDate::MIN);
        let named = s.operator_ref.as_ref().map(|o| o.as_str());
        out.push((AlarmRule::CraneOperator, operator_finding(AlarmRule::CraneOperator, session, named, day, event_id)));
    }
    out
}

/// A work cycle's verdict: what its row records and the one-off alarms it raises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleJudgement {
    /// Its moment band.
    pub band: Band,
    /// Why its operator was not valid, if not.
    pub operator_issue: Option<OperatorIssue>,
    /// [`AlarmRule::CraneCycleOperator`] (citing the cycle and the login) and [`AlarmRule::CraneCycleMoment`].
    pub alarms: Vec<DerivedAlarm>,
}

/// A crane work cycle against the `session` logged in (with the login's event id).
pub fn judge_crane_cycle(
    policy: &CranePolicy,
    c: &CraneCycle,
    session: Option<(&OperatorSession, &str)>,
    event_id: &str,
) -> CycleJudgement {
    let band = rules::moment_band(policy, &c.max_moment_pct);
    let day = rules::local_date(&c.started_at).unwrap_or(LocalDate::MIN);
    let operator_issue =
        rules::operator_check(session.map(|(s, _)| s), c.operator_ref.as_ref().map(|o| o.as_str()), day).err();
    let mut alarms = Vec::new();
    if let Some(i) = &operator_issue {
        let mut cited = vec![event_id.to_owned()];
        cited.extend(session.map(|(_, login)| login.to_owned()));
        let message = format!("工作循环 {}：{}", c.started_at, i.message());
        alarms.push(DerivedAlarm::new(AlarmRule::CraneCycleOperator, AlarmLevel::Violation, message, cited));
    }
    if let Some(level) = AlarmLevel::of_band(band) {
        let message = format!(
            "工作循环 {} 最大力矩 {}%（超力矩 {} 次） / cycle moment band",
            c.started_at, c.max_moment_pct, c.over_moment_count
        );
        let th = band_threshold(band, &policy.moment_warn_pct, &policy.moment_violation_pct);
        let a = DerivedAlarm::new(AlarmRule::CraneCycleMoment, level, message, vec![event_id.to_owned()]);
        alarms.push(a.judged(&c.max_moment_pct, th));
    }
    CycleJudgement { band, operator_issue, alarms }
}

/// Black-box `AlarmType` names (xieyagit/zhgd).
pub fn black_box_alarm_name(code: u16) -> &'static str {
    match code {
        11 | 12 => "角度限位",
        13 | 14 => "变幅限位",
        15 => "高度上限位",
        21..=24 => "多机防碰撞",
        31..=34 => "禁吊区",
        41 | 42 => "禁入区",
        51 => "吊重",
        61 => "风速",
        71 => "未打卡操作",
        81 => "倾角",
        _ => "其他",
    }
}

/// A black-box alarm: raised or cleared by the box ([`AlarmRule::CraneDevice`]).
pub fn judge_crane_alarm(a: &CraneAlarm, event_id: &str) -> Judged {
    let rule = AlarmRule::CraneDevice(a.alarm_code);
    let raised = (a.action == AlarmAction::Raised).then(|| {
        let message = format!(
            "黑匣子报警 {}（{}）{} / black-box alarm",
            a.alarm_code,
            black_box_alarm_name(a.alarm_code),
            a.message.as_ref().map(ToString::to_string).unwrap_or_default()
        );
        let mut alarm = DerivedAlarm::new(rule, AlarmLevel::Warning, message, vec![event_id.to_owned()]);
        alarm.value = a.value.clone();
        alarm
    });
    (rule, Finding::of(raised))
}

/// A control-circuit cut-off (JGJ 332 §3.1.1): always a violation.
pub fn judge_cutoff(c: &CraneCutoff, event_id: &str) -> DerivedAlarm {
    let message = format!("控制回路断电（JGJ 332 §3.1.1）：{}", c.reason);
    DerivedAlarm::new(AlarmRule::CraneCutoff, AlarmLevel::Violation, message, vec![event_id.to_owned()])
}

// ---------------------------------------------------------------------------------------------------------------
// Hoists
// ---------------------------------------------------------------------------------------------------------------

/// A hoist's last inspections, as the read model keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HoistChecks {
    /// The last calibration: (`calibrated_on`, `valid_until`).
    pub calibration: Option<(LocalDate, LocalDate)>,
    /// The last passed drop test.
    pub last_passed_drop: Option<LocalDate>,
}

fn due_finding(rule: AlarmRule, due: Due, what: &str, event_id: &str) -> Finding {
    let message = match due {
        Due::ValidUntil(_) => return Finding::Passes,
        Due::Overdue(since) => format!("升降机运行时{what}已于 {since} 到期 / {rule}"),
        Due::Missing => format!("升降机运行时无{what}记录 / {rule}"),
    };
    Finding::Offends(DerivedAlarm::new(rule, AlarmLevel::Violation, message, vec![event_id.to_owned()]))
}

/// A hoist sample: load band and wind stop; while the cage moves, the safety gear calibration and the drop test
/// on the sample's day (JGJ 215-2010 §4.1.7, §5.3.6) and the operator against the `session` logged in.
pub fn judge_hoist_sample(
    policy: &CranePolicy,
    s: &HoistSample,
    checks: &HoistChecks,
    session: Option<&OperatorSession>,
    event_id: &str,
) -> Vec<Judged> {
    let cite = || vec![event_id.to_owned()];
    let band = rules::load_pct_band(policy, &s.load_pct);
    let load = AlarmLevel::of_band(band).map(|level| {
        let message = format!("升降机载重 {}%（{} kg，{} 人） / hoist load band", s.load_pct, s.load_kg, s.people);
        let th = band_threshold(band, &policy.load_warn_pct, &policy.load_violation_pct);
        DerivedAlarm::new(AlarmRule::HoistLoad, level, message, cite()).judged(&s.load_pct, th)
    });
    let wind = rules::wind_stop(policy, &s.wind_m_s).then(|| {
        let message = format!("风速 {} m/s ≥ {} m/s，升降机应停止运行 / wind stop", s.wind_m_s, policy.wind_stop_m_s);
        DerivedAlarm::new(AlarmRule::HoistWind, AlarmLevel::Violation, message, cite())
            .judged(&s.wind_m_s, &policy.wind_stop_m_s)
    });
    let mut out = vec![(AlarmRule::HoistLoad, Finding::of(load)), (AlarmRule::HoistWind, Finding::of(wind))];
    if s.direction.get() != 0 {
        let day = rules::local_date(&s.sampled_at).unwrap_or(LocalDate::MIN);
        let cal = rules::calibration_due(policy, checks.calibration, day);
        let drop = rules::drop_test_due(policy, checks.last_passed_drop, day);
        let named = s.operator_ref.as_ref().map(|o| o.as_str());
        out.extend([
            (AlarmRule::HoistCalibration, due_finding(AlarmRule::HoistCalibration, cal, "防坠安全器标定", event_id)),
            (AlarmRule::HoistDropTest, due_finding(AlarmRule::HoistDropTest, drop, "坠落试验", event_id)),
            (AlarmRule::HoistOperator, operator_finding(AlarmRule::HoistOperator, session, named, day, event_id)),
        ]);
    }
    out
}

/// A drop test: a failed one is a violation (JGJ 215 §5.3.6).
pub fn judge_drop_test(d: &DropTestPerformed, event_id: &str) -> Option<DerivedAlarm> {
    (!d.passed).then(|| {
        let message = format!("{} 坠落试验未通过（JGJ 215 §5.3.6） / drop test failed", d.performed_on);
        DerivedAlarm::new(AlarmRule::HoistDropTestFailed, AlarmLevel::Violation, message, vec![event_id.to_owned()])
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Meters and cameras
// ---------------------------------------------------------------------------------------------------------------

/// A meter's previous reading, as the read model keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousTotal {
    /// Its cumulative total.
    pub total: Decimal,
    /// Its record.
    pub event_id: String,
}

/// A meter reading's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterJudgement {
    /// Consumption since the previous reading (none for the first reading or after a decrease).
    pub consumption: Option<Decimal>,
    /// [`AlarmRule::MeterDecrease`], citing the previous and this reading.
    pub decrease: Option<DerivedAlarm>,
    /// [`AlarmRule::MeterLeakage`], when the reading has a residual current.
    pub leakage: Option<Judged>,
}

/// A meter reading after `previous` (of the same device and meter).
pub fn judge_meter(
    policy: &CranePolicy,
    m: &MeterReading,
    previous: Option<&PreviousTotal>,
    event_id: &str,
) -> MeterJudgement {
    let mut out = MeterJudgement { consumption: None, decrease: None, leakage: None };
    match previous.and_then(|p| Some((p, rules::meter_step(&p.total, &m.total)?))) {
        Some((_, MeterStep::Consumption(c))) => out.consumption = Some(c),
        Some((p, MeterStep::Decrease(d))) => {
            let which = if m.meter == MeterKind::Water { "水" } else { "电" };
            let message = format!(
                "{which}表读数下降 {} → {}（差 {d}），累计值应单调不减 / meter total decreased",
                p.total, m.total
            );
            let cited = vec![p.event_id.clone(), event_id.to_owned()];
            let a = DerivedAlarm::new(AlarmRule::MeterDecrease, AlarmLevel::Warning, message, cited);
            out.decrease = Some(a.judged(&m.total, &p.total));
        }
        None => {}
    }
    out.leakage = m.residual_current_ma.as_ref().map(|r| {
        let leak = rules::leakage_alarm(policy, r).then(|| {
            let message =
                format!("剩余电流 {r} mA 超过 {} mA（JGJ 46） / leakage current alarm", policy.leakage_alarm_ma);
            DerivedAlarm::new(AlarmRule::MeterLeakage, AlarmLevel::Violation, message, vec![event_id.to_owned()])
                .judged(r, &policy.leakage_alarm_ma)
        });
        (AlarmRule::MeterLeakage, Finding::of(leak))
    });
    out
}

/// A camera alarm: priority 1–2 (一级、二级警情) is a violation, 3–4 a warning.
pub fn judge_camera_alarm(c: &CameraAlarm, event_id: &str) -> DerivedAlarm {
    let rule = AlarmRule::VideoAlarm { method: c.method.get(), alarm_type: c.alarm_type };
    let level = if c.priority.get() <= 2 { AlarmLevel::Violation } else { AlarmLevel::Warning };
    let message = format!(
        "视频报警 {}级 方式{} 类型{} {} / camera alarm",
        c.priority.get(),
        c.method.get(),
        c.alarm_type,
        c.description.as_ref().map(ToString::to_string).unwrap_or_default()
    );
    DerivedAlarm::new(rule, level, message, vec![event_id.to_owned()])
}
