"""Operating-points tables from what evaluate and the starter measured (contract/operating.py).

A video the pipeline could not score is left out (its 0.5 is a guess, not a score); a set with
one label only has no table (None).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from contract.operating import OperatingPoints, operating_points

if TYPE_CHECKING:
    from training.scoring import ScoredVideo

CLIPS = "labelled clips"
DEV_CLIPS = "labelled DFDC dev clips"
"""What the starter's evaluation.json measured: the shared dev clips, never trained on."""


def dataset_words(what: str, where: str, fakes: int, reals: int, recipe: str) -> str:
    """`38 labelled clips of DATA (28 fake, 10 real), recipe dfdc-15th`."""
    return f"{fakes + reals} {what} of {where} ({fakes} fake, {reals} real), recipe {recipe}"


def table(
    scored: Iterable[tuple[str, float]], *, what: str, where: str, recipe: str
) -> OperatingPoints | None:
    """The table of (label FAKE | REAL, fake probability) pairs; None without both labels."""
    pairs = list(scored)
    labels = [1 if label == "FAKE" else 0 for label, _ in pairs]
    fakes = sum(labels)
    reals = len(labels) - fakes
    if not fakes or not reals:
        return None
    words = dataset_words(what, where, fakes, reals, recipe)
    return operating_points(labels, [score for _, score in pairs], words)


def table_from_scored(scored: Sequence[ScoredVideo], recipe: str) -> OperatingPoints | None:
    """The table of `dfdetect evaluate`'s original clips (failed ones left out)."""
    usable = [s for s in scored if s.result is not None]
    where = ", ".join(dict.fromkeys(str(s.video.path.parent) for s in usable))
    pairs = [(s.video.label, s.fake_probability) for s in usable]
    return table(pairs, what=CLIPS, where=where, recipe=recipe)


def table_from_report_videos(
    videos: Sequence[Mapping[str, Any]], *, data: str | None, recipe: str, what: str = DEV_CLIPS
) -> OperatingPoints | None:
    """The table of an evaluation report's `videos` (file, label, fake_probability, error),
    as the starter's evaluation.json holds them; `data` is the report's `data` folder."""
    pairs = [(v["label"], float(v["fake_probability"])) for v in videos if not v.get("error")]
    return table(pairs, what=what, where=readable_folder(data), recipe=recipe)


def readable_folder(data: str | None) -> str:
    """The folder as a reader knows it: `../shared/data/videos` -> `shared/data/videos`."""
    if not data:
        return "an unnamed folder"
    parts = PurePath(data).parts
    while parts and parts[0] in (".", ".."):
        parts = parts[1:]
    return str(PurePath(*parts)) if parts else data
