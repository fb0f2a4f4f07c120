//! The demo city's 实名制与工资: three projects with a site gate, ten workers each (synthetic but checksum-valid ID
//! numbers, taken into the vault: only references, commitments and masked forms reach the log), September 2026's
//! attendance, payroll, worker confirmations and transfers from the dedicated wage account, October's attendance so
//! far, labour-cost deposits and wage guarantees, and a few realistic arrears cases ([`seeded_cases`]).
//!
//! The history is fixed in time (2026-08-20 … 2026-10-20), so the arrears view's "as of" (the latest workforce
//! record's day, 2026-10-20) is reproducible. A restart on the same data directory sends nothing again: the
//! general contractors' keys already have chains, which marks the history as written.
//!
//! Then the findings become records (issue 5: "findings are events themselves and can open a coordination
//! task"): once the history is folded, each project's district bureau publishes every seeded finding that is not yet
//! published (`wage.finding.recorded.v1`), and dispatches one `task.dispatched.v1` per published finding to the
//! project's general contractor (条例第三十条: the 总包 answers for its project's wages), citing the finding's
//! event id. Both steps look at the read models first, so a restart sends only what is missing.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use siteledger_client::MemoryChain;
use siteledger_domain::LocalDate;
use siteledger_ledger::EventStore;
use siteledger_signer::{Envelope, SigningKey};

use super::DemoContext;
use super::city::enrollment;
use siteledger_api::auth::Role;
use siteledger_api::vault::{Accessor, PersonIntake};

/// Which demo projects (indices into the registry plan) have the workforce history.
pub const PROJECTS: [usize; 3] = [0, 5, 10];
/// Workers per project.
pub const WORKERS: usize = 10;
const DAILY_WAGE_FEN: i64 = 35_000;
const SEPT_DAYS: u32 = 24;

/// A case the demo seeds on purpose: (project index into [`PROJECTS`], rule, worker index or none, month).
pub type SeededCase = (usize, &'static str, Option<usize>, &'static str);

/// Every finding the arrears view should show for the demo, and nothing else.
pub fn seeded_cases() -> Vec<SeededCase> {
    vec![
        // 项目一: 班组长 withheld one worker's September wages; an electrician works without a certificate.
        (0, "arrears_suspected", Some(3), "2026-09"),
        (0, "certificate_missing", Some(9), "2026-09"),
        (0, "certificate_missing", Some(9), "2026-10"),
        // 项目二: one worker paid less than the payroll says; a 挂名 (ghost) worker paid with no attendance; one
        // worker's wage sent to the 包工头's card.
        (1, "underpayment", Some(5), "2026-09"),
        (1, "ghost_payroll", Some(6), "2026-09"),
        (1, "unregistered_card", Some(7), "2026-09"),
        // 项目三: a worker left off the payroll (hence unpaid); a payroll inflating days; the owner's labour-cost
        // funding skipped a month.
        (2, "arrears_suspected", Some(2), "2026-09"),
        (2, "missing_from_payroll", Some(2), "2026-09"),
        (2, "days_mismatch", Some(4), "2026-09"),
        (2, "labour_cost_late", None, "2026-09"),
    ]
}

/// The synthetic ID number of worker `w` of demo project `p` (GB 11643 check character computed; 宁波 regions).
pub fn id_number(p: usize, w: usize) -> String {
    let region = ["330203", "330212", "330281"][p % 3];
    let first17 = format!(
        "{region}{:04}{:02}{:02}{:03}",
        1968 + (p * 7 + w * 3) % 35,
        1 + (w + p) % 12,
        1 + (w * 5 + p) % 28,
        100 + p * 10 + w
    );
    let check = siteledger_domain::IdNumber::check_character(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// The wage card number of worker `w` of project `p` (synthetic 农业银行-style 19 digits).
pub fn card_number(p: usize, w: usize) -> String {
    format!("622848{:013}", 3_302_000_000 + (p * 100 + w) as u64)
}

const TEAM_NAMES: [&str; 3] = ["钢筋班组", "混凝土班组", "木工班组"];
const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴"];
const GIVEN: [&str; 10] = ["建国", "国强", "海军", "春生", "小兵", "德明", "永福", "志刚", "红军", "长林"];

fn trade(p: usize, w: usize) -> &'static str {
    match (p, w) {
        (_, 0) => "900",
        (0, 8 | 9) => "130",
        (_, w) if w % 3 == 0 => "040",
        (_, w) if w % 3 == 1 => "020",
        _ => "050",
    }
}

struct Signer {
    key: SigningKey,
    chain: MemoryChain,
}

impl Signer {
    fn sign(&mut self, n: &mut u64, stream: &str, kind: &str, at: &str, payload: Value) -> anyhow::Result<Envelope> {
        *n += 1;
        let ms = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as u64)
            .unwrap_or(0);
        let mut rand = [0u8; 10];
        rand[..8].copy_from_slice(&n.to_be_bytes());
        rand[8] = 0x57;
        let id = uuid::Builder::from_unix_timestamp_millis(ms, &rand).into_uuid();
        let payload = match payload {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        Ok(self.chain.sign(&self.key, id, stream, kind, at, payload)?)
    }
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn participant(payload: &serde_json::Map<String, Value>, role: &str) -> Option<String> {
    payload
        .get("participants")?
        .as_array()?
        .iter()
        .find(|p| str_of(p, "role") == role)
        .map(|p| str_of(p, "credit_code").to_owned())
}

/// Starts this area's demo: writes the fixed history once, then publishes the seeded findings and opens their
/// coordination tasks (whatever of that is missing).
pub(super) async fn start(ctx: &DemoContext) -> anyhow::Result<()> {
    write_history(ctx).await?;
    publish_findings(ctx).await
}

/// Hours a general contractor gets to answer a wage finding's task: 欠薪 and 克扣 are urgent (three days), the
/// other anomalies a week.
fn sla_hours(rule: &str) -> u32 {
    if matches!(rule, "arrears_suspected" | "underpayment" | "missing_from_payroll") { 72 } else { 168 }
}

/// Waits until every projection has folded the ledger as it is now (or the server shuts down).
async fn wait_folded(ctx: &DemoContext) -> anyhow::Result<()> {
    let target = ctx.state.ledger.head();
    let mut applied = ctx.state.read.watch_applied();
    let mut shutdown = ctx.shutdown.clone();
    tokio::select! {
        r = applied.wait_for(|a| *a >= target) => { r.map_err(|e| anyhow::anyhow!("projector stopped: {e}"))?; }
        _ = shutdown.wait_for(|s| *s) => anyhow::bail!("shut down before the workforce history was folded"),
    }
    Ok(())
}

/// The district bureau of each demo workforce project publishes the seeded findings not yet published, then
/// dispatches one task per published finding that has none.
async fn publish_findings(ctx: &DemoContext) -> anyhow::Result<()> {
    use siteledger_domain::workforce::FINDING_RECORDED;
    use siteledger_projections::Scope;

    let projects: Vec<_> = PROJECTS.iter().filter_map(|&i| ctx.plan.projects.get(i)).collect();
    let seeded = seeded_cases();
    let is_seeded = |pi: usize, r: &siteledger_projections::workforce::ArrearsRow| {
        seeded.iter().any(|c| c.0 == pi && c.1 == r.rule && c.3 == r.month)
    };
    let token = ctx
        .state
        .tokens
        .create_demo("demo workforce findings", Role::City, None, 30)
        .await
        .map_err(|e| anyhow::anyhow!("workforce demo token: {e}"))?;

    wait_folded(ctx).await?;
    let rows = ctx.state.read.workforce_arrears(&Scope::All, None, None, 1).await?;
    for (pi, spec) in projects.iter().enumerate() {
        let pid = spec.project_id.as_str();
        let todo: Vec<_> =
            rows.iter().filter(|r| r.project_id == pid && r.published_event_id.is_none() && is_seeded(pi, r)).collect();
        if todo.is_empty() {
            continue;
        }
        let key = ctx.districts.get(spec.district).ok_or_else(|| anyhow::anyhow!("no district key"))?;
        let stream = format!("project/{pid}/wage/findings");
        let mut records = Vec::new();
        for r in todo {
            let who = r.id_masked.as_deref().map_or_else(String::new, |m| format!("工人 {m}："));
            let payload = json!({
                "project_id": pid, "finding_id": r.finding_id, "rule": r.rule, "month": r.month,
                "summary": format!("{}（{}）{who}{}", r.rule_zh, r.basis, r.detail), "evidence": r.evidence,
            });
            if let Value::Object(payload) = payload {
                records.push((stream.clone(), FINDING_RECORDED, payload));
            }
        }
        let n = sign_and_post(ctx, &token.secret, key, &records, time::OffsetDateTime::now_utc()).await?;
        tracing::info!(project = pid, findings = n, "demo: the district bureau published wage findings");
    }

    wait_folded(ctx).await?;
    let rows = ctx.state.read.workforce_arrears(&Scope::All, None, None, 1).await?;
    let now = time::OffsetDateTime::now_utc();
    let tasked: std::collections::HashSet<String> =
        ctx.state.read.tasks(&Scope::All, false, now).await?.into_iter().map(|t| t.source_event_id).collect();
    for (pi, spec) in projects.iter().enumerate() {
        let pid = spec.project_id.as_str();
        let todo: Vec<_> = rows
            .iter()
            .filter(|r| r.project_id == pid && is_seeded(pi, r))
            .filter_map(|r| r.published_event_id.as_deref().filter(|e| !tasked.contains(*e)).map(|e| (r, e)))
            .collect();
        if todo.is_empty() {
            continue;
        }
        let gc = participant(&spec.payload, "general_contractor").unwrap_or_default();
        let district = spec.district().code;
        let key = ctx.districts.get(spec.district).ok_or_else(|| anyhow::anyhow!("no district key"))?;
        let stream = format!("project/{pid}/tasks");
        let mut records = Vec::new();
        for (r, event_id) in todo {
            let payload = json!({
                "task_id": format!("WG-{event_id}"), "district": district, "project_id": pid,
                "source_kind": "finding", "source_event_id": event_id,
                "title": format!("{}督办：{} {}，请总包单位核查并依法处置（{}）", r.rule_zh, r.project_name, r.month, r.basis),
                "assignee_kind": "enterprise", "assignee": gc, "level": "project", "sla_hours": sla_hours(&r.rule),
            });
            if let Value::Object(payload) = payload {
                records.push((stream.clone(), "task.dispatched.v1", payload));
            }
        }
        let n = sign_and_post(ctx, &token.secret, key, &records, now).await?;
        tracing::info!(project = pid, tasks = n, "demo: wage finding tasks dispatched to the general contractor");
    }
    Ok(())
}

/// Signs `records` (stream, kind, payload) with a bureau `key`, continuing its chain as stored, and posts them,
/// holding the key's lock from reading the head to posting. A producer that does not take the lock (the site
/// agents' enrolment) may still move the chain: then the head is read again and the records re-signed (5 tries).
async fn sign_and_post(
    ctx: &DemoContext,
    token: &str,
    key: &SigningKey,
    records: &[(String, &str, serde_json::Map<String, Value>)],
    at: time::OffsetDateTime,
) -> anyhow::Result<usize> {
    let key_id = key.key_id().to_string();
    let lock = ctx.locks.of(&key_id);
    let _chain_guard = lock.lock().await;
    let at = super::cst_text(at);
    let mut last = String::new();
    for _ in 0..5 {
        let mut chain = match ctx.state.ledger.store().signer_head(&key_id).await? {
            Some(h) => MemoryChain::after(h.signer_seq, h.leaf_hash),
            None => MemoryChain::new(),
        };
        let mut envs = Vec::with_capacity(records.len());
        for (stream, kind, payload) in records {
            envs.push(chain.sign(key, uuid::Uuid::now_v7(), stream, kind, &at, payload.clone())?);
        }
        let answer = super::post_with_retries(&ctx.ingest, token, &envs, &ctx.shutdown).await?;
        match answer.rejections().next() {
            None => return Ok(envs.len()),
            Some(r) if matches!(r.code.as_deref(), Some("chain_mismatch" | "equivocation")) => {
                last = format!("{:?}", r.message);
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Some(r) => anyhow::bail!("a workforce demo record was rejected: {:?} {:?}", r.code, r.message),
        }
    }
    anyhow::bail!("the bureau's chain kept moving: {last}")
}

/// Writes the fixed history once (nothing if the general contractors' chains exist).
async fn write_history(ctx: &DemoContext) -> anyhow::Result<()> {
    let store = ctx.state.ledger.store();
    let projects: Vec<_> = PROJECTS.iter().filter_map(|&i| ctx.plan.projects.get(i)).collect();
    if projects.len() != PROJECTS.len() {
        anyhow::bail!("the demo plan has fewer projects than the workforce demo uses");
    }
    // One enterprise key per general contractor and owner, one gate key per project.
    let mut ent: BTreeMap<String, Signer> = BTreeMap::new();
    let mut enrolments = Vec::new();
    // Other areas sign with the city key too: hold its lock from reading the chain head to posting (no fork).
    let city_lock = ctx.locks.of(&ctx.city.key_id().to_string());
    let city_guard = city_lock.lock().await;
    let mut city_chain = match store.signer_head(&ctx.city.key_id().to_string()).await? {
        Some(h) => MemoryChain::after(h.signer_seq, h.leaf_hash),
        None => MemoryChain::new(),
    };
    let enrolled: std::collections::HashSet<String> = store.keys().await?.into_iter().map(|k| k.key_id).collect();
    let mut n = 0u64;
    let mut enrol = |key: &SigningKey, subject: &str, role: &str, n: &mut u64| -> anyhow::Result<Option<Envelope>> {
        if enrolled.contains(&key.key_id().to_string()) {
            return Ok(None);
        }
        *n += 1;
        let env = city_chain.sign(
            &ctx.city,
            uuid::Uuid::now_v7(),
            "registry/keys",
            "ledger.key.enrolled.v1",
            "2026-08-01T09:00:00+08:00",
            enrollment(key.public(), subject, role),
        )?;
        Ok(Some(env))
    };
    let mut gates = Vec::new();
    for spec in &projects {
        for role in ["general_contractor", "owner"] {
            let cc = participant(&spec.payload, role).ok_or_else(|| anyhow::anyhow!("project without {role}"))?;
            if let std::collections::btree_map::Entry::Vacant(slot) = ent.entry(cc.clone()) {
                let key = ctx.key(&format!("workforce-{cc}"))?;
                enrolments.extend(enrol(&key, &cc, "enterprise", &mut n)?);
                slot.insert(Signer { key, chain: MemoryChain::new() });
            }
        }
        let gate = ctx.key(&format!("workforce-gate-{}", spec.project_id))?;
        enrolments.extend(enrol(&gate, &format!("project/{}/device/GATE-01", spec.project_id), "device", &mut n)?);
        gates.push(Signer { key: gate, chain: MemoryChain::new() });
    }
    // Already written (a restart): the general contractors' chains exist.
    for s in ent.values() {
        if store.signer_head(&s.key.key_id().to_string()).await?.is_some() {
            tracing::info!("demo workforce history already in the log");
            return Ok(());
        }
    }
    let token = ctx
        .state
        .tokens
        .create_demo("demo workforce", Role::City, None, 30)
        .await
        .map_err(|e| anyhow::anyhow!("workforce demo token: {e}"))?;
    post(ctx, &token.secret, &enrolments).await?;
    drop(city_guard);

    let today = LocalDate::parse("2026-08-20").map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut envs = Vec::new();
    for (pi, spec) in projects.iter().enumerate() {
        let pid = spec.project_id.as_str();
        let gc_cc = participant(&spec.payload, "general_contractor").unwrap_or_default();
        let owner_cc = participant(&spec.payload, "owner").unwrap_or_default();
        let wf = format!("project/{pid}/workforce");
        let wage = format!("project/{pid}/wage");
        // Vault intake (deterministic numbers: a restart gets the same references back), by the general
        // contractor (each intake and card is a signed vault.access.v1 record naming it).
        let gc_code = siteledger_domain::CreditCode::parse(&gc_cc).map_err(|e| anyhow::anyhow!("gc: {e}"))?;
        let demo_token =
            siteledger_domain::workforce::vault::TokenId::parse("demo").map_err(|e| anyhow::anyhow!("{e}"))?;
        let who = Accessor::enterprise(demo_token, gc_code);
        let mut people = Vec::new();
        for w in 0..WORKERS {
            let intake = PersonIntake {
                id_type: "01".into(),
                id_number: id_number(pi, w),
                name: format!("{}{}", SURNAMES[(pi * 3 + w) % 10], GIVEN[(w * 7 + pi) % 10]),
                phone: Some(format!("139{:08}", 57_400_000 + pi * 100 + w)),
                birth_date: None,
                cards: vec![],
            };
            let i = ctx.state.vault.intake(&who, &gc_cc, &intake, today).await?;
            let card = ctx.state.vault.add_card(&who, &gc_cc, &i.person_ref, &card_number(pi, w)).await?;
            people.push((i, card));
        }
        let gc = ent.get_mut(&gc_cc).ok_or_else(|| anyhow::anyhow!("no gc key"))?;
        let t0 = "2026-08-20T09:00:00+08:00";
        envs.push(gc.sign(&mut n, &wage, "wage.account.opened.v1", t0, json!({"project_id": pid, "opened_by": gc_cc, "bank_name": "中国农业银行宁波分行", "account_masked": format!("3901 **** **** {:04}", 8800 + pi), "pay_day": 15}))?);
        envs.push(gc.sign(&mut n, &wage, "wage.guarantee.deposited.v1", t0, json!({"project_id": pid, "by": gc_cc, "amount_fen": 50_000_000, "form": if pi == 1 { "bank_guarantee" } else { "cash" }}))?);
        envs.push(gc.sign(
            &mut n,
            &wf,
            "worker.team.formed.v1",
            t0,
            json!({"project_id": pid, "team_id": "T-01", "name": TEAM_NAMES[pi % 3], "employer": gc_cc}),
        )?);
        for (w, (p, card)) in people.iter().enumerate() {
            let at = format!("2026-08-20T10:{:02}:00+08:00", w);
            envs.push(gc.sign(&mut n, &wf, "worker.registered.v1", &at, json!({"project_id": pid, "person_ref": p.person_ref, "id_type": "01", "id_commitment": p.id_commitment, "id_masked": p.id_masked, "birth_month": p.birth_month, "employer": gc_cc, "team_id": "T-01", "trade": trade(pi, w), "work_role": if w == 0 { "10" } else { "20" }}))?);
            envs.push(gc.sign(&mut n, &wf, "worker.card.registered.v1", &at, json!({"project_id": pid, "person_ref": p.person_ref, "card_commitment": card.card_commitment, "card_masked": card.card_masked, "bank_name": "中国农业银行"}))?);
            envs.push(gc.sign(&mut n, &wf, "worker.contract.signed.v1", &at, json!({"project_id": pid, "person_ref": p.person_ref, "contract_id": format!("HT-2026-{pi}{w:02}"), "employer": gc_cc, "period_type": "1", "start_date": "2026-08-20"}))?);
            envs.push(gc.sign(&mut n, &wf, "worker.training.completed.v1", &at, json!({"project_id": pid, "person_ref": p.person_ref, "course": "三级安全教育（公司级、项目级、班组级）", "completed_on": "2026-08-28", "hours": 24}))?);
            if pi == 0 && w == 8 {
                envs.push(gc.sign(&mut n, &wf, "worker.certificate.recorded.v1", &at, json!({"project_id": pid, "person_ref": p.person_ref, "trade": "130", "cert_type": "建筑施工特种作业操作资格证", "cert_number": "浙A042024000318", "issuer": "浙江省住房和城乡建设厅", "valid_until": "2028-06-30"}))?);
            }
            envs.push(gc.sign(
                &mut n,
                &wf,
                "worker.entered.v1",
                "2026-09-01T07:00:00+08:00",
                json!({"project_id": pid, "person_ref": p.person_ref, "date": "2026-09-01"}),
            )?);
        }
        envs.push(gc.sign(
            &mut n,
            &wf,
            "worker.wage_clerk.appointed.v1",
            t0,
            json!({"project_id": pid, "person_ref": people[0].0.person_ref, "appointed_by": gc_cc}),
        )?);
        // Attendance: September 1–24 and October 8–20, in at 07:30 and out at 17:30.
        let gate = &mut gates[pi];
        let days: Vec<String> = (1..=SEPT_DAYS)
            .map(|d| format!("2026-09-{d:02}"))
            .chain((8..=20).map(|d| format!("2026-10-{d:02}")))
            .collect();
        for day in &days {
            for (w, (p, _)) in people.iter().enumerate() {
                if pi == 1 && w == 6 && day.starts_with("2026-09") {
                    continue; // the ghost worker never passes the gate in September
                }
                for (hm, dir, method) in [("07:30", "in", "face"), ("17:30", "out", "face")] {
                    if dir == "out" && day == "2026-10-20" {
                        continue; // the history ends during the working day: everyone is on site
                    }
                    envs.push(gate.sign(&mut n, &format!("{wf}/gate"), "worker.passage.v1", &format!("{day}T{hm}:{:02}+08:00", w), json!({"project_id": pid, "person_ref": p.person_ref, "gate": "GATE-01", "direction": dir, "method": method}))?);
                }
            }
        }
        // September payroll, confirmations, transfers.
        let gc = ent.get_mut(&gc_cc).ok_or_else(|| anyhow::anyhow!("no gc key"))?;
        let payable = DAILY_WAGE_FEN * i64::from(SEPT_DAYS);
        let lines: Vec<Value> = people
            .iter()
            .enumerate()
            .filter(|(w, _)| !(pi == 2 && *w == 2))
            .map(|(w, (p, card))| {
                let days = if pi == 2 && w == 4 { 30 } else { SEPT_DAYS };
                let actual = if pi == 1 && w == 5 { payable - 240_000 } else { payable };
                json!({"person_ref": p.person_ref, "days": days, "hours": days * 8, "payable_fen": payable, "actual_fen": actual, "card_commitment": card.card_commitment, "card_masked": card.card_masked, "back_pay": false})
            })
            .collect();
        let payroll_id = format!("GZ-2026-09-T01-{pi}");
        envs.push(gc.sign(&mut n, &wage, "wage.payroll.submitted.v1", "2026-10-08T10:00:00+08:00", json!({"project_id": pid, "payroll_id": payroll_id, "team_id": "T-01", "employer": gc_cc, "month": "2026-09", "lines": lines}))?);
        for (w, (p, card)) in people.iter().enumerate() {
            if pi == 2 && w == 2 {
                continue;
            }
            envs.push(gc.sign(
                &mut n,
                &wage,
                "wage.payroll.confirmed.v1",
                "2026-10-09T18:00:00+08:00",
                json!({"project_id": pid, "payroll_id": payroll_id, "person_ref": p.person_ref}),
            )?);
            if pi == 0 && w == 3 {
                continue; // never transferred
            }
            let amount = if pi == 1 && w == 5 { payable - 240_000 } else { payable };
            let (cm, masked) = if pi == 1 && w == 7 {
                // Paid to the 包工头's card: a card registered to nobody on this worker's record.
                (people[0].1.card_commitment.clone(), people[0].1.card_masked.clone())
            } else {
                (card.card_commitment.clone(), card.card_masked.clone())
            };
            envs.push(gc.sign(&mut n, &wage, "wage.transfer.made.v1", "2026-10-12T11:00:00+08:00", json!({"project_id": pid, "transfer_id": format!("ABC2026101200{pi}{w:02}"), "payroll_id": payroll_id, "person_ref": p.person_ref, "amount_fen": amount, "card_commitment": cm, "card_masked": masked, "paid_on": "2026-10-12", "back_pay": false}))?);
        }
        // 人工费用: monthly, except project three, which skipped September.
        let owner = ent.get_mut(&owner_cc).ok_or_else(|| anyhow::anyhow!("no owner key"))?;
        let deposits: &[&str] =
            if pi == 2 { &["2026-08-25", "2026-10-10"] } else { &["2026-08-25", "2026-09-25", "2026-10-20"] };
        for d in deposits {
            envs.push(owner.sign(&mut n, &wage, "wage.labour_cost.deposited.v1", &format!("{d}T10:00:00+08:00"), json!({"project_id": pid, "payer": owner_cc, "amount_fen": payable * WORKERS as i64, "deposited_on": d, "for_month": &d[..7]}))?);
        }
    }
    // Each signer's envelopes in its own order; the log keeps any interleaving.
    post(ctx, &token.secret, &envs).await?;
    tracing::info!(
        records = envs.len(),
        "demo workforce history written (3 projects, 30 workers, 10 seeded arrears cases)"
    );
    Ok(())
}

async fn post(ctx: &DemoContext, token: &str, envs: &[Envelope]) -> anyhow::Result<()> {
    for chunk in envs.chunks(500) {
        let answer = ctx.ingest.post(token, chunk).await?;
        if let Some(r) = answer.rejections().next() {
            anyhow::bail!("a workforce demo record was rejected: {:?} {:?}", r.code, r.message);
        }
    }
    Ok(())
}
