//! `siteledger-verify`: checks a SiteLedger evidence bundle offline, with nothing but the log's public key.
//!
//! ```text
//! siteledger-verify BUNDLE.json --log-key '<name>+<hex id>+<base64 key>' [--json]
//! siteledger-verify BUNDLE.json --log-key-file log.vkey [--json]
//! ```
//! Exit status: 0 every check passed; 1 some check failed (the report names it); 2 the command line or a file
//! could not be read. No network, no database.

use std::process::ExitCode;

use siteledger_signer::bundle::{report_json, verify_bundle};
use siteledger_signer::note::NoteVerifier;

const USAGE: &str = "用法 / usage: siteledger-verify BUNDLE.json (--log-key VKEY | --log-key-file FILE) [--json]

核验证据包中每条记录的签名、签名者哈希链、日志包含证明和检查点签名。
Verifies every signature, signer-chain link, inclusion proof and the checkpoint signature in an evidence bundle.
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
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            "--json" => json = true,
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
    let report = verify_bundle(&bytes, &verifier);
    if json {
        let text = serde_json::to_string_pretty(&report_json(&report)).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print!("{}", report.to_text());
    }
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
