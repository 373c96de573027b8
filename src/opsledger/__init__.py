"""opsledger: operational records in, reliability and maintenance decisions out."""

from opsledger.core.config import Config, load_config
from opsledger.core.errors import InputError, OpsledgerError
from opsledger.core.problems import Problem, ReadResult
from opsledger.core.workspace import InputKey, Workspace, open_workspace

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
