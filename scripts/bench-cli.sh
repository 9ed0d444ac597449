#!/usr/bin/env bash
# Measures the CLI as shell scripts use it: 8 workers each running `weblock wait-grab L -- true` in a
# loop (cycles per second), beside the same loop with no lock at all; and one `wait-grab -- true` cycle
# on an idle server (median of 200). Usage: scripts/bench-cli.sh [path/to/weblock]
set -euo pipefail
bin=${1:-target/release/weblock}
secs=${SECS:-5}
state=$(mktemp -d)
trap 'kill $srv 2>/dev/null; rm -rf "$state"' EXIT
"$bin" serve --listen 127.0.0.1:0 --log-format off > "$state/out" 2>/dev/null &
srv=$!
for _ in $(seq 100); do grep -q listening "$state/out" 2>/dev/null && break; sleep 0.05; done
export WEBLOCK_URL=$(head -1 "$state/out" | sed 's|listening on ||')
export XDG_STATE_HOME=$state

loop() { # $1: command per cycle; prints cycles done by 8 workers in $secs seconds
  # $EPOCHREALTIME (bash 5) reads the clock without forking, so the loop costs only the command.
  local end=$(( ${EPOCHREALTIME/./} + secs * 1000000 ))
  for w in $(seq 8); do
    ( n=0; while [ "${EPOCHREALTIME/./}" -lt $end ]; do $1; n=$((n+1)); done; echo $n > "$state/n$w" ) &
  done
  wait $(jobs -p | grep -v -e "^$srv$" -e "^${etcd_pid:-none}$") 2>/dev/null || true
  cat "$state"/n* | paste -sd+ | bc; rm -f "$state"/n*
}
with=$(loop "$bin wait-grab L -- true")
without=$(loop "/bin/true")
echo "8 workers, ${secs}s: wait-grab L -- true: $(echo "scale=0; $with / $secs" | bc) cycles/s; plain loop: $(echo "scale=0; $without / $secs" | bc) cycles/s"

# The same loop around `etcdctl lock`, when etcd is installed: an etcd of its own, on free loopback
# ports and a temporary directory (never the system's), stopped at the end.
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
  etcd_cycles=$(loop "etcdctl --endpoints=127.0.0.1:$cport lock L true")
  echo "8 workers, ${secs}s: etcdctl lock L true: $(echo "scale=0; $etcd_cycles / $secs" | bc) cycles/s; weblock/etcdctl: $(echo "scale=1; $with / $etcd_cycles" | bc)x"
fi

for i in $(seq 200); do
  s=${EPOCHREALTIME/./}; "$bin" wait-grab L -- true; e=${EPOCHREALTIME/./}; echo $(( e - s ))
done | sort -n | awk '{a[NR]=$1} END {printf "one wait-grab L -- true on an idle server: median %.2f ms, p90 %.2f ms\n", a[int(NR/2)]/1000, a[int(NR*0.9)]/1000}'
