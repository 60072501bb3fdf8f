"""Self-blended pairs from a real-face cache: each item is a real crop and its pseudo-fake.

Every item yields two samples, the real (target 0) and the fake blended from it (target 1),
so each pseudo-fake is in the same batch as its source (SBI, Sec. 3): the only difference the
network can learn is the blend. A sequence item draws one blend and applies it to each frame
with that frame's landmarks, so the blend moves with the face as a face swap does, with the
per-frame flicker and wobble of a swap made frame by frame (`training.sbi.flicker`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from contract.errors import DatasetError
from training.augment import augment_frames, pair_augmentation
from training.cache import CROPS_DIR, read_png, split_strip
from training.datasets import Sample
from training.real_faces import RealSource, open_real_cache
from training.sbi import draw_blend, flicker, post_augment, self_blend, target_image
from training.schedule import TrainOptions

HOLDOUT_PERSONS = 0.15
"""Share of the real-face persons held out to pick the best epoch when no --val is given."""

PairSample = list[Sample]
"""[real, fake]: what an SBI item yields; the collate function flattens it."""


@dataclass(frozen=True)
class _Strip:
    path: Path
    landmarks: np.ndarray  # (L, 5, 2)
    source: int


def split_persons(
    records: Sequence[RealSource], holdout: float, seed: int
) -> tuple[set[str], set[str]]:
    """(training persons, held-out persons): a split by person, never by file, so no face of a
    held-out person is trained on."""
    persons = sorted({record.person for record in records})
    rng = np.random.default_rng(seed)
    rng.shuffle(persons)
    count = round(len(persons) * holdout)
    return set(persons[count:]), set(persons[:count])


class SbiDataset(Dataset[PairSample]):
    """Real/pseudo-fake pairs of face crops (`sequence_length` None) or of sequences.

    `augment` False (validation) draws the same blend for an item every epoch.
    """

    paired = True

    def __init__(
        self,
        caches: Sequence[Path],
        *,
        persons: set[str] | None = None,
        sequence_length: int | None = None,
        augment: bool = True,
        seed: int = 0,
    ) -> None:
        self.sequence_length = sequence_length
        self.augment = augment
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.pair_transform = pair_augmentation()
        self.video_names: list[str] = []
        self.items: list[_Strip] = []
        for cache in caches:
            _, records = open_real_cache(cache)
            for record in records:
                if persons is not None and record.person not in persons:
                    continue
                strips = [s for s in record.strips if len(s.frames) >= (sequence_length or 1)]
                if not strips:
                    continue
                number = len(self.video_names)
                self.video_names.append(record.source)
                self.items += [
                    _Strip(Path(cache) / CROPS_DIR / s.file, np.asarray(s.landmarks), number)
                    for s in strips
                ]
        if not self.items:
            raise DatasetError(f"no real faces for SBI in {[str(c) for c in caches]}")

    def reseed(self, seed: int) -> None:
        """New random streams (a DataLoader worker, or a new epoch)."""
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def targets(self) -> list[float]:
        """Every item holds both labels; as a source it is real."""
        return [0.0] * len(self.items)

    def __getitem__(self, index: int) -> PairSample:
        item = self.items[index]
        rng = self.rng if self.augment else np.random.default_rng((self.seed, index))
        frames = split_strip(read_png(item.path))
        marks = item.landmarks
        if self.sequence_length is None:
            chosen = [int(rng.integers(len(frames)))] if self.augment else [len(frames) // 2]
        else:
            start = int(rng.integers(len(frames) - self.sequence_length + 1)) if self.augment else 0
            chosen = list(range(start, start + self.sequence_length))
        params = draw_blend(rng)
        reals = [target_image(frames[i], params) for i in chosen]
        if self.sequence_length is None:
            fakes = [self_blend(frames[i], marks[i], params)[0] for i in chosen]
        else:  # a swap is made frame by frame: each frame's blend flickers and wobbles a little
            fakes = [self_blend(frames[i], marks[i], flicker(params, rng), rng)[0] for i in chosen]
        both = post_augment([*reals, *fakes], rng)
        if self.augment:
            self.pair_transform.set_random_seed(int(rng.integers(2**31)))
            both = list(augment_frames(self.pair_transform, np.stack(both)))
            if rng.random() < 0.5:  # a mirrored face is as real: flip both alike
                both = [np.ascontiguousarray(image[:, ::-1]) for image in both]
        count = len(chosen)
        # Fakes get their own video numbers (2n + 1) so validation never averages across labels.
        real = (np.stack(both[:count]), 0.0, 2 * item.source)
        fake = (np.stack(both[count:]), 1.0, 2 * item.source + 1)
        return [real, fake]


def sbi_datasets(
    options: TrainOptions, sequence_length: int | None
) -> tuple[SbiDataset, SbiDataset | None]:
    """(training pairs, validation pairs) of an SBI run: --val caches when given, else the
    held-out persons of the training caches."""
    common = {"sequence_length": sequence_length, "seed": options.seed}
    if options.val:
        train = SbiDataset(options.caches, augment=options.augment, **common)  # type: ignore[arg-type]
        return train, SbiDataset(options.val, augment=False, **common)  # type: ignore[arg-type]
    records = [r for cache in options.caches for r in open_real_cache(cache)[1]]
    kept, held = split_persons(records, HOLDOUT_PERSONS, options.seed)
    train = SbiDataset(options.caches, persons=kept, augment=options.augment, **common)  # type: ignore[arg-type]
    val = SbiDataset(options.caches, persons=held, augment=False, **common) if held else None  # type: ignore[arg-type]
    return train, val
