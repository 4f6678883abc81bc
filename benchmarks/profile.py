"""Summarise py-spy recordings of served API workers: where the CPU of a request goes.

    TOOLBOX_BENCH_PYSPY=/tmp/spy python -m benchmarks payme --driver wrk
    python -m benchmarks profile /tmp/spy/load-*.txt [--top 30] [--under toolbox_]

Prints the functions with the most samples *inclusive* (the frame anywhere on the stack) and
*self* (the innermost frame), as a share of the samples taken while the worker was busy (idle
samples of the event loop's ``select`` and of waiting request threads are dropped), grouped by
function, file and package.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path
from typing import Any

#: Frames that mean "this thread waits, not works" when innermost.
IDLE = ("select (selectors.py", "_worker (concurrent", "wait (threading.py", "run (asyncio", "_run_once",
        "epoll", "select (", "get (queue.py", "acquire (", "worker_thread", "recv_into", "run (threading.py")

FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def _frames(stack: str) -> list[str]:
    out = []
    for frame in stack.split(";"):
        m = FRAME.match(frame.strip())
        out.append(f"{m['func']} ({_short(m['file'])})" if m else frame.strip())
    return out


def _short(path: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/", "/tmp/ci/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _package(frame: str) -> str:
    m = re.search(r"\(([^)/]+)", frame)
    return m.group(1).removesuffix(".py") if m else frame


def summarise(paths: list[str], top: int, under: str) -> None:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    busy = idle = 0
    for path in paths:
        for line in Path(path).read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            frames = _frames(stack)
            if not frames or (any(frames[-1].startswith(mark) or mark in frames[-1] for mark in IDLE) \
                    and not any("toolbox_" in f for f in frames[-3:])):
                idle += n
                continue
            busy += n
            for frame in set(frames):
                if under in frame:
                    inclusive[frame] += n
            own[frames[-1]] += n
            packages[_package(frames[-1])] += n
    print(f"samples: {busy} busy, {idle} idle")
    _table("inclusive", inclusive, busy, top)
    _table("self", own, busy, top)
    _table("self by package", packages, busy, top)


def _table(title: str, counts: Counter[str], busy: int, top: int) -> None:
    print(f"\n## {title}")
    for frame, n in counts.most_common(top):
        print(f"{100 * n / max(busy, 1):6.1f}%  {frame}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks profile")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--under", default="", help="only frames whose text contains this (inclusive table)")
    args: Any = parser.parse_args(argv)
    summarise(args.paths, args.top, args.under)
