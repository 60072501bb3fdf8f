"""Post-processing: the 15th-place cascade, the DFDC winner's `confident_strategy`, the mean."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from models.postprocess import (
    DEFAULT_CASCADE,
    PostprocessSpec,
    cascade_postprocess,
    combine_members,
    confident_strategy,
    mean_strategy,
    postprocess,
    scale_cascade,
)


def scores(*runs: tuple[int, float]) -> list[float]:
    """`scores((8, 0.9), (42, 0.1))`: 8 scores of 0.9 then 42 of 0.1."""
    return [value for count, value in runs for _ in range(count)]


# The cascade, with the project default ((0.8, 8), (0.7, 15), (0.6, 25)).


def test_cascade_first_pair_that_holds_returns_mean_of_its_scores() -> None:
    assert cascade_postprocess(scores((8, 0.9), (42, 0.1)), DEFAULT_CASCADE) == pytest.approx(0.9)


def test_cascade_falls_through_to_a_lower_threshold() -> None:
    # 7 > 0.8 (too few for 8), 15 > 0.7: mean of 7 x 0.9 and 8 x 0.75.
    result = cascade_postprocess(scores((7, 0.9), (8, 0.75), (35, 0.1)), DEFAULT_CASCADE)
    assert result == pytest.approx((7 * 0.9 + 8 * 0.75) / 15)


def test_cascade_without_a_holding_pair_returns_mean_of_all() -> None:
    result = cascade_postprocess(scores((10, 0.65), (40, 0.1)), DEFAULT_CASCADE)
    assert result == pytest.approx((10 * 0.65 + 40 * 0.1) / 50)


def test_cascade_score_equal_to_threshold_does_not_exceed_it() -> None:
    # 10 scores of exactly 0.8 exceed neither 0.8 (strict) nor enough for (0.7, 15).
    result = cascade_postprocess(scores((10, 0.8), (40, 0.1)), DEFAULT_CASCADE)
    assert result == pytest.approx((10 * 0.8 + 40 * 0.1) / 50)


def test_cascade_all_equal_scores_give_that_score() -> None:
    assert cascade_postprocess([0.95] * 50, DEFAULT_CASCADE) == pytest.approx(0.95)
    assert cascade_postprocess([0.3] * 50, DEFAULT_CASCADE) == pytest.approx(0.3)


def test_cascade_count_is_at_least_not_more_than() -> None:
    assert cascade_postprocess([0.6, 0.4, 0.7], [(0.5, 2)]) == pytest.approx(0.65)


def test_cascade_accepts_numpy_scores() -> None:
    assert cascade_postprocess(np.array([0.6, 0.7], np.float32), [(0.5, 3)]) == pytest.approx(0.65)


def test_strategies_refuse_empty_scores() -> None:
    with pytest.raises(ValueError, match="no scores"):
        cascade_postprocess([], DEFAULT_CASCADE)
    with pytest.raises(ValueError, match="no scores"):
        confident_strategy([])
    with pytest.raises(ValueError, match="no scores"):
        mean_strategy([])


# confident_strategy: fakes > 11 and fakes > n // 2.5, else > 0.9 n reals (< 0.2), else mean.


def test_confident_many_fakes_give_mean_of_fakes() -> None:
    # n = 50: 50 // 2.5 = 20, so 21 fakes are needed.
    assert confident_strategy(scores((21, 0.9), (29, 0.5))) == pytest.approx(0.9)


def test_confident_fakes_must_be_more_than_n_over_2_5() -> None:
    assert confident_strategy(scores((20, 0.9), (30, 0.5))) == pytest.approx(0.66)


def test_confident_fakes_must_be_more_than_11_on_short_videos() -> None:
    # n = 20: 20 // 2.5 = 8, but the floor of 11 rules: 12 fakes pass, 11 do not.
    assert confident_strategy(scores((12, 0.9), (8, 0.1))) == pytest.approx(0.9)
    assert confident_strategy(scores((11, 0.9), (9, 0.1))) == pytest.approx(0.54)


def test_confident_many_reals_give_mean_of_reals() -> None:
    # n = 50: more than 45 scores < 0.2 are needed.
    assert confident_strategy(scores((46, 0.1), (4, 0.5))) == pytest.approx(0.1)
    assert confident_strategy(scores((45, 0.1), (5, 0.5))) == pytest.approx(0.14)


def test_confident_thresholds_are_strict() -> None:
    # Scores of exactly 0.8 are not fakes, of exactly 0.2 not reals: the plain mean.
    assert confident_strategy(scores((30, 0.8), (20, 0.5))) == pytest.approx(0.68)
    assert confident_strategy([0.2] * 50) == pytest.approx(0.2)


def test_confident_threshold_is_a_parameter() -> None:
    assert confident_strategy(scores((21, 0.75), (29, 0.5)), t=0.7) == pytest.approx(0.75)


def test_mean_strategy() -> None:
    assert mean_strategy([0.2, 0.4]) == pytest.approx(0.3)


# The spec stored in the manifest, dispatch, and the member average.


def test_postprocess_dispatches_on_strategy() -> None:
    values = scores((21, 0.9), (29, 0.5))
    assert postprocess(values, PostprocessSpec()) == pytest.approx(0.9)
    assert postprocess(values, PostprocessSpec(strategy="mean")) == pytest.approx(0.668)
    assert postprocess(values, PostprocessSpec(strategy="confident")) == pytest.approx(0.9)


def test_postprocess_without_scores_is_none() -> None:
    assert postprocess([], PostprocessSpec()) is None
    assert postprocess(np.empty(0), PostprocessSpec(strategy="confident")) is None


def test_spec_refuses_rising_thresholds_or_falling_counts() -> None:
    with pytest.raises(ValidationError, match="fall strictly"):
        PostprocessSpec(cascade=((0.6, 8), (0.7, 15)))
    with pytest.raises(ValidationError, match="fall strictly"):
        PostprocessSpec(cascade=((0.8, 15), (0.7, 8)))
    with pytest.raises(ValidationError, match="count >= 1"):
        PostprocessSpec(cascade=((0.8, 0),))


def test_spec_round_trips_through_json() -> None:
    spec = PostprocessSpec(strategy="confident", cascade=((0.9, 3), (0.5, 10)))
    assert PostprocessSpec.model_validate_json(spec.model_dump_json()) == spec


def test_scale_cascade_divides_counts_rounding_up() -> None:
    assert scale_cascade(DEFAULT_CASCADE, 5) == ((0.8, 2), (0.7, 3), (0.6, 5))


def test_combine_members_averages_and_skips_members_without_scores() -> None:
    assert combine_members([0.2, None, 0.6]) == pytest.approx(0.4)
    assert combine_members([None, None]) is None
    assert combine_members([]) is None
