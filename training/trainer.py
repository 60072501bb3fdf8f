"""The training loop both members share: the 15th-place optimiser and schedule, mixed precision
on CUDA, CutMix, validation log loss each epoch, checkpoint and resume, manifest output."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, Sampler
from tqdm import tqdm

from contract.errors import ModelError
from models.device import resolve_device
from models.manifest import (
    MANIFEST_FILE,
    Manifest,
    MemberSpec,
    load_manifest,
    save_checkpoint,
    save_manifest,
)
from training.augment import cutmix
from training.datasets import Batch, Collate, CropDataset, balanced_sampler, seed_worker
from training.metrics import log_loss
from training.sbi_dataset import SbiDataset
from training.schedule import Epoch, TrainOptions, TrainState, lr_factor

log = logging.getLogger("dfdetect.train")

STATE_DIR = ".train"
"""Folder of the model directory that holds resumable training state, one subfolder a member."""


MemberFactory = Callable[[str, dict[str, Any]], MemberSpec]
"""(checkpoint sha256, training info) -> the member to write into the manifest."""


def upsert_member(model_dir: Path, spec: MemberSpec) -> Manifest:
    """Put a member into a model directory's manifest (replacing one of the same name)."""
    members = (
        list(load_manifest(model_dir).members) if (model_dir / MANIFEST_FILE).is_file() else []
    )
    names = [member.name for member in members]
    if spec.name in names:
        members[names.index(spec.name)] = spec
    else:
        members.append(spec)
    manifest = Manifest(members=members)
    save_manifest(model_dir, manifest)
    return manifest


class Trainer:
    """Trains one member: AdamW on `params`, the warm-up/cosine schedule, best epoch written."""

    def __init__(
        self,
        module: nn.Module,
        params: Iterable[nn.Parameter],
        train: CropDataset | SbiDataset,
        val: CropDataset | SbiDataset | None,
        options: TrainOptions,
        make_spec: MemberFactory,
        *,
        head_only: bool = False,
    ) -> None:
        self.options = options
        self.head_only = head_only
        """Save the head only: the encoder is a frozen frame member's, stored there."""
        self.device = resolve_device(options.device)  # type: ignore[arg-type]
        self.module = module.to(self.device)
        self.train_set, self.val_set = train, val
        self.make_spec = make_spec
        self.sequences = train.sequence_length is not None
        self.collate = Collate(
            options.image_size, sequences=self.sequences, mean=options.mean, std=options.std
        )
        self.samples = options.samples_per_epoch or len(train)
        self.steps_per_epoch = max(1, math.ceil(self.samples / options.batch_size))
        self.optimizer = torch.optim.AdamW(params, lr=options.lr, weight_decay=options.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda step: lr_factor(
                step, self.steps_per_epoch, options.warmup_multiplier, options.cycle_epochs
            ),
        )
        self.amp = options.amp and self.device.type == "cuda"  # fp16 autocast is a CUDA thing
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.state_path = options.out / STATE_DIR / options.name / "state.pt"
        self.state = TrainState()

    def run(self) -> TrainState:
        """Train the remaining epochs; the best epoch's weights go into the manifest."""
        if self.options.resume:
            self._load_state()
        for epoch in range(self.state.epoch + 1, self.options.epochs + 1):
            record = Epoch(epoch, self._train_epoch(epoch), self.optimizer.param_groups[0]["lr"])
            if self.val_set is not None:
                record.val_log_loss, record.val_crop_log_loss = self._validate()
            self.state.history.append(record)
            self.state.epoch = epoch
            log.info(
                "%s epoch %d/%d: %s", self.options.name, epoch, self.options.epochs, record.line()
            )
            score = record.val_log_loss
            if self.state.best is None or score is None or score < self.state.best:
                self.state.best, self.state.best_epoch = score, epoch
                self.state.sha256 = save_checkpoint(
                    self.module,
                    self.options.out / f"{self.options.name}.safetensors",
                    head_only=self.head_only,
                )
            # The weights change only on a better epoch; the history on every one.
            info = self._info(finished=epoch == self.options.epochs)
            upsert_member(self.options.out, self.make_spec(self.state.sha256, info))
            self._save_state()
        return self.state

    def _train_epoch(self, epoch: int) -> float:
        self.module.train()
        seed = self.options.seed * 1000 + epoch  # per epoch: a resumed run draws the same
        self.train_set.reseed(seed)
        loader = DataLoader(
            self.train_set,
            batch_size=self._loader_batch(),
            sampler=self._sampler(seed),
            collate_fn=self.collate,
            num_workers=self.options.loader_workers,
            worker_init_fn=seed_worker,
            generator=torch.Generator().manual_seed(seed),
            drop_last=False,
        )
        rng = np.random.default_rng(seed)
        losses = []
        bar = tqdm(
            loader,
            desc=f"{self.options.name} {epoch}",
            unit="batch",
            disable=not self.options.progress,
        )
        for batch in bar:
            images, targets = self._to_device(batch)
            if self.options.cutmix:
                images, targets = cutmix(images, targets, rng)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
                logits = self.module(images)
            loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), targets)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            losses.append(loss.detach().item())
            bar.set_postfix(loss=f"{np.mean(losses):.4f}")
        return float(np.mean(losses))

    @torch.inference_mode()
    def _validate(self) -> tuple[float, float]:
        """(per-video log loss of the mean crop probability, per-crop log loss)."""
        assert self.val_set is not None
        self.module.eval()
        loader = DataLoader(
            self.val_set,
            batch_size=self._loader_batch(),
            collate_fn=self.collate,
            num_workers=self.options.loader_workers,
        )
        probs, targets, videos = [], [], []
        for batch in loader:
            images = batch.images.to(self.device)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
                logits = self.module(images)
            probs.append(torch.sigmoid(logits.float()).cpu().numpy())
            targets.append(batch.targets.numpy())
            videos.append(batch.videos.numpy())
        p, y, v = np.concatenate(probs), np.concatenate(targets), np.concatenate(videos)
        per_video = [(p[v == n].mean(), y[v == n][0]) for n in np.unique(v)]
        video_loss = log_loss([t for _, t in per_video], [q for q, _ in per_video])
        return video_loss, log_loss(y, p)

    def _loader_batch(self) -> int:
        """Items per batch: an SBI item is a real and its fake, so half as many items."""
        paired = getattr(self.train_set, "paired", False)
        return max(1, self.options.batch_size // 2) if paired else self.options.batch_size

    def _sampler(self, seed: int) -> Sampler[int]:
        """REAL and FAKE drawn equally often: by weights, or by pairs for SBI items."""
        if getattr(self.train_set, "paired", False):
            generator = torch.Generator().manual_seed(seed)
            count = math.ceil(self.samples / 2)
            return RandomSampler(self.train_set, True, count, generator=generator)
        return balanced_sampler(self.train_set.targets, self.samples, seed)

    def _to_device(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        return batch.images.to(self.device), batch.targets.to(self.device)

    def _info(self, finished: bool) -> dict[str, Any]:
        state = self.state
        best = state.history[state.best_epoch - 1] if state.best_epoch else None
        return {
            "recipe": "self-blended images (SBI)" if self.options.sbi else "15th-place DFDC",
            **self.options.recipe(),
            "optimizer": "AdamW",
            "train_videos": len(self.train_set.video_names),
            "train_items": len(self.train_set),
            "val_videos": len(self.val_set.video_names) if self.val_set else 0,
            "epochs_run": state.epoch,
            "best_epoch": state.best_epoch,
            "val_log_loss": best.val_log_loss if best else None,
            "history": [asdict(e) for e in state.history],
            "device": self.device.type,
            "mixed_precision": self.amp,
            "finished": finished,
            "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def _save_state(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.state_path.with_suffix(".partial")
        torch.save(
            {
                "module": self.module.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "state": asdict(self.state),
                "recipe": self.options.recipe(),
            },
            partial,
        )
        partial.replace(self.state_path)

    def _load_state(self) -> None:
        if not self.state_path.is_file():
            log.info("no training state at %s: starting from epoch 1", self.state_path)
            return
        saved = torch.load(self.state_path, map_location=self.device, weights_only=True)
        recipe = self.options.recipe()
        changed = {k for k in recipe if k != "epochs" and saved["recipe"].get(k) != recipe[k]}
        if changed:
            raise ModelError(
                f"{self.state_path} was trained with other {sorted(changed)}; resume with the "
                "same options (only --epochs may grow) or train into a new --out"
            )
        self.module.load_state_dict(saved["module"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        self.scaler.load_state_dict(saved["scaler"])
        state = saved["state"]
        self.state = TrainState(
            epoch=state["epoch"],
            history=[Epoch(**e) for e in state["history"]],
            best=state["best"],
            best_epoch=state["best_epoch"],
            sha256=state["sha256"],
        )
        log.info("resumed %s after epoch %d", self.options.name, self.state.epoch)
