"""Blending masks for Self-Blended Images built from MTCNN's five landmarks.

Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images" (CVPR 2022), Sec. 3, Mask
Generator: the mask starts as the convex hull of the facial landmarks, is deformed, and is
smoothed by two Gaussian blurs with random kernel sizes. The paper works from a dense landmark
set that outlines the face; this project only has MTCNN's five points (eyes, nose tip, mouth
corners), so the outline is extrapolated from them with rough anthropometric proportions
(`face_contour`). Every size here is a fraction of the face's extent, so one `MaskParams` gives
the same-looking mask on every frame of a sequence, whatever the face's size in each frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

MaskKind = Literal["hull", "dilated", "eroded"]
MASK_KINDS: tuple[MaskKind, ...] = ("hull", "dilated", "eroded")
"""Mask variants (the paper's mask generator varies the hull's extent; Sec. 3)."""
HARMONICS = (2, 3, 4)
"""Angular frequencies of the elastic wobble: low, so the outline stays smooth and face-like."""
_MIN_MASK = 1e-3
"""Mask values below this change no pixel after rounding (|diff| * m < 0.5), so they are zeroed."""


@dataclass(frozen=True)
class MaskParams:
    """Everything random about one mask; sizes are fractions of the face's extent."""

    scale_x: float  # scale across the face (along the eye line), about the outline's centre
    scale_y: float  # scale along the face (forehead to chin)
    wobble: tuple[tuple[float, float], ...]  # (amplitude, phase) per harmonic in HARMONICS
    kind: MaskKind
    morph: float  # dilation / erosion kernel
    blur1: float  # first Gaussian kernel; everything not 1 after it is cut (narrows the hull)
    blur2: float  # second Gaussian kernel: the soft boundary of the blend


def draw_mask(rng: np.random.Generator) -> MaskParams:
    """A random mask deformation (Sec. 3, Mask Generator: random deformation and blurs)."""
    return MaskParams(
        scale_x=float(rng.uniform(0.92, 1.08)),
        scale_y=float(rng.uniform(0.92, 1.08)),
        wobble=tuple(
            (float(rng.uniform(0.0, 0.04)), float(rng.uniform(0.0, 2 * np.pi))) for _ in HARMONICS
        ),
        kind=MASK_KINDS[int(rng.integers(len(MASK_KINDS)))],
        morph=float(rng.uniform(0.02, 0.06)),
        blur1=float(rng.uniform(0.04, 0.12)),
        blur2=float(rng.uniform(0.05, 0.2)),
    )


def face_axes(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Eye midpoint, unit eye-line axis u, unit downward axis n, eye distance, eye-mouth height."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    left_eye, right_eye, _, left_mouth, right_mouth = pts
    eyes = (left_eye + right_eye) / 2
    mouth = (left_mouth + right_mouth) / 2
    across = right_eye - left_eye
    iod = float(np.hypot(*across))
    u = across / iod if iod > 1e-6 else np.array([1.0, 0.0])
    n = np.array([-u[1], u[0]])  # u turned 90 degrees: points down the face (image y is down)
    height = float(np.dot(mouth - eyes, n))
    # Floors keep a profile or odd detection from collapsing the outline to a line.
    height = max(height, 0.5 * iod, 1.0)
    iod = max(iod, 0.5 * height)
    return eyes, u, n, iod, height


def face_contour(landmarks: np.ndarray) -> np.ndarray:
    """A forehead-to-chin, cheek-to-cheek outline (N, 2) in the landmarks' pixel coordinates.

    Geometry, in a face frame with x along the eye line in eye distances (IOD) and y down the
    face in eye-to-mouth heights (h, about 1.1 IOD on adults):
    - forehead: an elliptic arc from the cheeks at eye level up to y = -0.9 h, above the brows
      (about 0.35 h) and below a typical hairline, so hair is mostly left out;
    - cheeks: x = +-1.0 IOD at eye level (the cheekbones are about 2 IOD apart);
    - jaw: x = +-0.85 IOD at mouth level, narrowing to the chin at y = 1.65 h (the chin is about
      0.65 h below the mouth) with a chin width of +-0.35 IOD.
    Yaw: the nose tip's sideways offset from the eye-mouth midline (in IOD) widens the side the
    face turns away from and narrows the side it turns to, as foreshortening does.
    The five landmarks join the outline, so the hull always covers them.
    """
    eyes, u, n, iod, height = face_axes(landmarks)
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    midline = (pts[0] + pts[1] + pts[3] + pts[4]) / 4
    yaw = float(np.clip(np.dot(pts[2] - midline, u) / iod, -0.5, 0.5))
    angles = np.linspace(np.pi, 2 * np.pi, 13)  # upper half-ellipse, left cheek over to right
    upper = np.stack([np.cos(angles), 0.9 * np.sin(angles)], axis=1)
    lower = np.array([[1.0, 0.0], [0.85, 1.0], [0.35, 1.65], [0.0, 1.7]])
    lower = np.concatenate([lower, lower[-2::-1] * [-1.0, 1.0]])  # mirror to the left side
    frame = np.concatenate([upper, lower])
    frame[:, 0] *= np.where(frame[:, 0] < 0, 1.0 + yaw, 1.0 - yaw)
    outline = eyes + np.outer(frame[:, 0] * iod, u) + np.outer(frame[:, 1] * height, n)
    return np.concatenate([outline, pts])


def _resample(polygon: np.ndarray, count: int) -> np.ndarray:
    """`count` points evenly spaced along a closed polygon's perimeter."""
    closed = np.concatenate([polygon, polygon[:1]])
    seg = np.hypot(*np.diff(closed, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    at = np.linspace(0.0, cum[-1], count, endpoint=False)
    return np.stack([np.interp(at, cum, closed[:, k]) for k in (0, 1)], axis=1)


def deformed_outline(landmarks: np.ndarray, params: MaskParams) -> tuple[np.ndarray, float]:
    """The hull of `face_contour`, scaled and wobbled in the face frame; and the face extent."""
    hull = cv2.convexHull(face_contour(landmarks).astype(np.float32))[:, 0].astype(np.float64)
    extent = float(np.sqrt(max(cv2.contourArea(hull.astype(np.float32)), 1.0)))
    _, u, n, _, _ = face_axes(landmarks)
    # Dense points, so the smooth radial wobble (an elastic-like deformation) has a shape to bend.
    pts = _resample(hull, 64)
    centre = pts.mean(axis=0)
    along_u, along_n = (pts - centre) @ u, (pts - centre) @ n
    theta = np.arctan2(along_n, along_u)
    radial = 1.0 + sum(
        a * np.cos(k * theta + phi) for k, (a, phi) in zip(HARMONICS, params.wobble, strict=True)
    )
    along_u = along_u * params.scale_x * radial
    along_n = along_n * params.scale_y * radial
    return centre + np.outer(along_u, u) + np.outer(along_n, n), extent


def _odd(size: float) -> int:
    """A Gaussian / morphology kernel side: odd, at least 3."""
    return max(3, round(size) | 1)


def render_mask(shape: tuple[int, int], landmarks: np.ndarray, params: MaskParams) -> np.ndarray:
    """The soft blending mask (H, W) float32 in [0, 1] for one frame's landmarks."""
    outline, extent = deformed_outline(landmarks, params)
    mask = np.zeros(shape[:2], dtype=np.float32)
    # Fixed-point vertices (4 fractional bits): sub-pixel placement, so moving the landmarks by
    # whole pixels moves the mask by exactly as much.
    fixed = np.round(outline * 16).astype(np.int32)
    cv2.fillPoly(mask, [fixed], 1.0, lineType=cv2.LINE_8, shift=4)
    if params.kind != "hull":
        k = _odd(params.morph * extent)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        morph = cv2.dilate if params.kind == "dilated" else cv2.erode
        mask = morph(mask, kernel)
    k1, k2 = _odd(params.blur1 * extent), _odd(params.blur2 * extent)
    blurred = cv2.GaussianBlur(mask, (k1, k1), 0)
    # Sec. 3 (Mask Generator): after the first blur only what stayed 1 is kept, so the second
    # blur's soft edge sits on the face rather than leaking outside the hull.
    core = (blurred > 0.999).astype(np.float32)
    if core.any():
        mask = core
    mask = cv2.GaussianBlur(mask, (k2, k2), 0)
    peak = float(mask.max())
    if peak > 0:
        mask = mask / np.float32(peak)
    mask[mask < _MIN_MASK] = 0.0
    return np.clip(mask, 0.0, 1.0).astype(np.float32, copy=False)
