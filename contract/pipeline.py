"""Pipeline settings: every number of the 15th-place DFDC solution, each one a field.

Torch-free on purpose: the API (which never imports torch) builds this from its settings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.recipes import RecipeName, VideoScoreRule

Device = Literal["auto", "cpu", "cuda"]
DecodeMode = Literal["seek", "sequential"]

DEFAULT_SEQUENCES = 10
"""Sequences sampled per video (15th place: 10)."""
DEFAULT_SEQUENCE_LENGTH = 5
"""Consecutive frames per sequence (15th place: 5, so 50 frames a video)."""
MTCNN_THRESHOLDS = (0.6, 0.7, 0.7)
"""P-, R- and O-net thresholds (facenet-pytorch defaults, kept by the 15th-place kernel)."""
MTCNN_FACTOR = 0.709
"""Image-pyramid scale factor."""
MTCNN_MIN_FACE = 20
"""Smallest face MTCNN looks for, in pixels of the detection frame."""
CONFIDENT_FACE_PROB = 0.99
"""A face above this probability is kept outright (15th-place code)."""
FALLBACK_FACE_PROB = 0.7
"""With no confident face, the largest face above this is kept (write-up 0.6, code 0.7)."""
MAX_FACES = 2
"""Most faces kept per frame, largest first."""
CROP_MARGIN_RATIO = 0.75
"""margin = h / 0.75 - h: the box is grown so the face fills 75% of the crop's height."""
Rgb = tuple[float, float, float]
IMAGENET_MEAN: Rgb = (0.485, 0.456, 0.406)
"""ImageNet channel means (RGB), the normalisation the timm EfficientNets were trained with."""
IMAGENET_STD: Rgb = (0.229, 0.224, 0.225)
"""ImageNet channel standard deviations (RGB)."""
DEFAULT_BACKBONE = "tf_efficientnet_b6"
"""15th place: EfficientNet-B6 for all three members."""
DEFAULT_IMAGE_SIZE = 224
"""15th place: 224x224 face crops."""

# Each pipeline setting that the environment can set is defined once, with its bounds, and
# used both here and by contract.settings.Settings: a bad value is refused when the API or a
# worker starts, not when the first job fails.
Sequences = Annotated[
    int, Field(ge=1, le=1000, description="Sequences sampled per video (15th place: 10).")
]
SequenceLength = Annotated[
    int, Field(ge=1, le=100, description="Frames per sequence (15th place: 5).")
]
DetectScale = Annotated[
    float, Field(gt=0.0, le=1.0, description="Detect faces on a frame scaled by this.")
]
HalfPrecision = Annotated[
    bool,
    Field(
        description="fp16 on CUDA. Off: on test networks it moved scores by up to 0.016 from fp32."
    ),
]
DeviceSetting = Annotated[Device, Field(description="auto | cpu | cuda.")]


class PipelineConfig(BaseModel):
    """What a worker does to one video; defaults reproduce the 15th-place kernel."""

    model_config = ConfigDict(frozen=True)

    sequences: Sequences = DEFAULT_SEQUENCES
    sequence_length: SequenceLength = DEFAULT_SEQUENCE_LENGTH
    detect_scale: DetectScale = 1.0
    decode: DecodeMode = "seek"
    thresholds: tuple[float, float, float] = MTCNN_THRESHOLDS
    factor: float = MTCNN_FACTOR
    min_face_size: int = MTCNN_MIN_FACE
    confident_face_prob: float = CONFIDENT_FACE_PROB
    fallback_face_prob: float = FALLBACK_FACE_PROB
    max_faces: int = MAX_FACES
    vectorised_mtcnn: bool = True
    """facenet-pytorch's MTCNN stages with array crops (same boxes, see faces.py); False runs
    facenet-pytorch's own loop, as the 15th-place kernel did."""
    detect_batch_size: int = Field(10, ge=1)
    score_batch_size: int = Field(64, ge=1)
    device: DeviceSetting = "auto"
    half: HalfPrecision = False
    channels_last: bool = True
    share_backbones: bool = True
    fold_norms: bool = True
    """BatchNorm folded into the convolutions before the first video (models/fold.py)."""
    recipe: RecipeName | None = None
    """The recipe to run (contract/recipes.py); None: the one the model directory names."""
    video_score: VideoScoreRule | None = None
    """all_faces | max_person; None: the recipe's rule."""

    def with_overrides(self, **overrides: Any) -> PipelineConfig:
        """A copy with the given fields replaced, validated; None means "keep" (an unset flag)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return self.model_validate({**self.model_dump(), **given}) if given else self
