#!/usr/bin/env bash
# second-engine.sh - a second Docker engine on this machine, standing in for another host in tests.
#
#   second-engine.sh start    network namespace + veth + a second dockerd (idempotent); prints DOCKER_HOST
#   second-engine.sh stop     stop that dockerd (its pid file), remove the namespace, veth and guard (idempotent)
#   second-engine.sh status   running or not; exit 0 when it answers, 3 when it does not
#   second-engine.sh purge    stop, then delete its data root (the images loaded into it)
#   second-engine.sh swarm-up    a 2-node swarm: the main engine its manager (advertising 10.231.0.1), this one a worker
#   second-engine.sh swarm-down  both leave the swarm swarm-up formed; the main engine is as it was before
#   second-engine.sh node-down   stop only this dockerd (a worker node lost; namespace and swarm membership kept)
#   second-engine.sh node-up     start it again (it rejoins its swarm by itself)
#
# Layout (all of it belongs to this script; nothing of the main engine is reused or touched):
#   netns rnode2; veth veth-rn2 (host side, 10.231.0.1/24) <-> eth0 in rnode2 (10.231.0.2/24)
#   dockerd --data-root /var/lib/docker-rnode2 --exec-root /var/run/docker-rnode2
#           --pidfile /var/run/docker-rnode2.pid -H unix:///var/run/docker-rnode2.sock
#           -H tcp://10.231.0.2:2375 --tls=false, log /var/log/docker-rnode2.log;
#   its own docker0 exists only inside rnode2.
# Like another machine it shares no files with us: in its mount namespace the host's scratch and home
# trees (/tmp, /root, /home, /work ..., and this checkout) are empty tmpfs, so a bind mount of one of our paths is empty
# there. It has no network beyond this machine: DNS points at nothing and an nftables table drops
# everything the host would forward for it (an air-gapped build box, in effect).
# The TCP endpoint is plain HTTP without TLS: acceptable only because 10.231.0.2 is reachable from this
# machine alone. --tls=false says so explicitly (without it dockerd 20.10 waits 15 s to warn about it).
#
# Safety: never a dockerd with --bridge=none (it deletes the host's docker0), never the main engine's
# files or processes; stop ends only what this script started (the pid in its pid file, processes in the
# namespace, processes in its own cgroup).
set -euo pipefail

NS=rnode2
HOST_IF=veth-rn2
NS_IF=eth0
HOST_IP=10.231.0.1
NS_IP=10.231.0.2
DATA_ROOT=/var/lib/docker-rnode2
EXEC_ROOT=/var/run/docker-rnode2
PIDFILE=/var/run/docker-rnode2.pid
SOCK=/var/run/docker-rnode2.sock
TCP_URL=tcp://$NS_IP:2375
LOG=/var/log/docker-rnode2.log
CGROUP_PARENT=docker-rnode2
CONF_DIR=/etc/docker-rnode2      # its daemon.json ({}): the host's /etc/docker/daemon.json must not apply
NETNS_ETC=/etc/netns/$NS         # `ip netns exec` bind-mounts these files over /etc
GUARD=rnode2_guard
HERE=$(cd "$(dirname "$0")" && pwd)
# The checkout this script belongs to is hidden too, wherever it was cloned (CI clones outside /work).
HIDDEN="$(dirname "$HERE") /tmp /var/tmp /root /home /work /srv /mnt /opt"  # the checkout first: it may lie under one of the others

log() { printf 'second-engine: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (it creates a network namespace and a dockerd)"; }
answers() { curl -fsS --max-time 5 --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1; }
ns_exists() { ip netns list 2>/dev/null | awk '{ print $1 }' | grep -qx "$NS"; }

# The pid of our dockerd: named by our pid file, alive, a dockerd started with our --pidfile (the main
# engine's dockerd can never match).
engine_pid() {
  local pid
  [ -s "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--pidfile $PIDFILE " || return 1
  echo "$pid"
}

docker0() { ip -o addr show docker0 2>/dev/null | awk '{ print $3, $4 }'; }

# ---------------------------------------------------------------- network namespace
setup_net() {
  ns_exists || ip netns add "$NS"
  ip link show "$HOST_IF" >/dev/null 2>&1 || ip link add "$HOST_IF" type veth peer name "$NS_IF" netns "$NS"
  ip addr replace "$HOST_IP/24" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  ip -n "$NS" link set lo up
  ip -n "$NS" addr replace "$NS_IP/24" dev "$NS_IF"
  ip -n "$NS" link set "$NS_IF" up
  ip -n "$NS" route replace default via "$HOST_IP" dev "$NS_IF"
  mkdir -p "$NETNS_ETC"  # DNS asks our own veth address, where nothing answers: fails fast, leaves nothing
  printf '# second-engine.sh: no outside DNS on purpose\nnameserver %s\n' "$HOST_IP" >"$NETNS_ETC/resolv.conf"
  # Its own table, so it holds whatever the main engine's FORWARD policy is; replies to connections
  # that host-side containers open to 10.231.0.2 still pass.
  nft list table inet "$GUARD" >/dev/null 2>&1 || nft -f - <<EOF
table inet $GUARD {
  chain forward {
    type filter hook forward priority -10; policy accept;
    iifname "$HOST_IF" ct state established,related accept
    iifname "$HOST_IF" counter drop comment "second-engine.sh: nothing from netns $NS leaves this machine"
  }
}
EOF
}

teardown_net() {
  if ip link show "$HOST_IF" >/dev/null 2>&1; then ip link del "$HOST_IF"; fi
  if ns_exists; then ip netns del "$NS"; fi
  if nft list table inet "$GUARD" >/dev/null 2>&1; then nft delete table inet "$GUARD"; fi
  rm -rf "$NETNS_ETC"
  rmdir /etc/netns 2>/dev/null || true
}

# What runs inside `ip netns exec` before dockerd. That command gives a private mount namespace with a
# fresh /sys (so /sys/class/net lists the namespace's devices), which hides the cgroup mounts: mount the
# host's cgroup hierarchies again (same superblocks) from its mountinfo. Then hide our files.
inner_script() {
  echo 'set -e'
  echo "hostname $NS"
  awk '{ sep = 0; for (i = 1; i <= NF; i++) if ($i == "-") { sep = i; break }
         mp = $5; if (mp !~ "^/sys/fs/cgroup" && mp != "/sys/kernel/security") next
         fs = $(sep + 1); opts = $(sep + 3)
         gsub(/(^|,)(rw|ro)(,|$)/, ",", opts); gsub(/^,+|,+$/, "", opts); gsub(/,,+/, ",", opts)
         o = (opts == "") ? "" : "-o " opts
         printf "mkdir -p %s 2>/dev/null || true; mount -t %s %s %s %s\n", mp, fs, o, fs, mp }' /proc/self/mountinfo
  echo 'mount --make-rslave / 2>/dev/null || true  # nothing below propagates back to the host'
  local d
  for d in $HIDDEN; do
    if [ -d "$d" ]; then echo "mount -t tmpfs -o mode=1777 tmpfs $d"; fi
  done
  cat <<EOF
exec env DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 dockerd \\
  --config-file $CONF_DIR/daemon.json --data-root $DATA_ROOT --exec-root $EXEC_ROOT --pidfile $PIDFILE \\
  -H unix://$SOCK -H $TCP_URL --tls=false --storage-driver ${SECOND_ENGINE_DRIVER:-overlay2} \\
  --cgroup-parent /$CGROUP_PARENT
EOF
}

launch() {
  local pid t0
  rm -f "$PIDFILE" "$SOCK"
  printf '\n===== %s second-engine.sh start\n' "$(date -Is)" >>"$LOG"
  # setsid: its own session, so it outlives this shell; ip, unshare and sh exec, so $! becomes dockerd.
  setsid ip netns exec "$NS" unshare --uts /bin/sh -c "$(inner_script)" </dev/null >>"$LOG" 2>&1 9>&- &
  pid=$!
  t0=$(now)
  until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 8 "$LOG" >&2
      die "dockerd exited while starting (log $LOG)"
    fi
    if awk -v a="$t0" -v b="$(now)" 'BEGIN { exit !(b - a > 60) }'; then
      kill "$pid" 2>/dev/null || true
      die "dockerd did not answer within 60 s (log $LOG)"
    fi
    sleep 0.1
  done
}

cmd_start() {
  need_root
  local t0 pid before
  if pid=$(engine_pid) && answers; then
    log "already running (pid $pid)"
    echo "DOCKER_HOST=$TCP_URL"
    return 0
  fi
  command -v nft >/dev/null 2>&1 || "$HERE/debian-packages.sh" nft:nftables
  local c
  for c in dockerd nft ip unshare setsid curl; do command -v "$c" >/dev/null 2>&1 || die "$c is not installed"; done
  t0=$(now)
  before=$(docker0)
  mkdir -p "$CONF_DIR" "$DATA_ROOT"
  [ -s "$CONF_DIR/daemon.json" ] || echo '{}' >"$CONF_DIR/daemon.json"
  setup_net
  launch
  curl -fsS --max-time 5 "http://$NS_IP:2375/_ping" >/dev/null || die "its socket answers but $TCP_URL does not"
  pid=$(engine_pid) || die "a dockerd answers but the pid file does not name it"
  [ "$(docker0)" = "$before" ] || log "WARNING: the host's docker0 changed: '$before' -> '$(docker0)'"
  log "up in $(since "$t0") s (pid $pid, log $LOG)"
  echo "DOCKER_HOST=$TCP_URL"
}

# Ends the given pids with a signal, waiting up to 10 s for them to go.
end_pids() {
  local sig=$1 i p alive
  shift
  [ $# -gt 0 ] || return 0
  kill "-$sig" "$@" 2>/dev/null || true
  for i in $(seq 100); do
    alive=0
    for p in "$@"; do [ -d "/proc/$p" ] && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  return 1
}

cgroup_dirs() {
  local d
  for d in /sys/fs/cgroup/*/"$CGROUP_PARENT" /sys/fs/cgroup/"$CGROUP_PARENT"; do
    if [ -d "$d" ]; then echo "$d"; fi
  done
}

cmd_stop() {
  need_root
  local pid i left
  if [ -s "$SWARM_STATE" ]; then cmd_swarm_down || log "swarm-down reported a problem (stopping anyway)"; fi
  if pid=$(engine_pid); then
    kill -TERM "$pid"  # dockerd stops its containers and its containerd
    for i in $(seq 600); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    if [ -d "/proc/$pid" ]; then log "dockerd $pid still running after 60 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  if ns_exists; then  # leftovers that are ours: processes in the namespace (containerd, shims, proxies)
    left=$(ip netns pids "$NS" 2>/dev/null | tr '\n' ' ')
    # shellcheck disable=SC2086
    if [ -n "${left// /}" ]; then end_pids TERM $left || end_pids KILL $left || true; fi
  fi
  left=$(cgroup_dirs | while read -r d; do find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null; done | sort -u | tr '\n' ' ')
  # shellcheck disable=SC2086
  if [ -n "${left// /}" ]; then end_pids KILL $left || true; fi
  cgroup_dirs | while read -r d; do find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true; done
  teardown_net
  rm -f "$PIDFILE" "$SOCK"
  ! ns_exists || die "netns $NS still exists"
  log "stopped (data root $DATA_ROOT kept: 'purge' deletes it)"
}

cmd_status() {
  local pid
  if pid=$(engine_pid) && answers; then
    echo "running: pid $pid, DOCKER_HOST=$TCP_URL (or unix://$SOCK)"
    return 0
  fi
  echo "not running"
  return 3
}

cmd_purge() {
  cmd_stop
  if awk -v r="$DATA_ROOT" '$5 == r || index($5, r "/") == 1' /proc/self/mountinfo | grep -q .; then
    die "mounts remain under $DATA_ROOT"
  fi
  rm -rf --one-file-system "$DATA_ROOT" "$EXEC_ROOT" "$CONF_DIR"
  log "removed $DATA_ROOT"
}

# ---------------------------------------------------------------- swarm (swarm-up, swarm-down, node-down/up)
# The main engine becomes a manager only when it is in no swarm; what swarm-up changed is written to
# $SWARM_STATE, and swarm-down undoes exactly that (its node id must still be the one swarm-up made).
MAIN=(docker -H unix:///var/run/docker.sock)  # explicit: a DOCKER_HOST in the caller's env must not redirect it
SECOND=(docker -H "unix://$SOCK")
SWARM_STATE=/run/second-engine-$NS.swarm
SWARM_POOL=10.232.0.0/16  # overlay subnets: clear of 10.231.0.0/24, of docker's pools and of runner's 10.213/16

swarm_state() { "$@" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unknown; }

cmd_swarm_up() {
  need_root
  local token i
  engine_pid >/dev/null && answers || die "the second engine is not running (start it first)"
  if [ "$(swarm_state "${MAIN[@]}")" != inactive ]; then
    if [ -s "$SWARM_STATE" ] && grep -qx "MAIN_NODE=$("${MAIN[@]}" info --format '{{.Swarm.NodeID}}')" "$SWARM_STATE"; then
      log "the swarm of swarm-up is already formed"
      return 0
    fi
    die "the main engine is in a swarm this script did not form: not touching it (no leave, no join)"
  fi
  if [ "$(swarm_state "${SECOND[@]}")" != inactive ]; then "${SECOND[@]}" swarm leave --force >/dev/null; fi
  {
    "${MAIN[@]}" network inspect docker_gwbridge >/dev/null 2>&1 && echo MAIN_GWBRIDGE=kept || echo MAIN_GWBRIDGE=ours
  } >"$SWARM_STATE.tmp"
  "${MAIN[@]}" swarm init --advertise-addr "$HOST_IP" --listen-addr "$HOST_IP:2377" --data-path-addr "$HOST_IP" \
    --default-addr-pool "$SWARM_POOL" --default-addr-pool-mask-length 24 >/dev/null || die "swarm init failed"
  echo "MAIN_NODE=$("${MAIN[@]}" info --format '{{.Swarm.NodeID}}')" >>"$SWARM_STATE.tmp"
  mv "$SWARM_STATE.tmp" "$SWARM_STATE"
  token=$("${MAIN[@]}" swarm join-token -q worker)
  "${SECOND[@]}" swarm join --token "$token" --advertise-addr "$NS_IP" --listen-addr "$NS_IP:2377" \
    --data-path-addr "$NS_IP" "$HOST_IP:2377" >/dev/null || die "swarm join failed ('swarm-down' undoes the init)"
  for i in $(seq 120); do
    [ "$("${MAIN[@]}" node ls --format '{{.Status}}' | grep -c '^Ready$')" -ge 2 ] && { log "swarm up: 2 nodes ready"; return 0; }
    sleep 0.5
  done
  die "the nodes are not Ready after 60 s"
}

cmd_swarm_down() {
  need_root
  local main_node="" gwbridge=kept cur i
  if answers && [ "$(swarm_state "${SECOND[@]}")" != inactive ]; then
    "${SECOND[@]}" swarm leave --force >/dev/null && log "the second engine left the swarm"
  fi
  if [ ! -s "$SWARM_STATE" ]; then
    log "no swarm formed by swarm-up: the main engine is not touched"
    return 0
  fi
  # shellcheck disable=SC1090
  . "$SWARM_STATE"
  main_node=${MAIN_NODE:-}
  gwbridge=${MAIN_GWBRIDGE:-kept}
  cur=$("${MAIN[@]}" info --format '{{.Swarm.NodeID}}')
  if [ -n "$cur" ] && [ "$cur" = "$main_node" ]; then
    "${MAIN[@]}" swarm leave --force >/dev/null && log "the main engine left the swarm swarm-up formed"
  elif [ -n "$cur" ]; then
    die "the main engine is in another swarm (node $cur): not touching it"
  fi
  if [ "$gwbridge" = ours ]; then  # `swarm leave` leaves docker_gwbridge behind
    for i in $(seq 20); do
      "${MAIN[@]}" network inspect docker_gwbridge >/dev/null 2>&1 || break
      "${MAIN[@]}" network rm docker_gwbridge >/dev/null 2>&1 && break
      sleep 0.5
    done
  fi
  rm -f "$SWARM_STATE"
  log "swarm down; the main engine's swarm state: $(swarm_state "${MAIN[@]}")"
}

cmd_node_down() {
  need_root
  local pid i
  pid=$(engine_pid) || { log "not running"; return 0; }
  kill -TERM "$pid"  # like a machine's engine stopping: its containers stop, it stays a swarm member
  for i in $(seq 600); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  [ ! -d "/proc/$pid" ] || die "dockerd $pid still running after 60 s"
  log "dockerd stopped (namespace and swarm membership kept: 'node-up' starts it again)"
}

# One verb at a time: two test sessions starting it at once could delete the socket of the engine
# the other one had just started. status only reads, so it never waits.
if [ "${1:-}" != status ] && [ "$(id -u)" = 0 ]; then
  exec 9>/run/second-engine-$NS.lock
  flock -w 300 9 || die "another second-engine.sh is still running after 300 s"
fi

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  purge) cmd_purge ;;
  swarm-up) cmd_swarm_up ;;
  swarm-down) cmd_swarm_down ;;
  node-down) cmd_node_down ;;
  node-up) cmd_start ;;
  *)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
