#!/usr/bin/env bash
# The scheduler workflow of backy2's demo/ scripts (behavior §21.3), day by day on a fake clock:
#   due -> backup -t SCHEDULERS -e EXPIRE -> sla -> rm -f every expired version -> cleanup.
# Usage: scheduler_workflow.sh BACKY2 CONFIG SOURCE_URL NAME SCHEDULERS FIRST_DAY DAYS
# Prints one "day …" line per day, then the final `-ms sla` output after a line "final sla:".
set -euo pipefail
backy2=$1 config=$2 source=$3 name=$4 schedulers=$5 first_day=$6 days=$7
b2() { "$backy2" -c "$config" "$@"; }

for ((day = 0; day < days; day++)); do
  export BACKY2_FAKE_NOW
  BACKY2_FAKE_NOW="$(date -u -d "$first_day + $day days 02:00" +%Y-%m-%dT%H:%M:%S)"
  # backup.sh: back up only when a scheduler is due, tagged with the due schedulers, expiring as due says.
  due="$(b2 -ms due -s "$schedulers" -f name,schedulers,expire_date "$name")"
  made=none
  if [ -n "$due" ]; then
    IFS='|' read -r _ due_schedulers expire <<<"$due"
    made="$(b2 -m backup -t "$due_schedulers" -e "$expire" "$source" "$name" | head -1)"
    made="$due_schedulers"
  fi
  # sla.sh: report breaches (exit 0 even when there are some).
  breaches="$(b2 -ms sla -s "$schedulers" "$name" | wc -l)"
  # cleanup.sh: remove what expired, then free the blobs.
  removed=0
  for uid in $(b2 -ms ls -e -f uid); do
    b2 rm -f "$uid" >/dev/null
    removed=$((removed + 1))
  done
  b2 cleanup --dangerous-force >/dev/null
  echo "day $day ${BACKY2_FAKE_NOW%T*}: backup=$made breaches=$breaches removed=$removed"
done
echo "final sla:"
b2 -ms sla -s "$schedulers" "$name"
