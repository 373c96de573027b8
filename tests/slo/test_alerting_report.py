from __future__ import annotations

from pathlib import Path

import pytest

from opsledger.core.errors import ConfigError
from opsledger.slo.service import load_policies

POLICIES = """\
policies:
  - name: fast-pages
    description: pages only, 2% of the budget in an hour
    conditions:
      - {severity: page, long: 1h, short: 5m, budget_fraction: 0.02}
  - name: slow-tickets
    conditions:
      - severity: ticket
        long: 3d
        burn_rate: 1.5
"""


def test_custom_policies_rescale_per_window(tmp_path: Path) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(POLICIES)
    policies = load_policies(path)
    thirty = {p.name: p for p in policies(30)}
    assert len(thirty) == 6  # the four defaults and two custom ones
    assert thirty["fast-pages"].conditions[0].burn_rate == pytest.approx(14.4)
    assert {p.name: p for p in policies(28)}["fast-pages"].conditions[0].burn_rate == (
        pytest.approx(13.44)
    )
    path.write_text(POLICIES + "include_defaults: false\n")
    assert [p.name for p in load_policies(path)(30)] == ["fast-pages", "slow-tickets"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            POLICIES.replace("burn_rate: 1.5", "burn_rate: 1.5\n        for: 5m"),
            "line 8: policy 'slow-tickets' conditions[0]: unknown field(s) for",
        ),
        (POLICIES.replace("long: 1h", "long: 1y"), "line 5: policy 'fast-pages' conditions[0]"),
        (POLICIES.replace("slow-tickets", "fast-pages"), "unique"),
        (POLICIES.replace("slow-tickets", "workbook-mwmbr"), "differ from the defaults"),
        ("policies: 3\n", "'policies' list"),
        (POLICIES + "include_defaults: maybe\n", "line 11: include_defaults"),
    ],
)
def test_policy_file_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_policies(path)
    assert str(path) in str(info.value) and message in str(info.value)
