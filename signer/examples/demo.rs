//! The README's first command until the platform server exists: builds a small signed log, exports an evidence
//! bundle and the log key into `target/demo/`, and verifies the bundle exactly as `siteledger-verify` would.
//!
//! `cargo run -p siteledger-signer --example demo`

use std::path::PathBuf;

use siteledger_signer::note::NoteVerifier;
use siteledger_signer::sample::SampleLog;
use siteledger_signer::verify_bundle;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into())).join("demo");
    std::fs::create_dir_all(&out)?;
    let log = SampleLog::new(100)?;
    let size = log.tree.size();
    let bundle = log.bundle(&[10, 42], size - 20, Some(size))?;
    let bundle_path = out.join("bundle.json");
    std::fs::write(&bundle_path, bundle.to_bytes())?;
    let vkey = log.log.verifier().vkey();
    std::fs::write(out.join("log.vkey"), format!("{vkey}\n"))?;
    std::fs::write(out.join("checkpoint.txt"), log.checkpoint(size)?)?;
    println!("示例日志 / sample log: {size} records; bundle with records 10 and 42 → {}", bundle_path.display());
    println!("日志公钥 / log key: {vkey}\n");
    let report = verify_bundle(&std::fs::read(&bundle_path)?, &NoteVerifier::parse(&vkey)?);
    print!("{}", report.to_text());
    println!(
        "\n离线核验 / verify offline:\n  cargo run -q -p siteledger-signer --bin siteledger-verify -- {} --log-key-file {}",
        bundle_path.display(),
        out.join("log.vkey").display()
    );
    Ok(())
}
