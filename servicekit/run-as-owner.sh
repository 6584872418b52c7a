#!/bin/sh
# Start-up step of both containers: run a command as the owner of a directory, with no
# capabilities.
#
#   sh servicekit/run-as-owner.sh DIRECTORY COMMAND [ARGUMENT...]
#
# The container starts as root holding only CAP_SETUID and CAP_SETGID (to switch user) and
# CAP_SETPCAP (to empty the capability bounding set), with no_new_privs set (docker-compose.yml).
# This script takes the uid and gid that own DIRECTORY, or APP_UID and APP_GID when they are set,
# and execs COMMAND as that user through setpriv (util-linux, in every Debian image): no
# supplementary groups, and every capability set empty, the bounding set included, so even a
# COMMAND that runs as uid 0 holds none. Files the service writes then belong to whoever owns the
# checkout: root for a root-owned clone, uid 1234 for one owned by 1234, and the host user under
# rootless Docker or Podman (where that user is uid 0 inside the container).
# Started as another user than root: nothing to switch, COMMAND runs as it is.
set -eu

fail() {
    printf 'run-as-owner: %s\n' "$1" >&2
    exit 1
}

[ "$#" -ge 2 ] || fail "usage: run-as-owner.sh DIRECTORY COMMAND [ARGUMENT...]"
directory=$1
shift
[ "$(id -u)" = 0 ] || exec "$@"

# An id is decimal digits from 0 to 4294967294, leading zeros allowed (stripped into $number).
# 4294967295 is (uid_t)-1, which setpriv reads as "leave unchanged" (the daemon would stay root),
# and anything larger wraps around to another id.
is_id() {
    case $1 in
        '' | *[!0-9]*) return 1 ;;
    esac
    number=${1#"${1%%[!0]*}"}
    number=${number:-0}
    case $number in
        ???????????*) return 1 ;; # 11 digits or more
    esac
    [ "$number" -le 4294967294 ]
}

uid=${APP_UID:-$(stat -c %u "$directory" 2>/dev/null)} || fail "cannot read the owner of $directory"
gid=${APP_GID:-$(stat -c %g "$directory" 2>/dev/null)} || fail "cannot read the group of $directory"
{ is_id "$uid" && uid=$number && is_id "$gid" && gid=$number; } \
    || fail "APP_UID and APP_GID must be numeric ids from 0 to 4294967294, not '$uid' and '$gid'"

command -v setpriv >/dev/null || fail "setpriv (util-linux) is not installed in this image"
# Plain decimal ids only (checked above), so the unquoted expansion splits into exactly these options.
options="--reuid=$uid --regid=$gid --clear-groups --inh-caps=-all --bounding-set=-all"
# Try the switch first, so that a container started without the capabilities it needs says so
# in one line instead of setpriv's bare error.
# shellcheck disable=SC2086
setpriv $options -- true 2>/dev/null \
    || fail "cannot switch to uid $uid gid $gid: the container needs cap_add SETUID, SETGID, SETPCAP"
# shellcheck disable=SC2086
exec setpriv $options -- "$@"
