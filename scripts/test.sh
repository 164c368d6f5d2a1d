#!/usr/bin/env bash
# Runs every test: installs dependencies, builds, then ctest (unit and integration tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd "${HFSHIM_BUILD_DIR:-build}"
ctest --output-on-failure -j 2 --timeout 900
