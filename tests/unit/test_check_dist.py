"""scripts/check_dist.py (run by .ci/run on the built wheel and sdist) finds what is missing."""

from __future__ import annotations

import importlib.util
import io
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_dist", ROOT / "scripts" / "check_dist.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_dist", module)
    spec.loader.exec_module(module)
    return module


check_dist = _load()

INFO = "trakk_async-0.1.0.dist-info"
TOP = "trakk_async-0.1.0"
METADATA = (
    "Metadata-Version: 2.4\nName: trakk-async\nVersion: 0.1.0\n"
    "Project-URL: Homepage, https://h\nProject-URL: Repository, https://r\n"
    "Project-URL: Issues, https://i\nProject-URL: Changelog, https://c\n"
    "License-Expression: MIT\nLicense-File: LICENSE\n\nThe README.\n"
)
ENTRY_POINTS = (
    "[console_scripts]\ntrakk = trakk_async.cli:main\n"
    "trakk-fake = trakk_async.testing.__main__:main\n\n"
    "[pytest11]\ntrakk_async = _trakk_async_pytestplugin\n"
)
LICENSE = (ROOT / "LICENSE").read_text()


def wheel_files() -> dict[str, str]:
    return {
        "trakk_async/__init__.py": "",
        "trakk_async/py.typed": "",
        "_trakk_async_pytestplugin.py": "",
        f"{INFO}/METADATA": METADATA,
        f"{INFO}/entry_points.txt": ENTRY_POINTS,
        f"{INFO}/licenses/LICENSE": LICENSE,
    }


def sdist_files() -> dict[str, str]:
    return {
        f"{TOP}/PKG-INFO": METADATA,
        f"{TOP}/LICENSE": LICENSE,
        f"{TOP}/pyproject.toml": "",
        f"{TOP}/trakk_async/py.typed": "",
        f"{TOP}/_trakk_async_pytestplugin.py": "",
    }


def build(folder: Path, wheel: dict[str, str], sdist: dict[str, str]) -> Path:
    with zipfile.ZipFile(folder / "trakk_async-0.1.0-py3-none-any.whl", "w") as archive:
        for name, text in wheel.items():
            archive.writestr(name, text)
    with tarfile.open(folder / "trakk_async-0.1.0.tar.gz", "w:gz") as archive:
        for name, text in sdist.items():
            data = text.encode()
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return folder


def problems(folder: Path) -> list[str]:
    found: list[str] = check_dist.check_dist(folder, check_dist.declared_entry_points())
    return found


def test_the_pyproject_declares_what_the_check_requires() -> None:
    declared = check_dist.declared_entry_points()
    assert declared["console_scripts"]["trakk"] == "trakk_async.cli:main"
    assert declared["pytest11"] == {"trakk_async": "_trakk_async_pytestplugin"}


def test_complete_distributions_pass(tmp_path: Path) -> None:
    assert problems(build(tmp_path, wheel_files(), sdist_files())) == []
    assert check_dist.main([str(tmp_path)]) == 0


@pytest.mark.parametrize(
    ("where", "name", "expected"),
    [
        ("wheel", "trakk_async/py.typed", "whl: no trakk_async/py.typed"),
        ("wheel", "_trakk_async_pytestplugin.py", "whl: no _trakk_async_pytestplugin.py"),
        ("sdist", f"{TOP}/_trakk_async_pytestplugin.py", "tar.gz: no _trakk_async_pytestplugin.py"),
        ("wheel", f"{INFO}/licenses/LICENSE", f"whl: no {INFO}/licenses/LICENSE"),
        ("wheel", f"{INFO}/entry_points.txt", f"whl: no {INFO}/entry_points.txt"),
        ("wheel", f"{INFO}/METADATA", "whl: no .dist-info/METADATA"),
        ("sdist", f"{TOP}/trakk_async/py.typed", "tar.gz: no trakk_async/py.typed"),
        ("sdist", f"{TOP}/LICENSE", "tar.gz: no LICENSE"),
        ("sdist", f"{TOP}/PKG-INFO", "tar.gz: no PKG-INFO"),
    ],
)
def test_a_missing_file_is_named(tmp_path: Path, where: str, name: str, expected: str) -> None:
    wheel, sdist = wheel_files(), sdist_files()
    del (wheel if where == "wheel" else sdist)[name]
    found = problems(build(tmp_path, wheel, sdist))
    assert any(expected in p for p in found), found
    assert check_dist.main([str(tmp_path)]) == 1


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("trakk = trakk_async.cli:main\n", "", "[console_scripts] trakk is None"),
        ("trakk-fake = trakk_async.testing.__main__:main\n", "", "trakk-fake is None"),
        ("[pytest11]\ntrakk_async", "[pytest11]\nother", "[pytest11] trakk_async is None"),
        ("cli:main", "cli:run", "trakk is 'trakk_async.cli:run'"),
    ],
)
def test_a_wrong_entry_point_is_named(tmp_path: Path, old: str, new: str, expected: str) -> None:
    wheel = wheel_files()
    wheel[f"{INFO}/entry_points.txt"] = ENTRY_POINTS.replace(old, new)
    found = problems(build(tmp_path, wheel, sdist_files()))
    assert any(expected in p for p in found), found


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("License-Expression: MIT\n", "", "License-Expression is None"),
        ("License-File: LICENSE\n", "", "no License-File"),
        ("Project-URL: Issues, https://i\n", "", "no Project-URL Issues"),
        ("Project-URL: Changelog, https://c\n", "", "no Project-URL Changelog"),
    ],
)
def test_missing_metadata_is_named_in_both(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    wheel, sdist = wheel_files(), sdist_files()
    wheel[f"{INFO}/METADATA"] = sdist[f"{TOP}/PKG-INFO"] = METADATA.replace(old, new)
    found = problems(build(tmp_path, wheel, sdist))
    assert sum(expected in p for p in found) == 2, found


def test_another_license_text_is_refused(tmp_path: Path) -> None:
    sdist = sdist_files()
    sdist[f"{TOP}/LICENSE"] = "Apache License\n"
    assert problems(build(tmp_path, wheel_files(), sdist)) == [
        "trakk_async-0.1.0.tar.gz: LICENSE is not the MIT license"
    ]


def test_the_folder_must_hold_one_of_each(tmp_path: Path) -> None:
    (tmp_path / "x.whl").write_bytes(b"")
    assert "expected one wheel and one sdist" in problems(tmp_path)[0]
