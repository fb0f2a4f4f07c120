//! Trusted time (docs/FORMAT.md §10): the server asks its configured TSA for an RFC 3161 token for each new
//! checkpoint over HTTP (`application/timestamp-query`), stores it, and evidence bundles carry it (format v1.3).
//! The TSA is a small HTTP wrapper around Debian's `openssl ts -reply` on real TCP, with a root CA and TSA
//! certificate generated into a temporary directory (no private key is committed).

use std::path::Path;
use std::process::Command;

use siteledger_api::auth::Role;
use siteledger_api::timestamping::TsaTarget;
use siteledger_signer::bundle::{BUNDLE_FORMAT_V1_3, Bundle, CheckKind, verify_timestamped};
use siteledger_signer::timestamp::roots_from_pem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{PATIENCE, TestApp};

const CONFIG: &str = "\
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = .
serial = ./tsaserial
crypto_device = builtin
signer_cert = ./tsa.crt
certs = ./ca.crt
signer_key = ./tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
[ root_ext ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
[ tsa_ext ]
basicConstraints = critical, CA:false
extendedKeyUsage = critical, timeStamping
";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl (scripts/test.sh)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A root CA and a TSA certificate in `dir`.
fn make_tsa(dir: &Path) {
    std::fs::write(dir.join("tsa.cnf"), CONFIG).expect("config");
    std::fs::write(dir.join("tsaserial"), "01\n").expect("serial");
    openssl(dir, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"]);
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "3650",
            "-subj",
            "/CN=Test TSA Root",
            "-config",
            "tsa.cnf",
            "-extensions",
            "root_ext",
        ],
    );
    openssl(dir, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "tsa.key"]);
    openssl(dir, &["req", "-new", "-key", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=Test TSA"]);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "tsa.crt",
            "-days",
            "3650",
            "-extfile",
            "tsa.cnf",
            "-extensions",
            "tsa_ext",
        ],
    );
}

/// Serves `POST` requests on `listener`: the body goes to `openssl ts -reply`, its DER answer back. One request at a
/// time (the serial file is shared).
async fn serve_tsa(listener: tokio::net::TcpListener, dir: std::path::PathBuf) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else { return };
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Read the head, then Content-Length bytes of body.
        let (head_end, len) = loop {
            let n = sock.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break (None, 0);
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                    .unwrap_or(0);
                break (Some(i + 4), len);
            }
        };
        let Some(start) = head_end else { continue };
        while buf.len() < start + len {
            let n = sock.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let query = buf[start..(start + len).min(buf.len())].to_vec();
        let d = dir.clone();
        let reply = tokio::task::spawn_blocking(move || {
            std::fs::write(d.join("q.tsq"), query).expect("query");
            openssl(&d, &["ts", "-reply", "-config", "tsa.cnf", "-queryfile", "q.tsq", "-out", "r.tsr"]);
            std::fs::read(d.join("r.tsr")).expect("reply")
        })
        .await
        .expect("openssl task");
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/timestamp-reply\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            reply.len()
        );
        let _ = sock.write_all(head.as_bytes()).await;
        let _ = sock.write_all(&reply).await;
        let _ = sock.shutdown().await;
    }
}

#[tokio::test]
async fn exported_bundle_carries_the_tsa_token_of_its_checkpoint_and_verifies_offline_with_the_root() {
    let tsa_dir = tempfile::tempdir().expect("tmp");
    make_tsa(tsa_dir.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve_tsa(listener, tsa_dir.path().to_path_buf()));
    let root = tsa_dir.path().join("ca.crt");
    let targets = vec![TsaTarget { url: format!("http://{addr}/tsa"), root: root.clone() }];
    let mut app = TestApp::spawn_with(|c| c.tsas = targets).await;
    let log_v = app.server.state.ledger.log_verifier().clone();

    let enrollment = app.root_enrollment();
    let positions = app.ingest_ok(&[enrollment]).await;
    let token = app.token(Role::City, None).await;
    let id = app.server.state.ledger.read_all(positions[0], 1).await.expect("read")[0].event_id.to_string();
    // Wait (on the exported bundle itself) until the checkpoint it proves into has been time-stamped.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let bytes = loop {
        let resp = app
            .client
            .post(app.url("/v1/evidence/export"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"event_ids": [id]}))
            .send()
            .await
            .expect("export");
        assert_eq!(resp.status(), 200);
        let bytes = resp.bytes().await.expect("bundle");
        if Bundle::parse(&bytes).expect("a bundle").format == BUNDLE_FORMAT_V1_3 {
            break bytes;
        }
        assert!(tokio::time::Instant::now() < deadline, "no time-stamped bundle within {PATIENCE:?}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    let roots = roots_from_pem(&std::fs::read(&root).expect("root")).expect("root");
    let report = verify_timestamped(&bytes, &log_v, None, None, Some(&roots));
    assert!(report.ok, "{}", report.to_text());
    assert!(report.checks.iter().any(|c| c.check == CheckKind::Timestamp && c.ok));

    // Another root: the same bundle fails only the timestamp check.
    let other = tempfile::tempdir().expect("tmp");
    make_tsa(other.path());
    let other_roots = roots_from_pem(&std::fs::read(other.path().join("ca.crt")).expect("root")).expect("root");
    let report = verify_timestamped(&bytes, &log_v, None, None, Some(&other_roots));
    assert_eq!(report.failures().map(|c| c.check).collect::<Vec<_>>(), vec![CheckKind::Timestamp]);
}
