"""Human handover: the workflow the turn starts, and its four task handlers."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.data_files import DATA
from chalicelib.adapters.dynamodb_store import DynamoDbSessionStore
from chalicelib.adapters.usage_meter import InvocationMeter
from chalicelib.errors import SettingMissingError

if TYPE_CHECKING:  # built only by the handlers that need them: kept off the turn's cold start
    from chalicelib.domain.handover import ContactAttributes, HandoverPolicy, HandoverWorkflow
    from chalicelib.domain.language import Languages
    from chalicelib.usecases.handover import AgentConnected, OfferCallback, PrepareHandover, WaitForAgent
    from chalicelib.usecases.run_tools import RunTools


class HandoverParts:
    """The handover workflow and its tasks (a part of ``Container``)."""

    settings: Any
    clock: Any
    dynamodb_client: Any
    stepfunctions_client: Any

    task_client: Callable[[str], Any]  # AwsClients
    tool_runner_into: Callable[[InvocationMeter], RunTools | None]  # TurnParts
    languages: Languages  # TurnParts: every language under data/languages/, loaded at start-up

    @cached_property
    def handover_policy(self) -> HandoverPolicy:
        from chalicelib.adapters.handover_config import load_handover_policy  # noqa: PLC0415

        return load_handover_policy(DATA / self.settings.handover_file)

    @cached_property
    def handover_workflow(self) -> HandoverWorkflow | None:
        """The handover workflow, or None when no state machine is configured."""
        arn = self.settings.handover_state_machine_arn
        if not arn:
            return None
        from chalicelib.adapters.stepfunctions_handover import StepFunctionsHandoverWorkflow  # noqa: PLC0415

        return StepFunctionsHandoverWorkflow(self.stepfunctions_client, arn)

    @cached_property
    def unmetered_session_store(self) -> DynamoDbSessionStore:
        """The session store of work that is not a turn (the workflow's tasks, the transcriber's
        session reads): it records into no meter, so no turn's ledger is charged for it."""
        s = self.settings
        return DynamoDbSessionStore(self.dynamodb_client, s.table_name, s.session_ttl_seconds)

    @cached_property
    def contact_attributes(self) -> ContactAttributes:
        """Amazon Connect's contact attributes on the stage's instance (the agent's summary)."""
        s = self.settings
        if not s.connect_instance_id:
            raise SettingMissingError("SWITCHBOARD_CONNECT_INSTANCE_ID is not set (the stack's ConnectInstanceId)")
        from chalicelib.adapters.connect_contact_attributes import ConnectContactAttributes  # noqa: PLC0415

        return ConnectContactAttributes(self.task_client("connect"), s.connect_instance_id)

    @cached_property
    def handover_tools(self) -> RunTools | None:
        """A tool runner for the callback: its own meter, so no turn is charged for it; its vault
        (``tool_runner_into``) gives ``book_callback`` the caller's number behind ``callback_ref``."""
        return self.tool_runner_into(InvocationMeter())

    @cached_property
    def prepare_handover(self) -> PrepareHandover:
        """The summary task, with every language's summary template (the turn's languages,
        ``TurnParts.languages``): a language that is not valid stops the function when it is
        built, at its first invocation, not when a call in that language is handed over."""
        from chalicelib.usecases.handover import PrepareHandover  # noqa: PLC0415

        return PrepareHandover(self.unmetered_session_store, self.contact_attributes, self.clock,
                               self.handover_policy, self.languages)  # fmt: skip

    @cached_property
    def wait_for_agent(self) -> WaitForAgent:
        from chalicelib.usecases.handover import WaitForAgent  # noqa: PLC0415

        return WaitForAgent(self.unmetered_session_store, self.clock)

    @cached_property
    def offer_callback(self) -> OfferCallback:
        from chalicelib.usecases.handover import OfferCallback  # noqa: PLC0415

        return OfferCallback(self.unmetered_session_store, self.clock, self.handover_tools, self.handover_policy)

    @cached_property
    def agent_connected(self) -> AgentConnected:
        from chalicelib.usecases.handover import AgentConnected  # noqa: PLC0415

        workflow = self.handover_workflow
        if workflow is None:
            raise SettingMissingError("SWITCHBOARD_HANDOVER_STATE_MACHINE_ARN is not set")
        return AgentConnected(self.unmetered_session_store, workflow, self.clock)
