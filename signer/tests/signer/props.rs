//! Property tests: Merkle proofs against the RFC's recursive definition; single-bit tampering of proofs, envelopes,
//! checkpoint notes and evidence bundles is always rejected; batch verification agrees with single verification.

use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::Index;
use siteledger_signer::envelope::Envelope;
use siteledger_signer::keys::{self, BatchItem, PublicKey, SIGNATURE_LEN, SigningKey};
use siteledger_signer::merkle::{self, Hash, MemoryTree, reference_root, verify_consistency, verify_inclusion};
use siteledger_signer::note::Checkpoint;
use siteledger_signer::sample::{SampleLog, SampleSigner};
use siteledger_signer::verify_bundle;

/// The sample log with 20 dust readings (23 records), shared by the tamper properties.
static SAMPLE: LazyLock<SampleLog> = LazyLock::new(|| SampleLog::new(20).expect("sample log"));

/// A tree of `n` leaves whose contents depend on `seed`, with its leaf hashes.
fn tree(n: u64, seed: u64) -> (MemoryTree, Vec<Hash>) {
    let mut t = MemoryTree::new();
    let mut leaves = Vec::with_capacity(n as usize);
    for i in 0..n {
        let mut leaf = [0u8; 16];
        leaf[..8].copy_from_slice(&seed.to_le_bytes());
        leaf[8..].copy_from_slice(&i.to_le_bytes());
        let h = merkle::leaf_hash(&leaf);
        leaves.push(h);
        t.push_hash(h);
    }
    (t, leaves)
}

fn flip(h: &Hash, byte: usize, bit: u8) -> Hash {
    let mut out = *h;
    out[byte % 32] ^= 1 << (bit % 8);
    out
}

/// The three signer keys of the sample log.
fn sample_keys() -> [PublicKey; 3] {
    [
        *SAMPLE.key(SampleSigner::City).public(),
        *SAMPLE.key(SampleSigner::District).public(),
        *SAMPLE.key(SampleSigner::Gateway).public(),
    ]
}

/// True when the tampered leaf bytes are rejected: they do not parse, or no sample key verifies them.
fn envelope_rejected(bytes: &[u8], keys: &[PublicKey]) -> bool {
    match Envelope::parse(bytes) {
        Err(_) => true,
        Ok(env) => keys.iter().all(|k| env.verify(k).is_err()),
    }
}

/// True when the tampered checkpoint note is rejected (invalid UTF-8 counts as rejected).
fn checkpoint_rejected(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Err(_) => true,
        Ok(note) => Checkpoint::open(note, &SAMPLE.log.verifier(), true).is_err(),
    }
}

/// Tree size, a leaf index below it, and an old ≤ new pair of sizes up to it.
fn sizes() -> impl Strategy<Value = (u64, u64, u64, u64, u64)> {
    (1u64..2000, any::<u64>()).prop_flat_map(|(n, seed)| (Just(n), Just(seed), 0..n, 0..=n, 0..=n))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn proofs_verify_and_roots_match_the_reference((n, seed, i, a, b) in sizes()) {
        let (t, leaves) = tree(n, seed);
        let (old, new) = if a <= b { (a, b) } else { (b, a) };
        let root = t.root();
        prop_assert_eq!(root, reference_root(&leaves));
        let old_root = t.root_at(old).expect("old root");
        let new_root = t.root_at(new).expect("new root");
        prop_assert_eq!(old_root, reference_root(&leaves[..old as usize]));
        prop_assert_eq!(new_root, reference_root(&leaves[..new as usize]));

        let proof = t.inclusion_proof(i, n).expect("inclusion proof");
        prop_assert_eq!(verify_inclusion(&leaves[i as usize], i, n, &proof, &root), Ok(()));
        if i < new {
            let proof = t.inclusion_proof(i, new).expect("inclusion proof");
            prop_assert_eq!(verify_inclusion(&leaves[i as usize], i, new, &proof, &new_root), Ok(()));
        }
        let proof = t.consistency_proof(old, new).expect("consistency proof");
        prop_assert_eq!(verify_consistency(old, new, &proof, &old_root, &new_root), Ok(()));
        let proof = t.consistency_proof(old, n).expect("consistency proof");
        prop_assert_eq!(verify_consistency(old, n, &proof, &old_root, &root), Ok(()));
    }

    #[test]
    fn tampered_inclusion_proofs_fail(
        (n, seed, i) in (2u64..2000, any::<u64>()).prop_flat_map(|(n, s)| (Just(n), Just(s), 0..n)),
        at in any::<Index>(),
        byte in 0usize..32,
        bit in 0u8..8,
        extra in any::<[u8; 32]>(),
    ) {
        let (t, leaves) = tree(n, seed);
        let root = t.root();
        let leaf = leaves[i as usize];
        let proof = t.inclusion_proof(i, n).expect("inclusion proof");
        prop_assert!(!proof.is_empty());
        prop_assert_eq!(verify_inclusion(&leaf, i, n, &proof, &root), Ok(()));

        let k = at.index(proof.len());
        let mut bad = proof.clone();
        bad[k] = flip(&bad[k], byte, bit);
        prop_assert!(verify_inclusion(&leaf, i, n, &bad, &root).is_err(), "flipped proof hash {}", k);
        prop_assert!(verify_inclusion(&flip(&leaf, byte, bit), i, n, &proof, &root).is_err(), "flipped leaf");
        prop_assert!(verify_inclusion(&leaf, i, n, &proof, &flip(&root, byte, bit)).is_err(), "flipped root");

        let mut shorter = proof.clone();
        shorter.remove(k);
        prop_assert!(verify_inclusion(&leaf, i, n, &shorter, &root).is_err(), "removed hash {}", k);
        let mut longer = proof.clone();
        longer.insert(at.index(proof.len() + 1), extra);
        prop_assert!(verify_inclusion(&leaf, i, n, &longer, &root).is_err(), "added hash");
    }

    #[test]
    fn tampered_consistency_proofs_fail(
        (n, seed, old, new) in (2u64..2000, any::<u64>())
            .prop_flat_map(|(n, s)| (Just(n), Just(s), 1..n))
            .prop_flat_map(|(n, s, old)| (Just(n), Just(s), Just(old), old + 1..=n)),
        at in any::<Index>(),
        byte in 0usize..32,
        bit in 0u8..8,
        extra in any::<[u8; 32]>(),
    ) {
        let (t, _) = tree(n, seed);
        let old_root = t.root_at(old).expect("old root");
        let new_root = t.root_at(new).expect("new root");
        let proof = t.consistency_proof(old, new).expect("consistency proof");
        prop_assert!(!proof.is_empty());
        prop_assert_eq!(verify_consistency(old, new, &proof, &old_root, &new_root), Ok(()));

        let k = at.index(proof.len());
        let mut bad = proof.clone();
        bad[k] = flip(&bad[k], byte, bit);
        prop_assert!(verify_consistency(old, new, &bad, &old_root, &new_root).is_err(), "flipped proof hash {}", k);
        prop_assert!(verify_consistency(old, new, &proof, &flip(&old_root, byte, bit), &new_root).is_err(), "flipped old root");
        prop_assert!(verify_consistency(old, new, &proof, &old_root, &flip(&new_root, byte, bit)).is_err(), "flipped new root");

        let mut shorter = proof.clone();
        shorter.remove(k);
        prop_assert!(verify_consistency(old, new, &shorter, &old_root, &new_root).is_err(), "removed hash {}", k);
        let mut longer = proof.clone();
        longer.insert(at.index(proof.len() + 1), extra);
        prop_assert!(verify_consistency(old, new, &longer, &old_root, &new_root).is_err(), "added hash");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bit_flip_in_an_envelope_is_rejected(record in any::<Index>(), at in any::<Index>(), bit in 0u8..8) {
        let keys = sample_keys();
        let env = &SAMPLE.envelopes[record.index(SAMPLE.envelopes.len())];
        let signer = keys.iter().find(|k| k.key_id() == env.signer()).expect("sample signer");
        prop_assert_eq!(Envelope::parse(env.leaf_bytes()).expect("parses").verify(signer), Ok(()));
        let mut bytes = env.leaf_bytes().to_vec();
        let pos = at.index(bytes.len());
        bytes[pos] ^= 1 << bit;
        prop_assert!(envelope_rejected(&bytes, &keys), "flip of bit {} at byte {} accepted: {}", bit, pos, String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn any_bit_flip_in_a_checkpoint_note_is_rejected(size in 0u64..=23, at in any::<Index>(), bit in 0u8..8) {
        let note = SAMPLE.checkpoint(size).expect("checkpoint");
        prop_assert!(Checkpoint::open(&note, &SAMPLE.log.verifier(), true).is_ok());
        let mut bytes = note.into_bytes();
        let pos = at.index(bytes.len());
        bytes[pos] ^= 1 << bit;
        prop_assert!(checkpoint_rejected(&bytes), "flip of bit {} at byte {} accepted: {:?}", bit, pos, String::from_utf8_lossy(&bytes));
    }
}

/// Every bit of every byte of one enrollment envelope and one dust reading.
#[test]
fn every_bit_flip_in_two_envelopes_is_rejected() {
    let keys = sample_keys();
    let mut accepted = Vec::new();
    for record in [1usize, 3] {
        let leaf = SAMPLE.envelopes[record].leaf_bytes();
        for pos in 0..leaf.len() {
            for bit in 0..8 {
                let mut bytes = leaf.to_vec();
                bytes[pos] ^= 1 << bit;
                if !envelope_rejected(&bytes, &keys) {
                    accepted.push((record, pos, bit));
                }
            }
        }
    }
    assert!(accepted.is_empty(), "accepted (record, byte, bit) flips: {accepted:?}");
}

/// Every bit of every byte of one checkpoint note.
#[test]
fn every_bit_flip_in_a_checkpoint_note_is_rejected() {
    let note = SAMPLE.checkpoint(15).expect("checkpoint");
    let mut accepted = Vec::new();
    for pos in 0..note.len() {
        for bit in 0..8 {
            let mut bytes = note.clone().into_bytes();
            bytes[pos] ^= 1 << bit;
            if !checkpoint_rejected(&bytes) {
                accepted.push((pos, bit));
            }
        }
    }
    assert!(accepted.is_empty(), "accepted (byte, bit) flips: {accepted:?}");
}

/// The sample evidence bundle, its log verifier, and the flips of `bit_at(position)` at every byte position that
/// the verifier accepted or that left no failed check in the report.
fn bundle_flips(bit_at: impl Fn(usize) -> usize) -> (usize, Vec<String>, Vec<usize>) {
    let log = SampleLog::new(20).expect("sample log");
    let bytes = log.bundle(&[5, 9], 15, Some(23)).expect("bundle").to_bytes();
    let verifier = log.log.verifier();
    let report = verify_bundle(&bytes, &verifier);
    assert!(report.ok, "the untouched bundle verifies: {}", report.to_text());
    let mut accepted = Vec::new();
    let mut silent = Vec::new();
    for pos in 0..bytes.len() {
        let bit = bit_at(pos);
        let mut tampered = bytes.clone();
        tampered[pos] ^= 1 << bit;
        let report = verify_bundle(&tampered, &verifier);
        if report.ok {
            let start = pos.saturating_sub(30);
            let end = (pos + 12).min(bytes.len());
            accepted.push(format!(
                "byte {pos} bit {bit}: …{}… became …{}…",
                String::from_utf8_lossy(&bytes[start..end]),
                String::from_utf8_lossy(&tampered[start..end])
            ));
        }
        if report.failures().next().is_none() {
            silent.push(pos);
        }
    }
    (bytes.len(), accepted, silent)
}

/// Exhaustive over byte positions: flipping one bit (bit = position mod 8) anywhere in an evidence bundle must
/// make the verifier fail, and the report must name a failed check.
#[test]
fn every_byte_of_an_evidence_bundle_is_tamper_evident() {
    let (len, accepted, silent) = bundle_flips(|pos| pos % 8);
    assert!(accepted.is_empty(), "{} of {len} single-bit flips verified:\n{}", accepted.len(), accepted.join("\n"));
    assert!(silent.is_empty(), "reports without a failed check at bytes {silent:?}");
}

/// Exhaustive over byte positions with bit 5, the ASCII case bit: hex and UUID text must not be case-insensitive
/// anywhere in a bundle, or a changed file still verifies. (The position-mod-8 schedule above never flips bit 5 of
/// the `enrolled_by` letters of the sample bundle, so it cannot see this class on its own.)
#[test]
fn case_flips_anywhere_in_an_evidence_bundle_are_rejected() {
    let (len, accepted, silent) = bundle_flips(|_| 5);
    assert!(accepted.is_empty(), "{} of {len} case flips verified:\n{}", accepted.len(), accepted.join("\n"));
    assert!(silent.is_empty(), "reports without a failed check at bytes {silent:?}");
}

/// A corruption of one batch item: flip a bit of the signature or of the message.
#[derive(Debug, Clone)]
enum Corruption {
    Signature(Index, u8),
    Message(Index, u8),
}

fn corruption() -> impl Strategy<Value = Option<Corruption>> {
    prop::option::weighted(
        0.3,
        prop_oneof![
            (any::<Index>(), 0u8..8).prop_map(|(i, b)| Corruption::Signature(i, b)),
            (any::<Index>(), 0u8..8).prop_map(|(i, b)| Corruption::Message(i, b)),
        ],
    )
}

static BATCH_KEYS: LazyLock<Vec<SigningKey>> =
    LazyLock::new(|| (1..=4u8).map(|i| SigningKey::from_seed(&[i; 32])).collect());

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batch_and_single_verdicts_agree(
        items in prop::collection::vec((0usize..4, prop::collection::vec(any::<u8>(), 0..300), corruption()), 1..40)
    ) {
        let mut owned: Vec<(usize, Vec<u8>, [u8; SIGNATURE_LEN])> = Vec::new();
        let mut corrupted = Vec::new();
        for (key, mut message, corrupt) in items {
            corrupted.push(corrupt.is_some());
            let mut sig = BATCH_KEYS[key].sign(&message);
            match corrupt {
                None => {}
                Some(Corruption::Message(i, bit)) if !message.is_empty() => {
                    let pos = i.index(message.len());
                    message[pos] ^= 1 << bit;
                }
                Some(Corruption::Signature(i, bit) | Corruption::Message(i, bit)) => {
                    sig[i.index(SIGNATURE_LEN)] ^= 1 << bit;
                }
            }
            owned.push((key, message, sig));
        }
        let batch: Vec<BatchItem<'_>> = owned
            .iter()
            .map(|(k, m, s)| BatchItem { key: BATCH_KEYS[*k].public(), message: m, signature: s })
            .collect();
        let single: Vec<_> = batch.iter().map(|b| b.key.verify(b.message, b.signature)).collect();
        let verdicts: Vec<bool> = single.iter().map(Result::is_err).collect();
        prop_assert_eq!(verdicts, corrupted, "every corrupted item, and only those, is rejected");
        prop_assert_eq!(keys::verify_batch(&batch), single);
    }
}
