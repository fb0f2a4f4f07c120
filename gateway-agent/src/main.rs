//! `gateway-agent`: the on-site collector. The protocol core lives in the library ([`siteledger_gateway_agent`]);
//! the network service, signing and store-and-forward land with the rest of the site-IoT issue.
//!
//! For now one offline command: `gateway-agent check FILE…` runs captured HJ 212 bytes (`-` for stdin) through the
//! framer and parser and prints one verdict per frame; exit status 0 when everything was accepted, 1 when something
//! was rejected, 2 on a usage or read error.

use std::io::Read;
use std::process::ExitCode;

use siteledger_gateway_agent::hj212::{Decoder, Scanned, data_response, scan};

const USAGE: &str = "usage: gateway-agent check FILE...   (HJ 212-2017 capture; `-` reads stdin)

Runs the bytes through the HJ 212 framer and packet parser and prints one line per frame:
  OK   <range> CN=<cn> QN=<qn> MN=<mn> [deviations] [+9014]
  BAD  <range> <reason>
The TCP service, signing and store-and-forward are not built yet; see gateway-agent/README.md.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((command, files)) if command == "check" && !files.is_empty() => check(files),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn check(files: &[String]) -> ExitCode {
    let decoder = Decoder::default();
    let mut rejected = false;
    for file in files {
        let bytes = match read(file) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("gateway-agent: {file}: {e}");
                return ExitCode::from(2);
            }
        };
        for item in scan(&decoder, &bytes) {
            let range = item.raw();
            match item {
                Scanned::Packet { packet, .. } => {
                    let deviations: Vec<String> = packet.deviations.iter().map(ToString::to_string).collect();
                    println!(
                        "{file}: OK   {}..{} CN={:04} QN={} MN={}{}{}",
                        range.start,
                        range.end,
                        packet.cn,
                        packet.qn.as_deref().unwrap_or("-"),
                        packet.mn.as_deref().unwrap_or("-"),
                        if deviations.is_empty() { String::new() } else { format!(" [{}]", deviations.join("; ")) },
                        if data_response(&packet).is_some() { " +9014" } else { "" },
                    );
                }
                Scanned::Rejected { error, .. } => {
                    rejected = true;
                    println!("{file}: BAD  {}..{} {error}", range.start, range.end);
                }
            }
        }
    }
    if rejected { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn read(file: &str) -> std::io::Result<Vec<u8>> {
    if file == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes)?;
        Ok(bytes)
    } else {
        std::fs::read(file)
    }
}
