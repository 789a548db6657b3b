#!/usr/bin/env bash
# Container benchmark: `tsbuild run --rm IMAGE true` latency next to `runc run` of a prepared bundle
# and `podman run --rm` (when installed); the memory (VmRSS) of a detached container's monitor next
# to podman's conmon; `run -d` and `stop` times. Prints medians of REPEAT runs.
# Usage: sudo bash bench/container.sh [repeat=10]
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=${1:-10}
. bench/lib.sh
report() { printf '%-58s %10s\n' "$1" "$2"; }
ms() { awk -v t="$1" 'BEGIN { printf "%.0f ms", t * 1000 }'; }
# Seconds that "$@" took; its stdout goes to the file $out (for the container ID of run -d).
timed() { local s e; s=$(now); "$@" >"$out" 2>>"$work/stderr"; e=$(now); awk -v s="$s" -v e="$e" 'BEGIN { print e - s }'; }

work=$(mktemp -d /var/tmp/tsbuild-bench.XXXXXX)
out="$work/out"
have_podman=false; command -v podman >/dev/null && have_podman=true
pod() {
  podman --root "$work/podman" --runroot "$work/podman-run" --tmpdir "$work/podman-tmp" --storage-driver overlay \
    --runtime /usr/sbin/runc --cgroup-manager cgroupfs --events-backend file "$@"
}
# podman asks for 1048576 open files and processes, more than this (non-systemd) session allows
# (runc then fails with "error setting rlimit ... operation not permitted"): ask for fewer.
podrun() { local verb=$1; shift; pod "$verb" --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 "$@"; }
cleanup() {
  set +e
  for id in $(tsb ps -aq 2>/dev/null); do tsb rm -f "$id" >/dev/null 2>&1; done
  if $have_podman; then pod rm -af >/dev/null 2>&1; pod rmi -af >/dev/null 2>&1; fi
  runc delete -f "bench-$$" >/dev/null 2>&1
  umount -l $(awk -v w="$work" '$2 ~ w {print $2}' /proc/mounts) 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

[ -f dist/cli/main.js ] || npm run --silent build
mkdir -p "$work/base"; cp testdata/busybox-base/Containerfile /bin/busybox "$work/base/"
# The image once, and its root filesystem as a tar for the runc bundle and podman import.
tsb bud -q -t busybox-base -o "type=tar,dest=$work/rootfs.tar" "$work/base" >/dev/null

# The runc bundle: the same rootfs, runc's default spec, no terminal, `true`.
mkdir -p "$work/bundle/rootfs"; tar -xf "$work/rootfs.tar" -C "$work/bundle/rootfs"
(cd "$work/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/' config.json)
grep -q '"true"' "$work/bundle/config.json" || { echo "could not prepare the runc bundle" >&2; exit 1; }
if $have_podman; then pod import -q "$work/rootfs.tar" localhost/busybox-base >/dev/null; fi
# A first run of each warms caches (and creates the default networks) outside the timings.
tsb run --rm busybox-base true; tsb run --rm --network bridge busybox-base true; runc run -b "$work/bundle" "bench-$$" </dev/null
if $have_podman; then podrun run --rm localhost/busybox-base true; fi

echo "== run --rm IMAGE true (median of $repeat)"
report "runc run (prepared bundle)" "$(ms "$(for i in $(seq "$repeat"); do timeit runc run -b "$work/bundle" "bench-$$"; done | median)")"
report "tsbuild run --rm --network host" "$(ms "$(for i in $(seq "$repeat"); do timeit tsb run --rm --network host busybox-base true; done | median)")"
report "tsbuild run --rm --network none" "$(ms "$(for i in $(seq "$repeat"); do timeit tsb run --rm --network none busybox-base true; done | median)")"
report "tsbuild run --rm (default: bridge network)" "$(ms "$(for i in $(seq "$repeat"); do timeit tsb run --rm busybox-base true; done | median)")"
if $have_podman; then
  report "podman run --rm --network host" "$(ms "$(for i in $(seq "$repeat"); do timeit podrun run --rm --network host localhost/busybox-base true; done | median)")"
  report "podman run --rm --network none" "$(ms "$(for i in $(seq "$repeat"); do timeit podrun run --rm --network none localhost/busybox-base true; done | median)")"
  report "podman run --rm (default: bridge network)" "$(ms "$(for i in $(seq "$repeat"); do timeit podrun run --rm localhost/busybox-base true; done | median)")"
fi
report "node -e 0 (the floor of any Node CLI)" "$(ms "$(for i in $(seq "$repeat"); do timeit node -e 0; done | median)")"

# A container that stops at SIGTERM at once (a plain `sleep` as pid 1 ignores it), so stop times
# measure the stop path, not the timeout.
cmd=(sh -c 'trap "exit 0" TERM; sleep 60 & wait')
echo "== detached: run -d, monitor memory, stop -t 1 (median of $repeat)"
if ! tsb run -d --name bench-probe busybox-base true >/dev/null 2>&1; then echo "tsbuild run -d is not available here"; exit 0; fi
tsb rm -f bench-probe >/dev/null 2>&1 || true
runs=(); stops=(); rsss=()
for i in $(seq "$repeat"); do
  runs+=("$(timed tsb run -d busybox-base "${cmd[@]}")")
  id=$(tail -n 1 "$out")
  monitor=$(node -p "require('$work/root/containers/$id/monitor.json').monitorPid")
  rsss+=("$(awk '/^VmRSS:/ { print $2 }' "/proc/$monitor/status")")
  stops+=("$(timed tsb stop -t 1 "$id")")
  tsb rm -f "$id" >/dev/null
done
report "tsbuild run -d" "$(ms "$(printf '%s\n' "${runs[@]}" | median)")"
report "tsbuild stop -t 1" "$(ms "$(printf '%s\n' "${stops[@]}" | median)")"
report "tsbuild monitor VmRSS" "$(printf '%s\n' "${rsss[@]}" | median | awk '{ printf "%.1f MB", $1 / 1024 }')"
if $have_podman; then
  runs=(); stops=(); rsss=()
  for i in $(seq "$repeat"); do
    runs+=("$(timed podrun run -d localhost/busybox-base "${cmd[@]}")")
    id=$(tail -n 1 "$out")
    conmon=$(pod inspect --format '{{.State.ConmonPid}}' "$id")
    rsss+=("$(awk '/^VmRSS:/ { print $2 }' "/proc/$conmon/status")")
    stops+=("$(timed pod stop -t 1 "$id")")
    pod rm -f "$id" >/dev/null
  done
  report "podman run -d" "$(ms "$(printf '%s\n' "${runs[@]}" | median)")"
  report "podman stop -t 1" "$(ms "$(printf '%s\n' "${stops[@]}" | median)")"
  report "conmon VmRSS" "$(printf '%s\n' "${rsss[@]}" | median | awk '{ printf "%.1f MB", $1 / 1024 }')"
fi

echo "== builds: a RUN step's network (5 x RUN true, --no-cache; per step, median of 3)"
mkdir -p "$work/runs"; { echo "FROM busybox-base"; for i in $(seq 5); do echo "RUN true"; done; } > "$work/runs/Containerfile"
for net in host private; do
  t=$(for i in 1 2 3; do timeit tsb bud --no-cache --network "$net" "$work/runs"; done | median)
  report "tsbuild bud --network $net, per RUN step" "$(ms "$(awk -v t="$t" 'BEGIN { print t / 5 }')")"
done
