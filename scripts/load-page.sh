#!/bin/bash
# One page or endpoint under concurrent clients: N requests from C concurrent curl processes, back to back.
#   scripts/load-page.sh URL TOKEN H|C PATH [N=1000] [C=50]   (H: bearer token, C: the dashboard cookie)
# Prints a Markdown row: path, requests, req/s, p50, p99, max (ms), status counts. The client's process start-up
# shares the machine with the server: p99s are pessimistic beside an in-process client (siteledger bench).
OUT=$(mktemp); trap 'rm -f "$OUT"' EXIT
URL=$1; TOK=$2; KIND=$3; P=$4; N=${5:-1000}; C=${6:-50}
if [ "$KIND" = C ]; then HDR="Cookie: siteledger_token=$TOK"; else HDR="Authorization: Bearer $TOK"; fi
t0=$(date +%s.%N)
seq $N | xargs -P $C -I{} curl -s -o /dev/null -w "%{http_code} %{time_total}\n" -H "$HDR" "$URL$P" > "$OUT"
t1=$(date +%s.%N)
python3 - "$P" "$t0" "$t1" "$OUT" <<'PY'
import sys
path, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rows = [l.split() for l in open(sys.argv[4]) if l.strip()]
codes = {}
for c, _ in rows: codes[c] = codes.get(c, 0) + 1
t = sorted(float(x) * 1000 for _, x in rows)
q = lambda p: t[min(len(t) - 1, int(p * len(t)))]
print(f"| `{path}` | {len(t)} | {len(t)/(t1-t0):.0f} | {q(0.5):.1f} | {q(0.99):.1f} | {t[-1]:.1f} | {codes} |")
PY
