#!/usr/bin/env bash
# Issue 2's "Must show" on the real Debian data (bench/data/make-datasets.sh first), through the
# CLI, checked by independent tools:
#   1. t1 (a directory) imports and exports back identical in content and every piece of
#      metadata: `rsync -aHAXn --checksum --itemize-changes t1/ out/` prints nothing;
#   2. the same for t1.tar (PAX tar import), compared with t1 itself;
#   3. importing t1 again gives the same root and stores nothing new (`xeno stats`);
#   4. importing t1-upgraded stores only the changed chunks: store growth against the zstd
#      size of the files whose content is new.
#
#   bench/data/check-fidelity.sh            (as root; XENO_DATA defaults to /work/data)
#
# Exit status 0 when every check passes. Uses a fresh store in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${XENO_DATA:-/work/data}
XENO=(node bin/xeno)
WORK=$(mktemp -d /tmp/xeno-fidelity-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
STORE="$WORK/store"
fail=0

say () { echo "check-fidelity: $*"; }
root_of () { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).root))'; }
stored_bytes () { "${XENO[@]}" stats --store "$STORE" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.packBytes ?? j.storedBytes ?? j.bytes ?? JSON.stringify(j))})'; }
same_tree () {  # same_tree SRC OUT LABEL: rsync's itemized differences, which must be none
  local diff
  diff=$(rsync -aHAXn --checksum --itemize-changes "$1/" "$2/")
  if [ -z "$diff" ]; then say "PASS $3: rsync -aHAXn --checksum --itemize-changes prints nothing"
  else say "FAIL $3: rsync reports differences:"; echo "$diff" | head -20; fail=1; fi
}

for t in t1 t1.tar t1-upgraded; do [ -e "$DATA/$t" ] || { say "missing $DATA/$t: run bench/data/make-datasets.sh"; exit 2; }; done

root1=$("${XENO[@]}" template import "$DATA/t1" --store "$STORE" --json | root_of)
say "t1 imported: root $root1"
"${XENO[@]}" export "$root1" "$WORK/out-dir" --store "$STORE" --json > /dev/null
same_tree "$DATA/t1" "$WORK/out-dir" "directory round trip of t1"
rm -rf "$WORK/out-dir"

bytes1=$(stored_bytes)
root_again=$("${XENO[@]}" template import "$DATA/t1" --store "$STORE" --json | root_of)
bytes_again=$(stored_bytes)
if [ "$root_again" = "$root1" ] && [ "$bytes_again" -le "$bytes1" ]; then
  say "PASS re-import of t1: same root, store $bytes1 -> $bytes_again bytes"
else say "FAIL re-import of t1: root $root_again (first $root1), store $bytes1 -> $bytes_again bytes"; fail=1; fi

root_tar=$("${XENO[@]}" template import "$DATA/t1.tar" --store "$STORE" --json | root_of)
say "t1.tar imported: root $root_tar ($( [ "$root_tar" = "$root1" ] && echo 'same as the directory' || echo 'differs from the directory import'))"
"${XENO[@]}" export "$root_tar" "$WORK/out-tar" --store "$STORE" --json > /dev/null
same_tree "$DATA/t1" "$WORK/out-tar" "tar import of t1.tar, exported, against t1"
rm -rf "$WORK/out-tar"

bytes_before=$(stored_bytes)
root_up=$("${XENO[@]}" template import "$DATA/t1-upgraded" --store "$STORE" --json | root_of)
bytes_after=$(stored_bytes)
new_zstd=$(rsync -anHc --out-format='%n' "$DATA/t1-upgraded/" "$DATA/t1/" | while read -r f; do [ -f "$DATA/t1-upgraded/$f" ] && [ ! -L "$DATA/t1-upgraded/$f" ] && printf '%s\0' "$DATA/t1-upgraded/$f"; done | xargs -0 cat | zstd -1 -T1 -c | wc -c)
say "t1-upgraded imported: root $root_up; store grew by $((bytes_after - bytes_before)) bytes; zstd -1 of the files whose content changed: $new_zstd bytes"
"${XENO[@]}" export "$root_up" "$WORK/out-up" --store "$STORE" --json > /dev/null
same_tree "$DATA/t1-upgraded" "$WORK/out-up" "directory round trip of t1-upgraded"

exit $fail
