//! Administration actions behind CLI commands.

use siteledger_ledger::snapshot::{SnapshotCheck, verify_newest};
use siteledger_ledger::{AnyStore, DomainPolicy, EventStore, Ledger, LedgerConfig};
use siteledger_signer::NoteSigner;

use siteledger_api::config::Config;
use siteledger_api::node;

/// Drops and rebuilds every read model from the log; returns the number of records folded.
pub async fn rebuild_projections(config: &Config) -> anyhow::Result<u64> {
    let log_key = config.log_key()?;
    let system_key = node::load_or_create(&config.key_dir().join("system.key"))?;
    let store = AnyStore::open(&config.store_url()).await?;
    let mut lc = LedgerConfig::new(NoteSigner::new(&config.log_origin, log_key)?, system_key);
    lc.policy = std::sync::Arc::new(siteledger_ledger::DomainPolicy::default());
    let ledger = Ledger::open(store, lc).await?;
    let read = siteledger_projections::ReadDb::open(&config.read_url()).await?;
    read.set_raw_retention_days(config.raw_retention_days);
    siteledger_projections::rebuild(&ledger, &read).await?;
    read.prune_site_raw().await?;
    Ok(ledger.store().head().await?)
}

/// The log key string and the system key id.
pub fn show_keys(config: &Config) -> anyhow::Result<(String, String)> {
    let log_key = config.log_key()?;
    let system_key = node::load_or_create(&config.key_dir().join("system.key"))?;
    let signer = NoteSigner::new(&config.log_origin, log_key)?;
    Ok((signer.verifier().vkey(), system_key.key_id().to_string()))
}

/// `siteledger keys new`.
#[derive(Debug, clap::Args)]
pub struct NewKeyArgs {
    /// The key file to create (mode 0600; an existing file is never overwritten).
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// The signature algorithm: `ed25519` (default) or `sm2` (SM2 over SM3, GB/T 32918; docs/FORMAT.md §11).
    #[arg(long, default_value = "ed25519")]
    pub alg: String,
    /// SM2 only: the signer identity ID_A (GM/T 0009); default `1234567812345678`.
    #[arg(long)]
    pub sm2_id: Option<String>,
    /// Who holds the key, for the printed enrolment payload (e.g. the enterprise's 统一社会信用代码).
    #[arg(long, default_value = "")]
    pub subject: String,
    /// The holder's role, for the printed enrolment payload (`enterprise`, `gateway`, …).
    #[arg(long, default_value = "enterprise")]
    pub role: String,
    /// Start of validity, RFC 3339 with offset, for the printed enrolment payload.
    #[arg(long, default_value = "2026-01-01T00:00:00+08:00")]
    pub valid_from: String,
}

/// Creates the key file and describes it: key id, algorithm, public key, and the enrolment payload to sign.
pub fn new_key(args: &NewKeyArgs) -> anyhow::Result<String> {
    use siteledger_signer::bundle::KeyEnrollment;
    use siteledger_signer::keys::{AnySigningKey, KeyAlgorithm, SignerKey};
    let key: AnySigningKey = match KeyAlgorithm::parse(&args.alg)? {
        KeyAlgorithm::Ed25519 => {
            if args.sm2_id.is_some() {
                anyhow::bail!("--sm2-id is only for --alg sm2");
            }
            siteledger_client::keys::generate(&args.out)?.into()
        }
        KeyAlgorithm::Sm2 => {
            let id = args.sm2_id.as_deref().unwrap_or(siteledger_signer::sm2::DEFAULT_ID);
            siteledger_client::keys::generate_sm2(&args.out, id)?.into()
        }
    };
    let public: SignerKey = key.public();
    let payload = KeyEnrollment {
        key_id: public.key_id().to_string(),
        public_key: public.to_base64(),
        subject: args.subject.clone(),
        role: args.role.clone(),
        valid_from: args.valid_from.clone(),
        valid_until: None,
    }
    .to_payload_for(&public);
    let mut out = format!(
        "密钥文件 / key file: {} (0600)
算法 / algorithm: {}
密钥标识 / key id: {}
公钥 / public key: {}
",
        args.out.display(),
        public.algorithm(),
        public.key_id(),
        public.to_base64()
    );
    if let Some(id) = public.sm2_id() {
        out.push_str(&format!(
            "SM2 签名者标识 / signer identity (ID_A): {id}
"
        ));
    }
    out.push_str(&format!(
        "登记载荷 / enrolment payload (ledger.key.enrolled.v1, signed by the enrolling authority):
{}
",
        serde_json::Value::Object(payload)
    ));
    Ok(out)
}

/// Replays the log from zero up to the newest admission-state snapshot and compares the canonical bytes with the
/// stored ones (`siteledger ledger verify-snapshot`). `None` if no snapshot is stored. Reads only: nothing is written.
pub async fn verify_snapshot(config: &Config) -> anyhow::Result<Option<SnapshotCheck>> {
    let store = AnyStore::open(&config.store_url()).await?;
    Ok(verify_newest(&store, &DomainPolicy::default()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(out: std::path::PathBuf, alg: &str, sm2_id: Option<&str>) -> NewKeyArgs {
        NewKeyArgs {
            out,
            alg: alg.into(),
            sm2_id: sm2_id.map(str::to_owned),
            subject: "91330200MA2H000001".into(),
            role: "enterprise".into(),
            valid_from: "2026-01-01T00:00:00+08:00".into(),
        }
    }

    #[test]
    fn keys_new_writes_a_0600_sm2_key_and_prints_an_enrolment_the_ledger_parses() {
        use siteledger_signer::bundle::KeyEnrollment;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ent.key");
        let text = new_key(&args(path.clone(), "sm2", Some("91330200MA2H000001"))).expect("created");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        }
        let key = siteledger_client::keys::load_any(&path).expect("loads");
        let payload = text.lines().last().expect("payload line");
        let payload: serde_json::Map<String, serde_json::Value> = serde_json::from_str(payload).expect("json");
        let (e, public) = KeyEnrollment::parse(&payload).expect("a valid SM2 enrolment");
        assert_eq!((e.key_id, public), (key.public().key_id().to_string(), key.public()));
        assert!(text.contains("algorithm: sm2"), "{text}");
        assert!(new_key(&args(path, "sm2", None)).is_err(), "never overwrites");
        let err = new_key(&args(dir.path().join("x.key"), "rsa", None)).expect_err("unknown alg");
        assert!(err.to_string().contains("\"ed25519\" or \"sm2\""), "{err}");
        assert!(new_key(&args(dir.path().join("y.key"), "ed25519", Some("x"))).is_err());
    }
}
