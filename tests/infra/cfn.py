"""Read ``infra/template.json`` as CloudFormation would name things, offline.

``Resolver`` resolves the intrinsic functions the template uses (``Fn::Sub``, ``Ref``,
``Fn::GetAtt``, ``Fn::If``) in a placeholder account, so tests can compare names and ARNs with
``.chalice/config.json``; it is ``infra/check_deploy.py``'s, which resolves the role policies
parliament reads the same way.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from typing import Any

from tests.conftest import ROOT

TEMPLATE_PATH = ROOT / "infra" / "template.json"


def load_template() -> dict[str, Any]:
    return json.loads(TEMPLATE_PATH.read_text())


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def _check_deploy() -> Any:
    """``infra/check_deploy.py`` (a script, not a package module), imported once."""
    name = "infra_check_deploy"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "infra" / "check_deploy.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
    return sys.modules[name]


from sim.cfn_template import references  # noqa: E402 - beside the resolver it complements

check_deploy = _check_deploy()
# One resolver for the tests and for parliament's input (infra/check_deploy.py).
Resolver = check_deploy.PlaceholderResolver


# One reader of a value's references, the simulator's (it also knows GetAtt's string form and
# Fn::Sub's list form).
intrinsic_references = references
