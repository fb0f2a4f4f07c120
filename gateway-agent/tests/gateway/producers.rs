//! The producers' guide cannot drift from the code: every configuration in `docs/agent-examples/` is read by the
//! agent's own loader and names only kinds its role may post, and the table "kind → who signs → how" in
//! `docs/PRODUCERS.md` is rendered from the domain's signer table (`domain::authority::KIND_SIGNERS`) and the
//! agent's device intake (`intake::RECORDS`), compared byte for byte (rewrite it with `UPDATE_PRODUCERS_DOC=1
//! cargo test -p siteledger-gateway-agent --test gateway producers`). The table must also name every kind
//! `docs/KINDS.md` lists.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use siteledger_domain::authority::{KIND_SIGNERS, Role};
use siteledger_gateway_agent::AgentConfig;
use siteledger_gateway_agent::intake::RECORDS;
use siteledger_gateway_agent::intake::records::kinds_for;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn every_agent_example_is_a_configuration_the_agent_accepts() {
    let dir = repo().join("docs/agent-examples");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("docs/agent-examples") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let name = path.file_stem().and_then(|s| s.to_str()).expect("name").to_owned();
        let config = AgentConfig::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let role = config.key_role().expect("role");
        assert!(config.subject().is_ok(), "{name}: a subject");
        assert!(
            config.intake_token_sha256.is_some() || config.intake_token_file.is_some(),
            "{name}: an intake token setting"
        );
        let text = std::fs::read_to_string(&path).expect("read");
        let posts: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# posts:"))
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .collect();
        assert!(!posts.is_empty(), "{name}: a `# posts:` line names the kinds it posts");
        let may = kinds_for(role);
        for kind in posts {
            assert!(may.contains(&kind), "{name}: a {role} key may not sign {kind}");
        }
        names.insert(name);
    }
    for wanted in ["contractor", "bank", "lab", "supervisor"] {
        assert!(names.contains(wanted), "docs/agent-examples/{wanted}.toml is missing");
    }
}

/// How records of `kind` reach the log.
fn how(kind: &str, roles: &[Role]) -> String {
    let device: BTreeSet<&str> = RECORDS.iter().filter(|r| r.kind == kind).map(|r| r.record).collect();
    let mut ways = Vec::new();
    match kind {
        "env.hj212.data.v1" => ways.push("HJ 212 over TCP to the gateway agent".to_owned()),
        "gateway.heartbeat.v1" => ways.push("the gateway agent itself".to_owned()),
        "vault.access.v1" => return "the platform itself, at every vault access".to_owned(),
        _ => {}
    }
    if !device.is_empty() {
        let records: Vec<String> = device.iter().map(|r| format!("`{r}`")).collect();
        ways.push(format!("device intake `POST /v1/devices/{{id}}/…` ({})", records.join(", ")));
    }
    if !matches!(kind, "env.hj212.data.v1" | "gateway.heartbeat.v1") {
        ways.push("agent `POST /v1/records`".to_owned());
        ways.push("`siteledger submit`".to_owned());
    }
    if roles.iter().any(|r| matches!(r, Role::Enterprise | Role::CityBureau | Role::DistrictBureau)) {
        ways.push("browser forms (planned, issue 15)".to_owned());
    }
    ways.join("; ")
}

/// The ledger's own kinds (validated by the ledger, not the domain): who signs them and how.
const LEDGER_KINDS: [(&str, &str, &str); 4] = [
    (
        "ledger.key.enrolled.v1",
        "`ledger`, `city_bureau`, `district_bureau`, `enterprise`",
        "the enrolling authority (docs/KINDS.md, \"Ledger kinds\"): a signed envelope to `POST /v1/events`; browser forms (planned, issue 15)",
    ),
    (
        "ledger.key.revoked.v1",
        "an authority that could enrol the key, or the key itself",
        "a signed envelope to `POST /v1/events`; browser forms (planned, issue 15)",
    ),
    ("ledger.signer.gap.v1", "`ledger`", "the ledger itself"),
    ("ledger.signer.equivocation.v1", "`ledger`", "the ledger itself"),
];

const BEGIN: &str = "<!-- kinds-table:begin (rendered by gateway-agent/tests/gateway/producers.rs) -->";
const END: &str = "<!-- kinds-table:end -->";

fn table() -> String {
    let mut out = String::new();
    out.push_str("| kind | signed by (role) | which holder | how |\n|---|---|---|---|\n");
    for (kind, roles, how) in LEDGER_KINDS {
        let _ = writeln!(out, "| `{kind}` | {roles} | | {how} |");
    }
    for row in KIND_SIGNERS {
        let roles: Vec<String> = row.roles.iter().map(|r| format!("`{}`", r.as_str())).collect();
        let _ = writeln!(out, "| `{}` | {} | {} | {} |", row.kind, roles.join(", "), row.who, how(row.kind, row.roles));
    }
    out
}

#[test]
fn the_producers_table_is_rendered_from_the_signer_table() {
    let path = repo().join("docs/PRODUCERS.md");
    let doc = std::fs::read_to_string(&path).expect("docs/PRODUCERS.md");
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/PRODUCERS.md lacks the markers {BEGIN} … {END}");
    };
    let rendered = format!("{}{BEGIN}\n\n{}\n{}", &doc[..b], table(), &doc[e..]);
    if std::env::var_os("UPDATE_PRODUCERS_DOC").is_some() {
        std::fs::write(&path, &rendered).expect("write docs/PRODUCERS.md");
    } else {
        assert!(
            doc == rendered,
            "docs/PRODUCERS.md's kinds table differs from the signer table: rewrite it with UPDATE_PRODUCERS_DOC=1 \
             cargo test -p siteledger-gateway-agent --test gateway producers"
        );
    }
    // Every kind docs/KINDS.md lists (a backticked name ending in .v<N> at the start of a table row) has a row.
    let kinds_md = std::fs::read_to_string(repo().join("docs/KINDS.md")).expect("docs/KINDS.md");
    let table = table();
    for line in kinds_md.lines().filter(|l| l.starts_with("| `")) {
        let first = line.split('|').nth(1).unwrap_or_default();
        for kind in first.split('`').skip(1).step_by(2).filter(|k| k.contains(".v")) {
            assert!(
                table.contains(&format!("| `{kind}` |")),
                "docs/KINDS.md lists {kind}; the producers' table does not"
            );
        }
    }
}
