//! The simulated city's parties and their keys, and the setup records that put them on the ledger along the chain
//! of authority: the city bureau (the trusted root) registers the enterprises and enrols the district bureaus, the
//! districts' inspectors, the enterprises, the labs and the bank; each district bureau registers its projects and
//! enrols their site gateways; each general contractor forms its teams, registers its workers with their contracts
//! and entries, and opens the dedicated wage account (工资专用账户).
//!
//! **These are simulated parties**: the simulator holds every key in memory (derived from the seed), as the demo
//! does for its parties. On a real platform each key lives with its holder.

use serde_json::{Map, Value, json};
use siteledger_client::KeyedChain;
use siteledger_domain::rating::RatingEvent;
use siteledger_signer::{Envelope, SigningKey};

use super::model::{Planned, Site, cst, cst_date};
use crate::city::{self, DISTRICTS, ZONE_CODE, ZONE_NAME};
use crate::rng::SplitMix64;

/// Region codes for the credit codes of the simulated enterprises (the ten 区县(市)).
const REGIONS: [&str; 10] =
    ["330203", "330205", "330206", "330211", "330212", "330213", "330225", "330226", "330281", "330282"];

/// Relative sizes of the districts (projects under construction), in [`DISTRICTS`] order; the zone last.
const DISTRICT_WEIGHTS: [usize; 11] = [10, 8, 11, 7, 16, 6, 5, 6, 10, 12, 9];

/// The district of project `i` (deterministic, proportional to [`DISTRICT_WEIGHTS`]).
pub fn district_of(i: usize) -> usize {
    let total: usize = DISTRICT_WEIGHTS.iter().sum();
    let mut k = (i * 37) % total;
    for (d, w) in DISTRICT_WEIGHTS.iter().enumerate() {
        if k < *w {
            return d;
        }
        k -= w;
    }
    0
}

/// One simulated signer: its key and chain, and a random source for its event ids and values.
#[derive(Debug)]
pub struct Signer {
    /// Key and chain.
    pub chain: KeyedChain,
    /// Event ids, values.
    pub rng: SplitMix64,
    /// The lab's next report number (labs only).
    pub report_seq: u64,
}

impl Signer {
    fn new(seed: u64, label: u64) -> Signer {
        let mut rng = SplitMix64::derive(seed, label);
        let mut s = [0u8; 32];
        rng.fill(&mut s);
        Signer { chain: KeyedChain::new(SigningKey::from_seed(&s)), rng, report_seq: 0 }
    }

    /// Signs a planned record, stamped `occurred_at` at `t` (its own clock).
    pub fn sign(&mut self, p: Planned, t: i64) -> anyhow::Result<Envelope> {
        let id = self.rng.uuid_v7(u64::try_from(t.max(0)).unwrap_or(0) * 1000);
        Ok(self.chain.sign(id, &p.stream, p.kind, &cst(t), p.payload)?)
    }
}

/// An enterprise of the simulated city.
#[derive(Debug, Clone)]
pub struct Enterprise {
    /// 统一社会信用代码.
    pub credit_code: String,
    /// Name.
    pub name: String,
    /// `owner`, `construction`, `supervision`, `testing_lab`, `bank`.
    pub kind: &'static str,
}

/// Everyone in the city and their keys.
#[derive(Debug)]
pub struct City {
    /// Projects.
    pub sites: Vec<Site>,
    /// Owners, then general contractors, then supervisors (indices as [`Site::owner`] etc. after offsetting).
    pub enterprises: Vec<Enterprise>,
    /// How many of each: owners, contractors, supervisors.
    pub counts: (usize, usize, usize),
    /// Testing labs.
    pub labs: Vec<Enterprise>,
    /// The bank.
    pub bank: Enterprise,
    /// One key per enterprise (same order).
    pub enterprise_keys: Vec<Signer>,
    /// One key per lab.
    pub lab_keys: Vec<Signer>,
    /// The bank's key.
    pub bank_key: Signer,
    /// One bureau key per district ([`DISTRICTS`] order).
    pub bureaus: Vec<Signer>,
    /// One inspector key (role `district_bureau`) per district.
    pub inspectors: Vec<Signer>,
    /// One gateway key per project.
    pub gateways: Vec<Signer>,
}

impl City {
    /// Draws a city of `n` projects; `tag` makes its ids and credit codes unique on a shared server.
    pub fn new(n: usize, tag: &str, seed: u64) -> City {
        let owners = (n / 20).max(3);
        let gcs = (n / 10).max(3);
        let sups = (n / 30).max(2);
        let labs_n = (n / 300).max(2);
        let mut rng = SplitMix64::derive(seed ^ u64::from_str_radix(tag, 16).unwrap_or(0), 77);
        let mut enterprise = |i: usize, kind: &'static str, name: String| Enterprise {
            credit_code: city::credit_code(REGIONS[i % REGIONS.len()], &mut rng),
            name,
            kind,
        };
        let mut enterprises = Vec::new();
        for i in 0..owners {
            enterprises.push(enterprise(i, "owner", format!("宁波城市开发投资第{}有限公司（模拟{tag}）", i + 1)));
        }
        for i in 0..gcs {
            enterprises.push(enterprise(
                i,
                "construction",
                format!("宁波甬城建设第{}工程有限公司（模拟{tag}）", i + 1),
            ));
        }
        for i in 0..sups {
            enterprises.push(enterprise(i, "supervision", format!("宁波工程监理第{}有限公司（模拟{tag}）", i + 1)));
        }
        let labs: Vec<Enterprise> = (0..labs_n)
            .map(|i| enterprise(i, "testing_lab", format!("宁波建设工程检测第{}中心（模拟{tag}）", i + 1)))
            .collect();
        let bank = enterprise(4, "bank", format!("中国农业银行宁波分行（模拟{tag}）"));
        let mut sites = super::model::sites(n, &format!("CITY-{tag}"), seed, (owners, gcs, sups), labs_n, district_of);
        for s in &mut sites {
            // Indices into `enterprises`.
            s.gc += owners;
            s.supervisor += owners + gcs;
        }
        let signer = |label: u64| Signer::new(seed, label);
        City {
            enterprise_keys: (0..enterprises.len()).map(|i| signer(1_000_000 + i as u64)).collect(),
            lab_keys: (0..labs.len()).map(|i| signer(2_000_000 + i as u64)).collect(),
            bank_key: signer(3_000_000),
            bureaus: (0..DISTRICTS.len()).map(|i| signer(4_000_000 + i as u64)).collect(),
            inspectors: (0..DISTRICTS.len()).map(|i| signer(5_000_000 + i as u64)).collect(),
            gateways: (0..sites.len()).map(|i| signer(6_000_000 + i as u64)).collect(),
            sites,
            enterprises,
            counts: (owners, gcs, sups),
            labs,
            bank,
        }
    }

    /// Credit codes of the enterprises, in index order.
    pub fn credit_codes(&self) -> Vec<String> {
        self.enterprises.iter().map(|e| e.credit_code.clone()).collect()
    }

    /// Credit codes of the labs.
    pub fn lab_codes(&self) -> Vec<String> {
        self.labs.iter().map(|e| e.credit_code.clone()).collect()
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn plan(t: i64, stream: &str, kind: &'static str, payload: Value) -> Planned {
    Planned { t, stream: stream.to_owned(), kind, payload: obj(payload) }
}

/// The setup in three stages, each a list of (signer's chain of envelopes): the city bureau's; the district
/// bureaus'; the general contractors'. A stage is posted after the one before it is in the log. `root` is the city
/// bureau's key with its chain as the ledger holds it; `fresh_root` says it must enrol itself, `zone_missing` that
/// the zone is not registered yet; `rules` are the rating policies and credit rules the city bureau publishes.
pub fn setup(
    city: &mut City,
    root: &mut KeyedChain,
    root_rng: &mut SplitMix64,
    t: i64,
    fresh_root: bool,
    zone_missing: bool,
    rules: &[RatingEvent],
) -> anyhow::Result<[Vec<Vec<Envelope>>; 3]> {
    let at = cst(t);
    let root_public = *root.key().public();
    let mut sign_root = |stream: &str, kind: &str, payload: Map<String, Value>| -> anyhow::Result<Envelope> {
        let id = root_rng.uuid_v7(u64::try_from(t).unwrap_or(0) * 1000);
        Ok(root.sign(id, stream, kind, &at, payload)?)
    };
    let enrol = "ledger.key.enrolled.v1";
    let mut stage1 = Vec::new();
    if fresh_root {
        stage1.push(sign_root(
            "registry/keys",
            enrol,
            city::enrollment(&root_public, "宁波市住房和城乡建设局（城市模拟）", "city_bureau"),
        )?);
    }
    if zone_missing {
        stage1.push(sign_root(
            "registry/zones",
            "registry.zone.added.v1",
            obj(json!({"code": ZONE_CODE, "name": ZONE_NAME})),
        )?);
    }
    for r in rules {
        stage1.push(sign_root(&r.expected_stream(), r.kind(), r.to_payload())?);
    }
    for e in city.enterprises.iter().chain(&city.labs).chain(std::iter::once(&city.bank)) {
        stage1.push(sign_root(
            "registry/enterprises",
            "registry.enterprise.registered.v1",
            obj(json!({"credit_code": e.credit_code, "name": e.name, "types": [e.kind]})),
        )?);
    }
    for (d, spec) in DISTRICTS.iter().enumerate() {
        for k in [&city.bureaus[d], &city.inspectors[d]] {
            let pk = *k.chain.key().public();
            stage1.push(sign_root("registry/keys", enrol, city::enrollment(&pk, spec.code, "district_bureau"))?);
        }
    }
    let parties = city
        .enterprises
        .iter()
        .zip(&city.enterprise_keys)
        .map(|(e, k)| (e, k, "enterprise"))
        .chain(city.labs.iter().zip(&city.lab_keys).map(|(e, k)| (e, k, "testing_lab")))
        .chain(std::iter::once((&city.bank, &city.bank_key, "bank")));
    for (e, k, role) in parties {
        let pk = *k.chain.key().public();
        stage1.push(sign_root("registry/keys", enrol, city::enrollment(&pk, &e.credit_code, role))?);
    }

    // Stage 2: each district bureau registers its projects and enrols their gateways.
    let codes = city.credit_codes();
    let mut stage2: Vec<Vec<Envelope>> = vec![Vec::new(); DISTRICTS.len()];
    for (site, gw) in city.sites.iter().zip(&city.gateways) {
        let d = site.district;
        let spec = &DISTRICTS[d];
        let mut participants = vec![
            json!({"role": "owner", "credit_code": codes[site.owner]}),
            json!({"role": "general_contractor", "credit_code": codes[site.gc]}),
            json!({"role": "supervisor", "credit_code": codes[site.supervisor]}),
        ];
        participants.dedup();
        let area = 2_000 + site.workers.len() * 600;
        let payload = json!({"project_id": site.project_id, "name": format!("{}城市模拟项目 {}", spec.name, site.index + 1),
            "district": spec.code, "central_urban": site.index % 3 != 0, "floor_area_m2": format!("{area}"),
            "contract_cost_fen": area as u64 * 4_000 * 100, "start_date": "2025-03-01", "participants": participants});
        let bureau = &mut city.bureaus[d];
        stage2[d].push(bureau.sign(plan(t, "registry/projects", "registry.project.registered.v1", payload), t)?);
        let pk = *gw.chain.key().public();
        let subject = format!("project/{}/gateway/GW-01", site.project_id);
        stage2[d].push(bureau.sign(
            Planned {
                t,
                stream: "registry/keys".into(),
                kind: "ledger.key.enrolled.v1",
                payload: city::enrollment(&pk, &subject, "gateway"),
            },
            t,
        )?);
    }

    // Stage 3: each general contractor's workforce on each of its projects.
    let date = cst_date(t);
    let mut stage3: Vec<Vec<Envelope>> = vec![Vec::new(); city.enterprises.len()];
    for site in &city.sites {
        let pid = &site.project_id;
        let gc_code = &codes[site.gc];
        let wf = format!("project/{pid}/workforce");
        let k = &mut city.enterprise_keys[site.gc];
        let out = &mut stage3[site.gc];
        out.push(k.sign(
            plan(
                t,
                &format!("project/{pid}/wage"),
                "wage.account.opened.v1",
                json!({"project_id": pid,
            "opened_by": gc_code, "bank_name": "中国农业银行宁波分行", "account_masked": "6228 **** **** 0001",
            "pay_day": site.pay_day}),
            ),
            t,
        )?);
        for team in 0..site.teams() {
            out.push(k.sign(
                plan(
                    t,
                    &wf,
                    "worker.team.formed.v1",
                    json!({"project_id": pid,
                "team_id": format!("T-{:02}", team + 1), "name": format!("第{}班组", team + 1), "employer": gc_code}),
                ),
                t,
            )?);
        }
        for (i, w) in site.workers.iter().enumerate() {
            out.push(k.sign(plan(t, &wf, "worker.registered.v1", json!({"project_id": pid, "person_ref": w.person_ref,
                "id_type": "01", "id_commitment": w.id_commitment, "id_masked": w.id_masked,
                "birth_month": w.birth_month, "employer": gc_code, "team_id": format!("T-{:02}", i / super::model::TEAM_SIZE + 1),
                "trade": w.trade, "work_role": "20"})), t)?);
            out.push(k.sign(
                plan(
                    t,
                    &wf,
                    "worker.contract.signed.v1",
                    json!({"project_id": pid,
                "person_ref": w.person_ref, "contract_id": format!("HT-{}-{i}", site.index), "employer": gc_code,
                "period_type": "1", "start_date": date}),
                ),
                t,
            )?);
            out.push(k.sign(
                plan(
                    t,
                    &wf,
                    "worker.entered.v1",
                    json!({"project_id": pid,
                "person_ref": w.person_ref, "date": date}),
                ),
                t,
            )?);
        }
    }
    stage3.retain(|c| !c.is_empty());
    stage2.retain(|c| !c.is_empty());
    Ok([vec![stage1], stage2, stage3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_district_gets_projects_in_proportion() {
        let mut n = [0usize; 11];
        for i in 0..10_000 {
            n[district_of(i)] += 1;
        }
        assert!(n.iter().all(|&c| c > 0), "{n:?}");
        assert_eq!(n[4], 1_600, "鄞州区 has the most projects: {n:?}");
    }
}
