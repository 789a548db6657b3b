# Shared by the benchmark scripts (sourced, not run): timing, and for the build benchmarks a temp
# work dir with tsbuild's and buildah's private stores and the busybox base image in both.

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
timeit() { local s e; s=$(now); "$@" >/dev/null 2>&1; e=$(now); awk -v s="$s" -v e="$e" 'BEGIN { print e - s }'; }

# Sets $work (removed, with anything mounted under it, on exit) and $have_buildah; defines tsb and
# bah (buildah with runc, overlay and a private --root/--runroot); builds busybox-base with both.
setup_builders() {
  work=$(mktemp -d /var/tmp/tsbuild-bench.XXXXXX)
  trap 'umount -l $(awk -v w="$work" "\$2 ~ w {print \$2}" /proc/mounts) 2>/dev/null || true; rm -rf "$work"' EXIT
  [ -f dist/cli/main.js ] || npm run --silent build
  have_buildah=false; command -v buildah >/dev/null && have_buildah=true
  mkdir -p "$work/base"; cp testdata/busybox-base/Containerfile /bin/busybox "$work/base/"
  tsb bud -q -t busybox-base "$work/base" >/dev/null
  if $have_buildah; then bah_base; fi
}
tsb() { ./bin/tsbuild --root "$work/root" "$@"; }
bah() { buildah --root "$work/buildah" --runroot "$work/buildah-run" --storage-driver overlay "$@"; }
bah_base() { bah bud --runtime /usr/sbin/runc --layers -q -t busybox-base "$work/base" >/dev/null; }
