#!/usr/bin/env bash
# Resident memory of `gateway-agent run` with 500 connected HJ 212 monitors (BENCHMARKS.md).
#
#   CARGO_TARGET_DIR=/work/target-6 bash gateway-agent/benches/rss.sh [MONITORS] [SECONDS]
#
# Builds the release binary, writes a configuration with MONITORS hj212 devices (default 500), starts the agent
# (platform URL on a closed port: everything stays in its queue), starts `gateway-agent simulate` for the same
# devices (each monitor holds one TCP connection and uploads every 5 s, half of them asking for 9014), waits
# SECONDS (default 60), and prints the agent's VmRSS and VmHWM from /proc with the number of open connections.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
monitors="${1:-500}"
seconds="${2:-60}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p siteledger-gateway-agent --bin gateway-agent
bin="$target/release/gateway-agent"
work="$(mktemp -d)"
trap 'kill "${sim:-}" "${agent:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" keygen --out "$work/gw.key" >/dev/null
{
    echo 'platform_url = "http://127.0.0.1:9"'
    echo 'token = "bench"'
    echo "key_file = \"$work/gw.key\""
    echo 'project_id = "NB-2025-0001"'
    echo 'gateway_id = "GW-BENCH"'
    echo "queue_dir = \"$work/queue\""
    echo 'hj212_listen = "127.0.0.1:19212"'
    echo 'http_listen = "127.0.0.1:19280"'
    echo 'heartbeat_secs = 0'
    for i in $(seq 1 "$monitors"); do
        printf '[[devices]]\nid = "HJ-%04d"\nkind = "hj212"\nmn = "0100%020X"\n' "$i" "$i"
    done
} > "$work/agent.toml"
RUST_LOG=error "$bin" run --config "$work/agent.toml" & agent=$!
sleep 1
RUST_LOG=error "$bin" simulate --config "$work/agent.toml" --tick-ms 5000 & sim=$!
sleep "$seconds"
conns=$(ss -Htn state established "( sport = :19212 )" | wc -l)
echo "monitors=$monitors connections=$conns after ${seconds}s"
grep -E 'VmRSS|VmHWM' "/proc/$agent/status"
