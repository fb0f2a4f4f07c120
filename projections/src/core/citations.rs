//! The `citations` fold and query: which records cite which attachment (附件) by SHA-256, so the blob store can
//! serve a file to exactly the callers who may read a record citing it (docs/ATTACHMENTS.md).
//!
//! Which payload members cite files comes from the domain (`DomainEvent::cited_hashes`), the one list the
//! evidence export uses too. The fold is one insert per cited digest; most records cite none.

use serde::Serialize;

use crate::Scope;
use crate::db::{ReadDb, Sql, Tx, to_u64};
use crate::error::ProjectionError;
use crate::prepare::Prepared;
use crate::queries::project_visible;

/// Folds the batch: one row per (digest, citing record).
pub(super) async fn fold(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    for x in events {
        let Some(event) = x.domain() else { continue };
        for h in event.cited_hashes() {
            tx.execute(
                &Sql::new(
                    "INSERT INTO blob_citations (sha256, position, project_id, stream, kind) VALUES (?, ?, ?, ?, ?) \
                     ON CONFLICT (sha256, position) DO NOTHING",
                )
                .arg(h.as_str())
                .arg(x.e.position)
                .arg(x.project)
                .arg(x.e.stream.as_str())
                .arg(x.e.kind.as_str()),
            )
            .await?;
        }
    }
    Ok(())
}

/// A record citing an attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CitationRow {
    /// Log position of the citing record.
    pub position: u64,
    /// Its project (`project/<id>/…` streams).
    pub project_id: Option<String>,
    /// Its stream.
    pub stream: String,
    /// Its kind.
    pub kind: String,
}

#[derive(sqlx::FromRow)]
struct CitationDb {
    position: i64,
    project_id: Option<String>,
    stream: String,
    kind: String,
}

impl ReadDb {
    /// The records citing `sha256` that `scope` may read, oldest first (at most `limit`). A record of a project
    /// is visible as the project is; a record outside any project (a task between bureaus) only to
    /// [`Scope::All`], as [`crate::AccessCache::allows`] rules for such streams.
    pub async fn blob_citations(
        &self,
        scope: &Scope,
        sha256: &str,
        limit: u32,
    ) -> Result<Vec<CitationRow>, ProjectionError> {
        let mut q = Sql::new("SELECT position, project_id, stream, kind FROM blob_citations c WHERE c.sha256 = ");
        q.bind(sha256).push(" AND ");
        match scope {
            Scope::All => {
                q.push("1 = 1");
            }
            Scope::Nothing => return Ok(Vec::new()),
            Scope::District(_) | Scope::Enterprise(_) => {
                q.push("c.project_id IS NOT NULL AND ");
                project_visible(&mut q, scope, "c.project_id");
            }
        }
        q.push(" ORDER BY c.position LIMIT ").bind(i64::from(limit));
        let rows: Vec<CitationDb> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            .map(|r| CitationRow {
                position: to_u64(r.position),
                project_id: r.project_id,
                stream: r.stream,
                kind: r.kind,
            })
            .collect())
    }
}
