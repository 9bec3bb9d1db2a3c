"""The project's scripts in ``infra/`` and ``bench/`` (files run as ``python infra/x.py``, not
package modules), imported by path: the simulator runs the same code a user runs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_script(relative: str) -> ModuleType:
    """The script at ``ROOT / relative`` as a module (imported once per process)."""
    name = "script_" + relative.replace("/", "_").removesuffix(".py")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / relative)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(relative)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while a class is made
        spec.loader.exec_module(module)
    return sys.modules[name]
