"""Run every ```python block of README.md and docs/*.md, so the documentation stays true.

Blocks of one file run in order in one namespace, as a reader would paste them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(path: Path) -> list[str]:
    """Return the ```python blocks of a markdown file, in order."""
    return _BLOCK.findall(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "path", [p for p in DOC_FILES if p.exists()], ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_python_blocks_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(path)
    if not blocks:
        pytest.skip(f"{path.name} has no python blocks")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for index, block in enumerate(blocks):
        code = compile(block, f"{path.name}[block {index}]", "exec")
        exec(code, namespace)


def test_block_extraction_finds_fenced_python(tmp_path: Path) -> None:
    text = "intro\n```python\nx = 1\n```\n```bash\nmake test\n```\n```python\ny = x + 1\n```\n"
    sample = tmp_path / "sample.md"
    sample.write_text(text, encoding="utf-8")
    assert python_blocks(sample) == ["x = 1\n", "y = x + 1\n"]
