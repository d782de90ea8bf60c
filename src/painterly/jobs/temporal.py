"""Temporal consistency for video (Ruder, Dosovitskiy & Brox, GCPR 2016): optical flow between
consecutive content frames, where it can be trusted, and the previous stylised frame warped along it.

Frames are RGB uint8 arrays [H,W,3]; flows are float32 [H,W,2] in px (dx, dy): `flow(a, b)[y, x]`
is where the pixel (x, y) of `a` moves to in `b`. Needs OpenCV (`painterly[video]`).
"""

from __future__ import annotations

import numpy as np


def _cv2():
    import cv2

    return cv2


def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense optical flow from frame `a` to frame `b` (OpenCV DIS, medium preset), [H,W,2] px."""
    cv2 = _cv2()
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    ga, gb = (cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in (a, b))
    return dis.calc(ga, gb, None)


def warp(image: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """`image` (of the previous frame, [H,W,C] float32 or uint8) moved into the current frame:
    out[y, x] = image[(x, y) + backward[y, x]], with `backward` = flow(current, previous)."""
    cv2 = _cv2()
    h, w = backward.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=-1)
    where = grid + backward
    return cv2.remap(image, where[..., 0], where[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliable(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Where the flow can be trusted, [H,W] float32 in {0, 1} for the current frame (Ruder et al.,
    eq. 5-6): the forward-backward check fails where a pixel was occluded or disoccluded, and motion
    boundaries (large flow gradients) are unreliable too. `forward` = flow(previous, current),
    `backward` = flow(current, previous)."""
    round_trip = warp(forward, backward)  # the forward flow where each current pixel came from
    mismatch = ((round_trip + backward) ** 2).sum(-1)
    occluded = mismatch > 0.01 * ((round_trip**2).sum(-1) + (backward**2).sum(-1)) + 0.5
    dy, dx = np.gradient(backward, axis=(0, 1))
    boundary = (dx**2).sum(-1) + (dy**2).sum(-1) > 0.01 * (backward**2).sum(-1) + 0.002
    return (~(occluded | boundary)).astype(np.float32)
