#!/usr/bin/env bash
# Sets up a fresh machine, builds tsbuild, then builds and runs the demo image from testdata/demo,
# in the foreground and detached with a published port.
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
echo "== tsbuild run -d: the demo image served by busybox httpd on 127.0.0.1, on the default bridge network"
"${tsbuild[@]}" rm -f demo-web >/dev/null 2>&1 || true
"${tsbuild[@]}" run -d --name demo-web -p 127.0.0.1:18080:8080 hello httpd -f -v -p 8080 -h /home/demo
"${tsbuild[@]}" ps
wget -qO- http://127.0.0.1:18080/hello.txt 2>/dev/null || busybox wget -qO- http://127.0.0.1:18080/hello.txt
"${tsbuild[@]}" logs demo-web
"${tsbuild[@]}" rm -f demo-web
