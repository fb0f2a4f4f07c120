//! A real server (the library, port 0, its own data directory of SQLite files) with the demo city's registry and
//! history written through its API, and the real `siteledger` binary run against the same data directory.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use siteledger_api::config::Config;
use siteledger_api::server::RunningServer;
use siteledger_demo::{Demo, DemoConfig};

/// How long a test waits for something that must happen before it fails. Generous on purpose: other builds and
/// test processes may keep every core busy, and every wait is on a condition, so a quiet machine never waits this
/// long. (nextest stops a test after 300 s.)
pub const PATIENCE: Duration = Duration::from_secs(240);

/// The binary under test (this package's).
pub const SITELEDGER: &str = env!("CARGO_BIN_EXE_siteledger");

pub struct App {
    pub server: RunningServer,
    pub demo: Demo,
    pub dir: tempfile::TempDir,
}

impl App {
    /// A server in demo mode (so the demo city's root key is trusted) on a fresh data directory, with the demo
    /// city's registry and history in its log.
    pub async fn setup() -> App {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            log_origin: "cli-test.siteledger.example/log".into(),
            checkpoint_interval_ms: 50,
            demo: true,
            ..Config::default()
        };
        let server = siteledger_api::server::spawn(config).await.expect("server starts");
        let demo = Demo::setup(server.state.clone(), server.addr, server.shutdown_signal(), DemoConfig::default())
            .await
            .expect("the demo city is set up");
        assert!(demo.failures().is_empty(), "{:?}", demo.failures());
        App { server, demo, dir }
    }

    /// Waits until the read models have applied everything the log holds now.
    pub async fn settle(&self) {
        let head = self.server.state.ledger.head();
        let mut applied = self.server.state.read.watch_applied();
        // (The borrow `wait_for` returns holds the channel's lock: drop it at once.)
        let caught_up = tokio::time::timeout(PATIENCE, applied.wait_for(|a| *a >= head)).await.map(|r| r.is_ok());
        assert_eq!(caught_up, Ok(true), "the read models did not catch up with the log's first {head} records");
    }
}

/// Runs `siteledger ARGS --data-dir DIR` to completion on a blocking thread (the server under test keeps running on
/// the test's runtime meanwhile) and returns its output.
pub async fn siteledger(data_dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(SITELEDGER);
    cmd.args(args).arg("--data-dir").arg(data_dir);
    // Nothing from the environment this test runs in.
    for var in ["SITELEDGER_CONFIG", "SITELEDGER_STORE_URL", "SITELEDGER_READ_URL", "SITELEDGER_AUTH_URL"] {
        cmd.env_remove(var);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("the siteledger binary runs")).await.expect("join")
}

/// Asserts the command succeeded, showing its error output if not; returns its standard output.
pub fn success(what: &str, out: &Output) -> String {
    assert!(out.status.success(), "{what}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}
