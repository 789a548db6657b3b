#!/usr/bin/env bash
# Registry benchmark: push and pull of an image with one ~500 MB layer to a loopback
# docker-registry (plain HTTP), next to skopeo copy of the same image. Medians of REPEAT runs.
# Usage: sudo bash bench/registry.sh [layerMB=500] [repeat=3]
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-500}; repeat=${2:-3}
work=$(mktemp -d /var/tmp/tsbuild-bench-registry.XXXXXX)
registry_pid=
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  umount -l $(awk -v w="$work" '$2 ~ w {print $2}' /proc/mounts) 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. bench/lib.sh
report() { printf '%-52s %8.3f s\n' "$1" "$2"; }
[ -f dist/cli/main.js ] || npm run --silent build

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
start_registry() {
  rm -rf "$work/registry"; mkdir -p "$work/registry"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n' "$work/registry" "$port" > "$work/registry.yml"
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && return; sleep 0.1; done
  echo "registry did not start" >&2; exit 1
}
stop_registry() { kill "$registry_pid"; wait "$registry_pid" 2>/dev/null || true; registry_pid=; }
reg="127.0.0.1:$port"
tsb() { ./bin/tsbuild --root "$work/root" "$@"; }

# The image: the busybox base plus one layer holding one incompressible-ish file of $mb MB.
mkdir -p "$work/base" "$work/big"; cp testdata/busybox-base/Containerfile /bin/busybox "$work/base/"
tsb bud -q -t busybox-base "$work/base" >/dev/null
node bench/make-context.mjs "$work/big/data" 1 "$mb"
printf 'FROM busybox-base\nCOPY data /data\n' > "$work/big/Containerfile"
tsb bud -q -t big "$work/big" >/dev/null
tsb save --format oci-archive -o "$work/big.tar" big

push=(); push_again=(); pull=(); skopeo_push=(); skopeo_pull=()
for i in $(seq "$repeat"); do
  start_registry
  rm -rf "$work/root/cache/blob-info"   # forget compressed variants: the first push compresses
  push+=("$(timeit tsb push --tls-verify=false big "$reg/bench/big:tsbuild")")
  push_again+=("$(timeit tsb push --tls-verify=false big "$reg/bench/big:tsbuild")")
  rm -rf "$work/pullroot"
  pull+=("$(timeit ./bin/tsbuild --root "$work/pullroot" pull --tls-verify=false "$reg/bench/big:tsbuild")")
  stop_registry; start_registry
  skopeo_push+=("$(timeit skopeo copy --dest-tls-verify=false "oci-archive:$work/big.tar" "docker://$reg/bench/big:skopeo")")
  rm -rf "$work/skopeo-pull"
  skopeo_pull+=("$(timeit skopeo copy --src-tls-verify=false "docker://$reg/bench/big:skopeo" "oci:$work/skopeo-pull:big")")
  stop_registry
done
echo "== image with one $mb MB layer, loopback docker-registry, medians of $repeat"
report "tsbuild push (registry empty)" "$(printf '%s\n' "${push[@]}" | median)"
report "tsbuild push again (registry has the blobs)" "$(printf '%s\n' "${push_again[@]}" | median)"
report "tsbuild pull (fresh root)" "$(printf '%s\n' "${pull[@]}" | median)"
report "skopeo copy oci-archive -> registry" "$(printf '%s\n' "${skopeo_push[@]}" | median)"
report "skopeo copy registry -> oci dir" "$(printf '%s\n' "${skopeo_pull[@]}" | median)"
