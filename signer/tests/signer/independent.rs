//! The verifier written from docs/FORMAT.md alone (Python, standard library only) must accept the committed vectors
//! and reject every tampered case: proof that the specification is sufficient on its own.

use std::process::Command;

#[test]
fn the_independent_verifier_accepts_the_vectors() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independent/check_vectors.py");
    let out = Command::new("python3")
        .arg(&script)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3 is needed for the independent-verifier test (Debian: apt-get install python3)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default().to_owned();
    assert!(out.status.success(), "independent verifier failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(last.ends_with(" passed, 0 failed"), "unexpected summary line {last:?}");
    let passed: u64 = last.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(passed > 500, "too few checks ran: {last}");
}
