"""Check the built distributions hold what users install: ``python scripts/check_dist.py DIR``.

DIR holds one wheel and one sdist (``python -m build --outdir DIR``). Both must carry the
MIT LICENSE and ``trakk_async/py.typed`` (without it type checkers ignore our annotations)
and declare the license and the project URLs; the wheel must declare the ``trakk`` and
``trakk-fake`` console scripts and the pytest plugin (``pytest11``) of ``pyproject.toml``.
Prints each problem and exits 1, or prints what it checked and exits 0.
"""

from __future__ import annotations

import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterable, Mapping
from configparser import ConfigParser
from email.parser import HeaderParser
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
#: Files every distribution carries, relative to the package root (the wheel's root, or
#: the sdist's top folder).
REQUIRED_FILES: Final = (
    "trakk_async/py.typed",
    # the pytest11 entry point names this top-level module: a wheel without it breaks
    # every pytest run of every project that installs trakk-async
    "_trakk_async_pytestplugin.py",
)
PROJECT_URLS: Final = ("Homepage", "Repository", "Issues", "Changelog")
#: Entry points users rely on, by group: they must be in the wheel as pyproject says.
REQUIRED_ENTRY_POINTS: Final = {
    "console_scripts": ("trakk", "trakk-fake"),
    "pytest11": ("trakk_async",),
}


def declared_entry_points(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, dict[str, str]]:
    """The entry points ``pyproject.toml`` declares, by group (scripts as console_scripts)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    groups = {"console_scripts": dict(project.get("scripts", {}))}
    groups.update({g: dict(eps) for g, eps in project.get("entry-points", {}).items()})
    return groups


def check_metadata(text: str, where: str) -> list[str]:
    """The license and project URLs in a METADATA / PKG-INFO file."""
    headers = HeaderParser().parsestr(text)
    problems = []
    if headers.get("License-Expression") != "MIT":
        problems.append(f"{where}: License-Expression is {headers.get('License-Expression')!r}")
    if "LICENSE" not in (headers.get_all("License-File") or []):
        problems.append(f"{where}: no License-File: LICENSE")
    urls = {u.split(",", 1)[0].strip() for u in headers.get_all("Project-URL") or []}
    problems += [f"{where}: no Project-URL {name}" for name in PROJECT_URLS if name not in urls]
    return problems


def check_license(text: str, where: str) -> list[str]:
    return [] if text.startswith("MIT License") else [f"{where}: LICENSE is not the MIT license"]


def check_entry_points(
    text: str, declared: Mapping[str, Mapping[str, str]], where: str
) -> list[str]:
    """Each required entry point is in ``entry_points.txt``, pointing where pyproject says."""
    parser = ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # names are case-sensitive
    parser.read_string(text)
    problems = []
    for group, names in REQUIRED_ENTRY_POINTS.items():
        for name in names:
            want = declared.get(group, {}).get(name)
            got = parser.get(group, name, fallback=None)
            if want is None:
                problems.append(f"pyproject.toml declares no {group} entry point {name!r}")
            elif got != want:
                problems.append(f"{where}: [{group}] {name} is {got!r}, pyproject says {want!r}")
    return problems


def _missing(names: Iterable[str], prefix: str, where: str) -> list[str]:
    present = set(names)
    return [f"{where}: no {path}" for path in REQUIRED_FILES if prefix + path not in present]


def check_wheel(path: Path, declared: Mapping[str, Mapping[str, str]]) -> list[str]:
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        problems = _missing(names, "", path.name)
        info = next((n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA")), None)
        if info is None:
            return [*problems, f"{path.name}: no .dist-info/METADATA"]
        problems += check_metadata(wheel.read(f"{info}/METADATA").decode(), path.name)
        license_path = f"{info}/licenses/LICENSE"
        if license_path in names:
            problems += check_license(wheel.read(license_path).decode(), path.name)
        else:
            problems.append(f"{path.name}: no {license_path}")
        entry_points = f"{info}/entry_points.txt"
        if entry_points in names:
            text = wheel.read(entry_points).decode()
            problems += check_entry_points(text, declared, path.name)
        else:
            problems.append(f"{path.name}: no {entry_points}")
    return problems


def check_sdist(path: Path) -> list[str]:
    with tarfile.open(path) as sdist:
        names = sdist.getnames()
        top = names[0].split("/")[0] if names else ""
        problems = _missing(names, f"{top}/", path.name)
        for name, check in (("PKG-INFO", check_metadata), ("LICENSE", check_license)):
            member = f"{top}/{name}"
            if member not in names:
                problems.append(f"{path.name}: no {name}")
                continue
            data = sdist.extractfile(member)
            problems += check(data.read().decode() if data else "", path.name)
    return problems


def check_dist(folder: Path, declared: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Every problem found in the one wheel and the one sdist of ``folder``."""
    wheels, sdists = sorted(folder.glob("*.whl")), sorted(folder.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        return [f"{folder}: expected one wheel and one sdist, found {wheels + sdists}"]
    return check_wheel(wheels[0], declared) + check_sdist(sdists[0])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    folder = Path(argv[0])
    problems = check_dist(folder, declared_entry_points())
    for problem in problems:
        print(f"check_dist: {problem}", file=sys.stderr)
    if not problems:
        names = ", ".join(p.name for p in sorted(folder.iterdir()))
        print(f"check_dist: ok ({names}): LICENSE, py.typed, license and URLs, entry points")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
