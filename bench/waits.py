"""Which waits the slow requests of a run sat in, from two scrapes of the server's /metrics (before
and after the run): for each histogram the bench cares about, how many observations the run
made, how many took more than 10 and 50 ms, and the time they took in all.

Usage: waits.py BEFORE AFTER; prints one line, empty when the server records none of them.
"""

import re
import sys

WATCHED = (
    "sms_http_request_duration_seconds",
    "sms_db_writer_step_duration_seconds",
    "sms_db_checkpoint_duration_seconds",
    "sms_db_wait_duration_seconds",
)
LINE = re.compile(r'^(\w+)_(bucket|sum|count)(?:\{(.*)\})? (\S+)$')


def read(path):
    series = {}
    for line in open(path):
        m = LINE.match(line.strip())
        if not m or m.group(1) not in WATCHED:
            continue
        name, part, labels, value = m.groups()
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels or ""))
        le = pairs.pop("le", None)
        key = (name, tuple(sorted(pairs.items())))
        entry = series.setdefault(key, {"buckets": {}})
        if part == "bucket":
            entry["buckets"][le] = float(value)
        else:
            entry[part] = float(value)
    return series


def label(name, labels):
    labels = dict(labels)
    if name == "sms_http_request_duration_seconds":
        route = labels.get("route", "?")
        return {"/apps/api/v1/sms": "http send", "/apps/api/v1/chats/{id}/messages": "http reply"}.get(route)
    if name == "sms_db_writer_step_duration_seconds":
        return "writer " + labels.get("step", "?")
    if name == "sms_db_wait_duration_seconds":
        return "wait for a " + labels.get("for", "?")
    return "checkpoint by " + labels.get("by", "?")


def main(before, after):
    old, new = read(before), read(after)
    cells = []
    for key, entry in sorted(new.items()):
        prior = old.get(key, {"buckets": {}, "count": 0, "sum": 0})
        count = entry.get("count", 0) - prior.get("count", 0)
        name = label(*key)
        if count <= 0 or name is None:
            continue
        within = lambda le: entry["buckets"].get(le, 0) - prior["buckets"].get(le, 0)
        over10, over50 = count - within("0.01"), count - within("0.05")
        took = entry.get("sum", 0) - prior.get("sum", 0)
        cells.append(f"{name} {count:.0f} (>10 ms {over10:.0f}, >50 ms {over50:.0f}, {took * 1000:.0f} ms in all)")
    print("; ".join(cells))


if __name__ == "__main__":
    main(*sys.argv[1:3])
