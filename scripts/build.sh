#!/usr/bin/env bash
# Configures and builds hfshim into ${HFSHIM_BUILD_DIR:-build} and installs it into
# ${HFSHIM_INSTALL_DIR:-build/install} (bin/hfshim-*, lib/libhfshim.so).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${HFSHIM_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"
cmake --install "$build" --prefix "${HFSHIM_INSTALL_DIR:-$build/install}" >/dev/null
