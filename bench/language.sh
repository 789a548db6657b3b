#!/usr/bin/env bash
# Issue-4 features under the clock, side by side with buildah when it is installed: independent
# stages run concurrently (--jobs), RUN --mount=type=cache reuse, heredoc and secret steps, and the
# cost of `tsbuild lint`. Prints medians of REPEAT runs.
# Usage: sudo bash bench/language.sh [repeat=3]
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=${1:-3}
. bench/lib.sh
report() { printf '%-52s %8.3f s\n' "$1" "$2"; }
med() { local out=(); for i in $(seq "$repeat"); do out+=("$(timeit "$@")"); done; printf '%s\n' "${out[@]}" | median; }
setup_builders

echo "== multistage: 3 independent CPU-heavy stages + final COPY --from, --no-cache"
mkdir -p "$work/multi"
{
  for s in a b c; do
    echo "FROM busybox-base AS $s"
    echo "RUN dd if=/dev/zero bs=1M count=400 2>/dev/null | sha256sum > /sum-$s && dd if=/dev/zero bs=1M count=400 2>/dev/null | md5sum >> /sum-$s"
  done
  echo "FROM busybox-base"
  for s in a b c; do echo "COPY --from=$s /sum-$s /"; done
} > "$work/multi/Containerfile"
report "tsbuild (default --jobs: the core count)" "$(med tsb bud --no-cache "$work/multi")"
report "tsbuild --jobs 1" "$(med tsb bud --no-cache --jobs 1 "$work/multi")"
if $have_buildah; then
  report "buildah --jobs 3" "$(med bah bud --runtime /usr/sbin/runc --no-cache --jobs 3 "$work/multi")"
  report "buildah (one stage at a time)" "$(med bah bud --runtime /usr/sbin/runc --no-cache "$work/multi")"
fi

echo "== RUN --mount=type=cache: second build with the cache mount warm (RUN re-runs: --no-cache)"
mkdir -p "$work/cachemount"
cat > "$work/cachemount/Containerfile" <<'CF'
FROM busybox-base
RUN --mount=type=cache,target=/cache sh -c 'test -f /cache/big || dd if=/dev/urandom of=/cache/big bs=1M count=200 2>/dev/null; sha256sum /cache/big > /sum'
CF
tsb bud --no-cache "$work/cachemount" >/dev/null 2>&1
report "tsbuild, cache mount warm" "$(med tsb bud --no-cache "$work/cachemount")"
if $have_buildah; then
  bah bud --runtime /usr/sbin/runc --no-cache "$work/cachemount" >/dev/null 2>&1
  report "buildah, cache mount warm" "$(med bah bud --runtime /usr/sbin/runc --no-cache "$work/cachemount")"
fi

echo "== 5 RUN steps each with a secret mount and a heredoc, --no-cache"
mkdir -p "$work/secret"; echo "s3cr3t" > "$work/secret.txt"
{
  echo "FROM busybox-base"
  for i in 1 2 3 4 5; do
    printf 'RUN --mount=type=secret,id=tok <<EOF\ntest -s /run/secrets/tok\necho step %s > /step%s\nEOF\n' "$i" "$i"
  done
} > "$work/secret/Containerfile"
report "tsbuild" "$(med tsb bud --no-cache --secret id=tok,src="$work/secret.txt" "$work/secret")"
# buildah 1.28 has no heredocs: the same steps as plain RUN lines.
if $have_buildah; then
  { echo "FROM busybox-base"; for i in 1 2 3 4 5; do echo "RUN --mount=type=secret,id=tok test -s /run/secrets/tok && echo step $i > /step$i"; done; } > "$work/secret/Containerfile.buildah"
  report "buildah (plain RUN lines)" "$(med bah bud --runtime /usr/sbin/runc --no-cache --secret id=tok,src="$work/secret.txt" -f "$work/secret/Containerfile.buildah" "$work/secret")"
fi

echo "== tsbuild lint of a 200-instruction Containerfile"
{ echo "FROM busybox-base AS base"; for i in $(seq 200); do echo "ENV V$i=\$V$((i-1))x"; done; } > "$work/lint.Containerfile"
report "tsbuild lint" "$(med tsb lint -f "$work/lint.Containerfile" "$work/base")"
