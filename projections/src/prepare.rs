//! Preparing a batch: every stored record parsed once, into its typed event and the times every projection uses.
//!
//! A stored leaf is read once per batch: its `payload` member is taken out of the signed bytes and typed with the
//! kind's own type — a [`DomainEvent`] for the platform's kinds, a [`LedgerEvent`] (the `siteledger_ledger::system`
//! and `siteledger_signer::bundle` payload types) for the log's own `ledger.*` kinds. Projections receive these
//! typed events; none reads a payload member by name. The leaf was verified when the ledger accepted it, so it is
//! not verified (nor re-canonicalised) again here.
//!
//! A record whose payload does not type-check as its kind (a kind no code defines, or a payload older ledgers let
//! through) has no typed event: it is logged once here, the projections that need the payload skip it, and those
//! that only need the envelope (timeline, signer statistics, days with data) still count it.

use serde::Deserialize;
use serde_json::{Map, Value};
use siteledger_domain::DomainEvent;
use siteledger_ledger::StoredEvent;
use siteledger_ledger::system::{
    EQUIVOCATION_KIND, Equivocation, KEY_ENROLLED_KIND, KEY_REVOKED_KIND, KeyEnrollment, KeyRevocation,
    SIGNER_GAP_KIND, SignerGap,
};
use siteledger_signer::envelope::parse_time;

use crate::stream_project;

/// A record of one of the log's own `ledger.*` kinds, typed.
#[derive(Debug)]
pub(crate) enum LedgerEvent {
    /// `ledger.key.enrolled.v1`.
    KeyEnrolled(KeyEnrollment),
    /// `ledger.key.revoked.v1`.
    KeyRevoked(KeyRevocation),
    /// `ledger.signer.gap.v1`.
    SignerGap(SignerGap),
    /// `ledger.signer.equivocation.v1`.
    Equivocation(Equivocation),
}

/// The typed event of a record.
#[derive(Debug)]
pub(crate) enum Event {
    /// A kind the domain defines.
    Domain(DomainEvent),
    /// One of the log's own kinds.
    Ledger(LedgerEvent),
}

/// A record with what every projection needs from it, computed once per batch.
#[derive(Debug)]
pub(crate) struct Prepared<'a> {
    /// The stored record (its envelope's metadata: position, stream, kind, signer, times).
    pub(crate) e: &'a StoredEvent,
    /// Its typed event; `None` if the payload does not type-check as its kind (logged by [`prepare`]).
    pub(crate) event: Option<Event>,
    /// The signed payload, for what renders any payload generically (the timeline's one-line summary of kinds
    /// without a dedicated summary); empty if the leaf does not parse. Folds read [`Prepared::event`] instead.
    pub(crate) payload: Map<String, Value>,
    /// `occurred_at` in µs since the Unix epoch.
    pub(crate) occurred_us: i64,
    /// `occurred_at`'s day in Asia/Shanghai, `YYYY-MM-DD`.
    pub(crate) day: String,
    /// The project of a `project/<id>/…` stream.
    pub(crate) project: Option<&'a str>,
}

impl Prepared<'_> {
    /// The domain event, if the record is one.
    pub(crate) fn domain(&self) -> Option<&DomainEvent> {
        match &self.event {
            Some(Event::Domain(e)) => Some(e),
            _ => None,
        }
    }

    /// The ledger event, if the record is one.
    pub(crate) fn ledger(&self) -> Option<&LedgerEvent> {
        match &self.event {
            Some(Event::Ledger(e)) => Some(e),
            _ => None,
        }
    }
}

/// The one member of a leaf that preparing needs (the envelope's metadata is in [`StoredEvent`] already).
#[derive(Deserialize)]
struct Leaf {
    payload: Map<String, Value>,
}

/// Parses `e`'s leaf once: its payload, typed as its kind.
pub(crate) fn prepare(e: &StoredEvent) -> Prepared<'_> {
    let payload = match serde_json::from_slice::<Leaf>(&e.leaf) {
        Ok(leaf) => leaf.payload,
        Err(err) => {
            tracing::warn!(position = e.position, error = %err, "stored leaf does not parse; folding only its envelope");
            Map::new()
        }
    };
    let event = match typed(&e.kind, &payload) {
        Ok(event) => Some(event),
        Err(err) => {
            tracing::warn!(
                position = e.position,
                kind = %e.kind,
                error = %err,
                "record does not type-check as its kind; the read models keep only its envelope (timeline, signer \
                 statistics)"
            );
            None
        }
    };
    let t = parse_time(&e.occurred_at).unwrap_or(e.recorded_at);
    let occurred_us = i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(0);
    let day = crate::shanghai(t).date().to_string();
    Prepared { e, event, payload, occurred_us, day, project: stream_project(&e.stream) }
}

/// `payload` typed as `kind`.
fn typed(kind: &str, payload: &Map<String, Value>) -> Result<Event, String> {
    fn ledger<'a, T: Deserialize<'a>>(payload: &'a Map<String, Value>) -> Result<T, String> {
        T::deserialize(payload).map_err(|e| e.to_string())
    }
    Ok(match kind {
        KEY_ENROLLED_KIND => Event::Ledger(LedgerEvent::KeyEnrolled(ledger(payload)?)),
        KEY_REVOKED_KIND => Event::Ledger(LedgerEvent::KeyRevoked(ledger(payload)?)),
        SIGNER_GAP_KIND => Event::Ledger(LedgerEvent::SignerGap(ledger(payload)?)),
        EQUIVOCATION_KIND => Event::Ledger(LedgerEvent::Equivocation(ledger(payload)?)),
        _ => Event::Domain(DomainEvent::parse(kind, payload).map_err(|e| e.to_string())?),
    })
}
