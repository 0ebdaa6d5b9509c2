#!/usr/bin/env bash
# Installs what berth needs on a fresh Debian 12 machine (apt and npm) and builds it.
# Safe to run again: packages already present are not reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential libseccomp-dev   # berth-shim (static, links libseccomp)
  busybox-static                   # the local busybox image and test rootfs
  runc crun                        # peers for the differential tests and benchmarks
  docker.io                        # dockerd/containerd: drives berth-runc in tests; the docker CLI
  docker-registry skopeo apache2-utils zstd  # a real registry (htpasswd auth), an independent client, zstd layers
  lxcfs                            # --resource-view
  containernetworking-plugins iptables  # networking through CNI
  debootstrap tmux util-linux iproute2 procps curl   # curl: the demo and tests reach published ports
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "berth setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian's docker.io would start dockerd on install where services run; berth's tests start
  # their own private daemons instead, so keep service starts off during the install.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --ignore-scripts; else npm install --no-audit --no-fund --ignore-scripts; fi
npm run build
echo "berth setup: done (bin/berth-runc is ready)"
