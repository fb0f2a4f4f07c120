//! Value types of 实名制 and 工资专用账户: person references, commitments, masked forms, months, codes.
//!
//! Personal data (ID numbers, bank card numbers, names, phones) never appears here in clear: the public log
//! carries a [`PersonRef`] (random, meaningless), a [`Commitment`] (HMAC-SHA256 under the person's own vault
//! key, see `docs/PERSONAL-DATA.md`) and a [`Masked`] form whose parser refuses anything that could be a
//! plaintext number (more than 8 digits, or fewer than 4 `*`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::date::LocalDate;

/// Why a workforce value does not parse. Errors never echo the value (it may be personal data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Wrong shape, with what was expected.
    #[error("{what}: {expected}")]
    Shape {
        /// The value's name.
        what: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// Shaped like a resident ID or bank card number, in a member that must only ever hold a reference.
    #[error("{what}: {}", crate::personal::PERSONAL_NUMBER_MESSAGE)]
    PersonalNumber {
        /// The value's name.
        what: &'static str,
    },
}

fn shape(what: &'static str, expected: &'static str) -> ValueError {
    ValueError::Shape { what, expected }
}

fn token_ok(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
}

macro_rules! wf_token {
    ($(#[$meta:meta])* $name:ident, $what:literal, $guarded:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Parses the token: 1–64 characters from `A–Z a–z 0–9 . _ : -`, the first a letter or digit.
            pub fn parse(s: &str) -> Result<Self, ValueError> {
                if $guarded && crate::personal::looks_like_personal_number(s) {
                    return Err(ValueError::PersonalNumber { what: $what });
                }
                if token_ok(s, 64) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(shape($what, "1-64 characters A-Z a-z 0-9 . _ : -, starting with a letter or digit"))
                }
            }

            /// The token as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        string_newtype!($name, ValueError);
    };
}

// Ids an enterprise makes up refuse ID and card number shapes (a 合同编号 built from the worker's ID number would
// publish it). A finding id is computed from a rule, a month and a person reference; a bank's transfer serial
// (银行流水号) is the bank's own long digit string: neither is guarded (docs/PERSONAL-DATA.md).
wf_token!(
    /// A team's (班组) id within its project (the national platform's `teamSysNo`).
    TeamId,
    "team_id",
    true
);
wf_token!(
    /// A labour contract's id within its project.
    ContractId,
    "contract_id",
    true
);
wf_token!(
    /// A payroll's (工资支付表) id within its project.
    PayrollId,
    "payroll_id",
    true
);
wf_token!(
    /// A finding's stable key within its project (`<rule>:<YYYY-MM>[:<person_ref>]`, see
    /// [`super::arrears::Finding::key`]).
    FindingId,
    "finding_id",
    false
);
wf_token!(
    /// A bank transfer's reference (银行流水号).
    TransferId,
    "transfer_id",
    false
);

/// A person's reference in the public log: `P-` and 32 lowercase hex digits, drawn at random by the vault at
/// intake. It says nothing about the person; only the vault maps it to plaintext.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonRef(String);

impl PersonRef {
    /// Parses `P-` + 32 lowercase hex digits.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let ok = s.len() == 34
            && s.starts_with("P-")
            && s.bytes().skip(2).all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok { Ok(Self(s.to_owned())) } else { Err(shape("person_ref", "P- followed by 32 lowercase hex digits")) }
    }

    /// The reference.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype!(PersonRef, ValueError);

/// A keyed commitment to a personal value: `hmac-sha256:` + 64 lowercase hex digits (HMAC-SHA256 under the
/// person's vault key of a domain-separated message). Equal plaintexts of one person give equal commitments, so
/// the log can tell "paid to the registered card" without holding the card number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Commitment(String);

impl Commitment {
    /// The prefix.
    pub const PREFIX: &'static str = "hmac-sha256:";

    /// Parses `hmac-sha256:` + 64 lowercase hex digits.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let ok = s
            .strip_prefix(Self::PREFIX)
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(shape("commitment", "hmac-sha256: followed by 64 lowercase hex digits"))
        }
    }

    /// The commitment as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype!(Commitment, ValueError);

/// A masked personal number, e.g. `3302**********123X` or `6222 **** **** 1234`: at most 8 digits, at least 4
/// `*`, only digits, `X`, `*` and spaces, 8–40 characters. The parser is a guard: a plaintext ID or card number
/// cannot pass it, so it cannot reach the public log through this field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Masked(String);

impl Masked {
    /// Parses a masked number.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let digits = s.bytes().filter(u8::is_ascii_digit).count();
        let stars = s.bytes().filter(|&b| b == b'*').count();
        let charset = s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'*' | b'X' | b' '));
        if !charset || !(8..=40).contains(&s.len()) {
            return Err(shape("masked", "8-40 characters of digits, X, * and spaces"));
        }
        if digits > 8 || stars < 4 {
            return Err(shape("masked", "at most 8 digits shown and at least 4 hidden (*): never a plaintext number"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The masked form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Masks a bank card number as `6222 **** **** 1234` (first 4, last 4).
    pub fn card(number: &str) -> String {
        let head: String = number.chars().take(4).collect();
        let tail: String = number.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        format!("{head} **** **** {tail}")
    }
}

string_newtype!(Masked, ValueError);

/// A pay month `YYYY-MM` (工资所属月份, the platform's `payMonth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    year: i32,
    month: u8,
}

impl YearMonth {
    /// Parses `YYYY-MM` (years 1900–2999).
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let b = s.as_bytes();
        let err = || shape("month", "YYYY-MM with a month 01-12 and a year 1900-2999");
        if b.len() != 7 || b[4] != b'-' || !s.bytes().enumerate().all(|(i, c)| i == 4 || c.is_ascii_digit()) {
            return Err(err());
        }
        let year: i32 = s.get(0..4).and_then(|y| y.parse().ok()).ok_or_else(err)?;
        let month: u8 = s.get(5..7).and_then(|m| m.parse().ok()).ok_or_else(err)?;
        if !(1900..=2999).contains(&year) || !(1..=12).contains(&month) {
            return Err(err());
        }
        Ok(Self { year, month })
    }

    /// The month of a date.
    pub fn of(date: LocalDate) -> Self {
        let d = date.date();
        Self { year: d.year(), month: u8::from(d.month()) }
    }

    /// The month of an RFC 3339 timestamp's local date part (`YYYY-MM-DD…`), if it has one.
    pub fn of_timestamp(ts: &str) -> Option<Self> {
        ts.get(0..7).and_then(|s| Self::parse(s).ok())
    }

    /// The following month.
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self { year: self.year + 1, month: 1 }
        } else {
            Self { year: self.year, month: self.month + 1 }
        }
    }

    /// Months from `self` to `later` (negative if `later` is earlier).
    pub fn months_until(self, later: Self) -> i32 {
        (later.year - self.year) * 12 + i32::from(later.month) - i32::from(self.month)
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month 1–12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The last day of the month.
    pub fn last_day(self) -> LocalDate {
        let n = self.next();
        let first =
            time::Date::from_calendar_date(n.year, time::Month::try_from(n.month).unwrap_or(time::Month::January), 1)
                .unwrap_or(time::Date::MIN);
        LocalDate::try_from(first.previous_day().unwrap_or(first)).unwrap_or(LocalDate::MIN)
    }

    /// `YYYY-MM`.
    pub fn as_string(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl std::str::FromStr for YearMonth {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(deserializer)?;
        Self::parse(&s).map_err(<D::Error as serde::de::Error>::custom)
    }
}

macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($(#[$vm:meta])* $v:ident = $code:literal, $zh:literal;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($(#[$vm])* $v,)* }

        impl $name {
            /// Every value.
            pub const ALL: &'static [Self] = &[$(Self::$v,)*];

            /// Parses the national platform's code.
            pub fn parse(s: &str) -> Result<Self, ValueError> {
                match s {
                    $($code => Ok(Self::$v),)*
                    _ => Err(shape($what, concat!("one of the codes: ", $($code, " ",)*))),
                }
            }

            /// The code.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$v => $code,)* }
            }

            /// The Chinese name.
            pub const fn name_zh(self) -> &'static str {
                match self { $(Self::$v => $zh,)* }
            }
        }

        string_newtype!($name, ValueError);
    };
}

code_enum!(
    /// `idCardType`: the identity document (证件类型) of the national worker platform.
    IdType, "id_type", {
        /// 居民身份证 (GB 11643 number).
        ResidentId = "01", "居民身份证";
        /// 军官证.
        OfficerId = "02", "军官证";
        /// 武警警官证.
        ArmedPoliceId = "03", "武警警官证";
        /// 士兵证.
        SoldierId = "04", "士兵证";
        /// 军队离退休干部证.
        RetiredCadreId = "05", "军队离退休干部证";
        /// 残疾人证.
        DisabilityId = "06", "残疾人证";
        /// 残疾军人证（1-8级）.
        DisabledSoldierId = "07", "残疾军人证（1-8级）";
        /// 护照.
        Passport = "08", "护照";
        /// 港澳同胞回乡证.
        HomeReturnPermit = "09", "港澳同胞回乡证";
        /// 港澳居民来往内地通行证.
        HkMacaoResidentPermit = "10", "港澳居民来往内地通行证";
        /// 往来港澳通行证.
        ExitPermitHkMacao = "11", "往来港澳通行证";
        /// 台湾居民来往大陆通行证.
        TaiwanCompatriotPermit = "12", "台湾居民来往大陆通行证";
        /// 大陆居民往来台湾通行证.
        MainlandTravelPermitTaiwan = "13", "大陆居民往来台湾通行证";
        /// 外交官证.
        DiplomatId = "14", "外交官证";
        /// 领事馆证.
        ConsularId = "15", "领事馆证";
        /// 海员证.
        SeamanId = "16", "海员证";
        /// 香港身份证.
        HongKongId = "17", "香港身份证";
    }
);

code_enum!(
    /// `workType` 工种 (national codes).
    Trade, "trade", {
        /// 砌筑工.
        Mason = "010", "砌筑工";
        /// 钢筋工.
        Rebar = "020", "钢筋工";
        /// 架子工 (特种作业).
        Scaffolder = "030", "架子工";
        /// 混凝土工.
        Concrete = "040", "混凝土工";
        /// 模板工.
        Formwork = "050", "模板工";
        /// 机械设备安装工.
        MachineInstaller = "060", "机械设备安装工";
        /// 通风工.
        Ventilation = "070", "通风工";
        /// 安装起重工.
        Rigger = "080", "安装起重工";
        /// 安装钳工.
        Fitter = "090", "安装钳工";
        /// 电气设备安装调试工.
        ElectricalInstaller = "100", "电气设备安装调试工";
        /// 管道工.
        Plumber = "110", "管道工";
        /// 变电安装工.
        SubstationInstaller = "120", "变电安装工";
        /// 建筑电工 (特种作业).
        Electrician = "130", "建筑电工";
        /// 司泵工.
        PumpOperator = "140", "司泵工";
        /// 挖掘铲运和桩工机械司机.
        EarthmovingDriver = "150", "挖掘铲运和桩工机械司机";
        /// 桩机操作工.
        PileOperator = "160", "桩机操作工";
        /// 起重信号工 (特种作业).
        SignalMan = "170", "起重信号工";
        /// 建筑起重机械安装拆卸工 (特种作业).
        CraneErector = "180", "建筑起重机械安装拆卸工";
        /// 装饰装修工.
        Decorator = "190", "装饰装修工";
        /// 室内成套设施安装工.
        IndoorInstaller = "200", "室内成套设施安装工";
        /// 建筑门窗幕墙安装工.
        CurtainWallInstaller = "210", "建筑门窗幕墙安装工";
        /// 幕墙制作工.
        CurtainWallMaker = "220", "幕墙制作工";
        /// 防水工.
        Waterproofer = "230", "防水工";
        /// 木工.
        Carpenter = "240", "木工";
        /// 石工.
        Stonemason = "250", "石工";
        /// 电焊工 (特种作业: 焊接与热切割).
        Welder = "270", "电焊工";
        /// 爆破工 (特种作业).
        Blaster = "280", "爆破工";
        /// 除尘工.
        DustRemoval = "290", "除尘工";
        /// 测量放线工.
        Surveyor = "300", "测量放线工";
        /// 线路架设工.
        LineErector = "310", "线路架设工";
        /// 古建筑传统石工.
        HeritageStone = "320", "古建筑传统石工";
        /// 古建筑传统瓦工.
        HeritageTile = "330", "古建筑传统瓦工";
        /// 古建筑传统彩画工.
        HeritagePainter = "340", "古建筑传统彩画工";
        /// 古建筑传统木工.
        HeritageCarpenter = "350", "古建筑传统木工";
        /// 古建筑传统油工.
        HeritageLacquer = "360", "古建筑传统油工";
        /// 金属工.
        Metalworker = "380", "金属工";
        /// 管理人员.
        Manager = "900", "管理人员";
    }
);

impl Trade {
    /// Whether the trade is a 特种作业 that needs a valid operation certificate (特种作业操作资格证) on site:
    /// 建筑电工, 架子工, 起重信号工, 建筑起重机械安装拆卸工 (建质〔2008〕75号) and 电焊工, 爆破工.
    pub const fn needs_certificate(self) -> bool {
        matches!(
            self,
            Self::Scaffolder | Self::Electrician | Self::SignalMan | Self::CraneErector | Self::Welder | Self::Blaster
        )
    }
}

code_enum!(
    /// `workRole`: 管理人员 or 建筑工人.
    WorkRole, "work_role", {
        /// 管理人员.
        Manager = "10", "管理人员";
        /// 建筑工人.
        Worker = "20", "建筑工人";
    }
);

code_enum!(
    /// `contractPeriodType`.
    ContractPeriod, "period_type", {
        /// 固定期限合同.
        Fixed = "0", "固定期限合同";
        /// 以完成一定工作为期限的合同.
        Task = "1", "以完成一定工作为期限的合同";
    }
);

/// Direction of a gate passage (attendance `direction` 01 入场 / 02 出场).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// 入场.
    In,
    /// 出场.
    Out,
}

impl Direction {
    /// JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }
}

/// How the gate identified the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassMethod {
    /// 人脸识别.
    Face,
    /// 刷卡.
    Card,
    /// 指纹.
    Fingerprint,
}

/// How the wage guarantee (工资保证金, 条例第三十二条) is provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuaranteeForm {
    /// 现金存储.
    Cash,
    /// 银行保函.
    BankGuarantee,
}
