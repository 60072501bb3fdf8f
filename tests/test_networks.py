"""The 15th-place networks on a small real timm backbone (efficientnet_b0 at 64 px)."""

from __future__ import annotations

import pytest
import torch

from models.dfdc_networks import (
    BILSTM_15TH,
    LSTM_15TH,
    Dfdc15thBiSequenceClassifier,
    Dfdc15thSequenceClassifier,
)
from models.manifest import MemberSpec, create_classifier
from models.networks import (
    FrameClassifier,
    SequenceClassifier,
    build_classifier,
    classifier_input,
    classifier_kinds,
)
from tests.conftest import TEST_BACKBONE, TEST_IMAGE_SIZE

B0_FEATURES = 1280
"""efficientnet_b0's pooled feature width."""


@pytest.fixture(scope="module")
def frame_net() -> FrameClassifier:
    torch.manual_seed(0)
    return FrameClassifier(TEST_BACKBONE).eval()


@pytest.fixture(scope="module")
def sequence_net() -> SequenceClassifier:
    torch.manual_seed(0)
    return SequenceClassifier(TEST_BACKBONE).eval()


def images(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, 3, TEST_IMAGE_SIZE, TEST_IMAGE_SIZE)


def test_frame_classifier_shapes(frame_net: FrameClassifier) -> None:
    x = images(3)
    with torch.no_grad():
        features = frame_net.features(x)
        assert features.shape == (3, B0_FEATURES)
        assert frame_net.classify(features).shape == (3,)
        assert frame_net(x).shape == (3,)


def test_frame_classifier_forward_is_classify_of_features(frame_net: FrameClassifier) -> None:
    x = images(2)
    with torch.no_grad():
        torch.testing.assert_close(frame_net(x), frame_net.classify(frame_net.features(x)))


def test_sequence_classifier_shapes(sequence_net: SequenceClassifier) -> None:
    x = images(2, 5)
    with torch.no_grad():
        features = sequence_net.features(x)
        assert features.shape == (2, 5, B0_FEATURES)
        assert sequence_net.classify_features(features).shape == (2,)
        assert sequence_net(x).shape == (2,)


def test_sequence_classifier_reuses_features_computed_elsewhere(
    sequence_net: SequenceClassifier,
) -> None:
    x = images(2, 5)
    with torch.no_grad():
        per_frame = sequence_net.encoder(x.flatten(0, 1)).view(2, 5, -1)
        torch.testing.assert_close(sequence_net(x), sequence_net.classify_features(per_frame))


def test_sequence_head_is_the_15th_place_lstm(sequence_net: SequenceClassifier) -> None:
    lstm = sequence_net.lstm
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers) == (B0_FEATURES, 512, 2)
    assert lstm.batch_first and not lstm.bidirectional and lstm.dropout == 0.5
    assert sequence_net.fc.in_features == 512 and sequence_net.dropout.p == 0.5


def test_sequence_encoder_is_frozen_and_stays_in_eval_mode() -> None:
    torch.manual_seed(0)
    net = SequenceClassifier(TEST_BACKBONE).train()
    assert not net.encoder.training
    assert all(not module.training for module in net.encoder.modules())
    assert net.lstm.training and net.dropout.training
    assert not any(parameter.requires_grad for parameter in net.encoder.parameters())
    net(images(2, 3)).sum().backward()
    assert all(parameter.grad is None for parameter in net.encoder.parameters())
    assert all(parameter.grad is not None for parameter in net.lstm.parameters())


def test_frozen_encoder_batchnorm_statistics_do_not_move_in_train_mode() -> None:
    torch.manual_seed(0)
    net = SequenceClassifier(TEST_BACKBONE).train()
    before = {name: t.clone() for name, t in net.encoder.state_dict().items()}
    net(images(2, 3))
    after = net.encoder.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)


def member(kind: str) -> MemberSpec:
    reads_sequences = classifier_input(kind) == "sequence"
    return MemberSpec(
        name=f"tiny_{kind}",
        kind=kind,
        backbone=TEST_BACKBONE,
        image_size=TEST_IMAGE_SIZE,
        checkpoint=f"tiny_{kind}.safetensors",
        sha256="0" * 64,
        trained=False,
        sequence_length=5 if reads_sequences else None,
    )


@pytest.mark.parametrize("kind", classifier_kinds())
def test_factory_builds_every_registered_kind_from_a_manifest_member(kind: str) -> None:
    expected = {
        "frame": FrameClassifier,
        "sequence": SequenceClassifier,
        LSTM_15TH: Dfdc15thSequenceClassifier,
        BILSTM_15TH: Dfdc15thBiSequenceClassifier,
    }[kind]
    assert type(create_classifier(member(kind))) is expected


def test_factory_refuses_an_unknown_kind() -> None:
    with pytest.raises(KeyError, match="unknown classifier kind 'audio'"):
        build_classifier("audio", TEST_BACKBONE)
