//! C2SP tlog-cosignature/v1 with Ed25519: a witness's statement that a checkpoint is consistent with every
//! checkpoint of that log it saw before (docs/FORMAT.md §9, <https://c2sp.org/tlog-cosignature>).
//!
//! A cosignature is one more signed-note signature line on the log's checkpoint:
//! `— <witness name> base64(key id (4) ‖ timestamp (8, big-endian) ‖ Ed25519 signature (64))`. The key id is
//! `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[0:4]` (key type 0x04, so a log key never verifies as a witness key),
//! and the signed message is `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint text. Old verifiers
//! and Go's `sumdb/note` ignore these lines as signatures by unknown keys; [`WitnessPolicy`] checks `k` of `n` named
//! witnesses.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use crate::keys::{PublicKey, SigningKey};
use crate::note::{self, NoteError, SIG_PREFIX, SignatureLine, check_name};

/// The signed-note key type of Ed25519 cosignature/v1 keys.
pub const COSIGNATURE_V1_TYPE: u8 = 0x04;
/// The domain-separation header line of the signed message.
pub const HEADER: &str = "cosignature/v1\n";
/// `4 + 8 + 64`: key id, timestamp, signature.
const BLOB_LEN: usize = 76;

/// Why a cosignature, a witness key or a witness policy is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    /// The witness verifier key string is invalid (the message says how).
    #[error("bad witness key: {0}")]
    Key(String),
    /// The note around the cosignatures is malformed.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// A line names a configured witness and its key id but does not verify: a forged or damaged cosignature.
    #[error("cosignature by witness {0} is invalid")]
    BadSignature(String),
    /// A line by a configured witness is not `key id ‖ timestamp ‖ signature`, or its timestamp exceeds 2^63 − 1.
    #[error("cosignature by witness {witness} is malformed: {reason}")]
    Malformed {
        /// The witness's name.
        witness: String,
        /// What is wrong.
        reason: String,
    },
    /// Fewer valid cosignatures by distinct configured witnesses than the policy needs.
    #[error("{got} of the required {need} witnesses cosigned the checkpoint")]
    BelowThreshold {
        /// Distinct named witnesses whose cosignature verified.
        got: usize,
        /// The policy's threshold.
        need: usize,
    },
    /// The policy itself is unusable (threshold 0 or above the number of witnesses, a witness named twice).
    #[error("bad witness policy: {0}")]
    Policy(String),
    /// The timestamp is above 2^63 − 1, which the spec forbids.
    #[error("cosignature time {0} is out of range")]
    Time(u64),
}

/// The 4-byte key id of a cosignature/v1 key.
pub fn cosignature_key_id(name: &str, public: &PublicKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A, COSIGNATURE_V1_TYPE]);
    h.update(public.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The bytes a witness signs: the header, the time line and the checkpoint text (which ends with its newline).
pub fn signed_message(checkpoint_text: &str, time: u64) -> Vec<u8> {
    format!("{HEADER}time {time}\n{checkpoint_text}").into_bytes()
}

/// A witness as a verifier knows it: name plus Ed25519 public key (key type 0x04).
#[derive(Clone, PartialEq, Eq)]
pub struct WitnessVerifier {
    name: String,
    key: PublicKey,
    id: [u8; 4],
}

impl WitnessVerifier {
    /// Builds a verifier from a name and key.
    pub fn new(name: &str, key: PublicKey) -> Result<WitnessVerifier, CosignatureError> {
        check_name(name).map_err(|e| CosignatureError::Key(e.to_string()))?;
        Ok(WitnessVerifier { name: name.to_owned(), id: cosignature_key_id(name, &key), key })
    }

    /// Parses `<name>+<8 hex>+<base64(0x04 ‖ key)>`, checking that the hex id matches the name and key.
    pub fn parse(vkey: &str) -> Result<WitnessVerifier, CosignatureError> {
        let bad = |s: &str| CosignatureError::Key(s.to_owned());
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected <name>+<8 hex digits>+<base64 key>"));
        };
        let raw = B64.decode(key_b64).map_err(|e| CosignatureError::Key(format!("key is not base64: {e}")))?;
        if raw.first() == Some(&0x01) {
            return Err(bad("this is a log (note) key, type 0x01; a witness key has type 0x04 (cosignature/v1)"));
        }
        if raw.len() != 33 || raw[0] != COSIGNATURE_V1_TYPE {
            return Err(bad("only cosignature/v1 Ed25519 keys (type byte 0x04, 32 key bytes) are supported"));
        }
        let mut kb = [0u8; 32];
        kb.copy_from_slice(&raw[1..]);
        let key = PublicKey::from_bytes(&kb).map_err(|e| CosignatureError::Key(e.to_string()))?;
        let v = WitnessVerifier::new(name, key)?;
        if id_hex.len() != 8 || hex::encode(v.id) != id_hex {
            return Err(bad("key id does not match the name and key"));
        }
        Ok(v)
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The public key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }
    /// The 4-byte key id.
    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }
    /// The verifier key string `<name>+<hex id>+<base64(0x04 ‖ key)>`.
    pub fn vkey(&self) -> String {
        let mut raw = vec![COSIGNATURE_V1_TYPE];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(self.id), B64.encode(raw))
    }

    /// Whether a signature line claims to be by this witness (name and key id both match).
    fn claims(&self, line: &SignatureLine<'_>) -> bool {
        line.name == self.name && line.blob[..4] == self.id
    }

    /// Verifies a claimed line's blob over `text`; answers the cosignature's time.
    fn verify_blob(&self, text: &str, blob: &[u8]) -> Result<u64, CosignatureError> {
        if blob.len() != BLOB_LEN {
            return Err(CosignatureError::Malformed {
                witness: self.name.clone(),
                reason: format!("{} bytes after base64, expected {BLOB_LEN}", blob.len()),
            });
        }
        let mut tb = [0u8; 8];
        tb.copy_from_slice(&blob[4..12]);
        let time = u64::from_be_bytes(tb);
        if time > i64::MAX as u64 {
            return Err(CosignatureError::Malformed {
                witness: self.name.clone(),
                reason: format!("timestamp {time} exceeds 2^63 - 1"),
            });
        }
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&blob[12..]);
        self.key
            .verify(&signed_message(text, time), &sig)
            .map_err(|_| CosignatureError::BadSignature(self.name.clone()))?;
        Ok(time)
    }
}

impl fmt::Debug for WitnessVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.vkey())
    }
}

/// A witness's signing side: name plus Ed25519 private key. Debug shows the public half only.
pub struct Cosigner {
    name: String,
    key: SigningKey,
    id: [u8; 4],
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cosigner").field("vkey", &self.verifier().vkey()).finish_non_exhaustive()
    }
}

impl Cosigner {
    /// Builds a cosigner.
    pub fn new(name: &str, key: SigningKey) -> Result<Cosigner, CosignatureError> {
        check_name(name).map_err(|e| CosignatureError::Key(e.to_string()))?;
        let id = cosignature_key_id(name, key.public());
        Ok(Cosigner { name: name.to_owned(), key, id })
    }
    /// The matching verifier.
    pub fn verifier(&self) -> WitnessVerifier {
        WitnessVerifier { name: self.name.clone(), key: *self.key.public(), id: self.id }
    }
    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cosignature line (`— <name> <base64>\n`) over a checkpoint text at `time` (POSIX seconds). The caller
    /// has verified the checkpoint: signing is the statement that it is consistent with all this witness saw.
    pub fn cosign(&self, checkpoint_text: &str, time: u64) -> Result<String, CosignatureError> {
        if time > i64::MAX as u64 {
            return Err(CosignatureError::Time(time));
        }
        let sig = self.key.sign(&signed_message(checkpoint_text, time));
        let mut blob = Vec::with_capacity(BLOB_LEN);
        blob.extend_from_slice(&self.id);
        blob.extend_from_slice(&time.to_be_bytes());
        blob.extend_from_slice(&sig);
        Ok(format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob)))
    }
}

/// A verified cosignature: which witness, at what time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    /// The witness's name.
    pub witness: String,
    /// The witness's verifier key string.
    pub vkey: String,
    /// When the witness cosigned (POSIX seconds, the witness's clock).
    pub time: u64,
}

/// Verifies every line of `note` by one of `witnesses` and answers one [`Cosignature`] per witness that cosigned.
/// Lines by other keys (the log's, unknown witnesses') are ignored, as C2SP says; a line claiming a configured
/// witness's name and key id that does not verify is an error, never silently skipped, and so is a witness twice.
/// The log's own signature is not checked here (open the note with the log key first).
pub fn verify_cosignatures(note: &str, witnesses: &[WitnessVerifier]) -> Result<Vec<Cosignature>, CosignatureError> {
    let (text, lines) = note::split(note)?;
    let mut found: Vec<Cosignature> = Vec::new();
    for line in &lines {
        let Some(w) = witnesses.iter().find(|w| w.claims(line)) else { continue };
        let time = w.verify_blob(text, &line.blob)?;
        if found.iter().any(|c| c.witness == w.name) {
            return Err(CosignatureError::Malformed {
                witness: w.name.clone(),
                reason: "the witness cosigned twice".into(),
            });
        }
        found.push(Cosignature { witness: w.name.clone(), vkey: w.vkey(), time });
    }
    Ok(found)
}

/// Whether a signature line is by one of `witnesses` (name and key id match): lines a strict reader may accept
/// beside the log's own signature once [`verify_cosignatures`] has checked them.
pub fn is_witness_line(line: &SignatureLine<'_>, witnesses: &[WitnessVerifier]) -> bool {
    witnesses.iter().any(|w| w.claims(line))
}

/// A verifier's trust policy: at least `threshold` of the named witnesses must have cosigned the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessPolicy {
    witnesses: Vec<WitnessVerifier>,
    threshold: usize,
}

impl WitnessPolicy {
    /// Builds a `threshold`-of-`witnesses.len()` policy; refuses a threshold of 0 or above the number of witnesses,
    /// and a witness named twice (two keys under one name would let one witness count twice).
    pub fn new(witnesses: Vec<WitnessVerifier>, threshold: usize) -> Result<WitnessPolicy, CosignatureError> {
        if threshold == 0 || threshold > witnesses.len() {
            return Err(CosignatureError::Policy(format!(
                "threshold {threshold} must be between 1 and the number of witnesses ({})",
                witnesses.len()
            )));
        }
        for (i, w) in witnesses.iter().enumerate() {
            if witnesses[..i].iter().any(|o| o.name == w.name || o.key == w.key) {
                return Err(CosignatureError::Policy(format!("witness {} is named twice", w.name)));
            }
        }
        Ok(WitnessPolicy { witnesses, threshold })
    }
    /// The named witnesses.
    pub fn witnesses(&self) -> &[WitnessVerifier] {
        &self.witnesses
    }
    /// How many must cosign.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// Checks the note's cosignatures against the policy; answers the valid ones when at least `threshold` verify.
    pub fn check(&self, note: &str) -> Result<Vec<Cosignature>, CosignatureError> {
        let found = verify_cosignatures(note, &self.witnesses)?;
        if found.len() < self.threshold {
            return Err(CosignatureError::BelowThreshold { got: found.len(), need: self.threshold });
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::{Checkpoint, NoteSigner};

    fn setup() -> (String, Checkpoint, Vec<Cosigner>) {
        let log = NoteSigner::new("example.com/log", SigningKey::from_seed(&[1; 32])).expect("log");
        let cp = Checkpoint { origin: "example.com/log".into(), size: 5, root: [9; 32], extensions: vec![] };
        let witnesses = (0..3u8)
            .map(|i| Cosigner::new(&format!("w{i}.example"), SigningKey::from_seed(&[10 + i; 32])).expect("w"))
            .collect();
        (cp.sign(&log).expect("sign"), cp, witnesses)
    }

    #[test]
    fn cosigned_note_still_opens_with_the_log_key_and_meets_a_threshold() {
        let (note, cp, w) = setup();
        let text = cp.to_text();
        let cosigned =
            format!("{note}{}{}", w[0].cosign(&text, 100).expect("cosign"), w[1].cosign(&text, 101).expect("cosign"));
        let vs: Vec<WitnessVerifier> =
            w.iter().map(|c| WitnessVerifier::parse(&c.verifier().vkey()).expect("vkey round trips")).collect();
        let got = WitnessPolicy::new(vs.clone(), 2).expect("policy").check(&cosigned).expect("2 of 3");
        assert_eq!(got.iter().map(|c| c.time).collect::<Vec<_>>(), vec![100, 101]);
        assert_eq!(
            WitnessPolicy::new(vs.clone(), 3).expect("policy").check(&cosigned),
            Err(CosignatureError::BelowThreshold { got: 2, need: 3 })
        );
        // A cosignature moved to another checkpoint no longer verifies.
        let other = Checkpoint { size: 6, ..cp.clone() }.to_text();
        let forged = format!("{note}{}", w[0].cosign(&other, 100).expect("cosign"));
        assert_eq!(verify_cosignatures(&forged, &vs), Err(CosignatureError::BadSignature("w0.example".into())));
    }

    #[test]
    fn a_log_key_string_is_not_a_witness_key() {
        let log = NoteSigner::new("example.com/log", SigningKey::from_seed(&[1; 32])).expect("log");
        assert!(matches!(WitnessVerifier::parse(&log.verifier().vkey()), Err(CosignatureError::Key(_))));
    }

    #[test]
    fn a_witness_counted_twice_under_two_names_is_refused() {
        let k = SigningKey::from_seed(&[3; 32]);
        let a = WitnessVerifier::new("a", *k.public()).expect("a");
        let b = WitnessVerifier::new("b", *k.public()).expect("b");
        assert!(matches!(WitnessPolicy::new(vec![a, b], 2), Err(CosignatureError::Policy(_))));
    }
}
