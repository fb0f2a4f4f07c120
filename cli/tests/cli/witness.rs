//! `siteledger witness` as a real process: init writes a 0600 key and prints the witness key string, serve answers
//! add-checkpoint over TCP with a cosignature that verifies under that key, and refuses to start on a key file
//! others can read.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use siteledger_signer::SigningKey;
use siteledger_signer::cosignature::{WitnessPolicy, WitnessVerifier};
use siteledger_signer::note::{Checkpoint, NoteSigner};
use siteledger_witness::client::{Outcome, WitnessClient, WitnessEndpoint};

use crate::helpers::SITELEDGER;

#[tokio::test]
async fn witness_process_cosigns_a_log_checkpoint_and_refuses_a_readable_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let key_file = dir.path().join("w.key");
    let out = Command::new(SITELEDGER)
        .args(["witness", "init", "--name", "witness.example/p1", "--key-file"])
        .arg(&key_file)
        .output()
        .expect("run init");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let vkey = String::from_utf8(out.stdout).expect("utf8").trim().to_owned();
    let verifier = WitnessVerifier::parse(&vkey).expect("init prints a witness key string");

    let log = NoteSigner::new("cli-test.siteledger.example/log", SigningKey::from_seed(&[0x61; 32])).expect("log");
    let config = dir.path().join("witness.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"witness.example/p1\"\nkey_file = \"w.key\"\nstate_dir = \"state\"\nlisten = \"127.0.0.1:0\"\n\
             [[log]]\nkey = \"{}\"\n",
            log.verifier().vkey()
        ),
    )
    .expect("config");

    let mut child = Command::new(SITELEDGER)
        .args(["witness", "serve", "--witness-config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    // The first line names the bound address (port 0 was asked for); reading it waits for the server to listen.
    let line = tokio::task::spawn_blocking(move || {
        let mut l = String::new();
        BufReader::new(stdout).read_line(&mut l).map(|_| l)
    })
    .await
    .expect("join")
    .expect("read");
    let addr = line.trim().rsplit(' ').next().expect("addr").to_owned();

    let mut tree = siteledger_signer::MemoryTree::new();
    for i in 0..5u8 {
        tree.push(&[i]);
    }
    let cp = Checkpoint { origin: log.name().into(), size: 5, root: tree.root(), extensions: vec![] };
    let note = cp.sign(&log).expect("sign");
    let client = WitnessClient::new(Duration::from_secs(60)).expect("client");
    let endpoint = WitnessEndpoint { url: format!("http://{addr}"), verifier: verifier.clone() };
    let outcome = client.submit(&endpoint, &note, 0, &tree).await;
    let _ = child.kill();
    let _ = child.wait();
    let Outcome::Cosigned(line) = outcome else { panic!("not cosigned: {outcome:?}") };
    WitnessPolicy::new(vec![verifier], 1).expect("policy").check(&format!("{note}{line}")).expect("verifies");

    // A key file readable by others is refused at start-up, with the reason.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let out =
            Command::new(SITELEDGER).args(["witness", "serve", "--witness-config"]).arg(&config).output().expect("run");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("key_file"), "{err}");
    }
}
