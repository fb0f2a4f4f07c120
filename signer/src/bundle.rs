//! Evidence bundles (docs/FORMAT.md §7) and their offline verification.
//!
//! A bundle is one canonical JSON document holding signed envelopes, the signers' public keys with the records
//! that enrolled them, an inclusion proof per record, the signed checkpoint they prove into and optionally a
//! consistency proof to a newer checkpoint. Nothing in it is unverified: the file must be in canonical form, every
//! value is covered by a signature, a proof or a recomputation, so changing any byte fails some named check.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::canonical;
use crate::cosignature::{Cosignature, WitnessPolicy, WitnessVerifier, is_witness_line, verify_cosignatures};
use crate::envelope::{Envelope, parse_time};
use crate::keys::{KeyAlgorithm, KeyId, PublicKey, SignerBatchItem, SignerKey, verify_signer_batch};
use crate::merkle::{Hash, verify_consistency, verify_inclusion};
use crate::note::{Checkpoint, NoteVerifier};
use crate::timestamp;

/// The `format` value of version 1 bundles.
pub const BUNDLE_FORMAT: &str = "siteledger-evidence/v1";
/// The `format` value of version 1.1 bundles: version 1 plus the optional per-record `attachments` member
/// (docs/FORMAT.md §7.3). Producers write it only when some record lists attachments, so a bundle without them
/// stays byte for byte a version 1 bundle that older verifiers accept.
pub const BUNDLE_FORMAT_V1_1: &str = "siteledger-evidence/v1.1";
/// The `format` value of version 1.2 bundles: version 1.1 plus the top-level `witnesses` member and witness
/// cosignature lines on `checkpoint` (docs/FORMAT.md §9.1). Written only for a cosigned checkpoint.
pub const BUNDLE_FORMAT_V1_2: &str = "siteledger-evidence/v1.2";
/// The `format` value of version 1.3 bundles: version 1.2 plus the top-level `timestamps` member, RFC 3161 tokens
/// for the checkpoint (docs/FORMAT.md §10.1); `witnesses` becomes optional. Written only for a timestamped
/// checkpoint.
pub const BUNDLE_FORMAT_V1_3: &str = "siteledger-evidence/v1.3";
/// The `format` value of version 1.4 bundles: version 1.3 plus SM2 signer keys (docs/FORMAT.md §11): key entries
/// may carry `alg` and `sm2_id`, and `timestamps` becomes optional. Written only when a key is SM2, so bundles of
/// Ed25519 signers keep their version and older verifiers are not handed keys they cannot check.
pub const BUNDLE_FORMAT_V1_4: &str = "siteledger-evidence/v1.4";
/// The `format` value of version 1.5 bundles: version 1.4 whose log key, and so checkpoint signature, is SM2
/// (docs/FORMAT.md §12); SM2 signer keys become optional. Written exactly when the log key is SM2, so a verifier
/// that knows only Ed25519 log keys refuses the bundle at `bundle_format` instead of at an unreadable key.
pub const BUNDLE_FORMAT_V1_5: &str = "siteledger-evidence/v1.5";
/// Every bundle format this verifier reads, oldest first (a later one is a superset of the earlier).
pub const BUNDLE_FORMATS: [&str; 6] =
    [BUNDLE_FORMAT, BUNDLE_FORMAT_V1_1, BUNDLE_FORMAT_V1_2, BUNDLE_FORMAT_V1_3, BUNDLE_FORMAT_V1_4, BUNDLE_FORMAT_V1_5];
/// Kind of the record that enrols a signing key.
pub const KEY_ENROLLED_KIND: &str = "ledger.key.enrolled.v1";

/// A bundle as data. Build with [`Bundle::to_bytes`]; read with [`Bundle::parse`] or [`verify_bundle`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The log's note verifier key string.
    pub log_key: String,
    /// Signed checkpoint note the inclusion proofs lead to.
    pub checkpoint: String,
    /// Public keys of every signer of a record in the bundle.
    pub keys: Vec<BundleKey>,
    /// The records, with their inclusion proofs.
    pub records: Vec<BundleRecord>,
    /// Optional consistency proof from `checkpoint` to a newer checkpoint.
    pub consistency: Option<BundleConsistency>,
    /// Version 1.2 only: the witness key strings (§9) whose cosignature lines `checkpoint` carries, in the order of
    /// those lines. Absent in versions 1 and 1.1; never `null`, never empty.
    #[serde(default, deserialize_with = "some_list", skip_serializing_if = "Option::is_none")]
    pub witnesses: Option<Vec<String>>,
    /// Version 1.3 only: RFC 3161 timestamp tokens (base64 of DER `ContentInfo`) whose message imprint is the
    /// SHA-256 of the checkpoint's text. Absent before 1.3; required in 1.3; never `null`, never empty.
    #[serde(default, deserialize_with = "some_list", skip_serializing_if = "Option::is_none")]
    pub timestamps: Option<Vec<String>>,
}

/// A signer's key in a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleKey {
    /// Key id (32 lowercase hex).
    pub key_id: String,
    /// Base64 of the public-key bytes (32 for Ed25519, the 65-byte uncompressed point for SM2).
    pub public_key: String,
    /// Event id of the `ledger.key.enrolled.v1` record, also in this bundle, that enrolled the key.
    pub enrolled_by: Option<String>,
    /// Version 1.4 only: the key's algorithm as its enrolment declares it (`"sm2"`); absent for Ed25519.
    #[serde(default, deserialize_with = "some_string", skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Version 1.4 only: an SM2 key's declared signer identity; absent for the GM/T 0009 default.
    #[serde(default, deserialize_with = "some_string", skip_serializing_if = "Option::is_none")]
    pub sm2_id: Option<String>,
}

impl BundleKey {
    /// The entry's key, algorithm-aware (its id is not compared here).
    pub fn signer_key(&self) -> Result<SignerKey, String> {
        SignerKey::from_members(self.alg.as_deref(), self.sm2_id.as_deref(), &self.public_key)
            .map_err(|e| e.to_string())
    }
}

/// An optional string member is absent or a string: `null` is refused (a bundle has one written form).
fn some_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// A record in a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleRecord {
    /// Leaf index in the log.
    pub index: u64,
    /// The signed envelope.
    pub envelope: Value,
    /// Inclusion proof into the checkpoint's tree, base64 hashes in RFC 9162 order.
    pub inclusion: Vec<String>,
    /// Version 1.1 only: the SHA-256 digests (64 lowercase hex, ascending, each once) of the files (附件) the
    /// record's payload cites and the package carries beside the bundle. Absent when it cites none; never `null`.
    #[serde(default, deserialize_with = "some_list", skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<String>>,
}

/// `attachments` is absent or an array: `null` is refused (a bundle has one written form).
fn some_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Vec::<String>::deserialize(d).map(Some)
}

/// Whether `s` is a SHA-256 digest as bundles write it: 64 lowercase hex characters.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `value` holds the string `wanted` as a JSON string value, at any depth (not as a member name, not as a
/// part of a longer string).
fn cites(value: &Value, wanted: &str) -> bool {
    match value {
        Value::String(s) => s == wanted,
        Value::Array(a) => a.iter().any(|v| cites(v, wanted)),
        Value::Object(m) => m.values().any(|v| cites(v, wanted)),
        _ => false,
    }
}

/// Proof that a newer checkpoint extends the bundle's checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleConsistency {
    /// The newer signed checkpoint note.
    pub checkpoint: String,
    /// Consistency proof hashes, base64, RFC 9162 order.
    pub hashes: Vec<String>,
}

/// The payload of a `ledger.key.enrolled.v1` record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEnrollment {
    /// Id of the enrolled key.
    pub key_id: String,
    /// Base64 of its public-key bytes (32 for Ed25519; for SM2, which [`KeyEnrollment::to_payload_for`] declares,
    /// the 65-byte uncompressed point).
    pub public_key: String,
    /// Who holds the key (an organisation, project gateway or device id).
    pub subject: String,
    /// The holder's role, e.g. `city_bureau`, `enterprise`, `gateway`.
    pub role: String,
    /// Start of validity (RFC 3339).
    pub valid_from: String,
    /// End of validity, exclusive (RFC 3339), or null for open-ended.
    pub valid_until: Option<String>,
}

impl KeyEnrollment {
    /// Reads an enrollment from an envelope payload (either algorithm; see [`KeyEnrollment::parse`]).
    pub fn from_payload(payload: &Map<String, Value>) -> Result<KeyEnrollment, String> {
        KeyEnrollment::parse(payload).map(|(e, _)| e)
    }

    /// Reads an enrollment and the key it enrols from an envelope payload (docs/FORMAT.md §4): the six members,
    /// plus the optional `alg` (`"ed25519"` or `"sm2"`; absent means Ed25519) and `sm2_id` (only with `sm2`; absent
    /// means the GM/T 0009 default identity). `key_id` must be the key's id under its algorithm and identity.
    pub fn parse(payload: &Map<String, Value>) -> Result<(KeyEnrollment, SignerKey), String> {
        let mut rest = payload.clone();
        let mut optional = |name: &str| match rest.remove(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!("enrollment payload: `{name}` must be a string, got {other}")),
        };
        let alg = optional("alg")?;
        let sm2_id = optional("sm2_id")?;
        let e: KeyEnrollment =
            serde_json::from_value(Value::Object(rest)).map_err(|e| format!("enrollment payload: {e}"))?;
        let key = SignerKey::from_members(alg.as_deref(), sm2_id.as_deref(), &e.public_key)
            .map_err(|err| format!("enrollment of key {}: {err}", e.key_id))?;
        if key.key_id().to_string() != e.key_id {
            return Err(format!(
                "enrollment key_id {} does not match its {} public_key{} (whose key id is {})",
                e.key_id,
                key.algorithm(),
                key.sm2_id().map(|id| format!(" with signer identity {id:?}")).unwrap_or_default(),
                key.key_id()
            ));
        }
        let from = parse_time(&e.valid_from)?;
        if let Some(u) = &e.valid_until
            && parse_time(u)? <= from
        {
            return Err("valid_until must be after valid_from".into());
        }
        Ok((e, key))
    }

    /// Whether `t` lies in `[valid_from, valid_until)`.
    pub fn covers(&self, t: OffsetDateTime) -> bool {
        let from_ok = parse_time(&self.valid_from).is_ok_and(|f| f <= t);
        let until_ok = match &self.valid_until {
            None => true,
            Some(u) => parse_time(u).is_ok_and(|u| t < u),
        };
        from_ok && until_ok
    }

    /// As an envelope payload (an Ed25519 enrolment: no `alg` member).
    pub fn to_payload(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }

    /// As the envelope payload enrolling `key`: for an SM2 key, `alg: "sm2"` and, unless it is the default, its
    /// `sm2_id`; for Ed25519 exactly [`KeyEnrollment::to_payload`] (never `alg: "ed25519"`).
    pub fn to_payload_for(&self, key: &SignerKey) -> Map<String, Value> {
        let mut m = self.to_payload();
        if key.algorithm() == KeyAlgorithm::Sm2 {
            m.insert("alg".into(), Value::String(KeyAlgorithm::Sm2.as_str().into()));
            if let Some(id) = key.declared_sm2_id() {
                m.insert("sm2_id".into(), Value::String(id.into()));
            }
        }
        m
    }
}

/// Why a file is not a bundle at all (as opposed to a bundle that fails checks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Not strict JSON.
    #[error("not a valid JSON document: {0}")]
    Json(String),
    /// Valid JSON, but not in canonical form: some byte was changed or the file was re-formatted.
    #[error("the file is not in canonical form (RFC 8785); it was altered or re-formatted after export")]
    NotCanonical,
    /// Valid JSON with the wrong structure.
    #[error("not a SiteLedger evidence bundle: {0}")]
    Structure(String),
}

impl Bundle {
    /// The canonical bytes of the bundle plus a final newline: the exact file format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        let mut out = canonical::to_canonical(&value);
        out.push(b'\n');
        out
    }

    /// Adds RFC 3161 tokens (DER) for the bundle's checkpoint, making it version 1.3 (docs/FORMAT.md §10.1); with
    /// no tokens the bundle is left as it was, byte for byte. Producers verify each token (against their configured
    /// TSA roots, with the nonce they sent) before adding it: a bundle carries nothing unverified. Call it after
    /// the attachment (1.1) and cosignature (1.2) steps, whose members 1.3 keeps.
    pub fn add_timestamps(&mut self, tokens: &[Vec<u8>]) {
        if tokens.is_empty() {
            return;
        }
        let list = self.timestamps.get_or_insert_with(Vec::new);
        list.extend(tokens.iter().map(|t| B64.encode(t)));
        self.raise_format(BUNDLE_FORMAT_V1_3);
    }

    /// Sets `format` to `format` unless the bundle already declares a later version (each version is a superset of
    /// the earlier, so a step that needs 1.1 must not turn a 1.4 bundle back into 1.1).
    pub fn raise_format(&mut self, format: &str) {
        let rank = |f: &str| BUNDLE_FORMATS.iter().position(|x| *x == f);
        if rank(format) > rank(&self.format) {
            self.format = format.to_owned();
        }
    }

    /// Declares version 1.5 if the log key is SM2 (docs/FORMAT.md §12), else 1.4 if some signer key is SM2 (§11);
    /// otherwise leaves the bundle as it is.
    pub fn fit_key_format(&mut self) {
        if log_key_is_sm2(&self.log_key) {
            self.raise_format(BUNDLE_FORMAT_V1_5);
        } else if self.keys.iter().any(|k| k.alg.is_some()) {
            self.raise_format(BUNDLE_FORMAT_V1_4);
        }
    }

    /// Parses a bundle file, requiring canonical form (an optional single trailing newline is allowed).
    pub fn parse(bytes: &[u8]) -> Result<Bundle, BundleError> {
        let value = canonical::parse_strict(bytes).map_err(|e| BundleError::Json(e.to_string()))?;
        let canonical = canonical::to_canonical(&value);
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        if body != canonical.as_slice() {
            return Err(BundleError::NotCanonical);
        }
        let bundle: Bundle = serde_json::from_value(value).map_err(|e| BundleError::Structure(e.to_string()))?;
        let formats = BUNDLE_FORMATS;
        if !formats.contains(&bundle.format.as_str()) {
            return Err(BundleError::Structure(format!(
                "format is {:?}; this verifier reads {}",
                bundle.format,
                formats.map(|f| format!("{f:?}")).join(", ")
            )));
        }
        let v1_5 = bundle.format == BUNDLE_FORMAT_V1_5;
        let v1_4 = bundle.format == BUNDLE_FORMAT_V1_4 || v1_5;
        let v1_3 = bundle.format == BUNDLE_FORMAT_V1_3 || v1_4;
        match (log_key_is_sm2(&bundle.log_key), v1_5) {
            (true, false) => {
                return Err(BundleError::Structure(format!(
                    "the log key is SM2, which needs format {BUNDLE_FORMAT_V1_5:?} (docs/FORMAT.md §12)"
                )));
            }
            (false, true) => {
                return Err(BundleError::Structure(format!(
                    "format {BUNDLE_FORMAT_V1_5:?} is for logs with an SM2 log key, and this one's is not (write an \
                     older version)"
                )));
            }
            _ => {}
        }
        match (&bundle.witnesses, bundle.format == BUNDLE_FORMAT_V1_2, v1_3) {
            (None, false, _) => {}
            (Some(_), false, false) => {
                return Err(BundleError::Structure(format!(
                    "the witnesses member needs format {BUNDLE_FORMAT_V1_2:?} or later"
                )));
            }
            (None, true, _) => {
                return Err(BundleError::Structure(format!(
                    "format {BUNDLE_FORMAT_V1_2:?} needs the witnesses member"
                )));
            }
            (Some(w), _, _) if w.is_empty() => {
                return Err(BundleError::Structure("witnesses is empty (leave the member out instead)".into()));
            }
            (Some(_), _, _) => {}
        }
        match (&bundle.timestamps, v1_3) {
            (None, false) => {}
            (Some(_), false) => {
                return Err(BundleError::Structure(format!(
                    "the timestamps member needs format {BUNDLE_FORMAT_V1_3:?} or later"
                )));
            }
            (None, true) if v1_4 => {}
            (None, true) => {
                return Err(BundleError::Structure(format!(
                    "format {BUNDLE_FORMAT_V1_3:?} needs the timestamps member"
                )));
            }
            (Some(t), true) if t.is_empty() => {
                return Err(BundleError::Structure("timestamps is empty (leave the member out instead)".into()));
            }
            (Some(_), true) => {}
        }
        for k in &bundle.keys {
            if !v1_4 && (k.alg.is_some() || k.sm2_id.is_some()) {
                return Err(BundleError::Structure(format!(
                    "key {}: the alg and sm2_id members need format {BUNDLE_FORMAT_V1_4:?} or later",
                    k.key_id
                )));
            }
            match (k.alg.as_deref(), &k.sm2_id) {
                (None, None) | (Some("sm2"), _) => {}
                (Some(other), _) => {
                    return Err(BundleError::Structure(format!(
                        "key {}: alg {other:?} is not \"sm2\" (an Ed25519 key entry has no alg member)",
                        k.key_id
                    )));
                }
                (None, Some(_)) => {
                    return Err(BundleError::Structure(format!(
                        "key {}: sm2_id is only allowed with alg \"sm2\"",
                        k.key_id
                    )));
                }
            }
        }
        if v1_4 && !v1_5 && !bundle.keys.iter().any(|k| k.alg.is_some()) {
            return Err(BundleError::Structure(format!(
                "format {BUNDLE_FORMAT_V1_4:?} is for bundles with an SM2 key, and this one has none (write an older \
                 version)"
            )));
        }
        for r in &bundle.records {
            let Some(list) = &r.attachments else { continue };
            if bundle.format == BUNDLE_FORMAT {
                return Err(BundleError::Structure(format!(
                    "record {}: the attachments member needs format {BUNDLE_FORMAT_V1_1:?} or later",
                    r.index
                )));
            }
            if list.is_empty() {
                return Err(BundleError::Structure(format!(
                    "record {}: attachments is empty (leave the member out instead)",
                    r.index
                )));
            }
            if let Some(bad) = list.iter().find(|h| !is_sha256_hex(h)) {
                return Err(BundleError::Structure(format!(
                    "record {}: attachment {bad:?} is not a SHA-256 digest (64 lowercase hex characters)",
                    r.index
                )));
            }
            if list.windows(2).any(|w| w[0] >= w[1]) {
                return Err(BundleError::Structure(format!(
                    "record {}: attachments must be in ascending order, each once",
                    r.index
                )));
            }
        }
        Ok(bundle)
    }
}

/// What a check is about. Serialised in snake case in `--json` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The file is a canonical v1 bundle.
    BundleFormat,
    /// The bundle names the log key the verifier was given.
    LogKey,
    /// The checkpoint is signed by the log key.
    CheckpointSignature,
    /// A key's id matches its public key.
    KeyId,
    /// A key's enrollment record is present and names it.
    KeyEnrollment,
    /// A record's envelope is well formed.
    EnvelopeFormat,
    /// The record's signer key is in the bundle.
    SignerKey,
    /// The record's signature verifies.
    Signature,
    /// The record was signed while its key was valid, after the key was enrolled.
    KeyValidity,
    /// The record's inclusion proof leads to the checkpoint root.
    Inclusion,
    /// Consecutive records of one signer are hash-chained.
    SignerChain,
    /// The newer checkpoint extends the bundle's checkpoint.
    Consistency,
    /// Every attachment a record lists is cited by its signed payload (version 1.1).
    AttachmentCitation,
    /// An attachment file's SHA-256 equals the digest the record cites (with an attachments directory).
    Attachment,
    /// Every witness the bundle lists cosigned its checkpoint (version 1.2).
    WitnessCosignature,
    /// At least `k` of the `n` witnesses the verifier names cosigned the checkpoint (with a witness policy).
    WitnessPolicy,
    /// An RFC 3161 token binds the checkpoint to a TSA's time (version 1.3; to a trusted root with `--tsa-root`).
    Timestamp,
}

impl CheckKind {
    /// Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            CheckKind::BundleFormat => "证据包格式",
            CheckKind::LogKey => "日志公钥",
            CheckKind::CheckpointSignature => "检查点签名",
            CheckKind::KeyId => "密钥标识",
            CheckKind::KeyEnrollment => "密钥登记",
            CheckKind::EnvelopeFormat => "记录格式",
            CheckKind::SignerKey => "签名密钥",
            CheckKind::Signature => "记录签名",
            CheckKind::KeyValidity => "密钥有效期",
            CheckKind::Inclusion => "日志包含证明",
            CheckKind::SignerChain => "签名者哈希链",
            CheckKind::Consistency => "日志一致性证明",
            CheckKind::AttachmentCitation => "附件引用",
            CheckKind::Attachment => "附件哈希",
            CheckKind::WitnessCosignature => "见证人联署",
            CheckKind::WitnessPolicy => "见证人策略",
            CheckKind::Timestamp => "可信时间戳",
        }
    }
    /// English label.
    pub fn en(self) -> &'static str {
        match self {
            CheckKind::BundleFormat => "bundle format",
            CheckKind::LogKey => "log key",
            CheckKind::CheckpointSignature => "checkpoint signature",
            CheckKind::KeyId => "key id",
            CheckKind::KeyEnrollment => "key enrollment",
            CheckKind::EnvelopeFormat => "record format",
            CheckKind::SignerKey => "signer key",
            CheckKind::Signature => "record signature",
            CheckKind::KeyValidity => "key validity",
            CheckKind::Inclusion => "inclusion proof",
            CheckKind::SignerChain => "signer hash chain",
            CheckKind::Consistency => "consistency proof",
            CheckKind::AttachmentCitation => "attachment citation",
            CheckKind::Attachment => "attachment hash",
            CheckKind::WitnessCosignature => "witness cosignature",
            CheckKind::WitnessPolicy => "witness policy",
            CheckKind::Timestamp => "trusted timestamp",
        }
    }
}

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked.
    pub check: CheckKind,
    /// Which item: `bundle`, `checkpoint`, `record #<index> <event id>`, `key <key id>`.
    pub subject: String,
    /// Whether it held.
    pub ok: bool,
    /// Detail (English; the labels carry the Chinese).
    pub detail: String,
}

/// A record as the report describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSummary {
    /// Leaf index.
    pub index: u64,
    /// Event id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Stream.
    pub stream: String,
    /// When it happened.
    pub occurred_at: String,
    /// Signer key id and sequence.
    pub signer: String,
    /// Signer sequence number.
    pub seq: u64,
}

/// What became of one cited attachment when a directory of attachment files was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentStatus {
    /// The file is there and its SHA-256 is the cited digest.
    Verified,
    /// The file is there and its SHA-256 differs: it was altered or replaced (a failed check).
    Altered,
    /// No such file: the package does not carry it (the store did not hold it). Not a failure: the record says
    /// a file existed; the package cannot show it.
    Absent,
    /// A file no record of the bundle cites (a failed check: nothing in a package is unverified).
    Uncited,
}

/// One file of an attachments directory, or one cited digest, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentSummary {
    /// The cited digest (for [`AttachmentStatus::Uncited`], the file name).
    pub sha256: String,
    /// The records citing it: `#<index> <event id> <kind>`.
    pub cited_by: Vec<String>,
    /// The outcome.
    pub status: AttachmentStatus,
}

/// The verification report: every check made, in order, and the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// True only if every check passed and at least one record was verified.
    pub ok: bool,
    /// The log origin, when the checkpoint could be read.
    pub log_origin: Option<String>,
    /// The checkpoint's tree size.
    pub tree_size: Option<u64>,
    /// The checkpoint's root hash, base64.
    pub root_hash: Option<String>,
    /// Newer tree size proven consistent, if any.
    pub newer_tree_size: Option<u64>,
    /// The records verified.
    pub records: Vec<RecordSummary>,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// With an attachments directory: every cited digest and every file, with its outcome.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentSummary>,
}

impl Report {
    fn push(&mut self, check: CheckKind, subject: impl Into<String>, result: Result<String, String>) -> bool {
        let ok = result.is_ok();
        let detail = result.unwrap_or_else(|e| e);
        self.checks.push(Check { check, subject: subject.into(), ok, detail });
        ok
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }

    /// The human report: Chinese first, English second.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        s.push_str("SiteLedger 证据包核验报告 / Evidence bundle verification report\n");
        if let (Some(o), Some(n)) = (&self.log_origin, self.tree_size) {
            s.push_str(&format!("日志 / Log: {o}\n检查点树大小 / Checkpoint tree size: {n}\n"));
        }
        if let Some(r) = &self.root_hash {
            s.push_str(&format!("根哈希 / Root hash: {r}\n"));
        }
        if let Some(n) = self.newer_tree_size {
            s.push_str(&format!("较新检查点 / Newer checkpoint: {n}\n"));
        }
        s.push_str(&format!("记录数 / Records: {}\n", self.records.len()));
        for r in &self.records {
            s.push_str(&format!(
                "  #{} {} {} {} {} (signer {} seq {})\n",
                r.index, r.id, r.kind, r.stream, r.occurred_at, r.signer, r.seq
            ));
        }
        if !self.attachments.is_empty() {
            s.push_str(&format!("附件 / Attachments: {}\n", self.attachments.len()));
            for a in &self.attachments {
                let status = match a.status {
                    AttachmentStatus::Verified => "哈希一致 verified",
                    AttachmentStatus::Altered => "哈希不符 ALTERED",
                    AttachmentStatus::Absent => "未随附 not included",
                    AttachmentStatus::Uncited => "无记录引用 NOT CITED",
                };
                s.push_str(&format!("  {} [{status}] {}\n", a.sha256, a.cited_by.join(", ")));
            }
        }
        s.push_str("核验项目 / Checks:\n");
        for c in &self.checks {
            let mark = if c.ok { "通过 PASS" } else { "未通过 FAIL" };
            s.push_str(&format!("  [{mark}] {} / {} — {}: {}\n", c.check.zh(), c.check.en(), c.subject, c.detail));
        }
        let failed = self.failures().count();
        if self.ok {
            s.push_str(&format!(
                "结论：全部 {} 项核验通过，记录真实、完整，已包含于日志。\nVERDICT: ALL {} CHECKS PASSED; the records are authentic, intact and in the log.\n",
                self.checks.len(),
                self.checks.len()
            ));
        } else {
            s.push_str(&format!("结论：核验失败，{failed} 项未通过：\n"));
            for c in self.failures() {
                s.push_str(&format!("  - {}（{}）：{}\n", c.check.zh(), c.subject, c.detail));
            }
            s.push_str(&format!("VERDICT: FAILED, {failed} check(s) did not hold:\n"));
            for c in self.failures() {
                s.push_str(&format!("  - {} ({}): {}\n", c.check.en(), c.subject, c.detail));
            }
        }
        s
    }
}

fn decode_hashes(list: &[String]) -> Result<Vec<Hash>, String> {
    list.iter()
        .map(|h| {
            B64.decode(h)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| format!("proof hash {h:?} is not canonical base64 of 32 bytes"))
        })
        .collect()
}

/// Verifies a bundle file against the log key a verifier trusts. Never panics on any input.
pub fn verify_bundle(bytes: &[u8], log_key: &NoteVerifier) -> Report {
    verify_package(bytes, log_key, None)
}

/// Verifies a bundle and, with `files`, the attachment files packaged beside it (docs/FORMAT.md §7.3): `files` maps
/// each file name of the attachments directory to the SHA-256 of its contents (the caller reads the files; this
/// crate does no I/O). Every digest a record lists must be cited by its signed payload; every listed file present
/// must hash to its name; every file must be listed by some record. Never panics on any input.
pub fn verify_package(bytes: &[u8], log_key: &NoteVerifier, files: Option<&BTreeMap<String, Hash>>) -> Report {
    verify_witnessed(bytes, log_key, files, None)
}

/// [`verify_package`] plus, with `policy`, the check that at least `k` of the verifier's `n` named witnesses
/// cosigned the bundle's checkpoint (docs/FORMAT.md §9.1). A bundle without cosignatures fails a policy.
pub fn verify_witnessed(
    bytes: &[u8],
    log_key: &NoteVerifier,
    files: Option<&BTreeMap<String, Hash>>,
    policy: Option<&WitnessPolicy>,
) -> Report {
    verify_timestamped(bytes, log_key, files, policy, None)
}

/// [`verify_witnessed`] plus, with `tsa_roots`, the check that every RFC 3161 token of a version 1.3 bundle chains
/// to one of these root certificates (docs/FORMAT.md §10.1). Without roots a 1.3 bundle's tokens are still
/// checked (signature, key usage, imprint) but reported as not anchored; with roots a bundle without tokens fails.
pub fn verify_timestamped(
    bytes: &[u8],
    log_key: &NoteVerifier,
    files: Option<&BTreeMap<String, Hash>>,
    policy: Option<&WitnessPolicy>,
    tsa_roots: Option<&[x509_cert::Certificate]>,
) -> Report {
    let mut report = Report {
        ok: false,
        log_origin: None,
        tree_size: None,
        root_hash: None,
        newer_tree_size: None,
        records: Vec::new(),
        checks: Vec::new(),
        attachments: Vec::new(),
    };
    let bundle = match Bundle::parse(bytes) {
        Ok(b) => {
            report.push(CheckKind::BundleFormat, "bundle", Ok(format!("canonical {} document", b.format)));
            b
        }
        Err(e) => {
            report.push(CheckKind::BundleFormat, "bundle", Err(e.to_string()));
            return report;
        }
    };
    report.push(
        CheckKind::LogKey,
        "bundle",
        if bundle.log_key == log_key.vkey() {
            Ok(format!("bundle names the trusted log key {}", log_key.name()))
        } else {
            Err(format!("bundle names log key {:?}, but the trusted key is {:?}", bundle.log_key, log_key.vkey()))
        },
    );

    let listed = listed_witnesses(&bundle);
    let checkpoint = match open_checkpoint(&bundle.checkpoint, log_key, &listed) {
        Ok(cp) => {
            report.log_origin = Some(cp.origin.clone());
            report.tree_size = Some(cp.size);
            report.root_hash = Some(B64.encode(cp.root));
            report.push(
                CheckKind::CheckpointSignature,
                "checkpoint",
                Ok(match log_key.key().sm2_id() {
                    None => format!("signed by the log key, tree size {}", cp.size),
                    Some(id) => {
                        format!("signed by the log key, tree size {}, SM2 signature (identity {id:?})", cp.size)
                    }
                }),
            );
            Some(cp)
        }
        Err(e) => {
            report.push(CheckKind::CheckpointSignature, "checkpoint", Err(e.to_string()));
            None
        }
    };

    // Keys.
    let mut keys: HashMap<KeyId, (SignerKey, Option<String>)> = HashMap::new();
    for k in &bundle.keys {
        let subject = format!("key {}", k.key_id);
        let parsed = k.signer_key().and_then(|pk| {
            if pk.key_id().to_string() == k.key_id {
                Ok(pk)
            } else {
                Err(format!("key id {} does not match the public key (its id is {})", k.key_id, pk.key_id()))
            }
        });
        match parsed {
            Ok(pk) => {
                let detail = match pk.sm2_id() {
                    None => "matches its Ed25519 public key".to_owned(),
                    Some(id) => format!("matches its SM2 public key (SM2/SM3, signer identity {id:?})"),
                };
                if keys.insert(pk.key_id(), (pk, k.enrolled_by.clone())).is_some() {
                    report.push(CheckKind::KeyId, subject, Err("key listed twice".into()));
                } else {
                    report.push(CheckKind::KeyId, subject, Ok(detail));
                }
            }
            Err(e) => {
                report.push(CheckKind::KeyId, subject, Err(e));
            }
        }
    }

    // Records: parse, then verify all signatures in one batch.
    let mut envelopes: Vec<(u64, Envelope, &BundleRecord)> = Vec::new();
    let mut seen_index = BTreeMap::new();
    for r in &bundle.records {
        let subject = format!("record #{}", r.index);
        match Envelope::from_value(r.envelope.clone()) {
            Ok(env) => {
                if seen_index.insert(r.index, ()).is_some() {
                    report.push(CheckKind::EnvelopeFormat, subject, Err("the same log index appears twice".into()));
                    continue;
                }
                report.push(
                    CheckKind::EnvelopeFormat,
                    format!("{subject} {}", env.id()),
                    Ok(format!("{} v1 envelope", env.kind())),
                );
                report.records.push(RecordSummary {
                    index: r.index,
                    id: env.id().to_string(),
                    kind: env.kind().to_owned(),
                    stream: env.stream().to_owned(),
                    occurred_at: env.occurred_at().to_owned(),
                    signer: env.signer().to_string(),
                    seq: env.seq(),
                });
                envelopes.push((r.index, env, r));
            }
            Err(e) => {
                report.push(CheckKind::EnvelopeFormat, subject, Err(e.to_string()));
            }
        }
    }
    let by_id: HashMap<Uuid, usize> = envelopes.iter().enumerate().map(|(i, (_, e, _))| (e.id(), i)).collect();

    let mut batch = Vec::new();
    let mut batch_of = Vec::new();
    for (i, (index, env, _)) in envelopes.iter().enumerate() {
        let subject = format!("record #{index} {}", env.id());
        match keys.get(&env.signer()) {
            Some((pk, _)) => {
                report.push(CheckKind::SignerKey, subject, Ok(format!("signed by key {}", env.signer())));
                batch.push(SignerBatchItem { key: pk, message: env.signed_message(), signature: env.signature() });
                batch_of.push(i);
            }
            None => {
                report.push(
                    CheckKind::SignerKey,
                    subject,
                    Err(format!("signer key {} is not in the bundle", env.signer())),
                );
            }
        }
    }
    let algorithms: Vec<KeyAlgorithm> = batch.iter().map(|item| item.key.algorithm()).collect();
    for ((result, &i), alg) in verify_signer_batch(&batch).into_iter().zip(&batch_of).zip(algorithms) {
        let (index, env, _) = &envelopes[i];
        let valid = match alg {
            KeyAlgorithm::Ed25519 => "Ed25519 signature valid",
            KeyAlgorithm::Sm2 => "SM2 signature valid (SM2 over SM3, GB/T 32918.2)",
        };
        report.push(
            CheckKind::Signature,
            format!("record #{index} {}", env.id()),
            result.map(|()| valid.to_owned()).map_err(|e| e.to_string()),
        );
    }

    // Enrollment and validity of each signer key.
    let mut enrollments: HashMap<KeyId, (u64, KeyEnrollment)> = HashMap::new();
    let mut key_ids: Vec<&KeyId> = keys.keys().collect();
    key_ids.sort();
    for kid in key_ids {
        let (_, enrolled_by) = &keys[kid];
        let subject = format!("key {kid}");
        let Some(eid) = enrolled_by else {
            report.push(
                CheckKind::KeyEnrollment,
                subject,
                Err("no enrollment record is included for this key (enrolled_by is null); a v1 bundle must carry every signer's enrollment".into()),
            );
            continue;
        };
        let result = Uuid::parse_str(eid)
            .ok()
            .filter(|u| u.hyphenated().to_string() == *eid)
            .ok_or_else(|| format!("enrolled_by {eid:?} is not an event id in lowercase hyphenated form"))
            .and_then(|u| by_id.get(&u).copied().ok_or_else(|| format!("enrollment record {eid} is not in the bundle")))
            .and_then(|i| {
                let (index, env, _) = &envelopes[i];
                if env.kind() != KEY_ENROLLED_KIND {
                    return Err(format!("record {eid} is a {}, not a {KEY_ENROLLED_KIND}", env.kind()));
                }
                let (e, enrolled) = KeyEnrollment::parse(env.payload())?;
                if e.key_id != kid.to_string() {
                    return Err(format!("record {eid} enrols key {}, not {kid}", e.key_id));
                }
                if enrolled != keys[kid].0 {
                    return Err(format!(
                        "record {eid} enrols key {kid} with another algorithm, identity or public key than the \
                         bundle lists"
                    ));
                }
                let by = if env.signer() == *kid {
                    "itself (a root of trust)".to_owned()
                } else {
                    format!("key {}", env.signer())
                };
                let msg = format!(
                    "{}enrolled by record #{index} for {} ({}), signed by {by}, valid from {} until {}",
                    match enrolled.sm2_id() {
                        None => String::new(),
                        Some(id) => format!("SM2 key (signer identity {id:?}) "),
                    },
                    e.subject,
                    e.role,
                    e.valid_from,
                    e.valid_until.as_deref().unwrap_or("revoked or open-ended")
                );
                enrollments.insert(*kid, (*index, e));
                Ok(msg)
            });
        report.push(CheckKind::KeyEnrollment, subject, result);
    }
    for (index, env, _) in &envelopes {
        if let Some((enrol_index, e)) = enrollments.get(&env.signer()) {
            let subject = format!("record #{index} {}", env.id());
            let self_enrolment = enrol_index == index;
            let result = if !self_enrolment && enrol_index > index {
                Err(format!("signed by a key enrolled later in the log (record #{enrol_index})"))
            } else if !e.covers(env.occurred()) {
                Err(format!(
                    "occurred_at {} is outside the key's validity [{}, {})",
                    env.occurred_at(),
                    e.valid_from,
                    e.valid_until.as_deref().unwrap_or("∞")
                ))
            } else {
                Ok("signed while the key was enrolled and valid".into())
            };
            report.push(CheckKind::KeyValidity, subject, result);
        }
    }

    // Inclusion proofs.
    if let Some(cp) = &checkpoint {
        for (index, env, rec) in &envelopes {
            let subject = format!("record #{index} {}", env.id());
            let result = decode_hashes(&rec.inclusion).and_then(|proof| {
                verify_inclusion(&env.leaf_hash(), *index, cp.size, &proof, &cp.root)
                    .map(|()| format!("leaf {index} is in the tree of size {}", cp.size))
                    .map_err(|e| e.to_string())
            });
            report.push(CheckKind::Inclusion, subject, result);
        }
    }

    // Signer chains: every adjacent pair present in the bundle must link.
    let mut by_signer: BTreeMap<(KeyId, u64), usize> = BTreeMap::new();
    for (i, (_, env, _)) in envelopes.iter().enumerate() {
        if by_signer.insert((env.signer(), env.seq()), i).is_some() {
            report.push(
                CheckKind::SignerChain,
                format!("key {}", env.signer()),
                Err(format!("two different records claim sequence number {} (equivocation)", env.seq())),
            );
        }
    }
    for (&(signer, seq), &i) in &by_signer {
        if let Some(&prev_i) = by_signer.get(&(signer, seq.wrapping_sub(1))) {
            let (index, env, _) = &envelopes[i];
            let prev = &envelopes[prev_i].1;
            let ok = env.prev() == Some(&prev.leaf_hash());
            report.push(
                CheckKind::SignerChain,
                format!("record #{index} {}", env.id()),
                if ok {
                    Ok(format!("seq {seq} links to seq {}", seq - 1))
                } else {
                    Err(format!("seq {seq} does not link to the signer's record with seq {}", seq - 1))
                },
            );
        }
    }

    // Consistency to a newer checkpoint.
    if let (Some(c), Some(cp)) = (&bundle.consistency, &checkpoint) {
        let result = Checkpoint::open(&c.checkpoint, log_key, true)
            .map_err(|e| format!("newer checkpoint: {e}"))
            .and_then(|newer| {
                let proof = decode_hashes(&c.hashes)?;
                verify_consistency(cp.size, newer.size, &proof, &cp.root, &newer.root).map_err(|e| e.to_string())?;
                report.newer_tree_size = Some(newer.size);
                Ok(format!("tree of size {} extends tree of size {} unchanged", newer.size, cp.size))
            });
        report.push(CheckKind::Consistency, "checkpoint", result);
    }

    check_attachments(&mut report, &envelopes, files);
    if checkpoint.is_some() {
        check_witnesses(&mut report, &bundle, listed, policy);
        check_timestamps(&mut report, &bundle, tsa_roots);
    }

    if envelopes.is_empty() && bundle.records.is_empty() {
        report.push(CheckKind::BundleFormat, "bundle", Err("the bundle holds no records".into()));
    }
    report.ok = report.checks.iter().all(|c| c.ok);
    report
}

/// The version 1.1 checks: each record's `attachments` list against its signed payload (`attachment_citation`),
/// then, with a directory, each file against the digest that names it (`attachment`).
fn check_attachments(
    report: &mut Report,
    envelopes: &[(u64, Envelope, &BundleRecord)],
    files: Option<&BTreeMap<String, Hash>>,
) {
    // Digest → the records that list it and whose signed payload cites it.
    let mut cited: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (index, env, rec) in envelopes {
        let Some(list) = &rec.attachments else { continue };
        let payload = Value::Object(env.payload().clone());
        let subject = format!("record #{index} {}", env.id());
        let uncited: Vec<&str> = list.iter().map(String::as_str).filter(|h| !cites(&payload, h)).collect();
        if uncited.is_empty() {
            for h in list {
                cited.entry(h.as_str()).or_default().push(format!("#{index} {} {}", env.id(), env.kind()));
            }
            report.push(
                CheckKind::AttachmentCitation,
                subject,
                Ok(format!("its signed payload cites the {} attachment(s) listed", list.len())),
            );
        } else {
            report.push(
                CheckKind::AttachmentCitation,
                subject,
                Err(format!(
                    "lists attachment(s) {} that its signed {} payload does not cite: the list was altered",
                    uncited.join(", "),
                    env.kind()
                )),
            );
        }
    }
    let Some(files) = files else { return };
    for (h, by) in &cited {
        let records = by.join(", ");
        let (status, result) = match files.get(*h) {
            None => (AttachmentStatus::Absent, None),
            Some(digest) if hex::encode(digest) == *h => (
                AttachmentStatus::Verified,
                Some(Ok(format!("file {h}: SHA-256 matches the digest cited by record {records}"))),
            ),
            Some(digest) => (
                AttachmentStatus::Altered,
                Some(Err(format!(
                    "file {h} is cited by record {records}, but its contents hash to {}: the file was altered or \
                     replaced after export",
                    hex::encode(digest)
                ))),
            ),
        };
        if let Some(result) = result {
            report.push(CheckKind::Attachment, format!("attachment {h}"), result);
        }
        report.attachments.push(AttachmentSummary { sha256: (*h).to_owned(), cited_by: by.clone(), status });
    }
    for name in files.keys().filter(|n| !cited.contains_key(n.as_str())) {
        report.push(
            CheckKind::Attachment,
            format!("attachment {name}"),
            Err(format!(
                "file {name} is in the attachments directory, but no record of the bundle cites it (a package \
                 carries only files its signed records cite, named by their SHA-256)"
            )),
        );
        report.attachments.push(AttachmentSummary {
            sha256: name.clone(),
            cited_by: Vec::new(),
            status: AttachmentStatus::Uncited,
        });
    }
}

/// Whether a bundle's `log_key` string is a readable SM2 note key (an unreadable one is check 2's to report).
fn log_key_is_sm2(vkey: &str) -> bool {
    NoteVerifier::parse(vkey).is_ok_and(|v| v.algorithm() == KeyAlgorithm::Sm2)
}

/// The bundle's listed witness keys, parsed (an unparsable one is reported by [`check_witnesses`]).
fn listed_witnesses(bundle: &Bundle) -> Vec<WitnessVerifier> {
    bundle.witnesses.iter().flatten().filter_map(|w| WitnessVerifier::parse(w).ok()).collect()
}

/// Check 3: the log key signed the checkpoint, and every other signature line is by a witness the bundle lists
/// (whose lines check 15 verifies): nothing unverified rides along.
fn open_checkpoint(note: &str, log_key: &NoteVerifier, listed: &[WitnessVerifier]) -> Result<Checkpoint, String> {
    if listed.is_empty() {
        return Checkpoint::open(note, log_key, true).map_err(|e| e.to_string());
    }
    let cp = Checkpoint::open(note, log_key, false).map_err(|e| e.to_string())?;
    let (_, lines) = crate::note::split(note).map_err(|e| e.to_string())?;
    let log_id = log_key.id();
    for line in &lines {
        let by_log = line.name == log_key.name() && line.blob[..4] == log_id;
        if !by_log && !is_witness_line(line, listed) {
            return Err(format!("signature by key {} that the bundle does not list", line.name));
        }
    }
    Ok(cp)
}

/// Checks 15 (`witness_cosignature`) and 16 (`witness_policy`).
fn check_witnesses(report: &mut Report, bundle: &Bundle, listed: Vec<WitnessVerifier>, policy: Option<&WitnessPolicy>) {
    if let Some(names) = &bundle.witnesses {
        let result = if listed.len() != names.len() {
            Err("a listed witness key string is not a cosignature/v1 key (§9)".to_owned())
        } else {
            verify_cosignatures(&bundle.checkpoint, &listed).map_err(|e| e.to_string()).and_then(|found| {
                let missing: Vec<&str> = listed
                    .iter()
                    .map(WitnessVerifier::name)
                    .filter(|n| !found.iter().any(|c| c.witness == *n))
                    .collect();
                if missing.is_empty() {
                    Ok(format!("{} listed witnesses cosigned: {}", found.len(), describe(&found)))
                } else {
                    Err(format!("listed witnesses without a cosignature: {}", missing.join(", ")))
                }
            })
        };
        report.push(CheckKind::WitnessCosignature, "checkpoint", result);
    }
    if let Some(policy) = policy {
        let result = policy
            .check(&bundle.checkpoint)
            .map(|found| {
                format!(
                    "{} of {} named witnesses cosigned (need {}): {}",
                    found.len(),
                    policy.witnesses().len(),
                    policy.threshold(),
                    describe(&found)
                )
            })
            .map_err(|e| e.to_string());
        report.push(CheckKind::WitnessPolicy, "checkpoint", result);
    }
}

/// Check 17 (`timestamp`): each token of a version 1.3 bundle, one check per token; with roots, a bundle without
/// tokens fails it.
fn check_timestamps(report: &mut Report, bundle: &Bundle, roots: Option<&[x509_cert::Certificate]>) {
    let Some(tokens) = &bundle.timestamps else {
        if roots.is_some() {
            report.push(
                CheckKind::Timestamp,
                "checkpoint",
                Err(format!("the bundle carries no timestamp token (format {})", bundle.format)),
            );
        }
        return;
    };
    for (i, t) in tokens.iter().enumerate() {
        let result = B64
            .decode(t)
            .ok()
            .filter(|der| B64.encode(der) == *t)
            .ok_or_else(|| "not canonical base64".to_owned())
            .and_then(|der| {
                let verified = match roots {
                    Some(r) => timestamp::verify_token(&der, &bundle.checkpoint, None, r),
                    None => timestamp::verify_token_unanchored(&der, &bundle.checkpoint),
                };
                verified.map_err(|e| format!("{}: {e}", e.check()))
            })
            .map(|v| {
                let anchor = if roots.is_some() {
                    "chains to a trusted root"
                } else {
                    "NOT checked against a trusted root (give --tsa-root)"
                };
                format!(
                    "checkpoint text time-stamped at {} by {} (serial {}, policy {}); TSA certificate {anchor}",
                    v.gen_time, v.tsa, v.serial, v.policy
                )
            });
        report.push(CheckKind::Timestamp, format!("timestamp #{i}"), result);
    }
}

fn describe(found: &[Cosignature]) -> String {
    found.iter().map(|c| format!("{} at {}", c.witness, c.time)).collect::<Vec<_>>().join(", ")
}

/// Convenience for producers: a key entry for a bundle.
pub fn bundle_key(key: &PublicKey, enrolled_by: Option<Uuid>) -> BundleKey {
    signer_bundle_key(&SignerKey::Ed25519(*key), enrolled_by)
}

/// Convenience for producers: a key entry of either algorithm (an SM2 key carries `alg` and, unless it is the
/// default, `sm2_id`, which make the bundle version 1.4: call [`Bundle::fit_key_format`]).
pub fn signer_bundle_key(key: &SignerKey, enrolled_by: Option<Uuid>) -> BundleKey {
    BundleKey {
        key_id: key.key_id().to_string(),
        public_key: key.to_base64(),
        enrolled_by: enrolled_by.map(|u| u.to_string()),
        alg: (key.algorithm() == KeyAlgorithm::Sm2).then(|| KeyAlgorithm::Sm2.as_str().to_owned()),
        sm2_id: key.declared_sm2_id().map(str::to_owned),
    }
}

/// Convenience for producers: a record entry for a bundle.
pub fn bundle_record(index: u64, envelope: &Envelope, inclusion: &[Hash]) -> BundleRecord {
    BundleRecord {
        index,
        envelope: envelope.to_value(),
        inclusion: inclusion.iter().map(|h| B64.encode(h)).collect(),
        attachments: None,
    }
}

/// The `--json` form of a report.
pub fn report_json(report: &Report) -> Value {
    serde_json::to_value(report).unwrap_or_else(|_| json!({"ok": false}))
}
