//! The court report (电子数据核验报告): a human-readable account of one verification of an evidence bundle, as an
//! HTML document and as a PDF, Chinese first with English beside it.
//!
//! [`court_report`] is a pure function of the bundle's bytes, the [`Report`] the verifier made of them
//! ([`crate::bundle::verify_timestamped`], the code of `siteledger-verify`) and the trust inputs that verification
//! used ([`TrustInputs`]: the log key, the witness policy, the TSA roots). It never decides a verdict itself: every
//! "passed" or "failed" it prints is a check of the `Report`; from the bundle it only reads what it shows (record
//! fields, enrolment subjects, witness cosignature times, a timestamp token's time and serial). It does no I/O.
//!
//! The report lists every check by its Chinese name ([`CheckKind::zh`]), the records, the checkpoint, the
//! witnesses, the timestamps and the attachments, maps the checks to what 《人民法院在线诉讼规则》 Art. 16–17 and
//! 《最高人民法院关于互联网法院审理案件若干问题的规定》 Art. 11 ask a court to examine, says what the verification does
//! not prove (docs/FORMAT.md §7.2) and how a court re-runs it. The HTML is one self-contained file (inline CSS, no
//! script, no external resource, a Content-Security-Policy forbidding both; every string from the bundle escaped).
//! The PDF (1.7) is written here by hand: A4 pages of text, lines and boxes, Chinese through the standard Adobe-GB1
//! CID font `STSong-Light` with CMap `UniGB-UCS2-H`, which PDF readers supply without embedding (so no font file is
//! needed at export), with a `ToUnicode` map so that the text can be searched and copied.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use crate::bundle::{AttachmentStatus, Bundle, CheckKind, KEY_ENROLLED_KIND, KeyEnrollment, Report};
use crate::cosignature::{WitnessPolicy, WitnessVerifier, verify_cosignatures};
use crate::note::NoteVerifier;
use crate::timestamp::{Certificate, verify_token_unanchored};

/// What the verification trusted, and how the files are named on the verifier's command line.
#[derive(Debug, Clone, Copy)]
pub struct TrustInputs<'a> {
    /// The log key the bundle was verified against.
    pub log_key: &'a NoteVerifier,
    /// The verifier's witness policy (`--witness … --witness-threshold K`), if any.
    pub policy: Option<&'a WitnessPolicy>,
    /// The trusted TSA roots (`--tsa-root`), if any.
    pub tsa_roots: Option<&'a [Certificate]>,
    /// The bundle file as the re-run command names it, e.g. `bundle.json`.
    pub bundle_file: &'a str,
    /// The attachments directory as the re-run command names it, when the files were checked.
    pub attachments_dir: Option<&'a str>,
    /// The TSA root file as the re-run command names it, when roots were given.
    pub tsa_root_file: Option<&'a str>,
    /// When the verification ran, as the caller wants it shown (this module reads no clock).
    pub verified_at: Option<&'a str>,
}

/// A rendered-independent court report: build with [`court_report`], write with [`CourtReport::to_html`] and
/// [`CourtReport::to_pdf`].
#[derive(Debug, Clone, PartialEq)]
pub struct CourtReport {
    /// The verifier's verdict (true only if every check passed).
    pub ok: bool,
    blocks: Vec<Block>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Plain,
    Mono,
    Pass,
    Fail,
    Note,
}

#[derive(Debug, Clone, PartialEq)]
struct Cell {
    text: String,
    tone: Tone,
}

fn cell(text: impl Into<String>) -> Cell {
    Cell { text: text.into(), tone: Tone::Plain }
}

fn mono(text: impl Into<String>) -> Cell {
    Cell { text: text.into(), tone: Tone::Mono }
}

fn verdict_cell(ok: bool) -> Cell {
    if ok {
        Cell { text: "通过\nPASS".into(), tone: Tone::Pass }
    } else {
        Cell { text: "未通过\nFAIL".into(), tone: Tone::Fail }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Block {
    Title(String),
    Heading(String),
    Para(String),
    Note(String),
    Verdict(bool, String),
    /// Column widths (fractions of the text width), header (empty: a field list), rows.
    Table(Vec<f32>, Vec<String>, Vec<Vec<Cell>>),
}

/// The text of the verdict (Chinese, then English), as both formats print it.
pub fn verdict_text(report: &Report) -> String {
    let n = report.checks.len();
    if report.ok {
        format!(
            "核验结论：通过。全部 {n} 项核验通过：记录自签名后未被改动，并已包含于日志。\nVERDICT: PASSED. All {n} \
             checks passed: the records are unchanged since they were signed and are in the log."
        )
    } else {
        let failed = report.failures().count();
        format!(
            "核验结论：未通过。{failed} 项核验未通过（见下文标为“未通过”的项目）；证据包不能作为未被篡改的证据采信。\nVERDICT: \
             FAILED. {failed} of {n} checks did not hold (marked FAIL below); the bundle cannot be relied on as unaltered."
        )
    }
}

/// What each check shows, in a sentence (Chinese, English).
fn meaning(kind: CheckKind) -> (&'static str, &'static str) {
    match kind {
        CheckKind::BundleFormat => (
            "文件为规范格式的证据包，导出后未被改动或重排",
            "the file is a canonical bundle, not altered or re-formatted",
        ),
        CheckKind::LogKey => {
            ("证据包所述日志公钥即核验方信任的公钥", "the bundle names the log key the verifier trusts")
        }
        CheckKind::CheckpointSignature => (
            "检查点（日志在某一时刻的状态）由日志私钥签名",
            "the checkpoint (the log's state) is signed by the log key",
        ),
        CheckKind::KeyId => ("每个密钥标识与其公钥相符", "each key id matches its public key"),
        CheckKind::KeyEnrollment => (
            "每个签名密钥的登记记录在包内，登记了该密钥",
            "each signing key's enrolment record is in the bundle and names it",
        ),
        CheckKind::EnvelopeFormat => ("每条记录格式合法", "each record is a well-formed envelope"),
        CheckKind::SignerKey => ("每条记录的签名密钥在包内", "each record's signing key is in the bundle"),
        CheckKind::Signature => {
            ("电子签名有效：记录自签名后未被改动", "electronic signature valid: unchanged since signing")
        }
        CheckKind::KeyValidity => ("签名时密钥已登记且在有效期内", "signed while the key was enrolled and valid"),
        CheckKind::Inclusion => {
            ("哈希校验：记录位于日志的该位置（Merkle 包含证明）", "hash check: the record is at its index in the log")
        }
        CheckKind::SignerChain => {
            ("同一签名者的相邻记录哈希相连，无删改、无一号两签", "a signer's consecutive records are hash-linked")
        }
        CheckKind::Consistency => {
            ("较新的检查点延续本检查点：日志历史未被改写", "a newer checkpoint extends this one: no rewritten history")
        }
        CheckKind::AttachmentCitation => {
            ("附件清单中的哈希均为签名内容所引用", "every listed attachment digest is cited by the signed payload")
        }
        CheckKind::Attachment => {
            ("附件文件的 SHA-256 与记录引用的哈希一致", "each attachment file's SHA-256 equals the cited digest")
        }
        CheckKind::WitnessCosignature => {
            ("证据包所列见证人均对检查点联署", "every witness the bundle lists cosigned the checkpoint")
        }
        CheckKind::WitnessPolicy => {
            ("核验方指定的见证人中达到门限数量的联署", "enough of the verifier's own witnesses cosigned")
        }
        CheckKind::Timestamp => {
            ("可信时间戳：检查点不晚于时间戳时间已存在", "trusted timestamp: the checkpoint existed by the TSA's time")
        }
    }
}

/// The rows of the court-rule section: the rule, the question it asks a court, the checks that answer it.
const COURT_ROWS: &[(&str, &str, &[CheckKind])] = &[
    (
        "《人民法院在线诉讼规则》第十六条\nOnline Litigation Rules, Art. 16",
        "区块链存储的电子数据上链后推定未经篡改，有相反证据的除外：数据自存储后是否被改动？\nData stored on a blockchain is presumed \
         untampered after storage unless there is contrary evidence: was it changed after it was stored?",
        &[
            CheckKind::BundleFormat,
            CheckKind::CheckpointSignature,
            CheckKind::Signature,
            CheckKind::Inclusion,
            CheckKind::SignerChain,
            CheckKind::Consistency,
        ],
    ),
    (
        "《人民法院在线诉讼规则》第十七条\nOnline Litigation Rules, Art. 17",
        "存证平台是否可能干预数据：平台与当事人的关系、能否单方改写？（平台资质、与当事人的关系须另行证明）\nCould the storage platform \
         interfere (its relation to the parties; could it rewrite alone)? (Its qualifications and relations must be shown \
         separately.)",
        &[CheckKind::WitnessCosignature, CheckKind::WitnessPolicy],
    ),
    (
        "《人民法院在线诉讼规则》第十七条\nOnline Litigation Rules, Art. 17",
        "存证技术手段——哈希：数据与其哈希值是否一致？\nTechnical means — hash: does the data match its hash?",
        &[CheckKind::Inclusion, CheckKind::SignerChain, CheckKind::AttachmentCitation, CheckKind::Attachment],
    ),
    (
        "《人民法院在线诉讼规则》第十七条\nOnline Litigation Rules, Art. 17",
        "存证技术手段——签名：由谁签名、密钥是否有效？\nTechnical means — signature: who signed, was the key valid?",
        &[
            CheckKind::KeyId,
            CheckKind::SignerKey,
            CheckKind::Signature,
            CheckKind::KeyEnrollment,
            CheckKind::KeyValidity,
        ],
    ),
    (
        "《人民法院在线诉讼规则》第十七条\nOnline Litigation Rules, Art. 17",
        "存证技术手段——时间：数据何时已经存在？\nTechnical means — time: since when did the data exist?",
        &[CheckKind::Timestamp],
    ),
    (
        "《最高人民法院关于互联网法院审理案件若干问题的规定》第十一条\nSPC Provisions on Internet Courts, Art. 11",
        "电子签名：能否证明电子数据的真实性？\nElectronic signature: does it authenticate the data?",
        &[CheckKind::Signature, CheckKind::KeyEnrollment, CheckKind::KeyValidity],
    ),
    (
        "《最高人民法院关于互联网法院审理案件若干问题的规定》第十一条\nSPC Provisions on Internet Courts, Art. 11",
        "可信时间戳\nTrusted timestamp",
        &[CheckKind::Timestamp],
    ),
    (
        "《最高人民法院关于互联网法院审理案件若干问题的规定》第十一条\nSPC Provisions on Internet Courts, Art. 11",
        "哈希值校验\nHash verification",
        &[CheckKind::BundleFormat, CheckKind::Inclusion, CheckKind::Attachment],
    ),
    (
        "《最高人民法院关于互联网法院审理案件若干问题的规定》第十一条\nSPC Provisions on Internet Courts, Art. 11",
        "区块链等证据收集、固定和防篡改的技术手段\nBlockchain and other tamper-evident techniques",
        &[
            CheckKind::CheckpointSignature,
            CheckKind::Inclusion,
            CheckKind::Consistency,
            CheckKind::WitnessCosignature,
            CheckKind::WitnessPolicy,
        ],
    ),
];

/// What a valid bundle does not prove (docs/FORMAT.md §7.2 and §10), Chinese then English.
const NOT_PROVEN: &[&str] = &[
    "记录内容是否符合客观事实（传感器是否准确、检查是否如实）：核验只证明记录自签名后未被改动。\nWhether a record is true to the facts \
     (sensor accuracy, an honest inspection): only that it is unchanged since it was signed.",
    "密钥持有人的真实身份：身份来自同一日志中的登记记录；自登记的根密钥是否属于所称机构，须另行核对（如对照公开的根密钥标识）。\nWho really \
     holds a key: identity comes from the enrolment records of the same log; whether a self-enrolled root key belongs to the \
     body named must be checked out of band (e.g. against its published key id).",
    "完整性：证据包只含导出时选定的记录，日志中可能还有相关记录未被选入。\nCompleteness: the bundle holds the records selected at \
     export; the log may hold related records not selected.",
    "事件发生时间：occurred_at 是签名者自己声明的时间；可信时间戳只证明检查点（因而其中的记录）不晚于时间戳时间已存在。\nWhen an \
     event happened: occurred_at is the signer's own statement; a timestamp proves only that the checkpoint, and so the \
     records in it, existed by the TSA's time.",
    "未指定见证人策略时，不能排除日志运营方向不同的人展示不同的历史；未给出时间戳根证书时，时间戳未锚定到可信的时间戳机构；时间戳证书的吊销状态（CRL、OCSP）不检查。\nWithout \
     a witness policy the log operator could show different histories to different people; without a TSA root the \
     tokens are not anchored to a trusted authority; TSA certificate revocation (CRL, OCSP) is not checked.",
    "未随附的附件：记录证明曾有该哈希的文件，但包内没有该文件，无法核对其内容。\nAttachments not included: the record proves a file \
     with that digest existed; the package cannot show it.",
    "存证平台的资质及其与当事人的关系。\nThe storage platform's qualifications and its relation to the parties.",
];

/// Builds the court report of one verification. `bundle` is the exact file verified, `report` what
/// [`crate::bundle::verify_timestamped`] made of it with `trust`. Never panics on any input.
pub fn court_report(bundle: &[u8], report: &Report, trust: &TrustInputs<'_>) -> CourtReport {
    let parsed = Bundle::parse(bundle).ok();
    let mut b = vec![Block::Title("电子数据核验报告\nElectronic evidence verification report".into())];
    b.push(Block::Para(
        "本报告由 SiteLedger 离线核验程序 siteledger-verify 的核验结果生成：下列每一项“通过/未通过”均为该程序的核验结论，报告本身不作另外的判断。\nThis \
         report is generated from the result of SiteLedger's offline verifier, siteledger-verify: every PASS or FAIL below is \
         that program's finding; the report adds no judgement of its own."
            .into(),
    ));
    b.push(Block::Verdict(report.ok, verdict_text(report)));

    // 1. What was verified, against what.
    b.push(Block::Heading("一、核验对象与依据 / What was verified, against what".into()));
    let mut f = vec![
        field("证据包文件\nBundle file", mono(trust.bundle_file)),
        field("文件 SHA-256\nFile SHA-256", mono(hex::encode(Sha256::digest(bundle)))),
        field("文件大小\nSize", cell(format!("{} 字节 bytes", bundle.len()))),
    ];
    if let Some(p) = &parsed {
        f.push(field("格式\nFormat", mono(p.format.clone())));
    }
    f.push(field("信任的日志公钥\nTrusted log key", mono(trust.log_key.vkey())));
    f.push(field("日志公钥指纹\nLog key fingerprint", mono(key_fingerprint(&trust.log_key.vkey()))));
    f.push(field(
        "见证人策略\nWitness policy",
        cell(match trust.policy {
            Some(p) => format!(
                "需 {} / {} 个指定见证人联署\n{} of {} named witnesses must cosign",
                p.threshold(),
                p.witnesses().len(),
                p.threshold(),
                p.witnesses().len()
            ),
            None => "未指定（不检查见证人门限）\nnone given (no witness threshold checked)".into(),
        }),
    ));
    f.push(field(
        "时间戳根证书\nTSA roots",
        match trust.tsa_roots {
            Some(roots) => mono(roots.iter().map(describe_root).collect::<Vec<_>>().join("\n")),
            None => cell("未给出（时间戳未锚定）\nnone given (tokens not anchored)"),
        },
    ));
    f.push(field(
        "附件目录\nAttachments directory",
        match trust.attachments_dir {
            Some(d) => mono(d),
            None => cell("未核对附件文件\nattachment files not checked"),
        },
    ));
    f.push(field("核验程序\nVerifier", mono(format!("siteledger-verify {}", env!("CARGO_PKG_VERSION")))));
    if let Some(t) = trust.verified_at {
        f.push(field("核验时间\nVerified at", mono(t)));
    }
    b.push(fields(f));

    // 2. The checks.
    b.push(Block::Heading("二、核验项目 / The checks".into()));
    let mut kinds: Vec<CheckKind> = Vec::new();
    for c in &report.checks {
        if !kinds.contains(&c.check) {
            kinds.push(c.check);
        }
    }
    let rows = kinds
        .iter()
        .map(|&k| {
            let (passed, failed) = count(report, &[k]);
            let (zh, en) = meaning(k);
            vec![
                cell(format!("{}\n{}", k.zh(), k.en())),
                cell(format!("{zh}\n{en}")),
                cell(format!("{passed} 项通过 passed\n{failed} 项未通过 failed")),
                verdict_cell(failed == 0),
            ]
        })
        .collect();
    b.push(Block::Table(
        vec![0.2, 0.5, 0.17, 0.13],
        vec!["核验项目\nCheck".into(), "证明什么\nWhat it shows".into(), "数量\nCount".into(), "结果\nResult".into()],
        rows,
    ));
    b.push(Block::Para("逐项核验明细（说明为核验程序原文）/ Every check, with the verifier's own detail:".into()));
    let rows = report
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            vec![
                cell((i + 1).to_string()),
                cell(format!("{}\n{}", c.check.zh(), c.check.en())),
                mono(c.subject.clone()),
                verdict_cell(c.ok),
                mono(c.detail.clone()),
            ]
        })
        .collect();
    b.push(Block::Table(
        vec![0.06, 0.17, 0.22, 0.1, 0.45],
        vec![
            "#".into(),
            "核验项目\nCheck".into(),
            "对象\nSubject".into(),
            "结果\nResult".into(),
            "说明\nDetail".into(),
        ],
        rows,
    ));

    // 3. The records.
    b.push(Block::Heading("三、记录 / The records".into()));
    let subjects = parsed.as_ref().map(enrolment_subjects).unwrap_or_default();
    if report.records.is_empty() {
        b.push(Block::Note("没有可读的记录。\nNo readable record.".into()));
    } else {
        let rows = report
            .records
            .iter()
            .map(|r| {
                let who = match subjects.get(&r.signer) {
                    Some((subject, role)) => {
                        let ok = report.checks.iter().any(|c| {
                            c.check == CheckKind::KeyEnrollment && c.ok && c.subject == format!("key {}", r.signer)
                        });
                        let mark = if ok {
                            "登记已核验 enrolment verified"
                        } else {
                            "登记未通过核验 enrolment NOT verified"
                        };
                        format!("{subject} ({role})\n{mark}")
                    }
                    None => "—".into(),
                };
                vec![
                    mono(r.index.to_string()),
                    mono(format!("{}\n{}", r.id, r.kind)),
                    mono(r.stream.clone()),
                    mono(r.occurred_at.clone()),
                    mono(format!("{} seq {}", r.signer, r.seq)),
                    cell(who),
                ]
            })
            .collect();
        b.push(Block::Table(
            vec![0.08, 0.22, 0.17, 0.15, 0.18, 0.2],
            vec![
                "日志序号\nLeaf index".into(),
                "事件标识、类型\nEvent id, kind".into(),
                "流\nStream".into(),
                "发生时间（签名者声明）\noccurred_at (as signed)".into(),
                "签名密钥\nSigner key".into(),
                "密钥登记主体\nEnrolled subject".into(),
            ],
            rows,
        ));
    }

    // 4. Checkpoint and witnesses.
    b.push(Block::Heading("四、检查点与见证人 / Checkpoint and witnesses".into()));
    let mut f = Vec::new();
    f.push(field("日志（检查点来源）\nLog (origin)", mono(report.log_origin.clone().unwrap_or_else(|| "—".into()))));
    f.push(field("树大小\nTree size", mono(report.tree_size.map_or_else(|| "—".into(), |n| n.to_string()))));
    f.push(field("根哈希\nRoot hash", mono(report.root_hash.clone().unwrap_or_else(|| "—".into()))));
    if let Some(n) = report.newer_tree_size {
        f.push(field("较新检查点（一致性已证明）\nNewer checkpoint (consistency proven)", mono(n.to_string())));
    }
    if let Some(p) = &parsed {
        f.push(field("检查点原文\nCheckpoint note", mono(p.checkpoint.trim_end().to_owned())));
    }
    b.push(fields(f));
    b.extend(witness_blocks(parsed.as_ref(), report, trust));

    // 5. Timestamps.
    b.push(Block::Heading("五、可信时间戳 / Trusted timestamps".into()));
    b.extend(timestamp_blocks(parsed.as_ref(), report, trust));

    // 6. Attachments.
    b.push(Block::Heading("六、附件 / Attachments".into()));
    b.extend(attachment_blocks(parsed.as_ref(), report, trust));

    // 7. The court rules.
    b.push(Block::Heading("七、与法院审查要点的对应 / The checks and what a court examines".into()));
    b.push(Block::Note(
        "下列条文要旨是本报告的概括，不是原文引用，以最高人民法院公布的文本为准。本平台是 RFC 9162 Merkle 透明日志（由见证人联署、可信时间戳约束），不是多方共识的区块链；是否按区块链存证对待，由法院认定。\nThe \
         article summaries below are this report's paraphrases, not quotations; the Supreme People's Court's published text \
         governs. The platform is an RFC 9162 Merkle transparency log (bound by witness cosignatures and trusted \
         timestamps), not a consensus blockchain; whether it is treated as blockchain storage is for the court."
            .into(),
    ));
    let rows = COURT_ROWS
        .iter()
        .map(|(rule, question, kinds)| {
            let names = kinds.iter().map(|k| k.zh()).collect::<Vec<_>>().join("、");
            let names_en = kinds.iter().map(|k| k.en()).collect::<Vec<_>>().join(", ");
            let (passed, failed) = count(report, kinds);
            let result = if passed + failed == 0 {
                Cell {
                    text: "未核验（本包或核验输入中没有此项）\nnot checked (nothing of this kind given)".into(),
                    tone: Tone::Note,
                }
            } else if failed == 0 {
                Cell { text: format!("通过（{passed} 项）\nPASS ({passed} checks)"), tone: Tone::Pass }
            } else {
                Cell {
                    text: format!(
                        "未通过（{failed} / {} 项）\nFAIL ({failed} of {})",
                        passed + failed,
                        passed + failed
                    ),
                    tone: Tone::Fail,
                }
            };
            vec![cell(*rule), cell(*question), cell(format!("{names}\n{names_en}")), result]
        })
        .collect();
    b.push(Block::Table(
        vec![0.22, 0.36, 0.24, 0.18],
        vec![
            "规则条款\nRule".into(),
            "法院审查的问题（要旨）\nWhat the court examines (summary)".into(),
            "回答该问题的核验\nChecks answering it".into(),
            "本次结果\nResult here".into(),
        ],
        rows,
    ));

    // 8. What it does not prove.
    b.push(Block::Heading("八、核验不能证明的事项 / What the verification does not prove".into()));
    for (i, s) in NOT_PROVEN.iter().enumerate() {
        b.push(Block::Para(format!("{}. {s}", i + 1)));
    }

    // 9. Re-running it.
    b.push(Block::Heading("九、法院如何自行复核 / How a court re-runs the verification".into()));
    b.push(Block::Para(
        "1. 从日志运营方公开的渠道（GET /v1/log/key）或其他可信来源取得日志公钥，核对其指纹与本报告一致（指纹为公钥字符串的 SHA-256：printf '%s' '公钥' | sha256sum）。\n\
         1. Obtain the log key from the operator's published channel (GET /v1/log/key) or another trusted source and compare \
         its fingerprint with this report's (the SHA-256 of the key string: printf '%s' 'KEY' | sha256sum)."
            .into(),
    ));
    b.push(Block::Para(
        "2. 核对证据包文件的 SHA-256（sha256sum）与本报告一致，然后运行下面的命令；退出码 0 表示全部通过，1 表示有核验未通过。\n2. Check the \
         bundle file's SHA-256 (sha256sum) against this report, then run the command below; exit status 0 means every \
         check passed, 1 that some check failed."
            .into(),
    ));
    b.push(Block::Table(vec![1.0], Vec::new(), vec![vec![mono(rerun_command(trust))]]));
    b.push(Block::Para(
        "3. siteledger-verify 由 SiteLedger 源代码构建（cargo build -p siteledger-signer --bin siteledger-verify），不联网、不读数据库；格式规范 docs/FORMAT.md 足以独立实现另一个核验程序。\n3. \
         siteledger-verify is built from the SiteLedger sources (cargo build -p siteledger-signer --bin siteledger-verify) \
         and uses no network or database; the format specification, docs/FORMAT.md, suffices to write an independent \
         verifier."
            .into(),
    ));
    CourtReport { ok: report.ok, blocks: b }
}

fn field(name: &str, value: Cell) -> Vec<Cell> {
    vec![cell(name), value]
}

fn fields(rows: Vec<Vec<Cell>>) -> Block {
    Block::Table(vec![0.24, 0.76], Vec::new(), rows)
}

/// (passed, failed) among the report's checks of these kinds.
fn count(report: &Report, kinds: &[CheckKind]) -> (usize, usize) {
    let of = report.checks.iter().filter(|c| kinds.contains(&c.check));
    of.fold((0, 0), |(p, f), c| if c.ok { (p + 1, f) } else { (p, f + 1) })
}

/// The log key's fingerprint as this report prints it: SHA-256 of the key string, hex in groups of eight.
pub fn key_fingerprint(vkey: &str) -> String {
    let h = hex::encode(Sha256::digest(vkey.as_bytes()));
    h.as_bytes().chunks(8).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

fn describe_root(root: &Certificate) -> String {
    let der = der::Encode::to_der(root).unwrap_or_default();
    format!("{}\nSHA-256 {}", root.tbs_certificate().subject(), hex::encode(Sha256::digest(der)))
}

/// Key id → (subject, role) from the bundle's enrolment records named by its keys.
fn enrolment_subjects(bundle: &Bundle) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for k in &bundle.keys {
        let Some(eid) = &k.enrolled_by else { continue };
        let found = bundle.records.iter().find(|r| {
            r.envelope.get("id").and_then(|v| v.as_str()) == Some(eid.as_str())
                && r.envelope.get("kind").and_then(|v| v.as_str()) == Some(KEY_ENROLLED_KIND)
        });
        let payload = found.and_then(|r| r.envelope.get("payload")).and_then(|p| p.as_object());
        if let Some(e) = payload.and_then(|p| KeyEnrollment::from_payload(p).ok())
            && e.key_id == k.key_id
        {
            out.insert(k.key_id.clone(), (e.subject, e.role));
        }
    }
    out
}

fn utc(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

fn witness_blocks(bundle: Option<&Bundle>, report: &Report, trust: &TrustInputs<'_>) -> Vec<Block> {
    let listed: Vec<String> = bundle.and_then(|b| b.witnesses.clone()).unwrap_or_default();
    let named: Vec<&WitnessVerifier> = trust.policy.map(|p| p.witnesses().iter().collect()).unwrap_or_default();
    let mut all: Vec<String> = listed.clone();
    for w in &named {
        if !all.contains(&w.vkey()) {
            all.push(w.vkey());
        }
    }
    let mut out = Vec::new();
    if all.is_empty() {
        out.push(Block::Note(
            "检查点没有见证人联署，核验方也未指定见证人。\nThe checkpoint carries no witness cosignature and the verifier named no witness."
                .into(),
        ));
        return out;
    }
    let rows = all
        .iter()
        .map(|vkey| {
            let parsed = WitnessVerifier::parse(vkey).ok();
            let name = parsed.as_ref().map_or_else(|| "（无法解析 unreadable）".to_owned(), |w| w.name().to_owned());
            let cosig = match (&parsed, bundle) {
                (Some(w), Some(b)) => verify_cosignatures(&b.checkpoint, std::slice::from_ref(w))
                    .ok()
                    .and_then(|found| found.into_iter().next()),
                _ => None,
            };
            let signed = match cosig {
                Some(c) => Cell { text: format!("已联署 cosigned\n{}", utc(c.time)), tone: Tone::Pass },
                None => Cell { text: "未联署 not cosigned".into(), tone: Tone::Fail },
            };
            let yes_no = |b: bool| cell(if b { "是 yes" } else { "否 no" });
            vec![
                cell(name),
                mono(vkey.clone()),
                yes_no(listed.contains(vkey)),
                yes_no(named.iter().any(|w| w.vkey() == *vkey)),
                signed,
            ]
        })
        .collect();
    out.push(Block::Table(
        vec![0.2, 0.38, 0.12, 0.12, 0.18],
        vec![
            "见证人\nWitness".into(),
            "见证人公钥\nWitness key".into(),
            "包内列出\nListed in bundle".into(),
            "核验方指定\nNamed by verifier".into(),
            "联署\nCosignature".into(),
        ],
        rows,
    ));
    let policy = report.checks.iter().find(|c| c.check == CheckKind::WitnessPolicy);
    out.push(match (trust.policy, policy) {
        (Some(p), Some(c)) => Block::Verdict(
            c.ok,
            format!(
                "见证人策略（需 {k} / {n} 个联署）：{}\nWitness policy ({k} of {n}): {}",
                if c.ok { "满足" } else { "不满足" },
                if c.ok { "met" } else { "NOT met" },
                k = p.threshold(),
                n = p.witnesses().len()
            ),
        ),
        _ => Block::Note("核验方未指定见证人策略。\nThe verifier named no witness policy.".into()),
    });
    out
}

fn timestamp_blocks(bundle: Option<&Bundle>, report: &Report, trust: &TrustInputs<'_>) -> Vec<Block> {
    let tokens: Vec<String> = bundle.and_then(|b| b.timestamps.clone()).unwrap_or_default();
    let mut out = Vec::new();
    if tokens.is_empty() {
        let failed = report.checks.iter().any(|c| c.check == CheckKind::Timestamp && !c.ok);
        out.push(if failed {
            Block::Verdict(
                false,
                "核验方给出了时间戳根证书，但证据包没有时间戳。\nThe verifier gave TSA roots, but the bundle carries no timestamp token."
                    .into(),
            )
        } else {
            Block::Note("证据包没有可信时间戳。\nThe bundle carries no timestamp token.".into())
        });
        return out;
    }
    let checkpoint = bundle.map(|b| b.checkpoint.as_str()).unwrap_or_default();
    let rows = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let check = report
                .checks
                .iter()
                .find(|c| c.check == CheckKind::Timestamp && c.subject == format!("timestamp #{i}"));
            let read = B64.decode(t).ok().and_then(|der| verify_token_unanchored(&der, checkpoint).ok());
            let (tsa, gen_time, serial) = match &read {
                Some(v) => (v.tsa.clone(), v.gen_time.clone(), format!("{}\npolicy {}", v.serial, v.policy)),
                None => ("—".into(), "—".into(), "—".into()),
            };
            let chain = match (check, trust.tsa_roots) {
                (Some(c), Some(_)) if c.ok => Cell {
                    text: "是：链接到给定根证书\nyes: chains to the given root".into(),
                    tone: Tone::Pass,
                },
                (Some(c), Some(_)) if !c.ok => Cell { text: "否\nno".into(), tone: Tone::Fail },
                _ => Cell {
                    text: "未检查（未给出根证书）\nnot checked (no root given)".into(), tone: Tone::Note
                },
            };
            let result = match check {
                Some(c) => {
                    let mut v = verdict_cell(c.ok);
                    if !c.ok {
                        v.text = format!("{}\n{}", v.text, c.detail);
                    }
                    v
                }
                None => Cell { text: "未核验\nnot checked".into(), tone: Tone::Fail },
            };
            vec![cell(format!("#{i}")), mono(tsa), mono(gen_time), mono(serial), chain, result]
        })
        .collect();
    out.push(Block::Table(
        vec![0.06, 0.26, 0.16, 0.2, 0.16, 0.16],
        vec![
            "#".into(),
            "时间戳机构（证书主体）\nTSA (certificate subject)".into(),
            "时间戳时间\ngenTime".into(),
            "序列号\nSerial".into(),
            "链至可信根\nChains to root".into(),
            "结果\nResult".into(),
        ],
        rows,
    ));
    out
}

fn attachment_blocks(bundle: Option<&Bundle>, report: &Report, trust: &TrustInputs<'_>) -> Vec<Block> {
    let mut rows = Vec::new();
    if trust.attachments_dir.is_some() {
        for a in &report.attachments {
            let status = match a.status {
                AttachmentStatus::Verified => Cell { text: "哈希一致\nverified".into(), tone: Tone::Pass },
                AttachmentStatus::Altered => {
                    Cell { text: "哈希不符（被改动）\nALTERED".into(), tone: Tone::Fail }
                }
                AttachmentStatus::Absent => Cell { text: "未随附\nnot included".into(), tone: Tone::Note },
                AttachmentStatus::Uncited => Cell { text: "无记录引用\nNOT CITED".into(), tone: Tone::Fail },
            };
            rows.push(vec![mono(a.sha256.clone()), mono(a.cited_by.join("\n")), status]);
        }
    } else if let Some(b) = bundle {
        for r in &b.records {
            for h in r.attachments.iter().flatten() {
                let id = r.envelope.get("id").and_then(|v| v.as_str()).unwrap_or_default();
                rows.push(vec![
                    mono(h.clone()),
                    mono(format!("#{} {id}", r.index)),
                    Cell {
                        text: "文件未核对（未给出附件目录）\nfile not checked (no directory given)".into(),
                        tone: Tone::Note,
                    },
                ]);
            }
        }
    }
    if rows.is_empty() {
        return vec![Block::Note("记录未引用附件。\nThe records cite no attachment.".into())];
    }
    vec![Block::Table(
        vec![0.42, 0.38, 0.2],
        vec!["SHA-256".into(), "引用记录\nCited by".into(), "状态\nStatus".into()],
        rows,
    )]
}

/// The `siteledger-verify` command line that repeats this verification.
fn rerun_command(trust: &TrustInputs<'_>) -> String {
    let mut s = format!("siteledger-verify {} --log-key '{}'", trust.bundle_file, trust.log_key.vkey());
    if let Some(d) = trust.attachments_dir {
        let _ = write!(s, " --attachments {d}");
    }
    if let Some(p) = trust.policy {
        for w in p.witnesses() {
            let _ = write!(s, " --witness '{}'", w.vkey());
        }
        let _ = write!(s, " --witness-threshold {}", p.threshold());
    }
    if trust.tsa_roots.is_some() {
        let _ = write!(s, " --tsa-root {}", trust.tsa_root_file.unwrap_or("TSA-ROOT.pem"));
    }
    s
}

// ---------------------------------------------------------------------------------------------------------------
// HTML

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Escaped, with line breaks.
fn lines(s: &str) -> String {
    esc(s).replace('\n', "<br>")
}

const CSS: &str = "body{font-family:'Noto Serif CJK SC','Songti SC',SimSun,serif;margin:2em auto;max-width:1100px;\
padding:0 1em;color:#111;line-height:1.5}h1{font-size:1.6em;border-bottom:2px solid #333}h2{font-size:1.2em;\
margin-top:1.6em;border-bottom:1px solid #999}table{border-collapse:collapse;width:100%;margin:.6em 0;font-size:.86em}\
th,td{border:1px solid #bbb;padding:.3em .45em;vertical-align:top;text-align:left}th{background:#eee}\
.mono{font-family:'DejaVu Sans Mono',monospace;word-break:break-all}.pass{color:#0a6b12;font-weight:bold}\
.fail{color:#b00;font-weight:bold}.note{color:#555}.verdict{border:2px solid;padding:.6em 1em;font-weight:bold;\
font-size:1.05em;margin:1em 0}.verdict.ok{border-color:#0a6b12;background:#eef8ee}.verdict.bad{border-color:#b00;\
background:#fbeeee}p.note{font-style:italic}";

impl CourtReport {
    /// The report as one self-contained HTML document (UTF-8).
    pub fn to_html(&self) -> String {
        let mut h = String::new();
        h.push_str("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n");
        h.push_str(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
        );
        h.push_str("<title>电子数据核验报告 / Electronic evidence verification report</title>\n");
        let _ = writeln!(h, "<style>{CSS}</style>\n</head>\n<body>");
        for block in &self.blocks {
            match block {
                Block::Title(t) => {
                    let _ = writeln!(h, "<h1>{}</h1>", lines(t));
                }
                Block::Heading(t) => {
                    let _ = writeln!(h, "<h2>{}</h2>", lines(t));
                }
                Block::Para(t) => {
                    let _ = writeln!(h, "<p>{}</p>", lines(t));
                }
                Block::Note(t) => {
                    let _ = writeln!(h, "<p class=\"note\">{}</p>", lines(t));
                }
                Block::Verdict(ok, t) => {
                    let class = if *ok { "ok" } else { "bad" };
                    let _ = writeln!(h, "<div class=\"verdict {class}\" id=\"verdict\">{}</div>", lines(t));
                }
                Block::Table(_, head, rows) => {
                    h.push_str("<table>\n");
                    if !head.is_empty() {
                        h.push_str("<tr>");
                        for c in head {
                            let _ = write!(h, "<th>{}</th>", lines(c));
                        }
                        h.push_str("</tr>\n");
                    }
                    for row in rows {
                        h.push_str("<tr>");
                        for (i, c) in row.iter().enumerate() {
                            let class = match c.tone {
                                Tone::Plain => "",
                                Tone::Mono => " class=\"mono\"",
                                Tone::Pass => " class=\"pass\"",
                                Tone::Fail => " class=\"fail\"",
                                Tone::Note => " class=\"note\"",
                            };
                            let tag = if head.is_empty() && i == 0 { "th" } else { "td" };
                            let _ = write!(h, "<{tag}{class}>{}</{tag}>", lines(&c.text));
                        }
                        h.push_str("</tr>\n");
                    }
                    h.push_str("</table>\n");
                }
            }
        }
        h.push_str("</body>\n</html>\n");
        h
    }

    /// The report as a PDF 1.7 file (A4).
    pub fn to_pdf(&self) -> Vec<u8> {
        let mut pdf = Pdf::new();
        for block in &self.blocks {
            match block {
                Block::Title(t) => pdf.text_block(t, 15.0, 20.0, Tone::Plain, true, 6.0),
                Block::Heading(t) => {
                    pdf.gap(8.0);
                    pdf.text_block(t, 11.5, 16.0, Tone::Plain, true, 3.0);
                    pdf.rule();
                }
                Block::Para(t) => pdf.text_block(t, 8.5, 12.0, Tone::Plain, false, 4.0),
                Block::Note(t) => pdf.text_block(t, 8.5, 12.0, Tone::Note, false, 4.0),
                Block::Verdict(ok, t) => pdf.verdict(*ok, t),
                Block::Table(widths, head, rows) => pdf.table(widths, head, rows),
            }
        }
        pdf.finish()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// PDF

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 46.0;
const TOP: f32 = PAGE_H - 46.0;
const BOTTOM: f32 = 52.0;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN;

/// A character as the PDF writes it: a BMP character (UCS-2 code) other than a control or surrogate.
fn pdf_char(c: char) -> char {
    match c {
        '\t' => ' ',
        c if c.is_control() => ' ',
        c if (c as u32) > 0xFFFF => '?',
        c => c,
    }
}

/// Advance width in ems: STSong-Light's Latin CIDs 1–95 (U+0020–U+007E) are given 500 units (`/W [1 95 500]`),
/// everything else its default 1000.
fn em(c: char) -> f32 {
    if (' '..='~').contains(&c) { 0.5 } else { 1.0 }
}

/// Greedy line breaking at `max` points: after a space, slash, hyphen or comma and around CJK characters; a run
/// without any (a hex string) is cut where it reaches the margin.
fn wrap(text: &str, size: f32, max: f32) -> Vec<String> {
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut w = 0.0f32;
        let mut brk: Option<(usize, f32)> = None;
        for c in para.chars().map(pdf_char) {
            let cw = em(c) * size;
            while w + cw > max && !line.is_empty() {
                if c == ' ' {
                    break;
                }
                match brk.take() {
                    Some((at, at_w)) if at > 0 && at < line.len() => {
                        let rest = line.split_off(at);
                        out.push(line.trim_end().to_owned());
                        line = rest;
                        w -= at_w;
                    }
                    _ => {
                        out.push(std::mem::take(&mut line).trim_end().to_owned());
                        w = 0.0;
                    }
                }
            }
            if c == ' ' && w + cw > max {
                out.push(std::mem::take(&mut line).trim_end().to_owned());
                w = 0.0;
                brk = None;
                continue;
            }
            if !c.is_ascii() && !line.is_empty() {
                brk = Some((line.len(), w));
            }
            line.push(c);
            w += cw;
            if matches!(c, ' ' | '/' | '-' | ',' | ';') || !c.is_ascii() {
                brk = Some((line.len(), w));
            }
        }
        out.push(line);
    }
    out
}

fn hex_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 4 + 2);
    out.push('<');
    for c in s.chars().map(pdf_char) {
        let _ = write!(out, "{:04X}", c as u32);
    }
    out.push('>');
    out
}

fn rgb(tone: Tone) -> &'static str {
    match tone {
        Tone::Pass => "0 0.42 0.07",
        Tone::Fail => "0.72 0 0",
        Tone::Note => "0.33 0.33 0.33",
        Tone::Plain | Tone::Mono => "0 0 0",
    }
}

struct Pdf {
    pages: Vec<String>,
    page: String,
    y: f32,
}

impl Pdf {
    fn new() -> Pdf {
        Pdf { pages: Vec::new(), page: String::new(), y: TOP }
    }

    fn new_page(&mut self) {
        self.pages.push(std::mem::take(&mut self.page));
        self.y = TOP;
    }

    fn fresh(&self) -> bool {
        self.y >= TOP - 0.5
    }

    fn ensure(&mut self, h: f32) {
        if self.y - h < BOTTOM && !self.fresh() {
            self.new_page();
        }
    }

    fn gap(&mut self, h: f32) {
        if !self.fresh() {
            self.y -= h;
        }
    }

    fn text(&mut self, x: f32, y: f32, size: f32, tone: Tone, bold: bool, s: &str) {
        let style = if bold { format!("2 Tr {:.2} w ", size * 0.025) } else { "0 Tr ".to_owned() };
        let _ = writeln!(
            self.page,
            "BT /F1 {size:.2} Tf {style}{} rg {} RG {x:.2} {y:.2} Td {} Tj ET",
            rgb(tone),
            rgb(tone),
            hex_text(s)
        );
    }

    fn text_block(&mut self, t: &str, size: f32, lh: f32, tone: Tone, bold: bool, after: f32) {
        for l in wrap(t, size, TEXT_W) {
            self.ensure(lh);
            self.y -= lh;
            self.text(MARGIN, self.y + (lh - size) * 0.5, size, tone, bold, &l);
        }
        self.y -= after;
    }

    fn rule(&mut self) {
        let _ = writeln!(
            self.page,
            "0.4 w 0.4 0.4 0.4 RG {MARGIN:.2} {:.2} m {:.2} {:.2} l S",
            self.y + 1.0,
            MARGIN + TEXT_W,
            self.y + 1.0
        );
        self.y -= 4.0;
    }

    fn verdict(&mut self, ok: bool, t: &str) {
        let (size, lh, pad) = (10.0, 14.5, 6.0);
        let ls = wrap(t, size, TEXT_W - 2.0 * pad);
        let h = ls.len() as f32 * lh + 2.0 * pad;
        self.ensure(h + 6.0);
        self.y -= 4.0;
        let (fill, tone) = if ok { ("0.93 0.97 0.93", Tone::Pass) } else { ("0.98 0.93 0.93", Tone::Fail) };
        let _ = writeln!(
            self.page,
            "{fill} rg {} RG 1.2 w {MARGIN:.2} {:.2} {TEXT_W:.2} {h:.2} re B",
            rgb(tone),
            self.y - h
        );
        let mut y = self.y - pad;
        for l in &ls {
            y -= lh;
            self.text(MARGIN + pad, y + (lh - size) * 0.5, size, tone, true, l);
        }
        self.y -= h + 6.0;
    }

    fn table(&mut self, widths: &[f32], head: &[String], rows: &[Vec<Cell>]) {
        let (size, lh, pad) = (7.5, 9.8, 3.0);
        let total: f32 = widths.iter().sum();
        let cols: Vec<f32> = widths.iter().map(|w| w / total * TEXT_W).collect();
        let wrap_row = |cells: Vec<(&str, Tone, bool)>| -> Vec<(Vec<String>, Tone, bool)> {
            cells
                .into_iter()
                .zip(&cols)
                .map(|((t, tone, bold), w)| (wrap(t, size, w - 2.0 * pad), tone, bold))
                .collect()
        };
        let head_cells = if head.is_empty() {
            None
        } else {
            Some(wrap_row(head.iter().map(|h| (h.as_str(), Tone::Plain, true)).collect()))
        };
        let field_list = head.is_empty();
        self.y -= 3.0;
        if let Some(hc) = &head_cells {
            let hh = hc.iter().map(|c| c.0.len()).max().unwrap_or(1) as f32 * lh + 2.0 * pad;
            self.ensure(hh + lh + 2.0 * pad);
            self.row(&cols, hc, true, size, lh, pad);
        }
        for r in rows {
            let cells = wrap_row(
                r.iter()
                    .enumerate()
                    .map(|(i, c)| {
                        (
                            c.text.as_str(),
                            c.tone,
                            c.tone == Tone::Pass || c.tone == Tone::Fail || (field_list && i == 0),
                        )
                    })
                    .collect(),
            );
            let mut cells = cells;
            loop {
                let n = cells.iter().map(|c| c.0.len()).max().unwrap_or(1).max(1);
                let fit = ((self.y - BOTTOM - 2.0 * pad) / lh).floor().max(0.0) as usize;
                if fit < n.min(3) && !self.fresh() {
                    self.new_page();
                    if let Some(hc) = &head_cells {
                        self.row(&cols, hc, true, size, lh, pad);
                    }
                    continue;
                }
                let take = n.min(fit.max(1));
                let rest: Vec<(Vec<String>, Tone, bool)> = cells
                    .iter_mut()
                    .map(|(ls, tone, bold)| {
                        let tail = if ls.len() > take { ls.split_off(take) } else { Vec::new() };
                        (tail, *tone, *bold)
                    })
                    .collect();
                self.row(&cols, &cells, field_list, size, lh, pad);
                if rest.iter().all(|c| c.0.is_empty()) {
                    break;
                }
                cells = rest;
                self.new_page();
                if let Some(hc) = &head_cells {
                    self.row(&cols, hc, true, size, lh, pad);
                }
            }
        }
        self.y -= 5.0;
    }

    /// One row (or the part of a row that fits), shaded when `shade`.
    fn row(&mut self, cols: &[f32], cells: &[(Vec<String>, Tone, bool)], shade: bool, size: f32, lh: f32, pad: f32) {
        let n = cells.iter().map(|c| c.0.len()).max().unwrap_or(1).max(1);
        let h = n as f32 * lh + 2.0 * pad;
        let top = self.y;
        let mut x = MARGIN;
        for (i, ((ls, tone, bold), w)) in cells.iter().zip(cols).enumerate() {
            let fill = if shade && (i == 0 || cells.len() > 2) { "0.93 0.93 0.93 rg " } else { "" };
            let op = if fill.is_empty() { "S" } else { "B" };
            let _ = writeln!(self.page, "{fill}0.3 w 0.6 0.6 0.6 RG {x:.2} {:.2} {w:.2} {h:.2} re {op}", top - h);
            let mut y = top - pad;
            for l in ls {
                y -= lh;
                self.text(x + pad, y + (lh - size) * 0.5 + 0.5, size, *tone, *bold, l);
            }
            x += w;
        }
        self.y -= h;
    }

    fn finish(mut self) -> Vec<u8> {
        if !self.page.is_empty() || self.pages.is_empty() {
            self.pages.push(std::mem::take(&mut self.page));
        }
        let total = self.pages.len();
        let mut contents = Vec::with_capacity(total);
        for (i, p) in self.pages.iter().enumerate() {
            let mut p = p.clone();
            let footer = format!(
                "SiteLedger 电子数据核验报告 Electronic evidence verification report — 第 {} / {total} 页 page {} of {total}",
                i + 1,
                i + 1
            );
            let _ = writeln!(p, "BT /F1 7 Tf 0 Tr 0.4 0.4 0.4 rg {MARGIN:.2} 28 Td {} Tj ET", hex_text(&footer));
            contents.push(p);
        }

        // Objects: 1 catalog, 2 pages, 3 Type0 font, 4 CIDFont, 5 ToUnicode, 6 descriptor, 7 info, then per page
        // its page object and content stream.
        let mut objs: Vec<Vec<u8>> = Vec::new();
        let kids: Vec<String> = (0..total).map(|i| format!("{} 0 R", 8 + 2 * i)).collect();
        objs.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
        objs.push(format!("<< /Type /Pages /Kids [{}] /Count {total} >>", kids.join(" ")).into_bytes());
        objs.push(
            b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [4 0 R] \
              /ToUnicode 5 0 R >>"
                .to_vec(),
        );
        objs.push(
            b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) \
              /Ordering (GB1) /Supplement 4 >> /FontDescriptor 6 0 R /DW 1000 /W [1 95 500] >>"
                .to_vec(),
        );
        objs.push(stream(&to_unicode_cmap()));
        objs.push(
            b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0 \
              /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>"
                .to_vec(),
        );
        let title: String = "电子数据核验报告 / Electronic evidence verification report".encode_utf16().fold(
            String::from("FEFF"),
            |mut s, u| {
                let _ = write!(s, "{u:04X}");
                s
            },
        );
        objs.push(format!("<< /Title <{title}> /Producer (SiteLedger siteledger-signer court report) >>").into_bytes());
        for (i, c) in contents.iter().enumerate() {
            objs.push(
                format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] /Resources << /Font << /F1 3 0 R >> \
                     >> /Contents {} 0 R >>",
                    9 + 2 * i
                )
                .into_bytes(),
            );
            objs.push(stream(c));
        }

        let mut out: Vec<u8> = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
        let mut offsets = Vec::with_capacity(objs.len());
        for (i, o) in objs.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(o);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        let mut x = format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1);
        for o in &offsets {
            let _ = writeln!(x, "{o:010} 00000 n ");
        }
        let id = hex::encode(&Sha256::digest(&out)[..16]);
        let _ = write!(
            x,
            "trailer\n<< /Size {} /Root 1 0 R /Info 7 0 R /ID [<{id}> <{id}>] >>\nstartxref\n{xref}\n%%EOF\n",
            objs.len() + 1
        );
        out.extend_from_slice(x.as_bytes());
        out
    }
}

fn stream(content: &str) -> Vec<u8> {
    let mut o = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    o.extend_from_slice(content.as_bytes());
    o.extend_from_slice(b"\nendstream");
    o
}

/// The `ToUnicode` CMap: every 2-byte code is the UCS-2 code of its character (the surrogate range excluded).
fn to_unicode_cmap() -> String {
    let ranges: Vec<u32> = (0u32..=0xFF).filter(|hi| !(0xD8..=0xDF).contains(hi)).collect();
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo << /Registry (Adobe) \
         /Ordering (UCS) /Supplement 0 >> def\n/CMapName /SiteLedger-UCS2 def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    for chunk in ranges.chunks(100) {
        let _ = writeln!(s, "{} beginbfrange", chunk.len());
        for hi in chunk {
            let _ = writeln!(s, "<{hi:02X}00> <{hi:02X}FF> <{hi:02X}00>");
        }
        s.push_str("endbfrange\n");
    }
    s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_character_and_the_width() {
        let hex = "a".repeat(300);
        let text = format!("核验结论：通过 {hex} and some words, then 中文继续写很多很多字");
        for (size, max) in [(8.0, 100.0), (7.5, 40.0), (10.0, 500.0), (9.0, 5.0)] {
            let ls = wrap(&text, size, max);
            let joined: String = ls.concat().chars().filter(|c| *c != ' ').collect();
            assert_eq!(joined, text.chars().filter(|c| *c != ' ').collect::<String>(), "{size} {max}");
            for l in &ls {
                let w: f32 = l.chars().map(em).sum::<f32>() * size;
                assert!(w <= max.max(size) + 0.01, "{l:?} is {w} wide, max {max}");
            }
        }
    }

    #[test]
    fn html_escapes_and_pdf_hex_encodes() {
        assert_eq!(esc("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
        assert_eq!(hex_text("A中\u{1F600}"), "<00414E2D003F>");
    }
}
