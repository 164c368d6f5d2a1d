#!/usr/bin/env python3
"""Macro comparison: hfshim against native disk, FUSE peers and the raw store, in one run.

  /usr/bin/python3 bench/compare.py [--files 20000] [--model-mb 1024] [--repeat 3] [--json OUT]
                                   [--no-s3] [--no-fuse] [--only read_small,raw_read,...]

Generates a seeded hub cache (bench/macro/dataset.py), pushes it into a file:// store and, when
s3rver is installed (scripts/setup.sh), into an s3rver bucket on loopback; mounts rclone and s3fs
over the same bucket when installed (apt-get install rclone s3fs fuse3); then runs every probe
cold and warm in every configuration, median of --repeat runs with the spread, and prints
files/s, MB/s, stat/s, ratios to native and to the best FUSE peer, CPU seconds and peak RSS.
Cold means: the configuration's own cache deleted (hfshim node cache, FUSE cache dir after an
unmount) and the kernel page cache dropped (echo 3 > /proc/sys/vm/drop_caches); the table says if
dropping was not permitted.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from macro import dataset, servers  # noqa: E402
from macro.configs import Fuse, Hfshim, Native  # noqa: E402
from macro.graves import Graves  # noqa: E402

PYTHON = "/usr/bin/python3"
PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "macro", "probe.py")
# (probe, manifest, threads, unit of the headline rate)
PROBES = [
    ("read_small", "small", 1, "files/s"),
    ("read_small", "small", 4, "files/s"),
    ("read_dir", "dir", 1, "files/s"),
    ("stat", "small", 1, "stat/s"),
    ("walk", "small", 1, "entries/s"),
    ("seq_read", "model", 1, "MB/s"),
    ("mmap", "model", 1, "MB/s"),
    ("dataloader", "small", 1, "files/s"),
]


def run_probe(config, probe, manifest, threads):
    env = dict(os.environ)
    env.update(config.env())
    cmd = [PYTHON, PROBE, probe, config.root, manifest, str(threads)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    if status != 0 or b"Traceback" in err:
        raise RuntimeError("%s %s failed in %s: %s" % (probe, threads, config.name, err.decode()))
    result = json.loads(out)
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return result


def rate(result, unit):
    if unit == "MB/s":
        return result["bytes"] / 1e6 / result["seconds"]
    return result["items"] / result["seconds"]


def measure(configs, manifests, repeat, dropped, wanted):
    """Every probe cold and warm in every configuration. Repetitions are interleaved across
    configurations (each once, then each again, ...): on this machine the same run varies by
    10-20% from one minute to the next, so a ratio compares runs made at the same time."""
    rows = []
    for probe, which, threads, unit in PROBES:
        if not wanted(probe):
            continue
        for temp in ("cold", "warm"):
            runs = {config.name: [] for config in configs}
            failed = set()
            if temp == "warm":
                for config in configs:  # fill every cache
                    try:
                        run_probe(config, probe, manifests[which], threads)
                    except RuntimeError:
                        pass  # reported by the measured runs below
            for _ in range(repeat):
                for config in configs:
                    if config.name in failed:
                        continue
                    try:
                        if temp == "cold":
                            dropped[0] &= config.make_cold()
                        cpu0, _ = config.daemon_usage()
                        r = run_probe(config, probe, manifests[which], threads)
                        cpu1, rss = config.daemon_usage()
                        r["daemon_cpu_seconds"], r["daemon_peak_rss"] = cpu1 - cpu0, rss
                        runs[config.name].append(r)
                    except RuntimeError as e:  # a peer that cannot do this probe: say so, go on
                        print("  %s: %s" % (config.name, str(e).strip()[-300:]), file=sys.stderr)
                        failed.add(config.name)
            for config in configs:
                done = runs[config.name]
                if config.name in failed or not done:
                    continue
                rates = [rate(r, unit) for r in done]
                rows.append({
                    "probe": probe, "threads": threads, "temp": temp, "config": config.name,
                    "unit": unit, "median": statistics.median(rates), "min": min(rates),
                    "max": max(rates), "cpu_seconds": statistics.median(
                        r["cpu_seconds"] + r["daemon_cpu_seconds"] for r in done),
                    "peak_rss_mb": max(r["peak_rss"] for r in done) / 2**20,
                    "daemon_rss_mb": max(r["daemon_peak_rss"] for r in done) / 2**20,
                    "runs": done})
                print("  %-10s t=%d %-4s %-16s %12.1f %s" % (probe, threads, temp, config.name,
                                                           rows[-1]["median"], unit),
                      file=sys.stderr, flush=True)
    return rows


def measure_warm_and_raw(configs, args, work, file_store, dropped, wanted):
    """hfshim-warm of both repos into an empty node cache, and the raw store ceiling.

    Repetitions are interleaved (every row once, then every row again, ...), so a ratio between
    two rows compares runs made at the same time on this noisy machine, not minutes apart.
    """
    from macro import raw
    downloads = Graves()  # the raw downloads to files, deleted once all rows are measured
    jobs = []  # (probe, label, config name, function returning MB/s or None on failure)
    warm_bin = os.path.join(args.install, "bin", "hfshim-warm")

    def warm(config, target):
        dropped[0] &= config.make_cold()
        env = dict(os.environ)
        env.update(config.env())
        env.pop("LD_PRELOAD")
        t0 = time.perf_counter()
        out = subprocess.run([warm_bin] + target + ["--json"], env=env,
                             capture_output=True, text=True)
        secs = time.perf_counter() - t0
        if out.returncode != 0:
            print("  hfshim-warm failed in %s: %s" % (config.name, out.stderr[-300:]),
                  file=sys.stderr)
            return None
        return json.loads(out.stdout)["bytes"] / 1e6 / secs

    model_repo = dataset.MODEL_REPO[len("models--"):].replace("--", "/", 1)
    for config in configs:
        if not isinstance(config, Hfshim):
            continue
        # Everything, then the model repo alone (a large object: against the raw ranged GETs
        # of the data objects alone).
        for label, target in (("hfshim-warm", ["--all"]), ("warm_model", [model_repo])):
            if wanted(label):
                jobs.append((label, config.name,
                             lambda c=config, t=target: warm(c, t)))
    stores = [("raw file:// store", lambda sub: raw.read_file_store(file_store, sub))]
    s3 = getattr(args, "s3", None)
    if s3 is not None:
        for label, chunk, to_dir in (
                ("raw s3rver GETs", raw.CHUNK, None),
                ("raw s3rver 8M GETs", raw.AWS_CLI_CHUNK, None),
                ("raw s3rver to file", raw.CHUNK, os.path.join(work, "raw-downloads"))):
            stores.append((label, lambda sub, c=chunk, d=to_dir: raw.read_s3_store(
                s3, servers.BUCKET, "hub", os.path.join(work, "s3rver-data"), sub, c, d,
                downloads)))

    def raw_rate(fn, subdirs):
        dropped[0] &= servers.drop_page_cache()
        r = fn(subdirs)
        return r["bytes"] / 1e6 / r["seconds"]

    # raw_large: the data objects (large files) alone, as parallel ranged GETs.
    for probe, subdirs in (("raw_read", ("packs", "data")), ("raw_large", ("data",))):
        if wanted(probe):
            for name, fn in stores:
                jobs.append((probe, name, lambda f=fn, d=subdirs: raw_rate(f, d)))
    runs = {i: [] for i in range(len(jobs))}
    try:
        for _ in range(args.repeat):
            for i, (_, _, fn) in enumerate(jobs):
                r = fn()
                if r is not None:
                    runs[i].append(r)
    finally:
        downloads.bury()
    return [_row(label, 8, "cold", name, "MB/s", runs[i])
            for i, (label, name, _) in enumerate(jobs) if runs[i]]


def _row(probe, threads, temp, config, unit, rates):
    return {"probe": probe, "threads": threads, "temp": temp, "config": config, "unit": unit,
            "median": statistics.median(rates), "min": min(rates), "max": max(rates),
            "cpu_seconds": 0.0, "peak_rss_mb": 0.0, "daemon_rss_mb": 0.0, "runs": rates}


def print_table(rows, fuse_names):
    print("%-12s %-2s %-4s %-18s %12s %-9s %15s %9s %9s %7s %8s" % (
        "probe", "t", "temp", "config", "median", "unit", "spread", "x native", "x FUSE",
        "cpu s", "rss MB"))
    for row in rows:
        same = [r for r in rows if (r["probe"], r["threads"], r["temp"]) ==
                (row["probe"], row["threads"], row["temp"])]
        native = next((r["median"] for r in same if r["config"] == "native"), None)
        fuse = max((r["median"] for r in same if r["config"] in fuse_names), default=None)
        rss = max(row["peak_rss_mb"], row["daemon_rss_mb"])
        print("%-12s %-2d %-4s %-18s %12.1f %-9s %7.0f-%-7.0f %9s %9s %7.2f %8.0f" % (
            row["probe"], row["threads"], row["temp"], row["config"], row["median"], row["unit"],
            row["min"], row["max"],
            "%.2f" % (row["median"] / native) if native else "-",
            "%.2f" % (row["median"] / fuse) if fuse else "-", row["cpu_seconds"], rss))


def push(install, src, store_url, env=None):
    e = dict(os.environ)
    e.update(env or {})
    t0 = time.perf_counter()
    subprocess.check_call([os.path.join(install, "bin", "hfshim-push"), "--store", store_url,
                           src], env=e, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--model-mb", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--install", default=os.path.join(servers.REPO, "build", "install"))
    ap.add_argument("--workdir", help="keep data here (default: a temp dir, removed)")
    ap.add_argument("--no-s3", action="store_true", help="skip s3rver and the FUSE peers")
    ap.add_argument("--json", help="write the raw numbers here")
    ap.add_argument("--no-fuse", action="store_true", help="skip the FUSE peers")
    ap.add_argument("--only", default="",
                    help="comma-separated rows to run (probe names, hfshim-warm, warm_model, "
                         "raw_read, raw_large); default: all")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))

    def wanted(row):
        return not only or row in only


    lib = os.path.join(args.install, "lib", "libhfshim.so")
    if not os.path.exists(lib):
        sys.exit("compare.py: %s is missing; run bash scripts/build.sh first" % lib)
    work = args.workdir or tempfile.mkdtemp(prefix="hfshim-bench-")
    cleanup = []
    try:
        src = os.path.join(work, "hub")
        if not os.path.exists(src):
            print("generating %d files + %d MiB model ..." % (args.files, args.model_mb),
                  file=sys.stderr)
            info = dataset.make_hub_cache(src, args.files, args.model_mb)
        else:
            info = json.load(open(os.path.join(work, "info.json")))
        json.dump(info, open(os.path.join(work, "info.json"), "w"))
        manifests = {"small": os.path.join(work, "small.txt"),
                     "dir": os.path.join(work, "dir.txt"),
                     "model": os.path.join(work, "model.txt")}
        snap = info["dataset_snapshot"]
        small = ["%s/train/%s/%s" % (snap, name, leaf)
                 for name in sorted(os.listdir(os.path.join(src, snap, "train")))
                 for leaf in sorted(os.listdir(os.path.join(src, snap, "train", name)))]
        with open(manifests["small"], "w") as f:
            f.writelines(p + "\n" for p in small)
        with open(manifests["dir"], "w") as f:  # the first tenth of the dataset, in path order
            f.writelines(p + "\n" for p in small[:max(1, len(small) // 10)])
        with open(manifests["model"], "w") as f:
            f.write(info["model_file"] + "\n")

        configs = [Native(src)]
        fuse_names = set()
        store = os.path.join(work, "store-file")
        shutil.rmtree(store, ignore_errors=True)
        push_seconds = {"file": push(args.install, src, "file://" + store)}
        configs.append(Hfshim("hfshim file://", lib, "file://" + store, work))
        cleanup.append(configs[-1].close)
        from macro.peers import add_local_fuse_peer
        for peer in [] if args.no_fuse else add_local_fuse_peer(src, work):
            cleanup.append(peer.close)
            configs.append(peer)
            fuse_names.add(peer.name)
        if not args.no_s3:
            try:
                s3 = servers.S3rver(work)
                cleanup.append(s3.stop)
                args.s3 = s3
                push_seconds["s3rver"] = push(args.install, src, "s3://%s/hub" % servers.BUCKET,
                                              s3.env())
                configs.append(Hfshim("hfshim s3rver", lib, "s3://%s/hub" % servers.BUCKET,
                                      work, s3.env(), server=s3))
                cleanup.append(configs[-1].close)
                from macro.peers import add_fuse_peers
                for peer in [] if args.no_fuse else add_fuse_peers(s3, src, work):
                    cleanup.append(peer.close)
                    configs.append(peer)
                    fuse_names.add(peer.name)
            except Exception as e:  # report and continue with what runs
                print("compare.py: S3 configurations skipped: %s" % e, file=sys.stderr)

        dropped = [True]
        rows = measure(configs, manifests, args.repeat, dropped, wanted)
        rows += measure_warm_and_raw(configs, args, work, store, dropped, wanted)
        print("hfshim macro benchmark: %d small files (%.0f MB), model %d MiB, %d cores, "
              "median of %d" % (info["small_files"], info["small_bytes"] / 1e6, args.model_mb,
                                os.cpu_count(), args.repeat))
        print("cold = caches emptied (set aside, deleted after the run)%s" % (
            " + page cache dropped" if dropped[0]
            else " (dropping the page cache was NOT permitted)"))
        print("push seconds: %s" % push_seconds)
        print_table(rows, fuse_names)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"info": info, "push_seconds": push_seconds, "rows": rows}, f, indent=1)
    finally:
        for stop in reversed(cleanup):
            try:
                stop()
            except Exception:
                pass
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
