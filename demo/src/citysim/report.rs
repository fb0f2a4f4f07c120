//! What the city simulation measured, and how it is shown: the server's gauges and files, the process's memory,
//! and the Markdown table and CSV of samples.

use std::fmt::Write;
use std::path::Path;

use super::{CityArgs, Outcome, Sample, Target};
use crate::bench::{Ctx, QueryRow, Summary, ms, query_table};

/// `siteledger_ledger_size` and `siteledger_projection_lag` from `/metrics`.
pub async fn metrics(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<(f64, f64)> {
    let text = http.get(format!("{base}/metrics")).bearer_auth(token).send().await?.text().await?;
    let gauge = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(f64::NAN)
    };
    Ok((gauge("siteledger_ledger_size"), gauge("siteledger_projection_lag")))
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// `ledger.db-wal` and `read.db-wal` sizes in `dir`.
pub fn wal_sizes(dir: &Path) -> (u64, u64) {
    (size(&dir.join("ledger.db-wal")), size(&dir.join("read.db-wal")))
}

/// (VmRSS, VmHWM) in bytes of process `pid`, or of this process.
pub fn rss(pid: Option<u32>) -> (u64, u64) {
    let path = pid.map_or_else(|| "/proc/self/status".to_owned(), |p| format!("/proc/{p}/status"));
    let Ok(text) = std::fs::read_to_string(path) else { return (0, 0) };
    let kb = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |k| k * 1024)
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

/// The server's files at the end.
#[derive(Debug, Default)]
pub struct Files {
    /// (name, bytes).
    pub files: Vec<(String, u64)>,
    /// The PostgreSQL store's database size, when the store is PostgreSQL.
    pub pg_bytes: Option<u64>,
    /// Bytes of the event store (SQLite: ledger.db + its WAL; PostgreSQL: the database).
    pub store_bytes: u64,
    /// Bytes of the read models (SQLite read.db + WAL).
    pub read_bytes: u64,
}

impl Files {
    /// Measures the files in `dir` and, for a PostgreSQL `store_url`, the database size.
    pub async fn measure(dir: Option<&Path>, store_url: Option<&str>) -> Files {
        let mut f = Files::default();
        if let Some(dir) = dir {
            for name in ["ledger.db", "ledger.db-wal", "read.db", "read.db-wal", "auth.db", "vault.db"] {
                let p = dir.join(name);
                if p.exists() {
                    f.files.push((name.to_owned(), size(&p)));
                }
            }
            let (l, lw) = (size(&dir.join("ledger.db")), size(&dir.join("ledger.db-wal")));
            f.store_bytes = l + lw;
            f.read_bytes = size(&dir.join("read.db")) + size(&dir.join("read.db-wal"));
        }
        if let Some(url) = store_url.filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://")) {
            match pg_size(url).await {
                Ok(b) => {
                    f.pg_bytes = Some(b);
                    f.store_bytes = b;
                }
                Err(e) => eprintln!("city: pg_database_size: {e}"),
            }
        }
        f
    }
}

async fn pg_size(url: &str) -> anyhow::Result<u64> {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await?;
    let (n,): (i64,) = sqlx::query_as("SELECT pg_database_size(current_database())").fetch_one(&mut c).await?;
    c.close().await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// A bench context for the query phase.
pub(crate) fn query_ctx(target: &Target) -> anyhow::Result<Ctx> {
    Ctx::reader(&target.url, target.token.clone())
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

/// Lag quantiles over samples: (p50, p99, max).
pub fn lag_quantiles(samples: &[Sample]) -> (f64, f64, f64) {
    let mut v: Vec<f64> = samples.iter().map(|s| s.lag).filter(|l| l.is_finite()).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (q(0.5), q(0.99), v[v.len() - 1])
}

/// The highest log growth over any `window` seconds of samples, records/s.
pub fn peak_rate(samples: &[Sample], window: f64) -> f64 {
    let mut best = 0.0f64;
    for (i, a) in samples.iter().enumerate() {
        if let Some(b) = samples[i..].iter().find(|b| b.wall - a.wall >= window) {
            let r = (b.log_size - a.log_size) / (b.wall - a.wall);
            if r.is_finite() {
                best = best.max(r);
            }
        }
    }
    best
}

/// The report as Markdown.
pub(crate) fn markdown(
    args: &CityArgs,
    target: &Target,
    o: &Outcome,
    files: &Files,
    query: Option<Vec<QueryRow>>,
) -> String {
    let mut s = String::new();
    let during: Vec<Sample> = o.samples.iter().copied().filter(|x| x.wall <= o.wall_secs).collect();
    let (p50, p99, max) = lag_quantiles(&during);
    let lat = Summary::of_micros(o.request_micros.clone());
    let log_end = o.samples.last().map_or(f64::NAN, |x| x.log_size);
    let peak_rss = if target.in_process { rss(None).1 } else { rss(target.server_pid).1 };
    let max_wal = o.samples.iter().map(|x| x.ledger_wal).max().unwrap_or(0);
    let max_read_wal = o.samples.iter().map(|x| x.read_wal).max().unwrap_or(0);
    let speed = args
        .speed
        .map_or_else(|| "as fast as the server takes it".to_owned(), |v| format!("{v} simulated s per wall s"));
    let _ = writeln!(
        s,
        "<!-- siteledger simulate city: {} projects, {} workers; window {} + {:.0} simulated s; {speed}; batches of {} simulated s per agent; {} -->",
        args.projects,
        o.workers,
        super::model::cst(o.window_start),
        o.sim_secs,
        args.batch_secs,
        if target.in_process { "in-process server (own 2-worker runtime)" } else { "server at --url" }
    );
    let _ = writeln!(s, "\n| figure | value |\n|---|---:|");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(s, "| {k} | {v} |");
    };
    row("setup records (registry, keys, workers), before the window", format!("{} in {:.1} s", o.setup.0, o.setup.1));
    row("records posted in the window", format!("{}", o.posted));
    row(
        "accepted / duplicates / refused",
        format!("{} / {} / {}", o.accepted, o.duplicates, o.refusals.by_code.values().sum::<u64>()),
    );
    row(
        "simulated time covered / wall time",
        format!("{:.0} s / {:.1} s (×{:.1})", o.sim_secs, o.wall_secs, o.sim_secs / o.wall_secs.max(1e-9)),
    );
    row(
        "ingest, sustained (accepted ÷ wall time of the window)",
        format!("{:.0} records/s", o.accepted as f64 / o.wall_secs.max(1e-9)),
    );
    row("ingest, peak (log growth over 10 s)", format!("{:.0} records/s", peak_rate(&o.samples, 10.0)));
    row("requests / p50 / p99 / max", format!("{} / {} / {} / {}", lat.n, ms(lat.p50), ms(lat.p99), ms(lat.max)));
    row(
        "projection lag while posting: p50 / p99 / max (records, 1 s samples)",
        format!("{p50:.0} / {p99:.0} / {max:.0}"),
    );
    row(
        "read models caught up after the last post",
        o.drain_secs.map_or_else(|| "not within the limit".to_owned(), |d| format!("{d:.1} s")),
    );
    row("log size at the end", format!("{log_end:.0}"));
    if let Some(cpu) = o.cpu {
        row("CPU server / client (share of all cores, posting phase)", cpu.show());
    }
    for (name, b) in &files.files {
        row(&format!("`{name}` at the end"), mb(*b));
    }
    if let Some(b) = files.pg_bytes {
        row("PostgreSQL database (`pg_database_size`)", mb(b));
    }
    if max_wal > 0 || max_read_wal > 0 {
        row("largest `ledger.db-wal` / `read.db-wal` seen", format!("{} / {}", mb(max_wal), mb(max_read_wal)));
    }
    if log_end.is_finite() && log_end > 0.0 {
        row(
            "bytes per record: event store / read models",
            format!("{:.0} / {:.0}", files.store_bytes as f64 / log_end, files.read_bytes as f64 / log_end),
        );
    }
    if peak_rss > 0 {
        let who = if target.in_process {
            "peak RSS (process: server and simulator)"
        } else {
            "peak RSS of the server (VmHWM)"
        };
        row(who, mb(peak_rss));
    }
    if let Some(c) = &o.capped {
        row("stopped early", c.clone());
    }
    let _ = writeln!(s, "\n**Records by kind** (in the simulated window)\n\n| kind | records |\n|---|---:|");
    for (k, n) in &o.kinds {
        let _ = writeln!(s, "| `{k}` | {n} |");
    }
    let r = &o.refusals;
    let _ = writeln!(
        s,
        "\n**Refusals** — expected (clock-fault records beyond the skew): {}; clock-fault records beyond the skew yet accepted: {}; unexpected: {}\n",
        r.expected, r.missed, r.unexpected
    );
    if !r.by_code.is_empty() {
        let _ = writeln!(s, "| code | records |\n|---|---:|");
        for (c, n) in &r.by_code {
            let _ = writeln!(s, "| `{c}` | {n} |");
        }
    }
    for e in &r.unexpected_examples {
        let _ = writeln!(s, "- unexpected: {e}");
    }
    if !o.folds.is_empty() || o.folds_error.is_some() {
        s.push_str(&folds_table(o));
    }
    if let Some(rows) = query {
        let _ = writeln!(
            s,
            "\n**Queries at the end** — {} concurrent clients back to back, {} requests per endpoint\n",
            args.query_clients, args.query_requests
        );
        s.push_str(&query_table(rows));
    }
    s
}

/// The computations at the end: where each fold started, what it folded, its time and whether the from-zero
/// recomputation gave the same bytes.
fn folds_table(o: &Outcome) -> String {
    let mut s = String::from(
        "\n**Ratings, credit and the annual report at the end** (computed by the server from the log's first N records)\n\n\
         | computation | N | fold started at | records folded | time | body | SHA-256 | same bytes as from record 0 |\n\
         |---|---:|---:|---:|---:|---:|---|---|\n",
    );
    for f in &o.folds {
        let reference = o.folds.iter().find(|z| z.from_zero && z.what == f.what && z.at_size == f.at_size);
        let same = match reference {
            Some(z) if f.from_zero => {
                format!("(the reference{})", if z.resumed_from == 0 { "" } else { ", not from 0!" })
            }
            Some(z) => {
                if z.sha256 == f.sha256 {
                    "yes".to_owned()
                } else {
                    "**no**".to_owned()
                }
            }
            None => "not asked (`--from-zero`)".to_owned(),
        };
        let start = if f.resumed_from == 0 { "record 0".to_owned() } else { format!("snapshot at {}", f.resumed_from) };
        let _ = writeln!(
            s,
            "| {}{} | {} | {start} | {} | {:.3} s | {:.1} kB | `{}…` | {same} |",
            f.what,
            if f.from_zero { " (`from_zero=true`)" } else { "" },
            f.at_size,
            f.folded,
            f.secs,
            f.bytes as f64 / 1e3,
            f.sha256.get(..12).unwrap_or_default(),
        );
    }
    if let Some(e) = &o.folds_error {
        let _ = writeln!(s, "\nNot measured: {e}");
    }
    s
}

/// The samples as CSV.
pub fn csv(samples: &[Sample]) -> String {
    let mut s =
        String::from("wall_s,sim_s,log_size,projection_lag,accepted,ledger_wal_bytes,read_wal_bytes,rss_bytes\n");
    for x in samples {
        let _ = writeln!(
            s,
            "{:.1},{:.0},{},{},{},{},{},{}",
            x.wall, x.sim, x.log_size, x.lag, x.accepted, x.ledger_wal, x.read_wal, x.rss
        );
    }
    s
}
