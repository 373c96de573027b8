"""The root command's subcommands, each module imported when one of its commands is used.

A command runs with the modules it needs and no others: ``opsledger slo status`` does not
import, nor build the options of, the fifty other commands. Help, which lists them all,
loads them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

# The root is made with these, and so is each holder that builds another module's commands
# (commands_of), so that those are built as the root builds its own.
SETTINGS: dict[str, Any] = {"add_completion": False, "pretty_exceptions_enable": False,
                            "rich_markup_mode": None}

# The modules of ``opsledger.cli`` that add commands to the root (their ``register``), and
# the commands each adds, in the order help lists them after the root's own.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "protocols": ("run", "approve", "waive", "not-applicable", "gates"),
    "capacity": ("capacity",),
    "cost": ("cost",),
    "experiment": ("experiment",),
    "forecast": ("forecast",),
    "incidents": ("incidents",),
    "patch": ("patch",),
    "quality": ("quality",),
    "rollback": ("rollback",),
    "slo": ("slo",),
}


def commands_of(module: str) -> dict[str, Any]:
    """Return the commands that ``opsledger.cli.<module>`` adds to the root, built as the root
    builds its own (same settings), by name."""
    holder = typer.Typer(**SETTINGS)
    importlib.import_module(f"opsledger.cli.{module}").register(holder)
    return dict(typer.main.get_group(holder).commands)


class Subcommands(MutableMapping[str, Any]):
    """A group's commands by name: its own, then those of ``modules`` (module to the names
    it adds), each module's built by ``load`` on first use. Names and order are known without
    loading anything."""

    def __init__(
        self,
        own: Mapping[str, Any],
        modules: Mapping[str, Sequence[str]] = COMMAND_MODULES,
        load: Callable[[str], Mapping[str, Any]] = commands_of,
    ) -> None:
        self._load = load
        self._built: dict[str, Any] = dict(own)
        self._module_of = {name: module for module, names in modules.items() for name in names}
        self._names = [*own, *(name for name in self._module_of if name not in own)]

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            module = self._module_of[name]  # KeyError: no such command
            self._built.update(self._load(module))
        return self._built[name]

    def __contains__(self, name: object) -> bool:
        return name in self._built or name in self._module_of

    def __setitem__(self, name: str, command: Any) -> None:
        if name not in self:
            self._names.append(name)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._names.remove(name)
        self._built.pop(name, None)
        self._module_of.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)


class RootGroup(TyperGroup):
    """The ``opsledger`` command: its own commands, then the other modules', loaded lazily."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = Subcommands(self.commands)
