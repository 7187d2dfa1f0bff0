"""The one exception family users see: one clear sentence, with file and line when known."""
from __future__ import annotations

import contextlib
import inspect
import os
import sys


class FlowTriggersError(Exception):
    """A user-facing error: what is wrong and how to fix it, in one sentence."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __reduce__(self):  # keep file and line across processes (local runs' workers)
        return type(self), (self.message, self.file, self.line)

    def __str__(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}: {self.message}"
        if self.file:
            return f"{self.file}: {self.message}"
        return self.message


class NamingError(FlowTriggersError):
    """A project, branch, user or flow name breaks the naming rules."""


class FlowDefinitionError(FlowTriggersError):
    """The flow class, its steps, decorators or parameters are malformed."""


class CommandLineError(FlowTriggersError):
    """The command line asks for something that cannot be done."""


class ArtifactError(FlowTriggersError):
    """An artifact cannot be stored or read."""


class RunNotFoundError(FlowTriggersError):
    """A flow, run, step or task does not exist in the artifact store."""


class RunNotSuccessfulError(FlowTriggersError):
    """A run exists but did not succeed (it failed, or has not finished), where a successful one is needed."""


class SettingError(FlowTriggersError):
    """A `[flow_triggers]` setting has a value it cannot have."""


class StepFailed(FlowTriggersError):
    """A step raised; the step's own traceback has been printed already."""


def source_location(obj) -> tuple[str | None, int | None]:
    """The file and first line (decorators included) of a class or function, for error messages."""
    try:
        return inspect.getsourcefile(obj), inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return None, None


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def caller_location() -> tuple[str | None, int | None]:
    """The file and line of the first caller outside this package: where a decorator or Parameter is written."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    return (frame.f_code.co_filename, frame.f_lineno) if frame is not None else (None, None)


@contextlib.contextmanager
def located(where):
    """Errors raised inside that name no place get the file and line `where`: a (file, line) pair, or a
    function returning one, called only on error (finding a class's source costs ~1 ms per flow file)."""
    try:
        yield
    except FlowTriggersError as error:
        if error.file is None:
            error.file, error.line = where() if callable(where) else where
        raise error.with_traceback(None) from None


def located_at(obj):
    """Errors raised inside that name no place get the file and line of `obj` (a flow class)."""
    return located(lambda: source_location(obj))


def install_excepthook() -> None:
    """Flow files raise our errors at import (e.g. a bad @project name): print them as one line."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        if isinstance(value, FlowTriggersError):
            print(f"error: {value}", file=sys.stderr)
        else:
            previous(kind, value, tb)

    sys.excepthook = hook
