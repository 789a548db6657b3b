#!/usr/bin/env bash
# Sets up a fresh machine, builds tsbuild, then builds and runs the demo image from testdata/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm install --no-audit --no-fund --loglevel=error   # why not npm ci: see .ci/run
npm run --silent build

tsbuild=(./bin/tsbuild ${TSBUILD_ROOT:+--root "$TSBUILD_ROOT"})
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp testdata/busybox-base/Containerfile /bin/busybox "$context/"

echo "== building the busybox base image (FROM scratch + Debian's static busybox)"
"${tsbuild[@]}" bud -t busybox-base "$context"
echo "== building the demo image"
"${tsbuild[@]}" bud -t hello testdata/demo
echo "== tsbuild images"
"${tsbuild[@]}" images
echo "== tsbuild run --rm hello"
"${tsbuild[@]}" run --rm hello
