#!/usr/bin/env bash
# Measures the CLI as shell scripts use it: 8 workers each running `weblock wait-grab L -- true` in a
# loop (cycles per second), beside the same loop with no lock at all, with flock(1) on a local file
# (the least a lock costs: no network, no server), and with `etcdctl lock L true` when etcd is
# installed; and one `wait-grab -- true` cycle on an idle server (median of 200).
#
# Usage: scripts/bench-cli.sh [path/to/weblock [path/to/other/weblock...]]
#   SECS=5    seconds per loop
#   ROUNDS=1  rounds; in each, every loop runs once, in turn, so that a machine's slow moments fall
#             on all of them alike: compare figures (and ratios) of the same round. Several binaries
#             (say, before and after a change) are measured beside each other the same way, each
#             against the server of the first.
set -euo pipefail
bins=("${@:-target/release/weblock}")
bin=${bins[0]}
secs=${SECS:-5}
rounds=${ROUNDS:-1}
state=$(mktemp -d)
trap 'kill $srv 2>/dev/null; rm -rf "$state"' EXIT
"$bin" serve --listen 127.0.0.1:0 --log-format off > "$state/out" 2>/dev/null &
srv=$!
for _ in $(seq 100); do grep -q listening "$state/out" 2>/dev/null && break; sleep 0.05; done
export WEBLOCK_URL=$(head -1 "$state/out" | sed 's|listening on ||')
export XDG_STATE_HOME=$state

loop() { # $1: command per cycle; prints cycles per second done by 8 workers in $secs seconds
  # $EPOCHREALTIME (bash 5) reads the clock without forking, so the loop costs only the command.
  local end=$(( ${EPOCHREALTIME/./} + secs * 1000000 ))
  for w in $(seq 8); do
    ( n=0; while [ "${EPOCHREALTIME/./}" -lt $end ]; do $1; n=$((n+1)); done; echo $n > "$state/n$w" ) &
  done
  wait $(jobs -p | grep -v -e "^$srv$" -e "^${etcd_pid:-none}$") 2>/dev/null || true
  echo "$(cat "$state"/n* | paste -sd+ | bc) / $secs" | bc; rm -f "$state"/n*
}

# The same loop around `etcdctl lock`, when etcd is installed: an etcd of its own, on free loopback
# ports and a temporary directory (never the system's), stopped at the end.
etcd_lock=
if command -v etcd >/dev/null && command -v etcdctl >/dev/null; then
  port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  cport=$(port); pport=$(port)
  etcd --name b --data-dir "$state/etcd" --listen-client-urls "http://127.0.0.1:$cport" \
    --advertise-client-urls "http://127.0.0.1:$cport" --listen-peer-urls "http://127.0.0.1:$pport" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pport" --initial-cluster "b=http://127.0.0.1:$pport" \
    > "$state/etcd.log" 2>&1 &
  etcd_pid=$!
  trap 'kill $srv $etcd_pid 2>/dev/null; rm -rf "$state"' EXIT
  for _ in $(seq 100); do etcdctl --endpoints="127.0.0.1:$cport" endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
  etcd_lock="etcdctl --endpoints=127.0.0.1:$cport lock L true"
fi

echo "8 workers, ${secs}s a loop, cycles/s:"
for r in $(seq "$rounds"); do
  line="round $r:"
  withs=()
  for b in "${bins[@]}"; do
    with=$(loop "$b wait-grab L -- true")
    withs+=("$with")
    line="$line $b wait-grab L -- true: $with;"
  done
  line="$line plain loop (/bin/true): $(loop /bin/true)"
  if command -v flock >/dev/null; then
    line="$line; flock(1) on a local file: $(loop "flock $state/flock true")"
  fi
  if [ -n "$etcd_lock" ]; then
    etcd_cycles=$(loop "$etcd_lock")
    line="$line; etcdctl lock L true: $etcd_cycles; weblock/etcdctl:"
    for w in "${withs[@]}"; do line="$line $(echo "scale=1; $w / $etcd_cycles" | bc)x"; done
  fi
  echo "$line"
done

for b in "${bins[@]}"; do
  for i in $(seq 200); do
    s=${EPOCHREALTIME/./}; "$b" wait-grab L -- true; e=${EPOCHREALTIME/./}; echo $(( e - s ))
  done | sort -n | awk -v b="$b" '{a[NR]=$1} END {printf "%s: one wait-grab L -- true on an idle server: median %.2f ms, p90 %.2f ms\n", b, a[int(NR/2)]/1000, a[int(NR*0.9)]/1000}'
done
