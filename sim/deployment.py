"""What a user deploys, created on the embedded AWS the way the runbook creates it.

``deploy`` follows ``docs/deploying.md`` step by step, with the embedded AWS in place of an
account:

1. the stack: ``infra/template.json`` created through CloudFormation (moto's), with
   ``ConsumersDeployed=false``; the resource types moto's CloudFormation cannot create are
   created from the template's own properties (``sim/moto_stack.py`` ``MOTO_SKIPS``, each with why);
2. the model key stored in the secret the stack made (``put-secret-value``);
3. the stack's outputs written into a generated copy of ``.chalice/config.json`` by
   ``infra/stage_config.py`` (never the checked-in file);
4. the functions created as ``chalice deploy`` creates them: the name, role, environment,
   memory and timeout chalice resolves for each function of the stage (``chalice.config``);
5. the stack updated with ``ConsumersDeployed=true`` (event source mappings, Lex permission).

Amazon Connect itself is not emulated by moto beyond instances: the stack's Connect instance is
created here (the stack takes its id as a parameter, as a user's instance would be), and the
contact flow is played by ``sim/connect_flow.py``.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalice.config import Config

from sim.cfn_template import parameter_values
from sim.moto_stack import (
    APP_NAME,
    Stack,
    apply_dropped,
    create_skipped,
    for_moto,
    load_template,
    stack_outputs,
    wait,
)
from sim.scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
# What the runbook's step 2 stores in the secret; the simulator's model endpoint takes no key
# (SWITCHBOARD_MODEL_BASE_URL, one of the stand-in endpoints, takes precedence over the secret).
SIM_MODEL_KEY = "sim-scripted-model-endpoint-takes-no-key"


@dataclass(frozen=True)
class FunctionConfig:
    """One packaged function as ``chalice package``/``deploy`` configures it."""

    name: str  # the handler's name in app.py
    function_name: str  # switchboard-<stage>-<name>
    role_arn: str
    environment: dict[str, str]
    memory_mb: int
    timeout_s: int
    reserved_concurrency: int | None


@dataclass
class Deployment:
    """The stack and functions of one stage on the embedded AWS."""

    stage: str
    stack_name: str
    parameters: dict[str, str]
    outputs: dict[str, str]
    physical_ids: dict[str, str]  # logical id -> physical id (moto's and the ones made here)
    created_here: dict[str, str] = field(default_factory=dict)  # logical id -> resource type
    chalice_config_path: Path | None = None
    functions: dict[str, FunctionConfig] = field(default_factory=dict)

    def function(self, name: str) -> FunctionConfig:
        return self.functions[name]


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def packaged_functions(config: dict[str, Any], stage: str, names: list[str]) -> dict[str, FunctionConfig]:
    """Each function's configuration as chalice resolves it for ``stage`` (global, stage and
    per-function settings merged by ``chalice.config.Config``, as ``chalice package`` does)."""
    found = {}
    for name in names:
        resolved = Config(chalice_stage=stage, function_name=name, config_from_disk=config)
        found[name] = FunctionConfig(
            name=name,
            function_name=f"{APP_NAME}-{stage}-{name}",
            role_arn=str(resolved.iam_role_arn),
            environment={k: str(v) for k, v in (resolved.environment_variables or {}).items()},
            memory_mb=int(resolved.lambda_memory_size),
            timeout_s=int(resolved.lambda_timeout),
            reserved_concurrency=resolved.reserved_concurrency,
        )
    return found


def stage_config_module() -> Any:
    """``infra/stage_config.py``, the runbook's step 4."""
    return load_script("infra/stage_config.py")


def _function_code() -> bytes:
    """The zip moto stores for each function; it never runs (``sim/lambda_bridge.py`` runs the
    Chalice handler instead)."""
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    raise NotImplementedError\n")
    return code.getvalue()


def _create_functions(stack: Stack, functions: dict[str, FunctionConfig]) -> None:
    """``chalice deploy``: each function with the role, environment, memory and timeout chalice
    resolves for the stage, arm64, Python 3.11."""
    lambdas = stack.client("lambda")
    code = _function_code()
    for function in functions.values():
        arguments: dict[str, Any] = {
            "FunctionName": function.function_name,
            "Runtime": "python3.11",
            "Role": function.role_arn,
            "Handler": f"app.{function.name}",
            "Code": {"ZipFile": code},
            "Timeout": function.timeout_s,
            "MemorySize": function.memory_mb,
            "Environment": {"Variables": function.environment},
            "Architectures": ["arm64"],
        }
        lambdas.create_function(**arguments)
        if function.reserved_concurrency is not None:
            lambdas.put_function_concurrency(
                FunctionName=function.function_name, ReservedConcurrentExecutions=function.reserved_concurrency
            )


def deploy(
    session: Any,
    endpoint_url: str,
    stage: str,
    function_names: list[str],
    workdir: Path,
    parameters: dict[str, str] | None = None,
    template: dict[str, Any] | None = None,
) -> Deployment:
    """Run the runbook's steps on the embedded AWS; the generated chalice configuration is
    written into ``workdir``."""
    template = template or load_template()
    stack_name = f"{APP_NAME}-{stage}"
    stack = Stack(session, endpoint_url, template, stack_name)
    try:
        account = stack.client("sts").get_caller_identity()["Account"]
        region = session.region_name or "us-east-1"
        instance = stack.client("connect").create_instance(
            IdentityManagementType="CONNECT_MANAGED", InstanceAlias=f"{APP_NAME}-sim-{stage}",
            InboundCallsEnabled=True, OutboundCallsEnabled=False,
        )  # fmt: skip
        given = {
            "Stage": stage,
            "ConsumersDeployed": "false",
            "ConnectInstanceId": instance["Id"],
            **(parameters or {}),
        }
        given = {k: v for k, v in given.items() if k in template.get("Parameters", {})}
        stack.parameters = {
            **parameter_values(template, given),
            "AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws",
            "AWS::StackName": stack_name, "AWS::URLSuffix": "amazonaws.com",
        }  # fmt: skip
        cfn = stack.client("cloudformation")

        def as_parameters(values: dict[str, str]) -> list[dict[str, str]]:
            return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]

        # 1. the stack, as `aws cloudformation deploy` creates it
        cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps(for_moto(template)),
                         Parameters=as_parameters(given), Capabilities=["CAPABILITY_NAMED_IAM"])  # fmt: skip
        wait(stack, "CREATE_COMPLETE")
        stack.refresh()
        apply_dropped(stack)
        created = create_skipped(stack)
        outputs = stack_outputs(stack)
        # 2. the model key, into the secret the stack made
        if "ModelSecretArn" in outputs:
            stack.client("secretsmanager").put_secret_value(
                SecretId=outputs["ModelSecretArn"], SecretString=SIM_MODEL_KEY
            )
        # 3. the stage configuration from the stack's outputs (a generated copy)
        config = json.loads(CHALICE_CONFIG.read_text())
        stage_config_module().apply_outputs(config, stage, outputs)
        workdir.mkdir(parents=True, exist_ok=True)
        config_path = workdir / f"chalice-config.{stage}.json"
        config_path.write_text(json.dumps(config, indent=2) + "\n")
        # 4. the functions, as chalice deploys them
        functions = packaged_functions(config, stage, function_names)
        _create_functions(stack, functions)
        # 5. the stack again, now that the functions exist
        given["ConsumersDeployed"] = "true"
        stack.parameters["ConsumersDeployed"] = "true"
        cfn.update_stack(StackName=stack_name, TemplateBody=json.dumps(for_moto(template)),
                         Parameters=as_parameters(given), Capabilities=["CAPABILITY_NAMED_IAM"])  # fmt: skip
        wait(stack, "UPDATE_COMPLETE")
        stack.refresh()
        created.update(create_skipped(stack))
        outputs = stack_outputs(stack)
        return Deployment(
            stage=stage,
            stack_name=stack_name,
            parameters={k: v for k, v in stack.parameters.items() if not k.startswith("AWS::")},
            outputs=outputs,
            physical_ids=dict(stack.physical),
            created_here=created,
            chalice_config_path=config_path,
            functions=functions,
        )
    finally:
        stack.close()
