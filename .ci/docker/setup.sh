# shellcheck shell=bash
# Sourced by .ci/run (as root, CI=true, under `set -euo pipefail`): makes the real Docker Compose
# end-to-end test (tests/test_compose_e2e.py) runnable on this machine, which has no Docker engine
# and no image registry. Installs Debian's docker.io, docker-compose (1.29) and debootstrap, and
# Compose v2 (the `docker compose` users type) from Debian trixie's docker-compose package; starts
# dockerd with no bridge and no iptables (containers get no network), builds the offline stand-in
# Python images (build-standin-images.sh) and exports what the compose file and the test read.
# Idempotent: a running engine and up-to-date images are reused. Writes nothing into the repository.

# Compose v2 is the Go CLI plugin in trixie's docker-compose package (it needs only libc6 >= 2.34).
# Only that one .deb is fetched, through a private apt state, so the system's sources, lists and
# packages stay bookworm's; its plugin goes where the docker CLI looks for plugins.
install_compose_v2() {
  local plugin_dir=/usr/local/lib/docker/cli-plugins state=/var/cache/ci-compose-v2 work
  if docker compose version >/dev/null 2>&1; then
    return
  fi
  mkdir -p "$state/lists/partial" "$state/archives/partial" "$plugin_dir"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    >"$state/trixie.list"
  local apt_options=(-o "Dir::Etc::SourceList=$state/trixie.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state" -o APT::Sandbox::User=root)
  apt-get "${apt_options[@]}" update -qq
  work=$(mktemp -d)
  (cd "$work" && apt-get "${apt_options[@]}" download -qq docker-compose)
  dpkg-deb -x "$work"/docker-compose_*.deb "$work/root"
  install -m 755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" "$plugin_dir/docker-compose"
  rm -rf "$work"
}

ci_docker_setup() {
  local here log images
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  log=/var/log/ci-dockerd.log

  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io docker-compose debootstrap >/dev/null
  install_compose_v2

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
  echo "Docker engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), client $(docker version --format '{{.Client.Version}}'), Compose $(docker compose version --short) and $(docker-compose version --short)"

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
unset -f ci_docker_setup install_compose_v2
