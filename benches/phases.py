#!/usr/bin/env python3
"""Where a warm `host run GUEST version` spends its time: runs it N times with
KUBEWASM_LOG=debug and prints, for each step the host logs, the median time from the
moment the process was started (including Python's fork and exec, about half a
millisecond). Logging itself adds a little to every step.

    benches/phases.py HOST KUBECONFIG GUEST [N]

Run it with a warm, settled cache (KUBEWASM_CACHE_DIR): a run, two seconds, a run.
"""
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime

# The host's debug lines, and hyper's and h2's for the connection. Where the process may
# use a second CPU, the engine is made and the guest loaded there ("engine created",
# "component loaded") while the session reads the credential and connects; on one CPU,
# the session makes the engine ("making the engine") and `host run` then loads the guest.
STEPS = [
    ("opening the session", "opening the session"),
    ("connecting to", "TCP connect started (early connection)"),
    ("connected to", "TCP connected"),
    ("making the engine", "engine creation starts (one CPU)"),
    ("engine created", "Engine::new done"),
    ("component loaded", "component loaded"),
    ("waiting for the engine", "the session waits for the engine and guest (two CPUs)"),
    ("engine made", "engine made (and the guest loaded, on two CPUs)"),
    ("session open", "session open (credential read, engine ready)"),
    ("guest loaded", "the guest's imports resolved, about to run it"),
    ("binding client connection", "first request takes the connection"),
    ("guest finished", "guest finished"),
]
LOG = "kubewasm_host=debug,hyper_util::client::legacy::connect::http=debug,h2::client=debug"


def main() -> None:
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    host, kubeconfig, guest = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    env = dict(os.environ, KUBEWASM_LOG=LOG, NO_COLOR="1")
    seen = {marker: [] for marker, _ in STEPS}
    ended = []
    for _ in range(runs):
        started = time.time()
        out = subprocess.run(
            [host, "run", "--kubeconfig", kubeconfig, guest, "version"],
            env=env, capture_output=True, text=True, check=True,
        )
        ended.append((time.time() - started) * 1000)
        lines = re.sub(r"\x1b\[[0-9;]*m", "", out.stderr).splitlines()
        for marker, _ in STEPS:
            for line in lines:
                if marker in line:
                    at = datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))
                    seen[marker].append((at.timestamp() - started) * 1000)
                    break
    for marker, what in STEPS:
        if seen[marker]:
            print(f"{statistics.median(seen[marker]):6.2f} ms  {what}")
    print(f"{statistics.median(ended):6.2f} ms  process ended")


if __name__ == "__main__":
    main()
