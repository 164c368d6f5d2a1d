#!/usr/bin/env bash
# The main job on the embedded default store: install, build, generate an image dataset and a
# model in hub-cache layout, push them into the default file:// store, then train under
# LD_PRELOAD=libhfshim.so against an EMPTY hub cache directory.
#
# Everything lives under build/demo: XDG_DATA_HOME and XDG_CACHE_HOME point there, so the
# default store (file://$XDG_DATA_HOME/hfshim/store), node cache ($XDG_CACHE_HOME/hfshim) and
# hub cache ($XDG_CACHE_HOME/huggingface/hub) are the real defaults, resolved as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
root=$PWD
install=${HFSHIM_INSTALL_DIR:-$root/build/install}
demo=$root/build/demo
rm -rf "$demo"
mkdir -p "$demo"
export XDG_DATA_HOME=$demo/data XDG_CACHE_HOME=$demo/cache
unset HF_HOME HF_HUB_CACHE HUGGINGFACE_HUB_CACHE HFSHIM_STORE HFSHIM_PREFIX HFSHIM_CACHE_DIR
PY=/usr/bin/python3
hub=$XDG_CACHE_HOME/huggingface/hub

echo "== generating the dataset and the model in $demo/source"
$PY examples/gen_dataset.py "$demo/source" --images 3000

echo "== hfshim-push into the embedded default store"
"$install/bin/hfshim-push" "$demo/source"
"$install/bin/hfshim-ls"

mkdir -p "$hub"
echo "== without the shim, the empty hub cache $hub has no data:"
if $PY examples/train.py --epochs 1 2>"$demo/noshim.err"; then
  echo "demo: train.py found data without the shim; the hub cache was not empty" >&2
  exit 1
fi
cat "$demo/noshim.err"

echo "== with LD_PRELOAD=$install/lib/libhfshim.so:"
LD_PRELOAD=$install/lib/libhfshim.so $PY examples/train.py
echo "== node cache after the run: $(du -sh "$XDG_CACHE_HOME/hfshim" | cut -f1); store: $(du -sh "$XDG_DATA_HOME/hfshim/store" | cut -f1)"
echo "demo: OK"
