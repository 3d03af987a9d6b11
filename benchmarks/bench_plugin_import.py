"""What having trakk-async installed costs a pytest run that does not use its fixtures.

The package registers a ``pytest11`` plugin, so pytest imports it in every run of every
suite in that environment. Goal (issue 11): under +50 ms for a suite that does not use the
fixtures. Three variants of the same one-test suite, in fresh ``python -m pytest``
processes, interleaved round by round in a shuffled order so that machine noise hits them
alike:

* ``without``: ``-p no:trakk_async`` (the plugin blocked: the baseline);
* ``entry point``: as installed (``_trakk_async_pytestplugin``, which imports no SDK);
* ``package module``: ``-p trakk_async.testing.pytest_plugin`` on top, which imports
  ``trakk_async`` (and with it aiohttp and the SDK): what the plugin cost before.

Prints the best and the median wall time of each and their differences to the baseline
(the best is the steadier figure on a busy machine: load only ever adds), and the import
time of the plugin module itself (``-X importtime``, best of the rounds). Bytecode goes to
a temporary cache filled by a warm-up round, as for an installed package. Run::

    python benchmarks/bench_plugin_import.py [rounds]
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = 15
GOAL_MS = 50.0
VARIANTS = {
    "without": ["-p", "no:trakk_async"],
    "entry point": [],
    "package module": ["-p", "trakk_async.testing.pytest_plugin"],
}


def run_ms(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall milliseconds of one fresh pytest process on the one-test suite."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, "test_plain.py"],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
    )
    return 1000 * (time.perf_counter() - started)


def plugin_import_ms(env: dict[str, str]) -> float:
    """Cumulative import milliseconds of the plugin module, pytest already imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pytest, _trakk_async_pytestplugin"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    line = next(x for x in done.stderr.splitlines() if x.endswith("| _trakk_async_pytestplugin"))
    return int(line.split("|")[1]) / 1000


def main(rounds: int = ROUNDS) -> None:
    """Print the table."""
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as pycache:
        suite = Path(tmp)
        (suite / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = pycache
        for args in VARIANTS.values():  # warm-up: compile the bytecode
            run_ms(args, suite, env)
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        order = random.Random(11)
        for _ in range(rounds):
            for name in order.sample(list(VARIANTS), len(VARIANTS)):
                times[name].append(run_ms(VARIANTS[name], suite, env))
        module = min(plugin_import_ms(env) for _ in range(rounds))
    best_base, median_base = min(times["without"]), statistics.median(times["without"])
    print(f"pytest on a one-test suite, {rounds} fresh processes each (ms)")
    print(f"  {'':15} {'best':>7} {'+/-':>7}   {'median':>7} {'+/-':>7}")
    for name, samples in times.items():
        best, median = min(samples), statistics.median(samples)
        print(
            f"  {name:15} {best:7.1f} {best - best_base:+7.1f}   "
            f"{median:7.1f} {median - median_base:+7.1f}"
        )
    print(f"import of _trakk_async_pytestplugin itself: {module:.1f} ms")
    cost = min(times["entry point"]) - best_base
    verdict = "met" if cost < GOAL_MS else "MISSED"
    print(f"installed plugin: {cost:+.1f} ms (goal under +{GOAL_MS:.0f} ms: {verdict})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS)
