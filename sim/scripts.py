"""The project's scripts in ``infra/`` and ``bench/`` (files run as ``python infra/x.py``, not
package modules), imported by path: the simulator runs the same code a user runs."""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
_loading = threading.Lock()  # a script is in sys.modules before it has run: one loader at a time


def load_script(relative: str) -> ModuleType:
    """The script at ``ROOT / relative`` as a module (imported once per process)."""
    name = "script_" + relative.replace("/", "_").removesuffix(".py")
    with _loading:
        return _load(name, relative)


def _load(name: str, relative: str) -> ModuleType:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / relative)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(relative)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while a class is made
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]  # a script that failed to load is not half there
            raise
    return sys.modules[name]
