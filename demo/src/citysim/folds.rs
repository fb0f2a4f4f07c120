//! Ratings, credit and the annual report at the end of a city run (issue 16), asked of the server over HTTP as
//! the dashboard, a district bureau and the CLI ask them: each is computed from the log's first N records, resumed
//! from the rating fold's newest snapshot at or below N (the projections runtime leaves one every 16,384 records as
//! the log grows), and, with `--from-zero`, again from record 0 as an auditor asks (`from_zero=true`). Each answer's
//! `X-Fold-Resumed-From` and `X-Fold-Records` headers say where the fold started and how many records it folded;
//! the body's SHA-256 shows whether the two computations gave the same bytes.

use std::time::Instant;

use anyhow::bail;
use siteledger_api::ratings::sha256_hex;

/// One computation: what was asked, where its fold started, what it folded, how long it took, what it answered.
#[derive(Debug, Clone)]
pub struct FoldTime {
    /// What was computed, in words.
    pub what: String,
    /// Tree size N of the computation.
    pub at_size: u64,
    /// `true`: asked with `from_zero=true`.
    pub from_zero: bool,
    /// `X-Fold-Resumed-From`: the snapshot's tree size, 0 for record 0.
    pub resumed_from: u64,
    /// `X-Fold-Records`: records read and folded.
    pub folded: u64,
    /// Wall time of the request, seconds.
    pub secs: f64,
    /// SHA-256 of the body, lowercase hex.
    pub sha256: String,
    /// Body length in bytes.
    pub bytes: usize,
}

/// What to compute at the end of a run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Tree size N (the log's size once the read models caught up).
    pub at_size: u64,
    /// Year of the annual report.
    pub year: i32,
    /// As-of date of the rating decision and the credit scores, `YYYY-MM-DD`.
    pub as_of: String,
    /// The project whose rating decision is computed.
    pub project_id: String,
    /// Also fold each from record 0 (the auditor's recomputation: time proportional to N).
    pub from_zero: bool,
}

/// Computes the city's annual report, every enterprise's credit score and one project's rating decision at
/// `plan.at_size`, each resumed from the server's fold snapshots and then, if asked, from record 0.
pub async fn measure(http: &reqwest::Client, base: &str, token: &str, plan: &Plan) -> anyhow::Result<Vec<FoldTime>> {
    let n = plan.at_size;
    let asks = [
        (
            format!("annual report {} (JSON), the whole city", plan.year),
            format!("/v1/reports/annual?year={}&format=json&at_size={n}", plan.year),
        ),
        ("credit scores, every enterprise".to_owned(), format!("/v1/credit?at_size={n}&as_of={}", plan.as_of)),
        (
            format!("rating decision of {}", plan.project_id),
            format!("/v1/ratings/{}/compute?at_size={n}&as_of={}", plan.project_id, plan.as_of),
        ),
    ];
    let mut out = Vec::new();
    for (what, path) in asks {
        out.push(ask(http, base, token, &what, &path, n, false).await?);
        if plan.from_zero {
            out.push(ask(http, base, token, &what, &format!("{path}&from_zero=true"), n, true).await?);
        }
    }
    Ok(out)
}

async fn ask(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    what: &str,
    path: &str,
    at_size: u64,
    from_zero: bool,
) -> anyhow::Result<FoldTime> {
    let t = Instant::now();
    let r = http.get(format!("{base}{path}")).bearer_auth(token).send().await?;
    let status = r.status();
    let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let (resumed_from, folded) = (header("x-fold-resumed-from"), header("x-fold-records"));
    let body = r.bytes().await?;
    let secs = t.elapsed().as_secs_f64();
    if !status.is_success() {
        bail!("GET {path}: HTTP {status}: {}", String::from_utf8_lossy(&body));
    }
    let (Some(resumed_from), Some(folded)) = (resumed_from, folded) else {
        bail!("GET {path}: the answer has no X-Fold-Resumed-From / X-Fold-Records headers");
    };
    Ok(FoldTime {
        what: what.to_owned(),
        at_size,
        from_zero,
        resumed_from,
        folded,
        secs,
        sha256: sha256_hex(&body),
        bytes: body.len(),
    })
}
