//! One construction site's dust and noise monitor (扬尘噪声在线监测), simulated: PM10, PM2.5 and A-weighted noise
//! with daily patterns, sensor noise and dust episodes (earthwork, 渣土车), and the alarms a site platform derives
//! from them:
//!
//! * dust: the PM10 hourly mean (an exponentially weighted mean of the readings, the simulation's compressed
//!   "hour") above the 预警值 150 µg/m³ raises a `warning`; it clears below 120 µg/m³ (hysteresis);
//! * noise: two readings in a row above the GB 12523-2011 limit (昼间 70 dB(A), 夜间 55 dB(A)) raise a
//!   `violation`; two readings 3 dB under the limit clear it.
//!
//! Pure: the time of day and the random source are passed in, so the model is tested without a clock.

use super::rng::SplitMix64;

/// PM10 hourly-mean warning threshold, µg/m³.
pub const PM10_WARNING: f64 = 150.0;
/// PM10 hourly mean under which a dust alarm clears, µg/m³.
pub const PM10_CLEAR: f64 = 120.0;
/// Daytime noise limit (06:00–22:00), dB(A), GB 12523-2011.
pub const NOISE_DAY_LIMIT: f64 = 70.0;
/// Night-time noise limit (22:00–06:00), dB(A).
pub const NOISE_NIGHT_LIMIT: f64 = 55.0;
/// Weight of a new reading in the hourly mean.
const MEAN_WEIGHT: f64 = 0.2;

/// One reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// PM10, µg/m³.
    pub pm10: f64,
    /// PM2.5, µg/m³.
    pub pm25: f64,
    /// Noise, dB(A).
    pub noise: f64,
}

/// An alarm to raise or clear.
#[derive(Debug, Clone, PartialEq)]
pub enum AlarmAction {
    /// `alarm.raised.v1`.
    Raise {
        /// Alarm id.
        alarm_id: String,
        /// `dust` or `noise`.
        category: &'static str,
        /// `warning` or `violation`.
        level: &'static str,
        /// Chinese message.
        message: String,
        /// Measured value (one decimal).
        value: String,
        /// Threshold.
        threshold: String,
    },
    /// `alarm.cleared.v1`.
    Clear {
        /// Alarm id.
        alarm_id: String,
        /// Chinese note.
        note: String,
    },
}

/// A dust episode: extra PM10 for a number of readings.
#[derive(Debug, Clone, Copy)]
struct Episode {
    remaining: u32,
    extra: f64,
    cause: usize,
}

const EPISODE_CAUSES: [&str; 4] = ["土方开挖", "渣土车进出", "破碎作业", "裸土未覆盖"];
const DUST_FIXES: [&str; 4] = ["已启动雾炮喷淋降尘", "已冲洗车辆并清扫道路", "已暂停破碎作业并洒水", "已覆盖防尘网"];

/// One site's monitor state.
#[derive(Debug, Clone)]
pub struct Site {
    pm10_base: f64,
    noise_base: f64,
    ar_pm: f64,
    ar_noise: f64,
    pm10_mean: Option<f64>,
    episode: Option<Episode>,
    night_work: u32,
    noise_over: u32,
    noise_under: u32,
    open_dust: Option<String>,
    open_noise: Option<(String, f64)>,
}

/// Hour of day → PM10 factor (morning and evening traffic peaks, afternoon mixing low).
fn pm_diurnal(hour: f64) -> f64 {
    let morning = 0.25 * (-((hour - 8.0) / 1.8).powi(2)).exp();
    let evening = 0.20 * (-((hour - 20.5) / 2.2).powi(2)).exp();
    let afternoon = -0.15 * (-((hour - 15.0) / 2.0).powi(2)).exp();
    1.0 + morning + evening + afternoon
}

/// Whether construction work normally goes on (07:00–12:00, 13:30–18:30).
fn working(hour: f64) -> bool {
    (7.0..12.0).contains(&hour) || (13.5..18.5).contains(&hour)
}

/// Night under GB 12523-2011 (22:00–06:00).
fn is_night(hour: f64) -> bool {
    !(6.0..22.0).contains(&hour)
}

impl Site {
    /// A site in an area with the given PM10 baseline; `rng` varies the site.
    pub fn new(area_pm10: f64, rng: &mut SplitMix64) -> Site {
        Site {
            pm10_base: area_pm10 * rng.range_f64(0.85, 1.2),
            noise_base: rng.range_f64(61.0, 66.0),
            ar_pm: 0.0,
            ar_noise: 0.0,
            pm10_mean: None,
            episode: None,
            night_work: 0,
            noise_over: 0,
            noise_under: 0,
            open_dust: None,
            open_noise: None,
        }
    }

    /// Starts a strong dust episode now (the demo does this on one site so an alarm comes early).
    pub fn start_episode(&mut self, extra: f64, readings: u32) {
        self.episode = Some(Episode { remaining: readings, extra, cause: 0 });
    }

    /// Takes over an alarm left open by an earlier run (cleared as soon as the readings allow).
    pub fn adopt_open(&mut self, category: &str, alarm_id: String) {
        match category {
            "dust" if self.open_dust.is_none() => self.open_dust = Some(alarm_id),
            "noise" if self.open_noise.is_none() => self.open_noise = Some((alarm_id, NOISE_DAY_LIMIT)),
            _ => {}
        }
    }

    /// Open alarm ids (dust, noise).
    pub fn open_alarms(&self) -> (Option<&str>, Option<&str>) {
        (self.open_dust.as_deref(), self.open_noise.as_ref().map(|(id, _)| id.as_str()))
    }

    /// The next reading at local time `hour` (0–24, fractional), and the alarms it raises or clears. New alarm
    /// ids end in `id_suffix` (unique per site, e.g. the gateway's sequence number).
    pub fn step(&mut self, hour: f64, rng: &mut SplitMix64, id_suffix: u64) -> (Reading, Vec<AlarmAction>) {
        let work = working(hour);
        let night = is_night(hour);
        // Dust episodes (30–150 readings): mostly during work, now and then a night-time 渣土车 run.
        let p_episode = if work { 1.0 / 1800.0 } else { 1.0 / 6000.0 };
        if self.episode.is_none() && rng.chance(p_episode) {
            self.episode = Some(Episode {
                remaining: rng.range_u64(30, 150) as u32,
                extra: rng.range_f64(50.0, 170.0),
                cause: if work { rng.range_u64(0, EPISODE_CAUSES.len() as u64) as usize } else { 1 },
            });
        }
        // Night work (连续浇筑) now and then.
        if self.night_work == 0 && night && rng.chance(1.0 / 1500.0) {
            self.night_work = rng.range_u64(20, 120) as u32;
        }
        self.ar_pm = 0.85 * self.ar_pm + rng.normal() * 6.0;
        self.ar_noise = 0.7 * self.ar_noise + rng.normal() * 1.5;

        let mut episode_extra = 0.0;
        let mut episode_cause = 0;
        if let Some(e) = &mut self.episode {
            // Ramp up and down over the episode.
            let shape = (f64::from(e.remaining.min(20)) / 20.0).sqrt();
            episode_extra = e.extra * shape;
            episode_cause = e.cause;
            e.remaining = e.remaining.saturating_sub(1);
            if e.remaining == 0 {
                self.episode = None;
            }
        }
        let activity = if work { 22.0 } else { 0.0 };
        let pm10 = (self.pm10_base * pm_diurnal(hour) + activity + episode_extra + self.ar_pm).max(8.0);
        let ratio = if episode_extra > 20.0 { 0.38 } else { 0.55 } + rng.normal() * 0.03;
        let pm25 = (pm10 * ratio).max(4.0);
        let noise_level = if self.night_work > 0 {
            self.night_work -= 1;
            rng.range_f64(55.5, 61.0)
        } else if work {
            self.noise_base + rng.range_f64(-2.0, 4.5) + if rng.chance(0.004) { 6.0 } else { 0.0 }
        } else if night {
            rng.range_f64(44.0, 50.0)
        } else {
            rng.range_f64(52.0, 58.0)
        };
        let noise = (noise_level + self.ar_noise).max(35.0);
        let reading = Reading { pm10: round1(pm10), pm25: round1(pm25), noise: round1(noise) };

        let mut actions = Vec::new();
        let mean = match self.pm10_mean {
            Some(m) => m + MEAN_WEIGHT * (reading.pm10 - m),
            None => reading.pm10,
        };
        self.pm10_mean = Some(mean);
        match &self.open_dust {
            None if mean > PM10_WARNING => {
                let id = format!("PM10-{id_suffix}");
                let cause = if episode_extra > 0.0 { EPISODE_CAUSES[episode_cause] } else { "扬尘" };
                actions.push(AlarmAction::Raise {
                    alarm_id: id.clone(),
                    category: "dust",
                    level: "warning",
                    message: format!(
                        "PM10 小时均值 {:.1} µg/m³ 超过预警值 {PM10_WARNING:.0}（疑似{cause}）",
                        round1(mean)
                    ),
                    value: fmt1(mean),
                    threshold: format!("{PM10_WARNING:.0}"),
                });
                self.open_dust = Some(id);
            }
            Some(id) if mean < PM10_CLEAR => {
                actions.push(AlarmAction::Clear {
                    alarm_id: id.clone(),
                    note: format!(
                        "{}，PM10 小时均值回落至 {:.1} µg/m³",
                        DUST_FIXES[episode_cause % DUST_FIXES.len()],
                        round1(mean)
                    ),
                });
                self.open_dust = None;
            }
            _ => {}
        }

        let limit = if night { NOISE_NIGHT_LIMIT } else { NOISE_DAY_LIMIT };
        if reading.noise > limit {
            self.noise_over += 1;
            self.noise_under = 0;
        } else if reading.noise < limit - 3.0 {
            self.noise_under += 1;
            self.noise_over = 0;
        } else {
            self.noise_over = 0;
            self.noise_under = 0;
        }
        match &self.open_noise {
            None if self.noise_over >= 2 => {
                let id = format!("NOISE-{id_suffix}");
                let period = if night { "夜间" } else { "昼间" };
                actions.push(AlarmAction::Raise {
                    alarm_id: id.clone(),
                    category: "noise",
                    level: "violation",
                    message: format!(
                        "{period}施工噪声 {:.1} dB(A) 超过排放限值 {limit:.0} dB(A)（GB 12523-2011）",
                        reading.noise
                    ),
                    value: fmt1(reading.noise),
                    threshold: format!("{limit:.0}"),
                });
                self.open_noise = Some((id, limit));
            }
            Some((id, _)) if self.noise_under >= 2 => {
                let why = if night { "夜间作业已停止" } else { "高噪声设备已停用" };
                actions.push(AlarmAction::Clear {
                    alarm_id: id.clone(),
                    note: format!("{why}，噪声回落至 {:.1} dB(A)", reading.noise),
                });
                self.open_noise = None;
            }
            _ => {}
        }
        (reading, actions)
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A non-negative decimal string with one fraction digit (the domain's `Decimal` grammar).
pub fn fmt1(x: f64) -> String {
    format!("{:.1}", round1(x.max(0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_plausible_and_alarms_pair_up() {
        let mut rng = SplitMix64::new(42);
        let mut site = Site::new(60.0, &mut rng);
        site.start_episode(180.0, 40);
        let mut raised = Vec::new();
        let mut cleared = Vec::new();
        let mut first_alarm = None;
        for i in 0..20_000u64 {
            let hour = (i as f64 * 10.0 / 3600.0) % 24.0;
            let (r, actions) = site.step(hour, &mut rng, i);
            assert!(r.pm10 >= 8.0 && r.pm10 < 600.0, "{r:?}");
            assert!(r.pm25 < r.pm10, "{r:?}");
            assert!((35.0..100.0).contains(&r.noise), "{r:?}");
            for a in actions {
                match a {
                    AlarmAction::Raise { alarm_id, message, value, .. } => {
                        assert!(siteledger_domain::Decimal::parse(&value).is_ok());
                        assert!(!message.is_empty());
                        first_alarm.get_or_insert(i);
                        raised.push(alarm_id);
                    }
                    AlarmAction::Clear { alarm_id, .. } => {
                        assert!(raised.contains(&alarm_id), "clears only what it raised");
                        cleared.push(alarm_id);
                    }
                }
            }
        }
        assert!(first_alarm.is_some_and(|i| i < 15), "the forced episode alarms early: {first_alarm:?}");
        assert!(raised.len() >= 3, "{raised:?}");
        assert!(raised.len() - cleared.len() <= 2);
        assert!(raised.iter().any(|a| a.starts_with("PM10-")));
    }

    #[test]
    fn decimals_fit_the_domain_grammar() {
        for x in [0.0, 0.04, 12.345, 150.0, 999.99] {
            assert!(siteledger_domain::Decimal::parse(&fmt1(x)).is_ok(), "{x}");
        }
    }
}
