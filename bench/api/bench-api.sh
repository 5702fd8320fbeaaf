#!/bin/sh
# bench-api.sh USBPASSD: the REST API under load, with wrk on loopback TCP
#
# Starts usbpassd on a generated umockdev host of 1,000 USB devices
# (make-testbed.py), the in-memory test driver, a store in a temporary
# directory and a TCP listener on 127.0.0.1; makes a reader token over the
# Unix socket, then drives wrk (one thread, 8 connections: one core for wrk,
# one for the single-threaded daemon on these 2-core machines):
#   GET /v1/devices/{id}                api_device_rps, api_device_p99_ms
#   GET /v1/devices (1,000 devices)     api_list1000_rps, api_list1000_p99_ms
#   the same with If-None-Match         api_list1000_304_rps (and the ratio)
#   RSS and PSS after start-up, before load   idle_rss_kib, idle_pss_kib
#   a mix until 1,000,000 requests were served in all: of every 100, 90
#   GET /v1/devices/{id}, 9 GET /v1/health, 1 GET /v1/devices (the listing
#   costs ~100 single devices; more would make the soak last many minutes)
#                                       api_mixed_rps, api_requests_total
#   then the memory again               rss_after_1m_kib, pss_after_1m_requests_kib,
#                                       pss_growth_1m_requests_kib (after - idle)
# RSS counts the resident pages of the shared libraries too (libvirt, GnuTLS,
# OpenSSL, SQLite, GLib: ~15 MB here); PSS (from /proc/PID/smaps_rollup)
# divides each shared page among the processes that map it, so it is what the
# daemon really costs a host that runs other GLib programs; *_anon_kib is the
# daemon's own heap.
# Prints key=value lines; never fails on time. Takes about 2-4 minutes.
set -eu

usbpassd=${1:?usage: bench-api.sh USBPASSD}
here=$(cd "$(dirname "$0")" && pwd)
device_seconds=${BENCH_API_DEVICE_SECONDS:-10}
list_seconds=${BENCH_API_LIST_SECONDS:-5}
target_requests=${BENCH_API_TOTAL_REQUESTS:-1000000}

for tool in wrk umockdev-run curl python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench-api: $tool is not installed (scripts/install-deps), skipping" >&2
		exit 0
	fi
done

work=$(mktemp -d)
wrapper=""
cleanup() {
	if [ -n "$wrapper" ]; then
		kill -TERM "$wrapper" 2>/dev/null || true
		wait "$wrapper" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

python3 "$here/make-testbed.py" 1000 "$work/host.umockdev"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/usbpassd.conf" <<CONF
[daemon]
enabled=true
host=bench
store=$work/usbpass.db
socket=$work/usbpassd.sock
socket-group=
socket-mode=0600
listen=127.0.0.1:$port
driver=test
log-level=warning
CONF
cat >"$work/mixed.lua" <<'LUA'
-- of every 100 requests: 90 one device (the URL given to wrk), 9 health, 1 listing
local n = 0
request = function()
	n = n + 1
	if n % 100 == 0 then
		return wrk.format("GET", "/v1/devices")
	elseif n % 10 == 0 then
		return wrk.format("GET", "/v1/health")
	end
	return wrk.format("GET", wrk.path)
end
LUA
cat >"$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("wrk_requests=%d\n", summary.requests))
	io.write(string.format("wrk_duration_us=%d\n", summary.duration))
	io.write(string.format("wrk_errors=%d\n", e.connect + e.read + e.write + e.status + e.timeout))
	io.write(string.format("wrk_p99_us=%d\n", latency:percentile(99)))
end
LUA

# the testbed on tmpfs when there is one: umockdev writes and removes ~20,000
# files for 1,000 devices, which takes minutes on a busy ext4 /tmp
testbed_tmp=${TMPDIR:-/tmp}
[ -d /dev/shm ] && [ -w /dev/shm ] && testbed_tmp=/dev/shm
TMPDIR=$testbed_tmp umockdev-run -d "$work/host.umockdev" -- "$usbpassd" --config="$work/usbpassd.conf" &
wrapper=$!
url="http://127.0.0.1:$port"
i=0
until curl -sf -o /dev/null "$url/v1/health"; do
	i=$((i + 1))
	if [ "$i" -gt 1200 ] || ! kill -0 "$wrapper" 2>/dev/null; then
		echo "bench-api: usbpassd did not start" >&2
		exit 1
	fi
	sleep 0.1
done
daemon=$(ps -o pid= --ppid "$wrapper" | head -n1 | tr -d ' ')

token=$(curl -sf --unix-socket "$work/usbpassd.sock" -H 'Content-Type: application/json' \
	-d '{"name": "bench", "role": "reader"}' http://localhost/v1/tokens |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
auth="Authorization: Bearer $token"
device_id=$(curl -sf -H "$auth" "$url/v1/devices/1-1.1" |
	python3 -c 'import json, sys, urllib.parse; print(urllib.parse.quote(json.load(sys.stdin)["id"], safe=""))')
count=$(curl -sf -H "$auth" "$url/v1/devices" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["devices"]))')
etag=$(curl -sf -D - -o /dev/null -H "$auth" "$url/v1/devices" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')

rss_kib() {
	sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$daemon/status"
}
# the daemon's own heap, without the pages of shared libraries
rss_anon_kib() {
	sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$daemon/status"
}
# what the daemon costs: its own pages plus its share of the shared ones
pss_kib() {
	sed -n 's/^Pss:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$daemon/smaps_rollup"
}
echo "api_devices_listed=$count"
echo "idle_rss_kib=$(rss_kib)"
echo "idle_rss_anon_kib=$(rss_anon_kib)"
idle_pss=$(pss_kib)
echo "idle_pss_kib=$idle_pss"

total=0
script="$work/report.lua"
# run_wrk PREFIX SECONDS PATH [HEADER]: prints PREFIX_rps and PREFIX_p99_ms
run_wrk() {
	prefix=$1
	seconds=$2
	path=$3
	shift 3
	out=$(wrk -t1 -c8 -d"${seconds}s" -s "$script" -H "$auth" "$@" "$url$path")
	requests=$(echo "$out" | sed -n 's/^wrk_requests=//p')
	duration=$(echo "$out" | sed -n 's/^wrk_duration_us=//p')
	errors=$(echo "$out" | sed -n 's/^wrk_errors=//p')
	p99=$(echo "$out" | sed -n 's/^wrk_p99_us=//p')
	total=$((total + requests))
	if [ -n "$prefix" ]; then
		awk -v r="$requests" -v d="$duration" -v p="$p99" -v n="$prefix" 'BEGIN {
			printf "%s_rps=%.0f\n%s_p99_ms=%.2f\n", n, r / (d / 1e6), n, p / 1000 }'
		[ "$errors" = 0 ] || echo "${prefix}_errors=$errors"
	fi
	last_rps=$(awk -v r="$requests" -v d="$duration" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
}

run_wrk api_device "$device_seconds" "/v1/devices/$device_id"
device_rps=$last_rps
run_wrk api_list1000 "$list_seconds" /v1/devices
list_rps=$last_rps
run_wrk api_list1000_304 "$list_seconds" /v1/devices -H "If-None-Match: $etag"
echo "api_list1000_304_vs_200_ratio=$(awk -v a="$last_rps" -v b="$list_rps" 'BEGIN { printf "%.1f", a / b }')"

# the soak: the mix until a million were served in all; a first round of 10 s
# measures the mix's rate, the next ones last as long as the rest needs
cat "$work/mixed.lua" "$work/report.lua" >"$work/soak.lua"
script="$work/soak.lua"
rounds=0
mixed_rps=""
while [ "$total" -lt "$target_requests" ] && [ "$rounds" -lt 8 ]; do
	remaining=$((target_requests - total))
	if [ -z "$mixed_rps" ]; then
		seconds=10
	else
		seconds=$(awk -v n="$remaining" -v r="$mixed_rps" 'BEGIN { s = int(n / r * 1.1) + 1; if (s > 150) s = 150; print s }')
	fi
	run_wrk "" "$seconds" "/v1/devices/$device_id"
	[ -z "$mixed_rps" ] && mixed_rps=$last_rps && echo "api_mixed_rps=$mixed_rps"
	rounds=$((rounds + 1))
done
echo "api_requests_total=$total"
echo "rss_after_1m_kib=$(rss_kib)"
echo "rss_after_1m_anon_kib=$(rss_anon_kib)"
pss_after=$(pss_kib)
echo "pss_after_1m_requests_kib=$pss_after"
echo "pss_growth_1m_requests_kib=$((pss_after - idle_pss))"
