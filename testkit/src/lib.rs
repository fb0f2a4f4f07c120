//! Test support for SiteLedger: a real, private, throw-away PostgreSQL server.
//!
//! [`TempPostgres::start`] runs `initdb` and `pg_ctl start` from the machine's PostgreSQL server
//! binaries into a fresh directory under `/tmp/siteledger-testkit-pg/` (override with the
//! environment variable `SITELEDGER_TESTKIT_DIR`). The server listens on a unix socket only
//! (`listen_addresses = ''`), so tests never touch a TCP port and never meet a system server;
//! the port number only names the socket file. Authentication is `trust` for the superuser
//! `postgres`. Without `fsync` the server runs with `fsync`, `synchronous_commit` and
//! `full_page_writes` off, which is what ordinary tests want; durability and crash tests pass
//! `true` and get the durable defaults.
//!
//! [`shared_postgres`] starts one such server per test process on first use; tests then create
//! their own databases in it with [`TempPostgres::create_database`] or
//! [`TempPostgres::create_unique_database`] and connect with the URL they return. Under
//! cargo-nextest every test is its own process, so each test that calls it gets its own server
//! (start-up costs about 0.7 s); under `cargo test` the tests of one binary share it.
//!
//! ```no_run
//! let pg = siteledger_testkit::shared_postgres();
//! let url = pg.create_unique_database("ledger").expect("create database");
//! // url = "postgres://postgres@localhost:PORT/ledger_...?host=/tmp/siteledger-testkit-pg/pg-.../sock"
//! // which sqlx's `PgConnectOptions::from_str` / `PgPool::connect` and libpq (`psql URL`) accept.
//! # let _ = url;
//! ```
//!
//! # Finding PostgreSQL
//!
//! The server binaries (`initdb`, `pg_ctl`, `postgres`, `psql`) are looked up in this order:
//! the directory in `SITELEDGER_PG_BINDIR`; the highest version of
//! `/usr/lib/postgresql/*/bin` (Debian's layout); `pg_config --bindir`. When none of them has
//! all four, [`TempPostgres::start`] fails with an error that names the missing binaries and the
//! fix: `apt-get install -y postgresql` (or `scripts/test.sh`, which installs it).
//!
//! # Running as root
//!
//! `initdb` and `postgres` refuse to run as root. When the test process is root, the testkit
//! `chown`s the data and socket directories to the `postgres` user (created by Debian's
//! `postgresql` package) and runs `initdb` and `pg_ctl` through `runuser -u postgres --`. Clients
//! such as `psql` and the tests themselves connect as root over the world-writable socket.
//!
//! # Cleanup
//!
//! Dropping a [`TempPostgres`] stops its server with `pg_ctl stop -m immediate` and deletes its
//! directory. Statics are never dropped, so the server of [`shared_postgres`] (and any
//! `TempPostgres` leaked by a panicking or killed test) is cleaned up in two other ways:
//!
//! - each server has a small watchdog shell process (in its own session, so a test runner that
//!   kills the test's process group does not kill it) that polls once a second whether the owning
//!   test process is still alive; once it is gone, the watchdog stops the server and deletes its
//!   directory;
//! - every [`TempPostgres::start`] first reaps stale servers: each server directory holds an
//!   `owner` file with the owning process's PID and start time (from `/proc`), and directories
//!   whose owner no longer runs are stopped and removed. This also catches servers whose
//!   watchdog was killed (e.g. `kill -9` of a whole session).
//!
//! So after a test run no server lingers for more than about a second, and none survives the
//! next run's first start. This relies on Linux's `/proc`.

use std::collections::hash_map::RandomState;
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tempfile::TempDir;

pub mod cluster;

/// Environment variable naming a directory that holds `initdb`, `pg_ctl`, `postgres` and `psql`.
pub const BINDIR_ENV: &str = "SITELEDGER_PG_BINDIR";

/// Environment variable overriding the directory that holds the servers' directories.
/// It must be traversable by the `postgres` user when the tests run as root.
pub const BASE_DIR_ENV: &str = "SITELEDGER_TESTKIT_DIR";

/// Where server directories live unless [`BASE_DIR_ENV`] says otherwise.
pub const DEFAULT_BASE_DIR: &str = "/tmp/siteledger-testkit-pg";

/// The database superuser of every server (`initdb -U postgres`), whatever the OS user.
pub const SUPERUSER: &str = "postgres";

const REQUIRED_BINARIES: [&str; 4] = ["initdb", "pg_ctl", "postgres", "psql"];
const OWNER_FILE: &str = "owner";
const DIR_PREFIX: &str = "pg-";
const REAPING_SUFFIX: &str = ".reaping";
const INSTALL_HINT: &str = "run: apt-get install -y postgresql (or run scripts/test.sh, which installs it)";

/// Environment variables of libpq and the server tools that would redirect our commands.
const PG_ENV_VARS: [&str; 14] = [
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGSSLMODE",
    "PGDATA",
    "PGCLUSTER",
    "PGTZ",
];

/// Shell script of the watchdog: `$1` owner PID, `$2` owner start time, `$3` server directory,
/// `$4` path of `pg_ctl`, `$5` `postgres` when `pg_ctl` must run through `runuser`.
const WATCHDOG_SCRIPT: &str = r#"
owner=$1; start=$2; dir=$3; pg_ctl=$4; runas=$5
alive() {
    [ -r "/proc/$owner/stat" ] || return 1
    set -- $(sed 's/^.*) //' "/proc/$owner/stat" 2>/dev/null)
    [ "$#" -ge 20 ] && [ "$1" != Z ] && [ "$1" != X ] && [ "${20}" = "$start" ]
}
while alive && [ -d "$dir" ]; do sleep 1; done
[ -d "$dir" ] || exit 0
if [ -f "$dir/data/postmaster.pid" ]; then
    if [ "$runas" = postgres ]; then
        runuser -u postgres -- "$pg_ctl" -D "$dir/data" -m immediate -w stop
    else
        "$pg_ctl" -D "$dir/data" -m immediate -w stop
    fi
fi
rm -rf "$dir"
"#;

/// Starts the watchdog detached: in its own session when `setsid` exists, with no stdio.
const WATCHDOG_LAUNCHER: &str = r#"
if command -v setsid >/dev/null 2>&1; then
    setsid sh -c "$0" siteledger-pg-watchdog "$@" </dev/null >/dev/null 2>&1 &
else
    sh -c "$0" siteledger-pg-watchdog "$@" </dev/null >/dev/null 2>&1 &
fi
"#;

/// Why the testkit could not provide a PostgreSQL server or run a command on it.
#[derive(Debug)]
#[non_exhaustive]
pub enum TestkitError {
    /// The PostgreSQL server binaries are not installed (or not where we looked).
    MissingBinaries {
        /// Binaries that were not found, e.g. `["initdb", "pg_ctl"]`.
        missing: Vec<String>,
        /// Directories that were searched.
        searched: Vec<PathBuf>,
    },
    /// The tests run as root but there is no `postgres` user to run the server as.
    NoPostgresUser,
    /// A file-system operation failed.
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// An external command (`initdb`, `pg_ctl`, `psql`, ...) failed.
    CommandFailed {
        /// The command line, for the reader.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its standard output.
        stdout: String,
        /// Its standard error.
        stderr: String,
        /// The end of the server log, when the server was involved.
        server_log: Option<String>,
    },
    /// An argument was unusable, e.g. a database name PostgreSQL would truncate.
    InvalidArgument(String),
    /// The HA cluster's programs (`etcd`, `patroni`, `haproxy`) are not installed.
    MissingHaPackages {
        /// Programs not found on `PATH`.
        missing: Vec<String>,
    },
}

impl fmt::Display for TestkitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingBinaries { missing, searched } => {
                write!(f, "PostgreSQL server binaries not found: missing {}", missing.join(", "))?;
                if searched.is_empty() {
                    write!(f, " (no PostgreSQL installation found")?;
                } else {
                    let dirs: Vec<String> = searched.iter().map(|d| d.display().to_string()).collect();
                    write!(f, " (searched {}", dirs.join(", "))?;
                }
                write!(f, "; set {BINDIR_ENV} to override); {INSTALL_HINT}")
            }
            Self::NoPostgresUser => write!(
                f,
                "running as root, but there is no `postgres` user to run initdb and the server as \
                 (initdb refuses root); {INSTALL_HINT}"
            ),
            Self::Io { context, source } => write!(f, "{context}: {source}"),
            Self::CommandFailed { command, status, stdout, stderr, server_log } => {
                write!(f, "`{command}` failed ({status})")?;
                if !stdout.trim().is_empty() {
                    write!(f, "\n--- stdout ---\n{}", stdout.trim_end())?;
                }
                if !stderr.trim().is_empty() {
                    write!(f, "\n--- stderr ---\n{}", stderr.trim_end())?;
                }
                if let Some(log) = server_log {
                    write!(f, "\n--- end of server log ---\n{}", log.trim_end())?;
                }
                Ok(())
            }
            Self::InvalidArgument(message) => f.write_str(message),
            Self::MissingHaPackages { missing } => write!(
                f,
                "the HA cluster needs {} on PATH; run: apt-get install -y patroni etcd-server etcd-client haproxy \
                 (or scripts/test.sh, which installs them)",
                missing.join(", ")
            ),
        }
    }
}

impl std::error::Error for TestkitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> TestkitError {
    let context = context.into();
    move |source| TestkitError::Io { context, source }
}

/// Whose identity runs `initdb` and `pg_ctl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunAs {
    /// The test process's own user (not root).
    CurrentUser,
    /// `runuser -u postgres --` (the test process is root).
    Postgres,
}

/// A private PostgreSQL server on a unix socket in a fresh temporary directory.
///
/// Dropping it stops the server (`pg_ctl stop -m immediate`) and deletes the directory.
#[derive(Debug)]
pub struct TempPostgres {
    /// The server directory: `owner`, `postgres.log`, `data/`, `sock/`.
    dir: TempDir,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    port: u16,
    bindir: PathBuf,
    run_as: RunAs,
    fsync: bool,
}

impl TempPostgres {
    /// Starts a private PostgreSQL on a unix socket in a fresh temp dir. `fsync` selects
    /// durability (crash tests pass true).
    ///
    /// Takes about a second. Stale servers of test processes that no longer run are reaped first.
    pub fn start(fsync: bool) -> Result<TempPostgres, TestkitError> {
        let bindir = postgres_bindir()?;
        let run_as = if is_root() {
            if !postgres_user_exists() {
                return Err(TestkitError::NoPostgresUser);
            }
            RunAs::Postgres
        } else {
            RunAs::CurrentUser
        };

        let base = base_dir()?;
        reap_stale_servers(&base, &bindir, run_as);

        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir_in(&base)
            .map_err(io_error(format!("creating a server directory in {}", base.display())))?;
        set_mode(dir.path(), 0o755)?;
        let (pid, start_time) = own_identity();
        fs::write(dir.path().join(OWNER_FILE), format!("{pid} {start_time}\n"))
            .map_err(io_error("writing the owner file"))?;

        let data_dir = dir.path().join("data");
        let socket_dir = dir.path().join("sock");
        let log_file = dir.path().join("postgres.log");
        fs::create_dir(&data_dir).map_err(io_error("creating the data directory"))?;
        set_mode(&data_dir, 0o700)?;
        fs::create_dir(&socket_dir).map_err(io_error("creating the socket directory"))?;
        set_mode(&socket_dir, 0o755)?;
        fs::write(&log_file, b"").map_err(io_error("creating the server log"))?;
        if run_as == RunAs::Postgres {
            let mut chown = Command::new("chown");
            chown.arg(format!("{SUPERUSER}:{SUPERUSER}")).args([&data_dir, &socket_dir, &log_file]);
            run(chown, None)?;
        }

        let pg = TempPostgres { dir, data_dir, socket_dir, log_file, port: random_port(), bindir, run_as, fsync };
        pg.spawn_watchdog(pid, &start_time)?;
        pg.init_and_start()?;
        Ok(pg)
    }

    fn init_and_start(&self) -> Result<(), TestkitError> {
        let mut initdb = self.server_command("initdb");
        initdb.arg("-D").arg(&self.data_dir).args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]);
        run(initdb, None)?;

        // Settings go into postgresql.conf rather than `pg_ctl -o`, which a shell would parse.
        let durability = if self.fsync {
            "fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n"
        } else {
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        };
        let settings = format!(
            "\n# siteledger-testkit\nlisten_addresses = ''\nunix_socket_directories = '{}'\n\
             port = {}\nmax_connections = 200\n{durability}",
            self.socket_dir.display(),
            self.port,
        );
        let conf = self.data_dir.join("postgresql.conf");
        fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| f.write_all(settings.as_bytes()))
            .map_err(io_error(format!("appending to {}", conf.display())))?;

        self.pg_ctl_start()
    }

    fn pg_ctl_start(&self) -> Result<(), TestkitError> {
        let mut pg_ctl = self.server_command("pg_ctl");
        pg_ctl.arg("-D").arg(&self.data_dir).arg("-l").arg(&self.log_file).args(["-w", "-t", "60", "start"]);
        run(pg_ctl, Some(&self.log_file))
    }

    /// A libpq/sqlx URL for database `db` on this server:
    /// `postgres://postgres@localhost:PORT/DB?host=SOCKET_DIR`.
    ///
    /// The `host` query parameter names the socket directory (it wins over the `localhost` in
    /// the authority) and the explicit port picks the socket file `.s.PGSQL.PORT` in it. Both
    /// sqlx 0.9 (`PgConnectOptions::from_str`) and libpq (`psql URL`) accept this form; sqlx
    /// needs the port in the URL, otherwise it takes `PGPORT` or 5432.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost:{}/{}?host={}",
            self.port,
            percent_encode(db, false),
            percent_encode(&self.socket_dir.to_string_lossy(), true),
        )
    }

    /// Creates a new empty database (`CREATE DATABASE` through `psql` over the socket) and
    /// returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, TestkitError> {
        if name.is_empty() || name.len() > 63 || name.contains('\0') {
            return Err(TestkitError::InvalidArgument(format!(
                "database name {name:?} must be 1 to 63 bytes without NUL"
            )));
        }
        self.psql("postgres", &format!("CREATE DATABASE {}", quote_identifier(name)))?;
        Ok(self.url(name))
    }

    /// Creates a database with a fresh name `PREFIX_<counter>_<random>` and returns its URL.
    /// `prefix` is cut to 40 bytes.
    pub fn create_unique_database(&self, prefix: &str) -> Result<String, TestkitError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut prefix: String =
            prefix.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        prefix.truncate(40);
        let name = format!("{prefix}_{n}_{:08x}", random_u64() as u32);
        self.create_database(&name)
    }

    /// Runs `sql` with `psql` (`-X -At -v ON_ERROR_STOP=1`) against database `db` and returns
    /// its standard output: one line per row, columns separated by `|`.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, TestkitError> {
        let mut psql = Command::new(self.bindir.join("psql"));
        clean_pg_env(&mut psql);
        psql.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string(), "-U", SUPERUSER, "-d", db, "-c", sql])
            // A hang guard, not a deadline: on a loaded 2-core machine a backend fork can take more than 10 s.
            .env("PGCONNECT_TIMEOUT", "60");
        let output = run_output(psql, None)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The directory holding the server's unix socket (`.s.PGSQL.PORT`).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The port number; it only names the socket file, nothing listens on TCP.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's own directory under the base directory: `owner`, `postgres.log`, `data/`,
    /// `sock/`. Deleted on drop.
    pub fn root_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The data directory (owned by `postgres` when the tests run as root).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server log file.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// The directory of the server binaries in use.
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// Whether the server was started with durable settings.
    pub fn fsync(&self) -> bool {
        self.fsync
    }

    /// The postmaster's PID while the server runs (first line of `postmaster.pid`).
    pub fn postmaster_pid(&self) -> Option<u32> {
        let text = fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// Stops the server abruptly (`pg_ctl stop -m immediate`): no checkpoint, every backend
    /// killed, crash recovery on the next start. The directory stays; call
    /// [`TempPostgres::restart`] to start the server again on the same data.
    pub fn crash(&self) -> Result<(), TestkitError> {
        self.pg_ctl_stop()
    }

    /// Starts the server again on the same data directory and socket after [`TempPostgres::crash`].
    pub fn restart(&self) -> Result<(), TestkitError> {
        self.pg_ctl_start()
    }

    fn pg_ctl_stop(&self) -> Result<(), TestkitError> {
        let mut pg_ctl = self.server_command("pg_ctl");
        pg_ctl.arg("-D").arg(&self.data_dir).args(["-m", "immediate", "-w", "-t", "60", "stop"]);
        run(pg_ctl, Some(&self.log_file))
    }

    /// A command for a server binary, run as `postgres` when we are root.
    fn server_command(&self, program: &str) -> Command {
        server_command(&self.bindir, program, self.run_as)
    }

    fn spawn_watchdog(&self, owner_pid: u32, owner_start: &str) -> Result<(), TestkitError> {
        let mut launcher = Command::new("sh");
        launcher
            .arg("-c")
            .arg(WATCHDOG_LAUNCHER)
            .arg(WATCHDOG_SCRIPT)
            .arg(owner_pid.to_string())
            .arg(owner_start)
            .arg(self.dir.path())
            .arg(self.bindir.join("pg_ctl"))
            .arg(match self.run_as {
                RunAs::Postgres => "postgres",
                RunAs::CurrentUser => "",
            })
            .current_dir("/");
        clean_pg_env(&mut launcher);
        run(launcher, None)
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        if self.data_dir.join("postmaster.pid").exists() {
            let _ = self.pg_ctl_stop();
        }
        // The TempDir field then deletes the directory; the watchdog sees it gone and exits.
    }
}

/// One shared server per test process (tests create their own databases in it).
///
/// Started on first use with `fsync` off. It is never dropped; its watchdog stops it within
/// about a second after the test process exits (see the crate docs).
///
/// # Panics
///
/// When the server cannot be started, with the [`TestkitError`] message (which says what to
/// install). A later call tries again.
pub fn shared_postgres() -> &'static TempPostgres {
    static SHARED: OnceLock<TempPostgres> = OnceLock::new();
    SHARED.get_or_init(|| match TempPostgres::start(false) {
        Ok(pg) => pg,
        Err(err) => panic!("siteledger-testkit: cannot start the shared PostgreSQL: {err}"),
    })
}

/// The directory of the PostgreSQL server binaries: `SITELEDGER_PG_BINDIR`, else the highest
/// `/usr/lib/postgresql/*/bin`, else `pg_config --bindir`.
pub fn postgres_bindir() -> Result<PathBuf, TestkitError> {
    if let Some(dir) = std::env::var_os(BINDIR_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        let missing = missing_binaries(&dir);
        if missing.is_empty() {
            return Ok(dir);
        }
        return Err(TestkitError::MissingBinaries { missing, searched: vec![dir] });
    }

    let mut candidates = debian_bindirs();
    if let Some(dir) = pg_config_bindir()
        && !candidates.contains(&dir)
    {
        candidates.push(dir);
    }
    let mut fewest_missing: Option<Vec<String>> = None;
    for dir in &candidates {
        let missing = missing_binaries(dir);
        if missing.is_empty() {
            return Ok(dir.clone());
        }
        if fewest_missing.as_ref().is_none_or(|m| missing.len() < m.len()) {
            fewest_missing = Some(missing);
        }
    }
    Err(TestkitError::MissingBinaries {
        missing: fewest_missing.unwrap_or_else(|| REQUIRED_BINARIES.iter().map(|b| (*b).to_owned()).collect()),
        searched: candidates,
    })
}

/// `/usr/lib/postgresql/*/bin` directories, highest version first.
fn debian_bindirs() -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version: Vec<u32> = name.split('.').map(str::parse).collect::<Result<_, _>>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, bin)| bin).collect()
}

fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config").arg("--bindir").stdin(Stdio::null()).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = String::from_utf8(output.stdout).ok()?;
    let dir = dir.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

fn missing_binaries(dir: &Path) -> Vec<String> {
    REQUIRED_BINARIES.iter().filter(|b| !dir.join(b).is_file()).map(|b| (*b).to_owned()).collect()
}

fn server_command(bindir: &Path, program: &str, run_as: RunAs) -> Command {
    let mut command = match run_as {
        RunAs::CurrentUser => Command::new(bindir.join(program)),
        RunAs::Postgres => {
            let mut c = Command::new("runuser");
            c.args(["-u", SUPERUSER, "--"]).arg(bindir.join(program));
            c
        }
    };
    // The test's working directory may not be readable by `postgres`.
    command.current_dir("/");
    clean_pg_env(&mut command);
    command
}

fn clean_pg_env(command: &mut Command) {
    for var in PG_ENV_VARS {
        command.env_remove(var);
    }
}

/// Runs a command to completion, with no stdin; an error carries its output.
fn run(command: Command, server_log: Option<&Path>) -> Result<(), TestkitError> {
    run_output(command, server_log).map(|_| ())
}

fn run_output(mut command: Command, server_log: Option<&Path>) -> Result<Output, TestkitError> {
    let description = describe(&command);
    let output = command.stdin(Stdio::null()).output().map_err(io_error(format!("running `{description}`")))?;
    if output.status.success() {
        return Ok(output);
    }
    Err(TestkitError::CommandFailed {
        command: description,
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        server_log: server_log.and_then(log_tail),
    })
}

fn describe(command: &Command) -> String {
    let mut parts = vec![command.get_program().to_string_lossy().into_owned()];
    parts.extend(command.get_args().map(|a: &OsStr| {
        let a = a.to_string_lossy();
        if a.contains(char::is_whitespace) || a.is_empty() {
            format!("'{}'", a.lines().next().unwrap_or_default())
        } else {
            a.into_owned()
        }
    }));
    parts.join(" ")
}

fn log_tail(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    Some(lines[lines.len().saturating_sub(30)..].join("\n"))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), TestkitError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(io_error(format!("chmod {mode:o} {}", path.display())))
}

/// The base directory, created world-writable and sticky (like /tmp) so that root and other
/// users can share it and `postgres` can traverse it.
fn base_dir() -> Result<PathBuf, TestkitError> {
    let base = std::env::var_os(BASE_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_BASE_DIR), PathBuf::from);
    match fs::create_dir(&base) {
        Ok(()) => set_mode(&base, 0o1777)?,
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => {
            if let Some(parent) = base.parent() {
                fs::create_dir_all(parent).map_err(io_error(format!("creating {}", parent.display())))?;
            }
            match fs::create_dir(&base) {
                Ok(()) => set_mode(&base, 0o1777)?,
                Err(again) if again.kind() == io::ErrorKind::AlreadyExists => {}
                Err(_) => return Err(io_error(format!("creating {}", base.display()))(err)),
            }
        }
    }
    Ok(base)
}

/// Stops and deletes server directories whose owning test process no longer runs.
fn reap_stale_servers(base: &Path, bindir: &Path, run_as: RunAs) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(DIR_PREFIX) {
            continue;
        }
        let path = entry.path();
        let claimed = if name.ends_with(REAPING_SUFFIX) {
            // Another process claimed it; take over only if it gave up long ago.
            if age(&path) < Duration::from_secs(120) {
                continue;
            }
            path
        } else {
            let stale = match fs::read_to_string(path.join(OWNER_FILE)) {
                Ok(owner) => !owner_alive(&owner),
                // A directory without an owner file is being set up, or was abandoned long ago.
                Err(_) => age(&path) > Duration::from_secs(3600),
            };
            if !stale {
                continue;
            }
            let to = base.join(format!("{name}{REAPING_SUFFIX}"));
            if fs::rename(&path, &to).is_err() {
                continue; // someone else got there first
            }
            to
        };
        let data = claimed.join("data");
        if data.join("postmaster.pid").exists() {
            let mut pg_ctl = server_command(bindir, "pg_ctl", run_as);
            pg_ctl.arg("-D").arg(&data).args(["-m", "immediate", "-w", "-t", "30", "stop"]);
            let _ = run(pg_ctl, None);
        }
        let _ = fs::remove_dir_all(&claimed);
    }
}

fn age(path: &Path) -> Duration {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default()
}

/// Parses an owner file (`PID START_TIME`) and tells whether that process still runs.
fn owner_alive(owner: &str) -> bool {
    let mut fields = owner.split_whitespace();
    let Some(pid) = fields.next().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    let recorded_start = fields.next().unwrap_or("0");
    match proc_stat(pid) {
        None => false,
        Some((state, start)) => !matches!(state, 'Z' | 'X') && start == recorded_start,
    }
}

/// State and start time (field 22, clock ticks since boot) of a process from /proc.
fn proc_stat(pid: u32) -> Option<(char, String)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself contain ") ".
    let rest = &stat[stat.rfind(") ")? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = (*fields.get(19)?).to_owned();
    Some((state, start))
}

fn own_identity() -> (u32, String) {
    let pid = std::process::id();
    let start = proc_stat(pid).map_or_else(|| "0".to_owned(), |(_, start)| start);
    (pid, start)
}

fn is_root() -> bool {
    if let Ok(status) = fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("Uid:"))
    {
        // Uid: real effective saved filesystem
        return line.split_whitespace().nth(2) == Some("0");
    }
    Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn postgres_user_exists() -> bool {
    Command::new("id")
        .arg("-u")
        .arg(SUPERUSER)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    if let Ok(now) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    hasher.finish()
}

/// A port number in 20000..60000. Nothing listens on TCP; it only names the socket file, which
/// lives in a private directory, so collisions with other servers do not matter.
fn random_port() -> u16 {
    20_000 + (random_u64() % 40_000) as u16
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/` when `keep_slash`).
fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Builds the Go interoperability checker (`signer/tests/interop/go/main.go`, which verifies C2SP checkpoints and
/// RFC 9162 proofs with Go's `golang.org/x/mod/sumdb/note` and `sumdb/tlog`) offline into `dir`, and returns the
/// binary's path. Needs Debian's `golang-go` and `golang-golang-x-mod-dev` (scripts/test.sh installs them).
pub fn go_interop_checker(dir: &Path) -> Result<PathBuf, TestkitError> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../signer/tests/interop/go/main.go");
    let bin = dir.join("siteledger-interop");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(&src)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOCACHE", dir.join("go-cache"))
        .output()
        .map_err(|source| TestkitError::Io {
            context: "running `go build` (install Go: apt-get install -y golang-go golang-golang-x-mod-dev)".into(),
            source,
        })?;
    if !out.status.success() {
        return Err(TestkitError::Io {
            context: format!(
                "building the Go checker failed (is golang-golang-x-mod-dev installed?):\n{}",
                String::from_utf8_lossy(&out.stderr)
            ),
            source: std::io::Error::other("go build failed"),
        });
    }
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_has_port_socket_and_encoded_names() {
        assert_eq!(percent_encode("/tmp/a b/c", true), "/tmp/a%20b/c");
        assert_eq!(percent_encode("db/1?", false), "db%2F1%3F");
        assert_eq!(quote_identifier(r#"a"b"#), r#""a""b""#);
    }

    #[test]
    fn owner_of_this_process_is_alive_and_a_dead_one_is_not() {
        let (pid, start) = own_identity();
        assert!(owner_alive(&format!("{pid} {start}\n")));
        assert!(!owner_alive(&format!("{pid} 1{start}\n")), "start time must match");
        assert!(!owner_alive("4194999 1\n"), "PID above pid_max");
        assert!(!owner_alive("garbage"));
    }

    #[test]
    fn missing_binaries_error_says_what_to_install() {
        let err = TestkitError::MissingBinaries {
            missing: vec!["initdb".into(), "pg_ctl".into()],
            searched: vec![PathBuf::from("/nowhere/bin")],
        };
        let text = err.to_string();
        assert!(text.contains("missing initdb, pg_ctl"), "{text}");
        assert!(text.contains("run: apt-get install -y postgresql"), "{text}");
    }
}
