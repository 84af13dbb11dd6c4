"""What PostgreSQL did on its own during a run, from two snapshots (before and after) written by
bench/run.sh's pg_activity: its checkpoints (how many, their writing and syncing time, the
buffers they wrote), the buffers backends had to write themselves, and which of the bench
database's tables autovacuum vacuumed or analyzed.

Usage: pg_activity.py BEFORE AFTER; prints one line.
Each snapshot's lines: "checkpointer COUNT WRITE_MS SYNC_MS BUFFERS", "backend BUFFERS" (absent
on PostgreSQL 17, which no longer counts them there), and "table NAME VACUUMS ANALYZES".
"""

import sys


def read(path):
    counts = {}
    for line in open(path):
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "table":
            counts[("table", fields[1])] = tuple(int(x) for x in fields[2:4])
        else:
            counts[(fields[0],)] = tuple(float(x) for x in fields[1:])
    return counts


def main(before, after):
    old, new = read(before), read(after)
    minus = lambda key: [b - a for a, b in zip(old.get(key, (0,) * len(new[key])), new[key])]
    cells = []
    if ("checkpointer",) in new:
        count, write_ms, sync_ms, buffers = minus(("checkpointer",))
        cells.append(f"checkpoints {count:.0f} (writing {write_ms:.0f} ms, syncing {sync_ms:.0f} ms, {buffers:.0f} buffers)")
    if ("backend",) in new:
        cells.append(f"buffers written by backends {minus(('backend',))[0]:.0f}")
    vacuums, analyzes = [], []
    for key in sorted(k for k in new if k[0] == "table"):
        v, a = minus(key)
        if v:
            vacuums.append(f"{key[1]} {v}")
        if a:
            analyzes.append(f"{key[1]} {a}")
    cells.append("autovacuum " + (", ".join(vacuums) or "none"))
    cells.append("autoanalyze " + (", ".join(analyzes) or "none"))
    print("; ".join(cells))


if __name__ == "__main__":
    main(*sys.argv[1:3])
