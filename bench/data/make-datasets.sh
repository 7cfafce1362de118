#!/usr/bin/env bash
# Makes the real Debian data sets the benchmarks and opt-in tests use, outside the repository.
#
#   bench/data/make-datasets.sh [STAGE...]        (as root; needs debootstrap, tar, network to deb.debian.org)
#
# Output directory: $XENO_DATA, default /work/data. Stages (default: all, in this order):
#   t1          debootstrap --variant=minbase bookworm (the debootstrap package's default mirror,
#               http://deb.debian.org/debian, suite bookworm, component main). Left exactly as
#               debootstrap made it: that includes the downloaded .debs in /var/cache/apt/archives
#               and the bookworm main package lists in /var/lib/apt/lists.
#   apache      t1-apache: cp -a of t1, then `apt-get install -y apache2` in a chroot.
#   upgraded    t1-upgraded: cp -a of t1, bookworm-updates and bookworm-security added to
#               sources.list, `apt-get update && apt-get upgrade -y`. debootstrap installs from
#               the bookworm suite of the point release only, so this upgrade is the set of
#               updates and security fixes published since that point release: the kind of
#               template update a server sees in practice. The list of changed packages is written
#               to $XENO_DATA/t1-upgraded.changes.
#   openarena   t1-openarena: cp -a of t1, then `apt-get install -y openarena-server` (a
#               Quake3-engine server with several hundred MB of game data: the "big service"
#               of the paper's Table 1).
#   tars        <name>.tar for each tree: tar --format=posix --xattrs --xattrs-include='*' --acls
#               -cpf, members named ./..., for the tar-import paths.
#   sizes       prints du -sb, apparent sizes, file counts etc. (the table in bench/data/README.md).
#
# Every derived tree is made the same way, so that the difference to t1 is the package change
# alone: services are kept from starting (a policy-rc.d that exits 101, removed afterwards),
# apt deletes the .debs it downloaded (APT::Keep-Downloaded-Packages=false; t1's own .debs stay),
# and apt's binary caches (/var/cache/apt/*.bin, regenerated on demand) are removed. /proc and
# /dev/pts are mounted inside the chroot only while apt runs. Everything else apt and dpkg
# leave behind (dpkg status, logs, debconf database, new users) stays, as on a real machine.
#
# Idempotent: a stage whose marker file ($XENO_DATA/.<name>.done) exists is skipped; a tree
# without its marker is a leftover of an interrupted run and is made again from scratch.
set -euo pipefail

DATA=${XENO_DATA:-/work/data}
MIRROR=${XENO_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${XENO_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm

log () { echo "make-datasets: $*" >&2; }
done_marker () { echo "$DATA/.$1.done"; }
is_done () { [ -e "$(done_marker "$1")" ]; }
mark_done () { date -u +%FT%TZ > "$(done_marker "$1")"; }

[ "$(id -u)" -eq 0 ] || { log "must run as root (debootstrap, chroot, mount)"; exit 1; }
mkdir -p "$DATA"

# --- chroot helpers -------------------------------------------------------------------------

MOUNTED=()
unmount_all () {
  local i
  for (( i=${#MOUNTED[@]}-1; i>=0; i-- )); do umount "${MOUNTED[$i]}" 2>/dev/null || umount -l "${MOUNTED[$i]}" || true; done
  MOUNTED=()
}
trap unmount_all EXIT

enter () {  # enter ROOT: mount what apt needs and keep services from starting
  local root=$1
  mount -t proc proc "$root/proc"; MOUNTED+=("$root/proc")
  mkdir -p "$root/dev/pts"
  mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"; MOUNTED+=("$root/dev/pts")
  printf '#!/bin/sh\n# make-datasets.sh: no services start inside the image build\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
}

leave () {  # leave ROOT: undo enter, drop apt's binary caches
  local root=$1
  rm -f "$root/usr/sbin/policy-rc.d"
  rm -f "$root"/var/cache/apt/*.bin
  unmount_all
}

in_chroot () {
  local root=$1; shift
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}

APT_OPTS=(-y -o APT::Keep-Downloaded-Packages=false -o Dpkg::Use-Pty=0 -o Acquire::Retries=3)

copy_t1 () {  # copy_t1 NAME: fresh cp -a of t1 (hard links, xattrs, ACLs, times, devices)
  local dest="$DATA/$1"
  rm -rf "$dest"
  cp -a "$DATA/t1" "$dest"
}

# --- stages ---------------------------------------------------------------------------------

stage_t1 () {
  is_done t1 && { log "t1: already made"; return; }
  rm -rf "$DATA/t1"
  log "t1: debootstrap --variant=minbase $SUITE ($MIRROR); takes about a minute"
  debootstrap --variant=minbase "$SUITE" "$DATA/t1" "$MIRROR" > "$DATA/t1.debootstrap.log" 2>&1 \
    || { tail -20 "$DATA/t1.debootstrap.log" >&2; exit 1; }
  mark_done t1
}

install_into () {  # install_into NAME PACKAGE...
  local name=$1; shift
  is_done "$name" && { log "$name: already made"; return; }
  is_done t1 || { log "$name: needs t1"; exit 1; }
  log "$name: cp -a t1, apt-get install $*"
  copy_t1 "$name"
  enter "$DATA/$name"
  in_chroot "$DATA/$name" apt-get "${APT_OPTS[@]}" install "$@" > "$DATA/$name.apt.log" 2>&1 \
    || { leave "$DATA/$name"; tail -20 "$DATA/$name.apt.log" >&2; exit 1; }
  leave "$DATA/$name"
  mark_done "$name"
}

stage_upgraded () {
  local name=t1-upgraded root="$DATA/t1-upgraded"
  is_done "$name" && { log "$name: already made"; return; }
  is_done t1 || { log "$name: needs t1"; exit 1; }
  log "$name: cp -a t1, add $SUITE-updates and $SUITE-security, apt-get update && apt-get upgrade"
  copy_t1 "$name"
  cat >> "$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
SOURCES
  in_chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' > "$DATA/$name.before"
  enter "$root"
  { in_chroot "$root" apt-get "${APT_OPTS[@]}" update && in_chroot "$root" apt-get "${APT_OPTS[@]}" upgrade; } \
    > "$DATA/$name.apt.log" 2>&1 || { leave "$root"; tail -20 "$DATA/$name.apt.log" >&2; exit 1; }
  leave "$root"
  in_chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' > "$DATA/$name.after"
  diff "$DATA/$name.before" "$DATA/$name.after" | grep '^[<>]' > "$DATA/$name.changes" || true
  log "$name: $(grep -c '^>' "$DATA/$name.changes" || true) packages changed (see $DATA/$name.changes)"
  rm -f "$DATA/$name.before" "$DATA/$name.after"
  mark_done "$name"
}

stage_tars () {
  local name
  for name in t1 t1-apache t1-upgraded t1-openarena; do
    [ -d "$DATA/$name" ] && is_done "$name" || continue
    is_done "$name.tar" && [ "$DATA/$name.tar" -nt "$(done_marker "$name")" ] && continue
    log "tar: $name.tar"
    tar --format=posix --xattrs --xattrs-include='*' --acls -cpf "$DATA/$name.tar.tmp" -C "$DATA/$name" .
    mv "$DATA/$name.tar.tmp" "$DATA/$name.tar"
    mark_done "$name.tar"
  done
}

stage_sizes () {
  local name
  printf '| %-13s | %12s | %12s | %8s | %6s | %11s | %6s | %9s |\n' tree 'du -sb' 'sum of sizes' entries files 'hard-linked' xattrs 'tar bytes'
  printf '|%s|\n' '---------------|--------------:|--------------:|---------:|-------:|------------:|-------:|----------:'
  for name in t1 t1-apache t1-upgraded t1-openarena; do
    [ -d "$DATA/$name" ] && is_done "$name" || continue
    local root="$DATA/$name"
    local dub sum entries files hl xattrs tarb
    dub=$(du -sb "$root" | cut -f1)
    sum=$(find "$root" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
    entries=$(find "$root" | wc -l)
    files=$(find "$root" -type f | wc -l)
    hl=$(find "$root" -type f -links +1 | wc -l)
    xattrs=$(getfattr -R -h -d -m - "$root" 2>/dev/null | grep -c '^# file' || true)
    tarb=$( [ -f "$DATA/$name.tar" ] && stat -c %s "$DATA/$name.tar" || echo -)
    printf '| %-13s | %12s | %12s | %8s | %6s | %11s | %6s | %9s |\n' "$name" "$dub" "$sum" "$entries" "$files" "$hl" "$xattrs" "$tarb"
  done
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(t1 apache upgraded openarena tars sizes)
for s in "${stages[@]}"; do
  case $s in
    t1) stage_t1 ;;
    apache) install_into t1-apache apache2 ;;
    upgraded) stage_upgraded ;;
    openarena) install_into t1-openarena openarena-server ;;
    tars) stage_tars ;;
    sizes) stage_sizes ;;
    *) log "unknown stage: $s"; exit 2 ;;
  esac
done
