"""``imitlab view``: a dataset in the browser. JSON routes give the episode list and one episode's state and action;
a PNG route gives one camera frame (from the frame cache); the page (static/view.html) plays an episode's video
with its state and action plots under one time cursor."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from imitlab.core import keys
from imitlab.data.model import EpisodeDataset
from imitlab.teleop.server import Access, page


def summary(dataset: EpisodeDataset) -> dict[str, Any]:
    """The dataset as the page lists it: fps, feature names, cameras, tasks and each episode's length, task and
    success."""
    features = dataset.info["features"]
    starts, ends = dataset.episode_starts, dataset.episode_ends
    episodes = [
        {
            "index": e,
            "length": int(ends[e] - starts[e]),
            "task": dataset.tasks[int(dataset.task_index[starts[e]])],
            "success": bool(dataset.success[starts[e] : ends[e]].any()),
        }
        for e in range(dataset.num_episodes)
    ]
    return {
        "root": str(dataset.root),
        "fps": dataset.fps,
        "robot_type": dataset.info.get("robot_type"),
        "state_names": list(features.get(keys.OBS, {}).get("names") or []),
        "action_names": list(features[keys.ACTION].get("names") or []),
        "cameras": dataset.camera_keys,
        "tasks": dataset.tasks,
        "episodes": episodes,
    }


def episode_arrays(dataset: EpisodeDataset, e: int) -> dict[str, Any]:
    """Episode ``e``'s state, action, reward and success per frame, and its first global frame index."""
    start, end = int(dataset.episode_starts[e]), int(dataset.episode_ends[e])
    return {
        "start": start,
        "state": dataset.observation[start:end].tolist(),
        "action": dataset.action[start:end].tolist(),
        "reward": dataset.reward[start:end].tolist(),
        "success": dataset.success[start:end].tolist(),
    }


def viewer_app(dataset: EpisodeDataset, access: Access) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    frames = {key: dataset.frames(key) for key in dataset.camera_keys}  # the cache is built (once) before serving

    def refused(request: Any) -> Any:
        if access.allows(request.query_params):
            return None
        return PlainTextResponse("this server needs the token it printed at start: ?token=...", status_code=401)

    async def info(request: Any) -> Any:
        return refused(request) or JSONResponse(summary(dataset))

    async def episode(request: Any) -> Any:
        e = int(request.path_params["e"])
        if not 0 <= e < dataset.num_episodes:
            return PlainTextResponse(f"no episode {e}: the dataset has {dataset.num_episodes}", status_code=404)
        return refused(request) or JSONResponse(episode_arrays(dataset, e))

    async def frame(request: Any) -> Any:
        camera, index = int(request.path_params["camera"]), int(request.path_params["index"])
        if not 0 <= camera < len(frames) or not 0 <= index < dataset.num_frames:
            return PlainTextResponse("no such camera or frame", status_code=404)
        out = io.BytesIO()
        Image.fromarray(np.asarray(frames[dataset.camera_keys[camera]][index])).save(out, format="PNG")
        return refused(request) or Response(out.getvalue(), media_type="image/png")

    app = Starlette(
        routes=[
            Route("/", page("view.html")),
            Route("/api/dataset", info),
            Route("/api/episode/{e:int}", episode),
            Route("/api/frame/{camera:int}/{index:int}", frame),
        ]
    )
    app.state.access = access
    return app
