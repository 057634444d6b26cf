"""A real browser for the teleop and viewer tests: Playwright driving the system Chromium (`make browser`), and
the app served by the CLI in a subprocess, as a user starts it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from imitlab.teleop.server import HEADLESS_CHROMIUM_FLAGS


@pytest.fixture(scope="module")
def browser() -> Iterator:
    playwright_api = pytest.importorskip("playwright.sync_api")
    pytest.importorskip("starlette")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("chromium is not installed (`make test` installs the Debian package when run as root)")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=list(HEADLESS_CHROMIUM_FLAGS))
        yield chromium
        chromium.close()


class Served:
    """``imitlab <args> --port 0 --no-browser`` in a subprocess; ``url`` is the one it printed."""

    def __init__(self, *args: str):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "imitlab.cli", *args, "--port", "0", "--no-browser"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.search(r"serving on (\S+)", line)
            if found:
                self.url = found.group(1)
                return
        raise AssertionError("the server printed no URL:\n" + "".join(self.lines))

    def stop(self) -> str:
        self.process.terminate()
        out, _ = self.process.communicate(timeout=30)
        return "".join(self.lines) + (out or "")


@pytest.fixture
def serve() -> Iterator:
    started: list[Served] = []

    def start(*args: str) -> Served:
        started.append(Served(*args))
        return started[-1]

    yield start
    for served in started:
        if served.process.poll() is None:
            served.stop()
