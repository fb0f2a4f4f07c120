//! `ha-drill`: the failover drill of issue 17 (`scripts/ha-drill.sh` runs it). Starts a three-node Patroni cluster
//! in strict synchronous mode, a platform server on it and several writers, runs `--rounds` fault rounds (leader
//! SIGKILL, leader SIGSTOP/SIGCONT, platform server SIGKILL, in turn) and checks the log after each. The last line
//! is `ha drill: ok …` (exit 0) or `ha drill: FAILED …` (exit 1); see `siteledger_e2e::ha`.

use std::process::ExitCode;

use siteledger_e2e::ha::{ChildLauncher, DrillOptions, run_drill, server_child_main};

const USAGE: &str = "usage: ha-drill [--rounds N] [--writers N]";

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve-child") {
        return match server_child_main().await {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ha-drill server child: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let mut options = DrillOptions { rounds: 30, writers: 4 };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = it.next().and_then(|v| v.parse::<usize>().ok());
        match (a.as_str(), value) {
            ("--rounds", Some(n)) if n > 0 => options.rounds = n,
            ("--writers", Some(n)) if (1..=32).contains(&n) => options.writers = n,
            _ => {
                eprintln!("ha-drill: bad argument {a:?}; {USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ha-drill: cannot find its own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let launcher = ChildLauncher { program, args: vec!["--serve-child".into()] };
    match run_drill(launcher, options.clone()).await {
        Ok(report) => {
            for r in &report.refused {
                eprintln!("refused: {r}");
            }
            if !report.findings.lost.is_empty() {
                eprintln!("lost positions: {:?}", report.findings.lost);
            }
            println!("{}", report.line());
            if report.line().starts_with("ha drill: ok") { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            eprintln!("ha-drill: {e:#}");
            println!(
                "ha drill: FAILED rounds=0 failovers=0 acked=0 lost=0 duplicated=0 forks=0 inconsistent=0 \
                 max_unavailable=0.0s (the drill could not run: {e})"
            );
            ExitCode::FAILURE
        }
    }
}
