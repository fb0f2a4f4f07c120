//! `siteledger-verify`: checks a SiteLedger evidence bundle offline, with nothing but the log's public key.
//!
//! ```text
//! siteledger-verify BUNDLE.json --log-key '<name>+<hex id>+<base64 key>' [--json]
//! siteledger-verify BUNDLE.json --log-key-file log.vkey [--json]
//! siteledger-verify PACKAGE/bundle.json --log-key-file log.vkey --attachments PACKAGE/attachments
//! siteledger-verify BUNDLE.json --log-key-file log.vkey --witness W1 --witness W2 --witness W3 --witness-threshold 2
//! siteledger-verify BUNDLE.json --log-key-file log.vkey --tsa-root TSA-ROOT.pem
//! siteledger-verify BUNDLE.json --log-key-file log.vkey --report-html report.html --report-pdf report.pdf
//! ```
//! With `--report-html FILE` / `--report-pdf FILE` it also writes the court report of this verification
//! (电子数据核验报告, `siteledger_signer::court`: every check, the records, witnesses, timestamps, attachments and the
//! court rules they answer), whatever the verdict.
//! With `--tsa-root FILE` (PEM, one or more root certificates) every RFC 3161 timestamp token of the bundle must
//! chain to one of them, and a bundle without tokens fails (docs/FORMAT.md §10.1).
//! With `--witness VKEY` (repeatable, a cosignature/v1 witness key string, docs/FORMAT.md §9) and
//! `--witness-threshold K` (default: all named), the checkpoint must carry valid cosignatures by at least K of them.
//! With `--attachments DIR` (an evidence package, docs/FORMAT.md §7.3) every file of DIR is hashed and checked
//! against the digest the signed records cite; this file reading is the only I/O of the signer crate.
//! Exit status: 0 every check passed; 1 some check failed (the report names it); 2 the command line or a file
//! could not be read. No network, no database.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use sha2::{Digest, Sha256};
use siteledger_signer::bundle::{report_json, verify_timestamped};
use siteledger_signer::cosignature::{WitnessPolicy, WitnessVerifier};
use siteledger_signer::court::{TrustInputs, court_report};
use siteledger_signer::note::NoteVerifier;
use siteledger_signer::timestamp::roots_from_pem;

const USAGE: &str = "用法 / usage: siteledger-verify BUNDLE.json (--log-key VKEY | --log-key-file FILE) [--attachments DIR]
       [--witness WITNESS_VKEY]... [--witness-threshold K] [--tsa-root ROOT.pem] [--json]
       [--report-html FILE] [--report-pdf FILE]

核验证据包中每条记录的签名（Ed25519 或 SM2/SM3，报告逐一注明签名算法）、签名者哈希链、日志包含证明和检查点签名（日志公钥为 Ed25519 或 SM2）；给出 --attachments 时，逐一核验附件文件的 SHA-256 与记录所引用的哈希是否一致。
Verifies every signature (Ed25519 or SM2 over SM3; the report names each signer's algorithm), signer-chain link,
inclusion proof and the checkpoint signature (Ed25519, or SM2 for a log created with an SM2 key) in an
evidence bundle;
with --attachments, also that every attachment file's SHA-256 equals the digest its signed record cites;
with --witness (见证人), that at least K of the named witnesses cosigned the checkpoint (default: all of them);
with --tsa-root (可信时间戳根证书), that every RFC 3161 timestamp token of the checkpoint chains to that root;
with --report-html / --report-pdf, also writes the court report (电子数据核验报告, Chinese first) of this verification.
退出码 / exit status: 0 全部通过 all checks passed; 1 核验失败 a check failed; 2 用法或文件错误 usage or file error.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("siteledger-verify: {msg}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let mut bundle_path = None;
    let mut vkey = None;
    let mut json = false;
    let mut attachments = None;
    let mut witnesses = Vec::new();
    let mut threshold = None;
    let mut tsa_roots = None;
    let mut tsa_root_file = None;
    let (mut report_html, mut report_pdf) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            "--json" => json = true,
            "--attachments" => {
                attachments = Some(it.next().ok_or("--attachments needs a directory / 缺少附件目录")?.clone());
            }
            "--witness" => {
                let w = it.next().ok_or("--witness needs a witness key / 缺少见证人公钥")?;
                witnesses.push(WitnessVerifier::parse(w).map_err(|e| format!("witness key / 见证人公钥 {w}: {e}"))?);
            }
            "--witness-threshold" => {
                let k = it.next().ok_or("--witness-threshold needs a number / 缺少见证人门限")?;
                threshold = Some(
                    k.parse::<usize>().map_err(|_| format!("--witness-threshold {k:?} is not a number / 不是数字"))?,
                );
            }
            "--tsa-root" => {
                let p = it.next().ok_or("--tsa-root needs a PEM file / 缺少时间戳根证书文件")?;
                tsa_root_file = Some(p.clone());
                let pem = std::fs::read(p).map_err(|e| format!("cannot read {p} / 无法读取时间戳根证书: {e}"))?;
                tsa_roots = Some(roots_from_pem(&pem).map_err(|e| format!("TSA root / 时间戳根证书 {p}: {e}"))?);
            }
            "--report-html" => {
                report_html = Some(it.next().ok_or("--report-html needs a file / 缺少报告文件路径")?.clone());
            }
            "--report-pdf" => {
                report_pdf = Some(it.next().ok_or("--report-pdf needs a file / 缺少报告文件路径")?.clone());
            }
            "--log-key" => {
                vkey = Some(it.next().ok_or("--log-key needs a value / 缺少日志公钥")?.clone());
            }
            "--log-key-file" => {
                let p = it.next().ok_or("--log-key-file needs a path / 缺少公钥文件路径")?;
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read log key file {p} / 无法读取公钥文件: {e}"))?;
                vkey = Some(text.trim().to_owned());
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s} / 未知选项")),
            s => {
                if bundle_path.replace(s.to_owned()).is_some() {
                    return Err("give exactly one bundle file / 只能指定一个证据包".into());
                }
            }
        }
    }
    let bundle_path = bundle_path.ok_or("missing BUNDLE file / 缺少证据包文件")?;
    let vkey = vkey.ok_or("missing --log-key / 缺少日志公钥")?;
    let verifier = NoteVerifier::parse(&vkey).map_err(|e| format!("log key / 日志公钥: {e}"))?;
    let bytes = std::fs::read(&bundle_path).map_err(|e| format!("cannot read {bundle_path} / 无法读取证据包: {e}"))?;
    let files = attachments.as_deref().map(|d| hash_dir(Path::new(d))).transpose()?;
    let policy = match (witnesses.is_empty(), threshold) {
        (true, None) => None,
        (true, Some(_)) => return Err("--witness-threshold needs --witness / 门限需要见证人".into()),
        (false, k) => {
            let k = k.unwrap_or(witnesses.len());
            Some(WitnessPolicy::new(witnesses, k).map_err(|e| format!("witness policy / 见证人策略: {e}"))?)
        }
    };
    let report = verify_timestamped(&bytes, &verifier, files.as_ref(), policy.as_ref(), tsa_roots.as_deref());
    if report_html.is_some() || report_pdf.is_some() {
        let trust = TrustInputs {
            log_key: &verifier,
            policy: policy.as_ref(),
            tsa_roots: tsa_roots.as_deref(),
            bundle_file: &bundle_path,
            attachments_dir: attachments.as_deref(),
            tsa_root_file: tsa_root_file.as_deref(),
            verified_at: None,
        };
        let court = court_report(&bytes, &report, &trust);
        if let Some(p) = &report_html {
            std::fs::write(p, court.to_html()).map_err(|e| format!("cannot write {p} / 无法写入报告: {e}"))?;
        }
        if let Some(p) = &report_pdf {
            std::fs::write(p, court.to_pdf()).map_err(|e| format!("cannot write {p} / 无法写入报告: {e}"))?;
        }
    }
    if json {
        let text = serde_json::to_string_pretty(&report_json(&report)).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print!("{}", report.to_text());
    }
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The SHA-256 of every file in `dir`, by file name. A subdirectory or an unreadable file is an error (exit 2):
/// a package's attachments directory holds only files named by their digest.
fn hash_dir(dir: &Path) -> Result<BTreeMap<String, [u8; 32]>, String> {
    let shown = dir.display();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read attachments directory {shown} / 无法读取附件目录: {e}"))?;
    let mut out = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read attachments directory {shown} / 无法读取附件目录: {e}"))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_file() {
            return Err(format!(
                "{} is not a file / 不是文件: an attachments directory holds only files",
                path.display()
            ));
        }
        let mut file =
            std::fs::File::open(&path).map_err(|e| format!("cannot read {} / 无法读取附件: {e}", path.display()))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).map_err(|e| format!("cannot read {} / 无法读取附件: {e}", path.display()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        out.insert(name, hasher.finalize().into());
    }
    Ok(out)
}
