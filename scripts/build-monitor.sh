#!/usr/bin/env bash
# Builds the per-container monitor (C, libc only) into dist/tsbuild-monitor. Run by `npm run build`
# and `npm test`; a C compiler (Debian: gcc) is installed by scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p dist
cc -std=c99 -O2 -Wall -Wextra -o dist/tsbuild-monitor.tmp src/container/monitor/monitor.c
mv dist/tsbuild-monitor.tmp dist/tsbuild-monitor
