"""The configurations the macro benchmark compares, all reading the same hub cache.

A configuration knows the root its probes read, the environment to run them with, how to make
itself cold (caches emptied) and what its daemon costs (FUSE peers).
"""

import os
import re
import shutil

from macro.servers import drop_page_cache


class Native:
    name = "native"

    def __init__(self, root):
        self.root = root

    def env(self):
        return {}

    def make_cold(self):
        return drop_page_cache()

    def daemon_usage(self):
        return 0.0, 0

    def close(self):
        pass


class Hfshim:
    """The preloaded shim over a store, with a private node cache and an empty prefix dir."""

    def __init__(self, name, lib, store_url, workdir, extra_env=None, server=None):
        self.name = name
        self.lib = lib
        self.store_url = store_url
        safe = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
        self.root = os.path.join(workdir, "prefix-" + safe)
        self.cache = self.root + "-cache"
        os.makedirs(self.root, exist_ok=True)
        self.extra_env = extra_env or {}
        self.server = server  # the store's server process (s3rver), whose cost is counted too
        self.graves = []  # earlier runs' caches, moved aside by make_cold

    def env(self):
        env = {"LD_PRELOAD": self.lib, "HFSHIM_STORE": self.store_url,
               "HFSHIM_PREFIX": self.root, "HFSHIM_CACHE_DIR": self.cache}
        env.update(self.extra_env)
        return env

    def make_cold(self):
        # The previous run's cache is moved aside, not deleted: journal-less ext4 (this
        # machine's /) avoids reusing an inode deleted in the last minutes, so every file
        # created after 20,000 deletions scans past them (fs/ext4/ialloc.c, recently_deleted;
        # perf: 45% of a cold run). A node does not mass-delete its cache before a cold read.
        # Large files are deleted at once (few inodes, much disk); the rest goes in close().
        # lstat: a pack window's link outlives the process that published it (FORMAT.md).
        if os.path.exists(self.cache):
            for d, _, files in os.walk(self.cache):
                for f in files:
                    p = os.path.join(d, f)
                    if os.lstat(p).st_size >= 1 << 20 and not os.path.islink(p):
                        os.unlink(p)
            self.graves.append("%s-old-%d" % (self.cache, len(self.graves)))
            os.rename(self.cache, self.graves[-1])
        return drop_page_cache()

    def daemon_usage(self):
        # hfshim runs no daemon; with an s3rver store, the server's cost is counted.
        return self.server.usage() if self.server else (0.0, 0)

    def close(self):
        for grave in self.graves:
            shutil.rmtree(grave, ignore_errors=True)


class Fuse:
    """A FUSE peer (macro.servers.FuseMount) whose tree is at mount/<subdir>."""

    def __init__(self, mount, subdir="", server=None):
        self.name = mount.name
        self.mount = mount
        self.server = server
        self.root = os.path.join(mount.mnt, subdir) if subdir else mount.mnt

    def env(self):
        return {}

    def make_cold(self):
        self.mount.make_cold()
        return True

    def daemon_usage(self):
        cpu, rss = self.mount.usage()
        if self.server:  # the store server works for this client too
            scpu, srss = self.server.usage()
            cpu, rss = cpu + scpu, rss + srss
        return cpu, rss

    def close(self):
        self.mount.unmount()
