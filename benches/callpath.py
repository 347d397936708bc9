#!/usr/bin/env python3
"""Splits each call of a sequential request loop (`bench_embed`, `kube_rs_peer
version-loop`) into the client's part and the wait, from the loop's own system calls:

- "wait": from the request's `writev` to the `recvfrom` that reads the response (the
  server's time, the loopback, and waking both processes);
- "client": from that `recvfrom` to the next request's `writev` (everything the client does
  between two requests: reading the response, finishing the call, starting the next one,
  sending its request).

    benches/callpath.py ROUNDS "LABEL=COMMAND" ...

Each command runs ROUNDS times, in turn with the others, under `perf record -e
raw_syscalls:sys_enter -e raw_syscalls:sys_exit` (needs `perf` and permission to trace).
For each run it prints the 10th percentile, median and mean of the two parts and of the
whole period, in microseconds, over the last 3,000 calls of the busiest thread; at the end,
the medians of those figures across rounds. Tracing adds about a microsecond per system
call, alike for every command. It assumes what both loops do: one connection, one
`writev` per request and the response read by `recvfrom`.
"""
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile

WRITEV, RECVFROM = 20, 45  # x86-64 system call numbers
EVENT = re.compile(
    r"\s*(\d+)\s+([\d.]+):\s+raw_syscalls:sys_(enter|exit): NR (\d+)(?: = (-?\d+))?"
)
LAST_CALLS = 3000


def parts(script: str) -> dict:
    """The per-call intervals of the busiest thread in `perf script` output."""
    events, per_thread = [], {}
    for line in script.splitlines():
        m = EVENT.match(line)
        if not m:
            continue
        tid, time, kind, nr, ret = m.groups()
        per_thread[tid] = per_thread.get(tid, 0) + 1
        events.append((tid, float(time) * 1e6, kind, int(nr), int(ret) if ret else None))
    if not per_thread:
        sys.exit("no system calls were traced: is perf allowed to trace (root)?")
    main = max(per_thread, key=per_thread.get)
    calls, sent = [], None  # calls: (request out, response in)
    for tid, time, kind, nr, ret in events:
        if tid != main:
            continue
        if nr == WRITEV and kind == "enter" and sent is None:
            sent = time
        elif nr == RECVFROM and kind == "exit" and ret and ret > 0 and sent is not None:
            calls.append((sent, time))
            sent = None
    calls = calls[-LAST_CALLS:]
    if len(calls) < 100:
        sys.exit(f"only {len(calls)} request/response pairs were seen")
    return {
        "wait": [got - out for out, got in calls],
        "client": [calls[i + 1][0] - calls[i][1] for i in range(len(calls) - 1)],
        "period": [calls[i + 1][0] - calls[i][0] for i in range(len(calls) - 1)],
    }


def summary(values: list) -> dict:
    values = sorted(values)
    return {
        "p10": values[len(values) // 10],
        "median": statistics.median(values),
        "mean": statistics.mean(values),
    }


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    commands = [spec.split("=", 1) for spec in sys.argv[2:]]
    results = {label: [] for label, _ in commands}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        for _ in range(rounds):
            for label, command in commands:
                subprocess.run(
                    ["perf", "record", "-q", "-o", data, "-e", "raw_syscalls:sys_enter",
                     "-e", "raw_syscalls:sys_exit", "--", *shlex.split(command)],
                    check=True, stdout=subprocess.DEVNULL,
                )
                script = subprocess.run(
                    ["perf", "script", "-i", data, "-F", "tid,time,event,trace"],
                    check=True, capture_output=True, text=True,
                ).stdout
                run = {part: summary(v) for part, v in parts(script).items()}
                results[label].append(run)
                print(label + ": " + "; ".join(
                    f"{part} p10 {s['p10']:.0f} median {s['median']:.0f} mean {s['mean']:.0f}"
                    for part, s in run.items()), flush=True)
    print(f"medians over {rounds} rounds (µs):")
    for label, runs in results.items():
        print(f"  {label}: " + "; ".join(
            f"{part} p10 {statistics.median(r[part]['p10'] for r in runs):.0f}"
            f" median {statistics.median(r[part]['median'] for r in runs):.0f}"
            for part in ("wait", "client", "period")))


if __name__ == "__main__":
    main()
