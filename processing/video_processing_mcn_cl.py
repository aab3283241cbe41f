# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MCN-CL video processor: L frames per utterance, optional half / face crop, 224x224 ImageNet-normalised.

This file travels to the Hub next to the processor config (``save_pretrained`` copies it flat), so it imports
only its siblings (relative imports: they are copied into the same folder) and public libraries.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from transformers import BatchFeature
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, PILImageResampling
from transformers.processing_utils import VideosKwargs
from transformers.utils import logging
from transformers.video_processing_utils import BaseVideoProcessor

# relative import: on the Hub this file sits next to inputs_mcn_cl.py, without the mcn_cl package
from .inputs_mcn_cl import MCNCLMediaError, as_seconds, check_window

logger = logging.get_logger(__name__)

CROP_HALVES = (None, "left", "right")


class MCNCLVideosKwargs(VideosKwargs, total=False):
    """The video kwargs of `transformers` plus MCN-CL's crops.

    crop_half (`str`, *optional*): `"left"` or `"right"`: keep that half of the frame (IEMOCAP shows both actors).
    face_crop (`bool`, *optional*): crop the frames to the detected face (OpenCV Haar cascade).
    face_margin (`float`, *optional*): margin added around the face box, as a fraction of its size.
    """

    crop_half: str | None
    face_crop: bool | None
    face_margin: float | None


def select_frames(
    frames: Iterable[Any], t0: float, t1: float, indices: np.ndarray | None
) -> tuple[list[Any], int]:
    """Walk decoded frames in presentation order and keep only the sampled ones of the window `[t0, t1)`.

    Args:
        frames: decoded frames (anything with a `time` in seconds, or `None`: read as 0).
        t0, t1: the window in seconds (frames with `t0 - 1e-6 <= time < t1` are in it).
        indices: sorted ordinals (0 = first frame of the window) to keep, or `None` to keep none (counting only).

    Returns:
        `(kept, n)`: the kept frames in order and the number n of frames found in the window. At most
        `len(indices)` frames are referenced at any time besides the one being looked at, whatever the length of
        the window.
    """
    wanted = set() if indices is None else {int(i) for i in indices}
    kept, n = [], 0
    for frame in frames:
        t = frame.time if frame.time is not None else 0.0
        if t >= t1:
            break
        if t >= t0 - 1e-6:
            if n in wanted:
                kept.append(frame)  # still YUV: converted to RGB after the walk
            n += 1
    return kept, n


def _count_packets(container, stream, t0: float, t1: float) -> int | None:
    """Frames of the window `[t0, t1)` counted on the demuxed packets (no decoding), or `None` when some packet
    has no timestamp. Packets come in decode order: the walk stops at the first decode time >= t1."""
    tb = stream.time_base
    n = 0
    for packet in container.demux(stream):
        if packet.size == 0:  # the demuxer's flush packet
            continue
        if packet.pts is None or tb is None:
            return None
        if packet.dts is not None and float(packet.dts * tb) >= t1:
            break
        t = float(packet.pts * tb)
        if t0 - 1e-6 <= t < t1:
            n += 1
    return n


def decode_video_frames(
    path: str, num_frames: int, start: float | None = None, end: float | None = None
) -> tuple[np.ndarray, int]:
    """Decode `num_frames` frames sampled uniformly from a file (or its `(start, end)` window, in seconds).

    Frames are decoded with PyAV (FFmpeg), seeking to the window first, so a long dialogue video (IEMOCAP) is
    not decoded from its beginning for every utterance. The window holds n frames (those whose timestamp t
    satisfies start <= t < end); frame k of the output is the frame at the centre of the k-th of `num_frames`
    equal segments of the window (`floor((k + 0.5) * n / num_frames)`). When the window holds fewer frames than
    `num_frames` (n < L), all n frames are returned: the caller pads and masks the rest (no frame is repeated).

    Memory: n is first counted on the demuxed packets' timestamps (no decoding), the sample indices are chosen
    from it, and only those frames are kept while decoding, so at most `num_frames` frames are held whatever the
    length of the clip. Should the decoded frames not match the packet count (a damaged stream), the window is
    decoded once more with indices chosen from the decoded count: the frames are those of a full decode.

    Returns:
        `(frames, n_real)`: uint8 RGB frames [min(n, num_frames), H, W, 3] and their count.

    Raises:
        MCNCLMediaError: missing/unreadable file, no video stream, window outside the clip, no frame in it.
    """
    import av

    start, end = as_seconds(start, "start", path, "video"), as_seconds(end, "end", path, "video")
    if not os.path.isfile(path):
        raise MCNCLMediaError("file not found", path, "video")
    try:
        container = av.open(path)
    except Exception as err:  # av.error.InvalidDataError, av.FFmpegError, ...
        raise MCNCLMediaError(f"unreadable or corrupt file ({err})", path, "video") from err
    with container:
        if not container.streams.video:
            raise MCNCLMediaError("the file has no video stream", path, "video")
        stream = container.streams.video[0]
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000  # av.time_base: microseconds
        if (start is not None or end is not None) and duration is not None:
            start, end = check_window(start, end, duration, path, "video")
        t0 = 0.0 if start is None else float(start)
        t1 = float("inf") if end is None else float(end)

        def seek_window(c, st) -> None:
            if t0 > 0 and st.time_base is not None:
                c.seek(int(t0 / st.time_base), stream=st, backward=True, any_frame=False)

        def decode_pass(indices: np.ndarray | None) -> tuple[list[np.ndarray], int]:
            # a fresh demuxer for each pass: no seek back to the start, which some files do not support
            with av.open(path) as c:
                st = c.streams.video[0]
                seek_window(c, st)
                kept, n = select_frames(c.decode(st), t0, t1, indices)
                return [frame.to_ndarray(format="rgb24") for frame in kept], n

        try:
            seek_window(container, stream)
            counted = _count_packets(container, stream, t0, t1)
            kept, n = decode_pass(None if counted is None else sample_frame_indices(counted, num_frames))
            if n != counted:  # no timestamps, or a damaged stream: choose again from the decoded count
                kept, n = decode_pass(sample_frame_indices(n, num_frames))
        except MCNCLMediaError:
            raise
        except Exception as err:
            raise MCNCLMediaError(f"corrupt video stream ({err})", path, "video") from err
        if duration is None and (start is not None or end is not None) and n == 0:
            raise MCNCLMediaError(f"window ({start}, {end}) s lies outside the video", path, "video")
        if n == 0:
            raise MCNCLMediaError("no video frame in the requested window", path, "video")
    return np.stack(kept), len(kept)


@functools.cache
def _haar_face_cascade():
    import cv2

    path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    if not hasattr(cv2, "CascadeClassifier") or not os.path.isfile(path):
        # OpenCV 5 moved the Haar cascades (class and model files) out of the opencv-python wheels
        raise RuntimeError(
            f"face_crop needs OpenCV's Haar cascade, which OpenCV {cv2.__version__} does not ship: "
            "pip install 'opencv-python-headless>=4.8,<5'"
        )
    detector = cv2.CascadeClassifier(path)
    if detector.empty():
        raise RuntimeError(f"could not load OpenCV's Haar cascade from {path}")
    return detector


def sample_frame_indices(num_available: int, num_frames: int) -> np.ndarray:
    """Uniform segment-centre indices: `num_frames` of `num_available` frames, or all of them when fewer."""
    if num_available <= num_frames:
        return np.arange(num_available)
    return np.floor((np.arange(num_frames) + 0.5) * num_available / num_frames).astype(np.int64)


class MCNCLVideoProcessor(BaseVideoProcessor):
    r"""
    Constructs an MCN-CL video processor: per utterance, `num_frames` (L) frames sampled uniformly from a clip or
    a `(start, end)` window of a longer video, optionally cropped to the left/right half and/or to the face,
    resized to 224x224 and ImageNet-normalised.

    Decoding is done here with PyAV (seeking to the window), not by the `transformers` base class, whose file
    decoding needs `torchcodec`; the base class does the resize / rescale / normalise and the save / load.

    Face crop: OpenCV's frontal-face Haar cascade (`cv2.data.haarcascades`), chosen because its weights ship
    inside the `opencv-python(-headless)` wheel (nothing to download, runs on CPU at hundreds of frames per
    second, no extra dependency). It is less accurate than a CNN detector on profile faces; when no face is
    found in any sampled frame the (half-)frame is kept whole and a message is logged at INFO level. One box (the
    median of the per-frame detections, plus `face_margin`) crops every frame of the utterance, so the frames keep
    one size and the face does not jitter.

    Clips with fewer than L frames: their n frames are kept, and the L - n missing ones are zero frames with
    `frame_mask` 0 (pad + mask, never repeated frames).

    Args:
        num_frames (`int`, *optional*, defaults to 16): frames L per utterance.
        crop_half (`str`, *optional*): `"left"` / `"right"` half of the frame, or `None` for the whole frame.
        face_crop (`bool`, *optional*, defaults to `False`): crop to the detected face.
        face_margin (`float`, *optional*, defaults to 0.2): margin around the face box (fraction of its size).
        size (`dict`, *optional*, defaults to `{"height": 224, "width": 224}`): output frame size.
        image_mean, image_std: ImageNet statistics by default.

    Example:

    ```python
    >>> from mcn_cl import MCNCLVideoProcessor

    >>> video_processor = MCNCLVideoProcessor(num_frames=16)
    >>> out = video_processor.process_clip("dia0_utt0.mp4", start=0.5, end=2.0)
    >>> out["pixel_values"].shape, out["frame_mask"].shape
    (torch.Size([16, 3, 224, 224]), torch.Size([16]))
    ```
    """

    valid_kwargs = MCNCLVideosKwargs
    model_input_names = ["pixel_values", "frame_mask"]
    resample = PILImageResampling.BILINEAR
    image_mean = IMAGENET_DEFAULT_MEAN
    image_std = IMAGENET_DEFAULT_STD
    size = {"height": 224, "width": 224}
    do_resize = True
    do_center_crop = False
    do_rescale = True
    do_normalize = True
    do_convert_rgb = True
    do_sample_frames = False  # frames are sampled while decoding (`process_clip`)
    num_frames = 16
    crop_half = None
    face_crop = False
    face_margin = 0.2

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.crop_half not in CROP_HALVES:
            raise ValueError(
                f"MCNCLVideoProcessor.crop_half must be one of {CROP_HALVES}, got {self.crop_half!r}"
            )
        if not isinstance(self.num_frames, int) or self.num_frames <= 0:
            raise ValueError(
                f"MCNCLVideoProcessor.num_frames must be a positive integer, got {self.num_frames!r}"
            )

    # -------------------------------------------------------------------------------------------------- crops

    @property
    def face_detector(self):
        """OpenCV's bundled frontal-face Haar cascade (loaded once per process, kept out of the instance: a
        `cv2.CascadeClassifier` can be neither pickled nor deep-copied, which `to_dict` and `datasets.map` do)."""
        return _haar_face_cascade()

    @staticmethod
    def crop_to_half(frames: np.ndarray, half: str | None) -> np.ndarray:
        """[L, H, W, 3] -> the left or right half [L, H, W // 2, 3] (or unchanged for `None`)."""
        if half is None:
            return frames
        if half not in CROP_HALVES:
            raise ValueError(f"crop_half must be one of {CROP_HALVES}, got {half!r}")
        mid = frames.shape[2] // 2
        return frames[:, :, :mid] if half == "left" else frames[:, :, mid:]

    def face_box(self, frames: np.ndarray, margin: float | None = None) -> tuple[int, int, int, int] | None:
        """One square face box `(x0, y0, x1, y1)` for all frames [L, H, W, 3] (median of the largest detection of
        each frame, enlarged by `margin`), or `None` when no frame shows a face."""
        import cv2

        margin = self.face_margin if margin is None else margin
        boxes = []
        for frame in frames:
            gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            min_side = max(16, min(gray.shape) // 10)
            found = self.face_detector.detectMultiScale(
                gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side,) * 2
            )
            if len(found):
                boxes.append(max(found, key=lambda b: b[2] * b[3]))
        if not boxes:
            return None
        x, y, w, h = np.median(np.asarray(boxes, dtype=np.float64), axis=0)
        side = max(w, h) * (1 + 2 * margin)
        cx, cy = x + w / 2, y + h / 2
        height, width = frames.shape[1:3]
        x0, y0 = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
        x1, y1 = int(min(cx + side / 2, width)), int(min(cy + side / 2, height))
        return x0, y0, x1, y1

    # ------------------------------------------------------------------------------------------------- frames

    def _to_pixel_values(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 RGB [n, H, W, 3] -> resized, rescaled, normalised float32 [n, 3, h, w] (base-class pipeline)."""
        video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).contiguous()
        out = BaseVideoProcessor.preprocess(self, [video], do_sample_frames=False, return_tensors="pt")
        return out["pixel_values_videos"][0].to(torch.float32)

    def process_clip(
        self,
        video: str | os.PathLike | np.ndarray,
        start: float | None = None,
        end: float | None = None,
        crop_half: str | None = None,
        face_crop: bool | None = None,
    ) -> dict[str, torch.Tensor]:
        """Frames of one utterance.

        Args:
            video: a file path (any container FFmpeg reads: mp4, avi, mkv, ...) or the utterance's frames as a
                uint8 array [F, H, W, 3] (RGB; sampled uniformly, `start`/`end` are ignored for arrays: pass the
                utterance's frames).
            start, end: window in seconds inside the file.
            crop_half, face_crop: per-utterance overrides of the config values.

        Returns:
            `{"pixel_values": float32 [L, 3, h, w], "frame_mask": int64 [L]}`; padded frames are zeros.

        Raises:
            MCNCLMediaError: bad file or window, or a frames array of the wrong shape / dtype.
        """
        num_frames = self.num_frames
        half = self.crop_half if crop_half is None else crop_half
        if not (half is None or (isinstance(half, str) and half in CROP_HALVES)):
            path = os.fspath(video) if isinstance(video, str | os.PathLike) else None
            raise MCNCLMediaError(
                f"video_crop must be 'left', 'right' or None, got {half!r:.40}", path, "video"
            )
        if isinstance(video, str | os.PathLike):
            frames, n = decode_video_frames(os.fspath(video), num_frames, start, end)
        else:
            try:
                array = np.asarray(video)
            except (ValueError, TypeError) as err:  # ragged nested lists
                raise MCNCLMediaError(
                    f"the frames are not a rectangular array ({err})", None, "video"
                ) from err
            if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8 or 0 in array.shape:
                raise MCNCLMediaError(
                    f"a frames array must be uint8 [F > 0, H, W, 3] (H, W > 0), got {array.dtype} {array.shape}",
                    None,
                    "video",
                )
            indices = sample_frame_indices(array.shape[0], num_frames)
            frames, n = array[indices], len(indices)
        frames = self.crop_to_half(frames, half)
        if 0 in frames.shape:
            raise MCNCLMediaError(f"frames of shape {frames.shape} after the {half} crop", None, "video")
        if self.face_crop if face_crop is None else face_crop:
            box = self.face_box(frames)
            if box is None:
                logger.info(
                    "no face found in %s; using the whole frame", video if isinstance(video, str) else "array"
                )
            else:
                x0, y0, x1, y1 = box
                frames = frames[:, y0:y1, x0:x1]
        pixel_values = self._to_pixel_values(frames)
        frame_mask = torch.zeros(num_frames, dtype=torch.long)
        frame_mask[:n] = 1
        if n < num_frames:
            pad = pixel_values.new_zeros((num_frames - n, *pixel_values.shape[1:]))
            pixel_values = torch.cat([pixel_values, pad])
        return {"pixel_values": pixel_values, "frame_mask": frame_mask}

    def __call__(
        self, videos, start=None, end=None, return_tensors: str | None = "pt", **kwargs
    ) -> BatchFeature:
        """
        Args:
            videos: one clip (path or frames array [F, H, W, 3]) or a list of clips.
            start, end: window(s) in seconds, one value or one per clip.

        Returns:
            `BatchFeature` with `pixel_values` [B, L, 3, h, w] and `frame_mask` [B, L].
        """
        single = isinstance(videos, str | os.PathLike) or (
            isinstance(videos, np.ndarray) and videos.ndim == 4
        )
        clips = [videos] if single else list(videos)
        starts = start if isinstance(start, list | tuple) else [start] * len(clips)
        ends = end if isinstance(end, list | tuple) else [end] * len(clips)
        outs = [self.process_clip(c, s, e, **kwargs) for c, s, e in zip(clips, starts, ends)]
        data = {key: torch.stack([o[key] for o in outs]) for key in ("pixel_values", "frame_mask")}
        return BatchFeature(data, tensor_type=return_tensors)


MCNCLVideoProcessor.register_for_auto_class("AutoVideoProcessor")

__all__ = ["MCNCLVideoProcessor", "decode_video_frames", "sample_frame_indices"]
