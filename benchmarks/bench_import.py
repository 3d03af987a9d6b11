"""Import time of ``trakk_async`` (CLIs and workers start often).

Runs ``python -X importtime -c "import trakk_async"`` several times in fresh processes and
prints the best cumulative time of ``trakk_async`` and of its heaviest dependencies, next to
``import aiohttp`` alone (the floor any aiohttp-based SDK pays). Run::

    python benchmarks/bench_import.py
"""

from __future__ import annotations

import subprocess
import sys

ROUNDS = 7
WATCH = ("trakk_async", "aiohttp", "cattrs", "attrs", "orjson", "yarl", "trakk_async.watch")


def cumulative_us(statement: str) -> dict[str, int]:
    """Cumulative import microseconds per top-level module name, for one fresh process."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    times: dict[str, int] = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line.split("|")
        times[name.strip()] = int(cumulative.strip())
    return times


def best(statement: str) -> dict[str, int]:
    """The best of ``ROUNDS`` fresh processes, per module."""
    runs = [cumulative_us(statement) for _ in range(ROUNDS)]
    return {name: min(run.get(name, 0) for run in runs) for name in runs[0]}


def main() -> None:
    """Print the table."""
    sdk = best("import trakk_async")
    floor = best("import aiohttp")
    print(f"best of {ROUNDS} fresh processes, cumulative import time (ms)")
    for name in WATCH:
        if name in sdk:
            print(f"  {name:22} {sdk[name] / 1000:7.1f}")
    print(f"  {'aiohttp alone':22} {floor['aiohttp'] / 1000:7.1f}")
    print(f"trakk_async / aiohttp alone: {sdk['trakk_async'] / floor['aiohttp']:.2f}")
    print(
        f"loaded lazily (not imported by 'import trakk_async'): "
        f"{', '.join(m for m in ('redis', 'click', 'rich', 'trakk_async.watch') if m not in sdk)}"
    )


if __name__ == "__main__":
    main()
