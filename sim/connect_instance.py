"""The Amazon Connect side of the simulated deployment: the flow a user imports, filled for the
simulated instance, its Lex bot, and how a contact is played through them.

What a user does after deploying (infra/README.md, *The contact flow*) is done here with the
embedded stack: ``infra/fill_flow.py`` fills the checked-in ``infra/contact-flow.json`` from the
stack's outputs and the instance's ``list-queues`` answer, and the result — exactly what would be
imported — is what ``sim/connect_flow.py`` runs. The bot is the template's, for the deployment's
``TurnPath`` (``sim/lex_bot.py``).

Stand-ins, labelled: moto emulates no Connect queues, phone numbers or agents, so the simulated
instance's queues are ``SIM_QUEUE_NAMES`` (the names ``chalicelib/data/handover.json`` and
``sim/handover.sim.json`` route to, and the instance's ``BasicQueue``), with ARNs made from the
stack's Connect instance id; the instance's number is ``SIM_PHONE_NUMBER``. No queue is ever at
capacity.
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from sim.connect_flow import (
    AsyncInvoker,
    Caller,
    ConnectInstance,
    Contact,
    ContactReport,
    FlowRun,
    Invoker,
    LambdaCall,
    LambdaResult,
    MediaSource,
)
from sim.flow_language import ContactFlow
from sim.lex_bot import LexBot, LexRuntime, bot_from_template
from sim.moto_stack import APP_NAME, load_template
from sim.scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
FLOW = ROOT / "infra" / "contact-flow.json"

# --- the simulated instance (stand-ins: moto has no Connect queues or numbers) -------------------
SIM_QUEUE_NAMES = ("BasicQueue", "GeneralSupport", "AccountServices", "FraudTeam", "Complaints", "Bereavement",
                   "GeneralSupportSpanish", "AccountServicesSpanish", "FraudTeamSpanish")  # fmt: skip
SIM_PHONE_NUMBER = "+15555550199"

TurnPath = Literal["LexCodeHook", "InvokeLambda"]
# A recorded call's ``format``: how its turns reach the turn function, i.e. the deployment's TurnPath.
TURN_PATHS: dict[str, TurnPath] = {"connect": "InvokeLambda", "lex": "LexCodeHook"}


def fill_flow_module() -> Any:
    """``infra/fill_flow.py``, the runbook's flow step."""
    return load_script("infra/fill_flow.py")


def stack_outputs(harness: Any) -> dict[str, str]:
    """The stack's outputs on the embedded AWS (``describe-stacks``, as the harness deployed it)."""
    deployment = getattr(harness, "deployment", None)
    if deployment is None:
        raise RuntimeError("the harness has not deployed the stack (start it first)")
    return dict(deployment.outputs)


def stack_parameters(harness: Any) -> dict[str, str]:
    """The stack's parameter values (``Stage``, ``TurnPath``, ``ConnectInstanceId``, ...)."""
    deployment = getattr(harness, "deployment", None)
    return dict(deployment.parameters) if deployment is not None else {"Stage": harness.stage}


def list_queues(instance_arn: str) -> dict[str, Any]:
    """The simulated instance's ``aws connect list-queues --output json``."""
    summaries = []
    for name in SIM_QUEUE_NAMES:
        queue_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{instance_arn}/queue/{name}"))
        summaries.append({"Id": queue_id, "Arn": f"{instance_arn}/queue/{queue_id}", "Name": name,
                          "QueueType": "STANDARD"})  # fmt: skip
    return {"QueueSummaryList": summaries}


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """``(partition, region, account)`` of an ARN."""
    _, partition, _, region, account, *_ = arn.split(":")
    return partition, region, account


@dataclass(frozen=True)
class SimulatedConnect:
    """The filled flow, the instance, the functions and the bot of one deployment."""

    flow: ContactFlow
    instance: ConnectInstance
    functions: Mapping[str, str]  # function name -> handler name
    bots: Mapping[str, LexBot]  # TurnPath -> the bot as deployed with it
    outputs: Mapping[str, str]
    stage: str

    def play(
        self,
        contact: Contact,
        caller: Caller,
        turn_path: TurnPath,
        invoke: Invoker,
        *,
        invoke_async: AsyncInvoker | None = None,
        media: MediaSource | None = None,
        flow: ContactFlow | None = None,
    ) -> ContactReport:
        """One contact through the flow (or ``flow``), with the bot deployed for ``turn_path``."""
        run = FlowRun(flow or self.flow, contact, caller, invoke=invoke, functions=self.functions,
                      lex=LexRuntime([self.bots[turn_path]]), instance=self.instance, invoke_async=invoke_async,
                      media=media)  # fmt: skip
        return run.run()

    def fill(self, flow: dict[str, Any]) -> dict[str, Any]:
        """``infra/fill_flow.py`` on this deployment's outputs and the instance's queues."""
        queues = {name: arn for arn, name in self.instance.queues.items()}
        return dict(fill_flow_module().fill(flow, dict(self.outputs), queues, stage=self.stage))

    def parse(self, flow: dict[str, Any]) -> ContactFlow:
        """A flow (the checked-in one, or a test's edited copy) filled and checked for this
        deployment: its functions and its bot alias."""
        aliases = frozenset(bot.alias_arn for bot in self.bots.values())
        return ContactFlow.parse(self.fill(flow), functions=self.functions, bots=aliases)


_built: weakref.WeakKeyDictionary[Any, SimulatedConnect] = weakref.WeakKeyDictionary()
_building = threading.Lock()  # sim load's callers ask for it at once, on their first calls


def simulated_connect(harness: Any) -> SimulatedConnect:
    """The Connect side of ``harness``'s deployment (built once per harness)."""
    with _building:
        if harness not in _built:
            _built[harness] = connect_for(stack_outputs(harness), stack_parameters(harness), harness.function_names())
        return _built[harness]


def connect_for(
    outputs: Mapping[str, str],
    parameters: Mapping[str, str],
    handlers: list[str],
    template: dict[str, Any] | None = None,
) -> SimulatedConnect:
    """The Connect side of a deployment with these stack ``outputs`` and ``parameters`` whose
    functions run the app's ``handlers``: the checked-in flow checked, filled and checked again
    against the deployment; the bot for each ``TurnPath``; the simulated instance."""
    stage = parameters.get("Stage", "dev")
    partition, region, account = _arn_parts(outputs["TurnFunctionArn"])
    instance_id = parameters.get("ConnectInstanceId") or str(uuid.uuid5(uuid.NAMESPACE_URL, f"sim-{stage}"))
    instance_arn = f"arn:{partition}:connect:{region}:{account}:instance/{instance_id}"
    arns = fill_flow_module().queue_arns(list_queues(instance_arn))
    template = template or load_template()
    pseudo = {"AWS::Partition": partition, "AWS::Region": region, "AWS::AccountId": account}
    bots = {path: bot_from_template(template, {**parameters, **pseudo, "TurnPath": path}, outputs)
            for path in ("LexCodeHook", "InvokeLambda")}  # fmt: skip
    functions = {f"{APP_NAME}-{stage}-{name}": name for name in handlers}
    instance = ConnectInstance(instance_arn, SIM_PHONE_NUMBER, {arn: name for name, arn in arns.items()})
    checked_in = ContactFlow.load(FLOW, filled=False)  # its own rules first, then the deployment's
    built = SimulatedConnect(checked_in, instance, functions, bots, dict(outputs), stage)
    return replace(built, flow=built.parse(checked_in.source))


def harness_invoker(harness: Any) -> Invoker:
    """Run a handler in the harness's process, as Lambda would: its answer, or the exception's
    class name as the error; as ``detail`` the usage and handler timings it recorded, and when it
    was invoked and returned (``time.monotonic``)."""

    def invoke(call: LambdaCall) -> LambdaResult:
        invoked = time.monotonic()
        started = time.perf_counter()
        try:
            answer = harness.invoke(call.function, call.event)
        except Exception as exc:  # noqa: BLE001 - a function error, as Connect or Lex sees it
            return LambdaResult(None, type(exc).__name__, (time.perf_counter() - started) * 1000)
        elapsed = (time.perf_counter() - started) * 1000
        returned = time.monotonic()
        recorded = harness.last_invocation if call.function == "turn" else {}
        detail = {"usage": tuple(recorded.get("usage", ())), "components": dict(recorded.get("latency_ms", {})),
                  "invoked": invoked, "returned": returned}  # fmt: skip
        return LambdaResult(answer, None, elapsed, detail)

    return invoke
