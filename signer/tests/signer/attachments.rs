//! Format version 1.1 (docs/FORMAT.md §7.3): evidence packages whose records list the attachments (附件) their
//! payloads cite. The committed vectors (`attachments-v1.1.json`, `bundle-v1.1.json` and the files under
//! `attachments-v1.1/`) are regenerated from the code and compared byte for byte, every case is judged as the
//! vectors say, and the real `siteledger-verify` binary checks the package directory.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use siteledger_signer::bundle::{BUNDLE_FORMAT, BUNDLE_FORMAT_V1_1, Bundle, verify_package};
use siteledger_signer::note::NoteVerifier;
use siteledger_signer::sample::SampleLog;
use siteledger_signer::verify_bundle;

use crate::vectors::vectors_dir;

/// The two attachment files of the sample package: a (tiny) PDF test report and a PNG photo header.
fn files() -> Vec<Vec<u8>> {
    vec![
        b"%PDF-1.4\n% SiteLedger sample test report\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
            .to_vec(),
        [&b"\x89PNG\r\n\x1a\n"[..], b"\0\0\0\rIHDR sample rectification photo"].concat(),
    ]
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

struct Built {
    doc: Value,
    bundle: Vec<u8>,
    files: Vec<(String, Vec<u8>)>,
}

fn build() -> Built {
    let files: Vec<(String, Vec<u8>)> = files().into_iter().map(|f| (sha256_hex(&f), f)).collect();
    let mut hashes: Vec<String> = files.iter().map(|(h, _)| h.clone()).collect();
    hashes.sort();
    let mut log = SampleLog::new(13).expect("sample log");
    let index = log.append_finding(&hashes).expect("finding");
    let size = log.tree.size();
    let mut bundle = log.bundle(&[index], size, None).expect("bundle");
    bundle.format = BUNDLE_FORMAT_V1_1.to_owned();
    for r in &mut bundle.records {
        if r.index == index {
            r.attachments = Some(hashes.clone());
        }
    }
    let good = bundle.to_bytes();
    let vkey = log.log.verifier().vkey();

    let with = |f: &dyn Fn(&mut Bundle)| {
        let mut b = bundle.clone();
        f(&mut b);
        String::from_utf8(b.to_bytes()).expect("utf8")
    };
    let text = String::from_utf8(good.clone()).expect("utf8");
    let forged = "f".repeat(64);
    let invalid_bundles = vec![
        (
            "list_not_cited",
            with(&|b| {
                for r in &mut b.records {
                    if let Some(l) = &mut r.attachments {
                        l.push(forged.clone());
                    }
                }
            }),
            "attachment_citation",
        ),
        ("attachments_in_v1", with(&|b| b.format = BUNDLE_FORMAT.to_owned()), "bundle_format"),
        (
            "unsorted_list",
            with(&|b| {
                for r in &mut b.records {
                    if let Some(l) = &mut r.attachments {
                        l.reverse();
                    }
                }
            }),
            "bundle_format",
        ),
        ("null_list", null_list(&text), "bundle_format"),
        ("uppercase_digest", text.replacen(&hashes[0], &hashes[0].to_uppercase(), 1), "bundle_format"),
    ];
    let invalid_bundles: Vec<Value> = invalid_bundles
        .into_iter()
        .map(|(name, b, check)| {
            assert_ne!(b.as_bytes(), good.as_slice(), "case {name} changed nothing");
            json!({"name": name, "bundle": b, "must_fail": check})
        })
        .collect();
    let mut altered = files[0].1.clone();
    altered[20] ^= 0x01;
    let doc = json!({
        "description": "SiteLedger format v1.1 vectors: evidence packages with attachments (docs/FORMAT.md §7.3); see signer/tests/vectors/README.md",
        "format_version": "1.1",
        "package": {
            "bundle_file": "bundle-v1.1.json",
            "attachments_dir": "attachments-v1.1",
            "trusted_log_key": vkey,
            "record_index": index,
            "files": files.iter().map(|(h, b)| json!({"sha256": h, "content": hex::encode(b)})).collect::<Vec<_>>(),
            "valid": true,
        },
        "invalid_bundles": invalid_bundles,
        "invalid_packages": [
            {"name": "altered_file", "replace": {"name": files[0].0, "content": hex::encode(&altered)}, "must_fail": "attachment"},
            {"name": "uncited_file", "add": {"name": sha256_hex(b"not cited"), "content": hex::encode(b"not cited")}, "must_fail": "attachment"},
        ],
        "absent_files_pass": "a package without some cited file still verifies: the file is reported as not included",
    });
    Built { doc, bundle: good, files }
}

/// The bundle with its `attachments` list replaced by `null`, still in canonical form.
fn null_list(text: &str) -> String {
    let mut v: Value = serde_json::from_str(text).expect("json");
    for r in v["records"].as_array_mut().expect("records") {
        if r.get("attachments").is_some() {
            r["attachments"] = Value::Null;
        }
    }
    let mut out = String::from_utf8(siteledger_signer::canonical::to_canonical(&v)).expect("utf8");
    out.push('\n');
    out
}

fn failed(report: &siteledger_signer::bundle::Report) -> Vec<String> {
    report.failures().map(|c| serde_json::to_value(c.check).expect("name").as_str().expect("str").to_owned()).collect()
}

fn digests(files: &[(String, Vec<u8>)]) -> BTreeMap<String, [u8; 32]> {
    files.iter().map(|(n, b)| (n.clone(), Sha256::digest(b).into())).collect()
}

#[test]
fn committed_attachment_vectors_match_the_code_and_are_judged_as_they_say() {
    let built = build();
    let mut text = serde_json::to_string_pretty(&built.doc).expect("json");
    text.push('\n');
    let dir = vectors_dir();
    let files_dir = dir.join("attachments-v1.1");
    if std::env::var_os("SITELEDGER_UPDATE_VECTORS").is_some() {
        std::fs::create_dir_all(&files_dir).expect("dir");
        std::fs::write(dir.join("attachments-v1.1.json"), &text).expect("write");
        std::fs::write(dir.join("bundle-v1.1.json"), &built.bundle).expect("write");
        for (h, b) in &built.files {
            std::fs::write(files_dir.join(h), b).expect("write");
        }
    }
    let committed = std::fs::read_to_string(dir.join("attachments-v1.1.json"))
        .expect("vectors committed (run with SITELEDGER_UPDATE_VECTORS=1 once)");
    assert_eq!(committed, text, "format vectors changed: a format change needs a version bump");
    assert_eq!(std::fs::read(dir.join("bundle-v1.1.json")).expect("bundle"), built.bundle);
    for (h, b) in &built.files {
        assert_eq!(&std::fs::read(files_dir.join(h)).expect("attachment committed"), b);
    }
    let vkey = NoteVerifier::parse(built.doc["package"]["trusted_log_key"].as_str().expect("key")).expect("vkey");

    // The package verifies, with and without its files; without the directory the files are not looked at.
    let all = digests(&built.files);
    let report = verify_package(&built.bundle, &vkey, Some(&all));
    assert!(report.ok, "{}", report.to_text());
    assert_eq!(report.attachments.len(), 2);
    assert!(report.attachments.iter().all(|a| a.status == siteledger_signer::bundle::AttachmentStatus::Verified));
    let report = verify_bundle(&built.bundle, &vkey);
    assert!(report.ok && report.attachments.is_empty(), "{}", report.to_text());
    let one = digests(&built.files[1..]);
    let report = verify_package(&built.bundle, &vkey, Some(&one));
    assert!(report.ok, "an absent file is not a failure: {}", report.to_text());
    assert!(report.attachments.iter().any(|a| a.status == siteledger_signer::bundle::AttachmentStatus::Absent));

    for case in built.doc["invalid_bundles"].as_array().expect("cases") {
        let report = verify_package(case["bundle"].as_str().expect("bundle").as_bytes(), &vkey, Some(&all));
        let f = failed(&report);
        assert!(
            !report.ok && f.iter().any(|c| c == case["must_fail"].as_str().expect("check")),
            "{}: {f:?}",
            case["name"]
        );
    }
    for case in built.doc["invalid_packages"].as_array().expect("cases") {
        let mut files = built.files.clone();
        if let Some(r) = case.get("replace") {
            let name = r["name"].as_str().expect("name");
            let content = hex::decode(r["content"].as_str().expect("content")).expect("hex");
            files.iter_mut().filter(|(n, _)| n == name).for_each(|(_, b)| *b = content.clone());
        }
        if let Some(a) = case.get("add") {
            files.push((
                a["name"].as_str().expect("name").to_owned(),
                hex::decode(a["content"].as_str().expect("content")).expect("hex"),
            ));
        }
        let report = verify_package(&built.bundle, &vkey, Some(&digests(&files)));
        let f = failed(&report);
        assert!(
            !report.ok && f.iter().any(|c| c == case["must_fail"].as_str().expect("check")),
            "{}: {f:?}",
            case["name"]
        );
    }
}

/// An attacker who edits the list (not the signed payload) cannot make a package carry a file no signed record
/// cites: the forged digest fails `attachment_citation`, and the file it names is then "not cited".
#[test]
fn forged_attachment_list_cannot_add_a_file() {
    let built = build();
    let vkey = NoteVerifier::parse(built.doc["package"]["trusted_log_key"].as_str().expect("key")).expect("vkey");
    let case = &built.doc["invalid_bundles"][0];
    assert_eq!(case["name"], "list_not_cited");
    let mut files = digests(&built.files);
    files.insert("f".repeat(64), [0xff; 32]);
    let report = verify_package(case["bundle"].as_str().expect("bundle").as_bytes(), &vkey, Some(&files));
    let f = failed(&report);
    assert!(f.contains(&"attachment_citation".to_owned()) && f.contains(&"attachment".to_owned()), "{f:?}");
}

fn verify_cli(bundle: &Path, vkey: &str, attachments: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_siteledger-verify"))
        .arg(bundle)
        .arg("--log-key")
        .arg(vkey)
        .arg("--attachments")
        .arg(attachments)
        .output()
        .expect("run siteledger-verify")
}

#[test]
fn verify_binary_checks_the_package_and_names_the_altered_file_and_record() {
    let built = build();
    let vkey = built.doc["package"]["trusted_log_key"].as_str().expect("key").to_owned();
    let tmp = tempfile::tempdir().expect("tmp");
    let bundle = tmp.path().join("bundle.json");
    std::fs::write(&bundle, &built.bundle).expect("write");
    let att = tmp.path().join("attachments");
    std::fs::create_dir(&att).expect("dir");
    for (h, b) in &built.files {
        std::fs::write(att.join(h), b).expect("write");
    }
    let out = verify_cli(&bundle, &vkey, &att);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("哈希一致 verified"), "{text}");

    // One flipped byte in the PDF: exit 1, the failure names the file and the citing record.
    let (name, bytes) = &built.files[0];
    let mut flipped = bytes.clone();
    flipped[9] ^= 0x20;
    std::fs::write(att.join(name), &flipped).expect("write");
    let out = verify_cli(&bundle, &vkey, &att);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    let record = built.doc["package"]["record_index"].as_u64().expect("index");
    let verdict = text.split("VERDICT").nth(1).expect("verdict");
    assert!(verdict.contains(&format!("file {name}")) && verdict.contains(&format!("#{record} ")), "{text}");

    // A subdirectory is a usage error (exit 2), not a silent pass.
    std::fs::write(att.join(name), bytes).expect("write");
    std::fs::create_dir(att.join("sub")).expect("dir");
    assert_eq!(verify_cli(&bundle, &vkey, &att).status.code(), Some(2));
}
