//! GB/T 28181 20-digit codes (编码, 附录 D): 中心编码 8 digits (省 2, 市 2, 区县 2, 基层接入单位 2), 行业编码 2,
//! 类型编码 3, 网络标识 1, 序号 6. Which type codes are known is the domain's rule ([`CameraId`], the one table);
//! this module keeps the structure and names the kinds the session needs (a camera channel, a recorder, a platform).

use std::fmt;

use siteledger_domain::site::{CameraId, CameraIdError};

/// A checked 20-digit GB/T 28181 device, channel or platform id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(CameraId);

/// Why a string is not a [`DeviceId`]. The value itself is not repeated: a mistyped id field could hold an ID
/// number (身份证号).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty.
    #[error("设备编码为空 / GB/T 28181 id is empty")]
    Empty,
    /// Not 20 ASCII digits, or digits 11–13 are not a known 类型编码.
    #[error("设备编码无效 / {0}")]
    Invalid(#[from] CameraIdError),
}

impl IdError {
    /// A stable name for counters.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Empty => "id_empty",
            Self::Invalid(CameraIdError::NotTwentyDigits { .. }) => "id_not_20_digits",
            Self::Invalid(CameraIdError::UnknownType(_)) => "id_unknown_type",
        }
    }
}

/// What a 类型编码 says the id names, coarsely: what the session does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeviceClass {
    /// 111–130 前端主设备: 111 DVR, 112 视频服务器, 113 编码器, 114 解码器, 117 报警控制器, 118 NVR …
    Recorder,
    /// 131, 132: 摄像机, 网络摄像机 — a video channel.
    Camera,
    /// 133–199 前端外围设备 other than cameras (显示器, 报警输入/输出设备, 语音设备 …).
    Peripheral,
    /// 200–299 平台设备 (200 中心信令控制服务器 …, 215 业务分组, 216 虚拟组织).
    Platform,
}

impl DeviceId {
    /// Parses and checks a 20-digit id (surrounding whitespace, which devices leave in XML text, is trimmed).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        Ok(Self(CameraId::parse(s)?))
    }

    /// The id as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The domain's id, for records (`video.camera.*`).
    #[must_use]
    pub fn camera_id(&self) -> &CameraId {
        &self.0
    }

    /// 中心编码: digits 1–8 (行政区划 6 + 基层接入单位 2).
    #[must_use]
    pub fn centre(&self) -> &str {
        &self.as_str()[0..8]
    }

    /// 行政区划: digits 1–6 (e.g. `330212` 鄞州区).
    #[must_use]
    pub fn civil_code(&self) -> &str {
        &self.as_str()[0..6]
    }

    /// 行业编码: digits 9–10 (`00` 社会治安路面接入 …).
    #[must_use]
    pub fn industry(&self) -> &str {
        &self.as_str()[8..10]
    }

    /// 类型编码: digits 11–13.
    #[must_use]
    pub fn type_code(&self) -> u16 {
        self.0.type_code()
    }

    /// 网络标识: digit 14 (0–4 监控报警专网, 5 公安信息网, 6 政务网, 7 Internet, 8 社会资源接入网).
    #[must_use]
    pub fn network(&self) -> u8 {
        self.as_str().as_bytes()[13] - b'0'
    }

    /// 序号: digits 15–20.
    #[must_use]
    pub fn serial(&self) -> &str {
        &self.as_str()[14..20]
    }

    /// The coarse class of its type code.
    #[must_use]
    pub fn class(&self) -> DeviceClass {
        match self.type_code() {
            131 | 132 => DeviceClass::Camera,
            111..=130 => DeviceClass::Recorder,
            133..=199 => DeviceClass::Peripheral,
            _ => DeviceClass::Platform,
        }
    }

    /// The first 10 digits, the SIP domain (域) GB/T 28181 devices use by default (`34020000002000000001` → `3402000000`).
    #[must_use]
    pub fn domain(&self) -> &str {
        &self.as_str()[0..10]
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DeviceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_of_an_ip_camera_id() {
        let id = DeviceId::parse(" 33021200001320000001\n").expect("valid");
        assert_eq!(id.as_str(), "33021200001320000001");
        assert_eq!(id.centre(), "33021200");
        assert_eq!(id.civil_code(), "330212");
        assert_eq!(id.industry(), "00");
        assert_eq!(id.type_code(), 132);
        assert_eq!(id.network(), 0);
        assert_eq!(id.serial(), "000001");
        assert_eq!(id.class(), DeviceClass::Camera);
        assert_eq!(id.domain(), "3302120000");
    }

    #[test]
    fn classes_of_recorders_and_platforms() {
        let class = |s: &str| DeviceId::parse(s).expect("valid").class();
        assert_eq!(class("34020000001180000001"), DeviceClass::Recorder); // 118 NVR
        assert_eq!(class("34020000001110000001"), DeviceClass::Recorder); // 111 DVR
        assert_eq!(class("34020000001310000001"), DeviceClass::Camera); // 131
        assert_eq!(class("34020000001340000001"), DeviceClass::Peripheral); // 134 报警输入
        assert_eq!(class("34020000002000000001"), DeviceClass::Platform); // 200 SIP server
        assert_eq!(class("34020000002150000001"), DeviceClass::Platform); // 215 业务分组
    }

    #[test]
    fn malformed_ids_are_named_and_not_echoed() {
        let short = DeviceId::parse("3402000000132000001").expect_err("19 digits");
        assert_eq!(short.name(), "id_not_20_digits");
        let id_number = DeviceId::parse("33021219900101123X").expect_err("an ID number is not a device id");
        assert!(!id_number.to_string().contains("19900101"), "{id_number}");
        let ty = DeviceId::parse("34020000009990000001").expect_err("999");
        assert_eq!(ty.name(), "id_unknown_type");
        assert_eq!(DeviceId::parse("  ").expect_err("empty").name(), "id_empty");
        assert_eq!(DeviceId::parse("3402000000132000000a").expect_err("letter").name(), "id_not_20_digits");
    }
}
