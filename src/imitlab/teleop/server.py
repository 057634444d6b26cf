"""The local web apps of ``imitlab teleop`` and ``imitlab view``: Starlette routes served by uvicorn.

Safe by default: the server listens on localhost only; ``--host`` exposes it, and then every request must carry the
token printed at start (``?token=...``, which the printed URL holds). One teleop session per dataset (an OS lock
beside it, as for every writer): a second one is refused in one line.

The teleop page talks over one WebSocket. It sends ``{"type": "command", "value": [...], "seq": n, "t": ms}`` (the
pointer's place or the held keys), ``hold`` (the person takes or gives back control of a running policy),
``keep``, ``discard`` and ``retrain``; the server steps the env at its fps and answers every step with the frame
(PNG, base64), the sequence number of the last command applied (the page measures input-to-frame latency from
it) and the session's status.
"""

from __future__ import annotations

import asyncio
import base64
import io
import secrets
import time
import webbrowser
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from imitlab.core.errors import ImitlabError, UsageError

STATIC = Path(__file__).resolve().parent / "static"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# Chromium's flags for driving it headless on a machine without network (the browser tests and benchmarks/teleop.py):
# without the background-networking ones it keeps trying to reach Google's hosts
HEADLESS_CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
MAX_PACE = 30  # default steps per second on the page: an env of a faster control rate runs slower than real time


class MissingTeleopExtraError(ImitlabError):
    """The ``teleop`` extra (starlette, uvicorn, websockets) is not installed."""


def require_web() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise MissingTeleopExtraError(
            "imitlab teleop and imitlab view need the teleop extra: pip install -e '.[teleop]'"
        ) from None


def png_base64(frame: np.ndarray) -> str:
    """An (H, W, 3) uint8 frame as a base64 PNG."""
    out = io.BytesIO()
    Image.fromarray(frame).save(out, format="PNG", compress_level=1)
    return base64.b64encode(out.getvalue()).decode("ascii")


class Access:
    """Who may connect: anyone on localhost; with an exposed host, only requests carrying ``token``."""

    def __init__(self, host: str):
        self.host = host
        self.token = None if host in LOCAL_HOSTS else secrets.token_urlsafe(16)

    def allows(self, query: Any) -> bool:
        return self.token is None or secrets.compare_digest(str(query.get("token", "")), self.token)

    def url(self, port: int, path: str = "/") -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        suffix = f"?token={self.token}" if self.token else ""
        return f"http://{shown}:{port}{path}{suffix}"


def page(name: str) -> Callable[[Any], Awaitable[Any]]:
    """A route serving the static page ``name`` (401 without the token on an exposed host)."""
    from starlette.responses import HTMLResponse, PlainTextResponse

    async def serve(request: Any) -> Any:
        if not request.app.state.access.allows(request.query_params):
            return PlainTextResponse("this server needs the token it printed at start: ?token=...", status_code=401)
        return HTMLResponse((STATIC / name).read_text(encoding="utf-8"))

    return serve


class EnvThread:
    """The one thread that touches the env: a MuJoCo renderer's OpenGL context belongs to the thread that made it,
    so the session is built (``call``) and stepped (``run``, awaited from the event loop) on the same thread."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imitlab-env")

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.executor.submit(fn, *args).result()

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)


def teleop_app(
    session: Any,
    access: Access,
    fps: float | None = None,
    retrain: Callable[[], Any] | None = None,
    env_thread: EnvThread | None = None,
) -> Any:
    """The teleop web app driving ``session`` (a ``RecordingSession``) at ``fps`` steps per second (default: the
    env's, at most ``MAX_PACE``; the data keep the env's fps whatever the pace). ``retrain`` starts the background
    retraining of a take-over session and returns the job (``takeover.Retraining``: ``busy``, ``progress()``).
    ``env_thread``: the thread the session was built on (a new one if not given), where it is stepped."""
    thread = env_thread or EnvThread()
    if fps is not None and not fps > 0:
        raise UsageError(f"--fps must be > 0, got {fps}")
    from starlette.applications import Starlette
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    driving = asyncio.Lock()  # one page drives the session at a time

    async def socket(websocket: WebSocket) -> None:
        if not access.allows(websocket.query_params):
            await websocket.close(code=4401)
            return
        await websocket.accept()
        if driving.locked():
            await websocket.send_json({"type": "error", "message": "another page is driving this session"})
            await websocket.close()
            return
        async with driving:
            await drive(websocket)

    async def drive(websocket: WebSocket) -> None:
        control = session.control
        await websocket.send_json(
            {
                "type": "hello",
                "env": session.spec.name,
                "device": control.device,
                "keys": list(control.keys),
                "hint": control.hint,
                "fps": session.spec.fps,
                "policy": session.agent is not None,
            }
        )
        ack = {"seq": -1, "t": 0.0}
        job = None
        busy = asyncio.Lock()  # the env is stepped in a worker thread: one step, keep or discard at a time

        async def receive() -> None:
            nonlocal job
            while True:
                message = await websocket.receive_json()
                kind = message.get("type")
                if kind == "command":
                    session.set_command(message["value"])
                    ack.update(seq=int(message.get("seq", -1)), t=float(message.get("t", 0.0)))
                elif kind == "hold":
                    session.person_holds = bool(message.get("value"))
                elif kind == "keep":
                    async with busy:
                        await thread.run(session.keep, session.agent is not None)
                elif kind == "discard":
                    async with busy:
                        await thread.run(session.discard)
                elif kind == "retrain" and retrain is not None and (job is None or not job.busy):
                    job = retrain()

        reader = asyncio.create_task(receive())
        period = 1.0 / (fps or min(session.spec.fps, MAX_PACE))
        try:
            while not reader.done():
                started = time.perf_counter()
                async with busy:  # in the env's thread, so that the page's input is read while the env steps
                    await thread.run(session.step)
                    status, frame = session.status(), session.frame
                if job is not None:
                    status["retrain"] = job.progress()
                await websocket.send_json(
                    {
                        "type": "frame",
                        "png": png_base64(frame),
                        "ack": ack["seq"],
                        "t": ack["t"],
                        "status": status,
                    }
                )
                await asyncio.sleep(max(0.0, period - (time.perf_counter() - started)))
            reader.result()  # a closed page ends the loop; an error in a message is raised here
        except WebSocketDisconnect:
            pass
        finally:
            reader.cancel()

    app = Starlette(routes=[Route("/", page("teleop.html")), WebSocketRoute("/ws", socket)])
    app.state.access = access
    return app


def serve(app: Any, access: Access, port: int, open_browser: bool, path: str = "/") -> None:
    """Run ``app`` until interrupted, printing its URL first (and opening it unless told not to)."""
    import uvicorn

    if port < 0 or port > 65535:
        raise UsageError(f"--port must be in 0..65535, got {port}")
    config = uvicorn.Config(app, host=access.host, port=port, log_level="warning", ws="websockets")
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started:
            bound = server.servers[0].sockets[0].getsockname()[1]  # the port uvicorn bound (port 0: a free one)
            url = access.url(bound, path)
            print(f"serving on {url} (Ctrl-C to stop)", flush=True)
            if open_browser:
                webbrowser.open(url)
        await task

    asyncio.run(run())
