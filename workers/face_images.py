"""Evidence images: a small JPEG of every scored face crop, kept in Redis beside the job's result.

The pipeline hands over its crops (workers.pipeline.DetectionOutput); this encodes them the way
they were scored (square, area-resized) and writes FACES_KEY, one field per face.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from redis import Redis
from redis.typing import EncodableT, FieldT

from contract.queue import FACE_IMAGE_PATH, FACES_KEY, MAX_FACE_IMAGE_BYTES, MAX_FACE_IMAGES
from contract.result import DetectionResult
from workers.crops import resize_crop

FACE_IMAGE_SIZE = 128
"""Side of a stored face image, px: the crop squared as the members see it, at thumbnail size."""
JPEG_QUALITIES = (80, 70, 60, 50, 40, 30)
"""Tried in turn until the JPEG fits MAX_FACE_IMAGE_BYTES."""


def encode_face(crop: np.ndarray, *, max_bytes: int = MAX_FACE_IMAGE_BYTES) -> bytes | None:
    """One RGB crop as a FACE_IMAGE_SIZE-square JPEG of at most `max_bytes`; None if none fits."""
    bgr = cv2.cvtColor(resize_crop(crop, FACE_IMAGE_SIZE), cv2.COLOR_RGB2BGR)
    for quality in JPEG_QUALITIES:
        ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and encoded.size <= max_bytes:
            return encoded.tobytes()
    return None


def store_face_images(
    redis: Redis,
    job_id: str,
    result: DetectionResult,
    face_crops: Sequence[np.ndarray],
    ttl_s: int,
) -> int:
    """Store the first MAX_FACE_IMAGES crops under FACES_KEY and set each stored face's
    `image_url`; returns how many were stored.

    `ttl_s` is the result's TTL (RQ's result_ttl): 0 keeps nothing, negative keeps them as
    long as RQ keeps the result, i.e. without expiry.
    """
    faces = [face for frame in result.frames for face in frame.faces]
    if len(faces) != len(face_crops):
        raise ValueError(f"{len(face_crops)} crops for {len(faces)} faces")
    images: dict[FieldT, EncodableT] = {}
    if ttl_s != 0:
        for n, crop in enumerate(face_crops[:MAX_FACE_IMAGES]):
            data = encode_face(crop)
            if data is not None:
                images[str(n)] = data
    key = FACES_KEY.format(job_id=job_id)
    with redis.pipeline() as pipe:
        pipe.delete(key)
        if images:
            pipe.hset(key, mapping=images)
            if ttl_s > 0:
                pipe.expire(key, ttl_s)
        pipe.execute()
    for n, face in enumerate(faces):
        face.image_url = FACE_IMAGE_PATH.format(job_id=job_id, n=n) if str(n) in images else None
    return len(images)
