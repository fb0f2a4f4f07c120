//! The witness over real TCP on loopback: three witnesses in front of one log (one down, one shown a fork), split
//! views, the spec's status codes, and malformed bodies that must be refused without a panic.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use siteledger_signer::bundle::{BUNDLE_FORMAT_V1_2, CheckKind};
use siteledger_signer::cosignature::{CosignatureError, Cosigner, WitnessPolicy, WitnessVerifier};
use siteledger_signer::note::{Checkpoint, NoteSigner, NoteVerifier};
use siteledger_signer::sample::SampleLog;
use siteledger_signer::{MemoryTree, SigningKey, verify_witnessed};
use siteledger_witness::client::{Outcome, WitnessClient, WitnessEndpoint};
use siteledger_witness::request;
use siteledger_witness::state::StateStore;
use siteledger_witness::{Witness, WitnessError};

const ORIGIN: &str = "siteledger.example/ningbo/log";

fn log_signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, SigningKey::from_seed(&[0x51; 32])).expect("log key")
}

/// A tree of `n` synthetic leaves; `fork_at` changes every leaf from that index on (another history).
fn tree(n: u64, fork_at: Option<u64>) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        let forked = fork_at.is_some_and(|f| i >= f);
        t.push(format!("leaf {i}{}", if forked { " (forked)" } else { "" }).as_bytes());
    }
    t
}

fn signed(t: &MemoryTree, size: u64) -> String {
    let root = t.root_at(size).expect("root");
    Checkpoint { origin: ORIGIN.into(), size, root, extensions: vec![] }.sign(&log_signer()).expect("sign")
}

struct Running {
    url: String,
    witness: Arc<Witness>,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn witness(seed: u8) -> (Witness, tempfile::TempDir) {
    witness_for(seed, log_signer().verifier())
}

fn witness_for(seed: u8, log: NoteVerifier) -> (Witness, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let cosigner = Cosigner::new(&format!("witness.example/w{seed}"), SigningKey::from_seed(&[seed; 32])).expect("w");
    let state = StateStore::open(&dir.path().join("state")).expect("state");
    let clock = Arc::new(move || 1_767_225_600 + u64::from(seed));
    (Witness::new(cosigner, vec![log], state, clock), dir)
}

async fn spawn(seed: u8) -> Running {
    spawn_for(seed, log_signer().verifier()).await
}

async fn spawn_for(seed: u8, log: NoteVerifier) -> Running {
    let (w, dir) = witness_for(seed, log);
    let w = Arc::new(w);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let served = w.clone();
    tokio::spawn(async move {
        let _ = siteledger_witness::server::serve(listener, served, async {
            let _ = rx.await;
        })
        .await;
    });
    Running { url: format!("http://{addr}"), witness: w, _dir: dir, _stop: stop }
}

/// An address nothing listens on: bound, then released.
async fn dead_address() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr")
}

fn endpoint(r: &Running) -> WitnessEndpoint {
    WitnessEndpoint { url: r.url.clone(), verifier: r.witness.verifier() }
}

fn client() -> WitnessClient {
    WitnessClient::new(Duration::from_secs(30)).expect("client")
}

#[tokio::test]
async fn two_of_three_witnesses_cosign_while_one_is_down_and_one_refuses_a_fork() {
    // A real log of signed envelopes (16 leaves) and a fork of it that rewrites history from leaf 9.
    let log = SampleLog::new(13).expect("sample log");
    let w1 = spawn_for(1, log.log.verifier()).await;
    let w2 = spawn_for(2, log.log.verifier()).await;
    let w3 = spawn_for(3, log.log.verifier()).await;
    let real = &log.tree;
    let mut forked = MemoryTree::new();
    for e in &log.envelopes[..9] {
        forked.push(e.leaf_bytes());
    }
    forked.push(b"a record the log later denies");
    forked.push(b"another");
    forked.push(b"and another");
    let c = client();

    // Every witness cosigns the first checkpoint (they have seen nothing: old size 0).
    let first = log.checkpoint(10).expect("checkpoint");
    let all = [endpoint(&w1), endpoint(&w2), endpoint(&w3)];
    let (cosigned10, out) = c.cosign_all(&all, &first, |_| 0, real).await;
    assert!(out.iter().all(|o| matches!(o, Outcome::Cosigned(_))), "{out:?}");
    let policy3 = WitnessPolicy::new(all.iter().map(|e| e.verifier.clone()).collect(), 3).expect("policy");
    policy3.check(&cosigned10).expect("3 of 3 on the first checkpoint");

    // The log shows w2 a fork of size 12: inconsistent with the 10 it cosigned, refused (422), not recorded.
    let root = forked.root_at(12).expect("root");
    let fork =
        Checkpoint { origin: log.log.name().into(), size: 12, root, extensions: vec![] }.sign(&log.log).expect("s");
    let refused = c.submit(&endpoint(&w2), &fork, 10, &forked).await;
    assert!(matches!(refused, Outcome::Refused { status: 422, .. }), "{refused:?}");

    // w3 goes down. The next real checkpoint is cosigned by w1 and w2 (w2 still holds the real 10); w3's absence
    // does not block the others.
    let down = WitnessEndpoint { url: format!("http://{}", dead_address().await), verifier: w3.witness.verifier() };
    drop(w3);
    let second = log.checkpoint(16).expect("checkpoint");
    let endpoints = [endpoint(&w1), endpoint(&w2), down];
    // The log does not track what each witness holds: it starts from 0 and learns the size from the 409.
    let (cosigned16, out) = c.cosign_all(&endpoints, &second, |_| 0, real).await;
    assert!(matches!(out[0], Outcome::Cosigned(_)), "{out:?}");
    assert!(matches!(out[1], Outcome::Cosigned(_)), "{out:?}");
    assert!(matches!(out[2], Outcome::Unreachable(_)), "{out:?}");

    // An evidence bundle (v1.2) proven into the cosigned checkpoint verifies under 2 of 3, not under 3 of 3.
    let mut bundle = log.bundle(&[5, 9], 16, None).expect("bundle");
    bundle.checkpoint = cosigned16.clone();
    bundle.format = BUNDLE_FORMAT_V1_2.into();
    bundle.witnesses = Some(vec![w1.witness.verifier().vkey(), w2.witness.verifier().vkey()]);
    let bytes = bundle.to_bytes();
    let vs: Vec<WitnessVerifier> = endpoints.iter().map(|e| e.verifier.clone()).collect();
    let two = WitnessPolicy::new(vs.clone(), 2).expect("2 of 3");
    let report = verify_witnessed(&bytes, &log.log.verifier(), None, Some(&two));
    assert!(report.ok, "{}", report.to_text());
    let three = WitnessPolicy::new(vs, 3).expect("3 of 3");
    let report = verify_witnessed(&bytes, &log.log.verifier(), None, Some(&three));
    let failed: Vec<CheckKind> = report.failures().map(|c| c.check).collect();
    assert_eq!(failed, vec![CheckKind::WitnessPolicy], "{}", report.to_text());
    assert_eq!(three.check(&cosigned16).map(|v| v.len()), Err(CosignatureError::BelowThreshold { got: 2, need: 3 }));
}

#[tokio::test]
async fn split_view_same_size_other_root_is_refused_by_a_witness_that_saw_the_first() {
    let a = spawn(4).await;
    let b = spawn(5).await;
    let real = tree(12, None);
    let other = tree(12, Some(5));
    let c = client();
    // Each witness alone accepts its view: a split view cannot be seen by one witness in isolation.
    assert!(matches!(c.submit(&endpoint(&a), &signed(&real, 12), 0, &real).await, Outcome::Cosigned(_)));
    assert!(matches!(c.submit(&endpoint(&b), &signed(&other, 12), 0, &other).await, Outcome::Cosigned(_)));
    // Shown the other view of the same size, witness a refuses it: 409 with its size, as the spec says.
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/add-checkpoint", a.url))
        .body(request::encode(12, &[], &signed(&other, 12)))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 409);
    assert_eq!(resp.headers()["content-type"], "text/x.tlog.size");
    assert_eq!(resp.text().await.expect("body"), "12\n");
    // Through the client too (which would otherwise retry from the witness's size): refused, not cosigned.
    let r = c.submit(&endpoint(&a), &signed(&other, 12), 0, &other).await;
    assert!(matches!(r, Outcome::Refused { status: 409, .. }), "{r:?}");
    // And a larger tree on the other branch is inconsistent with what a saw.
    let other16 = tree(16, Some(5));
    let r = c.submit(&endpoint(&a), &signed(&other16, 16), 12, &other16).await;
    assert!(matches!(r, Outcome::Refused { status: 422, .. }), "{r:?}");
}

#[tokio::test]
async fn a_log_with_an_sm2_key_is_witnessed_and_its_fork_and_an_ed25519_impostor_are_refused() {
    // docs/FORMAT.md §12: the log signs its checkpoints with SM2; the witness is configured with its SM2 verifier key
    // string (as `[[logs]] key` would carry it) and still cosigns with its own Ed25519 cosignature/v1 key.
    use siteledger_signer::sm2::{DEFAULT_ID, Sm2SigningKey};
    let sm2_log =
        NoteSigner::new(ORIGIN, Sm2SigningKey::from_secret(&[0x52; 32], DEFAULT_ID).expect("sm2")).expect("log");
    let vkey = NoteVerifier::parse(&sm2_log.verifier().vkey()).expect("an SM2 verifier key string parses");
    let w = spawn_for(7, vkey).await;
    let t = tree(12, None);
    let sign = |t: &MemoryTree, size: u64, by: &NoteSigner| {
        Checkpoint { origin: ORIGIN.into(), size, root: t.root_at(size).expect("root"), extensions: vec![] }
            .sign(by)
            .expect("sign")
    };
    let c = client();
    let Outcome::Cosigned(line) = c.submit(&endpoint(&w), &sign(&t, 8, &sm2_log), 0, &t).await else {
        panic!("the SM2-signed checkpoint is cosigned")
    };
    let cosigned = format!("{}{line}", sign(&t, 8, &sm2_log));
    let policy = WitnessPolicy::new(vec![w.witness.verifier()], 1).expect("policy");
    assert_eq!(policy.check(&cosigned).map(|v| v.len()), Ok(1), "the cosignature verifies");
    // The next SM2 checkpoint, consistent, is cosigned from 8.
    assert!(matches!(c.submit(&endpoint(&w), &sign(&t, 12, &sm2_log), 8, &t).await, Outcome::Cosigned(_)));
    // A fork at the same size, SM2-signed by the log itself (a split view): 409 with the witness's size.
    let other = tree(12, Some(3));
    let r = c.submit(&endpoint(&w), &sign(&other, 12, &sm2_log), 0, &other).await;
    assert!(matches!(r, Outcome::Refused { status: 409, .. }), "{r:?}");
    // The same checkpoint signed by an Ed25519 key under the log's name is not the log's: 403.
    let impostor = NoteSigner::new(ORIGIN, SigningKey::from_seed(&[0x52; 32])).expect("k");
    let t16 = tree(16, None);
    let body = request::encode(12, &t16.consistency_proof(12, 16).expect("p"), &sign(&t16, 16, &impostor));
    let resp = reqwest::Client::new().post(format!("{}/add-checkpoint", w.url)).body(body).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 403);
}

#[tokio::test]
async fn statuses_follow_the_spec_and_a_rollback_is_refused() {
    let w = spawn(6).await;
    let t = tree(20, None);
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        let http = http.clone();
        let url = format!("{}/add-checkpoint", w.url);
        async move {
            let r = http.post(url).body(body).send().await.expect("send");
            let status = r.status().as_u16();
            (status, r.text().await.expect("text"))
        }
    };
    let ok = post(request::encode(0, &[], &signed(&t, 8)).into_bytes()).await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    assert!(ok.1.starts_with("\u{2014} witness.example/w6 "), "{}", ok.1);

    // Rollback: a smaller tree, claiming the witness is at 0 → 409 with the witness's size.
    assert_eq!(post(request::encode(0, &[], &signed(&t, 5)).into_bytes()).await, (409, "8\n".into()));
    // Old size above the checkpoint's size → 400.
    assert_eq!(post(request::encode(8, &[], &signed(&t, 5)).into_bytes()).await.0, 400);
    // A wrong consistency proof → 422, and the witness still holds 8.
    let mut proof = t.consistency_proof(8, 20).expect("proof");
    proof[0][0] ^= 1;
    let (s, msg) = post(request::encode(8, &proof, &signed(&t, 20)).into_bytes()).await;
    assert_eq!(s, 422, "{msg}");
    assert!(msg.contains("consistency proof"), "{msg}");
    // An unknown origin → 404; a checkpoint signed by another key under the same origin → 403.
    let stranger = NoteSigner::new("other.example/log", SigningKey::from_seed(&[9; 32])).expect("k");
    let cp = Checkpoint { origin: "other.example/log".into(), size: 20, root: t.root(), extensions: vec![] };
    assert_eq!(post(request::encode(8, &[], &cp.sign(&stranger).expect("s")).into_bytes()).await.0, 404);
    let impostor = NoteSigner::new(ORIGIN, SigningKey::from_seed(&[9; 32])).expect("k");
    let cp = Checkpoint { origin: ORIGIN.into(), ..cp };
    let body = request::encode(8, &t.consistency_proof(8, 20).expect("p"), &cp.sign(&impostor).expect("s"));
    assert_eq!(post(body.into_bytes()).await.0, 403);
    // Bad input over the wire: 400 with a message naming the rule; an oversized body 413.
    let (s, msg) = post(b"old 8\nnot base64!\n\nx".to_vec()).await;
    assert_eq!((s, msg.contains("line 2")), (400, true), "{msg}");
    assert_eq!(post(b"old 99999999999999999999\n\n".to_vec()).await.0, 400);
    assert_eq!(post(vec![b'a'; request::MAX_BODY + 1]).await.0, 413);
    // The real next checkpoint is still cosigned from 8: none of the refusals moved the state.
    let good = request::encode(8, &t.consistency_proof(8, 20).expect("p"), &signed(&t, 20));
    assert_eq!(post(good.into_bytes()).await.0, 200);
}

#[test]
fn witness_state_survives_a_restart_so_a_rollback_after_restart_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let t = tree(10, None);
    let make = || {
        let cosigner = Cosigner::new("witness.example/w7", SigningKey::from_seed(&[7; 32])).expect("w");
        let state = StateStore::open(dir.path()).expect("state");
        Witness::new(cosigner, vec![log_signer().verifier()], state, Arc::new(|| 1))
    };
    make().add_checkpoint(request::encode(0, &[], &signed(&t, 10)).as_bytes()).expect("cosigns");
    let again = make().add_checkpoint(request::encode(0, &[], &signed(&t, 4)).as_bytes());
    assert!(matches!(again, Err(WitnessError::SizeMismatch { old: 0, size: 10 })), "{again:?}");
}

mod malformed {
    use proptest::prelude::*;

    use super::*;

    /// A witness at size 8 and a valid body taking it to 16.
    fn setup() -> (Witness, tempfile::TempDir, Vec<u8>) {
        let (w, dir) = witness(8);
        let t = tree(16, None);
        w.add_checkpoint(request::encode(0, &[], &signed(&t, 8)).as_bytes()).expect("first");
        let body = request::encode(8, &t.consistency_proof(8, 16).expect("p"), &signed(&t, 16)).into_bytes();
        (w, dir, body)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Truncated, byte-flipped, spliced and random bodies are all refused with an error, never a panic and
        /// never a cosignature (the state stays at 8, so the valid body still succeeds afterwards).
        #[test]
        fn malformed_bodies_are_refused_without_panic(
            cut in 0usize..2000,
            flip in proptest::option::of((0usize..2000, 1u8..=255)),
            junk in proptest::collection::vec(any::<u8>(), 0..64),
            splice in any::<bool>(),
        ) {
            let (w, _dir, valid) = setup();
            let mut body = valid.clone();
            if let Some((at, x)) = flip {
                let at = at % body.len();
                body[at] ^= x;
            }
            if splice {
                let at = cut % body.len();
                body.splice(at..at, junk.iter().copied());
            } else {
                body.truncate(cut % valid.len());
            }
            prop_assume!(body != valid);
            let r = w.add_checkpoint(&body);
            prop_assert!(r.is_err(), "a damaged body was cosigned");
            prop_assert!(r.expect_err("err").status() < 500);
            prop_assert!(w.add_checkpoint(&valid).is_ok(), "the state moved");
        }
    }

    #[test]
    fn huge_sizes_and_too_many_proof_lines_are_refused() {
        let (w, _dir, _) = setup();
        let t = tree(16, None);
        let max = format!("old {}\n\n{}", u64::MAX, signed(&t, 16));
        assert!(matches!(w.add_checkpoint(max.as_bytes()), Err(WitnessError::OldAboveNew { .. })));
        let lines = request::encode(8, &vec![[0u8; 32]; 64], &signed(&t, 16));
        assert!(matches!(
            w.add_checkpoint(lines.as_bytes()),
            Err(WitnessError::Request(request::RequestError::TooManyProofLines))
        ));
        let cp = format!("{ORIGIN}\n18446744073709551616\nAAAA\n\n\u{2014} {ORIGIN} AAAAAAAA\n");
        let r = w.add_checkpoint(request::encode(8, &[], &cp).as_bytes());
        assert!(matches!(r, Err(WitnessError::Checkpoint(_))), "{r:?}");
    }
}
