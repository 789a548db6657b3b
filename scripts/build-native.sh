#!/usr/bin/env bash
# Builds tsbuild's two C programs (libc only) into dist/: the per-container monitor
# (dist/tsbuild-monitor, src/container/monitor/) and the system helper that makes mounts and network
# namespaces (dist/tsbuild-sys, src/sys/). Run by `npm run build` and `npm test`; a C compiler
# (Debian: gcc) is installed by scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p dist
build() {
  cc -std=c99 -O2 -Wall -Wextra -o "dist/$1.tmp" "$2"
  mv "dist/$1.tmp" "dist/$1"
}
build tsbuild-monitor src/container/monitor/monitor.c
build tsbuild-sys src/sys/helper.c
