//! A small signed city for API tests: three enterprises, three projects in two districts, two site gateways.

use serde_json::json;
use siteledger_signer::sample::ChainSigner;
use siteledger_signer::{Envelope, SigningKey};

use crate::helpers::{TestApp, enrollment, new_id, obj};

pub const YINZHOU: &str = "330212";
pub const HAISHU: &str = "330203";

/// Valid GB 32100 credit codes (check characters computed).
pub fn credit_code(body17: &str) -> String {
    const CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    const W: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
    let sum: u32 = body17.chars().zip(W).map(|(c, w)| CHARS.find(c).expect("charset") as u32 * w).sum();
    let check = (31 - sum % 31) % 31;
    format!("{body17}{}", CHARS.chars().nth(check as usize).expect("char"))
}

pub struct World {
    pub owner_a: String,
    pub contractor_b: String,
    pub contractor_c: String,
    pub gw1: ChainSigner,
    pub gw2: ChainSigner,
}

pub async fn build(app: &mut TestApp) -> World {
    let a = credit_code("91330200MA2AAAAA0");
    let b = credit_code("91330200MA2BBBBB0");
    let c = credit_code("91330200MA2CCCCC0");
    let mut envs: Vec<Envelope> = vec![app.root_enrollment()];
    let reg = |city: &mut ChainSigner, kind: &str, payload: serde_json::Value| {
        city.sign(new_id(), "registry/orgs", kind, "2026-01-05T09:00:00+08:00", obj(payload)).expect("sign")
    };
    for (code, name, types) in [
        (&a, "宁波甬城置业有限公司", json!(["owner"])),
        (&b, "浙江甬建建设集团有限公司", json!(["construction"])),
        (&c, "宁波海曙建工有限公司", json!(["construction"])),
    ] {
        envs.push(reg(
            &mut app.city,
            "registry.enterprise.registered.v1",
            json!({"credit_code": code, "name": name, "types": types}),
        ));
    }
    let project = |id: &str, name: &str, district: &str, owner: &str, gc: &str| {
        json!({
            "project_id": id, "name": name, "district": district, "central_urban": true,
            "floor_area_m2": "52000.00", "contract_cost_fen": 18_000_000_000_i64, "start_date": "2026-03-01",
            "participants": [{"role": "owner", "credit_code": owner}, {"role": "general_contractor", "credit_code": gc}],
        })
    };
    envs.push(reg(
        &mut app.city,
        "registry.project.registered.v1",
        project("NB-2026-0001", "鄞州中心区安置房一期", YINZHOU, &a, &b),
    ));
    envs.push(reg(
        &mut app.city,
        "registry.project.registered.v1",
        project("NB-2026-0002", "海曙西门商业综合体", HAISHU, &a, &c),
    ));
    envs.push(reg(
        &mut app.city,
        "registry.project.registered.v1",
        project("NB-2026-0003", "鄞州南部新城学校", YINZHOU, &a, &c),
    ));
    let gw1 = ChainSigner::new(SigningKey::from_seed(&[0x61; 32]));
    let gw2 = ChainSigner::new(SigningKey::from_seed(&[0x62; 32]));
    for (gw, subject) in [(&gw1, "project/NB-2026-0001/gateway/GW-1"), (&gw2, "project/NB-2026-0002/gateway/GW-1")] {
        let pk = *gw.key.public();
        envs.push(
            app.city
                .sign(
                    new_id(),
                    "registry/keys",
                    "ledger.key.enrolled.v1",
                    "2026-01-06T09:00:00+08:00",
                    enrollment(&pk, subject, "gateway"),
                )
                .expect("sign"),
        );
    }
    app.ingest_ok(&envs).await;
    World { owner_a: a, contractor_b: b, contractor_c: c, gw1, gw2 }
}

pub fn reading(gw: &mut ChainSigner, project: &str, n: u64) -> Envelope {
    let at = format!("2026-03-02T{:02}:{:02}:00+08:00", 8 + n / 60 % 12, n % 60);
    gw.sign(
        new_id(),
        &format!("project/{project}/device/DUST-1"),
        "env.dust_noise.reading.v1",
        &at,
        obj(json!({"project_id": project, "device_id": "DUST-1", "pm10_ug_m3": format!("{}.5", 40 + n % 60), "pm25_ug_m3": "30.1", "noise_db_a": "61.2"})),
    )
    .expect("sign")
}

pub fn alarm(gw: &mut ChainSigner, project: &str, n: u64) -> Envelope {
    gw.sign(
        new_id(),
        &format!("project/{project}/alarms"),
        "alarm.raised.v1",
        "2026-03-02T10:00:00+08:00",
        obj(json!({"project_id": project, "alarm_id": format!("A-{n}"), "source": "DUST-1", "category": "dust", "level": "warning", "message": "PM10 超过预警值", "value": "95.0", "threshold": "80.0"})),
    )
    .expect("sign")
}
