//! The `keys` fold: signer keys from the typed `ledger.key.*` records, and per-signer statistics (records, last
//! sequence number, gaps, missing records, equivocations) aggregated per batch.

use std::collections::BTreeMap;

use siteledger_ledger::system::{KeyEnrollment, KeyRevocation};

use crate::db::{Arg, Sql, Tx, to_i64};
use crate::prepare::{LedgerEvent, Prepared};
use crate::stream_project;

/// The project of a key subject `project/<id>[/…]`.
pub(crate) fn subject_project(subject: &str) -> Option<String> {
    stream_project(subject).map(str::to_owned)
}

/// The organisation code of a key subject: the subject itself, or the code after `district/`, `enterprise/` or
/// `org/`; none for project-scoped subjects.
pub(crate) fn subject_org(subject: &str) -> Option<String> {
    if subject.starts_with("project/") {
        return None;
    }
    for prefix in ["district/", "enterprise/", "org/"] {
        if let Some(rest) = subject.strip_prefix(prefix) {
            return rest.split('/').next().filter(|s| !s.is_empty()).map(str::to_owned);
        }
    }
    Some(subject.to_owned())
}

#[derive(Default)]
struct SignerAgg {
    records: i64,
    last: Option<(u64, String, u64)>,
    gaps: i64,
    missing: i64,
    equivocations: i64,
}

/// Folds the batch: every record counts for its signer; enrolments and revocations change `signer_keys`; gap and
/// equivocation notices count against the key they name.
pub(super) async fn fold(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    let mut agg: BTreeMap<String, SignerAgg> = BTreeMap::new();
    for x in events {
        let e = x.e;
        let a = agg.entry(e.signer.clone()).or_default();
        a.records += 1;
        a.last = Some((e.position, e.occurred_at.clone(), e.signer_seq));
        match x.ledger() {
            Some(LedgerEvent::KeyEnrolled(k)) => enrolled(tx, x, k).await?,
            Some(LedgerEvent::KeyRevoked(r)) => revoked(tx, x, r).await?,
            Some(LedgerEvent::SignerGap(g)) => {
                let a = agg.entry(g.key_id.clone()).or_default();
                a.gaps += 1;
                a.missing = a.missing.saturating_add(to_i64(g.missing));
            }
            Some(LedgerEvent::Equivocation(q)) => agg.entry(q.key_id.clone()).or_default().equivocations += 1,
            None => {}
        }
    }
    write_stats(tx, agg).await
}

async fn enrolled(tx: &mut Tx, x: &Prepared<'_>, k: &KeyEnrollment) -> Result<(), sqlx::Error> {
    let e = x.e;
    tx.execute(
        &Sql::new(
            "INSERT INTO signer_keys (key_id, public_key, subject, role, valid_from, valid_until, \
             subject_project, subject_org, enrolled_by, enrolled_event_id, position) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (key_id) DO UPDATE SET public_key = excluded.public_key, \
             subject = excluded.subject, role = excluded.role, valid_from = excluded.valid_from, \
             valid_until = excluded.valid_until, subject_project = excluded.subject_project, \
             subject_org = excluded.subject_org, enrolled_by = excluded.enrolled_by, \
             enrolled_event_id = excluded.enrolled_event_id, position = excluded.position",
        )
        .arg(k.key_id.as_str())
        .arg(k.public_key.as_str())
        .arg(k.subject.as_str())
        .arg(k.role.as_str())
        .arg(k.valid_from.as_str())
        .arg(k.valid_until.as_deref())
        .arg(subject_project(&k.subject))
        .arg(subject_org(&k.subject))
        .arg(e.signer.as_str())
        .arg(e.event_id.to_string())
        .arg(e.position),
    )
    .await?;
    Ok(())
}

async fn revoked(tx: &mut Tx, x: &Prepared<'_>, r: &KeyRevocation) -> Result<(), sqlx::Error> {
    tx.execute(
        &Sql::new(
            "UPDATE signer_keys SET revoked_at = ?, revoked_reason = ?, revoked_position = ? \
             WHERE key_id = ?",
        )
        .arg(r.revoked_at.as_str())
        .arg(r.reason.as_str())
        .arg(x.e.position)
        .arg(r.key_id.as_str()),
    )
    .await?;
    Ok(())
}

/// Adds the batch's counts to each signer's row, many signers per statement (in a city each site's gateway signs
/// with its own key, so a batch touches about as many signers as it holds records).
async fn write_stats(tx: &mut Tx, agg: BTreeMap<String, SignerAgg>) -> Result<(), sqlx::Error> {
    let rows = agg
        .into_iter()
        .map(|(key_id, a)| {
            let (last_pos, last_at, last_seq) = match a.last {
                Some((p, at, s)) => (to_i64(p), at, to_i64(s)),
                None => (-1, String::new(), 0),
            };
            vec![
                Arg::from(key_id),
                Arg::from(a.records),
                Arg::from(last_pos),
                Arg::from(last_at),
                Arg::from(last_seq),
                Arg::from(a.gaps),
                Arg::from(a.missing),
                Arg::from(a.equivocations),
            ]
        })
        .collect();
    tx.execute_rows(
        "INSERT INTO signer_stats (key_id, records, last_position, last_occurred_at, last_seq, gaps, missing, \
         equivocations)",
        "ON CONFLICT (key_id) DO UPDATE SET records = signer_stats.records + excluded.records, \
         last_position = CASE WHEN excluded.last_position > signer_stats.last_position \
           THEN excluded.last_position ELSE signer_stats.last_position END, \
         last_occurred_at = CASE WHEN excluded.last_position > signer_stats.last_position \
           THEN excluded.last_occurred_at ELSE signer_stats.last_occurred_at END, \
         last_seq = CASE WHEN excluded.last_position > signer_stats.last_position \
           THEN excluded.last_seq ELSE signer_stats.last_seq END, \
         gaps = signer_stats.gaps + excluded.gaps, missing = signer_stats.missing + excluded.missing, \
         equivocations = signer_stats.equivocations + excluded.equivocations",
        rows,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{subject_org, subject_project};

    #[test]
    fn subjects() {
        assert_eq!(subject_project("project/P1/gw-1").as_deref(), Some("P1"));
        assert_eq!(subject_project("project/P1").as_deref(), Some("P1"));
        assert_eq!(subject_project("gateway-1"), None);
        assert_eq!(subject_org("330212").as_deref(), Some("330212"));
        assert_eq!(subject_org("district/330212").as_deref(), Some("330212"));
        assert_eq!(subject_org("enterprise/91330200X/ops").as_deref(), Some("91330200X"));
        assert_eq!(subject_org("project/P1/gw"), None);
    }
}
