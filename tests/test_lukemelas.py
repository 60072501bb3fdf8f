"""`lukemelas_to_timm`: lukemelas' EfficientNet weights give timm's `tf_` network the same outputs.

The reference is `efficientnet_pytorch` itself, the library whose layout the mapping reads.
"""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
import timm
import torch
from efficientnet_pytorch import EfficientNet
from skimage import data as skdata
from torch import nn

from models.lukemelas import lukemelas_to_timm
from tests.dfdc_sources import enliven_batchnorms

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])
SIZE = 224
"""efficientnet-b0's native size: `from_name` computes its static padding for it."""


def to_input(image: np.ndarray, size: int) -> torch.Tensor:
    """An RGB photo area-resized to size x size and ImageNet-normalised, as a (1, 3, H, W) batch."""
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA) / 255.0
    array = ((resized - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)[None]
    return torch.tensor(array, dtype=torch.float32)


def photo_batch(size: int) -> torch.Tensor:
    """Random square crops of three real photos, to estimate BatchNorm statistics on."""
    rng = np.random.default_rng(0)
    crops = []
    for image in (skdata.astronaut(), skdata.chelsea(), skdata.coffee()):
        height, width = image.shape[:2]
        for _ in range(3):
            side = int(rng.integers(64, min(height, width)))
            y, x = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
            crops.append(to_input(image[y : y + side, x : x + side], size))
    return torch.cat(crops)


def make_lively(network: nn.Module) -> None:
    """Give an untrained network outputs that depend on every tensor the mapping moves.

    Fresh BatchNorms (weight 1, bias 0, statistics 0 and 1) would hide a swapped weight/bias
    or mean/var pair and let activations fade to nothing, so the affine parameters are drawn at
    random and the running statistics re-estimated on real photos; the head is scaled so that
    logits spread by about 1, far above the 1e-5 tolerance.
    """
    enliven_batchnorms(network, photo_batch(SIZE), seed=0)
    with torch.no_grad():
        fc = network.get_submodule("_fc")
        assert isinstance(fc, nn.Linear)
        fc.weight.mul_(10.0)


@pytest.fixture(scope="module")
def lively_b0() -> dict[str, torch.Tensor]:
    """State dict of a random efficientnet_pytorch b0 with lively BatchNorms and head."""
    torch.manual_seed(0)
    # No stochastic depth, so the train-mode pass that estimates statistics is deterministic.
    reference = EfficientNet.from_name("efficientnet-b0", drop_connect_rate=0.0)
    make_lively(reference)
    return reference.state_dict()


@pytest.fixture(scope="module")
def timm_b0() -> dict[str, torch.Tensor]:
    """State dict of timm's tf_efficientnet_b0, the target layout."""
    return timm.create_model("tf_efficientnet_b0", pretrained=False).state_dict()


# Padding: timm's `tf_` models pad TensorFlow-"same" dynamically, from each input's size.
# efficientnet_pytorch pads statically when built with an image_size (from_name's default: 224,
# the padding worked out once for 224 and its feature-map sizes) and dynamically with
# image_size=None. Both cases compare where the rules coincide: static padding at 224, the size
# it was worked out for (static-224 weights fed 225 pixels differ from timm by 0.8 in the logits),
# and dynamic padding at an odd size, 225, where stride-2 convs pad differently than at 224.
@pytest.mark.parametrize(
    ("image_size", "input_size"), [(SIZE, SIZE), (None, 225)], ids=["static@224", "dynamic@225"]
)
def test_mapped_weights_give_the_same_logits_on_a_photo(
    lively_b0: dict[str, torch.Tensor],
    timm_b0: dict[str, torch.Tensor],
    image_size: int | None,
    input_size: int,
) -> None:
    reference = EfficientNet.from_name("efficientnet-b0", image_size=image_size).eval()
    reference.load_state_dict(lively_b0)
    mapped = timm.create_model("tf_efficientnet_b0", pretrained=False).eval()
    mapped.load_state_dict(lukemelas_to_timm(lively_b0, timm_b0))
    image = to_input(skdata.chelsea(), input_size)
    with torch.no_grad():
        expected, actual = reference(image), mapped(image)
    assert expected.std() > 0.5, "the reference must be lively for the comparison to mean much"
    torch.testing.assert_close(actual, expected, rtol=0.0, atol=1e-5)


def test_a_headless_target_drops_the_classifier_and_keeps_the_features(
    lively_b0: dict[str, torch.Tensor],
) -> None:
    reference = EfficientNet.from_name("efficientnet-b0").eval()
    reference.load_state_dict(lively_b0)
    headless = timm.create_model("tf_efficientnet_b0", num_classes=0, global_pool="avg").eval()
    headless.load_state_dict(lukemelas_to_timm(lively_b0, headless.state_dict()))
    image = to_input(skdata.chelsea(), SIZE)
    with torch.no_grad():
        expected = reference.extract_features(image).mean(dim=(2, 3))
        actual = headless(image)
    torch.testing.assert_close(actual, expected, rtol=0.0, atol=1e-5)


def test_the_result_has_exactly_the_target_keys_in_order(
    lively_b0: dict[str, torch.Tensor], timm_b0: dict[str, torch.Tensor]
) -> None:
    assert list(lukemelas_to_timm(lively_b0, timm_b0)) == list(timm_b0)


def test_a_source_without_batch_counters_still_maps(
    lively_b0: dict[str, torch.Tensor], timm_b0: dict[str, torch.Tensor]
) -> None:
    source = {k: v for k, v in lively_b0.items() if not k.endswith("num_batches_tracked")}
    mapped = lukemelas_to_timm(source, timm_b0)
    assert (
        mapped["blocks.2.0.bn2.num_batches_tracked"]
        is timm_b0["blocks.2.0.bn2.num_batches_tracked"]
    )


def test_a_missing_key_is_named(
    lively_b0: dict[str, torch.Tensor], timm_b0: dict[str, torch.Tensor]
) -> None:
    source = dict(lively_b0)
    del source["_blocks.3._bn1.running_var"]
    with pytest.raises(ValueError, match=re.escape("'_blocks.3._bn1.running_var'")):
        lukemelas_to_timm(source, timm_b0)


def test_a_shape_mismatch_is_named_with_both_shapes(
    lively_b0: dict[str, torch.Tensor], timm_b0: dict[str, torch.Tensor]
) -> None:
    source = dict(lively_b0)
    source["_blocks.5._project_conv.weight"] = torch.zeros(80, 240, 3, 3)
    with pytest.raises(ValueError) as error:
        lukemelas_to_timm(source, timm_b0)
    message = str(error.value)
    assert "'_blocks.5._project_conv.weight'" in message
    assert "(80, 240, 3, 3)" in message and "(80, 240, 1, 1)" in message


def test_an_unexpected_key_is_named(
    lively_b0: dict[str, torch.Tensor], timm_b0: dict[str, torch.Tensor]
) -> None:
    source = {**lively_b0, "_blocks.16._bn0.weight": torch.ones(320)}
    with pytest.raises(ValueError, match=re.escape("'_blocks.16._bn0.weight'")):
        lukemelas_to_timm(source, timm_b0)


def test_weights_of_another_width_are_refused(lively_b0: dict[str, torch.Tensor]) -> None:
    b2 = timm.create_model("tf_efficientnet_b2", pretrained=False).state_dict()
    with pytest.raises(ValueError, match="shape mismatch"):
        lukemelas_to_timm(lively_b0, b2)
