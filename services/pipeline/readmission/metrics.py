"""The pipeline's own metrics: their names, and one way to send them.

They go through Airflow's statsd client (``Stats``), so under Airflow they reach Prometheus by
the same statsd exporter as Airflow's own metrics (with Airflow's prefix, ``airflow.`` by
default). Outside Airflow (the CLI, ``make evaluate``) there is no statsd client and nothing is
sent; the same facts are always on the MLflow run or the registry tags as well.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

TRAIN_SKIPPED = "readmission.train_skipped"  # training ended early: nothing new
# One name per outcome: plain statsd (Airflow's default client) carries no tags.
PROMOTIONS = "readmission.promotions"  # a challenger took the alias
REJECTIONS = "readmission.rejections"  # a challenger was judged and kept out
CHAMPION_UNLOADABLE = "readmission.champion_unloadable"  # decided on the gate alone
CHAMPION_BELOW_GATE = "readmission.champion_below_gate"  # champion under MIN_ROC_AUC on test
BATCHES_QUARANTINED = "readmission.batches_quarantined"  # a batch broke the data contract


def incr(name: str, count: int = 1) -> None:
    """Add ``count`` to the counter ``name`` (a no-op where Airflow is not installed)."""
    try:
        from airflow.sdk.observability.stats import Stats
    except ImportError:
        log.debug("no statsd client here; %s += %d not sent", name, count)
        return
    Stats.incr(name, count)
