#!/usr/bin/env python3
"""Runs each command in turn, N rounds, and prints each one's wall-time median, mean and
p10/p90, and its median CPU time (user + system, of the process and its threads): for
comparing two builds whose difference is smaller than the drift of the machine across a
hyperfine run (the rounds alternate, so drift hits all alike).

    benches/alternate.py 300 "env KUBEWASM_CACHE_DIR=/tmp/a old/host run ..." \\
        "env KUBEWASM_CACHE_DIR=/tmp/b new/host run ..."

Compare copies of the binaries made at the same time (cp), not the files the linker
wrote: on this machine the same bytes ran 10% slower from the linker's file than from a
fresh copy, and a copy made 20 minutes earlier was slower than a new one (BENCHMARKS.md
(e)).

Commands are split as a shell would (shlex), run without a shell, output discarded; a
failing command stops the script.
"""
import os
import shlex
import shutil
import statistics
import sys
import time


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    commands = sys.argv[2:]
    wall = {command: [] for command in commands}
    cpu = {command: [] for command in commands}
    devnull = os.open(os.devnull, os.O_WRONLY)
    for _ in range(rounds):
        for command in commands:
            argv = shlex.split(command)
            program = shutil.which(argv[0]) or argv[0]
            started = time.perf_counter()
            pid = os.posix_spawn(
                program,
                argv,
                os.environ,
                file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)],
            )
            _, status, usage = os.wait4(pid, 0)
            wall[command].append((time.perf_counter() - started) * 1000)
            cpu[command].append((usage.ru_utime + usage.ru_stime) * 1000)
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(f"failed ({os.waitstatus_to_exitcode(status)}): {command}")
    for command in commands:
        ms = sorted(wall[command])
        print(
            f"median {statistics.median(ms):.2f} ms, mean {statistics.mean(ms):.2f}, "
            f"p10 {ms[len(ms) // 10]:.2f}, p90 {ms[9 * len(ms) // 10]:.2f}, "
            f"CPU median {statistics.median(cpu[command]):.2f} ms: {command}"
        )


if __name__ == "__main__":
    main()
