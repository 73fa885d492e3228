"""Notebooks are kept in git without outputs: what a run shows belongs to the run, not to git
(and an output can hold patient rows)."""

from __future__ import annotations

import json

from readmission.settings import REPO_ROOT


def test_every_notebook_is_committed_without_outputs() -> None:
    notebooks = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
    assert [p.name for p in notebooks] == ["01-data.ipynb", "02-model.ipynb"]
    for path in notebooks:
        cells = json.loads(path.read_text())["cells"]
        kept = [
            i
            for i, cell in enumerate(cells)
            if cell["cell_type"] == "code" and (cell["outputs"] or cell["execution_count"])
        ]
        assert not kept, f"{path.name}: cells {kept} hold outputs; clear them before committing"
