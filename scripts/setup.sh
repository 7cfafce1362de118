#!/usr/bin/env bash
# Installs everything xeno needs on a fresh Debian machine with Node 20: Debian packages
# (NFS test clients and the tools tests compare against), npm dependencies, and the build.
# Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(libnfs-utils iproute2 rsync attr tar zstd libzstd-dev time g++ make python3)
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

# The VM boot test (test/vm, bench/vm): QEMU and a static busybox, without their recommends (a GUI
# and firmware the test does not use), and a Debian cloud kernel with its modules, downloaded as a
# package and extracted into a cache (never installed as this machine's kernel). Best effort: the
# test says why it skips when a piece is missing.
VM_PACKAGES=(qemu-system-x86 busybox-static)
vm_missing=()
for p in "${VM_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || vm_missing+=("$p")
done
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ ${#vm_missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages for the VM test: ${vm_missing[*]}" >&2
  vm_install() { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${vm_missing[@]}" >/dev/null; }
  vm_install || { $SUDO apt-get update -qq && vm_install; } \
    || echo "setup: could not install ${vm_missing[*]}; the VM test will be skipped" >&2
fi
VM_KERNEL_DIR="${XENO_VM_KERNEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/xeno/vm-kernel}"
if [ "$(dpkg --print-architecture)" = amd64 ] && ! ls "$VM_KERNEL_DIR"/boot/vmlinuz-* >/dev/null 2>&1; then
  kernel_pkg() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'; }
  pkg=$(kernel_pkg || true)
  [ -z "$pkg" ] && { $SUDO apt-get update -qq || true; pkg=$(kernel_pkg || true); }
  tmp=$(mktemp -d); chmod 755 "$tmp"
  if [ -n "$pkg" ] && (cd "$tmp" && apt-get download -qq "$pkg" 2>/dev/null) && mkdir -p "$VM_KERNEL_DIR" && dpkg-deb -x "$tmp"/*.deb "$VM_KERNEL_DIR"; then
    echo "setup: extracted $pkg into $VM_KERNEL_DIR for the VM test" >&2
  else
    echo "setup: could not download a kernel package into $VM_KERNEL_DIR; the VM test will be skipped" >&2
  fi
  rm -rf "$tmp"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies" >&2
  # npm install, not npm ci: the registry here lacks the optional foreign-platform builds of
  # @napi-rs/blake-hash that the lock file names, and npm ci refuses such a lock.
  npm install --no-audit --no-fund --loglevel=error
fi
echo "setup: building" >&2
npm run --silent build
