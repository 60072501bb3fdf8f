"""`dfdetect train starter`: the starter ensemble from real faces only, by the project's commands.

Steps, each resumable (a rerun skips what is done): the real-face cache (MTCNN landmarks of the
shared real clips and photos), the 15th-place shape on an ImageNet-pretrained EfficientNet-Lite
(a frame member, a CutMix frame member, an LSTM head on the frozen CutMix encoder) trained on
self-blended images, then the evaluation on the labelled dev clips, which no step trains on.
The directory it writes names itself in every result and carries a model card.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from contract.operating import OPERATING_POINTS_FILE
from contract.pipeline import PipelineConfig
from models.device import resolve_device
from models.manifest import MANIFEST_FILE, load_manifest, save_manifest
from models.operating import save_operating_points
from models.postprocess import PostprocessSpec
from training.calibrate import fit_calibration
from training.dfdc import read_dfdc
from training.operating import readable_folder, table_from_report_videos
from training.real_faces import RealSettings, open_real_cache, preprocess_real
from training.schedule import TrainOptions
from training.starter_card import clips_report, model_card, model_note, score_clips
from training.starter_options import STARTER_VERSION, StarterOptions
from training.train_frame import frame_member_name, train_frame
from training.train_sequence import sequence_member_name, train_sequence

log = logging.getLogger("dfdetect.starter")


def real_roots(data_dir: Path) -> list[Path]:
    """Where the real faces are: the real clips and photos, and the shared photos."""
    return [Path(data_dir) / "train_real", Path(data_dir) / "images"]


def _train_options(
    options: StarterOptions, model_dir: Path, name: str, epochs: int
) -> TrainOptions:
    return TrainOptions(
        caches=[options.work / "real"],
        val=[],
        out=model_dir,
        name=name,
        image_size=options.image_size,
        epochs=epochs,
        batch_size=options.batch_size,
        samples_per_epoch=options.frame_samples,
        lr=options.lr,
        cycle_epochs=epochs,
        sbi=True,
        device=options.device,
        seed=options.seed,
        resume=True,
        progress=options.progress,
    )


def real_settings(options: StarterOptions) -> RealSettings:
    """How the real-face cache is cut for these options: sequences as the LSTM reads them, crops
    at the input size (a larger --image-size, lite2 at 260, must not train on 224 px crops
    scaled up)."""
    return RealSettings(
        sequences=options.sequences_per_clip,
        sequence_length=options.sequence_length,
        crop_size=options.image_size,
    )


def build_starter(options: StarterOptions) -> dict[str, Any]:
    """Run (or resume) every step; returns the evaluation written into the model card."""
    cache = options.work / "real"
    settings = real_settings(options)
    device = resolve_device(options.device)  # type: ignore[arg-type]
    preprocess_real(
        real_roots(options.data_dir), cache, settings, device=device, progress=options.progress
    )
    model_dir = options.work / "model"
    frame = frame_member_name(options.backbone, cutmix=False)
    cutmix = frame_member_name(options.backbone, cutmix=True)
    for name, use_cutmix in ((frame, False), (cutmix, True)):
        train = _train_options(options, model_dir, name, options.frame_epochs)
        train.cutmix = use_cutmix
        train_frame(train, options.backbone, pretrained=True)
    lstm = sequence_member_name(options.backbone)
    seq = _train_options(options, model_dir, lstm, options.sequence_epochs)
    seq = replace(seq, samples_per_epoch=options.sequence_samples)
    train_sequence(seq, model_dir, cutmix, options.sequence_length)
    return publish(options, model_dir)


def _recipe(options: StarterOptions) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()}


def publish(options: StarterOptions, model_dir: Path) -> dict[str, Any]:
    """Evaluate on the dev clips, write name, note, operating points and model card, copy into
    `options.out`."""
    rule = PostprocessSpec(strategy=options.postprocess)
    manifest = load_manifest(model_dir)
    members = [m.model_copy(update={"postprocess": rule}) for m in manifest.members]
    manifest = manifest.model_copy(update={"members": members, "calibration": None})
    save_manifest(model_dir, manifest)  # scored as it will ship, before its calibration
    dev = Path(options.data_dir) / "videos"
    videos = read_dfdc(dev)
    config = PipelineConfig(device=options.device, sequence_length=options.sequence_length)
    scored, names = score_clips(model_dir, videos, config, progress=options.progress)
    fit = fit_calibration(
        [s.fake_probability for s in scored],
        [s.video.target for s in scored],
        f"{len(videos)} labelled DFDC dev clips of {readable_folder(str(dev))}",
    )
    manifest = manifest.model_copy(update={"calibration": fit.calibration})
    save_manifest(model_dir, manifest)
    report = clips_report(scored, names, fit.calibration)
    report["calibration"] = {
        **fit.calibration.model_dump(mode="json"),
        "log_loss_after": fit.log_loss_after,
    }
    _, sources = open_real_cache(options.work / "real")
    people = len({source.person for source in sources})
    note = model_note(people, report)
    save_manifest(
        model_dir,
        manifest.model_copy(
            update={"name": options.name, "version": STARTER_VERSION, "note": note}
        ),
    )
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    for member in manifest.members:
        shutil.copy2(model_dir / member.checkpoint, out / member.checkpoint)
    shutil.copy2(model_dir / MANIFEST_FILE, out / MANIFEST_FILE)
    (out / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    recipe = config.recipe or manifest.recipe
    table = table_from_report_videos(report["videos"], data=report["data"], recipe=recipe)
    for folder in (model_dir, out):
        if table is not None:
            save_operating_points(folder, table)
        else:  # one label only: no bands, and none left from an earlier run
            (folder / OPERATING_POINTS_FILE).unlink(missing_ok=True)
    (out / "MODEL_CARD.md").write_text(
        model_card(options.name, _recipe(options), load_manifest(out), report, sources, table),
        encoding="utf-8",
    )
    log.info("starter written to %s", out)
    return report
