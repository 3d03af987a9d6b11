"""Import time of ``trakk_async`` (CLIs and workers start often).

Runs ``python -X importtime -c "import trakk_async"`` several times in fresh processes and
prints the best cumulative time of ``trakk_async`` and of its heaviest dependencies, next to
``import aiohttp`` alone (the floor any aiohttp-based SDK pays).

As installed: ``pip install`` byte-compiles a package, but this machine sets
``PYTHONDONTWRITEBYTECODE=1`` and the SDK is installed in editable mode, so without care
every run would compile our sources again (~15 ms). The child processes therefore get a
bytecode cache in a temporary directory (``PYTHONPYCACHEPREFIX``), filled by one warm-up
run. Printed too: the time without bytecode, and the import plus the first structured
response (cattrs and the structuring hooks load on first use, not at import). Run::

    python benchmarks/bench_import.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

ROUNDS = 7
WATCH = ("trakk_async", "aiohttp", "cattrs", "attrs", "orjson", "yarl", "trakk_async.watch")


FIRST_RESPONSE = (
    "import time; t = time.perf_counter(); import trakk_async; "
    "from trakk_async._models import converter as _converter; "
    "from trakk_async._models.deviations import Deviations; "
    "_converter.structure_me({'id': 1, 'name': 'n', "
    "'agency_id': None, 'status': 'active', 'abilities': ['*']}, Deviations(), '/me'); "
    "print(time.perf_counter() - t)"
)


def environment(pycache: str | None) -> dict[str, str]:
    """This environment, with bytecode written to and read from ``pycache`` (None: none)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def cumulative_us(statement: str, env: dict[str, str]) -> dict[str, int]:
    """Cumulative import microseconds per top-level module name, for one fresh process."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    times: dict[str, int] = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line.split("|")
        times[name.strip()] = int(cumulative.strip())
    return times


def best(statement: str, env: dict[str, str]) -> dict[str, int]:
    """The best of ``ROUNDS`` fresh processes, per module."""
    runs = [cumulative_us(statement, env) for _ in range(ROUNDS)]
    return {name: min(run.get(name, 0) for run in runs) for name in runs[0]}


def first_response_ms(env: dict[str, str]) -> float:
    """Best wall time of import + structuring a first response, in fresh processes."""
    return 1000 * min(
        float(
            subprocess.run(
                [sys.executable, "-c", FIRST_RESPONSE],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            ).stdout
        )
        for _ in range(ROUNDS)
    )


def main() -> None:
    """Print the table."""
    with tempfile.TemporaryDirectory() as pycache:
        env = environment(pycache)
        cumulative_us("import trakk_async, aiohttp, cattrs", env)  # compiles the bytecode
        sdk = best("import trakk_async", env)
        floor = best("import aiohttp", env)
        first = first_response_ms(env)
    source = best("import trakk_async", environment(None))
    print(f"best of {ROUNDS} fresh processes, with bytecode: cumulative import time (ms)")
    for name in WATCH:
        if name in sdk:
            print(f"  {name:22} {sdk[name] / 1000:7.1f}")
    print(f"  {'aiohttp alone':22} {floor['aiohttp'] / 1000:7.1f}")
    print(f"trakk_async / aiohttp alone: {sdk['trakk_async'] / floor['aiohttp']:.2f}")
    print(f"import + first structured response (wall):  {first:6.1f} ms")
    print(f"import without bytecode (sources compiled):  {source['trakk_async'] / 1000:6.1f} ms")
    print(
        f"loaded lazily (not imported by 'import trakk_async'): "
        f"{', '.join(m for m in ('cattrs', 'redis', 'click', 'rich', 'trakk_async.watch') if m not in sdk)}"
    )


if __name__ == "__main__":
    main()
