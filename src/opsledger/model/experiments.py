"""A/B experiments: the definition people write in YAML, and the per-unit observations.

The definition is a pydantic schema so that every error in ``experiments/<name>.yaml`` is
reported with its file and line; observations are columns (numpy arrays), one entry per
unit, as the analysis consumes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"  # also a folder name: no separators, no '..'


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ExperimentUnit(StrEnum):
    """What is randomised: every observation row is one of these."""

    USER = "user"
    SESSION = "session"
    ACCOUNT = "account"


class ExperimentStatus(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class MetricKind(StrEnum):
    BINARY = "binary"  # 0/1 per unit (converted, retained): Beta-Binomial, proportion power
    CONTINUOUS = "continuous"  # any number per unit (revenue, latency, orders)
    RATIO = "ratio"  # sum(numerator)/sum(denominator): clicks per session, revenue per order


class Direction(StrEnum):
    """Which way of moving is an improvement."""

    INCREASE = "increase"
    DECREASE = "decrease"


class EffectScale(StrEnum):
    RELATIVE = "relative"  # a fraction of the control mean: 0.05 = 5 %
    ABSOLUTE = "absolute"  # in the metric's own unit


class Correction(StrEnum):
    """How p-values are adjusted across metrics x treatment variants."""

    HOLM = "holm"  # family-wise error rate
    BENJAMINI_HOCHBERG = "benjamini-hochberg"  # false discovery rate
    NONE = "none"


class Verdict(StrEnum):
    """What an experiment's analysis says to do."""

    SHIP = "ship"
    DONT_SHIP = "don't ship"
    KEEP_RUNNING = "keep running"
    INVALID = "invalid"  # sample ratio mismatch: the data cannot be trusted


class Variant(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    weight: float = Field(gt=0, description="share of traffic; weights are normalised")


class Baseline(Strict):
    """What the metric looks like without the change, for sample-size planning."""

    mean: float
    std: float | None = Field(default=None, gt=0, description="continuous and ratio metrics")


class Effect(Strict):
    value: float = Field(gt=0)
    scale: EffectScale


class RatioColumns(Strict):
    """The two observation columns of a ratio: the metric is sum(numerator)/sum(denominator)."""

    numerator: str = Field(min_length=1)
    denominator: str = Field(min_length=1)

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


class Metric(Strict):
    name: str = Field(min_length=1, description="the observations column (ratio: a label)")
    kind: MetricKind
    numerator: str | None = Field(default=None, min_length=1, description="ratio metrics only")
    denominator: str | None = Field(default=None, min_length=1, description="ratio metrics only")
    direction: Direction = Direction.INCREASE
    baseline: Baseline | None = None
    # The mixing scale of the sequential interval; defaults to the experiment's MDE.
    minimum_detectable_effect: Effect | None = None

    @model_validator(mode="after")
    def _binary_baseline(self) -> Metric:
        baseline = self.baseline
        if self.kind is MetricKind.BINARY and baseline is not None and not 0 < baseline.mean < 1:
            raise ValueError("the baseline of a binary metric is a rate between 0 and 1")
        return self

    @model_validator(mode="after")
    def _ratio_columns(self) -> Metric:
        given = [key for key in ("numerator", "denominator") if getattr(self, key) is not None]
        if self.kind is MetricKind.RATIO and len(given) < 2:
            raise ValueError("a ratio metric names its 'numerator' and 'denominator' columns")
        if self.kind is not MetricKind.RATIO and given:
            raise ValueError(f"'{given[0]}' is for ratio metrics only (this one is "
                             f"{self.kind.value})")
        return self

    @property
    def ratio(self) -> RatioColumns | None:
        """Return the numerator and denominator columns of a ratio metric, else ``None``."""
        if self.numerator is None or self.denominator is None:
            return None
        return RatioColumns(numerator=self.numerator, denominator=self.denominator)

    @property
    def columns(self) -> tuple[str, ...]:
        """Return the observation columns this metric is computed from."""
        ratio = self.ratio
        return (ratio.numerator, ratio.denominator) if ratio else (self.name,)


class Guardrail(Metric):
    """A metric that must not degrade by more than ``tolerance`` in its bad direction."""

    tolerance: float = Field(ge=0)
    tolerance_scale: EffectScale = EffectScale.RELATIVE


class Traffic(Strict):
    """Where daily eligible units come from: request events in the workspace's telemetry."""

    source: str = Field(default="telemetry", min_length=1, description="files or folder")
    service: str | None = None
    service_column: str = "service"
    timestamp: str = "ts"
    units_per_request: float = Field(default=1.0, gt=0)
    days: int = Field(default=28, ge=1, le=366)


class ExperimentDefinition(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    hypothesis: str = Field(min_length=1)
    unit: ExperimentUnit
    variants: list[Variant] = Field(min_length=2)
    control: str | None = Field(default=None, description="default: the first variant")
    primary_metric: Metric
    secondary_metrics: list[Metric] = Field(default_factory=list)
    guardrail_metrics: list[Guardrail] = Field(default_factory=list)
    alpha: float = Field(default=0.05, gt=0, le=0.5)
    power: float = Field(default=0.8, gt=0, lt=1)
    minimum_detectable_effect: Effect
    start: date
    end: date
    salt: str = Field(min_length=1)
    covariate: str | dict[str, str | RatioColumns] | None = None
    correction: Correction = Correction.HOLM
    traffic: Traffic | None = None
    owner: str = Field(min_length=1)
    status: ExperimentStatus

    @field_validator("variants")
    @classmethod
    def _unique_variants(cls, variants: list[Variant]) -> list[Variant]:
        names = [v.name for v in variants]
        doubles = sorted({n for n in names if names.count(n) > 1})
        if doubles:
            raise ValueError(f"variant names must be unique: {', '.join(doubles)} repeated")
        return variants

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentDefinition:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        names = [v.name for v in self.variants]
        if self.control is not None and self.control not in names:
            raise ValueError(f"control '{self.control}' is not a variant ({', '.join(names)})")
        metrics = [m.name for m in self.metrics]
        doubles = sorted({m for m in metrics if metrics.count(m) > 1})
        if doubles:
            raise ValueError(f"a metric is listed twice: {', '.join(doubles)}")
        kinds = {m.name: m.kind for m in self.metrics}
        for metric, covariate in self.covariates.items():
            if metric not in metrics:
                raise ValueError(f"covariate given for '{metric}', which is not a metric")
            ratio = kinds[metric] is MetricKind.RATIO
            if ratio and not isinstance(covariate, RatioColumns):
                raise ValueError(f"the covariate of ratio metric '{metric}' is a mapping "
                                 "{numerator: column, denominator: column}")
            if not ratio and isinstance(covariate, RatioColumns):
                raise ValueError(f"'{metric}' is not a ratio metric: its covariate is one column")
        return self

    @property
    def metrics(self) -> list[Metric]:
        """Return every metric: primary, then secondary, then guardrails."""
        return [self.primary_metric, *self.secondary_metrics, *self.guardrail_metrics]

    @property
    def control_variant(self) -> str:
        return self.control or self.variants[0].name

    @property
    def treatments(self) -> list[str]:
        return [v.name for v in self.variants if v.name != self.control_variant]

    @property
    def weights(self) -> dict[str, float]:
        """Return the normalised traffic share of each variant, in declaration order."""
        total = sum(v.weight for v in self.variants)
        return {v.name: v.weight / total for v in self.variants}

    @property
    def covariates(self) -> dict[str, str | RatioColumns]:
        """Return metric name -> pre-period covariate column(s) (a bare name is the primary's).

        A ratio metric's covariate is its pre-period numerator and denominator columns.
        """
        if self.covariate is None:
            return {}
        if isinstance(self.covariate, str):
            return {self.primary_metric.name: self.covariate}
        return dict(self.covariate)

    @property
    def columns(self) -> list[str]:
        """Return every observation column the metrics and covariates need, once each."""
        names = [column for metric in self.metrics for column in metric.columns]
        for covariate in self.covariates.values():
            if isinstance(covariate, RatioColumns):
                names += [covariate.numerator, covariate.denominator]
            else:
                names.append(covariate)
        return list(dict.fromkeys(names))

    def role(self, metric: str) -> str:
        if metric == self.primary_metric.name:
            return "primary"
        if any(g.name == metric for g in self.guardrail_metrics):
            return "guardrail"
        return "secondary"


@dataclass(frozen=True, eq=False)
class Observations:
    """One row per unit: its id, its variant and a float column per metric or covariate."""

    path: str
    unit_ids: np.ndarray  # str objects
    variants: np.ndarray  # str objects
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)  # float64 each

    def __len__(self) -> int:
        return len(self.unit_ids)


@dataclass(frozen=True)
class Experiment:
    """An experiment as read from the workspace: its definition and its observations."""

    definition: ExperimentDefinition
    source: str  # the YAML file
    observations: Observations | None = None  # None: no observations file yet
