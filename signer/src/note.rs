//! C2SP signed notes with Ed25519 or SM2 and C2SP tlog-checkpoints (docs/FORMAT.md §6, §12).
//!
//! * <https://c2sp.org/signed-note>: a note is UTF-8 text ending in a newline, a blank line, then signature lines
//!   `— <key name> <base64(4-byte key id ‖ signature)>`. The key id is the first 4 bytes of
//!   SHA-256(name ‖ 0x0A ‖ type ‖ public key); the verifier key string is `<name>+<hex key id>+<base64(type ‖ key)>`.
//!   The type of an Ed25519 key is `0x01`; an SM2 key (format version 1.5, §12) uses the signed-note spec's escape
//!   `0xff` followed by `"sm2"`, and its "public key" is `ENTL_A ‖ ID_A ‖ 04 ‖ x ‖ y` (the identity is part of what
//!   a signature is checked against). Go's `sumdb/note` knows only `0x01`: an SM2-signed checkpoint is for
//!   verifiers that implement §12 (ours, the verify page, the witness).
//! * <https://c2sp.org/tlog-checkpoint>: the note text is `<origin>\n<tree size>\n<base64 root hash>\n` plus
//!   optional extension lines. Compatible with Go's `golang.org/x/mod/sumdb/note` (a CI test proves it).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use crate::keys::{AnySigningKey, EnvelopeSigner, KeyAlgorithm, SignerKey};
use crate::merkle::Hash;
use crate::sm2::Sm2PublicKey;

/// The em dash that starts every signature line.
pub(crate) const SIG_PREFIX: &str = "\u{2014} ";
const ALG_ED25519: u8 = 0x01;

/// Why a note or checkpoint is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The text is not a well-formed note: the message says which rule it breaks.
    #[error("malformed note: {0}")]
    Malformed(String),
    /// No signature line verifies with the given key.
    #[error("no valid signature by key {0}")]
    NotSigned(String),
    /// A signature line names the key but its signature is invalid.
    #[error("signature by key {0} is invalid")]
    BadSignature(String),
    /// A signature line is by a key the caller does not accept.
    #[error("signature by unknown key {0}")]
    UnknownSigner(String),
    /// The checkpoint body is not a valid tlog-checkpoint.
    #[error("malformed checkpoint: {0}")]
    Checkpoint(String),
    /// The verifier key string is invalid.
    #[error("bad verifier key: {0}")]
    Key(String),
}

fn malformed(s: impl Into<String>) -> NoteError {
    NoteError::Malformed(s.into())
}

/// A key name is non-empty UTF-8 without whitespace or `+`.
pub(crate) fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(NoteError::Key(format!("key name {name:?} must be non-empty, without spaces or '+'")));
    }
    Ok(())
}

/// The bytes after the key name and newline in the key-id hash, and after the key name in the verifier key
/// string: the signature type, then the key (Ed25519: `0x01 ‖ key`; SM2: `0xff ‖ "sm2" ‖ ENTL_A ‖ ID_A ‖ point`).
fn typed_key(key: &SignerKey) -> Vec<u8> {
    match key {
        SignerKey::Ed25519(k) => [&[ALG_ED25519][..], k.as_bytes()].concat(),
        SignerKey::Sm2(k) => k.typed_bytes(),
    }
}

/// Reads [`typed_key`]'s bytes back into a checked key.
fn parse_typed_key(raw: &[u8]) -> Result<SignerKey, NoteError> {
    if raw.first() == Some(&ALG_ED25519) {
        return SignerKey::from_parts(KeyAlgorithm::Ed25519, None, &raw[1..])
            .map_err(|e| NoteError::Key(e.to_string()));
    }
    if let Some(rest) = raw.strip_prefix(crate::sm2::TYPE_PREFIX) {
        let [hi, lo, rest @ ..] = rest else {
            return Err(NoteError::Key("an SM2 key lacks its two-byte identity length ENTL_A".into()));
        };
        let bits = usize::from(u16::from_be_bytes([*hi, *lo]));
        if bits % 8 != 0 || rest.len() < bits / 8 {
            return Err(NoteError::Key(format!(
                "an SM2 key's identity length ENTL_A = {bits} bits is not a whole number of bytes within the key"
            )));
        }
        let (id, point) = rest.split_at(bits / 8);
        let id = std::str::from_utf8(id).map_err(|_| NoteError::Key("an SM2 key's identity is not UTF-8".into()))?;
        return Sm2PublicKey::from_bytes(point, id).map(SignerKey::Sm2).map_err(|e| NoteError::Key(e.to_string()));
    }
    Err(NoteError::Key(
        "unknown key type: this verifier reads Ed25519 keys (type byte 0x01) and SM2 keys (0xff \"sm2\", format \
         version 1.5)"
            .into(),
    ))
}

/// The 4-byte C2SP key id of a note key: `SHA-256(name ‖ 0x0A ‖ type ‖ key)[0:4]`.
pub fn note_key_id(name: &str, key: &SignerKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A]);
    h.update(typed_key(key));
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A note verifier: key name plus an Ed25519 or SM2 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: SignerKey,
    id: [u8; 4],
}

impl NoteVerifier {
    /// Builds a verifier from a name and key.
    pub fn new(name: &str, key: impl Into<SignerKey>) -> Result<NoteVerifier, NoteError> {
        check_name(name)?;
        let key = key.into();
        Ok(NoteVerifier { name: name.to_owned(), id: note_key_id(name, &key), key })
    }

    /// Parses `<name>+<8 hex>+<base64(type ‖ key)>`, checking that the hex id matches the key.
    pub fn parse(vkey: &str) -> Result<NoteVerifier, NoteError> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::Key("expected <name>+<8 hex digits>+<base64 key>".into()));
        };
        check_name(name)?;
        let raw = B64.decode(key_b64).map_err(|e| NoteError::Key(format!("key is not base64: {e}")))?;
        let v = NoteVerifier::new(name, parse_typed_key(&raw)?)?;
        if id_hex.len() != 8 || hex::encode(v.id) != id_hex {
            return Err(NoteError::Key("key id does not match the name and key".into()));
        }
        Ok(v)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The public key.
    pub fn key(&self) -> &SignerKey {
        &self.key
    }
    /// The 4-byte key id its signature lines start with.
    pub fn id(&self) -> [u8; 4] {
        self.id
    }
    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.key.algorithm()
    }
    /// The verifier key string.
    pub fn vkey(&self) -> String {
        format!("{}+{}+{}", self.name, hex::encode(self.id), B64.encode(typed_key(&self.key)))
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.vkey())
    }
}

/// A note signer: key name plus an Ed25519 or SM2 private key.
#[derive(Debug)]
pub struct NoteSigner {
    name: String,
    key: AnySigningKey,
    public: SignerKey,
    id: [u8; 4],
}

impl NoteSigner {
    /// Builds a signer.
    pub fn new(name: &str, key: impl Into<AnySigningKey>) -> Result<NoteSigner, NoteError> {
        check_name(name)?;
        let key = key.into();
        let public = key.public();
        let id = note_key_id(name, &public);
        Ok(NoteSigner { name: name.to_owned(), key, public, id })
    }
    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier { name: self.name.clone(), key: self.public.clone(), id: self.id }
    }
    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs `text` (which must satisfy the note text rules) and returns the whole note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&self.id);
        blob.extend_from_slice(&sig);
        Ok(format!("{text}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob)))
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(malformed("text must end with a newline"));
    }
    if text.contains("\n\n") || text.starts_with('\n') {
        return Err(malformed("text must not contain a blank line"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(malformed("text must not contain control characters other than newline"));
    }
    Ok(())
}

/// A note whose signature by the expected key has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    /// The signed text (ends with a newline).
    pub text: String,
}

/// One signature line of a note: the key name and the decoded blob (4-byte key id, then the key type's signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLine<'a> {
    /// The key name as written on the line.
    pub name: &'a str,
    /// base64-decoded `key id ‖ signature`, at least 5 bytes.
    pub blob: Vec<u8>,
}

/// Splits a note into its text (ending in a newline) and its signature lines, checking the signed-note grammar
/// but no signature. Shared by [`open`] and the cosignature checks so both read a note the same way.
pub fn split(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), NoteError> {
    if note.len() > 1 << 20 {
        return Err(malformed("note larger than 1 MiB"));
    }
    let split = note.rfind("\n\n").ok_or_else(|| malformed("no blank line before the signatures"))?;
    let text = &note[..=split];
    let sigs = &note[split + 2..];
    check_text(text)?;
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(malformed("signature block must be non-empty lines ending with a newline"));
    }
    let mut lines = Vec::new();
    for line in sigs[..sigs.len() - 1].split('\n') {
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| malformed(format!("signature line {line:?} does not start with an em dash and a space")))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| malformed(format!("signature line {line:?} lacks a key name or signature")))?;
        let blob = B64.decode(b64).map_err(|e| malformed(format!("signature is not base64: {e}")))?;
        if blob.len() < 5 {
            return Err(malformed("signature too short"));
        }
        lines.push(SignatureLine { name, blob });
    }
    Ok((text, lines))
}

/// Opens a note, requiring a valid signature by `verifier`. With `strict`, any signature line by another key is an
/// error too (evidence bundles allow nothing unverified); otherwise such lines are ignored, as C2SP says.
pub fn open(note: &str, verifier: &NoteVerifier, strict: bool) -> Result<VerifiedNote, NoteError> {
    let (text, lines) = split(note)?;
    let mut found = false;
    for SignatureLine { name, blob } in lines {
        if name == verifier.name && blob[..4] == verifier.id {
            // Both algorithms' signatures are 64 bytes (SM2: fixed-width r ‖ s over SM3 with the key's Z_A).
            let sig: [u8; 64] = blob[4..].try_into().map_err(|_| NoteError::BadSignature(verifier.vkey()))?;
            verifier.key.verify(text.as_bytes(), &sig).map_err(|_| NoteError::BadSignature(verifier.vkey()))?;
            if found {
                return Err(malformed("the same key signed twice"));
            }
            found = true;
        } else if strict {
            return Err(NoteError::UnknownSigner(name.to_owned()));
        }
    }
    if !found {
        return Err(NoteError::NotSigned(verifier.vkey()));
    }
    Ok(VerifiedNote { text: text.to_owned() })
}

/// A tlog checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (also its key name).
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// Root hash of those leaves.
    pub root: Hash,
    /// Extension lines, without their newlines.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text of this checkpoint.
    pub fn to_text(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root));
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses checkpoint text.
    pub fn parse(text: &str) -> Result<Checkpoint, NoteError> {
        let bad = |s: &str| NoteError::Checkpoint(s.to_owned());
        let body = text.strip_suffix('\n').ok_or_else(|| bad("must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or_else(|| bad("missing origin line"))?;
        let size_s = lines.next().ok_or_else(|| bad("missing tree size line"))?;
        if size_s.is_empty()
            || (size_s.len() > 1 && size_s.starts_with('0'))
            || !size_s.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad("tree size must be a decimal number without leading zeros"));
        }
        let size: u64 = size_s.parse().map_err(|_| bad("tree size out of range"))?;
        let root_s = lines.next().ok_or_else(|| bad("missing root hash line"))?;
        let root: Hash = B64
            .decode(root_s)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| bad("root hash must be base64 of 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("empty extension line"));
        }
        Ok(Checkpoint { origin: origin.to_owned(), size, root, extensions })
    }

    /// Signs this checkpoint; the signer's key name must equal the origin.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, NoteError> {
        if signer.name != self.origin {
            return Err(NoteError::Checkpoint(format!(
                "origin {:?} differs from the log key name {:?}",
                self.origin, signer.name
            )));
        }
        signer.sign(&self.to_text())
    }

    /// Opens a signed checkpoint note with the log's verifier; the origin must equal the key name.
    pub fn open(note: &str, verifier: &NoteVerifier, strict: bool) -> Result<Checkpoint, NoteError> {
        let v = open(note, verifier, strict)?;
        let cp = Checkpoint::parse(&v.text)?;
        if cp.origin != verifier.name {
            return Err(NoteError::Checkpoint(format!(
                "origin {:?} is not the log key name {:?}",
                cp.origin, verifier.name
            )));
        }
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use crate::sm2::{DEFAULT_ID, Sm2SigningKey};

    #[test]
    fn sign_open_and_reject_tampering() {
        let signer = NoteSigner::new("example.com/log", SigningKey::from_seed(&[1; 32])).expect("signer");
        let v = NoteVerifier::parse(&signer.verifier().vkey()).expect("vkey round trips");
        let cp = Checkpoint { origin: "example.com/log".into(), size: 5, root: [9; 32], extensions: vec![] };
        let note = cp.sign(&signer).expect("sign");
        assert_eq!(Checkpoint::open(&note, &v, true).expect("opens"), cp);
        let tampered = note.replacen("\n5\n", "\n6\n", 1);
        assert!(matches!(Checkpoint::open(&tampered, &v, true), Err(NoteError::BadSignature(_))));
        let other = NoteSigner::new("other", SigningKey::from_seed(&[2; 32])).expect("signer");
        let cosigned = format!("{note}{}", other.sign(&cp.to_text()).expect("sign").split("\n\n").nth(1).expect("sig"));
        assert!(Checkpoint::open(&cosigned, &v, false).is_ok());
        assert!(matches!(Checkpoint::open(&cosigned, &v, true), Err(NoteError::UnknownSigner(_))));
    }

    #[test]
    fn sm2_checkpoints_sign_open_and_reject_tampering() {
        for id in [DEFAULT_ID, "ningbo-zjj@siteledger"] {
            let key = Sm2SigningKey::from_secret(&[7; 32], id).expect("sm2 key");
            let signer = NoteSigner::new("example.com/sm2-log", key).expect("signer");
            let vkey = signer.verifier().vkey();
            let v = NoteVerifier::parse(&vkey).expect("an SM2 vkey round trips");
            assert_eq!(v, signer.verifier());
            assert_eq!(v.algorithm(), KeyAlgorithm::Sm2);
            assert_eq!(v.key().sm2_id(), Some(id));
            let raw = B64.decode(vkey.splitn(3, '+').nth(2).expect("key")).expect("b64");
            assert_eq!(&raw[..4], b"\xffsm2", "the escape byte, then the type name");
            let cp = Checkpoint { origin: "example.com/sm2-log".into(), size: 7, root: [3; 32], extensions: vec![] };
            let note = cp.sign(&signer).expect("sign");
            assert_eq!(Checkpoint::open(&note, &v, true).expect("opens"), cp);
            let tampered = note.replacen("\n7\n", "\n8\n", 1);
            assert!(matches!(Checkpoint::open(&tampered, &v, true), Err(NoteError::BadSignature(_))));
            // The same point under another identity is another key: another key id, and the signature does not verify.
            let other_id = NoteVerifier::new(
                "example.com/sm2-log",
                Sm2PublicKey::from_bytes(signer.verifier().key().as_bytes(), "another identity").expect("key"),
            )
            .expect("verifier");
            assert_ne!(other_id.id(), v.id());
            assert!(matches!(Checkpoint::open(&note, &other_id, false), Err(NoteError::NotSigned(_))));
        }
        // An Ed25519 verifier of the same name does not accept the SM2 line, and the reverse.
        let ed = NoteSigner::new("example.com/sm2-log", SigningKey::from_seed(&[7; 32])).expect("signer");
        let sm2 = NoteSigner::new("example.com/sm2-log", Sm2SigningKey::from_secret(&[7; 32], DEFAULT_ID).expect("k"))
            .expect("signer");
        let cp = Checkpoint { origin: "example.com/sm2-log".into(), size: 1, root: [1; 32], extensions: vec![] };
        assert!(matches!(
            Checkpoint::open(&cp.sign(&sm2).expect("s"), &ed.verifier(), true),
            Err(NoteError::UnknownSigner(_))
        ));
        assert!(matches!(
            Checkpoint::open(&cp.sign(&ed).expect("s"), &sm2.verifier(), false),
            Err(NoteError::NotSigned(_))
        ));
    }

    #[test]
    fn malformed_sm2_vkeys_are_refused_with_the_reason() {
        let good = NoteSigner::new("example.com/log", Sm2SigningKey::from_secret(&[7; 32], DEFAULT_ID).expect("k"))
            .expect("signer")
            .verifier()
            .vkey();
        let parts: Vec<&str> = good.splitn(3, '+').collect();
        let raw = B64.decode(parts[2]).expect("b64");
        let with = |raw: &[u8]| format!("{}+{}+{}", parts[0], parts[1], B64.encode(raw));
        let mut odd_bits = raw.clone();
        odd_bits[4..6].copy_from_slice(&129u16.to_be_bytes());
        let mut off_curve = raw.clone();
        let last = off_curve.len() - 1;
        off_curve[last] ^= 1;
        for (bad, why) in [
            (with(&raw[..5]), "ENTL_A"),
            (with(&odd_bits), "whole number of bytes"),
            (with(&off_curve), ""),
            (with(&[&[0x02], &raw[4..]].concat()), "unknown key type"),
            (with(&[&raw[..], &[0]].concat()), ""),
        ] {
            match NoteVerifier::parse(&bad) {
                Err(NoteError::Key(msg)) => assert!(msg.contains(why), "{msg:?} should say {why:?}"),
                other => panic!("{bad}: expected a key error, got {other:?}"),
            }
        }
    }
}
