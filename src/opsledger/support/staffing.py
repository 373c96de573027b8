"""Agents needed to answer contacts in time: Erlang C, Erlang A and shrinkage.

Erlang C is the M/M/n queue (callers wait as long as it takes); Erlang A is M/M/n+M (callers
abandon after an exponentially distributed patience), the model of Palm (1943) as worked out by
Garnett, Mandelbaum and Reiman, "Designing a Call Center with Impatient Customers" (2002).
Both are computed without factorials: the Erlang B recursion
``B(0) = 1, B(k) = a·B(k-1) / (k + a·B(k-1))`` stays in [0, 1] for any load.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MAX_AGENTS = 10_000


def erlang_b(agents: int, traffic: float) -> float:
    """Return the Erlang B blocking probability for ``agents`` servers and ``traffic`` erlangs."""
    if agents < 0 or traffic < 0:
        raise ValueError("agents and traffic must be non-negative")
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return blocking


def erlang_c(agents: int, traffic: float) -> float:
    """Return the probability that a contact waits (Erlang C); 1.0 when the queue is unstable."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    blocking = erlang_b(agents, traffic)
    return agents * blocking / (agents - traffic * (1.0 - blocking))


@dataclass(frozen=True)
class QueueFigures:
    """How one staffing level performs against one interval's contacts."""

    model: str  # "erlang-c" or "erlang-a"
    agents: int
    traffic_erlangs: float
    p_wait: float
    service_level: float  # share of all contacts answered within the target time
    asa_seconds: float  # mean wait in queue over all contacts (abandoned ones: until they left)
    occupancy: float  # share of agent time spent handling contacts
    p_abandon: float | None = None  # Erlang A only

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model,
            "agents": self.agents,
            # Six decimals, so that a figure shown to a tenth of a percent is rounded once.
            "traffic_erlangs": round(self.traffic_erlangs, 6),
            "p_wait": round(self.p_wait, 6),
            "service_level": round(self.service_level, 6),
            "asa_seconds": round(self.asa_seconds, 2) if math.isfinite(self.asa_seconds) else None,
            "occupancy": round(self.occupancy, 6),
            "p_abandon": None if self.p_abandon is None else round(self.p_abandon, 6),
        }


def erlang_c_figures(
    agents: int,
    contacts: float,
    interval_seconds: float,
    handle_seconds: float,
    answer_seconds: float,
) -> QueueFigures:
    """Return Erlang C figures for ``contacts`` arriving over ``interval_seconds``."""
    traffic = contacts * handle_seconds / interval_seconds
    if traffic <= 0:
        return QueueFigures("erlang-c", agents, 0.0, 0.0, 1.0, 0.0, 0.0)
    if agents <= traffic:
        # Unstable: the queue grows without bound, nobody is answered in time on average.
        return QueueFigures("erlang-c", agents, traffic, 1.0, 0.0, math.inf, 1.0)
    p_wait = erlang_c(agents, traffic)
    spare = agents - traffic
    service_level = 1.0 - p_wait * math.exp(-spare * answer_seconds / handle_seconds)
    asa = p_wait * handle_seconds / spare
    return QueueFigures("erlang-c", agents, traffic, p_wait, service_level, asa, traffic / agents)


def _log_queue_weights(agents: int, arrival_rate: float, service_rate: float, abandon_rate: float
                       ) -> np.ndarray:
    """Return log of π(n+j)/π(n), j = 0, 1, …, truncated where the terms are negligible.

    In M/M/n+M the queue beyond n in system is a birth-death chain with birth λ and death
    nμ + jθ, so π(n+j)/π(n) = Π_{i=1..j} λ / (nμ + iθ).
    """
    ratio_peak = max(0.0, (arrival_rate - agents * service_rate) / abandon_rate)
    length = int(ratio_peak + 12.0 * math.sqrt(arrival_rate / abandon_rate + 1.0) + 60.0)
    length = min(length, 200_000)
    i = np.arange(1, length + 1, dtype=float)
    steps = np.log(arrival_rate) - np.log(agents * service_rate + i * abandon_rate)
    return np.concatenate(([0.0], np.cumsum(steps)))


def _answered_within(
    agents: int, service_rate: float, abandon_rate: float, ahead: int, answer_seconds: float
) -> np.ndarray:
    """Return, for j = 0..ahead contacts ahead in queue, P(answered within answer_seconds).

    The waiting contact moves up at rate nμ + iθ (i ahead of it) and abandons at rate θ; the
    probability of reaching an agent by time t is computed by uniformisation of that chain.
    """
    if answer_seconds <= 0:
        return np.zeros(ahead + 1)
    from scipy.special import gammaln  # only Erlang A needs it: a review's plan seldom does

    i = np.arange(ahead + 1, dtype=float)
    advance = agents * service_rate + i * abandon_rate
    uniform_rate = float(advance[-1] + abandon_rate)
    p_advance = advance / uniform_rate
    p_stay = 1.0 - (advance + abandon_rate) / uniform_rate
    mean_jumps = uniform_rate * answer_seconds
    # Poisson mass beyond eight standard deviations (plus a margin for small means) is < 1e-15.
    jumps = int(mean_jumps + 8.0 * math.sqrt(mean_jumps) + 30.0)
    m = np.arange(jumps + 1, dtype=float)
    weights = np.exp(m * math.log(mean_jumps) - mean_jumps - gammaln(m + 1.0))
    reached = np.zeros(ahead + 1)  # P(answered within m jumps | j ahead)
    before = np.zeros(ahead + 1)  # the same, one place further ahead
    before[0] = 1.0  # the head of the queue is answered when an agent frees up
    answered = np.zeros(ahead + 1)
    for weight in weights[1:]:
        reached = p_stay * reached + p_advance * before
        before[1:] = reached[:-1]
        answered += weight * reached
    return answered


def erlang_a_figures(
    agents: int,
    contacts: float,
    interval_seconds: float,
    handle_seconds: float,
    answer_seconds: float,
    patience_seconds: float,
) -> QueueFigures:
    """Return Erlang A (M/M/n+M) figures: contacts abandon after a mean ``patience_seconds``."""
    arrival_rate = contacts / interval_seconds
    service_rate = 1.0 / handle_seconds
    abandon_rate = 1.0 / patience_seconds
    traffic = arrival_rate / service_rate
    if traffic <= 0:
        return QueueFigures("erlang-a", agents, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
    if agents == 0:
        return QueueFigures("erlang-a", 0, traffic, 1.0, 0.0, patience_seconds, 0.0, 1.0)
    log_weights = _log_queue_weights(agents, arrival_rate, service_rate, abandon_rate)
    top = float(log_weights.max())
    # log A(nμ/θ, λ/θ) in Garnett et al.'s notation, summed without overflow.
    log_queue_sum = top + math.log(float(np.exp(log_weights - top).sum()))
    blocking = erlang_b(agents, traffic)
    if blocking <= 0.0:
        p_wait = 0.0
    else:
        # P(W>0) = A·E / (1 + (A−1)·E), written to avoid overflow of A.
        p_wait = 1.0 / (1.0 + (1.0 - blocking) / blocking * math.exp(-log_queue_sum))
    load = traffic / agents
    p_abandon_given_wait = math.exp(-log_queue_sum) / load + 1.0 - 1.0 / load
    p_abandon = min(1.0, max(0.0, p_wait * p_abandon_given_wait))
    ahead_share = np.exp(log_weights - log_queue_sum)
    # Queue positions past the last 1e-13 of probability cannot move the service level, but
    # their fast abandonment would raise the uniformisation rate (and the work) for all.
    deepest = int(np.searchsorted(np.cumsum(ahead_share), 1.0 - 1e-13)) + 1
    ahead_share = ahead_share[: min(deepest, len(ahead_share))]
    answered = _answered_within(
        agents, service_rate, abandon_rate, len(ahead_share) - 1, answer_seconds
    )
    service_level = (1.0 - p_wait) + p_wait * float(np.dot(ahead_share, answered))
    # Little's law on the queue: abandonments per second θ·E[Q] = λ·P(Ab), so E[W] = P(Ab)/θ.
    mean_wait = p_abandon / abandon_rate
    occupancy = traffic * (1.0 - p_abandon) / agents
    return QueueFigures(
        "erlang-a", agents, traffic, p_wait, service_level, mean_wait, occupancy, p_abandon
    )


def queue_figures(
    agents: int,
    contacts: float,
    interval_seconds: float,
    handle_seconds: float,
    answer_seconds: float,
    patience_seconds: float | None = None,
) -> QueueFigures:
    """Return Erlang A figures when a patience is given, else Erlang C figures."""
    if patience_seconds is None:
        return erlang_c_figures(agents, contacts, interval_seconds, handle_seconds, answer_seconds)
    return erlang_a_figures(
        agents, contacts, interval_seconds, handle_seconds, answer_seconds, patience_seconds
    )


def agents_needed(
    contacts: float,
    interval_seconds: float,
    handle_seconds: float,
    service_level: float,
    answer_seconds: float,
    occupancy_cap: float = 1.0,
    patience_seconds: float | None = None,
) -> QueueFigures:
    """Return the figures of the fewest agents that meet the service level and occupancy cap.

    No contacts need no agents. Service level rises and occupancy falls as agents are added,
    so the answer is bracketed by doubling steps from a first guess, then bisected. Erlang C
    needs more agents than erlangs; Erlang A may need fewer, and starts from the Erlang C answer
    (usually within a few agents of its own).
    """
    if contacts < 0 or interval_seconds <= 0 or handle_seconds <= 0:
        raise ValueError("contacts must be non-negative, interval and handle time positive")
    if contacts == 0:
        return queue_figures(0, 0.0, interval_seconds, handle_seconds, answer_seconds,
                             patience_seconds)
    traffic = contacts * handle_seconds / interval_seconds

    def meets(agents: int, patience: float | None) -> QueueFigures | None:
        figures = queue_figures(
            agents, contacts, interval_seconds, handle_seconds, answer_seconds, patience
        )
        ok = figures.service_level >= service_level and figures.occupancy <= occupancy_cap + 1e-12
        return figures if ok else None

    erlang_c_answer = _bisect(lambda n: meets(n, None), math.floor(traffic), None, traffic)
    if patience_seconds is None:
        return erlang_c_answer
    return _bisect(lambda n: meets(n, patience_seconds), 0, erlang_c_answer.agents, traffic)


def _bisect(
    meets: Callable[[int], QueueFigures | None], failing: int, guess: int | None, traffic: float
) -> QueueFigures:
    """Return the figures of the smallest agent count above ``failing`` for which ``meets``."""
    found: QueueFigures | None = None
    enough = failing + 1 if guess is None else guess
    found = meets(enough)
    step = 1
    if found is not None:  # walk down from the guess until a count fails
        while enough - step > failing:
            lower = meets(enough - step)
            if lower is None:
                failing = enough - step
                break
            enough, found = enough - step, lower
            step *= 2
    else:  # walk up until a count meets the target
        while found is None:
            failing = enough
            enough = failing + step
            step *= 2
            if enough > MAX_AGENTS:
                raise ValueError(f"more than {MAX_AGENTS} agents needed for {traffic:.1f} erlangs")
            found = meets(enough)
    while enough - failing > 1:
        middle = (failing + enough) // 2
        figures = meets(middle)
        if figures is None:
            failing = middle
        else:
            enough, found = middle, figures
    return found


def with_shrinkage(agents: int, shrinkage: float) -> int:
    """Return heads to schedule so that ``agents`` are available after ``shrinkage``."""
    if not 0 <= shrinkage < 1:
        raise ValueError("shrinkage must be in [0, 1)")
    # The small tolerance keeps exact quotients (14 / 0.7 = 20) from rounding up to 21.
    return math.ceil(agents / (1.0 - shrinkage) - 1e-9)
