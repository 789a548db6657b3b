#!/usr/bin/env bash
# Installs what tsbuild needs on a Debian 12 machine (idempotent): the OCI runtime, overlay-capable
# tools, Debian's static busybox for test and demo base images, and the tools the interop tests use.
set -euo pipefail

packages=(runc busybox-static attr zstd git docker-registry apache2-utils openssl skopeo umoci podman buildah openssh-client containernetworking-plugins iptables iproute2 tini gcc libc6-dev procps)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: tsbuild needs root (overlay mounts and runc)" >&2
  exit 1
fi
