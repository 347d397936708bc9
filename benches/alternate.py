#!/usr/bin/env python3
"""Runs each command in turn, N rounds, and prints each one's wall-time median, mean and
p10/p90: for comparing two builds whose difference is smaller than the drift of the
machine across a hyperfine run (the rounds alternate, so drift hits all alike).

    benches/alternate.py 300 "env KUBEWASM_CACHE_DIR=/tmp/a old/host run ..." \\
        "env KUBEWASM_CACHE_DIR=/tmp/b new/host run ..."

Commands are split as a shell would (shlex), run without a shell, output discarded; a
failing command stops the script.
"""
import shlex
import statistics
import subprocess
import sys
import time


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    commands = sys.argv[2:]
    times = {command: [] for command in commands}
    for _ in range(rounds):
        for command in commands:
            started = time.perf_counter()
            subprocess.run(shlex.split(command), stdout=subprocess.DEVNULL, check=True)
            times[command].append((time.perf_counter() - started) * 1000)
    for command, ms in times.items():
        ms.sort()
        print(
            f"median {statistics.median(ms):.2f} ms, mean {statistics.mean(ms):.2f}, "
            f"p10 {ms[len(ms) // 10]:.2f}, p90 {ms[9 * len(ms) // 10]:.2f}: {command}"
        )


if __name__ == "__main__":
    main()
