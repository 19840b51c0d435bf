"""The repository stands alone: no code, test, benchmark or script reads a path outside it.

A fresh clone (CI's, a newcomer's) has nothing beside it, so a reference to a sibling directory
such as the API reference's `shared/` turns into collection errors there while passing on
machines that happen to have one. `.ci/run` proves the whole suite in such a clone; this test
names the offending line quickly.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("askpro_pipelines", "tests", "benchmarks", "scripts")
SUFFIXES = {".py", ".sh", ".yaml", ".yml", ".toml", ".json", ".cfg", ".ini", ".txt", ""}

# A path component named after the reference directory that sits beside the repository on the
# development machine (SIBLING), a relative climb out of a directory, or an absolute path on that
# machine. The name is assembled, and the examples below build their paths from SIBLING, so this
# file, the guard, names no such path itself.
SIBLING = "sha" + "red"
OUTSIDE = re.compile(r"""["'/\\]""" + SIBLING + r"""["'/\\]|\.\./|(?<![\w.])/work/""")
PARENTS_INDEX = re.compile(r"__file__\)(?:\.resolve\(\))?\.parents\[(\d+)\]((?:\.parent)*)")
PARENT_CHAIN = re.compile(r"__file__\)(?:\.resolve\(\))?((?:\.parent)+)")


def _source_files():
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and path.suffix in SUFFIXES and "__pycache__" not in path.parts:
                yield path


def _climbs_out(path: Path, line: str) -> bool:
    """Whether `Path(__file__)` arithmetic on this line goes above the repository root."""
    depth = len(path.relative_to(ROOT).parts) - 1  # parents[depth] is the root
    for index, extra in PARENTS_INDEX.findall(line):
        if int(index) + extra.count(".parent") > depth:
            return True
    for chain in PARENT_CHAIN.findall(line):
        if chain.count(".parent") - 1 > depth:
            return True
    return False


def test_nothing_refers_to_a_path_outside_the_repository():
    offenders = []
    for path in _source_files():
        if path == Path(__file__).resolve():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line) or _climbs_out(path, line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "paths outside the repository:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    ("relative", "line", "outside"),
    [
        ("tests/models/test_x.py", f'EXAMPLES = Path(__file__).resolve().parents[2].parent / "{SIBLING}"', True),
        ("tests/models/test_x.py", "ROOT = Path(__file__).resolve().parents[3]", True),
        ("tests/models/test_x.py", "ROOT = Path(__file__).resolve().parents[2]", False),
        ("tests/test_x.py", "ROOT = Path(__file__).parent.parent", False),
        ("tests/test_x.py", "ROOT = Path(__file__).parent.parent.parent", True),
    ],
)
def test_the_scan_recognises_climbs_above_the_root(relative, line, outside):
    assert _climbs_out(ROOT / relative, line) is outside


def test_the_scan_recognises_sibling_and_absolute_paths():
    assert OUTSIDE.search(f'EXAMPLES = ROOT / ".." / "{SIBLING}" / "api"')
    assert OUTSIDE.search(f'open("../{SIBLING}/api/README.md")')
    assert OUTSIDE.search(f'Path("/work/{SIBLING}/api/examples")')
    assert not OUTSIDE.search("from dagster_shared.error import SerializableErrorInfo")
    assert not OUTSIDE.search("a client shared between threads")
