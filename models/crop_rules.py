"""The crops each member reads: cut by its own crop rule (`MemberSpec.crop`), else the recipe's.

A member keeps the crops it was trained on, as timm keeps a pretrained config with its model:
a 1st-place member (thirds) beside 15th-place members (margin) scores thirds crops under either
recipe. The pipeline cuts each face once per rule its members read and hands them over keyed
by rule; usually that is one rule, the recipe's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import get_args

from contract.recipes import CropRule
from models.batching import Crop, check_crop
from models.manifest import MemberSpec

CROP_RULES: tuple[CropRule, ...] = get_args(CropRule)
"""Every crop rule, in the order the contract lists them."""


def member_rule(spec: MemberSpec, recipe_crop: CropRule) -> CropRule:
    """The rule a member's crops are cut by: its own when its manifest names one, else the
    recipe's (manifests written before members had a rule)."""
    return spec.crop or recipe_crop


@dataclass(frozen=True)
class CropsByRule:
    """One input's face crops and sequences, cut by each rule the members read.

    Every rule cuts the same faces and sequences in the same order (scores are matched to
    faces by position); only the pixels around each face differ.
    """

    recipe: CropRule
    """The rule of the members that name none."""
    faces: Mapping[CropRule, Sequence[Crop]]
    """Per rule, every face in frame order (frame members read these)."""
    sequences: Mapping[CropRule, Sequence[Sequence[Crop]]] = field(default_factory=dict)
    """Per rule, L crops per sequence (sequence members read these)."""

    def __post_init__(self) -> None:
        if len({len(crops) for crops in self.faces.values()}) > 1:
            raise ValueError("every crop rule must cut the same faces")
        if len({tuple(map(len, sequences)) for sequences in self.sequences.values()}) > 1:
            raise ValueError("every crop rule must cut the same sequences")
        for sequences in self.sequences.values():
            if any(len(sequence) == 0 for sequence in sequences):
                raise ValueError("every sequence needs at least one crop")
            for sequence in sequences:
                for crop in sequence:
                    check_crop(crop)
        for crops in self.faces.values():
            for crop in crops:
                check_crop(crop)

    @classmethod
    def alike(cls, faces: Sequence[Crop], sequences: Sequence[Sequence[Crop]] = ()) -> CropsByRule:
        """The same crops whatever rule a member names: for callers that cut (or make) their
        own crops, such as the warm-up, benchmarks and tests."""
        return cls(
            CROP_RULES[0],
            dict.fromkeys(CROP_RULES, faces),
            dict.fromkeys(CROP_RULES, sequences),
        )

    def rule_of(self, spec: MemberSpec) -> CropRule:
        """The rule a member reads here: its own, else the recipe's."""
        return member_rule(spec, self.recipe)

    def faces_for(self, spec: MemberSpec) -> Sequence[Crop]:
        """The face crops a frame member reads; a ValueError when none were cut by its rule."""
        rule = self.rule_of(spec)
        if rule not in self.faces:
            raise ValueError(
                f"member {spec.name!r} reads {rule} crops; the faces were cut by "
                f"{_rules(self.faces)}"
            )
        return self.faces[rule]

    def sequences_for(self, spec: MemberSpec) -> Sequence[Sequence[Crop]]:
        """The sequences a sequence member reads (none when none were cut by any rule)."""
        rule = self.rule_of(spec)
        if not self.sequences:
            return ()
        if rule not in self.sequences:
            raise ValueError(
                f"member {spec.name!r} reads {rule} crops; the sequences were cut by "
                f"{_rules(self.sequences)}"
            )
        return self.sequences[rule]


def _rules(by_rule: Mapping[CropRule, object]) -> str:
    return ", ".join(by_rule) or "no rule"
