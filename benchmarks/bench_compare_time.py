"""Wall time of a default ``relukit compare`` run (issue #14: ≤ 90 s on 2 cores).

Runs ``python -m relukit compare [ARGS]`` in a subprocess, as a user would, into a temporary
folder, and records the wall time, the run's own timing, the CPUs it could use and the load
average before and after (the machine may be shared: a load above the CPU count means the run
competed for them), and the CPU time of the run and its workers (on idle cores the wall time
is about CPU time / workers, plus start-up). Writes ``benchmarks/results/compare_time.json``
and the run's terminal table to ``benchmarks/results/compare_default.txt``.

Run: ``python benchmarks/bench_compare_time.py [extra compare args]``
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def main(extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as out:
        load_before = os.getloadavg()
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "relukit", "compare", "--out", out, *extra],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
            check=True,
        )
        wall = time.perf_counter() - start
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
            cpu_after.ru_stime - cpu_before.ru_stime
        )
        (folder,) = Path(out).iterdir()
        data = json.loads((folder / "results.json").read_text())
    result = {
        "args": extra,
        "wall_seconds": wall,
        "cpu_seconds": cpu,  # the run and its workers, user + system
        "compare_seconds": data["timing"]["seconds"],
        "workers": data["settings"]["workers"],
        "cpus_usable": data["environment"]["cpus_usable"],
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "environment": data["environment"],
    }
    RESULTS.mkdir(exist_ok=True)
    name = "compare_time" + ("_" + "_".join(a.strip("-") for a in extra) if extra else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    table = proc.stdout.rsplit("\nreport: ", 1)[0]
    if not extra:
        (RESULTS / "compare_default.txt").write_text(table + "\n")
    print(table)
    print(
        f"\nwall time {wall:.1f} s, CPU time {cpu:.1f} s "
        f"(load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f})"
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
