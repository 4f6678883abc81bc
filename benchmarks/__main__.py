"""``python -m benchmarks NAME [args...]`` runs ``benchmarks/NAME.py``'s ``main(argv)``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name not in {"harness", "__main__"})


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] in {"-h", "--help"}:
        print("usage: python -m benchmarks NAME [args...]\navailable: " + ", ".join(available()))
        sys.exit(0 if len(sys.argv) >= 2 else 2)
    name = sys.argv[1]
    if name not in available():
        print(f"unknown benchmark {name!r}; available: {', '.join(available())}", file=sys.stderr)
        sys.exit(2)
    module = importlib.import_module(f"benchmarks.{name}")
    module.main(sys.argv[2:])


if __name__ == "__main__":
    main()
