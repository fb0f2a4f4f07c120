#!/usr/bin/env bash
# The failover drill of issue 17: a three-node Patroni cluster (strict synchronous replication) on loopback, a
# platform server on it through HAProxy, writers posting signed records, and rounds of faults (PostgreSQL leader
# SIGKILL, leader SIGSTOP for longer than the failover timeout then SIGCONT, platform server SIGKILL mid-commit).
# After each round every acknowledged record must be in the log exactly once, positions dense, every checkpoint
# published before the fault consistent with the tree after it, no fork, and ingest must resume.
#
#   bash scripts/ha-drill.sh               30 rounds (20 failovers): the acceptance run
#   bash scripts/ha-drill.sh --rounds 6    a shorter run
#
# Needs the Debian packages patroni, etcd-server, etcd-client, haproxy and postgresql (scripts/test.sh installs
# them). The last line is `ha drill: ok …` (exit 0) or `ha drill: FAILED …` (exit 1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo build --locked -q -p siteledger-e2e --bin ha-drill
exec "${CARGO_TARGET_DIR:-target}/debug/ha-drill" "$@"
