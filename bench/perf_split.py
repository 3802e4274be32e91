#!/usr/bin/env python3
"""Where a server's CPU went, from `perf script -F tid,ip,sym,dso` output
(perf record -g) on stdin: one line per share of the samples.

  ours      Switchboard's own code (the switchboard binary)
  libc      the C library (malloc, memcpy, string functions)
  libs      other libraries (jansson, SQLite, libcrypto, ...)
  syscalls  the kernel working for a system call, receive work excluded
  softirq   network receive processing run in softirq context: on loopback
            (or a veth pair without RPS) the peer's TCP receive work is done
            by the sender and billed to it
  kernel    the rest of the kernel (page faults, scheduling, interrupts)

Each is also split by the system call that led there (writev, read, ...).
Used by bench/storm.sh with BENCH_STORM_PERF=1. Prints JSON with --json."""
import collections
import json
import re
import sys

KINDS = ("ours", "libc", "libs", "syscalls", "softirq", "kernel")


FRAME = re.compile(r"\s+[0-9a-f]+ .*\(.*\)$")


def samples(stream):
    frames = []
    started = False
    for line in stream:
        if not line.strip():
            if started:
                yield frames
            frames, started = [], False
            continue
        if not FRAME.match(line):  # a sample's header line
            if started:
                yield frames
            frames, started = [], True
            continue
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            m = re.match(r"(.*?)(?:\+0x[0-9a-f]+)?\s+\((.*)\)$", parts[1])
            frames.append((m.group(1), m.group(2)) if m else (parts[1], ""))
    if started:
        yield frames


def classify(frames):
    """(kind, system call or '') of one sample, leaf first."""
    if not frames:
        return "kernel", ""
    sym, dso = frames[0]
    if "kernel" not in dso:
        base = dso.rsplit("/", 1)[-1]
        if base.startswith("switchboard"):
            return "ours", ""
        return ("libc" if base.startswith("libc.") else "libs"), ""
    call = next((s for s, d in frames if "kernel" not in d), "")
    call = re.sub(r"^(__GI___|__GI_|__libc_|__)", "", call)
    if any(s == "handle_softirqs" or s == "net_rx_action" for s, _ in frames):
        return "softirq", call
    if any(s == "do_syscall_64" for s, _ in frames):
        return "syscalls", call
    return "kernel", ""


def main():
    kinds = collections.Counter()
    calls = collections.Counter()
    n = 0
    for frames in samples(sys.stdin):
        kind, call = classify(frames)
        kinds[kind] += 1
        if call:
            calls[(kind, call)] += 1
        n += 1
    if n == 0:
        print("no samples")
        return
    share = {k: round(100.0 * kinds[k] / n, 1) for k in KINDS}
    top = [(k, c, round(100.0 * v / n, 1)) for (k, c), v in calls.most_common(8)]
    if "--json" in sys.argv:
        print(json.dumps({"samples": n, "share_pct": share, "by_call": top}))
        return
    print(f"{n} samples: " + ", ".join(f"{k} {share[k]} %" for k in KINDS))
    print("by system call: " + ", ".join(f"{c} ({k}) {p} %" for k, c, p in top))


if __name__ == "__main__":
    main()
