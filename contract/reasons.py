"""Why an answer is unsure or abstains: typed reasons with stable codes, made by one class.

A `Reason` says in words what the score rests on when it rests on little; the recipe says which
codes make the score fall back (`Recipe.abstain_on`). Torch-free: results and OpenAPI carry it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ReasonCode = Literal["no_face", "faces_too_small", "few_frames_with_faces", "target_not_found"]
"""Every reason a result can carry; stable, like the error codes."""

REASON_EXAMPLES: dict[str, dict[str, str | bool]] = {
    "no_face": {
        "code": "no_face",
        "message": "No face was found in any sampled frame; the score is the fallback 0.5.",
        "abstained": True,
    },
    "faces_too_small": {
        "code": "faces_too_small",
        "message": "Most scored faces are smaller than 40 px (median 18 px); the members "
        "see them enlarged, and their scores are less reliable.",
        "abstained": False,
    },
    "few_frames_with_faces": {
        "code": "few_frames_with_faces",
        "message": "A face was found in 6 of 50 sampled frames (12%; the recipe wants 30%); "
        "the score rests on few frames.",
        "abstained": False,
    },
    "target_not_found": {
        "code": "target_not_found",
        "message": "No face track overlaps the target box at t=3.2 s; the score is the "
        "fallback 0.5.",
        "abstained": True,
    },
}
"""One example of each code, as OpenAPI shows them."""


class Reason(BaseModel):
    """One reason the answer is unsure (or was not given): code, words, whether it abstained."""

    model_config = ConfigDict(
        frozen=True, json_schema_extra={"examples": [dict(e) for e in REASON_EXAMPLES.values()]}
    )

    code: ReasonCode = Field(description="Stable, machine-readable.")
    message: str = Field(description="What happened and what the score rests on, in words.")
    abstained: bool = Field(
        description="True when the score fell back (the recipe's fallback) because of it."
    )

    @classmethod
    def no_face(cls, fallback: float) -> Reason:
        return cls(
            code="no_face",
            message="No face was found in any sampled frame; "
            f"the score is the fallback {fallback:g}.",
            abstained=True,
        )

    @classmethod
    def faces_too_small(cls, median_px: float, minimum_px: int, *, abstained: bool) -> Reason:
        return cls(
            code="faces_too_small",
            message=f"Most scored faces are smaller than {minimum_px} px (median "
            f"{median_px:.0f} px); the members see them enlarged, and their scores are "
            "less reliable.",
            abstained=abstained,
        )

    @classmethod
    def few_frames_with_faces(
        cls, with_face: int, sampled: int, wanted_share: float, *, abstained: bool
    ) -> Reason:
        share = with_face / sampled if sampled else 0.0
        return cls(
            code="few_frames_with_faces",
            message=f"A face was found in {with_face} of {sampled} sampled frames "
            f"({share:.0%}; the recipe wants {wanted_share:.0%}); the score rests on few frames.",
            abstained=abstained,
        )

    @classmethod
    def target_not_found(cls, what: str, fallback: float) -> Reason:
        return cls(
            code="target_not_found",
            message=f"No face track matches the target ({what}); "
            f"the score is the fallback {fallback:g}.",
            abstained=True,
        )
