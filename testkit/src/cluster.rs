//! A PostgreSQL high-availability cluster on loopback for tests: three etcd members, three PostgreSQL 15 nodes
//! under Patroni, and HAProxy routing to the leader (issue 17).
//!
//! [`HaCluster::start`] builds it in a fresh directory under `/tmp/siteledger-testkit-ha/` from Debian's packages
//! (`etcd-server`, `patroni`, `haproxy`, `postgresql`; `scripts/test.sh` installs them). Everything listens on
//! `127.0.0.1` on free ports; no system service is used or disturbed.
//!
//! * **etcd**: three members (`etcd` 3.4), the distributed configuration store Patroni elects through. Patroni
//!   uses etcd's **v2 API** (`etcd:` in its configuration, `--enable-v2` on the members), not v3 (`etcd3:`): the
//!   drill found that Debian's Patroni 3.0.2 with `etcd3` lets a frozen old leader, once resumed, take the leader
//!   key back from the new leader (its `_update_leader` grants itself a new lease and writes the key without
//!   checking who holds it, trusting its cluster view from before the freeze), so the new leader demotes and the
//!   records it acknowledged are rewound away: 131 and 186 acknowledged records lost in two drill runs. The v2
//!   client updates the key with a compare-and-swap on its own name (`prevValue`), which fails once another node
//!   holds it, and the old leader demotes itself as it should.
//! * **Patroni**: one per PostgreSQL node, run as the `postgres` user when the tests are root (PostgreSQL refuses
//!   root). With [`ClusterOptions::synchronous`] (the default) the cluster runs `synchronous_mode: true` and
//!   `synchronous_mode_strict: true`: a commit returns only once a synchronous standby has flushed it, and with no
//!   standby commits wait rather than return unreplicated (RPO 0).
//! * **HAProxy**: one TCP front end ([`HaCluster::url`]) whose back ends are the three nodes, checked through
//!   Patroni's REST API (`GET /primary` answers 200 on the leader only) every 500 ms; a node marked down has its
//!   sessions shut down (`on-marked-down shutdown-sessions`), so a client holding a connection to a frozen old
//!   leader gets an error instead of waiting forever.
//!
//! Timing (the figures a failover takes): Patroni `ttl` = [`TTL_SECS`] s, `loop_wait` = [`LOOP_WAIT_SECS`] s,
//! `retry_timeout` = [`RETRY_TIMEOUT_SECS`] s; HAProxy checks every 500 ms, down after 2 failures, up after 2
//! successes (so a resumed zombie that answers `/primary` for one loop before it notices it lost the lock is not
//! routed to).
//! After the leader node dies, the leader key expires within `ttl`, a standby takes it on its next loop and
//! HAProxy sees it within a second: a failover takes about `ttl` + 2 s.
//!
//! Faults: [`HaCluster::kill_node`] (SIGKILL of the node's Patroni and PostgreSQL: a lost machine),
//! [`HaCluster::freeze_node`] / [`HaCluster::thaw_node`] (SIGSTOP / SIGCONT of both: a machine that stops
//! answering and later comes back believing it leads), [`HaCluster::start_node`] (rejoin after a kill; Patroni
//! rewinds a diverged old leader with `pg_rewind`), and for the negative control
//! [`HaCluster::pause_replication`] (SIGSTOP of the leader's WAL senders).
//!
//! # Cleanup
//!
//! Every process is started in its own process group (PostgreSQL puts itself in a new session), and each group id
//! is known: dropping the [`HaCluster`] SIGKILLs every group (SIGCONT first, in case it was frozen) and deletes the
//! directory. A panicking test drops it too. If the test process is killed, a watchdog shell process (in its own
//! session) notices within a second that its owner is gone and does the same; and the next [`HaCluster::start`]
//! reaps directories whose owner no longer runs.

use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::{
    OWNER_FILE, SUPERUSER, TestkitError, io_error, is_root, own_identity, owner_alive, postgres_bindir, run_output,
    set_mode,
};

/// Patroni's leader key time-to-live, seconds: how long a dead leader keeps the lock.
pub const TTL_SECS: u64 = 10;
/// Patroni's main loop period, seconds.
pub const LOOP_WAIT_SECS: u64 = 1;
/// How long Patroni retries etcd and PostgreSQL operations before it gives up a loop, seconds.
pub const RETRY_TIMEOUT_SECS: u64 = 4;

/// Where cluster directories live.
pub const HA_BASE_DIR: &str = "/tmp/siteledger-testkit-ha";

const NODES: usize = 3;
const DIR_PREFIX: &str = "ha-";
/// Every wait of the testkit is on a condition; this only bounds a hang (a busy machine never needs it).
const HANG_GUARD: Duration = Duration::from_secs(240);

/// Watchdog: `$1` owner PID, `$2` owner start time, `$3` cluster directory. Once the owner is gone, kills every
/// process group listed in `$3/pgids` and every node's postmaster group, then deletes the directory.
const WATCHDOG_SCRIPT: &str = r#"
owner=$1; start=$2; dir=$3
alive() {
    [ -r "/proc/$owner/stat" ] || return 1
    set -- $(sed 's/^.*) //' "/proc/$owner/stat" 2>/dev/null)
    [ "$#" -ge 20 ] && [ "$1" != Z ] && [ "$1" != X ] && [ "${20}" = "$start" ]
}
while alive && [ -d "$dir" ]; do sleep 1; done
[ -d "$dir" ] || exit 0
postmasters=$(for p in $(head -qn1 "$dir"/pg*/data/postmaster.pid 2>/dev/null); do ps -o pgid= -p "$p"; done)
for pg in $(cat "$dir/pgids" 2>/dev/null) $postmasters; do
    # procps kill (through env): dash's builtin refuses `--` and so a negative PID (a process group).
    env kill -CONT -- "-$pg" 2>/dev/null
    env kill -KILL -- "-$pg" 2>/dev/null
done
sleep 1
rm -rf "$dir"
"#;

const WATCHDOG_LAUNCHER: &str = r#"
if command -v setsid >/dev/null 2>&1; then
    setsid sh -c "$0" siteledger-ha-watchdog "$@" </dev/null >/dev/null 2>&1 &
else
    sh -c "$0" siteledger-ha-watchdog "$@" </dev/null >/dev/null 2>&1 &
fi
"#;

/// How the cluster replicates.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `synchronous_mode` and `synchronous_mode_strict` (RPO 0). `false` is asynchronous streaming replication,
    /// for the negative control only.
    pub synchronous: bool,
    /// PostgreSQL `fsync` (and `full_page_writes`); on for anything that claims durability.
    pub fsync: bool,
    /// Patroni's `maximum_lag_on_failover`, bytes: a standby further behind than this is not promoted.
    pub maximum_lag_on_failover: u64,
}

impl Default for ClusterOptions {
    fn default() -> ClusterOptions {
        ClusterOptions { synchronous: true, fsync: true, maximum_lag_on_failover: 1024 * 1024 }
    }
}

#[derive(Debug)]
struct Node {
    name: String,
    dir: PathBuf,
    pg_port: u16,
    rest_port: u16,
    config: PathBuf,
    patroni: Option<Child>,
}

/// Three etcd members, three Patroni-managed PostgreSQL 15 nodes and HAProxy, on loopback. Dropping it kills
/// every process and deletes its directory.
#[derive(Debug)]
pub struct HaCluster {
    dir: TempDir,
    bindir: PathBuf,
    run_as_postgres: Option<(u32, u32)>,
    etcd: Vec<Child>,
    nodes: Vec<Node>,
    haproxy: Option<Child>,
    haproxy_port: u16,
    options: ClusterOptions,
}

impl HaCluster {
    /// Starts the whole cluster and waits until a leader accepts writes through HAProxy and both standbys stream
    /// from it (one of them synchronous in synchronous mode). Takes 15–40 s on a busy machine.
    pub fn start(options: ClusterOptions) -> Result<HaCluster, TestkitError> {
        let bindir = postgres_bindir()?;
        let missing: Vec<String> =
            ["etcd", "patroni", "haproxy"].into_iter().filter(|b| !on_path(b)).map(str::to_owned).collect();
        if !missing.is_empty() {
            return Err(TestkitError::MissingHaPackages { missing });
        }
        let run_as_postgres = if is_root() { Some(postgres_ids()?) } else { None };
        let base = PathBuf::from(HA_BASE_DIR);
        fs::create_dir_all(&base).map_err(io_error(format!("creating {}", base.display())))?;
        set_mode(&base, 0o1777)?;
        reap_stale(&base);
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir_in(&base)
            .map_err(io_error(format!("creating a cluster directory in {}", base.display())))?;
        set_mode(dir.path(), 0o755)?;
        let (pid, start) = own_identity();
        fs::write(dir.path().join(OWNER_FILE), format!("{pid} {start}\n")).map_err(io_error("writing owner"))?;
        fs::write(dir.path().join("pgids"), "").map_err(io_error("writing pgids"))?;
        spawn_watchdog(dir.path(), pid, &start)?;

        let etcd_ports: Vec<(u16, u16)> =
            (0..NODES).map(|_| Ok((free_port()?, free_port()?))).collect::<Result<_, _>>()?;
        let mut nodes = Vec::new();
        for i in 0..NODES {
            let name = format!("pg{i}");
            let node_dir = dir.path().join(&name);
            fs::create_dir(&node_dir).map_err(io_error("creating a node directory"))?;
            set_mode(&node_dir, 0o700)?;
            nodes.push(Node {
                config: node_dir.join("patroni.yml"),
                dir: node_dir,
                name,
                pg_port: free_port()?,
                rest_port: free_port()?,
                patroni: None,
            });
        }
        let mut cluster = HaCluster {
            dir,
            bindir,
            run_as_postgres,
            etcd: Vec::new(),
            nodes,
            haproxy: None,
            haproxy_port: free_port()?,
            options,
        };
        cluster.start_etcd(&etcd_ports)?;
        let hosts: Vec<String> = etcd_ports.iter().map(|(c, _)| format!("127.0.0.1:{c}")).collect();
        for i in 0..NODES {
            cluster.write_patroni_config(i, &hosts)?;
        }
        // The first node bootstraps alone (no race for the initialize key), the others clone it.
        cluster.start_node(0)?;
        cluster.wait_for(|c| c.leader().is_some(), "node pg0 to bootstrap and lead")?;
        for i in 1..NODES {
            cluster.start_node(i)?;
        }
        cluster.start_haproxy()?;
        cluster.wait_healthy()?;
        Ok(cluster)
    }

    /// The directory holding every member's data and logs.
    pub fn root_dir(&self) -> &Path {
        self.dir.path()
    }

    /// HAProxy's front end: a libpq/sqlx URL for database `db` on whichever node leads.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{db}", self.haproxy_port)
    }

    /// A URL for database `db` on node `i` directly (bypassing HAProxy).
    pub fn node_url(&self, i: usize, db: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{db}", self.nodes[i].pg_port)
    }

    /// Number of PostgreSQL nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The node whose Patroni answers `GET /primary` with 200 (the leader), if exactly one does. A frozen node
    /// answers nothing; a thawed old leader may answer 200 for a loop before it notices it lost the leader key, and
    /// then there is no single answer (None).
    pub fn leader(&self) -> Option<usize> {
        let mut leaders =
            (0..self.nodes.len()).filter(|&i| rest_status(self.nodes[i].rest_port, "/primary") == Some(200));
        let first = leaders.next()?;
        leaders.next().is_none().then_some(first)
    }

    /// Waits until a node other than `old` leads and accepts a write through HAProxy; returns it.
    pub fn wait_for_new_leader(&self, old: usize) -> Result<usize, TestkitError> {
        self.wait_for(
            |c| c.leader().is_some_and(|l| l != old) && c.writable_through_haproxy(),
            "a new leader reachable through HAProxy",
        )?;
        self.leader().ok_or_else(|| TestkitError::InvalidArgument("the new leader went away again".into()))
    }

    /// Waits until a leader accepts a write through HAProxy and every other running node streams from it (in
    /// synchronous mode one of them as the synchronous standby).
    pub fn wait_healthy(&self) -> Result<(), TestkitError> {
        let want = self.nodes.len() - 1;
        let sync = self.options.synchronous;
        self.wait_for(
            |c| {
                let Some(l) = c.leader() else { return false };
                let q = "SELECT count(*) FILTER (WHERE state = 'streaming'), \
                         count(*) FILTER (WHERE sync_state = 'sync') FROM pg_stat_replication";
                let Ok(out) = c.psql(l, "postgres", q) else { return false };
                let mut parts = out.trim().split('|').map(|p| p.parse::<usize>().unwrap_or(0));
                let (streaming, synced) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
                // The leader's own view is not enough: a thawed old leader still lists the WAL senders it had
                // before it froze. Every other node must be a standby streaming from this leader's port.
                let leader_port = c.nodes[l].pg_port.to_string();
                let followed = (0..c.nodes.len()).filter(|&i| i != l).all(|i| {
                    c.psql(i, "postgres", "SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'")
                        .is_ok_and(|p| p.trim() == leader_port)
                });
                streaming >= want && (!sync || synced >= 1) && followed && c.writable_through_haproxy()
            },
            "a leader with every standby streaming",
        )
    }

    /// Whether a write through HAProxy succeeds now (a temporary table, so nothing is left behind).
    pub fn writable_through_haproxy(&self) -> bool {
        let mut cmd = self.psql_command(self.haproxy_port, "postgres");
        cmd.args(["-c", "CREATE TEMP TABLE probe (x int); INSERT INTO probe VALUES (1)"]);
        cmd.env("PGCONNECT_TIMEOUT", "3");
        run_output_quiet(cmd).is_some()
    }

    /// Creates database `db` through HAProxy (on the leader; it replicates).
    pub fn create_database(&self, db: &str) -> Result<String, TestkitError> {
        let mut cmd = self.psql_command(self.haproxy_port, "postgres");
        cmd.args(["-c", &format!("CREATE DATABASE \"{}\"", db.replace('"', "\"\""))]);
        run_output(cmd, None)?;
        Ok(self.url(db))
    }

    /// Runs `sql` with `psql -At` on node `i` directly and returns its output (`|`-separated columns).
    pub fn psql(&self, i: usize, db: &str, sql: &str) -> Result<String, TestkitError> {
        let mut cmd = self.psql_command(self.nodes[i].pg_port, db);
        cmd.args(["-v", "ON_ERROR_STOP=1", "-At", "-c", sql]);
        let out = run_output(cmd, None)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn psql_command(&self, port: u16, db: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join("psql"));
        crate::clean_pg_env(&mut cmd);
        cmd.args(["-X", "-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", SUPERUSER, "-d", db])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null());
        cmd
    }

    /// SIGKILLs node `i`'s Patroni and PostgreSQL (every backend): the machine is gone. [`HaCluster::start_node`]
    /// brings it back.
    pub fn kill_node(&mut self, i: usize) -> Result<(), TestkitError> {
        self.signal_node(i, "CONT");
        self.signal_node(i, "KILL");
        if let Some(mut child) = self.nodes[i].patroni.take() {
            let _ = child.wait();
        }
        // The postmaster is not our child (Patroni started it in its own session): wait until it is gone, so a
        // restart does not find it still holding its port.
        let data = self.nodes[i].dir.join("data");
        let pid = postmaster_pid(&data);
        self.wait_for(move |_| pid.is_none_or(|p| !running(p)), "the old postmaster to exit")
    }

    /// SIGSTOPs node `i`'s Patroni and PostgreSQL: it stops answering (REST API, queries, replication) but keeps
    /// its state, and believes it still leads when [`HaCluster::thaw_node`] resumes it.
    pub fn freeze_node(&self, i: usize) {
        self.signal_node(i, "STOP");
    }

    /// SIGCONTs node `i` after [`HaCluster::freeze_node`].
    pub fn thaw_node(&self, i: usize) {
        self.signal_node(i, "CONT");
    }

    /// SIGSTOPs the leader `i`'s WAL sender processes: its standbys stop receiving WAL while it keeps committing
    /// (in asynchronous mode; in synchronous mode its commits then wait). For the negative control.
    pub fn pause_replication(&self, i: usize) -> Result<usize, TestkitError> {
        let pids = self.psql(i, "postgres", "SELECT pid FROM pg_stat_replication")?;
        let mut n = 0;
        for pid in pids.lines().map(str::trim).filter(|p| !p.is_empty()) {
            if Command::new("kill").args(["-STOP", pid]).status().is_ok_and(|s| s.success()) {
                n += 1;
            }
        }
        Ok(n)
    }

    fn signal_node(&self, i: usize, signal: &str) {
        let node = &self.nodes[i];
        let mut groups = Vec::new();
        if let Some(child) = &node.patroni {
            groups.push(child.id());
        }
        if let Some(pgid) = postmaster_group(&node.dir.join("data")) {
            groups.push(pgid);
        }
        for g in groups {
            let _ = Command::new("kill")
                .args([&format!("-{signal}"), "--", &format!("-{g}")])
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Starts (or restarts after [`HaCluster::kill_node`]) node `i`'s Patroni, which starts its PostgreSQL: a new
    /// node clones the leader, an old leader that diverged is rewound.
    pub fn start_node(&mut self, i: usize) -> Result<(), TestkitError> {
        if self.nodes[i].patroni.is_some() {
            return Ok(());
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.nodes[i].dir.join("patroni.log"))
            .map_err(io_error("opening patroni.log"))?;
        let log2 = log.try_clone().map_err(io_error("opening patroni.log"))?;
        let mut cmd = Command::new("patroni");
        cmd.arg(&self.nodes[i].config)
            .current_dir(&self.nodes[i].dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0);
        crate::clean_pg_env(&mut cmd);
        if let Some((uid, gid)) = self.run_as_postgres {
            cmd.uid(uid).gid(gid).env("HOME", &self.nodes[i].dir).env("USER", SUPERUSER);
        }
        let child = cmd.spawn().map_err(io_error("starting patroni"))?;
        self.record_group(child.id())?;
        self.nodes[i].patroni = Some(child);
        Ok(())
    }

    fn start_etcd(&mut self, ports: &[(u16, u16)]) -> Result<(), TestkitError> {
        let initial: Vec<String> =
            ports.iter().enumerate().map(|(i, (_, p))| format!("e{i}=http://127.0.0.1:{p}")).collect();
        let token = self.dir.path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for (i, (client, peer)) in ports.iter().enumerate() {
            let data = self.dir.path().join(format!("etcd{i}"));
            let log = fs::File::create(self.dir.path().join(format!("etcd{i}.log"))).map_err(io_error("etcd log"))?;
            let log2 = log.try_clone().map_err(io_error("etcd log"))?;
            let mut cmd = Command::new("etcd");
            cmd.args(["--name", &format!("e{i}"), "--data-dir"])
                .arg(&data)
                .args([
                    "--listen-client-urls",
                    &format!("http://127.0.0.1:{client}"),
                    "--advertise-client-urls",
                    &format!("http://127.0.0.1:{client}"),
                    "--listen-peer-urls",
                    &format!("http://127.0.0.1:{peer}"),
                    "--initial-advertise-peer-urls",
                    &format!("http://127.0.0.1:{peer}"),
                    "--initial-cluster",
                    &initial.join(","),
                    "--initial-cluster-state",
                    "new",
                    "--initial-cluster-token",
                    &token,
                    // Generous timing for a busy machine: an etcd election must not be what a failover waits on.
                    "--heartbeat-interval",
                    "200",
                    "--election-timeout",
                    "2000",
                    // Patroni talks to etcd through the v2 API: see the module documentation (etcd3 and a zombie leader).
                    "--enable-v2=true",
                ])
                .env_remove("ETCD_NAME")
                .env_remove("ETCD_DATA_DIR")
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log2)
                .process_group(0);
            let child = cmd.spawn().map_err(io_error("starting etcd"))?;
            self.record_group(child.id())?;
            self.etcd.push(child);
        }
        let clients: Vec<u16> = ports.iter().map(|(c, _)| *c).collect();
        self.wait_for(
            move |_| clients.iter().all(|&c| rest_status(c, "/health") == Some(200)),
            "etcd members to report healthy",
        )
    }

    fn write_patroni_config(&self, i: usize, etcd_hosts: &[String]) -> Result<(), TestkitError> {
        let node = &self.nodes[i];
        let sync = self.options.synchronous;
        let fsync = if self.options.fsync { "on" } else { "off" };
        let scope = self.dir.path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let d = node.dir.display();
        let config = format!(
            r#"scope: {scope}
namespace: /siteledger-testkit/
name: {name}
log:
  level: INFO
restapi:
  listen: 127.0.0.1:{rest}
  connect_address: 127.0.0.1:{rest}
etcd:
  hosts: {hosts}
bootstrap:
  dcs:
    ttl: {TTL_SECS}
    loop_wait: {LOOP_WAIT_SECS}
    retry_timeout: {RETRY_TIMEOUT_SECS}
    maximum_lag_on_failover: {lag}
    synchronous_mode: {sync}
    synchronous_mode_strict: {sync}
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        max_connections: 200
        fsync: "{fsync}"
        full_page_writes: "{fsync}"
        synchronous_commit: "on"
        wal_keep_size: 256MB
  initdb:
    - encoding: UTF8
    - no-locale
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:{pg}
  connect_address: 127.0.0.1:{pg}
  data_dir: {d}/data
  bin_dir: {bin}
  pgpass: {d}/pgpass
  authentication:
    superuser:
      username: {SUPERUSER}
      password: siteledger-test
    replication:
      username: replicator
      password: siteledger-test
    rewind:
      username: {SUPERUSER}
      password: siteledger-test
  parameters:
    unix_socket_directories: {d}
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
"#,
            name = node.name,
            rest = node.rest_port,
            pg = node.pg_port,
            hosts = etcd_hosts.join(","),
            lag = self.options.maximum_lag_on_failover,
            bin = self.bindir.display(),
        );
        fs::write(&node.config, config).map_err(io_error("writing patroni.yml"))?;
        if let Some((uid, gid)) = self.run_as_postgres {
            chown(&node.dir, uid, gid)?;
            chown(&node.config, uid, gid)?;
        }
        Ok(())
    }

    fn start_haproxy(&mut self) -> Result<(), TestkitError> {
        let mut servers = String::new();
        for n in &self.nodes {
            servers.push_str(&format!(
                "    server {} 127.0.0.1:{} maxconn 200 check port {}\n",
                n.name, n.pg_port, n.rest_port
            ));
        }
        let config = format!(
            "global\n    maxconn 1000\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30m\n    timeout server 30m\n    \
             timeout check 2s\n\
             listen primary\n    bind 127.0.0.1:{port}\n    option httpchk GET /primary\n    \
             http-check expect status 200\n    \
             default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions\n{servers}",
            port = self.haproxy_port,
        );
        let path = self.dir.path().join("haproxy.cfg");
        fs::write(&path, config).map_err(io_error("writing haproxy.cfg"))?;
        let log = fs::File::create(self.dir.path().join("haproxy.log")).map_err(io_error("haproxy log"))?;
        let log2 = log.try_clone().map_err(io_error("haproxy log"))?;
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0)
            .spawn()
            .map_err(io_error("starting haproxy"))?;
        self.record_group(child.id())?;
        self.haproxy = Some(child);
        Ok(())
    }

    fn record_group(&self, pgid: u32) -> Result<(), TestkitError> {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("pgids"))
            .map_err(io_error("recording a process group"))?;
        writeln!(f, "{pgid}").map_err(io_error("recording a process group"))
    }

    /// Polls `condition` every 200 ms until it holds; fails after the hang guard with the members' log tails.
    fn wait_for(&self, mut condition: impl FnMut(&HaCluster) -> bool, what: &str) -> Result<(), TestkitError> {
        let start = Instant::now();
        while start.elapsed() < HANG_GUARD {
            if condition(self) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(TestkitError::InvalidArgument(format!(
            "the HA cluster did not reach the state `{what}` within {HANG_GUARD:?}; logs in {}:\n{}",
            self.dir.path().display(),
            self.log_tails()
        )))
    }

    fn log_tails(&self) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            if let Some(t) = crate::log_tail(&n.dir.join("patroni.log")) {
                out.push_str(&format!("--- {} patroni.log ---\n{t}\n", n.name));
            }
        }
        out
    }
}

impl Drop for HaCluster {
    fn drop(&mut self) {
        // Resume frozen processes first: a stopped process dies of SIGKILL too, but its group may hold children
        // that would otherwise be reparented and left stopped.
        let mut groups: Vec<u32> = Vec::new();
        groups.extend(self.nodes.iter().filter_map(|n| n.patroni.as_ref().map(Child::id)));
        groups.extend(self.nodes.iter().filter_map(|n| postmaster_group(&n.dir.join("data"))));
        groups.extend(self.etcd.iter().map(Child::id));
        groups.extend(self.haproxy.iter().map(Child::id));
        for g in &groups {
            let _ = Command::new("kill").args(["-CONT", "--", &format!("-{g}")]).stderr(Stdio::null()).status();
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{g}")]).stderr(Stdio::null()).status();
        }
        for child in self.nodes.iter_mut().filter_map(|n| n.patroni.as_mut()).chain(self.etcd.iter_mut()) {
            let _ = child.wait();
        }
        if let Some(h) = self.haproxy.as_mut() {
            let _ = h.wait();
        }
        // The postmasters are not our children: wait (bounded) until they are gone before deleting their files.
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10)
            && self.nodes.iter().any(|n| postmaster_pid(&n.dir.join("data")).is_some_and(running))
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn on_path(binary: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(binary).is_file()))
}

fn postgres_ids() -> Result<(u32, u32), TestkitError> {
    let id = |flag: &str| -> Result<u32, TestkitError> {
        let mut cmd = Command::new("id");
        cmd.args([flag, SUPERUSER]);
        let out = run_output(cmd, None).map_err(|_| TestkitError::NoPostgresUser)?;
        String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|_| TestkitError::NoPostgresUser)
    };
    Ok((id("-u")?, id("-g")?))
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), TestkitError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io_error(format!("chown {}", path.display())))
}

/// A port free on 127.0.0.1 now (the kernel's pick; a race with another process is possible but unlikely).
fn free_port() -> Result<u16, TestkitError> {
    let l = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).map_err(io_error("finding a free port"))?;
    Ok(l.local_addr().map_err(io_error("finding a free port"))?.port())
}

/// The PID (and process group) of the postmaster of `data`, from `postmaster.pid`.
fn postmaster_pid(data: &Path) -> Option<u32> {
    fs::read_to_string(data.join("postmaster.pid")).ok()?.lines().next()?.trim().parse().ok()
}

/// The process group of the running postmaster of `data`. Patroni starts PostgreSQL from a helper that calls
/// `setsid`, so the group is the helper's PID, not the postmaster's.
fn postmaster_group(data: &Path) -> Option<u32> {
    let pid = postmaster_pid(data)?;
    // A stale postmaster.pid may name a PID reused by an unrelated process: only a postgres of this data dir counts.
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if !String::from_utf8_lossy(&cmdline).contains(&*data.to_string_lossy()) {
        return None;
    }
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name: state, ppid, pgrp.
    let fields: Vec<&str> = stat[stat.rfind(") ")? + 2..].split_whitespace().collect();
    if matches!(fields.first(), Some(&"Z" | &"X")) {
        return None;
    }
    fields.get(2)?.parse().ok()
}

/// Whether process `pid` exists and has not exited (a zombie, which nobody may reap in a container, has).
fn running(pid: u32) -> bool {
    crate::proc_stat(pid).is_some_and(|(state, _)| !matches!(state, 'Z' | 'X'))
}

/// The HTTP status of `GET path` on 127.0.0.1:`port`, or None when nothing answers within 1 s.
fn rest_status(port: u16, path: &str) -> Option<u16> {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(1))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).ok()?;
    // Read the whole (small) answer: closing early makes Patroni log a connection reset for every check.
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let head = String::from_utf8_lossy(&answer[..answer.len().min(64)]);
    head.split_whitespace().nth(1)?.parse().ok()
}

fn run_output_quiet(mut cmd: Command) -> Option<()> {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().ok().filter(|s| s.success()).map(|_| ())
}

fn spawn_watchdog(dir: &Path, pid: u32, start: &str) -> Result<(), TestkitError> {
    let status = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG_LAUNCHER)
        .arg(WATCHDOG_SCRIPT)
        .arg(pid.to_string())
        .arg(start)
        .arg(dir)
        .stdin(Stdio::null())
        .status()
        .map_err(io_error("starting the cluster watchdog"))?;
    if status.success() {
        Ok(())
    } else {
        Err(TestkitError::InvalidArgument(format!("the cluster watchdog launcher failed ({status})")))
    }
}

/// Kills and deletes cluster directories whose owning process no longer runs (a test killed before its watchdog
/// could act, or a watchdog killed with it).
fn reap_stale(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_name().to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let stale = fs::read_to_string(path.join(OWNER_FILE)).is_ok_and(|o| !owner_alive(&o));
        if !stale {
            continue;
        }
        let mut groups: Vec<String> =
            fs::read_to_string(path.join("pgids")).unwrap_or_default().split_whitespace().map(str::to_owned).collect();
        for i in 0..NODES {
            if let Some(g) = postmaster_group(&path.join(format!("pg{i}/data"))) {
                groups.push(g.to_string());
            }
        }
        for g in groups {
            let _ = Command::new("kill").args(["-CONT", "--", &format!("-{g}")]).stderr(Stdio::null()).status();
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{g}")]).stderr(Stdio::null()).status();
        }
        let _ = fs::remove_dir_all(&path);
    }
}
