"""The one exception family users see: one clear sentence, with file and line when known."""
from __future__ import annotations

import contextlib
import copyreg
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

    def __reduce__(self):
        # By state, never by calling __init__ again: a subclass may take other arguments (MyError(code, detail))
        # and still crosses processes (local runs' workers) whole, file and line included.
        return copyreg.__newobj__, (type(self), *self.args), self.__dict__

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


class TriggerParameterError(FlowTriggersError):
    """@trigger_on_finish(parameters=...) cannot set a parameter from the triggering run's artifacts."""


class SettingError(FlowTriggersError):
    """A `[flow_triggers]` setting has a value it cannot have."""


class SecretError(FlowTriggersError):
    """A @secrets source cannot be read when its step starts (its message never holds a secret's value)."""


class TaggingError(FlowTriggersError):
    """A run's tags cannot be changed as asked (Metaflow's MetaflowTaggingError)."""


class StepFailed(FlowTriggersError):
    """A step raised; the step's own traceback has been printed already."""


class TimeoutException(FlowTriggersError):
    """@timeout: the step ran past its limit (raised in the step, as Metaflow's, so @retry and @catch apply)."""
    metaflow_name = "metaflow.plugins.timeout_decorator.TimeoutException"


class FailureHandledByCatch(FlowTriggersError):
    """What @catch keeps when the step's last attempt crashed (its process died): Metaflow's fallback attempt."""
    metaflow_name = "metaflow.plugins.catch_decorator.FailureHandledByCatch"


class ExternalCommandFailed(FlowTriggersError):
    """Metaflow's exception for a command a step ran that failed, for flows that raise it."""
    metaflow_name = "metaflow.exception.ExternalCommandFailed"


class UnhandledInMergeArtifactsException(ArtifactError):
    """merge_artifacts: artifacts whose values differ between the join's inputs (Metaflow's name);
    `artifact_names` lists them."""
    metaflow_name = "metaflow.exception.UnhandledInMergeArtifactsException"

    def __init__(self, message: str, artifact_names=(), file: str | None = None, line: int | None = None):
        super().__init__(message, file, line)
        self.artifact_names = list(artifact_names)


class MissingInMergeArtifactsException(FlowDefinitionError):
    """merge_artifacts(include=...) names artifacts that no input has (Metaflow's name); `artifact_names`
    lists them."""
    metaflow_name = "metaflow.exception.MissingInMergeArtifactsException"

    def __init__(self, message: str, artifact_names=(), file: str | None = None, line: int | None = None):
        super().__init__(message, file, line)
        self.artifact_names = list(artifact_names)


def type_name(error: BaseException) -> str:
    """'module.Class' of `error`, as @catch's `.type` and a task's exception name it. The exceptions that
    stand for Metaflow's own give Metaflow's name, so a flow comparing `self.ex.type` to
    'metaflow.plugins.timeout_decorator.TimeoutException' keeps working (a subclass gives its own name)."""
    kind = type(error)
    return kind.__dict__.get("metaflow_name") or f"{kind.__module__}.{kind.__name__}"


def told_in_one_sentence(error: BaseException) -> bool:
    """Whether a task's `error` is one of this package's own, told as its one sentence. Anything else a step
    raises, a user's subclass of FlowTriggersError included, is the step's own: told by its traceback, with
    its type name. So is @timeout's TimeoutException, raised in the step's code where it was."""
    return isinstance(error, FlowTriggersError) and not isinstance(error, TimeoutException) and \
        type(error).__module__.split(".")[0] == __name__.split(".")[0]


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
