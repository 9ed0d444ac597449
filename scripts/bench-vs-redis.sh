#!/usr/bin/env bash
# weblock beside Redis at Redis's own lock game, in one run on this machine: lock pairs per second and
# the server's CPU time per pair, with 1 and 16 clients.
#   Redis:   SET lock:K TOKEN NX PX 30000 to take, a Lua compare-and-delete (EVALSHA) to release,
#            driven by redis-benchmark (one pair = one SET + one EVALSHA; pairs/s = 1/(1/set + 1/eval)).
#   weblock: grab + release over HTTP, driven by `weblock bench` (in memory).
# Both servers are started here on free loopback ports (never the system's), and stopped at the end.
# CPU time comes from /proc/PID/stat (Linux). Usage: scripts/bench-vs-redis.sh [path/to/weblock]
set -euo pipefail
bin=${1:-target/release/weblock}
requests=${REQUESTS:-200000}
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || {
  echo "needs redis-server and redis-benchmark (Debian: apt-get install redis-server redis-tools)" >&2
  exit 2
}
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" > "$dir/redis.log" 2>&1 &
redis=$!
trap 'kill $redis 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

# CPU seconds (user + system) that process $1 has used so far.
cpu() { awk -v t="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / t }' "/proc/$1/stat"; }
rps() { # the requests/s redis-benchmark reports for one command
  redis-benchmark -p "$port" -q "$@" | tr '\r' '\n' | awk '/requests per second/ { for (i = 1; i <= NF; i++) if ($(i+1) == "requests") v = $i } END { print v }'
}
release='if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end'
sha=$(redis-cli -p "$port" script load "$release")

printf '%-8s %-8s %14s %18s\n' server clients pairs/s "server CPU µs/pair"
declare -A redis_pairs redis_cpu
for c in 1 16; do
  before=$(cpu $redis)
  set_rps=$(rps -c "$c" -n "$requests" -r 100000 SET lock:__rand_int__ tok NX PX 30000)
  eval_rps=$(rps -c "$c" -n "$requests" -r 100000 EVALSHA "$sha" 1 lock:__rand_int__ tok)
  after=$(cpu $redis)
  redis_pairs[$c]=$(echo "1 / (1 / $set_rps + 1 / $eval_rps)" | bc -l)
  redis_cpu[$c]=$(echo "($after - $before) * 1000000 / $requests" | bc -l)
  printf '%-8s %-8s %14.0f %18.1f\n' redis "$c" "${redis_pairs[$c]}" "${redis_cpu[$c]}"
done

json=$("$bin" bench --clients 1,16 --duration "${DURATION:-3s}" --waiters 0 --parked 0 --no-durable --json)
for c in 1 16; do
  pairs=$(echo "$json" | python3 -c "import json,sys; r=json.load(sys.stdin); print([t for t in r['uncontended'] if t['clients']==$c][0]['pairs_per_sec'])")
  cpu_pair=$(echo "$json" | python3 -c "import json,sys; r=json.load(sys.stdin); print([t for t in r['uncontended'] if t['clients']==$c][0]['server_cpu_us_per_pair'] or 0)")
  printf '%-8s %-8s %14.0f %18.1f   (pairs: %.2fx redis; CPU: %.2fx redis)\n' weblock "$c" "$pairs" "$cpu_pair" \
    "$(echo "$pairs / ${redis_pairs[$c]}" | bc -l)" "$(echo "$cpu_pair / ${redis_cpu[$c]}" | bc -l)"
done
