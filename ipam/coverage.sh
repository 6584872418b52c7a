#!/bin/sh
# Run the tests of everything the ipam container runs (ipam/ and servicekit/) under coverage.py
# and write the `coverage report -m` table, statements and branches (ipam/.coveragerc), to
# ipam/coverage_results. Works from the repository root on the host and from /app in the ipam
# container, whose root file system is read-only: the coverage data, pytest's cache and
# hypothesis's examples all stay out of the source tree (a temp dir, or disabled).
#
#   sh ipam/coverage.sh                                  (host, from the repository root)
#   docker compose exec ipam sh ipam/coverage.sh         (container)
set -eu

here=$(cd "$(dirname "$0")" && pwd)   # .../ipam

# `docker compose exec` starts as root: go on as the owner of ipam/ (with no capabilities), so
# that coverage_results belongs to whoever owns the checkout.
if [ "$(id -u)" = 0 ] && [ "$(stat -c %u "$here")" != 0 ]; then
    exec env APP_UID= APP_GID= sh "$here/../servicekit/run-as-owner.sh" "$here" sh "$here/coverage.sh" "$@"
fi
cd "$here/.."                         # the repository root, or /app: `python -m ipam` works here

python=${PYTHON:-python}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ipam-coverage.XXXXXX")
trap 'rm -rf "$scratch" ipam/.coverage_results.tmp' EXIT INT TERM

export COVERAGE_FILE="$scratch/.coverage"
export HYPOTHESIS_STORAGE_DIRECTORY="$scratch/hypothesis"
export PYTHONDONTWRITEBYTECODE=1

# `-c /dev/null`: the same pytest settings on the host as in the container, which has no
# pyproject.toml. The tests must pass for the table to be written (set -e).
"$python" -m coverage run --rcfile=ipam/.coveragerc -m pytest -q -p no:cacheprovider \
    -c /dev/null --rootdir=. ipam/tests servicekit/tests "$@"
"$python" -m coverage report --rcfile=ipam/.coveragerc > ipam/.coverage_results.tmp
mv ipam/.coverage_results.tmp ipam/coverage_results   # same directory: an atomic replace
cat ipam/coverage_results
