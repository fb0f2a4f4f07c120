//! 在线率 over time (`site::uptime`): online time per Shanghai day from status transitions, keepalive gaps and
//! silence.

use siteledger_domain::site::Timestamp;
use siteledger_domain::site::uptime::{
    DAY_US, DayShare, Report, SILENCE_US, Step, Timeline, day_start, open_span, share_permille, step,
};

const MIN_US: i64 = 60 * 1_000_000;
const HOUR_US: i64 = 60 * MIN_US;

fn us(s: &str) -> i64 {
    i64::try_from(Timestamp::parse(s).expect("ts").instant().unix_timestamp_nanos() / 1000).expect("µs")
}

fn report(online: bool, at: &str) -> Report {
    Report { online, at_us: us(at), last_keepalive_us: None }
}

/// Folds `reports` in order, adding up what each credits per day; late reports counted.
fn fold(reports: &[Report]) -> (Option<Timeline>, Vec<DayShare>, u32) {
    let mut t = None;
    let mut days: Vec<DayShare> = Vec::new();
    let mut late = 0;
    for r in reports {
        match step(t, *r, SILENCE_US) {
            Step::Late => late += 1,
            Step::Advanced { timeline, days: add } => {
                t = Some(timeline);
                for a in add {
                    match days.iter_mut().find(|d| d.day_start_us == a.day_start_us) {
                        Some(d) => {
                            d.online_us += a.online_us;
                            d.known_us += a.known_us;
                        }
                        None => days.push(a),
                    }
                }
            }
        }
    }
    (t, days, late)
}

/// A status report every hour from `from` to `to` (inclusive), all `online`.
fn hourly(day: &str, from: u32, to: u32) -> Vec<Report> {
    (from..=to).map(|h| report(true, &format!("{day}T{h:02}:00:00+08:00"))).collect()
}

#[test]
fn camera_offline_for_six_of_twenty_four_hours_is_online_75_percent() {
    let mut rs = hourly("2026-03-01", 0, 7);
    rs.push(report(false, "2026-03-01T08:00:00+08:00"));
    rs.extend(hourly("2026-03-01", 14, 23));
    rs.push(report(true, "2026-03-02T00:00:00+08:00"));
    let (_, days, late) = fold(&rs);
    assert_eq!(late, 0);
    assert_eq!(days.len(), 1, "the day closes exactly at midnight: {days:?}");
    assert_eq!(days[0].day_start_us, us("2026-03-01T00:00:00+08:00"));
    assert_eq!((days[0].online_us, days[0].known_us), (18 * HOUR_US, 24 * HOUR_US));
    assert_eq!(share_permille(days[0].online_us, days[0].known_us), Some(750));
}

#[test]
fn a_span_across_shanghai_midnight_is_split_between_the_two_days() {
    let rs = [report(true, "2026-03-01T23:30:00+08:00"), report(false, "2026-03-02T00:20:00+08:00")];
    let (_, days, _) = fold(&rs);
    let got: Vec<_> = days.iter().map(|d| (d.day_start_us, d.online_us, d.known_us)).collect();
    assert_eq!(
        got,
        vec![
            (us("2026-03-01T00:00:00+08:00"), 30 * MIN_US, 30 * MIN_US),
            (us("2026-03-02T00:00:00+08:00"), 20 * MIN_US, 20 * MIN_US),
        ]
    );
    // Shanghai midnight is 16:00 UTC.
    assert_eq!(day_start(us("2026-03-01T16:00:00Z")), us("2026-03-01T16:00:00Z"));
    assert_eq!(day_start(us("2026-03-01T15:59:59Z")), us("2026-02-28T16:00:00Z"));
}

#[test]
fn a_camera_silent_beyond_the_interval_counts_offline_from_its_last_report() {
    // Online at 10:00, then nothing until 14:00: the four hours of silence count offline.
    let rs = [report(true, "2026-03-01T10:00:00+08:00"), report(true, "2026-03-01T14:00:00+08:00")];
    let (t, days, _) = fold(&rs);
    assert_eq!((days[0].online_us, days[0].known_us), (0, 4 * HOUR_US));
    // At query time the open span is credited the same way: at 17:00, nothing of 14:00–17:00 is online.
    let open = open_span(t.expect("timeline"), us("2026-03-01T17:00:00+08:00"), SILENCE_US);
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].online_us, open[0].known_us), (0, 3 * HOUR_US));
    // Within the interval the silence is presumed online (the next hourly report is not due yet).
    let open = open_span(t.expect("timeline"), us("2026-03-01T14:30:00+08:00"), SILENCE_US);
    assert_eq!((open[0].online_us, open[0].known_us), (30 * MIN_US, 30 * MIN_US));
    let rs = [report(true, "2026-03-01T10:00:00+08:00"), report(true, "2026-03-01T11:00:00+08:00")];
    assert_eq!(fold(&rs).1[0].online_us, HOUR_US, "hourly reports keep a camera online");
    // A camera silent since yesterday counts offline all of today.
    let open = open_span(t.expect("timeline"), us("2026-03-02T12:00:00+08:00"), SILENCE_US);
    assert_eq!(open.len(), 2);
    assert_eq!((open[1].online_us, open[1].known_us), (0, 12 * HOUR_US));
}

#[test]
fn an_offline_report_counts_offline_from_its_last_keepalive() {
    let mut off = report(false, "2026-03-01T10:03:00+08:00");
    off.last_keepalive_us = Some(us("2026-03-01T10:00:00+08:00"));
    let (_, days, _) = fold(&[report(true, "2026-03-01T09:30:00+08:00"), off]);
    assert_eq!((days[0].online_us, days[0].known_us), (30 * MIN_US, 33 * MIN_US));
    // A keepalive before the span's start credits nothing online, never a negative time.
    let mut off = report(false, "2026-03-01T10:03:00+08:00");
    off.last_keepalive_us = Some(us("2026-03-01T08:00:00+08:00"));
    let (_, days, _) = fold(&[report(true, "2026-03-01T09:30:00+08:00"), off]);
    assert_eq!((days[0].online_us, days[0].known_us), (0, 33 * MIN_US));
}

#[test]
fn a_late_report_neither_moves_the_timeline_nor_credits_time() {
    let in_order = [
        report(true, "2026-03-01T08:00:00+08:00"),
        report(false, "2026-03-01T09:00:00+08:00"),
        report(true, "2026-03-01T10:00:00+08:00"),
    ];
    let mut with_late = in_order.to_vec();
    // Signed at 08:30 (say online), arriving after the 10:00 report.
    with_late.push(report(true, "2026-03-01T08:30:00+08:00"));
    let (t1, d1, late1) = fold(&in_order);
    let (t2, d2, late2) = fold(&with_late);
    assert_eq!((late1, late2), (0, 1));
    assert_eq!(t1, t2);
    assert_eq!(d1, d2);
    assert_eq!((d2[0].online_us, d2[0].known_us), (HOUR_US, 2 * HOUR_US));
}

#[test]
fn a_report_after_years_of_silence_credits_a_bounded_number_of_days() {
    let rs = [report(true, "2020-01-01T00:00:00+08:00"), report(true, "2026-03-01T00:00:00+08:00")];
    let (_, days, _) = fold(&rs);
    assert_eq!(days.len(), 400);
    assert!(days.iter().all(|d| d.online_us == 0 && d.known_us == DAY_US));
}

#[test]
fn share_is_none_without_known_time_and_never_above_one() {
    assert_eq!(share_permille(0, 0), None);
    assert_eq!(share_permille(5, 4), Some(1000));
    assert_eq!(share_permille(-5, 4), Some(0));
    assert_eq!(share_permille(3, 4), Some(750));
}
