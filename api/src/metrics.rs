//! `/metrics` in the Prometheus text format: ingest counters, rejections by reason, ledger and checkpoint state,
//! projection lag, feed subscribers and HTTP requests. Counters are kept per server instance (no global recorder,
//! so several servers can run in one test process).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use siteledger_domain::wire::{ItemResult, ItemStatus};

/// Counters owned by the HTTP layer.
#[derive(Debug, Default)]
pub struct Metrics {
    ingest_requests: AtomicU64,
    items_accepted: AtomicU64,
    items_duplicate: AtomicU64,
    rejections: Mutex<BTreeMap<String, u64>>,
    http: Mutex<BTreeMap<(String, u16), u64>>,
}

impl Metrics {
    /// Counts one ingest request's results.
    pub fn record_ingest(&self, results: &[ItemResult]) {
        self.ingest_requests.fetch_add(1, Ordering::Relaxed);
        let mut rej = self.rejections.lock().unwrap_or_else(|p| p.into_inner());
        for r in results {
            match r.status {
                ItemStatus::Accepted => {
                    self.items_accepted.fetch_add(1, Ordering::Relaxed);
                }
                ItemStatus::Duplicate => {
                    self.items_duplicate.fetch_add(1, Ordering::Relaxed);
                }
                ItemStatus::Rejected => *rej.entry(r.code.clone().unwrap_or_default()).or_default() += 1,
            }
        }
    }

    /// Counts one HTTP response.
    pub fn record_http(&self, route: &str, status: u16) {
        *self.http.lock().unwrap_or_else(|p| p.into_inner()).entry((route.to_owned(), status)).or_default() += 1;
    }

    /// Renders the exposition text. `gauges` are name → (help, value).
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut s = String::new();
        let counter = |s: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            &mut s,
            "siteledger_ingest_requests_total",
            "POST /v1/events requests answered.",
            self.ingest_requests.load(Ordering::Relaxed),
        );
        counter(
            &mut s,
            "siteledger_ingest_accepted_total",
            "Records accepted through the API.",
            self.items_accepted.load(Ordering::Relaxed),
        );
        counter(
            &mut s,
            "siteledger_ingest_duplicates_total",
            "Records answered as duplicates.",
            self.items_duplicate.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            s,
            "# HELP siteledger_ingest_rejections_total Records rejected, by reason.\n# TYPE siteledger_ingest_rejections_total counter"
        );
        for (reason, n) in self.rejections.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(s, "siteledger_ingest_rejections_total{{reason=\"{}\"}} {n}", escape(reason));
        }
        let _ = writeln!(
            s,
            "# HELP siteledger_http_responses_total HTTP responses by route and status.\n# TYPE siteledger_http_responses_total counter"
        );
        for ((route, status), n) in self.http.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ =
                writeln!(s, "siteledger_http_responses_total{{route=\"{}\",status=\"{status}\"}} {n}", escape(route));
        }
        for (name, help, v) in gauges {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        s
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
