//! `LedgerConfig::system_enrolments`: keys the system key enrols at open (the platform's own service keys), once.

use siteledger_client::KeyedChain;
use siteledger_ledger::system::{KEY_ENROLLED_KIND, KeyEnrollment};
use siteledger_ledger::{EventStore, IngestOutcome, Ledger};
use siteledger_signer::SigningKey;

use crate::common::{Backend, Sqlite, config, new_id};

fn platform_enrolment(key: &SigningKey) -> KeyEnrollment {
    KeyEnrollment {
        key_id: key.key_id().to_string(),
        public_key: key.public().to_base64(),
        subject: "test.siteledger.example/log vault audit".into(),
        role: "platform".into(),
        valid_from: "2000-01-01T00:00:00+08:00".into(),
        valid_until: None,
    }
}

/// The configured key is enrolled by the system key when the ledger opens, can sign at once, and is not enrolled
/// again when the ledger reopens on the same store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_key_enrols_configured_platform_keys_once() {
    let backend = Sqlite::new();
    let audit = SigningKey::from_seed(&[0x44; 32]);
    let mut c = config();
    c.system_enrolments = vec![platform_enrolment(&audit)];
    let system_id = c.system_key.key_id().to_string();
    let l = Ledger::open(backend.open().await, c).await.expect("open");
    let keys = l.store().keys().await.expect("keys");
    let k = keys.iter().find(|k| k.key_id == audit.key_id().to_string()).expect("enrolled at open");
    assert_eq!(k.role, "platform");
    let enrolment = l.store().events_by_id(&[k.enrolled_by]).await.expect("read");
    assert_eq!((enrolment[0].kind.as_str(), enrolment[0].signer.as_str()), (KEY_ENROLLED_KIND, system_id.as_str()));
    let mut signer = KeyedChain::new(SigningKey::from_seed(&[0x44; 32]));
    let env = signer
        .sign(new_id(), "vault/access/x", "test.v1", "2026-11-24T10:15:00+08:00", serde_json::Map::new())
        .expect("sign");
    assert!(matches!(l.ingest(vec![env]).await.expect("ingest")[0], IngestOutcome::Accepted { .. }));
    let head = l.head();
    drop(l);

    let mut c = config();
    c.system_enrolments = vec![platform_enrolment(&audit)];
    let l = Ledger::open(backend.open().await, c).await.expect("reopen");
    assert_eq!(l.head(), head, "nothing enrolled twice");
    let enrolments = l.read_all(0, 1000).await.expect("read");
    assert_eq!(enrolments.iter().filter(|e| e.kind == KEY_ENROLLED_KIND).count(), 2, "genesis and the platform key");
}
