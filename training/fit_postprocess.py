"""`dfdetect fit-postprocess`: each member's post-processing, chosen by grid search for the
lowest log loss on labelled videos, written into the manifest.

The 15th-place write-up published the cascade rule but not its thresholds and counts; this
finds them for a given ensemble and sampling. The grid: cascades of 1 to 3 (threshold,
minimum count) pairs with falling thresholds and non-falling counts, the DFDC winner's
confident strategy at each threshold, and the plain mean. Counts are fractions of the
member's median number of scores per video, so the grid fits any sampling. Only the manifest
changes: post-processing is not part of a checkpoint, so every checksum stays valid.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from contract.result import NO_FACE_PROBABILITY
from models.manifest import Manifest, MemberSpec, load_manifest, save_manifest
from models.postprocess import PostprocessSpec, combine_members, postprocess
from training.metrics import log_loss, log_losses
from training.scoring import ScoredVideo

THRESHOLDS = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55)
"""Cascade and confident-strategy thresholds tried."""
COUNT_FRACTIONS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8)
"""Minimum counts tried, as fractions of the median number of scores a video gives."""
MAX_PAIRS = 3
"""Longest cascade tried (the default has 3 pairs)."""
TIE = 1e-12
"""A candidate must beat the best so far by more than this: ties keep the simpler one."""


@dataclass(frozen=True)
class Candidate:
    """A post-processing spec and its log loss on the fitted videos."""

    family: str
    spec: PostprocessSpec
    log_loss: float

    def describe(self) -> str:
        """The spec in one line."""
        if self.spec.strategy == "cascade":
            return "cascade " + ", ".join(f"{t:g}:{c}" for t, c in self.spec.cascade)
        if self.spec.strategy == "confident":
            return f"confident t={self.spec.confident_threshold:g}"
        return "mean"


@dataclass(frozen=True)
class MemberFit:
    """A member's grid search: the current spec, the best of each family, the winner."""

    name: str
    videos: int
    current: Candidate
    families: list[Candidate]
    winner: Candidate


def count_grid(scores: list[np.ndarray]) -> list[int]:
    """Minimum counts to try: COUNT_FRACTIONS of the median number of scores, at least 1."""
    median = float(np.median([len(s) for s in scores]))
    return sorted({max(1, math.ceil(f * median)) for f in COUNT_FRACTIONS})


def cascades(counts: list[int]) -> Iterator[tuple[tuple[float, int], ...]]:
    """Every cascade of the grid, shortest first."""
    for pairs in range(1, MAX_PAIRS + 1):
        for thresholds in itertools.combinations(THRESHOLDS, pairs):  # falling, as listed
            for minimums in itertools.combinations_with_replacement(counts, pairs):
                yield tuple(zip(thresholds, minimums, strict=True))


class _Table:
    """Per-video counts and means above each threshold, so a cascade costs a few array ops."""

    def __init__(self, scores: list[np.ndarray]) -> None:
        self.mean = np.array([s.mean() for s in scores])
        self.count = {t: np.array([(s > t).sum() for s in scores]) for t in THRESHOLDS}
        self.above = {
            t: np.array([s[s > t].mean() if (s > t).any() else 0.0 for s in scores])
            for t in THRESHOLDS
        }

    def cascade(self, cascade: tuple[tuple[float, int], ...]) -> np.ndarray:
        """What cascade_postprocess answers for every video."""
        out = self.mean.copy()
        open_ = np.ones_like(out, dtype=bool)
        for threshold, count in cascade:
            hit = open_ & (self.count[threshold] >= count)
            out[hit] = self.above[threshold][hit]
            open_ &= ~hit
        return out


def fit_member(spec: MemberSpec, scores: list[np.ndarray], targets: np.ndarray) -> MemberFit:
    """Grid-search one member's post-processing on videos with at least one score each."""
    y = np.asarray(targets, dtype=np.float64)

    def evaluate(family: str, candidate: PostprocessSpec) -> Candidate:
        """A candidate scored by the real post-processing code."""
        preds = [postprocess(s, candidate) for s in scores]
        return Candidate(family, candidate, log_loss(y, [p for p in preds if p is not None]))

    families = [evaluate("mean", PostprocessSpec(strategy="mean"))]
    confident = [
        evaluate("confident", PostprocessSpec(strategy="confident", confident_threshold=t))
        for t in THRESHOLDS
    ]
    families.append(_best(confident))
    table = _Table(scores)
    grid = list(cascades(count_grid(scores)))
    losses = log_losses(y, np.stack([table.cascade(c) for c in grid]))
    for pairs in range(1, MAX_PAIRS + 1):
        chosen = [i for i, c in enumerate(grid) if len(c) == pairs]
        best = chosen[int(np.argmin(losses[chosen]))]  # the first of equals: smaller counts
        cascade_spec = PostprocessSpec(strategy="cascade", cascade=grid[best])
        families.append(Candidate(f"cascade x{pairs}", cascade_spec, float(losses[best])))
    current = evaluate("current", spec.postprocess)
    # The current spec wins ties, so fitting twice on the same videos changes nothing.
    return MemberFit(spec.name, len(scores), current, families, _best([current, *families]))


def _best(candidates: list[Candidate]) -> Candidate:
    best = candidates[0]
    for candidate in candidates[1:]:
        if candidate.log_loss < best.log_loss - TIE:
            best = candidate
    return best


def ensemble_log_loss(manifest: Manifest, videos: list[ScoredVideo]) -> float:
    """Log loss of the ensemble as the pipeline combines it, under a manifest's post-processing."""
    probs = []
    for video in videos:
        member_scores = []
        for spec in manifest.members:
            raw = video.raw_scores(spec)
            member_scores.append(postprocess(raw, spec.postprocess) if raw.size else None)
        combined = combine_members(member_scores)
        probs.append(NO_FACE_PROBABILITY if combined is None else combined)
    return log_loss([v.video.target for v in videos], probs)


def fit_postprocess(manifest: Manifest, videos: list[ScoredVideo]) -> list[MemberFit]:
    """Fit every member that scored at least one video."""
    fits = []
    for spec in manifest.members:
        scored = [(v.raw_scores(spec), v.video.target) for v in videos]
        usable = [(s, t) for s, t in scored if s.size]
        if usable:
            fits.append(fit_member(spec, [s for s, _ in usable], np.array([t for _, t in usable])))
    return fits


def apply_fits(
    model_dir: Path, fits: list[MemberFit], data: list[str], sampling: dict[str, Any]
) -> Manifest:
    """Write the winners into the manifest (checkpoints untouched, so checksums stay valid)."""
    manifest = load_manifest(model_dir)
    by_name = {fit.name: fit for fit in fits}
    members = []
    for spec in manifest.members:
        fit = by_name.get(spec.name)
        if fit is None:
            members.append(spec)
            continue
        record = {
            "data": data,
            "videos": fit.videos,
            "log_loss": fit.winner.log_loss,
            "sampling": sampling,
            "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        training = {**(spec.training or {}), "postprocess_fit": record}
        members.append(
            spec.model_copy(update={"postprocess": fit.winner.spec, "training": training})
        )
    fitted = manifest.model_copy(update={"members": members})  # name, note, recipe kept
    save_manifest(model_dir, fitted)
    return fitted


def format_table(fits: list[MemberFit]) -> str:
    """Each member's candidates and winner (marked *), as printed."""
    lines = []
    for fit in fits:
        lines.append(f"{fit.name} ({fit.videos} videos with scores)")
        lines.append(f"  {'':1} {'family':<12} {'post-processing':<44} {'log loss':>9}")
        for candidate in [fit.current, *fit.families]:
            mark = "*" if candidate is fit.winner else " "
            lines.append(
                f"  {mark} {candidate.family:<12} {candidate.describe():<44} "
                f"{candidate.log_loss:>9.4f}"
            )
    return "\n".join(lines)
