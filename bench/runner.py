"""`dfdetect bench`: the pipeline's cost per stage, reference against fast, on a fixed set.

The reference configuration is this code doing what the 15th-place kernel did: decode every
frame in order, MTCNN at full size through facenet-pytorch's own loop (5 frames a call), no
backbone reuse, NCHW, BatchNorm as its own layer. The fast configuration is the product's fast
path. Both run in the same process, under the same allocator and threads, interleaved clip by
clip, so a busy machine slows both alike and the ratio stays meaningful.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import av

from bench.media import GENERATED_SECONDS, generated_clip
from bench.records import BenchClip, BenchRun, ConfigName
from contract.paths import shared_data_dir
from contract.pipeline import DEFAULT_BACKBONE, PipelineConfig

REFERENCE: dict[str, Any] = {
    "decode": "sequential",
    "detect_scale": 1.0,
    "vectorised_mtcnn": False,
    "detect_batch_size": 5,
    "share_backbones": False,
    "channels_last": False,
    "fold_norms": False,
}
"""What the 15th-place kernel did (README: Performance): every frame decoded in order, MTCNN at
full size 5 frames a call, each member's backbone run on its own, NCHW, BatchNorm unfolded."""
FAST: dict[str, Any] = {
    "decode": "seek",
    "detect_scale": 0.5,
    "vectorised_mtcnn": True,
    "detect_batch_size": 10,
    "share_backbones": True,
    "channels_last": True,
    "fold_norms": True,
}
"""The fast path: only what the benchmark shows pays (README, "Performance")."""
CONFIGS: dict[ConfigName, dict[str, Any]] = {
    "reference": REFERENCE,
    "fast": FAST,
    "fast_full_size": {**FAST, "detect_scale": 1.0},  # what the fast path costs without it
}
QUICK_SIZE = (640, 360)
"""Frame size of the generated clip in `--quick` runs (tests)."""
QUICK_SECONDS = 2
"""Length of the generated clip in `--quick` runs."""


@dataclass(frozen=True)
class BenchOptions:
    """What `dfdetect bench` was asked to do."""

    backbone: str = DEFAULT_BACKBONE
    image_size: int = 224
    repeats: int = 1
    warmup: int = 1
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp16", "fp32"] = "fp16"
    quick: bool = False
    clips: tuple[Path, ...] = ()
    configs: tuple[ConfigName, ...] = ("reference", "fast")
    sequences: int | None = None
    sequence_length: int | None = None
    data_dir: Path = field(default_factory=shared_data_dir)
    cache_dir: Path = Path("var/bench")
    lengths: tuple[int, ...] = GENERATED_SECONDS
    throughput_workers: int = 0
    throughput_videos: int = 24


def probe(path: Path, source: Literal["shared", "generated", "given"]) -> BenchClip:
    """Size, length and frame count of a clip (frames counted from packets: headers lie)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for packet in container.demux(stream) if packet.size)
        seconds = float(container.duration or 0) / av.time_base
        return BenchClip(path.stem, path, source, stream.width, stream.height, seconds, frames)


def shared_clips(data_dir: Path) -> list[BenchClip]:
    """The full-frame 1920x1080 clips among the shared test videos (face crops excluded)."""
    videos = data_dir / "videos"
    if not videos.is_dir():
        return []
    clips = [probe(path, "shared") for path in sorted(videos.glob("*.mp4"))]
    return [clip for clip in clips if (clip.width, clip.height) == (1920, 1080)]


def bench_clips(options: BenchOptions, log: Callable[[str], None] = print) -> list[BenchClip]:
    """The fixed set (shared 1080p clips, then generated 10 s, 60 s, 5 min), or what was given.

    `--quick`: the first shared 1080p clip and one short generated 640x360 clip.
    """
    if options.clips:
        return [probe(path, "given") for path in options.clips]
    shared = shared_clips(options.data_dir)
    if not shared:
        log(f"no shared 1080p clips under {options.data_dir}/videos (set DFDETECT_TEST_DATA)")
    clips_dir = options.cache_dir / "clips"
    if options.quick:
        quick = generated_clip(clips_dir, QUICK_SECONDS, size=QUICK_SIZE)
        return [*shared[:1], probe(quick, "generated")]
    generated = []
    for seconds in options.lengths:
        log(f"generated clip of {seconds} s: encoding once into {clips_dir} if absent")
        generated.append(probe(generated_clip(clips_dir, seconds), "generated"))
    return [*shared, *generated]


def pipeline_config(options: BenchOptions, name: ConfigName) -> PipelineConfig:
    """The named configuration for this run's device, precision and frame counts."""
    return PipelineConfig().with_overrides(
        device=options.device,
        half=options.precision == "fp16",
        sequences=options.sequences or (2 if options.quick else None),
        sequence_length=options.sequence_length or (3 if options.quick else None),
        **CONFIGS[name],
    )


def model_dir(options: BenchOptions) -> Path:
    """A scaffolded random-weight ensemble (timing only), made once under the cache dir."""
    from models.scaffold import scaffold_ensemble

    out = options.cache_dir / "models" / f"{options.backbone}-{options.image_size}"
    if not (out / "manifest.json").is_file():
        scaffold_ensemble(out, backbone=options.backbone, image_size=options.image_size)
    return out


def run_bench(options: BenchOptions, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Load both configurations, warm them up, time every clip in each, summarise."""
    from bench.profiling import MemberTimer, PeakMemory, machine
    from bench.report import summarise
    from contract.digest import file_sha256
    from models.device import resolve_device
    from workers.pipeline import DetectionPipeline

    clips = bench_clips(options, log)
    if not clips:
        raise SystemExit("dfdetect bench: no clips to run (see --clips, DFDETECT_TEST_DATA)")
    models = model_dir(options)
    pipelines = {}
    for name in options.configs:
        pipeline = DetectionPipeline.load(models, pipeline_config(options, name))
        pipeline.warm_up()
        pipelines[name] = pipeline
    device = resolve_device(options.device)
    hashes = {clip.name: file_sha256(clip.path) for clip in clips}
    for name, pipeline in pipelines.items():
        for _ in range(options.warmup):  # first-touch costs: allocator pages, kernel choice
            log(f"warm-up: {name} on {clips[0].name}")
            pipeline.detect(clips[0].path, sha256=hashes[clips[0].name])
    runs: list[BenchRun] = []
    for repeat in range(options.repeats):
        for clip in clips:
            order = list(pipelines) if repeat % 2 == 0 else list(pipelines)[::-1]
            for name in order:
                pipeline = pipelines[name]
                memory, timer = PeakMemory(device), MemberTimer(pipeline.ensemble)
                cpu = time.process_time()
                with memory.measure(), timer.measure() as members_ms:
                    result = pipeline.detect(clip.path, sha256=hashes[clip.name])
                run = BenchRun(
                    clip=clip.name,
                    config=name,
                    repeat=repeat,
                    timings_ms=dict(result.timings_ms),
                    members_ms={k: round(v, 1) for k, v in members_ms.items()},
                    cpu_s=round(time.process_time() - cpu, 2),
                    peak_rss_mb=round(memory.rss_mb, 1),
                    peak_gpu_mb=None if memory.gpu_mb is None else round(memory.gpu_mb, 1),
                    fake_probability=result.fake_probability,
                    member_scores={m.name: m.score for m in result.models},
                    result=result,
                )
                runs.append(run)
                log(f"{clip.name} {name} #{repeat}: {run.timings_ms['total'] / 1000:.1f} s")
    report: dict[str, Any] = {}
    if options.throughput_workers and "fast" in pipelines:
        report["throughput"] = measure_throughput(
            pipelines["fast"], clips, hashes, options.throughput_workers, options.throughput_videos
        )
        log(f"throughput: {report['throughput']}")
    return {
        **report,
        "machine": machine(device),
        "workload": workload(options, pipelines),
        "configs": {name: CONFIGS[name] for name in options.configs},
        "clips": [{**asdict(clip), "path": str(clip.path)} for clip in clips],
        "runs": [_run_json(run) for run in runs],
        **summarise(clips, runs),
    }


def measure_throughput(
    pipeline: Any, clips: Sequence[BenchClip], hashes: dict[str, str], workers: int, videos: int
) -> dict[str, Any]:
    """Videos a second when `workers` threads decode the next videos while this one scores.

    Over the 1080p clips of about 10 s, cycled to `videos` videos; at most `workers + 1`
    decoded videos wait (each is 50 full-size RGB frames, about 300 MB).
    """
    ten_s = [c for c in clips if c.height == 1080 and 9 <= c.seconds <= 11] or list(clips)
    queue = [ten_s[i % len(ten_s)] for i in range(videos)]
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[tuple[BenchClip, Future[Any]]] = deque()
        for clip in queue:
            pending.append(
                (clip, pool.submit(pipeline.sample, clip.path, sha256=hashes[clip.name]))
            )
            if len(pending) > workers:
                done, future = pending.popleft()
                pipeline.detect(done.path, video=future.result())
        while pending:
            done, future = pending.popleft()
            pipeline.detect(done.path, video=future.result())
    seconds = time.perf_counter() - start
    return {
        "decode_workers": workers,
        "videos": videos,
        "clips": [c.name for c in ten_s],
        "seconds": round(seconds, 2),
        "videos_per_s": round(videos / seconds, 2),
    }


def workload(options: BenchOptions, pipelines: dict[ConfigName, Any]) -> dict[str, Any]:
    """What each video costs: members, crop size, frames sampled, precision, repeats."""
    pipeline = next(iter(pipelines.values()))
    config: PipelineConfig = pipeline.config
    return {
        "backbone": options.backbone,
        "image_size": options.image_size,
        "members": [member.spec.name for member in pipeline.ensemble.members],
        "sequences": config.sequences,
        "sequence_length": config.sequence_length,
        "precision": options.precision if pipeline.ensemble.half else "fp32",
        "repeats": options.repeats,
        "warmup": options.warmup,
        "weights": "random (scaffolded): timing only",
    }


def _run_json(run: BenchRun) -> dict[str, Any]:
    out = asdict(run)
    out.pop("result")
    return out
