"""ROC AUC within strata (pure logic): only fakes and reals of the same format are compared."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from training.metrics import bootstrap_intervals, roc_auc
from training.strata import strata_report, stratified_auc, stratified_auc_interval


def _brute_force(targets: list[int], scores: list[float], strata: list[str]) -> float:
    won = pairs = 0.0
    for i, (fake, stratum) in enumerate(zip(targets, strata, strict=True)):
        for j, (real, other) in enumerate(zip(targets, strata, strict=True)):
            if fake == 1 and real == 0 and stratum == other:
                pairs += 1
                won += 1.0 if scores[i] > scores[j] else 0.5 if scores[i] == scores[j] else 0.0
    return won / pairs


def test_it_counts_the_same_stratum_pairs_and_no_others() -> None:
    rng = np.random.default_rng(3)
    targets = rng.integers(0, 2, 60).tolist()
    scores = np.round(rng.random(60), 1).tolist()  # rounded: ties happen and count half
    strata = rng.choice(["256x256", "360x360", "1920x1080"], 60).tolist()
    assert stratified_auc(targets, scores, strata) == pytest.approx(
        _brute_force(targets, scores, strata), abs=1e-12
    )


def test_a_score_that_only_knows_the_format_ranks_nothing_within_it() -> None:
    # The dev clips' shape: crops mostly fake, full frames mostly real.
    strata = ["crop"] * 30 + ["full"] * 8
    targets = [1] * 26 + [0] * 4 + [1] * 2 + [0] * 6
    format_only = [1.0 if s == "crop" else 0.0 for s in strata]
    auc = roc_auc(targets, format_only)
    assert auc is not None and auc == pytest.approx(214 / 280)  # 0.76 from the format alone
    assert stratified_auc(targets, format_only, strata) == 0.5
    # A score that knows fake from real within each format is perfect either way.
    assert stratified_auc(targets, [float(t) for t in targets], strata) == 1.0


def test_one_stratum_is_the_plain_auc_and_its_interval() -> None:
    rng = np.random.default_rng(5)
    targets = [1] * 28 + [0] * 10
    scores = rng.random(38).tolist()
    strata = ["all"] * 38
    assert stratified_auc(targets, scores, strata) == pytest.approx(
        roc_auc_score(targets, scores), abs=1e-12
    )
    # The same draws as the plain bootstrap: fakes, then reals, from the same seed.
    assert stratified_auc_interval(targets, scores, strata) == pytest.approx(
        bootstrap_intervals(targets, scores)["auc"], abs=1e-12
    )


def test_the_interval_holds_the_estimate_and_narrows_with_more_pairs() -> None:
    rng = np.random.default_rng(7)

    def width(n: int) -> float:
        targets = [1, 0] * n
        scores = (np.array(targets) * 0.3 + rng.random(2 * n)).tolist()
        strata = rng.choice(["a", "b"], 2 * n).tolist()
        interval = stratified_auc_interval(targets, scores, strata)
        estimate = stratified_auc(targets, scores, strata)
        assert interval is not None and estimate is not None
        assert interval[0] <= estimate <= interval[1]
        return interval[1] - interval[0]

    assert width(400) < width(20) / 2


def test_no_stratum_with_both_labels_gives_no_figure() -> None:
    targets, scores, strata = [1, 1, 0], [0.9, 0.8, 0.1], ["crop", "crop", "full"]
    assert stratified_auc(targets, scores, strata) is None
    assert stratified_auc_interval(targets, scores, strata) is None
    report = strata_report(targets, scores, strata)
    assert report["pairs"] == 0 and report["all_pairs"] == 2
    assert report["strata"] == [
        {"stratum": "crop", "fake": 2, "real": 0},
        {"stratum": "full", "fake": 0, "real": 1},
    ]


def test_targets_scores_and_strata_must_line_up() -> None:
    with pytest.raises(ValueError, match="3 targets, 2 scores, 3 strata"):
        stratified_auc([1, 0, 1], [0.2, 0.3], ["a", "a", "b"])
