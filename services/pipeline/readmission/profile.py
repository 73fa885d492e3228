"""The data profile of a training run: its training split as a light HTML page.

skrub's ``TableReport``: each column's type, missing values, distinct values, most frequent
values and statistics, and a sample of rows, in one self-contained page a browser opens. Light:
no distribution plots and no column associations (they cost ~30 s per training for ~50
columns; the data notebook draws them when someone wants them). Built once per training run,
after the candidates' ``train_seconds`` are measured, and logged beside every candidate.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

PROFILE_PATH = "data_profile/training_split.html"
LEFT_OUT = ("processed_at",)  # the clean table's bookkeeping, not data


def training_split(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows and columns a profile describes: the training split of the clean table."""
    rows = frame[frame["split"] == "train"]
    return rows.drop(columns=[c for c in LEFT_OUT if c in rows.columns]).reset_index(drop=True)


def render(frame: pd.DataFrame, title: str) -> tuple[str, float]:
    """(the profile's HTML page, the seconds it took)."""
    from skrub import TableReport  # imported here: only training and notebooks need it

    started = time.perf_counter()
    report = TableReport(
        frame, title=title, verbose=0, plot_distributions=False, compute_associations=False
    )
    return report.html(), time.perf_counter() - started
