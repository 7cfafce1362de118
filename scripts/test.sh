#!/usr/bin/env bash
# The test command of the README and of CI: set up, build, run every test file.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/run-tests.mjs "$@"
