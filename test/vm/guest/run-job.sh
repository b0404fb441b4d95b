#!/bin/bash
# Runs the harness job's command as root and records its stdout, stderr and exit status on
# the job share. stage2.sh calls it directly; under systemd, brine-vm-job.service does.
set -u
job=/run/brine-vm
. "$job/job.conf"
. "$job/env.sh"
export HOME=/root
stdin=/dev/null
[ -f "$job/stdin" ] && stdin=$job/stdin

: >"$job/started"
# The guest clock starts from the host's RTC, so the host's wall-clock deadline holds here too.
remaining=$((BRINE_DEADLINE - $(date +%s)))
((remaining > 0)) || remaining=1
(cd "$BRINE_CWD" && exec timeout --kill-after=5 "$remaining" /bin/bash "$job/command.sh") <"$stdin" >"$job/stdout" 2>"$job/stderr"
status=$?
# 124: timeout's TERM ended it; 137: the KILL that followed.
if ((status == 124 || status == 137)) && (($(date +%s) >= BRINE_DEADLINE)); then
	: >"$job/timedout"
fi
echo "$status" >"$job/status"
sync
