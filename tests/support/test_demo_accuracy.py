"""On the demo's ticket history, the chosen forecasts beat the seasonal naive baseline."""

from __future__ import annotations

from pathlib import Path

from opsledger.core.config import load_config
from opsledger.readers import tickets
from opsledger.support.service import build_coverage_plan
from tests.conftest import DEMO_NOW


def test_every_queue_beats_seasonal_naive_in_the_backtest(small_demo: Path) -> None:
    history = tickets.read(small_demo / "handover/ticket-history.csv")
    assert not history.problems
    policy = load_config(small_demo).policies.support
    plan = build_coverage_plan(history.records, policy=policy, now=DEMO_NOW).to_json()
    queues = [q for q in plan["queues"] if not q["accuracy"]["skipped"]]
    assert len(queues) >= 4
    for queue in queues:
        accuracy = queue["accuracy"]
        # MASE of the chosen model against the seasonal naive's, same rolling-origin windows.
        assert accuracy["model_mase"] < accuracy["seasonal_naive_mase"], queue["queue"]
        assert accuracy["beats_seasonal_naive"] is True
