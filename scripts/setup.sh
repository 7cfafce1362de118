#!/usr/bin/env bash
# Installs everything xeno needs on a fresh Debian machine with Node 20: Debian packages
# (NFS test clients and the tools tests compare against), npm dependencies, and the build.
# Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(libnfs-utils iproute2 rsync attr tar zstd time g++ make python3)
missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies" >&2
  # npm install, not npm ci: the registry here lacks the optional foreign-platform builds of
  # @napi-rs/blake-hash that the lock file names, and npm ci refuses such a lock.
  npm install --no-audit --no-fund --loglevel=error
fi
echo "setup: building" >&2
npm run --silent build
