#!/bin/sh
# Docker healthcheck of both services: exit 0 (healthy) or 1 (unhealthy), one line on stdout.
#
#   sh servicekit/healthcheck.sh HEARTBEAT_FILE        (docker-compose.yml runs it every 5 s)
#
# Healthy only when ALL of these hold for HEARTBEAT_FILE, which the daemon rewrites atomically
# after every run (except a run that found another one holding the lock: it writes nothing):
#   - it exists, is a regular readable file, and has well-formed status, last_attempt_epoch,
#     last_success_epoch and interval_seconds fields (key=value lines; whole seconds as plain
#     decimal digits, no leading zero, at most 18 digits);
#   - status=ok: the last run succeeded (anything else, such as failed, is not);
#   - neither timestamp is in the future;
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

# Digits only, as the collector writes them: no leading zero (sh arithmetic reads 0300 as octal
# and fails on 09) and at most 18 digits (no overflow).
is_number() {
    case $1 in
        '' | *[!0-9]* | 0?* | ???????????????????*) return 1 ;;
        *) return 0 ;;
    esac
}

[ -n "$heartbeat" ] || unhealthy "usage: healthcheck.sh HEARTBEAT_FILE"
is_number "$grace" || unhealthy "HEALTHCHECK_GRACE_SECONDS is not a whole number: '$grace'"
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
is_number "$interval" || unhealthy "heartbeat $heartbeat is malformed: interval_seconds='$interval'"
[ "$status" = ok ] || unhealthy "last run (at epoch $last_attempt) did not succeed: status=$status ${error}"
is_number "$last_success" || unhealthy "heartbeat $heartbeat is malformed: last_success_epoch='$last_success'"

now=$(date +%s) || unhealthy "cannot read the clock"
[ "$last_attempt" -le "$now" ] || unhealthy "last attempt is in the future (epoch $last_attempt > now $now)"
[ "$last_success" -le "$now" ] || unhealthy "last success is in the future (epoch $last_success > now $now)"

age=$((now - last_success))
limit=$((interval + grace))
[ "$age" -le "$limit" ] || unhealthy "last success was ${age}s ago, more than ${limit}s (interval ${interval}s + grace ${grace}s)"

printf 'healthy: last success %ss ago (limit %ss)\n' "$age" "$limit"
exit 0
