#!/usr/bin/env python3
"""Runs commands that print a rate (`... N/s ...`, as bench_embed and `kube_rs_peer
version-loop` do) in turn, N rounds, and prints each one's median, lowest and highest
rate: the rounds alternate, so the machine's drift hits all alike.

    benches/rates.py 12 "bench_embed GUEST KUBECONFIG 2000" \\
        "kube_rs_peer KUBECONFIG version-loop default 2000"

Commands are split as a shell would (shlex) and run without a shell; a failing command,
or one that prints no rate, stops the script.
"""
import re
import shlex
import statistics
import subprocess
import sys

RATE = re.compile(r"(\d+)/s")


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    commands = sys.argv[2:]
    rates = {command: [] for command in commands}
    for _ in range(rounds):
        for command in commands:
            out = subprocess.run(
                shlex.split(command), capture_output=True, text=True, check=True
            ).stdout
            found = RATE.search(out)
            if not found:
                sys.exit(f"no rate (N/s) in the output of {command!r}: {out!r}")
            rates[command].append(int(found.group(1)))
    for command, seen in rates.items():
        print(
            f"median {statistics.median(seen):.0f}/s, lowest {min(seen)}/s, "
            f"highest {max(seen)}/s: {command}"
        )


if __name__ == "__main__":
    main()
