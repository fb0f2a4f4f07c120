//! `siteledger serve --demo` runs the server with the demo city beside it (the server library no longer starts the
//! demo itself): the gateways' readings arrive on the live feed, open to the anonymous demo visitor, and SIGTERM
//! stops the process cleanly.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use futures::StreamExt;
use serde_json::Value;

use crate::helpers::{PATIENCE, SITELEDGER};

/// Kills the child if the test ends early.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_runs_the_server_with_the_demo_city() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(SITELEDGER);
    cmd.args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        // A fast tick for this demo (the variable `serve --demo` reads).
        .env("SITELEDGER_DEMO_TICK_MS", "50")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for var in ["SITELEDGER_CONFIG", "SITELEDGER_STORE_URL", "SITELEDGER_READ_URL", "SITELEDGER_AUTH_URL"] {
        cmd.env_remove(var);
    }
    let mut child = Running(Some(cmd.spawn().expect("siteledger serve starts")));
    let stderr = child.0.as_mut().and_then(|c| c.stderr.take()).expect("stderr");
    let (lines_tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    // The address it bound: "… is running: http://127.0.0.1:PORT/ …".
    let url = tokio::task::spawn_blocking(move || {
        loop {
            let line = lines.recv_timeout(PATIENCE).expect("serve prints where it runs");
            if let Some(rest) = line.split("is running: ").nth(1) {
                break rest.split('/').take(3).collect::<Vec<_>>().join("/");
            }
        }
    })
    .await
    .expect("join");

    // The demo's gateways post; the feed (open to anonymous visitors in demo mode) shows a reading from each.
    let client = reqwest::Client::builder().timeout(PATIENCE).build().expect("client");
    let feed = client.get(format!("{url}/v1/feed?kinds=env.dust_noise.reading.v1&after=0")).send().await.expect("feed");
    assert_eq!(feed.status(), 200);
    let mut body = feed.bytes_stream();
    let mut buf = String::new();
    let mut streams = BTreeSet::new();
    let seen = tokio::time::timeout(PATIENCE, async {
        while streams.len() < 42 {
            let Some(chunk) = body.next().await else { break };
            buf.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                for data in event.lines().filter_map(|l| l.strip_prefix("data:")) {
                    if let Ok(record) = serde_json::from_str::<Value>(data.trim()) {
                        let stream = record["stream"].as_str().unwrap_or_default();
                        if stream.contains("/env/YC-") {
                            streams.insert(stream.to_owned());
                        }
                    }
                }
            }
        }
    })
    .await;
    assert!(seen.is_ok() && streams.len() == 42, "readings from {} of the 42 demo gateways", streams.len());
    drop(body);

    // SIGTERM: a graceful shutdown, exit status 0.
    let pid = child.0.as_ref().map(Child::id).expect("running").to_string();
    let signalled = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(signalled.success());
    let mut process = child.0.take().expect("running");
    let stopped = tokio::time::timeout(PATIENCE, tokio::task::spawn_blocking(move || process.wait())).await;
    let Ok(status) = stopped else {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        panic!("siteledger serve did not stop within {PATIENCE:?} of SIGTERM");
    };
    let status = status.expect("join").expect("wait");
    assert!(status.success(), "{status}");
}
