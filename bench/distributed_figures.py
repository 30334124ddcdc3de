"""Figures of docs/distributed.md section 6: ``python bench/distributed_figures.py [OUT]``.

Runs ``paba train`` (the default MLP of 1,126,410 parameters on digits, K = 20, joint only with
equal as the baseline, 10 iterations) in process and with 2, 3 and 4 processes; a run with a
crash and a hang injected; and a run with link emulation. Prints one Markdown table per figure.
Every run is a subprocess with one intra-op thread per process (OMP_NUM_THREADS=1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

BASE = ["train", "--quiet", "--no-figures", "--schemes", "joint", "--max-iterations", "10",
        "--budget", "1000"]


def run(out: Path, *extra, fault=None):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if fault:
        env["PABA_DISTRIBUTED_FAULT"] = fault
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "paba", *BASE, "--out", str(out), *extra], env=env,
                   check=True, timeout=900)
    wall = time.perf_counter() - started
    return json.loads((out / "summary.json").read_text()), wall


def main(root: Path) -> None:
    rows = []
    for processes in (None, 2, 3, 4):
        extra = [] if processes is None else ["--processes", str(processes)]
        summary, wall = run(root / f"p{processes or 1}", *extra)
        joint = summary["schemes"]["joint"]
        record = summary.get("distributed")
        exchanges = None if record is None else record["exchanges"]["joint"]
        rows.append((processes, wall, joint["wall_seconds"] / joint["iterations"],
                     None if record is None else record["startup_s"],
                     None if exchanges is None else exchanges["mean_exchange_wall_s"],
                     None if exchanges is None else exchanges["mean_bytes_sent"],
                     None if exchanges is None else exchanges["mean_bytes_received"]))
    print("| processes | command wall (s) | training wall per iteration (ms) | group up after "
          "(s) | exchange per iteration (ms) | bytes sent | bytes received |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for p, wall, per, startup, exchange, sent, received in rows:
        print(f"| {'in process' if p is None else p} | {wall:.1f} | {1e3 * per:.0f} | "
              f"{'' if startup is None else f'{startup:.1f}'} | "
              f"{'' if exchange is None else f'{1e3 * exchange:.0f}'} | "
              f"{'' if sent is None else f'{sent:,.0f}'} | "
              f"{'' if received is None else f'{received:,.0f}'} |")
    summary, _ = run(root / "faults", "--processes", "4", "--deadline", "2",
                     fault="kill:1:3,stop:2:6")
    print("\n| rank | iteration | reason | detected after (s) |\n| --- | --- | --- | --- |")
    for d in summary["distributed"]["departures"]:
        print(f"| {d['rank']} | {d['iteration']} | {d['reason']} | {d['detected_after_s']:.3f} |")
    scale = 0.5
    summary, _ = run(root / "links", "--processes", "3", "--emulate-links", str(scale))
    print(f"\nlink emulation, scale {scale:g}\n\n| iteration | modelled x scale (s) | links x "
          "scale (s) | measured (s) |\n| --- | --- | --- | --- |")
    for row in summary["distributed"]["exchanges"]["joint"]["iterations"]:
        print(f"| {row['iteration']} | {row['modelled_latency_s'] * scale:.3f} | "
              f"{row['modelled_links_s'] * scale:.3f} | {row['wall_s']:.3f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "paba-distributed-figures"))
