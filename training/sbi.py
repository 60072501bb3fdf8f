"""Self-Blended Images (SBI): pseudo-fakes made by blending a face crop with itself.

Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images" (CVPR 2022), written from the
paper's description. One real image gives a source (colour and frequency changed, then slightly
resized and shifted, Sec. 3, Source-Target Generator) and a target (the image itself); a soft
face mask (Sec. 3, Mask Generator; `training.sbi_mask`) blends them (Sec. 3, Blending):
    out = source * (mask * r) + target * (1 - mask * r),  r in {0.25, 0.5, 0.75, 1, 1, 1}.
The result carries a face-swap's blending boundary and statistical mismatch without an identity
change. All randomness is in `BlendParams`, so a sequence draws once and every frame gets the
same blend with its own landmarks; `post_augment` then treats real and fake alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import cv2
import numpy as np

from training.sbi_mask import MaskParams, draw_mask, render_mask

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
"""Sec. 3 (Blending): the blend ratio r is drawn uniformly from this list."""
TARGET_JITTER_PROB = 0.25
"""Share of blends whose target (the real half too) gets its own mild colour jitter."""
WOBBLE = 0.006
"""Per-frame source shift jitter, a fraction of the crop's side (about 1.3 px at 224): a swap is
registered to the face frame by frame, so its face drifts a pixel or so against the head."""
FLICKER_RATIO = 0.2
"""A sequence's blend ratio falls by up to this share, independently per frame."""
FLICKER_BRIGHTNESS = 0.02
"""Per-frame change of the source's brightness (fraction of 255): a swap's colour correction is
computed per frame, so its face flickers where the real face around it does not."""


@dataclass(frozen=True)
class ColorJitter:
    """One colour change (Sec. 3, STG: RGB shift, hue-saturation-value, brightness-contrast)."""

    rgb_shift: tuple[float, float, float] = (0.0, 0.0, 0.0)  # added per channel, 0-255 scale
    hue: float = 0.0  # OpenCV hue units (the wheel is 0-180)
    saturation: float = 0.0  # added to S, 0-255 scale
    value: float = 0.0  # added to V, 0-255 scale
    brightness: float = 0.0  # fraction of 255 added
    contrast: float = 0.0  # relative gain about the image's mean


NO_JITTER = ColorJitter()


@dataclass(frozen=True)
class BlendParams:
    """Everything drawn for one blend; apply it to each frame of a sequence with its landmarks."""

    source_color: ColorJitter
    frequency: Literal["sharpen", "blur"]  # Sec. 3, STG: sharpen, or downsample and back
    frequency_amount: float  # sharpen: unsharp-mask gain; blur: downscale factor
    scale: float  # source resize about the face centre (Sec. 3, STG)
    shift: tuple[float, float]  # source translation, fractions of the crop's (width, height)
    mask: MaskParams
    ratio: float  # blend ratio r
    target_color: ColorJitter = field(default=NO_JITTER)


def _draw_color(rng: np.random.Generator, strength: float, force: bool) -> ColorJitter:
    """Each of the three colour ops with probability 1/2; `force` makes sure one is on."""
    on = rng.random(3) < 0.5
    if force and not on.any():
        on[int(rng.integers(3))] = True
    rgb = rng.uniform(-20, 20, 3) * strength if on[0] else np.zeros(3)
    hsv = rng.uniform([-10, -30, -20], [10, 30, 20]) * strength if on[1] else np.zeros(3)
    bc = rng.uniform(-0.1, 0.1, 2) * strength if on[2] else np.zeros(2)
    return ColorJitter(
        rgb_shift=(float(rgb[0]), float(rgb[1]), float(rgb[2])),
        hue=float(hsv[0]),
        saturation=float(hsv[1]),
        value=float(hsv[2]),
        brightness=float(bc[0]),
        contrast=float(bc[1]),
    )


def draw_blend(rng: np.random.Generator) -> BlendParams:
    """Draw one blend: source transforms, mask deformation, blend ratio (Sec. 3)."""
    # At least one colour op on the source: with none, and a near-identity resize, the "fake"
    # would barely differ from the real and teach the detector nothing.
    source_color = _draw_color(rng, 1.0, force=True)
    sharpen = bool(rng.random() < 0.5)
    amount = float(rng.uniform(0.3, 1.0) if sharpen else rng.uniform(0.4, 0.8))
    scale = float(rng.uniform(0.95, 1.05))
    shift = rng.uniform(-0.03, 0.03, 2)
    mask = draw_mask(rng)
    ratio = float(BLEND_RATIOS[int(rng.integers(len(BLEND_RATIOS)))])
    target = _draw_color(rng, 0.5, force=False) if rng.random() < TARGET_JITTER_PROB else NO_JITTER
    return BlendParams(
        source_color=source_color,
        frequency="sharpen" if sharpen else "blur",
        frequency_amount=amount,
        scale=scale,
        shift=(float(shift[0]), float(shift[1])),
        mask=mask,
        ratio=ratio,
        target_color=target,
    )


def apply_color(image: np.ndarray, jitter: ColorJitter) -> np.ndarray:
    """`image` (uint8 RGB) with one colour change; the same image back when it is NO_JITTER."""
    if jitter == NO_JITTER:
        return image
    out = image.astype(np.float32)
    if any(jitter.rgb_shift):
        out += np.asarray(jitter.rgb_shift, dtype=np.float32)
    if jitter.hue or jitter.saturation or jitter.value:
        rgb8 = np.clip(out, 0, 255).astype(np.uint8)
        hsv = cv2.cvtColor(rgb8, cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = np.mod(hsv[..., 0] + round(jitter.hue), 180)
        hsv[..., 1] += jitter.saturation
        hsv[..., 2] += jitter.value
        rgb = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)
        out = rgb.astype(np.float32)
    if jitter.brightness or jitter.contrast:
        mean = float(out.mean())
        out = (out - mean) * (1.0 + jitter.contrast) + (mean + 255 * jitter.brightness)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _apply_frequency(image: np.ndarray, kind: str, amount: float) -> np.ndarray:
    """Sec. 3 (STG): sharpen (unsharp mask), or blur by downscaling and scaling back."""
    if kind == "sharpen":
        soft = cv2.GaussianBlur(image, (0, 0), 1.0).astype(np.float32)
        out = image.astype(np.float32) * (1 + amount) - soft * amount
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    h, w = image.shape[:2]
    size = (max(1, round(w * amount)), max(1, round(h * amount)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _apply_geometry(
    image: np.ndarray, centre: np.ndarray, scale: float, shift: tuple[float, float]
) -> np.ndarray:
    """Sec. 3 (STG): resize about the face centre and translate, so the source's face is
    slightly misregistered with the target's, as a swapped face is."""
    h, w = image.shape[:2]
    matrix = np.array(
        [
            [scale, 0.0, (1 - scale) * centre[0] + shift[0] * w],
            [0.0, scale, (1 - scale) * centre[1] + shift[1] * h],
        ]
    )
    # Reflection, not black: the mask stays on the face, but a blur must not see a black border.
    return cv2.warpAffine(
        image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def target_image(image: np.ndarray, params: BlendParams) -> np.ndarray:
    """The target of a blend, which is also the real half of the pair: the image, maybe with its
    own mild colour jitter; the pseudo-fake equals it outside the mask."""
    return apply_color(image, params.target_color)


def source_image(
    image: np.ndarray,
    landmarks: np.ndarray,
    params: BlendParams,
    wobble: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """The source of a blend: colour, then frequency, then resize and shift (Sec. 3, STG)."""
    out = apply_color(image, params.source_color)
    out = _apply_frequency(out, params.frequency, params.frequency_amount)
    centre = np.asarray(landmarks, dtype=np.float64).reshape(5, 2).mean(axis=0)
    shift = (params.shift[0] + wobble[0], params.shift[1] + wobble[1])
    return _apply_geometry(out, centre, params.scale, shift)


def face_mask(shape: tuple[int, int], landmarks: np.ndarray, params: BlendParams) -> np.ndarray:
    """The soft face mask (H, W) float32 in [0, 1] before the blend ratio (Sec. 3, MG)."""
    return render_mask(shape, landmarks, params.mask)


def self_blend(
    image: np.ndarray,
    landmarks: np.ndarray,
    params: BlendParams,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Blend `image` (uint8 RGB face crop) with its own transformed copy (Sec. 3, Blending).

    `landmarks` are MTCNN's five points (5, 2) in the crop's pixels. `rng`, when given, adds a
    per-frame wobble (up to WOBBLE of the size) to the source shift, like a swap's frame-to-frame
    registration jitter; without it the blend depends on `params` alone.
    Returns the pseudo-fake (uint8) and the effective mask (mask * r, float32 (H, W)); outside
    the mask's support the fake equals `target_image(image, params)` exactly.
    """
    wobble = (0.0, 0.0)
    if rng is not None:
        dx, dy = rng.uniform(-WOBBLE, WOBBLE, 2)
        wobble = (float(dx), float(dy))
    target = target_image(image, params)
    source = source_image(image, landmarks, params, wobble)
    mask = face_mask(image.shape[:2], landmarks, params) * np.float32(params.ratio)
    weight = mask[..., None]
    blended = source.astype(np.float32) * weight + target.astype(np.float32) * (1 - weight)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8), mask


def flicker(params: BlendParams, rng: np.random.Generator) -> BlendParams:
    """One frame's variant of a sequence's blend: the ratio and the source's brightness drawn
    afresh within FLICKER_RATIO / FLICKER_BRIGHTNESS, mask and geometry unchanged.

    Starter v2 applied one identical blend to every frame, so its sequence fakes were steadier
    than the real swaps they stand for, which are made frame by frame and flicker."""
    brightness = params.source_color.brightness + float(
        rng.uniform(-FLICKER_BRIGHTNESS, FLICKER_BRIGHTNESS)
    )
    return replace(
        params,
        ratio=params.ratio * float(1.0 - rng.uniform(0.0, FLICKER_RATIO)),
        source_color=replace(params.source_color, brightness=brightness),
    )


@dataclass(frozen=True)
class _PostDraw:
    jpeg_quality: int | None  # JPEG re-compression quality, None: none
    downscale: float | None  # downscale factor before scaling back, None: none


POST_JPEG = (0.6, 30, 95)
"""(probability, lowest quality, highest quality) of the JPEG re-compression after blending."""
POST_DOWNSCALE = (0.5, 0.3, 0.9)
"""(probability, smallest factor, largest factor) of the downscale-and-back after blending.

Both are wide on purpose: starter v1 (JPEG 40-95 half the time, downscale 0.5-0.9 a third of the
time) scored the blurry, blocky real DFDC crops as fake and the clean real clips as real, i.e. it
had learnt "soft face" rather than "blended face". Degrading real and fake alike, down to what a
256 px re-encoded DFDC crop looks like, takes that shortcut away."""


def _draw_post(rng: np.random.Generator) -> _PostDraw:
    jpeg_p, worst, best = POST_JPEG
    down_p, smallest, largest = POST_DOWNSCALE
    quality = int(rng.integers(worst, best + 1)) if rng.random() < jpeg_p else None
    down = float(rng.uniform(smallest, largest)) if rng.random() < down_p else None
    return _PostDraw(quality, down)


def _apply_post(image: np.ndarray, draw: _PostDraw) -> np.ndarray:
    out = image
    if draw.downscale is not None:
        out = _apply_frequency(out, "blur", draw.downscale)
    if draw.jpeg_quality is not None:
        # OpenCV's codec expects BGR: convert, or chroma subsampling acts on the wrong channels.
        bgr = cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, draw.jpeg_quality])
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else None
        if decoded is None:
            raise RuntimeError("JPEG re-compression failed")
        out = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    return np.array(out, copy=True)


def post_augment(images: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """JPEG re-compression and / or a downscale and back (POST_JPEG, POST_DOWNSCALE), drawn once
    and applied to every image given, after blending (Sec. 4.1, training augmentation). One draw
    for the real and its fake, so compression artefacts never tell the label apart."""
    draw = _draw_post(rng)
    return [_apply_post(image, draw) for image in images]


def sbi_pair(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(real, fake, mask) for one crop: a fresh blend, post-augmented alike on both halves.

    The real is the blend's target: before `post_augment` (the same on both) the fake equals it
    outside the mask. The mask is the effective mask * r.
    """
    params = draw_blend(rng)
    fake, mask = self_blend(image, landmarks, params)
    real, fake = post_augment([target_image(image, params), fake], rng)
    return real, fake, mask
