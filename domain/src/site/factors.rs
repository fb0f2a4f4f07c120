//! The HJ 212-2017 factor codes a construction site sends (附录 B, 表 B.2 and 表 B.3): the one table the gateway
//! agent (units and decimal shifts) and the projections (which series a value feeds) read.
//!
//! The standard prints particulates in 纳克/立方米, but devices send µg/m³ or mg/m³: the unit of a particulate
//! value is the device's configuration, never inferred ([`Factor::particulate`] marks the codes it applies to).
//! Everything else is sent in the unit printed here.

/// A series the platform keeps and judges (PM10 and noise against the policy, the rest shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// 可吸入颗粒物 PM10.
    Pm10,
    /// 细微颗粒物 PM2.5.
    Pm25,
    /// 总悬浮颗粒物 TSP.
    Tsp,
    /// A-weighted sound level (LA, Leq).
    Noise,
    /// 风速.
    Wind,
    /// 温度.
    Temperature,
    /// 湿度.
    Humidity,
}

impl Metric {
    /// The series name in read models and the API (`pm10`, `pm25`, `tsp`, `noise`, `wind`, `temperature`,
    /// `humidity`).
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Pm10 => "pm10",
            Metric::Pm25 => "pm25",
            Metric::Tsp => "tsp",
            Metric::Noise => "noise",
            Metric::Wind => "wind",
            Metric::Temperature => "temperature",
            Metric::Humidity => "humidity",
        }
    }
}

/// One factor code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Factor {
    /// The code as sent (`a34002`, `LA`).
    pub code: &'static str,
    /// 名称 as the standard prints it.
    pub name: &'static str,
    /// The unit of the `env.hj212.data.v1` contract (`ug/m3`, `dB(A)`, `m/s`, `Cel`, `%`, `kPa`, `deg`).
    pub unit: &'static str,
    /// Whether the device's configured particulate unit applies (µg/m³ or mg/m³ on the wire).
    pub particulate: bool,
    /// The series this code feeds, if the platform keeps one.
    pub metric: Option<Metric>,
}

const fn f(code: &'static str, name: &'static str, unit: &'static str, metric: Option<Metric>) -> Factor {
    Factor { code, name, unit, particulate: false, metric }
}

const fn p(code: &'static str, name: &'static str, metric: Option<Metric>) -> Factor {
    Factor { code, name, unit: "ug/m3", particulate: true, metric }
}

/// Every factor code a site sends (表 B.2 meteorology and particulates, 表 B.3 noise).
pub const FACTORS: &[Factor] = &[
    f("a01001", "温度", "Cel", Some(Metric::Temperature)),
    f("a01002", "湿度", "%", Some(Metric::Humidity)),
    f("a01006", "气压", "kPa", None),
    f("a01007", "风速", "m/s", Some(Metric::Wind)),
    f("a01008", "风向", "deg", None),
    p("a34001", "总悬浮颗粒物 TSP", Some(Metric::Tsp)),
    p("a34002", "可吸入颗粒物 PM10", Some(Metric::Pm10)),
    p("a34004", "细微颗粒物 PM2.5", Some(Metric::Pm25)),
    p("a34005", "亚微米颗粒物 PM1.0", None),
    f("LA", "A权声级", "dB(A)", Some(Metric::Noise)),
    f("Leq", "等效声级", "dB(A)", Some(Metric::Noise)),
    f("L5", "累计百分声级 L5", "dB(A)", None),
    f("L10", "累计百分声级 L10", "dB(A)", None),
    f("L50", "累计百分声级 L50", "dB(A)", None),
    f("L90", "累计百分声级 L90", "dB(A)", None),
    f("L95", "累计百分声级 L95", "dB(A)", None),
    f("Ldn", "昼夜等效声级", "dB(A)", None),
    f("Ld", "昼间等效声级", "dB(A)", None),
    f("Ln", "夜间等效声级", "dB(A)", None),
    f("LMx", "最大瞬时声级", "dB(A)", None),
    f("LMn", "最小瞬时声级", "dB(A)", None),
];

/// The factor of a code, if it is one a site sends.
pub fn factor(code: &str) -> Option<&'static Factor> {
    FACTORS.iter().find(|f| f.code == code)
}

/// The series a code feeds, if any.
pub fn metric_of(code: &str) -> Option<Metric> {
    factor(code).and_then(|f| f.metric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_particulates_are_the_a34_family() {
        for (i, a) in FACTORS.iter().enumerate() {
            assert!(FACTORS[i + 1..].iter().all(|b| b.code != a.code), "{} twice", a.code);
            assert_eq!(a.particulate, a.code.starts_with("a34"), "{}", a.code);
        }
        assert_eq!(metric_of("a34002"), Some(Metric::Pm10));
        assert_eq!(metric_of("L90"), None);
        assert_eq!(factor("a99999"), None);
    }
}
