"""opsledger: operational records in, reliability and maintenance decisions out."""

from opsledger.config import Config, load_config
from opsledger.errors import InputError, OpsledgerError
from opsledger.problems import Problem, ReadResult
from opsledger.workspace import InputKey, Workspace, open_workspace

__version__ = "0.1.0"

__all__ = [
    "Config",
    "InputError",
    "InputKey",
    "OpsledgerError",
    "Problem",
    "ReadResult",
    "Workspace",
    "__version__",
    "load_config",
    "open_workspace",
]
