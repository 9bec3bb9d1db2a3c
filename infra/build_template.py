"""Embed ``infra/dashboard.json`` and ``infra/handover.asl.json`` into ``infra/template.json``
so they never drift, and stamp the Lex bot's definition on its version.

``infra/template.json`` is edited by hand, except for three values. The ``Dashboard`` resource's
``DashboardBody`` is written from ``infra/dashboard.json`` (an ``Fn::Sub`` over
the dashboard's JSON text, whose only substitution is ``${AWS::Region}``). Top-level keys that
start with ``_`` (``_comment``) are documentation and are left out of the body: CloudWatch
validates the body against its own schema. The ``HandoverStateMachine`` resource's
``DefinitionString`` is ``infra/handover.asl.json`` as compact JSON; its ``${...}`` names are the
resource's ``DefinitionSubstitutions`` (the task functions' ARNs), which CloudFormation fills in.
The ``LexBotVersion`` resource's ``Description`` carries a digest of the ``LexBot`` resource and the
``TurnPath`` parameter: Lex publishes a new version only when the version resource changes ("if
the DRAFT version ... hasn't changed since you created the last version, Amazon Lex doesn't create
a new version"), so a changed bot, or a changed turn path, must change this property too.

    python infra/build_template.py           rewrite infra/template.json
    python infra/build_template.py --check   exit 1 if infra/template.json is out of date

The file is written in one stable layout (containers that fit on a line stay on one line), so
running the script twice changes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

INFRA = Path(__file__).resolve().parent
TEMPLATE = INFRA / "template.json"
DASHBOARD = INFRA / "dashboard.json"
DASHBOARD_RESOURCE = "Dashboard"
HANDOVER_ASL = INFRA / "handover.asl.json"
STATE_MACHINE_RESOURCE = "HandoverStateMachine"
ALLOWED_SUBSTITUTIONS = {"${AWS::Region}"}
BOT_RESOURCE = "LexBot"
BOT_VERSION_RESOURCE = "LexBotVersion"
WIDTH = 110


def dashboard_body(path: Path = DASHBOARD) -> str:
    """The dashboard's JSON text as CloudWatch gets it (before ``Fn::Sub``): compact, without
    documentation keys."""
    dashboard = json.loads(path.read_text())
    body = {k: v for k, v in dashboard.items() if not k.startswith("_")}
    text = json.dumps(body, separators=(",", ":"))
    found = set(re.findall(r"\$\{[^}]*\}", text))
    if found - ALLOWED_SUBSTITUTIONS:
        raise ValueError(f"{path.name}: unexpected substitutions {sorted(found - ALLOWED_SUBSTITUTIONS)}")
    return text


def embedded_body(template: dict[str, Any]) -> str:
    """The ``Fn::Sub`` text of the template's dashboard body."""
    return str(template["Resources"][DASHBOARD_RESOURCE]["Properties"]["DashboardBody"]["Fn::Sub"])


def state_machine_definition(path: Path = HANDOVER_ASL) -> str:
    """The handover ASL as Step Functions gets it (before ``DefinitionSubstitutions``)."""
    return json.dumps(json.loads(path.read_text()), separators=(",", ":"))


def bot_version_description(template: dict[str, Any]) -> dict[str, str]:
    """The ``LexBotVersion`` description: a digest of the bot's declaration, and the turn path
    (``Fn::Sub``), since ``TurnPath`` switches the fallback intent's code hook."""
    bot = json.dumps(template["Resources"][BOT_RESOURCE], sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(bot.encode()).hexdigest()[:16]
    return {"Fn::Sub": f"LexBot sha256 {digest}, turn path ${{TurnPath}} (written by infra/build_template.py)"}


def build(template: dict[str, Any], body: str, definition: str | None = None) -> dict[str, Any]:
    template["Resources"][DASHBOARD_RESOURCE]["Properties"]["DashboardBody"] = {"Fn::Sub": body}
    if STATE_MACHINE_RESOURCE in template["Resources"]:
        props = template["Resources"][STATE_MACHINE_RESOURCE]["Properties"]
        props["DefinitionString"] = definition if definition is not None else state_machine_definition()
    if BOT_VERSION_RESOURCE in template["Resources"]:
        props = template["Resources"][BOT_VERSION_RESOURCE]["Properties"]
        props["Description"] = bot_version_description(template)
    return template


def render(value: Any, indent: int = 0) -> str:
    """JSON with 2-space indentation; a container that fits in ``WIDTH`` stays on one line."""
    one_line = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, dict | list) or not value or indent + len(one_line) <= WIDTH:
        return one_line
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {render(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + render(v, indent + 2) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the template is up to date")
    args = parser.parse_args(argv)
    current = TEMPLATE.read_text()
    wanted = render(build(json.loads(current), dashboard_body())) + "\n"
    if args.check:
        if current != wanted:
            print(f"{TEMPLATE.name} is out of date: run python infra/build_template.py", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        TEMPLATE.write_text(wanted)
        print(f"{TEMPLATE.name} updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
