"""Camera frames to and from MP4 files with PyAV, the way LeRobot encodes and decodes them
(``lerobot.datasets.video_utils.encode_video_frames`` / ``get_video_info``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

# SVT-AV1 prints its configuration to stderr unless told otherwise (1 = errors only).
os.environ.setdefault("SVT_LOG", "1")

import av  # noqa: E402  (after SVT_LOG, which the encoder reads when it loads)

from imitlab.data.layout import DatasetError  # noqa: E402

FALLBACK_CODECS = ("libsvtav1", "libx264")


@dataclass(frozen=True)
class VideoEncoding:
    """How camera frames are encoded. The defaults are LeRobot's (lossy AV1, a key frame every 2 frames);
    ``codec=None`` picks the first of libsvtav1, libx264 that this PyAV build has."""

    codec: str | None = None  # an FFmpeg encoder name; None: libsvtav1, else libx264
    pix_fmt: str = "yuv420p"  # yuv420p needs even width and height with libx264
    g: int | None = 2  # key-frame interval (GOP size): small makes random access cheap
    crf: int | None = 30  # constant rate factor: lower is closer to the input, 0 is lossless with libx264

    def resolved_codec(self) -> str:
        if self.codec is not None:
            if self.codec not in av.codecs_available:
                raise DatasetError(f"video codec '{self.codec}' is not available in this PyAV build")
            return self.codec
        for codec in FALLBACK_CODECS:
            if codec in av.codecs_available:
                return codec
        raise DatasetError(f"none of the video codecs {FALLBACK_CODECS} is available in this PyAV build")


def encode_frames(path: Path, segments: Iterable[np.ndarray], fps: int, encoding: VideoEncoding, key: str) -> None:
    """Encode ``segments`` (each (T, H, W, 3) uint8, e.g. one per episode) one after the other into one MP4 at
    ``path``; frame ``i`` of the file has pts ``i`` in time base 1/fps, i.e. time i / fps."""
    codec = encoding.resolved_codec()
    options = {k: str(v) for k, v in (("g", encoding.g), ("crf", encoding.crf)) if v is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    time_base = Fraction(1, int(fps))
    i = 0
    try:
        with av.open(str(path), "w") as container:
            stream = None
            for frames in segments:
                if stream is None:
                    stream = container.add_stream(codec, rate=int(fps), options=options)
                    stream.pix_fmt = encoding.pix_fmt
                    stream.height, stream.width = frames.shape[1:3]
                for frame in frames:
                    video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                    video_frame.pts, video_frame.time_base = i, time_base
                    container.mux(stream.encode(video_frame))
                    i += 1
            if stream is not None:
                container.mux(stream.encode())
    except (av.FFmpegError, ValueError) as err:
        raise DatasetError(
            f"camera '{key}': encoding {path.name} with {codec} ({encoding.pix_fmt}) failed: {err}"
        ) from None


@dataclass(frozen=True)
class VideoProbe:
    """What a video file's header says: frame size, frame count (0 if the container does not say), codec."""

    width: int
    height: int
    frames: int
    codec: str
    pix_fmt: str
    fps: int


def probe(path: Path) -> VideoProbe:
    """Read ``path``'s header; DatasetError if it is missing, not a video, or has no video stream."""
    if not path.is_file():
        raise DatasetError(f"{path} is missing")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DatasetError(f"{path} has no video stream")
            s = container.streams.video[0]
            return VideoProbe(
                width=int(s.width),
                height=int(s.height),
                frames=int(s.frames or 0),
                codec=s.codec.canonical_name,
                pix_fmt=str(s.pix_fmt),
                fps=int(round(float(s.base_rate or s.average_rate or 0))),
            )
    except av.FFmpegError as err:
        raise DatasetError(f"{path} could not be opened as a video (truncated or not an MP4?): {err}") from None


def video_info(path: Path) -> dict:
    """The ``info`` block LeRobot stores for a video feature (``get_video_info``), read from the file."""
    p = probe(path)
    return {
        "video.height": p.height,
        "video.width": p.width,
        "video.codec": p.codec,
        "video.pix_fmt": p.pix_fmt,
        "video.is_depth_map": False,
        "video.fps": p.fps,
        "video.channels": 3,
        "has_audio": False,
    }


def decode_frames(path: Path, fps: float) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_index_in_file, (H, W, 3) uint8 RGB)`` for every frame of ``path`` in order; the index is
    the frame's time times fps (LeRobot finds frames by timestamp). DatasetError if decoding fails."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for count, frame in enumerate(container.decode(stream)):
                index = count if frame.time is None else int(round(frame.time * fps))
                yield index, frame.to_ndarray(format="rgb24")
    except av.FFmpegError as err:
        raise DatasetError(f"{path} could not be decoded (truncated or corrupt?): {err}") from None
