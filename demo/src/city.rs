//! The simulated city: Ningbo's ten 区县(市) plus one 开发园区, fifteen enterprises and forty-odd projects, and the
//! signed registry records that put them on the ledger.
//!
//! Everything here is deterministic: the same keys give the same envelopes byte for byte (fixed times, fixed
//! event ids, Ed25519 is deterministic), which is how a restarted demo recognises the registry it already wrote.
//! Names are realistic but invented; credit codes are valid GB 32100 codes (with valid GB 11714 organisation
//! codes inside) that belong to nobody.

use serde_json::{Map, Value, json};
use siteledger_domain::CreditCode;
use siteledger_signer::{Envelope, PublicKey, SigningKey};

use super::rng::SplitMix64;
use siteledger_client::MemoryChain as Chain;

/// The city bureau's name (subject of its self-enrolment).
pub const CITY_BUREAU: &str = "宁波市住房和城乡建设局";
/// The 开发园区 the city adds at run time.
pub const ZONE_CODE: &str = "ZONE-NBHTZ";
/// Its name.
pub const ZONE_NAME: &str = "宁波国家高新区";
/// Start of every demo key's validity.
pub const VALID_FROM: &str = "2025-01-01T00:00:00+08:00";
/// Seed of the registry's deterministic event ids and figures.
const REGISTRY_SEED: u64 = 0x5117_E1ED_6E20_2501;

/// A jurisdiction of the demo: code, name, bureau name, whether its projects are mostly in the 中心城区.
#[derive(Debug, Clone, Copy)]
pub struct DistrictSpec {
    /// `330212` or `ZONE-NBHTZ`.
    pub code: &'static str,
    /// 鄞州区.
    pub name: &'static str,
    /// Baseline PM10 of the area in µg/m³ (coastal counties are cleaner).
    pub pm10_base: f64,
}

/// The ten 区县(市) and the zone, in code order (the zone last).
pub const DISTRICTS: [DistrictSpec; 11] = [
    DistrictSpec { code: "330203", name: "海曙区", pm10_base: 62.0 },
    DistrictSpec { code: "330205", name: "江北区", pm10_base: 60.0 },
    DistrictSpec { code: "330206", name: "北仑区", pm10_base: 66.0 },
    DistrictSpec { code: "330211", name: "镇海区", pm10_base: 68.0 },
    DistrictSpec { code: "330212", name: "鄞州区", pm10_base: 61.0 },
    DistrictSpec { code: "330213", name: "奉化区", pm10_base: 52.0 },
    DistrictSpec { code: "330225", name: "象山县", pm10_base: 42.0 },
    DistrictSpec { code: "330226", name: "宁海县", pm10_base: 46.0 },
    DistrictSpec { code: "330281", name: "余姚市", pm10_base: 58.0 },
    DistrictSpec { code: "330282", name: "慈溪市", pm10_base: 64.0 },
    DistrictSpec { code: ZONE_CODE, name: ZONE_NAME, pm10_base: 59.0 },
];

/// An enterprise of the demo.
#[derive(Debug, Clone)]
pub struct EnterpriseSpec {
    /// Valid 统一社会信用代码.
    pub credit_code: String,
    /// 企业名称.
    pub name: &'static str,
    /// `owner`, `construction`, `supervision`, …
    pub types: &'static [&'static str],
}

/// (name, types, 登记管理机关行政区划码).
const ENTERPRISES: [(&str, &[&str], &str); 15] = [
    ("宁波甬江投资开发有限公司", &["owner"], "330205"),
    ("宁波东部新城开发建设有限公司", &["owner"], "330212"),
    ("宁波海曙城市更新投资有限公司", &["owner"], "330203"),
    ("宁波北仑港城置业有限公司", &["owner"], "330206"),
    ("宁波前湾滨海开发建设有限公司", &["owner"], "330282"),
    ("宁波象山湾文旅投资有限公司", &["owner"], "330225"),
    ("浙江甬建建设集团有限公司", &["construction"], "330203"),
    ("宁波三江建工集团有限公司", &["construction"], "330212"),
    ("浙江明州建设有限公司", &["construction"], "330205"),
    ("宁波镇海城建工程有限公司", &["construction"], "330211"),
    ("余姚舜江建设集团有限公司", &["construction"], "330281"),
    ("宁海县跃龙建筑工程有限公司", &["construction", "labour_service"], "330226"),
    ("宁波天一工程监理有限公司", &["supervision"], "330203"),
    ("浙江甬诚工程管理咨询有限公司", &["supervision", "design"], "330212"),
    ("宁波四明建设监理有限公司", &["supervision"], "330213"),
];

/// Owners, contractors and supervisors, as indices into [`ENTERPRISES`].
const OWNERS: [usize; 6] = [0, 1, 2, 3, 4, 5];
const CONTRACTORS: [usize; 6] = [6, 7, 8, 9, 10, 11];
const SUPERVISORS: [usize; 3] = [12, 13, 14];

/// (district index into [`DISTRICTS`], project name, in the 中心城区).
const PROJECTS: [(usize, &str, bool); 42] = [
    (0, "海曙区西门街道旧城区改建（一期）安置房", true),
    (0, "海曙区望春工业园区智能制造产业园", true),
    (0, "海曙区南门街道社区卫生服务中心改扩建工程", true),
    (0, "集士港镇卖面桥地块商住项目", false),
    (1, "江北区姚江新城 JB05-02-09 地块住宅项目", true),
    (1, "江北区洪塘中学迁建工程", true),
    (1, "庄桥街道机场路以西商业综合体", true),
    (1, "慈城古县城保护利用二期工程", false),
    (2, "北仑区小港街道红联渡口保障性住房", true),
    (2, "梅山湾新城国际会议中心", false),
    (2, "北仑区新碶街道九年一贯制学校", true),
    (2, "大碶街道汽配产业园标准厂房", true),
    (3, "镇海新城南区 ZH-07 地块住宅", true),
    (3, "镇海区骆驼街道社区卫生服务中心迁建工程", true),
    (3, "蛟川街道化工区应急救援基地", false),
    (3, "庄市街道中官路以南安置房", true),
    (4, "鄞州区姜山镇陈婆渡地块安置房二期", false),
    (4, "东部新城核心区 E6 地块商务办公楼", true),
    (4, "鄞州区下应街道中心小学改扩建工程", true),
    (4, "南部商务区三期 A 地块综合体", true),
    (5, "奉化区岳林街道人民医院迁建工程", true),
    (5, "方桥新城 FQ-03 地块住宅", true),
    (5, "溪口镇游客集散中心", false),
    (5, "奉化区锦屏街道体育中心", true),
    (6, "象山县丹东街道滨海公园配套工程", true),
    (6, "石浦渔港古城保护改造工程", false),
    (6, "象山县第二人民医院扩建工程", false),
    (6, "大目湾新城九年一贯制学校", false),
    (7, "宁海县跃龙街道文体中心", true),
    (7, "宁海县桃源街道安置小区三期", true),
    (7, "西店镇五金产业园标准厂房", false),
    (7, "宁海县第一中学迁建工程", true),
    (8, "余姚市阳明街道城市综合体", true),
    (8, "余姚高铁站北区站前广场及地下空间", true),
    (8, "余姚市梨洲街道安置房一期", true),
    (8, "泗门镇智能光电产业园", false),
    (9, "慈溪市白沙路街道商住楼项目", true),
    (9, "慈溪市人民医院医共体分院", true),
    (9, "前湾新区滨海大道配套学校", false),
    (9, "慈溪市坎墩街道老旧小区改造工程", false),
    (10, "高新区研发园 C 区科创大楼", true),
    (10, "高新区新材料联合研究院二期", true),
];

/// A project of the demo.
#[derive(Debug, Clone)]
pub struct ProjectSpec {
    /// Platform id, e.g. `NB-2025-0017`.
    pub project_id: String,
    /// Index into [`DISTRICTS`].
    pub district: usize,
    /// The `registry.project.registered.v1` payload.
    pub payload: Map<String, Value>,
    /// The dust/noise monitor's device id.
    pub device_id: String,
}

impl ProjectSpec {
    /// The project's district.
    pub fn district(&self) -> &'static DistrictSpec {
        &DISTRICTS[self.district]
    }

    /// The project's name.
    pub fn name(&self) -> &str {
        self.payload.get("name").and_then(Value::as_str).unwrap_or("")
    }

    /// The subject of its gateway key.
    pub fn gateway_subject(&self) -> String {
        format!("project/{}/gateway/GW-01", self.project_id)
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// GB 32100 characters (no I, O, Z, S, V).
const USCC: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// A valid 统一社会信用代码 `91<region><organisation code><check>`, the organisation code `MA2` + 5 random
/// characters + its GB 11714 check digit.
pub fn credit_code(region: &str, rng: &mut SplitMix64) -> String {
    let mut org = String::from("MA2");
    for _ in 0..5 {
        org.push(char::from(USCC[rng.range_u64(0, 31) as usize]));
    }
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = org.chars().zip(W).map(|(c, w)| c.to_digit(36).unwrap_or(0) * w).sum();
    org.push(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from_digit(d, 10).unwrap_or('0'),
    });
    let first17 = format!("91{region}{org}");
    let check = CreditCode::check_character(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// The demo's enterprises (fixed credit codes from the registry seed).
pub fn enterprises() -> Vec<EnterpriseSpec> {
    enterprises_with(REGISTRY_SEED)
}

/// The same enterprises with credit codes drawn from `seed` (the bench registers its own set on a shared server).
pub fn enterprises_with(seed: u64) -> Vec<EnterpriseSpec> {
    let mut rng = SplitMix64::derive(seed, 1);
    ENTERPRISES
        .iter()
        .map(|&(name, types, region)| EnterpriseSpec { credit_code: credit_code(region, &mut rng), name, types })
        .collect()
}

/// The demo's projects, with ids `<prefix>-0001`…; figures from the registry seed.
pub fn projects(prefix: &str, enterprises: &[EnterpriseSpec]) -> Vec<ProjectSpec> {
    let mut rng = SplitMix64::derive(REGISTRY_SEED, 2);
    PROJECTS
        .iter()
        .enumerate()
        .map(|(i, &(district, name, central))| {
            let d = &DISTRICTS[district];
            let project_id = format!("{prefix}-{:04}", i + 1);
            // Floor area 8,000–180,000 m² (hospitals and complexes larger), cost 2,800–5,600 元/m².
            let area_centi = rng.range_u64(800_000, 18_000_000);
            let area = if area_centi.is_multiple_of(100) {
                format!("{}", area_centi / 100)
            } else {
                format!("{}.{:02}", area_centi / 100, area_centi % 100)
            };
            let yuan_per_m2 = rng.range_u64(2_800, 5_600);
            let cost_fen = (area_centi * yuan_per_m2 / 100) * 100 / 10_000 * 10_000; // whole 百元
            let month = rng.range_u64(0, 20); // 2025-02 … 2026-09
            let (y, m) = (2025 + (month + 1) / 12, (month + 1) % 12 + 1);
            let day = rng.range_u64(1, 29);
            let owner = &enterprises[OWNERS[(i + district) % OWNERS.len()]];
            let gc = &enterprises[CONTRACTORS[(i * 5 + district) % CONTRACTORS.len()]];
            let sup = &enterprises[SUPERVISORS[i % SUPERVISORS.len()]];
            let mut participants = vec![
                json!({"role": "owner", "credit_code": owner.credit_code}),
                json!({"role": "general_contractor", "credit_code": gc.credit_code}),
                json!({"role": "supervisor", "credit_code": sup.credit_code}),
            ];
            if i % 7 == 3 {
                // A labour-service subcontractor on some sites.
                participants.push(json!({"role": "subcontractor", "credit_code": enterprises[11].credit_code}));
            }
            let payload = obj(json!({
                "project_id": project_id,
                "name": name,
                "district": d.code,
                "central_urban": central,
                "floor_area_m2": area,
                "contract_cost_fen": cost_fen,
                "start_date": format!("{y:04}-{m:02}-{day:02}"),
                "participants": participants,
            }));
            let device_id = format!("YC-{}-{:03}", d.code.trim_start_matches("ZONE-"), i + 1);
            ProjectSpec { project_id, district, payload, device_id }
        })
        .collect()
}

/// A `ledger.key.enrolled.v1` payload, open-ended from [`VALID_FROM`].
pub fn enrollment(key: &PublicKey, subject: &str, role: &str) -> Map<String, Value> {
    obj(json!({
        "key_id": key.key_id().to_string(),
        "public_key": key.to_base64(),
        "subject": subject,
        "role": role,
        "valid_from": VALID_FROM,
        "valid_until": null,
    }))
}

/// One signer's planned registry records (seq 1…n of its chain).
#[derive(Debug)]
pub struct SignerPlan {
    /// Who signs (for logs).
    pub label: String,
    /// Its key id.
    pub key_id: String,
    /// The envelopes, in chain order.
    pub envelopes: Vec<Envelope>,
}

/// The keys the registry plan needs.
#[derive(Debug)]
pub struct CityKeys {
    /// The city bureau (trusted root).
    pub city: SigningKey,
    /// One district bureau key per entry of [`DISTRICTS`].
    pub districts: Vec<SigningKey>,
    /// One gateway public key per project.
    pub gateways: Vec<PublicKey>,
}

/// The whole registry: the city bureau's chain first, then each district bureau's.
#[derive(Debug)]
pub struct RegistryPlan {
    /// Enterprises.
    pub enterprises: Vec<EnterpriseSpec>,
    /// Projects.
    pub projects: Vec<ProjectSpec>,
    /// City first, then one per district (in [`DISTRICTS`] order).
    pub signers: Vec<SignerPlan>,
}

/// `2025-01-<day>T<h>:<m>:00+08:00` and its Unix milliseconds, for the registry's fixed times.
fn registry_time(day: u32, minute: u32) -> (String, u64) {
    let (h, m) = (9 + minute / 60, minute % 60);
    let s = format!("2025-01-{day:02}T{h:02}:{m:02}:00+08:00");
    // 2025-01-01T00:00:00+08:00 = 1735660800.
    let ms = (1_735_660_800 + u64::from(day - 1) * 86_400 + u64::from(h) * 3_600 + u64::from(m) * 60) * 1_000;
    (s, ms)
}

/// Builds (signs) the registry: the city bureau self-enrols, adds the zone, registers the enterprises and enrols
/// the district bureaus; each district bureau registers its projects and enrols their gateways.
pub fn registry_plan(keys: &CityKeys, project_prefix: &str) -> anyhow::Result<RegistryPlan> {
    anyhow::ensure!(keys.districts.len() == DISTRICTS.len(), "one district key per district");
    let enterprises = enterprises();
    let projects = projects(project_prefix, &enterprises);
    anyhow::ensure!(keys.gateways.len() == projects.len(), "one gateway key per project");
    let mut ids = SplitMix64::derive(REGISTRY_SEED, 3);

    let mut city = (Chain::new(), &keys.city);
    let mut envs = Vec::new();
    let mut minute = 0;
    let mut sign =
        |(chain, key): &mut (Chain, &SigningKey), day: u32, stream: &str, kind: &str, payload: Map<String, Value>| {
            let (at, ms) = registry_time(day, minute);
            minute += 1;
            chain.sign(key, ids.uuid_v7(ms), stream, kind, &at, payload)
        };
    envs.push(sign(&mut city, 2, "registry/keys", "ledger.key.enrolled.v1", {
        enrollment(keys.city.public(), CITY_BUREAU, "city_bureau")
    })?);
    envs.push(sign(
        &mut city,
        2,
        "registry/zones",
        "registry.zone.added.v1",
        obj(json!({"code": ZONE_CODE, "name": ZONE_NAME})),
    )?);
    for e in &enterprises {
        envs.push(sign(
            &mut city,
            2,
            "registry/enterprises",
            "registry.enterprise.registered.v1",
            obj(json!({"credit_code": e.credit_code, "name": e.name, "types": e.types})),
        )?);
    }
    for (d, key) in DISTRICTS.iter().zip(&keys.districts) {
        envs.push(sign(
            &mut city,
            2,
            "registry/keys",
            "ledger.key.enrolled.v1",
            enrollment(key.public(), d.code, "district_bureau"),
        )?);
    }
    let mut signers = vec![SignerPlan {
        label: format!("{CITY_BUREAU} (city bureau)"),
        key_id: keys.city.key_id().to_string(),
        envelopes: envs,
    }];
    for (di, (d, key)) in DISTRICTS.iter().zip(&keys.districts).enumerate() {
        let mut chain = (Chain::new(), key);
        let mut envs = Vec::new();
        for (p, gw) in projects.iter().zip(&keys.gateways).filter(|(p, _)| p.district == di) {
            envs.push(sign(&mut chain, 6, "registry/projects", "registry.project.registered.v1", p.payload.clone())?);
            envs.push(sign(&mut chain, 6, "registry/keys", "ledger.key.enrolled.v1", {
                enrollment(gw, &p.gateway_subject(), "gateway")
            })?);
        }
        signers.push(SignerPlan {
            label: format!("{}住房和城乡建设局 (district bureau {})", d.name, d.code),
            key_id: key.key_id().to_string(),
            envelopes: envs,
        });
    }
    Ok(RegistryPlan { enterprises, projects, signers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_valid_and_deterministic() {
        let keys = || CityKeys {
            city: SigningKey::from_seed(&[1; 32]),
            districts: (0..DISTRICTS.len()).map(|i| SigningKey::from_seed(&[10 + i as u8; 32])).collect(),
            gateways: (0..PROJECTS.len()).map(|i| *SigningKey::from_seed(&[100 + i as u8; 32]).public()).collect(),
        };
        let a = registry_plan(&keys(), "NB-2025").expect("plan");
        let b = registry_plan(&keys(), "NB-2025").expect("plan");
        assert_eq!(a.signers.len(), 12);
        for (x, y) in a.signers.iter().zip(&b.signers) {
            assert_eq!(x.envelopes, y.envelopes, "same keys, same bytes");
        }
        for e in &a.enterprises {
            let c = CreditCode::parse(&e.credit_code).expect("valid credit code");
            assert!(c.organization_code_is_valid(), "{}", e.credit_code);
        }
        let mut seen = std::collections::BTreeSet::new();
        for env in a.signers.iter().flat_map(|s| &s.envelopes) {
            assert!(seen.insert(env.id()), "unique ids");
            if env.kind().starts_with("registry.") {
                siteledger_domain::validate_envelope(env.kind(), env.stream(), env.payload())
                    .unwrap_or_else(|e| panic!("{}: {e}", env.kind()));
            }
        }
        assert!(a.projects.len() >= 40);
        for d in 0..DISTRICTS.len() {
            assert!(a.projects.iter().filter(|p| p.district == d).count() >= 2);
        }
    }
}
