"""`dfdetect preprocess`: face crops and sequences of labelled videos, cached once for training.

The crops are the inference pipeline's own: `sample_frames`, `FaceDetector.detect_and_select`,
the cache's crop rule (`CACHE_CROP`, margin) and the pipeline's middle-frame sequence crops,
so a model trains on what it will be served. The 15th-place author's regret was not caching
crops: detection dominates the cost of an epoch otherwise.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import torch
from tqdm import tqdm

from contract.errors import DatasetError, DfdetectError
from contract.pipeline import PipelineConfig
from models.device import resolve_device
from training.cache import (
    CACHE_CROP,
    CROPS_DIR,
    CachedFace,
    CachedSequence,
    CachedVideo,
    CacheSettings,
    append_record,
    join_strip,
    read_index,
    read_settings,
    video_key,
    write_png,
    write_settings,
)
from training.dfdc import LabelledVideo
from workers.crops import resize_crop
from workers.faces import FaceDetector
from workers.pipeline import sequence_crops
from workers.recipes import cut_face
from workers.sampling import sample_frames

log = logging.getLogger("dfdetect.preprocess")

DEFAULT_CROP_SIZE = 224
"""Side of the cached crops: the 15th-place 224x224 input; train smaller members from it."""


@dataclass
class PreprocessSummary:
    """What a preprocess run found: counts, and each failed video with its reason."""

    videos: int = 0
    skipped: int = 0
    ok: int = 0
    no_face: int = 0
    faces: int = 0
    sequences: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)

    def add(self, record: CachedVideo) -> None:
        """Count one video's index line."""
        if record.status == "failed":
            self.failures[record.video] = record.reason or "unknown"
            return
        self.labels[record.label] += 1
        if record.status == "no_face":
            self.no_face += 1
        else:
            self.ok += 1
        self.faces += len(record.faces)
        self.sequences += len(record.sequences)

    def lines(self) -> list[str]:
        """The summary as printed at the end of a run."""
        out = [
            f"videos: {self.videos} ({self.skipped} already cached), with faces: {self.ok}, "
            f"no face: {self.no_face}, failed: {len(self.failures)}",
            f"face crops: {self.faces}, sequences: {self.sequences}, "
            f"labels of usable videos: {dict(sorted(self.labels.items()))}",
        ]
        out += [f"failed: {video}: {reason}" for video, reason in sorted(self.failures.items())]
        return out


def cache_settings(config: PipelineConfig, crop_size: int) -> CacheSettings:
    """The cache settings a pipeline configuration and crop size give."""
    return CacheSettings(
        sequences=config.sequences,
        sequence_length=config.sequence_length,
        crop_size=crop_size,
        detect_scale=config.detect_scale,
    )


def process_video(
    video: LabelledVideo, out: Path, detector: FaceDetector, settings: CacheSettings
) -> CachedVideo:
    """Crop one video into `out/crops/<key>/` and return its index line (never raises for the
    video's own faults: a damaged file is a `failed` line with the reason)."""
    key = video_key(video.path)
    record = CachedVideo(
        video=str(video.path.resolve()), key=key, label=video.label, status="failed"
    )
    final = out / CROPS_DIR / key
    partial = out / CROPS_DIR / f"{key}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)  # crops of a run killed before its index line
    try:
        sampled = sample_frames(
            video.path, settings.sequences, settings.sequence_length, decode=detector.config.decode
        )
        faces = detector.detect_and_select([frame.image for frame in sampled.frames])
        partial.mkdir(parents=True)
        size = settings.crop_size
        for frame, detections in zip(sampled.frames, faces, strict=True):
            for number, detection in enumerate(detections):
                name = f"f{frame.index:06d}_{number}.png"
                crop = cut_face(CACHE_CROP, frame.image, detection.box)
                write_png(partial / name, resize_crop(crop, size))
                record.faces.append(
                    CachedFace(file=f"{key}/{name}", frame=frame.index, face=number)
                )
        for sequence in sequence_crops(sampled, faces, CACHE_CROP):
            name = f"s{sequence.frame_indices[0]:06d}_{sequence.face}.png"
            write_png(partial / name, join_strip([resize_crop(c, size) for c in sequence.crops]))
            record.sequences.append(
                CachedSequence(
                    file=f"{key}/{name}", frames=sequence.frame_indices, face=sequence.face
                )
            )
        os.replace(partial, final)
        record.sampled_frames = len(sampled.frames)
        record.status = "ok" if record.faces else "no_face"
    except DfdetectError as exc:
        record.reason = f"{exc.code}: {exc.message}"
    except Exception as exc:  # one odd file must not end a run over thousands; say which
        log.exception("preprocessing %s failed", video.path)
        record.reason = f"{type(exc).__name__}: {exc}"
    if record.status == "failed":
        record.faces, record.sequences = [], []
        shutil.rmtree(partial, ignore_errors=True)
    return record


_worker_detector: FaceDetector | None = None
"""The face detector of a pool worker process (each loads MTCNN once, at start)."""


def _start_worker(config_json: str, threads: int) -> None:
    global _worker_detector
    torch.set_num_threads(threads)
    config = PipelineConfig.model_validate_json(config_json)
    _worker_detector = FaceDetector(config, resolve_device(config.device))


def _work(video: LabelledVideo, out: Path, settings: CacheSettings) -> CachedVideo:
    assert _worker_detector is not None, "pool worker started without its detector"
    return process_video(video, out, _worker_detector, settings)


def preprocess(
    videos: list[LabelledVideo],
    out: Path,
    config: PipelineConfig,
    *,
    crop_size: int = DEFAULT_CROP_SIZE,
    workers: int = 1,
    progress: bool = True,
) -> PreprocessSummary:
    """Crop every video not cached yet into `out` (resumable), `workers` videos at a time."""
    out = Path(out)
    settings = cache_settings(config, crop_size)
    existing = read_settings(out)
    if existing is not None and existing != settings:
        raise DatasetError(
            f"{out} was made with {existing.model_dump()}, not {settings.model_dump()}; "
            "resume with the same options or preprocess into a new --out folder"
        )
    write_settings(out, settings)
    (out / CROPS_DIR).mkdir(exist_ok=True)
    done = read_index(out)
    summary = PreprocessSummary(videos=len(videos))
    todo = []
    for video in videos:
        record = done.get(str(video.path.resolve()))
        if record is not None and record.status != "failed":  # failures are tried again
            summary.skipped += 1
            summary.add(record)
        else:
            todo.append(video)
    bar = tqdm(total=len(todo), desc="preprocess", unit="video", disable=not progress)
    with bar:
        for record in _records(todo, out, config, settings, workers):
            append_record(out, record)
            summary.add(record)
            bar.update()
    return summary


def _records(
    todo: list[LabelledVideo],
    out: Path,
    config: PipelineConfig,
    settings: CacheSettings,
    workers: int,
) -> Iterator[CachedVideo]:
    """Index lines as videos finish: in this process for one worker, else from a spawned pool
    (CUDA does not survive a fork)."""
    if workers <= 1 or len(todo) <= 1:
        detector = FaceDetector(config, resolve_device(config.device))
        for video in todo:
            yield process_video(video, out, detector, settings)
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_start_worker,
        initargs=(config.model_dump_json(), max(1, (os.cpu_count() or 1) // workers)),
    )
    try:
        futures = [pool.submit(_work, video, out, settings) for video in todo]
        for future in as_completed(futures):
            yield future.result()
    finally:
        # Ctrl-C: drop the videos not started rather than finishing the whole queue first.
        pool.shutdown(wait=True, cancel_futures=True)
