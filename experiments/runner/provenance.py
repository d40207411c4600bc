"""Where a result came from: the package version and the git commit of the source tree."""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path


@functools.lru_cache(maxsize=1)
def package_version() -> str:
    """The installed distribution's version, e.g. ``"0.1.0"``."""
    try:
        return metadata.version("codesign-gym")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """Short commit of the source tree this module lives in, ``+dirty`` if it has changes,
    ``"unknown"`` outside a git checkout (e.g. a wheel install)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=here, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def version_string() -> str:
    """``"<version>+g<commit>"``: what every results row records in its ``version`` column."""
    return f"{package_version()}+g{git_commit()}"
