"""Code packages: the flow file and the Python files of its folder tree, as Metaflow's code package, with
the default files of its IncludeFile parameters.

A package is every `*.py` file under the flow file's folder, leaving out hidden folders, virtualenvs
and `__pycache__`, up to `[flow_triggers] max_package_size` megabytes. It is named by the SHA-256 of
its listing (each file's path and the SHA-256 of its bytes), so the same code is the same package
wherever it is stored, and a package changed after it was written no longer has its name.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .. import config
from ..errors import CommandLineError

SKIPPED_FOLDERS = frozenset({"__pycache__", "site-packages", "node_modules"})
MAX_PATH_LENGTH = 400


@dataclass(frozen=True)
class CodePackage:
    flow_file: str                 # the flow file's path inside the package
    files: dict[str, bytes]        # POSIX path inside the package -> content

    @property
    def sha256(self) -> str:
        return digest(self.files)

    @property
    def data_files(self) -> list[str]:
        """The files that are not Python: the flow's IncludeFile defaults."""
        return [path for path in self.files if not path.endswith(".py")]

    @property
    def size(self) -> int:
        return sum(len(content) for content in self.files.values())


def size_limit() -> int:
    """The largest package, in bytes."""
    megabytes = config.get_number("max_package_size")
    return int((20 if megabytes is None else megabytes) * 1024 * 1024)


def collect(flow_file: Path, leave_out: tuple[Path, ...] = (), data_files: tuple[str, ...] = ()) -> CodePackage:
    """The package of `flow_file`: the Python files of its folder tree (not those under `leave_out`), and
    `data_files` (the flow's IncludeFile defaults, paths relative to its folder)."""
    top = flow_file.parent.resolve()
    extra = {}
    for name in data_files:
        path = (top / name).resolve()
        if not path.is_file() or not path.is_relative_to(top) or path_problem(path.relative_to(top).as_posix(),
                                                                                 data=True):
            raise CommandLineError(f"The IncludeFile default '{name}' is not a file in {top}, the flow's folder, "
                                   "so it cannot be deployed with the flow: put the file there, under the same "
                                   "path, or drop the default.")
        extra[path.relative_to(top).as_posix()] = path.read_bytes()
    leave_out = tuple(path.resolve() for path in leave_out)
    limit, total, files = size_limit(), 0, {}
    for folder, subfolders, names in os.walk(top):
        here = Path(folder)
        subfolders[:] = sorted(name for name in subfolders if not _skipped(here / name, leave_out))
        for name in sorted(names):
            if not name.endswith(".py") or name.startswith("."):
                continue
            path = here / name
            content = path.read_bytes()
            total += len(content)
            if total > limit:
                raise CommandLineError(
                    f"The code package of {flow_file.name} is over {_megabytes(limit)} ([flow_triggers] "
                    f"max_package_size): it holds every *.py file under {top}; move unrelated Python files out "
                    "of that folder, or raise the limit.")
            files[path.relative_to(top).as_posix()] = content
    files.update(extra)
    if total + sum(len(content) for content in extra.values()) > limit:
        raise CommandLineError(f"The code package of {flow_file.name} is over {_megabytes(limit)} ([flow_triggers] "
                               "max_package_size) with its IncludeFile defaults: make them smaller, or raise the "
                               "limit.")
    return CodePackage(flow_file.resolve().relative_to(top).as_posix(), files)


def _skipped(folder: Path, leave_out: tuple[Path, ...]) -> bool:
    return (folder.name.startswith(".") or folder.name in SKIPPED_FOLDERS or (folder / "pyvenv.cfg").exists()
            or folder.resolve() in leave_out)


def checked(flow_file: str, files: dict[str, bytes], data_files: list[str] = ()) -> CodePackage:
    """A package as another machine sent it, after the checks that need no code to run: paths and size."""
    for path in files:
        problem = path_problem(path, data=path in data_files)
        if problem:
            raise CommandLineError(f"The code package holds the file {path!r}, which {problem}: a package holds "
                                   "only *.py files under the flow file's folder, and its IncludeFile defaults.")
    if flow_file not in files:
        raise CommandLineError(f"The code package does not hold its flow file {flow_file!r}.")
    package = CodePackage(flow_file, dict(files))
    if package.size > size_limit():
        raise CommandLineError(f"The code package is {_megabytes(package.size)}, over the limit of "
                               f"{_megabytes(size_limit())} ([flow_triggers] max_package_size on the api-server).")
    return package


def path_problem(path: str, data: bool = False) -> str | None:
    """Why `path` cannot be a file of a package, or None (a Python file, or any `data` file)."""
    pure = PurePosixPath(path)
    if not path or len(path) > MAX_PATH_LENGTH or "\\" in path or "\0" in path:
        return "is not a relative POSIX path"
    if pure.is_absolute() or any(part in ("", ".", "..") for part in path.split("/")):
        return "leaves the package's folder"
    if any(part.startswith(".") or part in SKIPPED_FOLDERS for part in pure.parts):
        return "is in a hidden or skipped folder"
    if pure.suffix != ".py" and not data:
        return "is not a Python file"
    return None


def is_package_name(name: str) -> bool:
    """Whether `name` is a package's folder name in the store: a SHA-256 in hexadecimal."""
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def digest(files: dict[str, bytes]) -> str:
    """The package's name: SHA-256 over its sorted paths and the SHA-256 of each file."""
    listing = hashlib.sha256()
    for path in sorted(files):
        listing.update(f"{path}\0{hashlib.sha256(files[path]).hexdigest()}\n".encode())
    return listing.hexdigest()


def read_folder(folder) -> dict[str, bytes]:
    """A package as it lies in a folder, local or in object storage (Python's own `__pycache__` left out)."""
    files = {}
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).as_posix()
        if "__pycache__" not in relative.split("/") and path.is_file():
            files[relative] = path.read_bytes()
    return files


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"
