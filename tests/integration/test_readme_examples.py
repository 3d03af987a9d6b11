"""The README's self-contained Python examples run as written, against the fake server.

Each ```python block that ends in ``asyncio.run(main())`` runs in a fresh interpreter with
``TRAKK_API_TOKEN`` / ``TRAKK_BASE_URL`` pointing at a FakeTrakk on 127.0.0.1 (as a new
user would after starting ``trakk-fake``).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from trakk_async.testing import FakeTrakk

README = Path(__file__).parents[2] / "README.md"
BLOCKS = [
    block
    for block in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    if "asyncio.run(main())" in block
]


def test_the_readme_has_runnable_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.integration
@pytest.mark.parametrize("block", BLOCKS, ids=[f"example{i}" for i in range(len(BLOCKS))])
async def test_readme_example_runs(block: str, tmp_path: Path) -> None:
    # Few projects: the examples run at Trakk's default limits (60 a minute), and the
    # sync example mirrors every project of the agency.
    async with FakeTrakk.running(seed=3, projects=5) as fake:
        for pid in fake.project_ids()[:3]:
            fake.complete_report(pid, fake.start_next_report(pid))
        env = {
            **os.environ,
            "TRAKK_API_TOKEN": fake.token,
            "TRAKK_BASE_URL": fake.base_url,
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            block,
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()
    assert out.strip(), "the example printed nothing"
    assert fake.token not in out.decode() + err.decode()
