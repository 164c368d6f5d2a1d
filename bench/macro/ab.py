"""Set-up shared by the A/B scripts (cold_ab.py, warm_ab.py): one dataset, pushed once per build.

Each build is a `cmake --install` prefix; each gets its own store (file:// by default, or a prefix
of one s3rver bucket), pushed with that build's own hfshim-push, so builds that lay out packs or
the index differently each read their own.
"""

import os
import subprocess

from macro import dataset, servers


def make_dataset(work, files, first=0):
    """The hub cache under `work` (generated once) and a manifest of its first `first` files (all
    when 0) in path order; returns (hub, manifest)."""
    hub = os.path.join(work, "hub")
    if not os.path.exists(hub):
        dataset.make_hub_cache(hub, files=files, model_mb=1)
    base = os.path.join(dataset.DATASET_REPO, "snapshots", dataset.REV_DATASET, "train")
    manifest = os.path.join(work, "manifest.txt")
    with open(manifest, "w") as f:
        for i in range(first or files):
            f.write(os.path.join(base, "%03d/%06d.jpg" % (i // 1000, i)) + "\n")
    return hub, manifest


def push_each(installs, hub, work, env, s3=None):
    """Pushes `hub` with every build into a store of its own; returns the store URLs."""
    stores = []
    for k, install in enumerate(installs):
        url = ("s3://%s/build%d" % (servers.BUCKET, k) if s3
               else "file://" + os.path.join(work, "store%d" % k))
        subprocess.check_call([os.path.join(install, "bin", "hfshim-push"), "--store", url, hub],
                              env=env, stdout=subprocess.DEVNULL)
        stores.append(url)
    return stores


def shim_env(env, install, store, cache, prefix):
    """`env` plus what runs a process under `install`'s library over `store`."""
    e = dict(env)
    e.update({"HFSHIM_STORE": store, "HFSHIM_CACHE_DIR": cache, "HFSHIM_PREFIX": prefix,
              "LD_PRELOAD": os.path.join(install, "lib", "libhfshim.so")})
    return e
