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
BATCHES_LOADED = "readmission.batches_loaded"  # a batch went into raw_data
# Gauges (the last value) and timings:
BATCH_ROWS = "readmission.batch_rows"  # rows of the last batch loaded
LAST_BATCH = "readmission.last_batch_timestamp"  # unix time the last batch was loaded
CHAMPION_ROC_AUC = "readmission.champion_test_roc_auc"  # the champion's, after each decision
TRAIN_DURATION = "readmission.train_duration"  # seconds of one training run (all candidates)
DRIFT_MAX_PSI = "readmission.drift_max_psi"  # diabetes_monitor's largest PSI, last check
DRIFT_NO_NEW_DATA = "readmission.drift_no_new_data"  # drift asked for a retrain; no new rows


def _stats():  # Airflow's Stats, or None outside Airflow
    try:
        from airflow.sdk.observability.stats import Stats
    except ImportError:
        return None
    return Stats


def incr(name: str, count: int = 1) -> None:
    """Add ``count`` to the counter ``name`` (a no-op where Airflow is not installed)."""
    if (stats := _stats()) is None:
        log.debug("no statsd client here; %s += %d not sent", name, count)
        return
    stats.incr(name, count)


def gauge(name: str, value: float) -> None:
    """Set the gauge ``name`` (a no-op where Airflow is not installed)."""
    if (stats := _stats()) is not None:
        stats.gauge(name, value)


def timing(name: str, seconds: float) -> None:
    """Record a duration (statsd timers are in milliseconds; Airflow converts a timedelta)."""
    if (stats := _stats()) is not None:
        from datetime import timedelta

        stats.timing(name, timedelta(seconds=seconds))
