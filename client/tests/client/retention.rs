//! Local copies of attached files are pruned once the platform holds them and the retention period has passed,
//! never while a queued or parked record still cites them (real SQLite queue, real files).

use std::time::Duration;

use serde_json::{Value, json};
use siteledger_client::blobs::LocalBlobs;
use siteledger_client::idempotency::sha256_hex;
use siteledger_client::outbox::Outbox;
use siteledger_client::record::Record;
use siteledger_client::retention::{Pruned, prune_blobs};
use siteledger_signer::SigningKey;
use time::OffsetDateTime;

const DAY: Duration = Duration::from_secs(86_400);

fn model_record(model_id: &str, sha: &str) -> Record {
    let payload = json!({"project_id": "NB-2026-0001", "model_id": model_id, "version": 1, "sha256": sha,
                         "format": "ifc", "file_name": format!("{model_id}.ifc")});
    let Value::Object(payload) = payload else { unreachable!("an object") };
    Record::parts("bim.model.registered.v1", "project/NB-2026-0001/supervision", "2026-11-24T10:00:00+08:00", payload)
}

#[tokio::test]
async fn a_file_the_platform_holds_is_pruned_after_the_period_but_never_while_a_queued_record_cites_it() {
    let dir = tempfile::tempdir().expect("dir");
    let (outbox, handle) =
        Outbox::open(&dir.path().join("queue.db"), SigningKey::from_seed(&[7; 32]), u64::MAX).await.expect("open");
    let blobs = LocalBlobs::open(&dir.path().join("blobs")).expect("blobs");
    let uploaded =
        blobs.put(b"ISO-10303-21;\nHEADER;\n/* uploaded, its record taken */\nEND-ISO-10303-21;\n").expect("put");
    let pending =
        blobs.put(b"ISO-10303-21;\nHEADER;\n/* its record still queued */\nEND-ISO-10303-21;\n").expect("put");
    let unsent = blobs.put(b"ISO-10303-21;\nHEADER;\n/* never sent */\nEND-ISO-10303-21;\n").expect("put");
    // The record citing `uploaded` went through: the platform took file and record (settled).
    let done = handle.submit(model_record("ARCH", &uploaded.sha256)).await.expect("stored");
    outbox.mark_blob_sent(&uploaded.sha256).await.expect("sent");
    outbox.settle(&[done], &[]).await.expect("settle");
    // The record citing `pending` is still queued although its file reached the platform.
    handle.submit(model_record("MEP", &pending.sha256)).await.expect("stored");
    outbox.mark_blob_sent(&pending.sha256).await.expect("sent");

    let now = OffsetDateTime::now_utc();
    assert_eq!(
        prune_blobs(&outbox, &blobs, 7 * DAY, now).await.expect("prune"),
        Pruned::default(),
        "within the period"
    );
    let later = now + 8 * DAY;
    let pruned = prune_blobs(&outbox, &blobs, 7 * DAY, later).await.expect("prune");
    assert_eq!(pruned, Pruned { files: 1, bytes: uploaded.bytes });
    assert!(!blobs.contains(&uploaded.sha256), "the platform holds it and nothing queued cites it");
    assert!(blobs.contains(&pending.sha256), "a queued record still cites it");
    assert!(blobs.contains(&unsent.sha256), "the platform never answered for it");
    assert!(!outbox.blob_sent(&uploaded.sha256).await.expect("row"), "posted again later, it is sent again");
    assert_eq!(outbox.blobs_sent_count().await.expect("count"), 1, "the pending file's row is kept");

    // Rejected by the platform, the record is parked (retried later): its file is kept while it stays parked.
    let parked = outbox.peek(10).await.expect("peek");
    outbox.settle(&[], &[(parked[0].seq, "unknown_key".into(), "not enrolled yet".into())]).await.expect("park");
    assert_eq!(prune_blobs(&outbox, &blobs, 7 * DAY, later).await.expect("prune").files, 0);
    assert!(blobs.contains(&pending.sha256), "a parked record still cites it");
    // Taken at last: the next pass after the period removes it.
    outbox.settle(&[parked[0].seq], &[]).await.expect("done");
    assert_eq!(prune_blobs(&outbox, &blobs, 7 * DAY, later).await.expect("prune").files, 1);
    assert!(!blobs.contains(&pending.sha256));
    assert_eq!(sha256_hex(&blobs.read(&unsent.sha256).expect("read").expect("held")), unsent.sha256);
}

#[tokio::test]
async fn a_queue_from_before_sent_times_keeps_its_files_one_full_period_after_the_upgrade() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("queue.db");
    let blobs = LocalBlobs::open(&dir.path().join("blobs")).expect("blobs");
    let file = blobs.put(b"%PDF-1.4\n% sent by an older agent\n").expect("put");
    {
        // The table as the first release created it: no sent time.
        let pool = sqlx::SqlitePool::connect_with(
            sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true),
        )
        .await
        .expect("db");
        sqlx::query("CREATE TABLE blobs_sent (sha256 TEXT PRIMARY KEY) WITHOUT ROWID").execute(&pool).await.expect("t");
        sqlx::query("INSERT INTO blobs_sent (sha256) VALUES (?)").bind(&file.sha256).execute(&pool).await.expect("row");
        pool.close().await;
    }
    let (outbox, _handle) = Outbox::open(&path, SigningKey::from_seed(&[7; 32]), u64::MAX).await.expect("open");
    assert!(outbox.blob_sent(&file.sha256).await.expect("row"), "the old row survives the upgrade");
    let now = OffsetDateTime::now_utc();
    assert_eq!(prune_blobs(&outbox, &blobs, 7 * DAY, now + 6 * DAY).await.expect("prune").files, 0);
    assert_eq!(prune_blobs(&outbox, &blobs, 7 * DAY, now + 8 * DAY).await.expect("prune").files, 1);
}
