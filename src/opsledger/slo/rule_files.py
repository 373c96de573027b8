"""``opsledger slo rules``: Prometheus recording and alerting rules, and promtool tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from opsledger.core.errors import ConfigError
from opsledger.core.fileio import atomic_write_text
from opsledger.core.inputs import Context, fail_if_strict
from opsledger.core.lock import writing
from opsledger.core.problems import Level, Problem
from opsledger.core.yamlfile import load_yaml
from opsledger.slo.alerting import AlertPolicy, custom_policy, default_policies
from opsledger.slo.definitions import read_slos
from opsledger.slo.prometheus_rules import RuleTarget, rules_file, target_for
from opsledger.slo.promtool_tests import promtool_test_files


def workspace_rules(ctx: Context, policy: AlertPolicy | None = None) -> tuple[str, list[Problem]]:
    """Return the Prometheus rule file for the workspace's SLOs and the definition problems."""
    definitions = read_slos(ctx)
    ordered = sorted(definitions.records, key=lambda s: (s.service, s.name))
    text, skipped = rules_file(ordered, policy)
    problems = list(definitions.problems)
    for item in (s for s in skipped if s.applies):
        path, _, line = item.where.rpartition(":")
        problems.append(
            Problem(
                path or item.where,
                f"line {line}" if path else "",
                f"no Prometheus rules for SLO {item.slo}: {item.reason}",
                level=Level.WARNING,
            )
        )
    return text, problems


RULES_FILE = Path("prometheus") / "slo-rules.yaml"  # under the p09 evidence folder


@dataclass(frozen=True)
class RuleFiles:
    """The Prometheus rule file written, every file written with it, and the problems met."""

    path: Path
    written: tuple[Path, ...]
    problems: tuple[Problem, ...]


def write_rule_files(
    ctx: Context,
    out: Path | None = None,
    with_tests: bool = False,
    strict: bool = False,
    warn: Callable[[Problem], None] = lambda problem: None,
) -> RuleFiles:
    """Write the workspace's recording and burn-rate alerting rules (and promtool tests).

    The rule file goes to ``out``, by default under the p09 evidence folder; with
    ``with_tests``, promtool unit tests that can pass go to ``tests/`` beside it. With
    ``strict``, any problem in the SLO definitions fails first. Each problem is passed to
    ``warn`` when it is met; the files are written while the workspace lock is held.
    """
    text, problems = workspace_rules(ctx)
    fail_if_strict(strict, [*problems, *ctx.inputs.problems()])
    for problem in problems:
        warn(problem)
    path = out or ctx.workspace.p09_evidence / RULES_FILE
    with writing(ctx.workspace, "slo rules"):
        atomic_write_text(path, text)
        written = [path]
        if with_tests:
            written += _write_promtool_tests(ctx, path.parent / "tests", problems, warn)
    return RuleFiles(path, tuple(written), tuple(problems))


def _write_promtool_tests(
    ctx: Context, folder: Path, problems: list[Problem], warn: Callable[[Problem], None]
) -> list[Path]:
    """Write a rule file and promtool tests per SLO into ``folder``; return the files.

    Only tests that can pass are written; for each other SLO a warning, added to
    ``problems`` and passed to ``warn``, says why not.
    """
    written: list[Path] = []
    for slo in read_slos(ctx).records:
        target = target_for(slo)
        if not isinstance(target, RuleTarget):
            continue
        name = f"{target.sloth_id}.rules.yaml"
        try:
            rules_text, tests_text = promtool_test_files(target, rules_file=name)
        except ValueError as exc:
            skipped = Problem(slo.source_path, f"line {slo.source_line}",
                              f"no promtool test for SLO {slo.key}: {exc}", level=Level.WARNING)
            problems.append(skipped)
            warn(skipped)
            continue
        atomic_write_text(folder / name, rules_text)
        atomic_write_text(folder / f"{target.sloth_id}.test.yaml", tests_text)
        written += [folder / name, folder / f"{target.sloth_id}.test.yaml"]
    return written


_CONDITION = re.compile(r"conditions\[(\d+)\]")


def load_policies(path: Path) -> Callable[[int], tuple[AlertPolicy, ...]]:
    """Return custom alert policies from a YAML file, as a function of the SLO window in days.

    The file holds ``policies:`` (a list of ``name``, ``description`` and ``conditions``, see
    :func:`opsledger.slo.alerting.custom_policy`) and ``include_defaults`` (default
    true: compare the four default policies too). Raise :class:`ConfigError` naming the
    file and line of the first mistake.
    """
    data, lines = load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("policies"), list):
        raise ConfigError(f"{path}: expected a mapping with a 'policies' list")
    unknown = set(data) - {"policies", "include_defaults"}
    if unknown:
        raise ConfigError(f"{path}: unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    include_defaults = data.get("include_defaults", True)
    if not isinstance(include_defaults, bool):
        raise ConfigError(
            f"{path}: line {lines.line_of(('include_defaults',))}: "
            "include_defaults must be true or false"
        )
    specs = data["policies"]
    for index, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise ConfigError(
                f"{path}: line {lines.line_of(('policies', index))}: each policy must be a mapping"
            )
        try:
            custom_policy(spec)
        except ValueError as exc:
            where: tuple[str | int, ...] = ("policies", index)
            match = _CONDITION.search(str(exc))
            if match:
                where += ("conditions", int(match.group(1)))
            raise ConfigError(f"{path}: line {lines.line_of(where)}: {exc}") from None
    names = [spec["name"] for spec in specs]
    if include_defaults:
        names += [p.name for p in default_policies()]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: policy names must be unique (and differ from the defaults)")

    def policies(window_days: int) -> tuple[AlertPolicy, ...]:
        custom = tuple(custom_policy(spec, window_days) for spec in specs)
        return (default_policies(window_days) if include_defaults else ()) + custom

    return policies
