#!/usr/bin/env bash
# The README's first command: set up (Debian packages, npm dependencies, build), then run the
# end-to-end demo: import a template, push an overlay, deploy it, read it over NFS.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/scripts/demo.js
