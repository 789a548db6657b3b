#!/usr/bin/env bash
# Foundation benchmark: start-up, RUN step overhead, and cold / cached / one-file-changed builds of a
# large context, side by side with buildah when it is installed. Prints medians of REPEAT runs.
# Usage: sudo bash bench/foundation.sh [files=20000] [totalMB=500] [repeat=3]
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-20000}; mb=${2:-500}; repeat=${3:-3}
. bench/lib.sh
div() { awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }
report() { printf '%-44s %8.3f s\n' "$1" "$2"; }
setup_builders

echo "== start-up"
report "tsbuild --version (median of 20)" "$(for i in $(seq 20); do timeit ./bin/tsbuild --version; done | median)"

echo "== trivial RUN step (10 x RUN true, --no-cache; per step)"
mkdir -p "$work/trivial"; { echo "FROM busybox-base"; for i in $(seq 10); do echo "RUN true"; done; } > "$work/trivial/Containerfile"
t=$(for i in $(seq "$repeat"); do timeit tsb bud --no-cache "$work/trivial"; done | median)
report "tsbuild per RUN step" "$(div "$t" 10)"
if $have_buildah; then
  t=$(for i in $(seq "$repeat"); do timeit bah bud --runtime /usr/sbin/runc --no-cache "$work/trivial"; done | median)
  report "buildah per RUN step" "$(div "$t" 10)"
fi

echo "== context: $files files / $mb MB, COPY + one RUN"
node bench/make-context.mjs "$work/ctx" "$files" "$mb"
printf 'FROM busybox-base\nCOPY . /ctx\nRUN du -s /ctx\n' > "$work/ctx/Containerfile"
cold=(); cached=(); changed=(); bcold=(); bcached=(); bchanged=()
for i in $(seq "$repeat"); do
  rm -rf "$work/root/cache"   # forget cache entries and file digests: a cold build of the context
  cold+=("$(timeit tsb bud --layers -t ctx "$work/ctx")")
  cached+=("$(timeit tsb bud --layers -t ctx "$work/ctx")")
  echo "change $i" >> "$work/ctx/d000/f0.bin"
  changed+=("$(timeit tsb bud --layers -t ctx "$work/ctx")")
  if $have_buildah; then
    bah rmi -af >/dev/null 2>&1 || true
    bah_base
    bcold+=("$(timeit bah bud --runtime /usr/sbin/runc --layers -t ctx "$work/ctx")")
    bcached+=("$(timeit bah bud --runtime /usr/sbin/runc --layers -t ctx "$work/ctx")")
    echo "change b$i" >> "$work/ctx/d000/f0.bin"
    bchanged+=("$(timeit bah bud --runtime /usr/sbin/runc --layers -t ctx "$work/ctx")")
  fi
done
report "tsbuild cold build" "$(printf '%s\n' "${cold[@]}" | median)"
report "tsbuild rebuild, nothing changed" "$(printf '%s\n' "${cached[@]}" | median)"
report "tsbuild rebuild, one file changed" "$(printf '%s\n' "${changed[@]}" | median)"
if $have_buildah; then
  report "buildah cold build" "$(printf '%s\n' "${bcold[@]}" | median)"
  report "buildah rebuild, nothing changed" "$(printf '%s\n' "${bcached[@]}" | median)"
  report "buildah rebuild, one file changed" "$(printf '%s\n' "${bchanged[@]}" | median)"
fi
