#!/usr/bin/env bash
# engine-ssh.sh - an sshd on the second engine's "host", so that ssh://root@10.231.0.2 is a Docker engine.
#
#   engine-ssh.sh start    install Debian's openssh-server if missing, start the sshd (idempotent); prints DOCKER_HOST
#   engine-ssh.sh stop     stop that sshd (its pid file) and its sessions (idempotent)
#   engine-ssh.sh status   running or not; exit 0 when it listens, 3 when it does not
#
# The second engine (scripts/second-engine.sh) must be running: the sshd runs inside its network
# namespace (rnode2) and listens on 10.231.0.2:22, where a Docker SDK or CLI given ssh://root@10.231.0.2
# runs `docker system dial-stdio`. That command reaches the second engine and nothing else: the sshd
# sets DOCKER_HOST=tcp://10.231.0.2:2375 for every session (the engine's own listener in that
# namespace, not its unix socket, which a racing `second-engine.sh start` may delete under a running
# engine), and in its mount namespace the main engine's /var/run/docker.sock is /dev/null. Like the
# engine, it sees none of our files (the same scratch and home trees are empty tmpfs there).
#
# Everything it uses is its own, under /etc/runner-rnode2-ssh: sshd_config, the host key, the client
# key that authorized_keys admits (client_ed25519; root, key only, no pty or forwarding), a key whose
# sessions run `false` (nodocker_ed25519: a host without docker) and a known_hosts line for
# 10.231.0.2. A client points at them itself (tests write a ~/.ssh/config in a HOME of their own).
# The host's own sshd is never started or stopped (installing the package starts no service), and
# /etc/ssh and /root/.ssh are never written. Pid file /var/run/runner-rnode2-sshd.pid, log
# /var/log/runner-rnode2-sshd.log. A second engine that stops ends this sshd with it: start again.
set -euo pipefail

NS=rnode2
ADDR=10.231.0.2
PORT=22
DIR=/etc/runner-rnode2-ssh
CONFIG=$DIR/sshd_config
PIDFILE=/var/run/runner-rnode2-sshd.pid
LOG=/var/log/runner-rnode2-sshd.log
ENGINE=tcp://10.231.0.2:2375  # the second engine, as its sessions reach it (inside the namespace)
URL=ssh://root@$ADDR
HERE=$(cd "$(dirname "$0")" && pwd)
# Hidden as scripts/second-engine.sh hides them from the engine: the checkout first (it may lie under one of the others).
HIDDEN="$(dirname "$HERE") /tmp /var/tmp /root /home /work /srv /mnt /opt"

log() { printf 'engine-ssh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (it runs an sshd in the second engine's network namespace)"; }
listens() { timeout 2 bash -c "exec 3<>/dev/tcp/$ADDR/$PORT" 2>/dev/null; }

# The pid of our sshd: named by our pid file, alive, an sshd started with our config (the host's sshd
# never matches).
sshd_pid() {
  local pid
  [ -s "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sshd ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-f $CONFIG " || return 1
  echo "$pid"
}

# Debian's openssh-server, without starting or enabling the host's own ssh service: its maintainer
# scripts ask policy-rc.d, which says no (101) while we install, unless the machine has its own.
install_sshd() {
  local policy=/usr/sbin/policy-rc.d ours=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# engine-ssh.sh: installing openssh-server starts no service\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    ours=1
  fi
  local status=0
  "$HERE/debian-packages.sh" sshd:openssh-server || status=$?
  if [ $ours = 1 ]; then rm -f "$policy"; fi
  [ $status = 0 ] || die "installing openssh-server failed"
  [ -x /usr/sbin/sshd ] || die "no /usr/sbin/sshd: install Debian's openssh-server (as root)"
}

write_files() {
  mkdir -p "$DIR"
  chmod 755 "$DIR"
  [ -s "$DIR/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "runner-rnode2-ssh host" -f "$DIR/ssh_host_ed25519_key"
  [ -s "$DIR/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "runner-rnode2-ssh client" -f "$DIR/client_ed25519"
  # A second key, whose sessions run `false` whatever they ask: a host without docker, for tests.
  [ -s "$DIR/nodocker_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "runner-rnode2-ssh no docker" -f "$DIR/nodocker_ed25519"
  # restrict: no pty, no forwarding; dial-stdio needs neither.
  {
    printf 'restrict %s\n' "$(cat "$DIR/client_ed25519.pub")"
    printf 'restrict,command="/bin/false" %s\n' "$(cat "$DIR/nodocker_ed25519.pub")"
  } >"$DIR/authorized_keys"
  printf '%s %s\n' "$ADDR" "$(cut -d' ' -f1,2 "$DIR/ssh_host_ed25519_key.pub")" >"$DIR/known_hosts"
  chmod 644 "$DIR/authorized_keys" "$DIR/known_hosts"
  cat >"$CONFIG" <<EOF
# Written by scripts/engine-ssh.sh: the sshd of the second engine's "host" (netns $NS).
ListenAddress $ADDR:$PORT
HostKey $DIR/ssh_host_ed25519_key
PidFile $PIDFILE
AuthorizedKeysFile $DIR/authorized_keys
AllowUsers root
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PrintMotd no
PrintLastLog no
SetEnv DOCKER_HOST=$ENGINE
EOF
  /usr/sbin/sshd -t -f "$CONFIG" || die "sshd rejects $CONFIG"
}

# What runs inside `ip netns exec` (a private mount namespace, its mounts slaves of the host's): the main
# engine's socket and our files hidden, then sshd in the foreground, so that $! of the launch is sshd.
inner_script() {
  echo 'set -e'
  echo 'mount --make-rslave / 2>/dev/null || true  # nothing below propagates back to the host'
  local d
  for d in $HIDDEN; do
    if [ -d "$d" ]; then echo "mount -t tmpfs -o mode=1777 tmpfs $d"; fi
  done
  echo 'if [ -S /run/docker.sock ]; then mount --bind /dev/null /run/docker.sock; fi'
  echo "exec /usr/sbin/sshd -D -f $CONFIG -E $LOG"
}

cmd_start() {
  need_root
  local pid t0
  if pid=$(sshd_pid) && listens; then
    log "already running (pid $pid)"
    echo "DOCKER_HOST=$URL"
    return 0
  fi
  ip netns list 2>/dev/null | awk '{ print $1 }' | grep -qx "$NS" && curl -fsS --max-time 5 "http://${ENGINE#tcp://}/_ping" >/dev/null 2>&1 ||
    die "the second engine is not running (scripts/second-engine.sh start)"
  [ -x /usr/sbin/sshd ] || install_sshd
  local c
  for c in /usr/sbin/sshd ssh-keygen ip setsid curl docker; do command -v "$c" >/dev/null 2>&1 || die "$c is not installed"; done
  t0=$(now)
  mkdir -p /run/sshd  # sshd's privilege separation directory (empty, root's; Debian's package makes the same)
  write_files
  rm -f "$PIDFILE"
  printf '\n===== %s engine-ssh.sh start\n' "$(date -Is)" >>"$LOG"
  setsid ip netns exec "$NS" /bin/sh -c "$(inner_script)" </dev/null >>"$LOG" 2>&1 &
  pid=$!
  until [ -s "$PIDFILE" ] && listens; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 8 "$LOG" >&2
      die "sshd exited while starting (log $LOG)"
    fi
    if awk -v a="$t0" -v b="$(now)" 'BEGIN { exit !(b - a > 30) }'; then
      kill "$pid" 2>/dev/null || true
      die "sshd did not listen on $ADDR:$PORT within 30 s (log $LOG)"
    fi
    sleep 0.1
  done
  pid=$(sshd_pid) || die "an sshd listens but the pid file does not name ours"
  log "up in $(since "$t0") s (pid $pid, log $LOG; identity $DIR/client_ed25519, known_hosts $DIR/known_hosts)"
  echo "DOCKER_HOST=$URL"
}

cmd_stop() {
  need_root
  local pid i sessions
  if pid=$(sshd_pid); then
    # Its sessions (one sshd per connection, a dial-stdio under each) are its children: they go first,
    # or they would outlive it.
    sessions=$(ps -o pid= --ppid "$pid" | tr '\n' ' ' || true)  # ps fails when there are none
    # shellcheck disable=SC2086
    if [ -n "${sessions// /}" ]; then kill -TERM $sessions 2>/dev/null || true; fi
    kill -TERM "$pid"
    for i in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    if [ -d "/proc/$pid" ]; then log "sshd $pid still running after 10 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$PIDFILE"
  log "stopped (keys in $DIR kept)"
}

cmd_status() {
  local pid
  if pid=$(sshd_pid) && listens; then
    echo "running: pid $pid, DOCKER_HOST=$URL (identity $DIR/client_ed25519)"
    return 0
  fi
  echo "not running"
  return 3
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
