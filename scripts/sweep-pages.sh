#!/bin/bash
# Every GET page and endpoint of a running server, once cold and five times warm, one client (curl):
#   scripts/sweep-pages.sh URL TOKEN    (a city token: siteledger token create --role city …)
# Prints path, status, body bytes, cold ms, warm p50 ms, warm max ms. Ids are taken from the server (a project, one of
# its participants, its district, one of its records). BENCHMARKS.md, "Every page and endpoint at city size".
URL=$1; TOK=$2
H="Authorization: Bearer $TOK"; C="Cookie: siteledger_token=$TOK"
P=$(curl -s -H "$H" "$URL/v1/projects?limit=5" | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d.get("projects",d) if isinstance(d,dict) else d; print(d[3]["project_id"])')
E=$(curl -s -H "$H" "$URL/v1/projects/$P" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["participants"][0]["credit_code"])' 2>/dev/null)
D=$(curl -s -H "$H" "$URL/v1/projects/$P" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("district") or d["project"]["district"])' 2>/dev/null)
EV=$(curl -s -H "$H" "$URL/v1/projects/$P/events?limit=1" | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d.get("events",d) if isinstance(d,dict) else d; print(d[0]["event_id"])' 2>/dev/null)
echo "project $P enterprise $E district $D event $EV" >&2
paths=(
"C /" "C /districts/$D" "C /projects/$P" "C /verify/$EV" "C /alarms" "C /keys" "C /ratings" "C /ratings/projects/$P" "C /ratings/credit/$E"
"C /site" "C /site/districts/$D" "C /site/projects/$P" "C /command" "C /command/rectifications" "C /command/testing" "C /command/hazards"
"C /command/bim" "C /command/tasks" "C /workforce"
"H /v1/alarms" "H /v1/alarms?limit=50" "H /v1/districts" "H /v1/keys" "H /v1/projects" "H /v1/projects?limit=50" "H /v1/projects/$P" "H /v1/projects/$P/events"
"H /v1/evidence/$EV" "H /v1/log/checkpoint" "H /v1/ratings" "H /v1/ratings/$P" "H /v1/rating-policies" "H /v1/reports"
"H /v1/site/alarms" "H /v1/site/overview" "H /v1/site/projects/$P" "H /v1/site/projects/$P/series" "H /v1/site/districts/$D/series"
"H /v1/site/projects/$P/cameras/days" "H /v1/supervision/command" "H /v1/supervision/hazards" "H /v1/supervision/inspections"
"H /v1/supervision/rectifications" "H /v1/supervision/stop-orders" "H /v1/supervision/testing/gaps" "H /v1/supervision/testing/reports"
"H /v1/supervision/testing/unqualified" "H /v1/supervision/bim/nodes" "H /v1/tasks" "H /v1/whoami"
"H /v1/workforce/arrears?project=$P" "H /v1/workforce/arrears/summary" "H /v1/workforce/attendance?project=$P" "H /v1/workforce/payroll?project=$P"
"H /v1/workforce/roster?project=$P" "H /v1/workforce/arrears" "H /v1/workforce/attendance" "H /v1/workforce/roster"
)
printf "%-48s %6s %9s %9s %9s %9s\n" path status bytes cold_ms warm_p50 warm_max
for e in "${paths[@]}"; do
  kind=${e%% *}; path=${e#* }
  if [ "$kind" = C ]; then hdr=$C; else hdr=$H; fi
  out=$(curl -s -o /dev/null -w "%{http_code} %{size_download} %{time_total}" -H "$hdr" "$URL$path")
  st=$(echo $out | cut -d' ' -f1); sz=$(echo $out | cut -d' ' -f2); cold=$(echo $out | cut -d' ' -f3)
  ts=""
  for i in 1 2 3 4 5; do ts="$ts $(curl -s -o /dev/null -w "%{time_total}" -H "$hdr" "$URL$path")"; done
  echo "$ts" | python3 -c "
import sys; t=sorted(float(x)*1000 for x in sys.stdin.read().split())
print('%-48s %6s %9s %9.1f %9.1f %9.1f' % ('$path'[:48], '$st', '$sz', float('$cold')*1000, t[2], t[-1]))"
done
