from __future__ import annotations

from pathlib import Path

import pytest

from opsledger.core.config import Config, Role, load_config
from opsledger.core.errors import ConfigError
from opsledger.core.yamlfile import parse_yaml
from opsledger.protocols.scaffold import CONFIG_TEMPLATE


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "opsledger.yaml").write_text(text)
    return tmp_path


def test_template_is_a_valid_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CONFIG_TEMPLATE))
    assert config.service("checkout") is not None
    assert config.budget_for("checkout").availability == 0.999
    assert config.budget_for("elsewhere").availability == 0.995
    assert config.stakeholders_with(Role.OPERATIONS_DIRECTOR)[0].name == "Ada Example"


def test_missing_config_means_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path) == Config()


def test_percentages_are_normalised(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "slo_budgets:\n  a: {availability: 99.95}\n"))
    assert config.budget_for("a").availability == pytest.approx(0.9995)


def test_every_error_names_file_and_line(tmp_path: Path) -> None:
    text = (
        "services:\n"
        "  - name: a\n"
        "    tier: nine\n"
        "stakeholders:\n"
        "  - {name: B, email: not-an-email, role: security-lead}\n"
        "change_windows:\n"
        "  - name: w\n"
        "    cron: '61 2 * * *'\n"
        "    timezone: Mars/Olympus\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    problems = info.value.problems
    located = {p.location: p.message for p in problems}
    assert set(located) == {"line 3", "line 5", "line 8", "line 9"}
    assert "tier" in located["line 3"]
    assert "cron" in located["line 8"]
    assert "Mars/Olympus" in located["line 9"]
    assert all(p.path.endswith("opsledger.yaml") for p in problems)


def test_unknown_keys_are_refused_with_their_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "version: 1\n\nservise: []\n"))
    assert info.value.problems[0].location == "line 3"
    assert "servise" in info.value.problems[0].message


def test_duplicate_services_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="listed twice"):
        load_config(write(tmp_path, "services: [{name: a}, {name: a}]\n"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1, 2\n", "line 2"),
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("a: !!python/object/apply:os.system ['true']\n", "line 1: no constructor"),
        ("a: !!python/name:os.system x\n", "constructor"),
        ("base: &b {x: 1}\nother:\n  <<: *b\n", "merge keys"),
    ],
)
def test_unsafe_or_broken_yaml_is_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_yaml(text, "x.yaml")


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    with pytest.raises(ConfigError, match="too many nodes"):
        parse_yaml("\n".join(lines) + "\n", "bomb.yaml")
