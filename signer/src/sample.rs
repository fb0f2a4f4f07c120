//! A deterministic sample log: fixed keys, fixed ids, fixed times. Used by the test vectors, tests, benchmarks
//! and the README demo, so every run produces the same bytes.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::bundle::{
    BUNDLE_FORMAT, Bundle, BundleConsistency, KEY_ENROLLED_KIND, KeyEnrollment, bundle_key, bundle_record,
};
use crate::envelope::{Envelope, EnvelopeError, SignerChain};
use crate::keys::SigningKey;
use crate::merkle::MemoryTree;
use crate::note::{Checkpoint, NoteError, NoteSigner};

/// Origin (and key name) of the sample log.
pub const SAMPLE_ORIGIN: &str = "siteledger.example/ningbo/log";

/// A deterministic UUIDv7 for sample record `n`.
pub fn sample_uuid(n: u64) -> Uuid {
    let ms = 1_795_000_000_000 + n * 1000;
    let mut rand = [0u8; 10];
    rand[2..].copy_from_slice(&n.to_be_bytes());
    uuid::Builder::from_unix_timestamp_millis(ms, &rand).into_uuid()
}

/// One of the sample log's signers: its key and its chain (kept private: the public key-with-chain wrapper is the
/// client crate's `KeyedChain`; this one only makes the sample's bytes).
#[derive(Debug)]
struct ChainSigner {
    key: SigningKey,
    chain: SignerChain,
}

impl ChainSigner {
    fn new(key: SigningKey) -> ChainSigner {
        ChainSigner { key, chain: SignerChain::new() }
    }

    /// Signs the next envelope of this signer's chain.
    fn sign(
        &mut self,
        id: Uuid,
        stream: &str,
        kind: &str,
        occurred_at: &str,
        payload: Map<String, Value>,
    ) -> Result<Envelope, EnvelopeError> {
        self.chain.sign(&self.key, id, stream, kind, occurred_at, payload)
    }
}

/// The sample log's three signers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleSigner {
    /// The city bureau (root of trust, seed `0x21`).
    City,
    /// The district bureau (seed `0x22`).
    District,
    /// The site gateway (seed `0x23`).
    Gateway,
}

/// The sample log: a self-enrolled city bureau key, a district key, a gateway key and dust readings.
#[derive(Debug)]
pub struct SampleLog {
    /// The log's checkpoint signer.
    pub log: NoteSigner,
    city: ChainSigner,
    district: ChainSigner,
    gateway: ChainSigner,
    /// Every envelope, by log index.
    pub envelopes: Vec<Envelope>,
    /// The Merkle tree.
    pub tree: MemoryTree,
    next_id: u64,
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

impl SampleLog {
    /// Builds the log with `readings` dust readings after the three enrollments.
    pub fn new(readings: u64) -> Result<SampleLog, EnvelopeError> {
        let log = NoteSigner::new(SAMPLE_ORIGIN, SigningKey::from_seed(&[0x10; 32]))
            .map_err(|e| EnvelopeError::Field { field: "log", reason: e.to_string() })?;
        let mut s = SampleLog {
            log,
            city: ChainSigner::new(SigningKey::from_seed(&[0x21; 32])),
            district: ChainSigner::new(SigningKey::from_seed(&[0x22; 32])),
            gateway: ChainSigner::new(SigningKey::from_seed(&[0x23; 32])),
            envelopes: Vec::new(),
            tree: MemoryTree::new(),
            next_id: 0,
        };
        let city_pk = *s.city.key.public();
        let district_pk = *s.district.key.public();
        let gateway_pk = *s.gateway.key.public();
        let enrol = |pk: &crate::keys::PublicKey, subject: &str, role: &str| KeyEnrollment {
            key_id: pk.key_id().to_string(),
            public_key: pk.to_base64(),
            subject: subject.to_owned(),
            role: role.to_owned(),
            valid_from: "2026-01-01T00:00:00+08:00".to_owned(),
            valid_until: Some("2028-01-01T00:00:00+08:00".to_owned()),
        };
        let e = enrol(&city_pk, "宁波市住房和城乡建设局", "city_bureau").to_payload();
        s.append_by(SampleSigner::City, "registry/keys", KEY_ENROLLED_KIND, "2026-01-01T09:00:00+08:00", e)?;
        let e = enrol(&district_pk, "鄞州区住房和城乡建设局", "district_bureau").to_payload();
        s.append_by(SampleSigner::City, "registry/keys", KEY_ENROLLED_KIND, "2026-01-02T09:00:00+08:00", e)?;
        let e = enrol(&gateway_pk, "project/P-330212-0001/gateway/GW-01", "gateway").to_payload();
        s.append_by(SampleSigner::District, "registry/keys", KEY_ENROLLED_KIND, "2026-01-03T09:00:00+08:00", e)?;
        for i in 0..readings {
            let minute = i % 60;
            let hour = 8 + (i / 60) % 12;
            let day = 1 + (i / 720) % 28;
            let at = format!("2026-03-{day:02}T{hour:02}:{minute:02}:00+08:00");
            let payload = obj(json!({
                "mn": "010000A8900016F000169DC0",
                "pm10_ug_m3": format!("{}.{}", 40 + i % 70, i % 10),
                "noise_db_a": format!("{}.{}", 55 + i % 20, (i * 7) % 10),
            }));
            s.append_by(
                SampleSigner::Gateway,
                "project/P-330212-0001/device/DUST-01",
                "iot.dust.reading.v1",
                &at,
                payload,
            )?;
        }
        Ok(s)
    }

    /// The key of `who`.
    pub fn key(&self, who: SampleSigner) -> &SigningKey {
        &self.signer(who).key
    }

    /// `who`'s chain after the last envelope it signed here: a record that continues it (and is not appended to
    /// this log) signs with a copy, as the test vectors' refusal cases do.
    pub fn chain(&self, who: SampleSigner) -> SignerChain {
        self.signer(who).chain
    }

    fn signer(&self, who: SampleSigner) -> &ChainSigner {
        match who {
            SampleSigner::City => &self.city,
            SampleSigner::District => &self.district,
            SampleSigner::Gateway => &self.gateway,
        }
    }

    fn append_by(
        &mut self,
        who: SampleSigner,
        stream: &str,
        kind: &str,
        at: &str,
        payload: Map<String, Value>,
    ) -> Result<u64, EnvelopeError> {
        let id = sample_uuid(self.next_id);
        self.next_id += 1;
        let signer = match who {
            SampleSigner::City => &mut self.city,
            SampleSigner::District => &mut self.district,
            SampleSigner::Gateway => &mut self.gateway,
        };
        let env = signer.sign(id, stream, kind, at, payload)?;
        let index = self.tree.push(env.leaf_bytes());
        self.envelopes.push(env);
        Ok(index)
    }

    /// Appends a district bureau's inspection finding whose payload cites `photo_hashes` (SHA-256 hex of
    /// attachment files, docs/FORMAT.md §7.3), and returns its index.
    pub fn append_finding(&mut self, photo_hashes: &[String]) -> Result<u64, EnvelopeError> {
        let payload = obj(json!({
            "project_id": "P-330212-0001",
            "inspection_id": "INS-1",
            "finding_id": "F-1",
            "level": "general",
            "category": "临边防护",
            "description": "5层楼板临边未设防护栏杆",
            "photo_hashes": photo_hashes,
        }));
        let stream = "project/P-330212-0001/inspections";
        self.append_by(
            SampleSigner::District,
            stream,
            "inspection.finding.recorded.v1",
            "2026-03-20T10:00:00+08:00",
            payload,
        )
    }

    /// The signed checkpoint note for the first `size` leaves.
    pub fn checkpoint(&self, size: u64) -> Result<String, NoteError> {
        let root = self.tree.root_at(size).map_err(|e| NoteError::Checkpoint(e.to_string()))?;
        Checkpoint { origin: SAMPLE_ORIGIN.to_owned(), size, root, extensions: vec![] }.sign(&self.log)
    }

    /// An evidence bundle for the given record indices (plus the enrollment records of their signers), proven
    /// into the checkpoint at `size`, optionally with a consistency proof to `newer`.
    pub fn bundle(&self, indices: &[u64], size: u64, newer: Option<u64>) -> Result<Bundle, NoteError> {
        let mut wanted: Vec<u64> = indices.to_vec();
        // Enrollment records 0..3 cover every signer of the sample log.
        wanted.extend([0, 1, 2]);
        wanted.sort_unstable();
        wanted.dedup();
        let err = |e: crate::merkle::ProofError| NoteError::Checkpoint(e.to_string());
        let mut records = Vec::new();
        for &i in &wanted {
            let proof = self.tree.inclusion_proof(i, size).map_err(err)?;
            records.push(bundle_record(i, &self.envelopes[i as usize], &proof));
        }
        let keys = vec![
            bundle_key(self.city.key.public(), Some(self.envelopes[0].id())),
            bundle_key(self.district.key.public(), Some(self.envelopes[1].id())),
            bundle_key(self.gateway.key.public(), Some(self.envelopes[2].id())),
        ];
        let consistency = match newer {
            None => None,
            Some(n) => Some(BundleConsistency {
                checkpoint: self.checkpoint(n)?,
                hashes: self
                    .tree
                    .consistency_proof(size, n)
                    .map_err(err)?
                    .iter()
                    .map(|h| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, h))
                    .collect(),
            }),
        };
        Ok(Bundle {
            format: BUNDLE_FORMAT.to_owned(),
            log_key: self.log.verifier().vkey(),
            checkpoint: self.checkpoint(size)?,
            keys,
            records,
            consistency,
            witnesses: None,
            timestamps: None,
        })
    }
}
