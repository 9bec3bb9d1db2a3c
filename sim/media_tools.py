"""Running the media tools (Debian's ``espeak-ng``, ``sox``, ``ffmpeg``) for the sim's audio."""

from __future__ import annotations

import shutil
import subprocess


def run_media_tool(command: list[str], stdin: bytes | None = None) -> bytes:
    """Run one of the media tools and return its output; a missing tool says how to install it.

    Raises:
        FileNotFoundError: the tool is not installed.
        RuntimeError: it failed (its exit code and the end of its stderr).
    """
    if shutil.which(command[0]) is None:
        raise FileNotFoundError(f"{command[0]} is not installed (apt-get install espeak-ng sox ffmpeg)")
    done = subprocess.run(command, input=stdin, capture_output=True, check=False, timeout=120)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr.decode(errors='replace')[-500:]}")
    return done.stdout
