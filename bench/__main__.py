"""Run every benchmark and print its numbers."""

from __future__ import annotations

import sys

from . import cold_start, overhead, submit, throughput


def main() -> None:
    for bench in (cold_start, submit, throughput, overhead):
        print(f"== {bench.__name__}: {(bench.__doc__ or '').strip().splitlines()[0]}")
        bench.run()
        print()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
