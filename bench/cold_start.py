"""Cold start: the turn handler's imports plus its first tier-0 turn, lazy versus eager.

Each run is a fresh Python process (a new Lambda container) against the embedded AWS (moto
server on 127.0.0.1, started once by this script). The lazy variant is the app as shipped:
boto3 when the first turn needs DynamoDB, openai only for model turns, the X-Ray tracer only
when enabled. The eager variant first imports what a naive handler imports at module level
(boto3 with its client, openai with a client, Powertools Tracer with the X-Ray SDK), then the
same app and turn. Runs alternate, so both see the same machine. Prints one JSON object.

    python bench/cold_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.adapters.data_files import load_envelope  # noqa: E402
from sim.calls import connect_event  # noqa: E402
from sim.deployment import CHALICE_CONFIG, deploy  # noqa: E402

EAGER_PRELUDE = """
import boto3, openai
from aws_lambda_powertools import Tracer
boto3.client("dynamodb", region_name="us-east-1")
openai.OpenAI(api_key="x", base_url="http://127.0.0.1:9/v1")
Tracer(service="switchboard", disabled=True)
"""

CHILD = """
import json, sys, time
started = time.perf_counter()
{prelude}
imported = time.perf_counter()
import app
from chalice.local import LambdaContext
app_imported = time.perf_counter()
answer = app.turn(json.loads(sys.argv[1]), LambdaContext("turn", memory_size=1024, max_runtime_ms=6000))
done = time.perf_counter()
print(json.dumps({{"total_ms": (done - started) * 1000, "prelude_ms": (imported - started) * 1000,
                  "app_import_ms": (app_imported - imported) * 1000, "first_turn_ms": (done - app_imported) * 1000,
                  "answer": answer}}))
"""


def run_child(prelude: str, contact: str, env: dict[str, str]) -> dict[str, float]:
    event = json.dumps(connect_event(contact, "hello", None))
    code = CHILD.format(prelude=prelude)
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code, event], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["answer"].get("intent") == "fallback":
        raise SystemExit(f"first turn failed: {result['answer']} {done.stderr[-2000:]}")
    return result  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    import tempfile

    from sim.embedded_aws import EmbeddedAws

    envelope = load_envelope()
    functions = sorted(json.loads(CHALICE_CONFIG.read_text())["stages"]["dev"]["lambda_functions"])
    with EmbeddedAws() as aws, tempfile.TemporaryDirectory() as workdir:
        deployment = deploy(aws.boto_session(), aws.endpoint_url, "dev", functions, Path(workdir))
        # The turn function as chalice packages it, on the embedded AWS.
        env = {**os.environ, **deployment.function("turn").environment,
               "SWITCHBOARD_AWS_ENDPOINT_URL": aws.endpoint_url,
               "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR"}  # fmt: skip
        env.pop("OPENAI_API_KEY", None)
        env.pop("SWITCHBOARD_MODEL_BASE_URL", None)
        run_child("", "cold-warm-up", env)  # writes .pyc files once, for both variants
        lazy, eager = [], []
        for n in range(args.runs):
            lazy.append(run_child("", f"cold-lazy-{n}", env))
            eager.append(run_child(EAGER_PRELUDE, f"cold-eager-{n}", env))

    def median(runs: list[dict[str, float]], key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 1)

    lazy_ms, eager_ms = median(lazy, "total_ms"), median(eager, "total_ms")
    result = {
        "runs": args.runs,
        "lazy_p50_ms": lazy_ms,
        "lazy_app_import_p50_ms": median(lazy, "app_import_ms"),
        "lazy_first_turn_p50_ms": median(lazy, "first_turn_ms"),
        "eager_p50_ms": eager_ms,
        "eager_prelude_p50_ms": median(eager, "prelude_ms"),
        "ratio": round(lazy_ms / eager_ms, 3),
        "cold_start_budget_ms": envelope.cold_start_ms,
        "target": {"ratio_max": 0.5, "within_budget": True},
        "met": lazy_ms / eager_ms <= 0.5 and lazy_ms <= envelope.cold_start_ms,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
