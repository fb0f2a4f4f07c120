//! The court report (`siteledger_signer::court`) of real verifications of the committed vectors: the verdict, every
//! check by its Chinese name, the witnesses and the policy, the timestamps, all taken from the verifier's report;
//! a failing verification reported as failed; everything from the bundle escaped in the HTML; a PDF whose
//! cross-reference table points at its objects; and `siteledger-verify --report-html/--report-pdf`.

use serde_json::Value;
use siteledger_signer::bundle::{CheckKind, Report, verify_timestamped};
use siteledger_signer::cosignature::{WitnessPolicy, WitnessVerifier};
use siteledger_signer::court::{CourtReport, TrustInputs, court_report, key_fingerprint};
use siteledger_signer::note::NoteVerifier;
use siteledger_signer::timestamp::roots_from_pem;

use crate::vectors::vectors_dir;

fn read(name: &str) -> Vec<u8> {
    std::fs::read(vectors_dir().join(name)).expect("committed vector")
}

fn log_key(bundle: &[u8]) -> NoteVerifier {
    let v: Value = serde_json::from_slice(bundle).expect("json");
    NoteVerifier::parse(v["log_key"].as_str().expect("log_key")).expect("log key")
}

/// The three witnesses of `cosignature-v1.json` (w1 and w2 cosigned the v1.2 vector's checkpoint, w3 did not).
fn witnesses() -> Vec<WitnessVerifier> {
    let v: Value = serde_json::from_slice(&read("cosignature-v1.json")).expect("json");
    v["witnesses"]
        .as_array()
        .expect("witnesses")
        .iter()
        .map(|w| WitnessVerifier::parse(w["vkey"].as_str().expect("vkey")).expect("witness key"))
        .collect()
}

fn trust<'a>(key: &'a NoteVerifier, policy: Option<&'a WitnessPolicy>) -> TrustInputs<'a> {
    TrustInputs {
        log_key: key,
        policy,
        tsa_roots: None,
        bundle_file: "bundle.json",
        attachments_dir: None,
        tsa_root_file: None,
        verified_at: Some("2026-12-07T08:00:00+08:00"),
    }
}

/// Hex of the UCS-2 codes of `s`, as the PDF's text operators write it.
fn pdf_hex(s: &str) -> String {
    s.encode_utf16().map(|u| format!("{u:04X}")).collect()
}

/// The PDF's structure: header, every cross-reference entry at its object, a trailer, as many page objects as
/// `/Count` says. Returns the page count.
fn check_pdf(pdf: &[u8]) -> usize {
    assert!(pdf.starts_with(b"%PDF-1.7\n"), "header");
    assert!(pdf.ends_with(b"%%EOF\n"), "trailer");
    let text = String::from_utf8_lossy(pdf);
    let start: usize =
        text.rsplit("startxref\n").next().and_then(|t| t.lines().next()).expect("startxref").parse().expect("offset");
    // Offsets count bytes (the header's binary comment is not UTF-8): index the bytes, not the text.
    let xref = String::from_utf8_lossy(&pdf[start..]);
    assert!(xref.starts_with("xref\n0 "), "startxref points at the xref table");
    let n: usize = xref.lines().nth(1).and_then(|l| l.split(' ').nth(1)).expect("size").parse().expect("n");
    for (i, line) in xref.lines().skip(3).take(n - 1).enumerate() {
        let off: usize = line[..10].parse().expect("offset");
        let obj = format!("{} 0 obj\n", i + 1);
        assert!(pdf[off..].starts_with(obj.as_bytes()), "xref entry {} points at its object", i + 1);
    }
    let pages = text.matches("/Type /Page ").count();
    assert!(text.contains(&format!("/Count {pages} ")), "page count");
    pages
}

fn all_kinds_named(html: &str, report: &Report) {
    for c in &report.checks {
        assert!(html.contains(c.check.zh()), "{} missing", c.check.zh());
    }
}

#[test]
fn a_witnessed_bundle_reports_each_check_the_witnesses_and_the_policy() {
    let bytes = read("bundle-v1.2.json");
    let key = log_key(&bytes);
    let policy = WitnessPolicy::new(witnesses(), 2).expect("policy");
    let report = verify_timestamped(&bytes, &key, None, Some(&policy), None);
    assert!(report.ok);
    let court = court_report(&bytes, &report, &trust(&key, Some(&policy)));
    assert!(court.ok);
    let html = court.to_html();
    assert!(html.contains("核验结论：通过") && html.contains("VERDICT: PASSED"), "verdict");
    all_kinds_named(&html, &report);
    assert!(html.contains(&format!("全部 {} 项核验通过", report.checks.len())));
    for w in ["witness.example/w1", "witness.example/w2", "witness.example/w3"] {
        assert!(html.contains(w), "{w}");
    }
    // w3 is named by the verifier but did not cosign; the 2-of-3 policy is met.
    assert_eq!(html.matches("已联署 cosigned").count(), 2);
    assert_eq!(html.matches("未联署 not cosigned").count(), 1);
    assert!(html.contains("见证人策略（需 2 / 3 个联署）：满足"));
    // Records with their enrolment subjects, the checkpoint, the rules, the re-run command with the fingerprint.
    for r in &report.records {
        assert!(html.contains(&r.id) && html.contains(&r.kind));
    }
    assert!(html.contains("登记已核验"));
    assert!(html.contains(report.root_hash.as_deref().expect("root")));
    assert!(html.contains("第十六条") && html.contains("第十七条") && html.contains("第十一条"));
    assert!(html.contains("核验不能证明的事项"));
    assert!(html.contains(&key_fingerprint(&key.vkey())));
    assert!(html.contains("siteledger-verify bundle.json --log-key"));
    assert!(html.contains("--witness-threshold 2"));
    // Self-contained: no script, no external resource.
    let lower = html.to_lowercase();
    assert!(
        !lower.contains("<script") && !lower.contains("src=") && !lower.contains("href=") && !lower.contains("url(")
    );

    let pdf = court.to_pdf();
    assert!(check_pdf(&pdf) >= 2, "several pages");
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/BaseFont /STSong-Light") && text.contains("/Encoding /UniGB-UCS2-H"));
    for needle in ["核验结论：通过。", "见证人策略", "witness.example/w3", "十七条"] {
        assert!(text.contains(&pdf_hex(needle)), "PDF lacks {needle}");
    }
    // The same inputs give the same bytes (a pure function).
    assert_eq!(court_report(&bytes, &report, &trust(&key, Some(&policy))).to_pdf(), pdf);
}

#[test]
fn a_failed_verification_is_reported_as_failed_naming_the_checks() {
    let bytes = read("bundle-v1.2.json");
    let key = log_key(&bytes);
    // All three witnesses demanded: w3 never cosigned.
    let policy = WitnessPolicy::new(witnesses(), 3).expect("policy");
    let report = verify_timestamped(&bytes, &key, None, Some(&policy), None);
    assert!(!report.ok);
    let html = court_report(&bytes, &report, &trust(&key, Some(&policy))).to_html();
    assert!(html.contains("核验结论：未通过。1 项核验未通过") && html.contains("VERDICT: FAILED"), "verdict");
    assert!(html.contains("见证人策略（需 3 / 3 个联署）：不满足"));

    // One byte of the file changed: the format check fails and nothing is claimed about the records.
    let mut altered = bytes.clone();
    let at = altered.len() / 2;
    altered[at] ^= 0x01;
    let report = verify_timestamped(&altered, &key, None, None, None);
    assert!(!report.ok);
    let court = court_report(&altered, &report, &trust(&key, None));
    assert!(!court.ok);
    let html = court.to_html();
    assert!(html.contains("核验结论：未通过") && html.contains(CheckKind::BundleFormat.zh()));
    assert!(!html.contains("核验结论：通过"));
    check_pdf(&court.to_pdf());
}

#[test]
fn everything_from_the_bundle_is_escaped() {
    let bytes = read("bundle-v1.2.json");
    let key = log_key(&bytes);
    let mut report = verify_timestamped(&bytes, &key, None, None, None);
    report.records[0].stream = "<script>alert('x')</script>".into();
    report.checks[0].detail = "a & b <img src=x onerror=alert(1)>".into();
    let html = court_report(&bytes, &report, &trust(&key, None)).to_html();
    assert!(!html.contains("<script") && !html.contains("<img"), "unescaped markup");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("a &amp; b &lt;img src=x onerror=alert(1)&gt;"));
}

#[test]
fn a_timestamped_bundle_reports_the_tsa_time_and_the_chain_and_the_verifier_writes_both_files() {
    let bytes = read("bundle-v1.3.json");
    let key = log_key(&bytes);
    let roots = roots_from_pem(&read("tsa-root-v1.3.pem")).expect("root");
    let report = verify_timestamped(&bytes, &key, None, None, Some(&roots));
    assert!(report.ok);
    let mut t = trust(&key, None);
    t.tsa_roots = Some(&roots);
    t.tsa_root_file = Some("tsa-root.pem");
    let court: CourtReport = court_report(&bytes, &report, &t);
    let html = court.to_html();
    assert!(html.contains("是：链接到给定根证书"), "chain");
    assert!(html.contains("--tsa-root tsa-root.pem"));
    let detail = &report.checks.iter().find(|c| c.check == CheckKind::Timestamp).expect("timestamp").detail;
    // The genTime the verifier reported is the one the report shows.
    let gen_time = detail.split("time-stamped at ").nth(1).and_then(|s| s.split(' ').next()).expect("genTime");
    assert!(html.contains(gen_time), "{gen_time}");
    check_pdf(&court.to_pdf());

    // Without the root the same token is shown as not anchored.
    let report = verify_timestamped(&bytes, &key, None, None, None);
    let html = court_report(&bytes, &report, &trust(&key, None)).to_html();
    assert!(html.contains("未检查（未给出根证书）") && !html.contains("是：链接到给定根证书"));

    // siteledger-verify --report-html --report-pdf writes the same reports (verified_at aside).
    let dir = tempfile::tempdir().expect("tmp");
    let (h, p) = (dir.path().join("r.html"), dir.path().join("r.pdf"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_siteledger-verify"))
        .arg(vectors_dir().join("bundle-v1.3.json"))
        .args(["--log-key", &key.vkey(), "--tsa-root"])
        .arg(vectors_dir().join("tsa-root-v1.3.pem"))
        .arg("--report-html")
        .arg(&h)
        .arg("--report-pdf")
        .arg(&p)
        .output()
        .expect("siteledger-verify runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&h).expect("html written");
    assert!(html.contains("核验结论：通过") && html.contains("是：链接到给定根证书") && html.contains(gen_time));
    assert!(check_pdf(&std::fs::read(&p).expect("pdf written")) >= 2);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Whatever the file (here the v1.2 vector with bytes changed), the report is made without a panic, says
    /// FAILED exactly when the verifier did, and its PDF's cross-references point at its objects.
    #[test]
    fn any_altered_bundle_gets_a_report_that_follows_the_verdict(
        flips in proptest::collection::vec((0usize..5508, 1u8..=255), 1..4)
    ) {
        let mut bytes = read("bundle-v1.2.json");
        for (at, mask) in flips {
            let i = at % bytes.len();
            bytes[i] ^= mask;
        }
        let key = log_key(&read("bundle-v1.2.json"));
        let report = verify_timestamped(&bytes, &key, None, None, None);
        let court = court_report(&bytes, &report, &trust(&key, None));
        proptest::prop_assert_eq!(court.ok, report.ok);
        let html = court.to_html();
        proptest::prop_assert_eq!(html.contains("核验结论：未通过"), !report.ok);
        check_pdf(&court.to_pdf());
    }
}
