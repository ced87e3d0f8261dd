#!/usr/bin/env python3
"""Ratio table from criterion's saved estimates.

Usage: benches/report.py CRITERION_DIR [CRITERION_DIR ...]

Each CRITERION_DIR is the `criterion/` folder of one `cargo bench` run (under
$CARGO_TARGET_DIR, copied aside between runs). Within a group, every bench whose id
starts with `ref_` is a physical reference doing the same work per iteration as the
others, so `ratio = median(ref) / median(bench)` is the bench's throughput as a fraction
of the reference's, computed per run. The table gives the median over runs of each
median and each ratio, and the ratio's spread (min-max over runs).
"""

import json
import pathlib
import statistics
import sys


def load(run_dir):
    """{(group, bench): (median_ns, throughput)} for one run."""
    out = {}
    for meta in pathlib.Path(run_dir).glob("*/**/new/benchmark.json"):
        info = json.loads(meta.read_text())
        est = json.loads((meta.parent / "estimates.json").read_text())
        out[(info["group_id"], info["full_id"][len(info["group_id"]) + 1:])] = (
            est["median"]["point_estimate"],
            info.get("throughput"),
        )
    return out


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_rate(ns, throughput):
    if not throughput:
        return ""
    kind, amount = next(iter(throughput.items()))
    parts = []
    if kind in ("Elements", "ElementsAndBytes"):
        elements = amount["elements"] if kind == "ElementsAndBytes" else amount
        parts.append(f"{elements / ns * 1e3:.4g} M/s")
    if kind in ("Bytes", "ElementsAndBytes"):
        size = amount["bytes"] if kind == "ElementsAndBytes" else amount
        parts.append(f"{size / ns:.3g} GB/s")
    return ", ".join(parts)


def main(dirs):
    runs = [load(d) for d in dirs]
    keys = sorted(set().union(*runs))
    groups = {}
    for group, bench in keys:
        groups.setdefault(group, []).append(bench)
    print("| group | bench | median | throughput | vs reference | ratio (median) | ratio spread |")
    print("|---|---|---:|---:|---|---:|---|")
    for group, benches in groups.items():
        refs = [b for b in benches if b.startswith("ref_")]
        for bench in benches:
            times = [r[(group, bench)][0] for r in runs if (group, bench) in r]
            throughput = next(r[(group, bench)][1] for r in runs if (group, bench) in r)
            t = statistics.median(times)
            row = f"| {group} | {bench} | {fmt_time(t)} | {fmt_rate(t, throughput)} |"
            if bench.startswith("ref_") or not refs:
                print(row + " | | |")
                continue
            for ref in refs:
                ratios = [
                    r[(group, ref)][0] / r[(group, bench)][0]
                    for r in runs
                    if (group, ref) in r and (group, bench) in r
                ]
                print(
                    f"{row} {ref} | {statistics.median(ratios):.3f} |"
                    f" {min(ratios):.3f}–{max(ratios):.3f} |"
                )
                row = "| | | | |"


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
