#!/usr/bin/env python3
"""Per-module counts of a mutation run (MUTANTS.md's tables).

    scripts/mutants-summary.py OUT [OUT...]

OUT is a `MUTANTS_OUT` directory of scripts/mutants.sh: pass 1 is read from
OUT/sweeps, pass 2 (the whole suite over pass 1's misses) from OUT/suite.
Prints, per module of core: viable, caught by the sweeps, caught only by
the whole suite, missed by both, unviable; and the median build and test
time of a viable mutant.
"""
import json
import os
import statistics
import sys
from collections import defaultdict


def outcomes(path):
    f = os.path.join(path, "mutants.out", "outcomes.json")
    if not os.path.exists(f):
        return {}
    res = {}
    for o in json.load(open(f))["outcomes"]:
        m = o["scenario"]
        if not isinstance(m, dict):
            continue  # the baseline
        m = m["Mutant"]
        durations = {p["phase"]: p["duration"] for p in o["phase_results"]}
        res[m["name"]] = (m["file"], o["summary"], durations)
    return res


def module(file):
    parts = file.split("/")
    return parts[2] if parts[2].endswith(".rs") else parts[2] + "/"


def main(dirs):
    sweeps, suite = {}, {}
    for d in dirs:
        sweeps.update(outcomes(os.path.join(d, "sweeps")))
        suite.update(outcomes(os.path.join(d, "suite")))
    rows = defaultdict(lambda: defaultdict(int))
    build, test = [], []
    for name, (file, summary, dur) in sweeps.items():
        r = rows[module(file)]
        if summary == "Unviable":
            r["unviable"] += 1
            continue
        r["viable"] += 1
        build.append(dur.get("Build", 0))
        test.append(dur.get("Test", 0))
        if summary in ("CaughtMutant", "Timeout"):
            r["sweeps"] += 1
        elif name in suite and suite[name][1] in ("CaughtMutant", "Timeout"):
            r["suite"] += 1
        elif name in suite:
            r["missed"] += 1
        else:
            r["unjudged"] += 1
    cols = ["viable", "sweeps", "suite", "missed", "unjudged", "unviable"]
    print("| module | viable | caught by the sweeps | caught only by the suite | missed by both | pass 2 not run | unviable |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    total = defaultdict(int)
    for m in sorted(rows):
        print(f"| {m} | " + " | ".join(str(rows[m][c]) for c in cols) + " |")
        for c in cols:
            total[c] += rows[m][c]
    print("| **all** | " + " | ".join(f"**{total[c]}**" for c in cols) + " |")
    v = total["viable"]
    if v:
        print(f"\nsweeps: {total['sweeps']}/{v} = {100 * total['sweeps'] / v:.0f}%;"
              f" whole suite: {total['sweeps'] + total['suite']}/{v} = {100 * (total['sweeps'] + total['suite']) / v:.0f}%"
              f" ({total['unjudged']} not judged by pass 2)")
        print(f"median per viable mutant: build {statistics.median(build):.0f} s, sweeps {statistics.median(test):.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:] or ["mutants.out-run"])
