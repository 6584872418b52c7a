# shellcheck shell=bash
# Sourced by .ci/run (as root, CI=true, under `set -euo pipefail`): makes the real Docker Compose
# end-to-end test (tests/test_compose_e2e.py) runnable on this machine, which has no Docker engine
# and no image registry. Installs Debian's docker.io, docker-compose (1.29) and debootstrap, starts
# dockerd with no bridge and no iptables (containers get no network), builds the offline stand-in
# Python images (build-standin-images.sh) and exports what the compose file and the test read.
# Idempotent: a running engine and up-to-date images are reused. Writes nothing into the repository.

ci_docker_setup() {
  local here log images
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  log=/var/log/ci-dockerd.log

  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io docker-compose debootstrap >/dev/null

  # The docker client first on PATH may be newer than Debian's engine 20.10; it negotiates the
  # API version down (checked here once, so a mismatch fails now rather than inside the test).
  if ! docker info >/dev/null 2>&1; then
    echo "starting dockerd (log: $log)"
    setsid -f dockerd --bridge=none --iptables=false --ip-forward=false </dev/null >>"$log" 2>&1
    local waited=0
    until docker info >/dev/null 2>&1; do
      if [ "$waited" -ge 60 ]; then
        echo "dockerd did not answer within 60 s; last lines of $log:" >&2
        tail -n 20 "$log" >&2
        return 1
      fi
      sleep 1
      waited=$((waited + 1))
    done
  fi
  echo "Docker engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), client $(docker version --format '{{.Client.Version}}'), $(docker-compose version --short 2>/dev/null || echo 'no docker-compose')"

  images=$(bash "$here/build-standin-images.sh")
  COLLECTOR_PYTHON_IMAGE=$(sed -n 1p <<<"$images")
  IPAM_PYTHON_IMAGE=$(sed -n 2p <<<"$images")
  # The override builds with network "none"; docker-compose 1.29 and Compose v2 both read
  # COMPOSE_FILE (paths relative to the directory compose runs in: the repository's root).
  COMPOSE_FILE=docker-compose.yml:.ci/docker/compose.offline.yml
  # With an engine running, the end-to-end test must run: a skip would hide a broken stack.
  E2E_REQUIRE_DOCKER=1
  export COLLECTOR_PYTHON_IMAGE IPAM_PYTHON_IMAGE COMPOSE_FILE E2E_REQUIRE_DOCKER
  echo "stand-in images: $COLLECTOR_PYTHON_IMAGE, $IPAM_PYTHON_IMAGE; COMPOSE_FILE=$COMPOSE_FILE"
}

ci_docker_setup
unset -f ci_docker_setup
