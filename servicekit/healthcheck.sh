#!/bin/sh
# Docker healthcheck of both services: exit 0 (healthy) or 1 (unhealthy), one line on stdout.
#
#   sh servicekit/healthcheck.sh HEARTBEAT_FILE        (docker-compose.yml runs it every 5 s)
#
# Healthy only when ALL of these hold for HEARTBEAT_FILE, which the daemon rewrites atomically
# after every run (except a run that found another one holding the lock: it writes nothing):
#   - it exists, is a regular readable file, and has well-formed status, last_attempt_epoch,
#     last_success_epoch and interval_seconds fields (key=value lines; whole seconds as plain
#     decimal digits, leading zeros allowed, at most 18 digits after them);
#   - status=ok: the last run succeeded (anything else, such as failed, is not);
#   - neither timestamp is more than the grace in the future: the clock may step back a little
#     (NTP, a restored VM) between a run and the check;
#   - the last success is at most interval_seconds + grace old. The grace, 60 s by default
#     (HEALTHCHECK_GRACE_SECONDS), covers the run's own duration and scheduling jitter.
# Before the first run ends the file does not exist yet: the Compose start_period covers that.
# Plain POSIX sh plus `date` (coreutils), as in python:3.x-slim; no Python needed.

heartbeat=${1:-}
grace=${HEALTHCHECK_GRACE_SECONDS:-60}

unhealthy() {
    printf 'unhealthy: %s\n' "$1"
    exit 1
}

# Whole seconds as the services read their intervals (servicekit/cli.py): decimal digits only,
# leading zeros allowed. Sets $number to the value without them, since sh arithmetic reads 0300
# as octal and fails on 09; at most 18 digits are left (no overflow).
is_number() {
    case $1 in
        '' | *[!0-9]*) return 1 ;;
    esac
    number=${1#"${1%%[!0]*}"}
    number=${number:-0}
    case $number in
        ???????????????????*) return 1 ;;
    esac
}

[ -n "$heartbeat" ] || unhealthy "usage: healthcheck.sh HEARTBEAT_FILE"
is_number "$grace" \
    || unhealthy "HEALTHCHECK_GRACE_SECONDS must be whole seconds in decimal digits (at most 18), not '$grace'"
grace=$number
[ -e "$heartbeat" ] || unhealthy "no heartbeat at $heartbeat (no run has finished yet)"
{ [ -f "$heartbeat" ] && [ -r "$heartbeat" ]; } || unhealthy "heartbeat $heartbeat is not a readable file"

status='' last_attempt='' last_success='' interval='' error=''
while IFS= read -r line || [ -n "$line" ]; do
    value=${line#*=}
    case $line in
        status=*) status=$value ;;
        last_attempt_epoch=*) last_attempt=$value ;;
        last_success_epoch=*) last_success=$value ;;
        interval_seconds=*) interval=$value ;;
        error=*) error=$value ;;
    esac
done < "$heartbeat" || unhealthy "heartbeat $heartbeat could not be read"

[ -n "$status" ] || unhealthy "heartbeat $heartbeat is malformed: no status"
is_number "$last_attempt" || unhealthy "heartbeat $heartbeat is malformed: last_attempt_epoch='$last_attempt'"
last_attempt=$number
is_number "$interval" || unhealthy "heartbeat $heartbeat is malformed: interval_seconds='$interval'"
interval=$number
[ "$status" = ok ] || unhealthy "last run (at epoch $last_attempt) did not succeed: status=$status ${error}"
is_number "$last_success" || unhealthy "heartbeat $heartbeat is malformed: last_success_epoch='$last_success'"
last_success=$number

now=$(date +%s) || unhealthy "cannot read the clock"
# A step back of the clock of up to the grace is tolerated; a larger one is reported as such.
latest=$((now + grace))
[ "$last_attempt" -le "$latest" ] \
    || unhealthy "last attempt is $((last_attempt - now))s in the future (epoch $last_attempt > now $now), more than the grace ${grace}s: the clock went back?"
[ "$last_success" -le "$latest" ] \
    || unhealthy "last success is $((last_success - now))s in the future (epoch $last_success > now $now), more than the grace ${grace}s: the clock went back?"

age=$((now - last_success))
limit=$((interval + grace))
[ "$age" -le "$limit" ] || unhealthy "last success was ${age}s ago, more than ${limit}s (interval ${interval}s + grace ${grace}s)"

if [ "$age" -lt 0 ]; then
    printf 'healthy: last success %ss in the future, within the grace %ss (the clock went back)\n' "$((-age))" "$grace"
else
    printf 'healthy: last success %ss ago (limit %ss)\n' "$age" "$limit"
fi
exit 0
