//! Arrears and anomaly rules (《保障农民工工资支付条例》, DOMAIN.md §5) as pure functions over one project's facts.
//!
//! The read model gathers the facts of a project (attendance days with the id of each day's first passage,
//! payroll lines, transfers, registered cards, certificates, labour-cost deposits) and calls [`findings`] with
//! an `as_of` date that comes from the log (the latest record seen) or from the caller, never from a clock.
//! Every [`Finding`] cites the event ids it rests on, so a reader can fetch each record and its inclusion proof.
//!
//! | rule | when |
//! |---|---|
//! | `arrears_suspected` (第十二条) | attendance in month M, nothing transferred for M, `as_of` after the pay date |
//! | `underpayment` (第十一条) | a payroll line's actual < payable |
//! | `transfer_mismatch` (第三十一条) | transfers for a line ≠ its actual amount (once any transfer exists or the pay date passed) |
//! | `ghost_payroll` | payable or paid for M with no attendance in M (not 补发) |
//! | `missing_from_payroll` (第三十一条) | attendance in M, no payroll line for M, `as_of` after the pay date |
//! | `days_mismatch` | a line's days differ from counted attendance days by more than the tolerance |
//! | `labour_cost_late` (第二十四条) | deposits more than one month apart, or none for more than a month |
//! | `unregistered_card` (第三十一条) | a transfer to a card not registered to the worker |
//! | `certificate_missing` (建质〔2008〕75号 第四条) | a 特种作业 worker passed the gate without a valid certificate |

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::date::LocalDate;
use crate::quantity::MoneyFen;

use super::types::{Commitment, PayrollId, PersonRef, Trade, YearMonth};

/// Default tolerance between payroll days and counted attendance days.
pub const DEFAULT_DAYS_TOLERANCE: u32 = 1;

/// Which rule a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingRule {
    /// 疑似欠薪.
    ArrearsSuspected,
    /// 克扣工资 (actual < payable).
    Underpayment,
    /// 转账金额与实发不符.
    TransferMismatch,
    /// 无考勤发薪 (虚列工资).
    GhostPayroll,
    /// 有考勤未列入工资表.
    MissingFromPayroll,
    /// 工资表天数与考勤不符.
    DaysMismatch,
    /// 人工费用拨付超期.
    LabourCostLate,
    /// 工资未发至本人登记银行卡.
    UnregisteredCard,
    /// 特种作业无证上岗.
    CertificateMissing,
}

impl FindingRule {
    /// Every rule.
    pub const ALL: [Self; 9] = [
        Self::ArrearsSuspected,
        Self::Underpayment,
        Self::TransferMismatch,
        Self::GhostPayroll,
        Self::MissingFromPayroll,
        Self::DaysMismatch,
        Self::LabourCostLate,
        Self::UnregisteredCard,
        Self::CertificateMissing,
    ];

    /// JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ArrearsSuspected => "arrears_suspected",
            Self::Underpayment => "underpayment",
            Self::TransferMismatch => "transfer_mismatch",
            Self::GhostPayroll => "ghost_payroll",
            Self::MissingFromPayroll => "missing_from_payroll",
            Self::DaysMismatch => "days_mismatch",
            Self::LabourCostLate => "labour_cost_late",
            Self::UnregisteredCard => "unregistered_card",
            Self::CertificateMissing => "certificate_missing",
        }
    }

    /// Chinese name.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::ArrearsSuspected => "疑似欠薪",
            Self::Underpayment => "克扣工资",
            Self::TransferMismatch => "转账与实发不符",
            Self::GhostPayroll => "无考勤发薪",
            Self::MissingFromPayroll => "有考勤未列工资表",
            Self::DaysMismatch => "出勤天数不符",
            Self::LabourCostLate => "人工费用拨付超期",
            Self::UnregisteredCard => "非本人登记银行卡",
            Self::CertificateMissing => "特种作业无证上岗",
        }
    }

    /// The article or rule it rests on.
    pub const fn basis(self) -> &'static str {
        match self {
            Self::ArrearsSuspected => "条例第十二条",
            Self::Underpayment => "条例第十一条",
            Self::TransferMismatch | Self::MissingFromPayroll | Self::UnregisteredCard => "条例第三十一条",
            Self::GhostPayroll | Self::DaysMismatch => "实名制管理办法 (考勤与工资一致)",
            Self::LabourCostLate => "条例第二十四条",
            Self::CertificateMissing => "建质〔2008〕75号第四条",
        }
    }
}

/// One finding: the rule, the month and person concerned, the event ids it rests on, and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// The rule.
    pub rule: FindingRule,
    /// The month concerned.
    pub month: YearMonth,
    /// The worker concerned (none for project-level findings).
    pub person_ref: Option<PersonRef>,
    /// The event ids the finding rests on (sorted).
    pub evidence: Vec<String>,
    /// What was found, in Chinese.
    pub detail: String,
}

impl Finding {
    /// The finding's stable key within its project: `<rule>:<YYYY-MM>:<person_ref>`, or `<rule>:<YYYY-MM>` for a
    /// project-level finding. It does not depend on the evidence (which may grow as late records arrive), so a
    /// published finding stays matched to its computed row. Two findings of one rule, month and worker (two
    /// underpaid payrolls of one month) share a key: publishing one covers the worker's month for that rule.
    pub fn key(&self) -> String {
        match &self.person_ref {
            Some(p) => format!("{}:{}:{}", self.rule.as_str(), self.month, p),
            None => format!("{}:{}", self.rule.as_str(), self.month),
        }
    }
}

/// A day with at least one passage: the date and the id of its first passage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendanceDay {
    /// The person.
    pub person_ref: PersonRef,
    /// The day.
    pub day: LocalDate,
    /// The first passage's event id.
    pub event_id: String,
}

/// A payroll line as submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFact {
    /// The payroll's event id.
    pub event_id: String,
    /// The payroll.
    pub payroll_id: PayrollId,
    /// 工资所属月份.
    pub month: YearMonth,
    /// The person.
    pub person_ref: PersonRef,
    /// 出勤天数.
    pub days: u32,
    /// 应发.
    pub payable: MoneyFen,
    /// 实发.
    pub actual: MoneyFen,
    /// 补发.
    pub back_pay: bool,
}

/// A transfer as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferFact {
    /// Its event id.
    pub event_id: String,
    /// The payroll paid.
    pub payroll_id: PayrollId,
    /// The payee.
    pub person_ref: PersonRef,
    /// Amount.
    pub amount: MoneyFen,
    /// The payee card's commitment.
    pub card: Commitment,
}

/// A worker's registration facts relevant to the rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerFacts {
    /// 工种, if registered.
    pub trade: Option<Trade>,
    /// Registered cards: commitment and event id.
    pub cards: Vec<(Commitment, String)>,
    /// Certificates: valid until, and event id.
    pub certificates: Vec<(LocalDate, String)>,
}

/// A labour-cost deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositFact {
    /// Its event id.
    pub event_id: String,
    /// Value date.
    pub deposited_on: LocalDate,
}

/// Everything [`findings`] looks at, for one project.
#[derive(Debug, Clone, Default)]
pub struct ProjectFacts {
    /// Attendance days.
    pub attendance: Vec<AttendanceDay>,
    /// Payroll lines.
    pub lines: Vec<LineFact>,
    /// Transfers.
    pub transfers: Vec<TransferFact>,
    /// Workers.
    pub workers: BTreeMap<PersonRef, WorkerFacts>,
    /// The dedicated account: opening date and event id, and the pay day (day of the following month).
    pub account: Option<(LocalDate, String, u8)>,
    /// Labour-cost deposits.
    pub deposits: Vec<DepositFact>,
}

/// Options of the rules.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The date the check is made (from the log, or the caller): nothing is "late" before its due date.
    pub as_of: LocalDate,
    /// Allowed difference between payroll days and attendance days.
    pub days_tolerance: u32,
}

/// The pay date of month `m`'s wages: day `pay_day` of the following month (the month's last day if shorter);
/// default the end of the following month (条例第十二条 with the platform's default).
pub fn pay_date(m: YearMonth, pay_day: Option<u8>) -> LocalDate {
    let next = m.next();
    let last = next.last_day();
    match pay_day {
        Some(d) if u32::from(d) < u32::from(last.date().day()) => {
            time::Date::from_calendar_date(next.year(), last.date().month(), d)
                .ok()
                .and_then(|d| LocalDate::try_from(d).ok())
                .unwrap_or(last)
        }
        _ => last,
    }
}

/// One month after `d` (same day, clamped to the month's end).
fn one_month_after(d: LocalDate) -> LocalDate {
    let next = YearMonth::of(d).next();
    let last = next.last_day();
    if d.date().day() >= last.date().day() {
        last
    } else {
        time::Date::from_calendar_date(next.year(), last.date().month(), d.date().day())
            .ok()
            .and_then(|d| LocalDate::try_from(d).ok())
            .unwrap_or(last)
    }
}

fn finding(
    rule: FindingRule,
    month: YearMonth,
    person: Option<&PersonRef>,
    mut evidence: Vec<String>,
    detail: String,
) -> Finding {
    evidence.sort();
    evidence.dedup();
    Finding { rule, month, person_ref: person.cloned(), evidence, detail }
}

/// Every finding of the project as of `opts.as_of`, sorted.
pub fn findings(facts: &ProjectFacts, opts: Options) -> Vec<Finding> {
    let mut out = Vec::new();
    let pay_day = facts.account.as_ref().map(|a| a.2);
    // Attendance per (month, person).
    let mut att: BTreeMap<(YearMonth, &PersonRef), Vec<&AttendanceDay>> = BTreeMap::new();
    for a in &facts.attendance {
        att.entry((YearMonth::of(a.day), &a.person_ref)).or_default().push(a);
    }
    // Lines per (month, person), and the payroll → month map.
    let mut lines: BTreeMap<(YearMonth, &PersonRef), Vec<&LineFact>> = BTreeMap::new();
    let mut payroll_month: BTreeMap<&PayrollId, YearMonth> = BTreeMap::new();
    for l in &facts.lines {
        lines.entry((l.month, &l.person_ref)).or_default().push(l);
        payroll_month.insert(&l.payroll_id, l.month);
    }
    let mut transfers: BTreeMap<(&PayrollId, &PersonRef), Vec<&TransferFact>> = BTreeMap::new();
    for t in &facts.transfers {
        transfers.entry((&t.payroll_id, &t.person_ref)).or_default().push(t);
    }
    let att_ids = |days: &[&AttendanceDay]| days.iter().map(|a| a.event_id.clone()).collect::<Vec<_>>();

    // Attendance-driven rules: arrears, missing from payroll, days mismatch.
    for (&(m, person), days) in &att {
        let due = pay_date(m, pay_day);
        let past_due = opts.as_of > due;
        let month_lines: Vec<&LineFact> =
            lines.get(&(m, person)).map(|v| v.iter().copied().filter(|l| !l.back_pay).collect()).unwrap_or_default();
        let paid: i64 = month_lines
            .iter()
            .flat_map(|l| transfers.get(&(&l.payroll_id, person)).into_iter().flatten())
            .map(|t| t.amount.fen())
            .sum();
        if month_lines.is_empty() {
            if past_due {
                out.push(finding(
                    FindingRule::MissingFromPayroll,
                    m,
                    Some(person),
                    att_ids(days),
                    format!("{m} 有 {} 天考勤，至 {} 未列入任何工资支付表", days.len(), opts.as_of),
                ));
            }
        } else {
            let listed: u32 = month_lines.iter().map(|l| l.days).sum();
            let counted = u32::try_from(days.len()).unwrap_or(u32::MAX);
            if listed.abs_diff(counted) > opts.days_tolerance {
                let mut ev = att_ids(days);
                ev.extend(month_lines.iter().map(|l| l.event_id.clone()));
                out.push(finding(
                    FindingRule::DaysMismatch,
                    m,
                    Some(person),
                    ev,
                    format!("{m} 工资表出勤 {listed} 天，门禁考勤 {counted} 天"),
                ));
            }
        }
        if paid == 0 && past_due {
            let mut ev = att_ids(days);
            ev.extend(month_lines.iter().map(|l| l.event_id.clone()));
            out.push(finding(
                FindingRule::ArrearsSuspected,
                m,
                Some(person),
                ev,
                format!("{m} 有 {} 天考勤，发薪日 {due} 已过，未见工资转账", days.len()),
            ));
        }
    }

    // Line-driven rules: underpayment, transfer mismatch, ghost payroll.
    for l in &facts.lines {
        let person = &l.person_ref;
        let ts: &[&TransferFact] = transfers.get(&(&l.payroll_id, person)).map_or(&[], Vec::as_slice);
        let paid: i64 = ts.iter().map(|t| t.amount.fen()).sum();
        let t_ids = || ts.iter().map(|t| t.event_id.clone());
        if l.actual < l.payable {
            out.push(finding(
                FindingRule::Underpayment,
                l.month,
                Some(person),
                vec![l.event_id.clone()],
                format!("工资表 {} 应发 {}，实发 {}", l.payroll_id, l.payable, l.actual),
            ));
        }
        let past_due = opts.as_of > pay_date(l.month, pay_day);
        if (!ts.is_empty() || past_due)
            && paid != l.actual.fen()
            && !(ts.is_empty() && att.contains_key(&(l.month, person)))
        {
            // (No transfer at all for a worker with attendance is reported once, as arrears, above.)
            let mut ev = vec![l.event_id.clone()];
            ev.extend(t_ids());
            out.push(finding(
                FindingRule::TransferMismatch,
                l.month,
                Some(person),
                ev,
                format!(
                    "工资表 {} 实发 {}，银行转账合计 {}",
                    l.payroll_id,
                    l.actual,
                    MoneyFen::parse(paid).unwrap_or(MoneyFen::ZERO)
                ),
            ));
        }
        if !l.back_pay && (l.payable.fen() > 0 || paid > 0) && !att.contains_key(&(l.month, person)) {
            let mut ev = vec![l.event_id.clone()];
            ev.extend(t_ids());
            out.push(finding(
                FindingRule::GhostPayroll,
                l.month,
                Some(person),
                ev,
                format!("{} 无门禁考勤，工资表 {} 列支 {}", l.month, l.payroll_id, l.payable),
            ));
        }
    }

    // Transfers to cards not registered to the worker.
    for t in &facts.transfers {
        let registered = facts.workers.get(&t.person_ref).is_some_and(|w| w.cards.iter().any(|(c, _)| c == &t.card));
        if !registered {
            let month = payroll_month.get(&t.payroll_id).copied().unwrap_or_else(|| YearMonth::of(opts.as_of));
            out.push(finding(
                FindingRule::UnregisteredCard,
                month,
                Some(&t.person_ref),
                vec![t.event_id.clone()],
                format!("转账 {} 的收款卡不是该工人登记的本人工资卡", t.amount),
            ));
        }
    }

    // Certificates: the first day of each month a 特种作业 worker passed without a valid certificate.
    let mut cert_months: BTreeSet<(YearMonth, &PersonRef)> = BTreeSet::new();
    let mut sorted: Vec<&AttendanceDay> = facts.attendance.iter().collect();
    sorted.sort_by(|a, b| (a.day, &a.event_id).cmp(&(b.day, &b.event_id)));
    for a in sorted {
        let Some(w) = facts.workers.get(&a.person_ref) else { continue };
        if !w.trade.is_some_and(Trade::needs_certificate) {
            continue;
        }
        if w.certificates.iter().any(|(until, _)| a.day <= *until) {
            continue;
        }
        let m = YearMonth::of(a.day);
        if cert_months.insert((m, &a.person_ref)) {
            let mut ev = vec![a.event_id.clone()];
            ev.extend(w.certificates.iter().map(|(_, id)| id.clone()));
            let trade = w.trade.map_or("", Trade::name_zh);
            let what = if w.certificates.is_empty() {
                "无特种作业操作资格证"
            } else {
                "特种作业操作资格证已过期"
            };
            out.push(finding(
                FindingRule::CertificateMissing,
                m,
                Some(&a.person_ref),
                ev,
                format!("{trade}{what}，{} 进出工地", a.day),
            ));
        }
    }

    // Labour-cost funding cycle ≤ 1 month (第二十四条): from the account's opening, each deposit within a month of
    // the previous one, and the last one within a month of `as_of`.
    if let Some((opened_on, account_id, _)) = &facts.account {
        let mut deps: Vec<&DepositFact> = facts.deposits.iter().collect();
        deps.sort_by(|a, b| (a.deposited_on, &a.event_id).cmp(&(b.deposited_on, &b.event_id)));
        let mut prev: (LocalDate, &String) = (*opened_on, account_id);
        for d in
            deps.iter().copied().map(|d| (d.deposited_on, &d.event_id)).chain(std::iter::once((opts.as_of, account_id)))
        {
            let deadline = one_month_after(prev.0);
            if d.0 > deadline {
                let is_now = std::ptr::eq(d.1, account_id) && d.0 == opts.as_of;
                let mut ev = vec![prev.1.clone()];
                if !is_now {
                    ev.push(d.1.clone());
                }
                let detail = if is_now {
                    format!("上次拨付 {}，至 {} 超过 1 个月未拨付人工费用", prev.0, opts.as_of)
                } else {
                    format!("人工费用拨付间隔超过 1 个月：{} → {}", prev.0, d.0)
                };
                out.push(finding(FindingRule::LabourCostLate, YearMonth::of(deadline), None, ev, detail));
            }
            prev = d;
        }
    }

    out.sort();
    out
}
