//! Code tables of HJ 212-2017: 命令编码 CN (表 9), 系统编码 ST (表 5), 请求应答 QnRtn (表 7), 执行结果 ExeRtn (表 6) and
//! 数据标记 data flags (表 8). Chinese names are the standard's where DOMAIN.md §2.5 quotes them.

use std::fmt;

use serde::Serialize;

/// 命令编码 CN (表 9). An unknown code is an extension (vendor or HJ 212-2025), flagged, not rejected.
pub mod cn {
    /// Set timeout and retries (`OverTime`, `ReCount`).
    pub const SET_TIMEOUT_RETRIES: u16 = 1000;
    /// Get / upload the field unit's time.
    pub const GET_TIME: u16 = 1011;
    /// Set the field unit's time.
    pub const SET_TIME: u16 = 1012;
    /// Time-calibration request from the field unit.
    pub const TIME_CALIBRATION_REQUEST: u16 = 1013;
    /// Get the real-time data interval.
    pub const GET_RTD_INTERVAL: u16 = 1061;
    /// Set the real-time data interval (附录 A's example).
    pub const SET_RTD_INTERVAL: u16 = 1062;
    /// Get the minute data interval.
    pub const GET_MIN_INTERVAL: u16 = 1063;
    /// Set the minute data interval.
    pub const SET_MIN_INTERVAL: u16 = 1064;
    /// Set the access password (`NewPW`).
    pub const SET_PASSWORD: u16 = 1072;
    /// 实时数据: real-time data (`-Rtd`, `DataTime` = sampling instant).
    pub const REAL_TIME_DATA: u16 = 2011;
    /// Stop real-time data.
    pub const STOP_REAL_TIME_DATA: u16 = 2012;
    /// 设备运行状态: equipment status (`SBxxx-RS`).
    pub const EQUIPMENT_STATUS: u16 = 2021;
    /// Stop equipment status.
    pub const STOP_EQUIPMENT_STATUS: u16 = 2022;
    /// 日数据: daily data (`DataTime` = start of the day).
    pub const DAILY_DATA: u16 = 2031;
    /// Equipment run time, daily (`SBxxx-RT`).
    pub const DAILY_RUN_TIME: u16 = 2041;
    /// 分钟数据: minute data (`DataTime` = start of the interval).
    pub const MINUTE_DATA: u16 = 2051;
    /// 小时数据: hourly data (`DataTime` = start of the hour).
    pub const HOURLY_DATA: u16 = 2061;
    /// Data-logger boot time (`RestartTime`).
    pub const LOGGER_BOOT_TIME: u16 = 2081;
    /// 请求应答: request response (`QnRtn`, 表 7).
    pub const REQUEST_RESPONSE: u16 = 9011;
    /// 执行结果: execution result (`ExeRtn`, 表 6).
    pub const EXECUTION_RESULT: u16 = 9012;
    /// 通知应答: notification response.
    pub const NOTIFICATION_RESPONSE: u16 = 9013;
    /// 数据应答: data response (`CP=&&&&`).
    pub const DATA_RESPONSE: u16 = 9014;

    /// Every code of 表 9 with a short description.
    pub const TABLE_9: &[(u16, &str)] = &[
        (SET_TIMEOUT_RETRIES, "set timeout and retries"),
        (GET_TIME, "get/upload field unit time"),
        (SET_TIME, "set field unit time"),
        (TIME_CALIBRATION_REQUEST, "time calibration request"),
        (GET_RTD_INTERVAL, "get real-time data interval"),
        (SET_RTD_INTERVAL, "set real-time data interval"),
        (GET_MIN_INTERVAL, "get minute data interval"),
        (SET_MIN_INTERVAL, "set minute data interval"),
        (SET_PASSWORD, "set access password"),
        (REAL_TIME_DATA, "实时数据 real-time data"),
        (STOP_REAL_TIME_DATA, "stop real-time data"),
        (EQUIPMENT_STATUS, "设备运行状态 equipment status"),
        (STOP_EQUIPMENT_STATUS, "stop equipment status"),
        (DAILY_DATA, "日数据 daily data"),
        (DAILY_RUN_TIME, "equipment run time, daily"),
        (MINUTE_DATA, "分钟数据 minute data"),
        (HOURLY_DATA, "小时数据 hourly data"),
        (LOGGER_BOOT_TIME, "data-logger boot time"),
        (3011, "zero/span calibration"),
        (3012, "immediate sampling"),
        (3013, "cleaning/back-blow"),
        (3014, "comparison sampling"),
        (3015, "over-limit sample"),
        (3016, "set sampling period"),
        (3017, "get sampling period"),
        (3018, "sample output time"),
        (3019, "device unique ID"),
        (3020, "site information"),
        (3021, "set site parameters"),
        (REQUEST_RESPONSE, "请求应答 request response"),
        (EXECUTION_RESULT, "执行结果 execution result"),
        (NOTIFICATION_RESPONSE, "通知应答 notification response"),
        (DATA_RESPONSE, "数据应答 data response"),
    ];

    /// The description of a 表 9 code, `None` for reserved codes and extensions.
    #[must_use]
    pub fn describe(cn: u16) -> Option<&'static str> {
        TABLE_9.iter().find(|(code, _)| *code == cn).map(|(_, name)| *name)
    }

    /// Data uploads (2xxx) that a platform acknowledges with 9014 when asked.
    #[must_use]
    pub fn is_data(cn: u16) -> bool {
        (2000..3000).contains(&cn)
    }

    /// Data uploads whose CP must carry `DataTime`.
    #[must_use]
    pub fn needs_data_time(cn: u16) -> bool {
        matches!(cn, REAL_TIME_DATA | EQUIPMENT_STATUS | DAILY_DATA | DAILY_RUN_TIME | MINUTE_DATA | HOURLY_DATA)
    }

    /// Requests (1xxx initialisation/parameters, 3xxx control), answered with 9011 and 9012.
    #[must_use]
    pub fn is_request(cn: u16) -> bool {
        (1000..2000).contains(&cn) || (3000..4000).contains(&cn)
    }

    /// Interaction commands (9xxx): responses, never themselves answered.
    #[must_use]
    pub fn is_response(cn: u16) -> bool {
        (9000..10000).contains(&cn)
    }
}

/// 系统编码 ST (表 5). Site monitors send 39 but also 22, 23, 27: recorded as sent.
pub mod st {
    /// 空气质量监测 air quality.
    pub const AIR_QUALITY: &str = "22";
    /// 声环境质量监测 acoustic environment quality.
    pub const NOISE_QUALITY: &str = "23";
    /// 挥发性有机物监测 volatile organic compounds.
    pub const VOC: &str = "27";
    /// 大气环境污染源 atmospheric pollution source.
    pub const AIR_POLLUTION_SOURCE: &str = "31";
    /// 工地扬尘污染源 construction-site dust.
    pub const SITE_DUST: &str = "39";
    /// 系统交互 system interaction (field unit ↔ platform): every reply.
    pub const SYSTEM_INTERACTION: &str = "91";

    /// Whether `st` falls in a range of 表 5: 10–69 and 91–99 (environment, pollution source, process
    /// monitoring, interaction) or the extension block `A0`–`Z9`.
    #[must_use]
    pub fn is_standard(st: &str) -> bool {
        match st.as_bytes() {
            [a @ b'0'..=b'9', b @ b'0'..=b'9'] => {
                let n = (a - b'0') * 10 + (b - b'0');
                (10..=69).contains(&n) || (91..=99).contains(&n)
            }
            [b'A'..=b'Z', b'0'..=b'9'] => true,
            _ => false,
        }
    }
}

/// 请求应答 QnRtn (表 7), the `CP` of a 9011.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum QnRtn {
    /// 1 准备执行请求.
    Ready,
    /// 2 请求被拒绝.
    Rejected,
    /// 3 PW 错误.
    BadPw,
    /// 4 MN 错误.
    BadMn,
    /// 5 ST 错误.
    BadSt,
    /// 6 Flag 错误.
    BadFlag,
    /// 7 QN 错误.
    BadQn,
    /// 8 CN 错误.
    BadCn,
    /// 9 CRC 校验错误.
    BadCrc,
    /// 100 未知错误.
    Unknown,
}

impl QnRtn {
    /// The number written in `QnRtn=`.
    #[must_use]
    pub fn code(self) -> u16 {
        match self {
            Self::Ready => 1,
            Self::Rejected => 2,
            Self::BadPw => 3,
            Self::BadMn => 4,
            Self::BadSt => 5,
            Self::BadFlag => 6,
            Self::BadQn => 7,
            Self::BadCn => 8,
            Self::BadCrc => 9,
            Self::Unknown => 100,
        }
    }
}

impl fmt::Display for QnRtn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// 执行结果 ExeRtn (表 6), the `CP` of a 9012.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ExeRtn {
    /// 1 执行成功.
    Success,
    /// 2 执行失败，但不知道原因.
    Failed,
    /// 3 命令请求条件错误.
    BadCondition,
    /// 4 通讯超时.
    Timeout,
    /// 5 系统繁忙不能执行.
    Busy,
    /// 6 系统故障.
    SystemFault,
    /// 100 没有数据.
    NoData,
}

impl ExeRtn {
    /// The number written in `ExeRtn=`.
    #[must_use]
    pub fn code(self) -> u16 {
        match self {
            Self::Success => 1,
            Self::Failed => 2,
            Self::BadCondition => 3,
            Self::Timeout => 4,
            Self::Busy => 5,
            Self::SystemFault => 6,
            Self::NoData => 100,
        }
    }
}

impl fmt::Display for ExeRtn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// 数据标记 (表 8), the value of a `-Flag` CP field. Only `N` data count towards exceedances.
pub const DATA_FLAGS: &[(&str, &str)] = &[
    ("N", "仪器仪表工作正常 normal"),
    ("F", "仪器仪表停运 stopped"),
    ("M", "仪器仪表处于维护期间产生的数据 maintenance"),
    ("S", "手工输入的设定值 manual"),
    ("D", "仪器仪表故障 fault"),
    ("C", "仪器仪表处于校准状态 calibration"),
    ("T", "仪器仪表采样数值超过测量上限 over range"),
    ("B", "仪器仪表与数采仪通讯异常 link fault"),
];

/// Whether `value` is a data flag of 表 8.
#[must_use]
pub fn is_data_flag(value: &str) -> bool {
    DATA_FLAGS.iter().any(|(flag, _)| *flag == value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables() {
        assert_eq!(cn::describe(2011), Some("实时数据 real-time data"));
        assert_eq!(cn::describe(9021), None);
        assert!(cn::is_data(cn::LOGGER_BOOT_TIME) && !cn::needs_data_time(cn::LOGGER_BOOT_TIME));
        assert!(cn::is_request(cn::SET_RTD_INTERVAL) && cn::is_request(3011) && !cn::is_request(2011));
        assert!(cn::is_response(cn::DATA_RESPONSE));
        for st in ["22", "23", "27", "39", "91", "A0", "Z9", "10", "69"] {
            assert!(st::is_standard(st), "{st}");
        }
        for st in ["101", "null", "", "9", "70", "90", "a1", "09"] {
            assert!(!st::is_standard(st), "{st}");
        }
        assert_eq!((QnRtn::BadCrc.code(), ExeRtn::NoData.code()), (9, 100));
        assert!(is_data_flag("N") && is_data_flag("B") && !is_data_flag("n") && !is_data_flag("NN"));
    }
}
