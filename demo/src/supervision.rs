//! The demo city's traffic of 监管协同: inspections with findings and rectifications, witnessed testing with a
//! laboratory's report numbers, 危大工程, BIM models and progress nodes, and coordination tasks — all through
//! `POST /v1/events`, signed by the responsible party's own key.
//!
//! Keys (`<data_dir>/keys/demo-sv-*.key`, 0600), enrolled by the city bureau (a trusted root) the first time:
//! one `district_bureau` inspector key per district used (subject: the district code), one `enterprise` key per
//! owner, general contractor and supervisor of the projects used (subject: the credit code), and a
//! `testing_lab` key for 宁波市建设工程质量检测中心有限公司, registered as an enterprise of type `testing_lab` in
//! the same batch (a `testing_lab` key's subject must be a registered enterprise).
//!
//! **History** is written once per data directory (when the laboratory key has no record yet), with times
//! relative to the start, so the states that depend on time come out right on the first run and stay right: two
//! weeks of inspections where some rectifications were closed on time, some failed review and then passed, some
//! failed review and are overdue, some were never answered and are overdue, some are not yet due; a laboratory
//! whose 2026 report numbers skip one number (a gap) and an unqualified structural result never reported; 危大工程
//! including a 超过一定规模 高支模 approved but never put to an expert review, one 修改后通过 then re-approved, a
//! monitored excavation with an anomaly; BIM versions and progress nodes early, on time and late; tasks from
//! findings and alarms, some past their SLA, one escalated, one between bureaus and one to another authority.
//!
//! **Live** traffic then runs every six ticks once the demo goes live (or one step per [`Live::step`]): a new inspection with a finding and notice, a contractor's answer,
//! a bureau's review, a task dispatched and acknowledged; ids carry the time so restarts never collide. Each
//! key's chain resumes from the ledger's head for that key.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::{Map, Value, json};
use siteledger_client::MemoryChain as Chain;
use siteledger_ledger::EventStore;
use siteledger_signer::{Envelope, SigningKey};
use time::OffsetDateTime;

use super::city::{self, ProjectSpec};
use super::rng::SplitMix64;
use super::{DemoContext, TOKEN_PREFIX, cst_text, obj, post_with_retries};
use siteledger_api::auth::Role;

/// Projects (indices into the plan) with supervision traffic.
const PROJECTS: [usize; 8] = [0, 3, 7, 12, 16, 21, 27, 33];
/// The demo's testing laboratory (检测机构).
const LAB_NAME: &str = "宁波市建设工程质量检测中心有限公司";
const INSPECTORS: [&str; 6] = ["王建国", "李卫东", "陈海燕", "张立新", "周文斌", "徐晓峰"];
const EXPERTS: [&str; 6] = ["孙明远", "钱国华", "郑志刚", "冯立群", "蒋文涛", "沈建平"];

fn hex(rng: &mut SplitMix64) -> String {
    let mut b = [0u8; 32];
    rng.fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One of this area's signers with its chain.
struct Signer {
    key: SigningKey,
    chain: Chain,
}

/// The demo's supervision signers and ids.
struct Actors {
    inspectors: BTreeMap<&'static str, Signer>,
    enterprises: BTreeMap<String, Signer>,
    lab: Signer,
    lab_code: String,
    rng: SplitMix64,
}

impl Actors {
    fn sign(
        &mut self,
        who: Who<'_>,
        stream: &str,
        kind: &str,
        at: OffsetDateTime,
        payload: Value,
    ) -> anyhow::Result<Envelope> {
        let ms = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let id = self.rng.uuid_v7(ms);
        let s = match who {
            Who::Inspector(d) => self.inspectors.get_mut(d),
            Who::Enterprise(c) => self.enterprises.get_mut(c),
            Who::Lab => Some(&mut self.lab),
        }
        .ok_or_else(|| anyhow::anyhow!("no demo signer for {who:?}"))?;
        Ok(s.chain.sign(&s.key, id, stream, kind, &cst_text(at), obj(payload))?)
    }
}

#[derive(Debug, Clone, Copy)]
enum Who<'a> {
    Inspector(&'a str),
    Enterprise(&'a str),
    Lab,
}

/// A project's parties.
#[derive(Debug, Clone)]
struct Parties {
    id: String,
    district: &'static str,
    owner: String,
    gc: String,
    supervisor: String,
}

fn parties(spec: &ProjectSpec) -> Parties {
    let role = |r: &str| {
        spec.payload
            .get("participants")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|p| p["role"] == r))
            .and_then(|p| p["credit_code"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    Parties {
        id: spec.project_id.clone(),
        district: spec.district().code,
        owner: role("owner"),
        gc: role("general_contractor"),
        supervisor: role("supervisor"),
    }
}

/// Enrols the keys and writes the history (what is missing of them); returns the live traffic (not running).
pub(super) async fn setup(ctx: &DemoContext) -> anyhow::Result<Live> {
    let projects: Vec<Parties> = PROJECTS.iter().filter_map(|i| ctx.plan.projects.get(*i)).map(parties).collect();
    anyhow::ensure!(!projects.is_empty(), "no demo projects");
    let mut codes = HashSet::new();
    for p in &projects {
        codes.extend([p.owner.clone(), p.gc.clone(), p.supervisor.clone()]);
    }
    let mut lab_rng = SplitMix64::derive(0x5u64 << 40 | 0x7E57, 1);
    let lab_code = city::credit_code("330201", &mut lab_rng);

    // Keys, loaded or created.
    let mut inspectors = BTreeMap::new();
    for d in projects.iter().map(|p| p.district) {
        if !inspectors.contains_key(d) {
            inspectors.insert(d, ctx.key(&format!("sv-inspector-{d}"))?);
        }
    }
    let mut enterprises = BTreeMap::new();
    for c in &codes {
        enterprises.insert(c.clone(), ctx.key(&format!("sv-enterprise-{c}"))?);
    }
    let lab = ctx.key("sv-lab")?;

    let token = ctx
        .state
        .tokens
        .create_demo(&format!("{TOKEN_PREFIX}supervision"), Role::City, None, 30)
        .await
        .map_err(|e| anyhow::anyhow!("supervision token: {e}"))?;

    enrol(ctx, &token.secret, &inspectors, &enterprises, &lab, &lab_code).await?;

    let store = ctx.state.ledger.store();
    let fresh = store.signer_head(&lab.key_id().to_string()).await?.is_none();
    let mut actors = Actors {
        inspectors: BTreeMap::new(),
        enterprises: BTreeMap::new(),
        lab: Signer { chain: chain_of(ctx, &lab).await?, key: lab },
        lab_code,
        rng: SplitMix64::derive(ctx.seed, 0x5u64 << 48),
    };
    for (d, k) in inspectors {
        actors.inspectors.insert(d, Signer { chain: chain_of(ctx, &k).await?, key: k });
    }
    for (c, k) in enterprises {
        actors.enterprises.insert(c, Signer { chain: chain_of(ctx, &k).await?, key: k });
    }

    let start = OffsetDateTime::now_utc();
    if fresh {
        let envs = history(&mut actors, &projects, start)?;
        let n = envs.len();
        let mut rejected = 0;
        for chunk in envs.chunks(200) {
            let answer = post_with_retries(&ctx.ingest, &token.secret, chunk, &ctx.shutdown).await?;
            for r in answer.rejections() {
                rejected += 1;
                let env = &chunk[r.index];
                tracing::warn!(kind = env.kind(), message = ?r.message, "demo supervision record rejected");
            }
        }
        tracing::info!(
            records = n,
            rejected,
            "demo supervision history written (inspections, testing, 危大工程, BIM, tasks)"
        );
    } else {
        tracing::info!("demo supervision history already in the ledger; resuming live traffic");
    }

    Ok(Live {
        actors,
        projects,
        token: token.secret,
        tick: ctx.tick,
        n: 0,
        pending: Vec::new(),
        state: ctx.state.clone(),
    })
}

/// The chain of `key` after the ledger's head for it.
async fn chain_of(ctx: &DemoContext, key: &SigningKey) -> anyhow::Result<Chain> {
    head_chain(&ctx.state, key).await
}

async fn head_chain(state: &siteledger_api::state::AppState, key: &SigningKey) -> anyhow::Result<Chain> {
    Ok(match state.ledger.store().signer_head(&key.key_id().to_string()).await? {
        Some(h) => Chain::after(h.signer_seq, h.leaf_hash),
        None => Chain::new(),
    })
}

/// Enrols (via the city bureau's chain) the keys not yet enrolled, and registers the laboratory.
async fn enrol(
    ctx: &DemoContext,
    token: &str,
    inspectors: &BTreeMap<&'static str, SigningKey>,
    enterprises: &BTreeMap<String, SigningKey>,
    lab: &SigningKey,
    lab_code: &str,
) -> anyhow::Result<()> {
    let store = ctx.state.ledger.store();
    let enrolled: HashSet<String> = store.keys().await?.into_iter().map(|k| k.key_id).collect();
    let city_id = ctx.city.key_id().to_string();
    // Other areas sign with the city bureau's key too: hold its lock from reading the head to posting.
    let lock = ctx.locks.of(&city_id);
    let _guard = lock.lock().await;
    let mut chain = match store.signer_head(&city_id).await? {
        Some(h) => Chain::after(h.signer_seq, h.leaf_hash),
        None => anyhow::bail!("the city bureau has no chain yet"),
    };
    let now = OffsetDateTime::now_utc();
    let at = cst_text(now);
    let ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut rng = SplitMix64::derive(ctx.seed ^ ms, 0x5E);
    let mut envs = Vec::new();
    let mut add = |chain: &mut Chain, stream: &str, kind: &str, payload: Map<String, Value>| -> anyhow::Result<()> {
        envs.push(chain.sign(&ctx.city, rng.uuid_v7(ms), stream, kind, &at, payload)?);
        Ok(())
    };
    // The laboratory is registered with its key (a testing_lab key's subject must be a registered enterprise).
    if !enrolled.contains(&lab.key_id().to_string()) {
        add(
            &mut chain,
            "registry/enterprises",
            "registry.enterprise.registered.v1",
            obj(json!({"credit_code": lab_code, "name": LAB_NAME, "types": ["testing_lab"]})),
        )?;
    }
    let mut wanted: Vec<(&SigningKey, String, &str)> =
        inspectors.iter().map(|(d, k)| (k, (*d).to_owned(), "district_bureau")).collect();
    wanted.extend(enterprises.iter().map(|(c, k)| (k, c.clone(), "enterprise")));
    wanted.push((lab, lab_code.to_owned(), "testing_lab"));
    for (k, subject, role) in wanted {
        if !enrolled.contains(&k.key_id().to_string()) {
            add(&mut chain, "registry/keys", "ledger.key.enrolled.v1", city::enrollment(k.public(), &subject, role))?;
        }
    }
    if envs.is_empty() {
        return Ok(());
    }
    let answer = post_with_retries(&ctx.ingest, token, &envs, &ctx.shutdown).await?;
    for r in answer.rejections() {
        tracing::warn!(code = ?r.code, message = ?r.message, "demo supervision enrolment rejected");
    }
    tracing::info!(accepted = answer.accepted, "demo supervision keys enrolled by the city bureau");
    Ok(())
}

fn days(n: f64) -> time::Duration {
    time::Duration::seconds_f64(n * 86_400.0)
}

/// Two weeks of history ending at `now`.
fn history(a: &mut Actors, projects: &[Parties], now: OffsetDateTime) -> anyhow::Result<Vec<Envelope>> {
    let mut out = Vec::new();
    let t = |d: f64| now - days(d);
    let year = siteledger_domain::time::in_shanghai(now).year();
    let lab_code = a.lab_code.clone();
    let mut report_seq: i64 = 101;
    let mut hash = SplitMix64::derive(0xB1A5, 7);
    let expert_codes: Vec<String> = {
        let mut r = SplitMix64::derive(0xE4, 3);
        (0..6).map(|_| city::credit_code("330203", &mut r)).collect()
    };

    for (i, p) in projects.iter().enumerate() {
        let s = format!("project/{}/supervision", p.id);
        let pid = p.id.as_str();
        let d = p.district;
        let insp = INSPECTORS[i % INSPECTORS.len()];
        // ---- 工程安全质量监管
        let ins = format!("JC-{}-01", 2026);
        out.push(a.sign(Who::Inspector(d), &s, "inspection.inspection.recorded.v1", t(12.0), json!({
            "project_id": pid, "inspection_id": ins, "inspection_kind": if i % 3 == 2 { "quality" } else { "safety" },
            "inspector": insp, "scope": "主体结构施工、临边洞口防护、脚手架及文明施工", "inspected_party": p.gc,
        }))?);
        let findings: [(&str, &str, &str, &str); 3] = [
            ("F-01", "serious", "临边防护", "5层楼板临边未设置防护栏杆，电梯井口未封闭"),
            ("F-02", "general", "脚手架", "外脚手架连墙件缺失，剪刀撑不连续"),
            ("F-03", "minor", "文明施工", "钢筋堆场材料堆放杂乱，未设标识牌"),
        ];
        for (n, (fid, level, cat, desc)) in findings.iter().enumerate() {
            out.push(a.sign(Who::Inspector(d), &s, "inspection.finding.recorded.v1", t(12.0) + time::Duration::minutes(10 + n as i64), json!({
                "project_id": pid, "inspection_id": ins, "finding_id": fid, "level": level, "category": cat, "description": desc,
                "photo_hashes": [hex(&mut hash)],
            }))?);
        }
        // Notice patterns by project: (deadline days from now, what happens).
        // 0 closed on time · 1 failed then passed · 2 overdue unanswered · 3 failed and overdue · 4 not yet due
        let pattern: [(u8, f64); 3] = match i % 4 {
            0 => [(2, -3.0), (1, -5.0), (4, 3.0)],
            1 => [(0, -8.0), (3, -2.0), (4, 2.0)],
            2 => [(1, -6.0), (0, -9.0), (2, -1.0)],
            _ => [(0, -8.0), (1, -5.0), (4, 4.0)],
        };
        for (n, ((fid, _, _, _), (what, deadline))) in findings.iter().zip(pattern).enumerate() {
            let nid = format!("ZG-{}", n + 1);
            let notice_at = t(12.0) + time::Duration::hours(2);
            out.push(a.sign(
                Who::Inspector(d),
                &s,
                "inspection.rectification.noticed.v1",
                notice_at,
                json!({
                    "project_id": pid, "finding_id": fid, "notice_id": nid, "deadline": cst_text(now - days(-deadline)),
                    "responsible": p.gc, "requirement": "按《建筑施工安全检查标准》JGJ 59 限期整改并提交整改照片",
                }),
            )?);
            let submit = |a: &mut Actors, at: OffsetDateTime, note: &str, h: &mut SplitMix64| {
                a.sign(
                    Who::Enterprise(&p.gc),
                    &s,
                    "inspection.rectification.submitted.v1",
                    at,
                    json!({
                        "project_id": pid, "notice_id": nid, "photo_hashes": [hex(h), hex(h)], "note": note,
                    }),
                )
            };
            let review = |a: &mut Actors, at: OffsetDateTime, result: &str, note: &str| {
                a.sign(
                    Who::Inspector(d),
                    &s,
                    "inspection.rectification.reviewed.v1",
                    at,
                    json!({
                        "project_id": pid, "notice_id": nid, "result": result, "reviewer": insp, "note": note,
                    }),
                )
            };
            match what {
                0 => {
                    out.push(submit(a, t(10.0), "已按要求整改完毕，附整改前后照片", &mut hash)?);
                    out.push(review(a, t(9.5), "pass", "复查合格")?);
                    out.push(a.sign(
                        Who::Inspector(d),
                        &s,
                        "inspection.rectification.closed.v1",
                        t(9.4),
                        json!({"project_id": pid, "notice_id": nid}),
                    )?);
                }
                1 => {
                    out.push(submit(a, t(8.0), "已整改", &mut hash)?);
                    out.push(review(a, t(7.5), "fail", "整改不到位，连墙件仍有缺失，须重新整改")?);
                    out.push(submit(a, t(6.5), "已补设连墙件并加密剪刀撑", &mut hash)?);
                    out.push(review(a, t(6.0), "pass", "复查合格")?);
                    out.push(a.sign(
                        Who::Inspector(d),
                        &s,
                        "inspection.rectification.closed.v1",
                        t(5.9),
                        json!({"project_id": pid, "notice_id": nid}),
                    )?);
                }
                3 => {
                    out.push(submit(a, t(4.0), "已整改", &mut hash)?);
                    out.push(review(a, t(3.0), "fail", "复查未通过：防护栏杆高度不足1.2米")?);
                }
                _ => {}
            }
        }

        // ---- 危大工程
        let major_no_review = i % 4 == 0;
        let works: Vec<(&str, &str, &str, Value)> = vec![
            ("WD-01", "1#楼深基坑开挖及支护", "excavation", json!({"depth_m": "6.5"})),
            (
                "WD-02",
                "地下室顶板高支模",
                "formwork",
                json!({"subtype": "shoring", "height_m": "8.6", "span_m": "16.8"}),
            ),
            ("WD-03", "外立面落地式脚手架", "scaffolding", json!({"subtype": "ground", "height_m": "36"})),
            (
                "WD-04",
                "QTZ125塔式起重机安装拆卸",
                "lifting",
                json!({"subtype": "crane_erection", "crane_capacity_kn": "125"}),
            ),
        ];
        for (wid, name, cat, params) in &works {
            out.push(a.sign(
                Who::Enterprise(&p.gc),
                &s,
                "hazard.work.listed.v1",
                t(14.0),
                json!({
                    "project_id": pid, "work_id": wid, "name": name, "category": cat, "parameters": params,
                }),
            )?);
        }
        let approve = |a: &mut Actors,
                       wid: &str,
                       v: i64,
                       at: OffsetDateTime,
                       h: &mut SplitMix64|
         -> anyhow::Result<Vec<Envelope>> {
            Ok(vec![
                a.sign(Who::Enterprise(&p.gc), &s, "hazard.plan.approved.v1", at, json!({
                    "project_id": pid, "work_id": wid, "plan_version": v, "plan_hash": hex(h), "technical_lead": "施工单位技术负责人 刘志强",
                }))?,
                a.sign(Who::Enterprise(&p.supervisor), &s, "hazard.plan.countersigned.v1", at + time::Duration::hours(3), json!({
                    "project_id": pid, "work_id": wid, "plan_version": v, "chief_supervisor": "总监理工程师 黄伟民",
                }))?,
            ])
        };
        let experts: Vec<Value> =
            (0..5).map(|k| json!({"name": EXPERTS[(i + k) % 6], "employer": expert_codes[(i + k) % 6]})).collect();
        // WD-01 超规模 excavation: approved, reviewed 通过, noticed, briefed, started, monitored (one anomaly).
        out.extend(approve(a, "WD-01", 1, t(13.0), &mut hash)?);
        out.push(a.sign(Who::Enterprise(&p.gc), &s, "hazard.expert_review.held.v1", t(12.5), json!({
            "project_id": pid, "work_id": "WD-01", "plan_version": 1, "experts": experts, "outcome": "passed", "report": "专家论证通过，按方案实施",
        }))?);
        for (kind, note) in [
            ("hazard.site_notice.posted.v1", "施工现场显著位置公告危大工程名称、施工时间和责任人员"),
            ("hazard.briefing.held.v1", "方案编制人员向管理人员交底，项目技术负责人向作业人员交底，专职安全员共同签字"),
        ] {
            out.push(a.sign(
                Who::Enterprise(&p.gc),
                &s,
                kind,
                t(12.2),
                json!({"project_id": pid, "work_id": "WD-01", "note": note}),
            )?);
        }
        out.push(a.sign(
            Who::Enterprise(&p.gc),
            &s,
            "hazard.work.started.v1",
            t(12.0),
            json!({"project_id": pid, "work_id": "WD-01", "note": "开始开挖"}),
        )?);
        for (k, (v, anomaly)) in [("8.2", false), ("11.6", false), ("18.9", i % 2 == 0)].iter().enumerate() {
            out.push(a.sign(Who::Lab, &s, "hazard.monitoring.recorded.v1", t(10.0 - k as f64 * 3.0), json!({
                "project_id": pid, "work_id": "WD-01", "point": format!("ZQS-0{}", k + 1), "item": "围护墙顶水平位移(mm)",
                "value": v, "alarm_value": "15", "anomaly": anomaly,
            }))?);
        }
        // WD-02 超规模 高支模: without review on some projects; 修改后通过 then re-approved on others.
        out.extend(approve(a, "WD-02", 1, t(9.0), &mut hash)?);
        if !major_no_review {
            out.push(a.sign(Who::Enterprise(&p.gc), &s, "hazard.expert_review.held.v1", t(8.0), json!({
                "project_id": pid, "work_id": "WD-02", "plan_version": 1,
                "experts": (0..5).map(|k| json!({"name": EXPERTS[(i + k + 1) % 6], "employer": expert_codes[(i + k + 1) % 6]})).collect::<Vec<_>>(),
                "outcome": "passed_with_changes", "report": "修改后通过：立杆间距加密至0.9m，补充地基承载力验算",
            }))?);
            out.extend(approve(a, "WD-02", 2, t(6.0), &mut hash)?);
            // Not on the projects under a stop-work order (停工令 blocks starting work).
            if i % 4 != 1 {
                out.push(a.sign(
                    Who::Enterprise(&p.gc),
                    &s,
                    "hazard.work.started.v1",
                    t(5.0),
                    json!({"project_id": pid, "work_id": "WD-02", "note": "开始搭设"}),
                )?);
            }
        }
        // WD-03 危大 scaffolding: approved, started, accepted.
        out.extend(approve(a, "WD-03", 1, t(13.5), &mut hash)?);
        out.push(a.sign(
            Who::Enterprise(&p.gc),
            &s,
            "hazard.work.started.v1",
            t(13.0),
            json!({"project_id": pid, "work_id": "WD-03", "note": "开始搭设"}),
        )?);
        out.push(a.sign(Who::Enterprise(&p.supervisor), &s, "hazard.work.accepted.v1", t(11.0), json!({
            "project_id": pid, "work_id": "WD-03", "technical_lead": "刘志强", "chief_supervisor": "黄伟民", "note": "验收合格，悬挂验收标识牌",
        }))?);
        // WD-04 crane erection: listed only (plan not yet approved).

        // The stop-work order is recorded after the starts it follows (it blocks later starts).
        if i % 4 == 1 {
            out.push(a.sign(Who::Inspector(d), &s, "inspection.stop_work.ordered.v1", t(11.9), json!({
                "project_id": pid, "order_id": "TG-01", "inspection_id": ins, "reason": "临边防护严重缺失，存在高处坠落重大隐患",
                "scope": "5层及以上主体结构施工",
            }))?);
        }

        // ---- BIM施工
        if i % 2 == 1 {
            for (v, day) in [(1, 14.0), (2, 4.0)] {
                out.push(a.sign(Who::Enterprise(&p.gc), &s, "bim.model.registered.v1", t(day), json!({
                    "project_id": pid, "model_id": "STRU", "version": v, "sha256": hex(&mut hash), "format": "ifc", "file_name": format!("{}-结构-v{v}.ifc", p.id),
                }))?);
            }
            let date = |dd: f64| siteledger_domain::time::shanghai_date(now - days(dd)).to_string();
            let nodes = [
                ("JD-01", "基础及地下室结构", 40.0_f64, 20.0_f64, Some((40.0_f64, Some(21.0_f64)))),
                ("JD-02", "主体结构1-3层", 20.0, 8.0, Some((19.0, Some(4.0)))),
                ("JD-03", "主体结构4-6层", 8.0, 2.0, Some((4.0, None))),
                ("JD-04", "屋面及机电安装", -5.0, -30.0, None),
            ];
            for (nid, name, ps, pf, actual) in nodes {
                out.push(a.sign(Who::Enterprise(&p.gc), &s, "bim.node.planned.v1", t(14.0), json!({
                    "project_id": pid, "node_id": nid, "name": name, "model_id": "STRU",
                    "element_ids": [format!("2x{}A${nid}", i), format!("3k{}B${nid}", i)], "planned_start": date(ps), "planned_finish": date(pf),
                }))?);
                if let Some((s0, f)) = actual {
                    out.push(a.sign(
                        Who::Enterprise(&p.gc),
                        &s,
                        "bim.node.progressed.v1",
                        t(s0.min(13.8)),
                        json!({
                            "project_id": pid, "node_id": nid, "status": 1, "actual_start": date(s0),
                        }),
                    )?);
                    if let Some(f) = f {
                        out.push(a.sign(
                            Who::Enterprise(&p.gc),
                            &s,
                            "bim.node.progressed.v1",
                            t(f.min(13.7)),
                            json!({
                                "project_id": pid, "node_id": nid, "status": 2, "actual_finish": date(f),
                            }),
                        )?);
                    }
                }
            }
        }

        // ---- 工程质量检测 (the first four projects send samples to the lab)
        if i < 4 {
            let items = [
                ("C-01", "混凝土抗压强度(C35)", true),
                ("C-02", "钢筋原材力学性能(HRB400E)", true),
                ("C-03", "防水卷材拉伸性能", false),
            ];
            for (n, (cid, item, structural)) in items.iter().enumerate() {
                let base = 11.0 - n as f64 * 3.0 - i as f64 * 0.5;
                out.push(a.sign(Who::Enterprise(&p.owner), &s, "testing.commissioned.v1", t(base), json!({
                    "project_id": pid, "commission_id": cid, "lab": lab_code, "item": item, "structural": structural,
                }))?);
                let sid = format!("YP-{}", n + 1);
                let seal = format!("FZ-{}-{:02}", i + 1, n + 1);
                out.push(a.sign(Who::Enterprise(&p.supervisor), &s, "testing.sample.taken.v1", t(base - 0.1), json!({
                    "project_id": pid, "commission_id": cid, "sample_id": sid, "seal_id": seal, "witness": "见证员 何丽萍", "sampler": "取样员 吴海军",
                }))?);
                out.push(a.sign(Who::Lab, &s, "testing.sample.received.v1", t(base - 0.3), json!({
                    "project_id": pid, "sample_id": sid, "seal_id": seal, "seal_intact": true, "condition": "封志完好，试件无破损",
                }))?);
                // Report number 108 is never issued: a gap in the lab's 2026 numbering.
                if report_seq == 108 {
                    report_seq += 1;
                }
                let unqualified = (i == 1 && n == 0) || (i == 2 && n == 2);
                let report_at = t(base - 2.0);
                out.push(a.sign(Who::Lab, &s, "testing.report.issued.v1", report_at, json!({
                    "project_id": pid, "sample_id": sid, "report_year": year, "report_seq": report_seq,
                    "tester": "检测员 陈志远", "reviewer": "审核 林美华", "approver": "授权签字人 沈国强",
                    "result": if unqualified { "unqualified" } else { "qualified" },
                    "summary": if unqualified { "28d抗压强度代表值 29.6 MPa，低于设计强度等级 C35" } else { "所检项目符合标准要求" },
                }))?);
                // The non-structural failure is reported in time; the structural one never is.
                if unqualified && !structural {
                    out.push(a.sign(Who::Lab, &s, "testing.nonconformity.reported.v1", report_at + time::Duration::hours(3), json!({
                        "project_id": pid, "report_year": year, "report_seq": report_seq, "note": "已向区住建局报告不合格检测结果",
                    }))?);
                }
                report_seq += 1;
            }
        }

        // ---- 协同指挥
        let ts = format!("project/{pid}/tasks");
        let task = |a: &mut Actors, id: &str, at: OffsetDateTime, title: &str, kind: &str, sla: i64| {
            a.sign(Who::Inspector(d), &ts, "task.dispatched.v1", at, json!({
                "task_id": id, "district": d, "project_id": pid, "source_kind": kind,
                "source_event_id": format!("{id}-src"), "title": title, "assignee_kind": "enterprise", "assignee": p.gc,
                "level": "project", "sla_hours": sla,
            }))
        };
        let note = |a: &mut Actors, who: Who<'_>, kind: &str, id: &str, at: OffsetDateTime, n: &str| {
            a.sign(who, &ts, kind, at, json!({"task_id": id, "district": d, "project_id": pid, "note": n}))
        };
        let t1 = format!("RW-{}-01", p.id);
        out.push(task(a, &t1, t(4.0), "临边防护整改逾期督办", "finding", 48)?);
        out.push(note(a, Who::Enterprise(&p.gc), "task.acknowledged.v1", &t1, t(3.9), "已签收，组织整改")?);
        let t2 = format!("RW-{}-02", p.id);
        out.push(task(a, &t2, t(6.0), "扬尘在线监测超标处置", "alarm", 24)?);
        if i % 2 == 0 {
            out.push(a.sign(Who::Inspector(d), &ts, "task.escalated.v1", t(2.0), json!({
                "task_id": t2, "district": d, "project_id": pid, "to_level": "district", "assignee_kind": "district_bureau",
                "assignee": d, "sla_hours": 24, "reason": "企业逾期未处置，升级至区县住建局督办",
            }))?);
        } else {
            out.push(a.sign(Who::Enterprise(&p.gc), &ts, "task.resolved.v1", t(5.5), json!({
                "task_id": t2, "district": d, "project_id": pid, "evidence_hashes": [hex(&mut hash)], "note": "已启动喷淋降尘，裸土覆盖完成",
            }))?);
            out.push(note(a, Who::Inspector(d), "task.closed.v1", &t2, t(5.0), "核查属实，办结")?);
        }
        let t3 = format!("RW-{}-03", p.id);
        out.push(task(a, &t3, t(0.5), "基坑监测异常复核", "anomaly", 72)?);
    }
    // Between bureaus and to another authority (no project): in the first project's district.
    if let Some(p) = projects.first() {
        let d = p.district;
        let ds = format!("district/{d}/tasks");
        out.push(a.sign(Who::Inspector(d), &ds, "task.dispatched.v1", t(1.5), json!({
            "task_id": format!("XT-{d}-01"), "district": d, "source_kind": "other", "source_event_id": "hs-req-01",
            "title": "请求市住建局协调跨区渣土运输车辆夜间作业审批", "assignee_kind": "city_bureau", "assignee": city::CITY_BUREAU,
            "level": "city", "sla_hours": 72,
        }))?);
        out.push(a.sign(Who::Inspector(d), &ds, "task.dispatched.v1", t(3.0), json!({
            "task_id": format!("XT-{d}-02"), "district": d, "source_kind": "alarm", "source_event_id": "hs-alarm-02",
            "title": "移送综合行政执法局：夜间违规施工噪声扰民", "assignee_kind": "authority", "assignee": "宁波市综合行政执法局",
            "level": "district", "sla_hours": 48,
        }))?);
    }
    Ok(out)
}

/// Live traffic: a few records every few ticks.
pub(super) struct Live {
    actors: Actors,
    projects: Vec<Parties>,
    token: String,
    tick: Duration,
    n: u64,
    /// Notices waiting for an answer or a review: (project, notice, general contractor, district).
    pending: Vec<(String, String, String, &'static str)>,
    state: siteledger_api::state::AppState,
}

impl Live {
    /// Takes every chain from the ledger again (after a rejection the local chains ran ahead).
    async fn resync(&mut self) -> anyhow::Result<()> {
        let a = &mut self.actors;
        a.lab.chain = head_chain(&self.state, &a.lab.key).await?;
        for s in a.inspectors.values_mut().chain(a.enterprises.values_mut()) {
            s.chain = head_chain(&self.state, &s.key).await?;
        }
        Ok(())
    }

    pub(super) async fn run(
        mut self,
        ingest: siteledger_client::IngestClient,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut stop = shutdown.clone();
        loop {
            let wait = self.tick.mul_f64(6.0);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            if let Err(e) = self.step(&ingest, &shutdown).await {
                if !*shutdown.borrow() {
                    tracing::warn!(error = %e, "demo supervision: live traffic stops");
                }
                return;
            }
        }
    }

    /// One step: an inspection with a finding and a notice, a contractor's answer to the oldest pending notice, or
    /// a bureau's review closing it (in turn).
    pub(super) async fn step(
        &mut self,
        ingest: &siteledger_client::IngestClient,
        shutdown: &tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        self.n += 1;
        let now = OffsetDateTime::now_utc();
        let stamp = now.unix_timestamp();
        let p = self.projects[usize::try_from(self.n).unwrap_or(0) % self.projects.len()].clone();
        let s = format!("project/{}/supervision", p.id);
        let d = p.district;
        let envs: anyhow::Result<Vec<Envelope>> = (|| {
            let mut out = Vec::new();
            match self.n % 3 {
                1 => {
                    let ins = format!("JC-{stamp}");
                    let fid = format!("F-{stamp}");
                    let nid = format!("ZG-{stamp}");
                    out.push(self.actors.sign(Who::Inspector(d), &s, "inspection.inspection.recorded.v1", now, json!({
                        "project_id": p.id, "inspection_id": ins, "inspection_kind": "safety", "inspector": INSPECTORS[(self.n % 6) as usize],
                        "scope": "日常巡查：临时用电及起重机械", "inspected_party": p.gc,
                    }))?);
                    out.push(self.actors.sign(Who::Inspector(d), &s, "inspection.finding.recorded.v1", now, json!({
                        "project_id": p.id, "inspection_id": ins, "finding_id": fid, "level": "general", "category": "施工用电",
                        "description": "开关箱未做到“一机一闸一漏一箱”",
                    }))?);
                    out.push(self.actors.sign(Who::Inspector(d), &s, "inspection.rectification.noticed.v1", now, json!({
                        "project_id": p.id, "finding_id": fid, "notice_id": nid, "deadline": cst_text(now + days(2.0)),
                        "responsible": p.gc, "requirement": "两日内整改并回复",
                    }))?);
                    self.pending.push((p.id.clone(), nid, p.gc.clone(), d));
                }
                2 => {
                    if let Some((pid, nid, gc, _)) = self.pending.first().cloned() {
                        let s = format!("project/{pid}/supervision");
                        let mut h = SplitMix64::derive(self.n, 9);
                        out.push(self.actors.sign(Who::Enterprise(&gc), &s, "inspection.rectification.submitted.v1", now, json!({
                            "project_id": pid, "notice_id": nid, "photo_hashes": [hex(&mut h)], "note": "已更换开关箱并加装漏电保护器",
                        }))?);
                    }
                }
                _ => {
                    if !self.pending.is_empty() {
                        let (pid, nid, _, d) = self.pending.remove(0);
                        let s = format!("project/{pid}/supervision");
                        out.push(self.actors.sign(Who::Inspector(d), &s, "inspection.rectification.reviewed.v1", now, json!({
                            "project_id": pid, "notice_id": nid, "result": "pass", "reviewer": INSPECTORS[0], "note": "复查合格",
                        }))?);
                        out.push(self.actors.sign(
                            Who::Inspector(d),
                            &s,
                            "inspection.rectification.closed.v1",
                            now,
                            json!({
                                "project_id": pid, "notice_id": nid,
                            }),
                        )?);
                    }
                }
            }
            Ok(out)
        })();
        let envs = match envs {
            Ok(e) if !e.is_empty() => e,
            Ok(_) => return Ok(()),
            Err(e) => return Err(e.context("cannot sign")),
        };
        let a = post_with_retries(ingest, &self.token, &envs, shutdown).await.map_err(|e| e.context("post failed"))?;
        for r in a.rejections() {
            tracing::warn!(code = ?r.code, message = ?r.message, "demo supervision record rejected");
        }
        if a.rejected > 0 {
            self.resync().await.map_err(|e| e.context("cannot resynchronise the chains"))?;
        }
        Ok(())
    }
}
