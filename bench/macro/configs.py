"""The configurations the macro benchmark compares, all reading the same hub cache.

A configuration knows the root its probes read, the environment to run them with, how to make
itself cold (caches emptied) and what its daemon costs (FUSE peers).
"""

import os
import re

from macro.graves import Graves
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
        self.graves = Graves()  # earlier runs' caches, set aside by make_cold

    def env(self):
        env = {"LD_PRELOAD": self.lib, "HFSHIM_STORE": self.store_url,
               "HFSHIM_PREFIX": self.root, "HFSHIM_CACHE_DIR": self.cache}
        env.update(self.extra_env)
        return env

    def make_cold(self):
        # The previous run's cache is set aside, not deleted (macro/graves.py: deleting before a
        # measured run slows it on this machine); close() deletes it.
        self.graves.set_aside(self.cache)
        return drop_page_cache()

    def daemon_usage(self):
        # hfshim runs no daemon; with an s3rver store, the server's cost is counted.
        return self.server.usage() if self.server else (0.0, 0)

    def close(self):
        self.graves.bury()


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
