//! Pure domain rules and event payload types of SiteLedger, the 智慧工地 (smart construction site) supervision
//! ledger of Ningbo's 市住建局 (甬建发〔2020〕72号).
//!
//! No I/O, no async, no database: this crate is values, rules and folds. Each subsystem has a
//! `decide(state, command) -> Result<Vec<Event>, Error>` that holds every rule and an `evolve(state, event)` that
//! only folds. Identifiers and quantities are parsed once into newtypes with private fields ("parse, don't
//! validate"); their errors say which check failed. The ledger's `DomainPolicy` plugs these functions into its
//! ingest (this crate does not depend on the ledger).
//!
//! # Layout
//!
//! | module | what |
//! |---|---|
//! | [`ids`] | [`CreditCode`] (统一社会信用代码, GB 32100), [`IdNumber`] (公民身份号码, GB 11643), [`ProjectId`], device/alarm tokens |
//! | [`district`] | [`DistrictCode`]: Ningbo's ten 区县(市) and run-time 开发园区 |
//! | [`quantity`] | [`MoneyFen`] (integer 分), [`Decimal`] strings, [`AreaM2`] |
//! | [`date`] | [`LocalDate`] (`YYYY-MM-DD`) |
//! | [`text`] | [`Name`], [`Text`] (both refuse ID and card number shapes) |
//! | [`personal`] | [`personal::looks_like_personal_number`]: the guard on free text and opaque references |
//! | [`registry`] | the organisation registry: payloads `registry.*.v1`, `decide`, `evolve`, [`registry::RegistryState`] |
//! | [`attachment`] | [`attachment::sniff`]: the media type of a cited file, found in its bytes |
//! | [`authority`] | who may enrol or revoke whose key ([`authority::may_enroll`], [`authority::may_revoke`]), who may sign what ([`authority::may_sign`]) |
//! | [`iot`] | minimal `env.dust_noise.reading.v1`, `alarm.raised.v1`, `alarm.cleared.v1` payloads |
//! | [`payload`] | [`validate_payload`]: type-checks the payload of every kind defined here |
//! | [`rules`] | [`DomainState`]: the admission rules of every subsystem over signed records (`decide`/`evolve`) |
//! | [`snapshot`] | the admission state's canonical bytes ([`DomainState::to_snapshot`]), which the ledger stores at checkpoints |
//! | [`workforce`] | 实名制 and 工资专用账户: workers, contracts, attendance, payroll (`worker.*`, `wage.*`) |
//! | [`site`] | cranes, hoists, meters, cameras, gateways, environmental policy (`crane.*`, `hoist.*`, `meter.*`, `video.*`, `gateway.*`, `env.*`) |
//! | [`supervision`] | inspections, testing, 危大工程, BIM, coordination tasks (`inspection.*`, `testing.*`, `hazard.*`, `bim.*`, `task.*`) |
//! | [`rating`] | star rating, credit evaluation, annual reports (`rating.*`, `credit.*`, `report.*`) |
//! | [`time`] | China Standard Time (UTC+08:00): the one offset and the time forms every crate uses |
//! | [`wire`] | the answer of `POST /v1/events` ([`wire::IngestResponse`]), shared by server, agent and clients |
//! | [`stream`] | stream-name conventions (`project/<ProjectId>/…`, `registry/…`, `district/…`, `enterprise/…`) |
//!
//! Chinese terms and their English renderings are listed in `docs/GLOSSARY.md`.
//!
//! ```
//! use siteledger_domain::{CreditCode, MoneyFen, validate_payload};
//!
//! let code: CreditCode = "91330200MA2CL3XX9U".parse()?;
//! assert_eq!(code.region_code(), "330200");
//! let err = CreditCode::parse("91330200MA2CL3XX9X").unwrap_err();
//! assert_eq!(err.to_string(), "统一社会信用代码: check character mismatch (expected U, got X)");
//! assert_eq!(MoneyFen::parse(123_456)?.to_string(), "¥1,234.56");
//!
//! let payload = serde_json::json!({"code": "ZONE-NBHTZ", "name": "宁波国家高新区"});
//! let payload = payload.as_object().expect("an object");
//! validate_payload("registry.zone.added.v1", payload)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[macro_use]
mod macros;

pub mod attachment;
pub mod authority;
pub mod date;
pub mod district;
pub mod ids;
pub mod iot;
pub mod payload;
pub mod personal;
pub mod quantity;
pub mod rating;
pub mod registry;
pub mod rules;
mod schema;
pub mod site;
pub mod snapshot;
pub mod stream;
pub mod supervision;
pub mod text;
pub mod time;
pub mod wire;
pub mod workforce;

pub use date::{DateError, LocalDate};
pub use district::{DistrictCode, DistrictCodeError, NingboDistrict, ZoneCode, ZoneCodeError};
pub use ids::{
    AlarmId, AlarmSource, CreditCode, CreditCodeError, DeviceId, IdNumber, IdNumberError, ProjectId, ProjectIdError,
    Sex, TokenError,
};
pub use payload::{DomainEvent, PayloadError, all_kinds, check_stream, validate_envelope, validate_payload};
pub use quantity::{AreaError, AreaM2, Decimal, DecimalError, MoneyError, MoneyFen};
pub use rules::{DomainState, RecordContext, RuleError};
pub use text::{Name, NameError, Text, TextError};
