"""What a person driving an env in the browser gets (`imitlab teleop`): frames per second and input-to-frame latency.

1. Capacity: a ``RecordingSession`` stepped as fast as it goes (env step, camera render, PNG encoding of the frame
   the page is sent), per env; its frame size.
2. In the browser: the app served by the CLI in a subprocess, headless Chromium (Playwright, the system Chromium)
   moving the mouse every 10 ms for --seconds; frames/s the page received, and for every input the time until
   the first frame that reflects it (it, or a later input, was applied before the frame was rendered): median and
   p95. Paced at the env's fps (the data's rate) and at --fast steps per second.

    python benchmarks/teleop.py --seconds 10
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ENVS = ("two-path-pixels", "pusht-pixels", "metaworld/reach-pixels")


def available(env: str) -> bool:
    from imitlab.envs.registry import get_env_spec

    try:
        get_env_spec(env).make_vector(1).close()
    except Exception:  # an optional extra that is not installed
        return False
    return True


def capacity(env: str, steps: int) -> tuple[float, tuple[int, int]]:
    from imitlab.teleop.server import png_base64
    from imitlab.teleop.session import RecordingSession

    with tempfile.TemporaryDirectory() as folder:
        session = RecordingSession(env, Path(folder) / "data")
        session.set_command(np.full(session.command.shape, 0.5 if session.control.device == "pointer" else 0.0))
        started, frames = time.perf_counter(), 0
        while frames < steps:
            if session.done:
                session.discard()
            session.step()
            png_base64(session.frame)
            frames += 1
        return frames / (time.perf_counter() - started), session.frame.shape[:2]


def in_browser(browser, env: str, fps: float, seconds: float) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable,
            "-m",
            "imitlab.cli",
            "teleop",
            "--env",
            env,
            "--out",
            str(Path(folder) / "data"),
            "--port",
            "0",
            "--no-browser",
            "--fps",
            str(fps),
        ]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            url = next(m.group(1) for line in server.stdout if (m := re.search(r"serving on (\S+)", line)))
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.goto(url)
            page.wait_for_function("window.imitlab.hello !== null")
            box = page.locator("#view").bounding_box()
            keys = page.evaluate("window.imitlab.hello.keys")
            started = time.perf_counter()
            first = page.evaluate("window.imitlab.frames")
            i = 0
            while time.perf_counter() - started < seconds:
                angle = i * 0.05
                if keys:  # a key device: alternate the first two keys
                    page.keyboard.down(keys[i // 20 % 2])
                    page.keyboard.up(keys[i // 20 % 2])
                else:
                    page.mouse.move(
                        box["x"] + box["width"] * (0.5 + 0.3 * np.cos(angle)),
                        box["y"] + box["height"] * (0.5 + 0.3 * np.sin(angle)),
                    )
                page.wait_for_timeout(10)
                i += 1
            frames = page.evaluate("window.imitlab.frames") - first
            latencies = np.array(page.evaluate("window.imitlab.latencies"))
            page.close()
            return (
                frames / (time.perf_counter() - started),
                float(np.median(latencies)),
                float(np.quantile(latencies, 0.95)),
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300, help="session steps for the capacity measure")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of mouse movement per browser run")
    parser.add_argument("--fast", type=float, default=30.0, help="the faster pace, steps per second")
    args = parser.parse_args()
    from imitlab.envs.registry import get_env_spec

    envs = [env for env in ENVS if available(env)]
    print("| env | frame | capacity (step + render + PNG), frames/s |\n|---|---|---|")
    for env in envs:
        rate, (h, w) = capacity(env, args.steps)
        print(f"| {env} | {h}x{w} | {rate:.0f} |")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if importlib.util.find_spec("playwright") is None or executable is None:
        print("\nbrowser runs skipped: playwright or chromium is not installed (make test installs both)")
        return
    from playwright.sync_api import sync_playwright

    from imitlab.teleop.server import HEADLESS_CHROMIUM_FLAGS

    print("\n| env | pace, steps/s | frames/s received | input to frame, median ms | p95 ms |\n|---|---|---|---|---|")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=list(HEADLESS_CHROMIUM_FLAGS))
        for env in envs:
            for fps in (float(get_env_spec(env).fps), args.fast):
                received, median, p95 = in_browser(browser, env, fps, args.seconds)
                print(f"| {env} | {fps:g} | {received:.1f} | {median:.0f} | {p95:.0f} |")
        browser.close()


if __name__ == "__main__":
    main()
