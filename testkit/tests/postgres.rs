//! Integration tests of the temporary PostgreSQL: start, databases, queries over the socket,
//! crash and restart, and every cleanup path (drop, watchdog after the owner exits, reaping).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use siteledger_testkit::{TempPostgres, shared_postgres};

/// Set in the environment of child test processes started by the tests below.
const CHILD_ENV: &str = "SITELEDGER_TESTKIT_TEST_CHILD";

fn process_gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie has exited; whether someone reaps it is up to its parent.
        Ok(stat) => stat
            .rfind(") ")
            .and_then(|i| stat[i + 2..].chars().next())
            .is_some_and(|state| state == 'Z' || state == 'X'),
    }
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs this test binary again, running only test `name`, with `CHILD_ENV` and `env` set.
fn run_child(name: &str, env: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().expect("current_exe");
    let mut command = Command::new(exe);
    command.args(["--exact", name, "--nocapture", "--test-threads", "1"]).env(CHILD_ENV, "1");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("run child test process");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "child test {name} failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn field<'a>(stdout: &'a str, key: &str) -> &'a str {
    stdout
        .lines()
        // libtest may print `test NAME ... ` before the child's first line.
        .find_map(|l| l.find(key).map(|i| &l[i + key.len()..]))
        .unwrap_or_else(|| panic!("no line starting {key:?} in child output:\n{stdout}"))
        .trim()
}

#[test]
fn start_two_databases_query_and_drop() {
    let pg = TempPostgres::start(false).expect("start PostgreSQL");
    let alpha = pg.create_database("alpha").expect("create alpha");
    let beta = pg.create_database("beta").expect("create beta");
    assert_eq!(alpha, format!("postgres://postgres@localhost:{}/alpha?host={}", pg.port(), pg.socket_dir().display()));
    assert!(beta.ends_with(&format!("/beta?host={}", pg.socket_dir().display())));
    assert!(pg.socket_dir().join(format!(".s.PGSQL.{}", pg.port())).exists());

    for (db, url) in [("alpha", &alpha), ("beta", &beta)] {
        // `psql -c 'select 1'` over the socket directory and port ...
        assert_eq!(pg.psql(db, "select 1").expect("select 1"), "1\n");
        // ... and through the URL, which libpq parses like sqlx does.
        let output = Command::new(pg.bindir().join("psql"))
            .args(["-X", "-At", "-c", "select current_database(), current_user"])
            .arg(url)
            .output()
            .expect("run psql URL");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{db}|postgres\n"));
    }
    assert_eq!(pg.psql("postgres", "show fsync").expect("show fsync"), "off\n");
    assert_eq!(pg.psql("postgres", "show max_connections").expect("show max_connections"), "200\n");
    assert_eq!(pg.psql("postgres", "show listen_addresses").expect("show listen_addresses"), "\n");

    let pid = pg.postmaster_pid().expect("postmaster.pid");
    assert!(!process_gone(pid));
    let root = pg.root_dir().to_path_buf();
    drop(pg);
    wait_until("the postmaster exited", Duration::from_secs(10), || process_gone(pid));
    assert!(!root.exists(), "{} still exists", root.display());
}

#[test]
fn durable_server_keeps_committed_rows_across_a_crash() {
    let pg = TempPostgres::start(true).expect("start PostgreSQL");
    assert_eq!(pg.psql("postgres", "show fsync").expect("show"), "on\n");
    pg.create_database("crash").expect("create");
    pg.psql("crash", "create table t (x int); insert into t values (42)").expect("insert");
    let before = pg.postmaster_pid().expect("pid");
    pg.crash().expect("crash");
    wait_until("the postmaster exited", Duration::from_secs(10), || process_gone(before));
    assert!(pg.psql("crash", "select 1").is_err(), "server still answers");
    pg.restart().expect("restart");
    assert_ne!(pg.postmaster_pid(), Some(before));
    assert_eq!(pg.psql("crash", "select x from t").expect("select"), "42\n");
}

#[test]
fn shared_server_is_started_once_and_hands_out_fresh_databases() {
    let a = shared_postgres();
    let b = shared_postgres();
    assert!(std::ptr::eq(a, b));
    let url1 = a.create_unique_database("Shared Test").expect("db 1");
    let url2 = a.create_unique_database("Shared Test").expect("db 2");
    assert_ne!(url1, url2);
    assert!(url1.contains("/shared_test_"), "{url1}");
    let db = url1
        .split_once('?')
        .and_then(|(before_query, _)| before_query.rsplit_once('/'))
        .map(|(_, db)| db)
        .expect("database in URL");
    assert_eq!(a.psql(db, "select current_database()").expect("select"), format!("{db}\n"));
}

#[test]
fn database_names_that_postgres_would_truncate_are_refused() {
    let pg = shared_postgres();
    assert!(pg.create_database(&"x".repeat(64)).is_err());
    assert!(pg.create_database("").is_err());
    // Quoting keeps odd names intact.
    let url = pg.create_database("odd \"name\"").expect("odd name");
    assert!(url.contains("/odd%20%22name%22?host="), "{url}");
}

/// Child of `watchdog_stops_the_server_after_the_owner_exits`: starts a server, prints where it
/// is, and exits without dropping it.
#[test]
fn child_leaks_a_server() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let pg = shared_postgres();
    println!("PID {}", pg.postmaster_pid().expect("pid"));
    println!("ROOT {}", pg.root_dir().display());
}

#[test]
fn watchdog_stops_the_server_after_the_owner_exits() {
    let stdout = run_child("child_leaks_a_server", &[]);
    let pid: u32 = field(&stdout, "PID ").parse().expect("pid");
    let root = PathBuf::from(field(&stdout, "ROOT "));
    wait_until("the watchdog stopped the leaked server", Duration::from_secs(15), || {
        process_gone(pid) && !root.exists()
    });
}

#[test]
fn start_reaps_directories_of_dead_owners() {
    let pg = shared_postgres();
    let base = pg.root_dir().parent().expect("base dir").to_path_buf();
    let stale = base.join(format!("pg-stale-test-{}", std::process::id()));
    fs::create_dir_all(stale.join("data")).expect("mkdir");
    // PID above the kernel's maximum: certainly not running.
    fs::write(stale.join("owner"), "4194999 1\n").expect("owner");
    let live = base.join(format!("pg-live-test-{}", std::process::id()));
    fs::create_dir_all(&live).expect("mkdir");
    fs::write(live.join("owner"), fs::read_to_string(pg.root_dir().join("owner")).expect("read own owner file"))
        .expect("owner");

    let other = TempPostgres::start(false).expect("start");
    assert!(!stale.exists(), "stale directory not reaped");
    assert!(live.exists(), "live directory reaped");
    fs::remove_dir_all(&live).expect("cleanup");
    drop(other);
}

/// Child of `missing_binaries_are_reported_with_the_fix`.
#[test]
fn child_starts_without_binaries() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let err = TempPostgres::start(false).expect_err("no binaries, no server");
    println!("ERROR {err}");
}

#[test]
fn missing_binaries_are_reported_with_the_fix() {
    let empty = tempfile::tempdir().expect("tempdir");
    let dir = empty.path().to_str().expect("utf-8 path");
    let stdout = run_child("child_starts_without_binaries", &[("SITELEDGER_PG_BINDIR", dir)]);
    let message = field(&stdout, "ERROR ");
    assert!(message.contains("missing initdb, pg_ctl, postgres, psql"), "{message}");
    assert!(message.contains("run: apt-get install -y postgresql"), "{message}");
    assert!(message.contains(dir), "{message}");
}

#[test]
fn socket_dir_is_reachable_by_the_server_user() {
    // Every ancestor of the socket directory must be traversable by `postgres`.
    let pg = shared_postgres();
    let mut dir: Option<&Path> = Some(pg.socket_dir());
    while let Some(d) = dir {
        let mode = {
            use std::os::unix::fs::PermissionsExt as _;
            fs::metadata(d).expect("metadata").permissions().mode()
        };
        assert!(mode & 0o001 != 0, "{} is not world-traversable", d.display());
        dir = d.parent();
    }
}
