"""Run one bench command and keep what it printed as ``docs/figures/<name>.json``.

python bench/keep_figure.py NAME -- COMMAND...
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

FIGURES = Path(__file__).resolve().parent.parent / "docs" / "figures"


def main(argv: list[str]) -> int:
    name, command = argv[0], argv[argv.index("--") + 1 :]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our benches
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return done.returncode
    result = json.loads(done.stdout[done.stdout.index("{") :])
    shown = " ".join(c.replace(sys.executable, "python") for c in command)
    figure = {"command": shown, "date": datetime.date.today().isoformat(), "result": result}
    FIGURES.mkdir(parents=True, exist_ok=True)
    (FIGURES / f"{name}.json").write_text(json.dumps(figure, indent=2) + "\n")
    print(f"docs/figures/{name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
