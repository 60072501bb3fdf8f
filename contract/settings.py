"""All settings, read once from `DFDETECT_*` environment variables (and `.env`) and passed down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contract.pipeline import (
    DEFAULT_BACKBONE,
    DEFAULT_SEQUENCE_LENGTH,
    DEFAULT_SEQUENCES,
    MTCNN_MIN_FACE,
    DetectScale,
    DeviceSetting,
    HalfPrecision,
    PipelineConfig,
    SequenceLength,
    Sequences,
)
from contract.recipes import RecipeName, VideoScoreRule

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Settings(BaseSettings):
    """Service, worker and pipeline settings; each is documented in README and .env.example."""

    model_config = SettingsConfigDict(
        env_prefix="DFDETECT_", env_file=".env", extra="ignore", env_ignore_empty=True
    )

    # Where things live
    redis_url: str | None = Field(
        None, description="Redis URL; unset: `dfdetect run` starts an embedded Redis."
    )
    data_dir: Path = Field(Path("var"), description="Embedded Redis data and scaffolded models.")
    upload_dir: Path = Field(Path("var/uploads"), description="Upload store shared with workers.")
    model_dir: Path | None = Field(
        None, description="Ensemble directory (manifest.json); unset: the shipped starter ensemble."
    )
    scaffold_backbone: str = Field(
        DEFAULT_BACKBONE, description="Backbone of the scaffolded random-weight ensemble."
    )
    queue_name: str = Field("dfdetect", description="RQ queue name.")

    # HTTP
    host: str = Field("127.0.0.1", description="Address the API binds to.")
    port: int = Field(8000, description="Port the API binds to.")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Accepted API keys (JSON list or comma-separated)."
    )
    api_key_hashes_file: Path | None = Field(
        None, description="File of SHA-256 hex digests of accepted keys, one per line."
    )

    # Limits
    max_upload_bytes: int = Field(
        2 * 1024**3, ge=1, description="Largest upload, bytes (413 past it)."
    )
    max_duration_s: float = Field(1800.0, gt=0, description="Longest video, seconds.")
    max_pixels: int = Field(
        3840 * 2160, ge=1, description="Most pixels per frame (width x height)."
    )
    max_frames: int = Field(108_000, ge=1, description="Most frames in the video stream.")
    allowed_containers: list[str] = Field(
        default_factory=lambda: ["mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", "mpegts"],
        description="Demuxer names PyAV may report for an upload.",
    )
    allowed_codecs: list[str] = Field(
        default_factory=lambda: ["h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mjpeg"],
        description="Video codecs accepted.",
    )
    max_queue_length: int = Field(100, ge=1, description="Queued jobs before 429 queue_full.")
    rate_limit_per_minute: int = Field(30, ge=0, description="Uploads per key per minute (0: off).")
    max_concurrent_uploads: int = Field(
        8, ge=1, description="Uploads streaming at once before 429."
    )
    min_free_disk_bytes: int = Field(
        512 * 1024**2, ge=0, description="Free space the upload store keeps; 507 below it."
    )

    # Jobs
    job_timeout_s: int = Field(900, ge=1, description="Longest a job may run before it fails.")
    result_ttl_s: int = Field(86_400, description="How long finished results are kept.")
    failure_ttl_s: int = Field(86_400, description="How long failed jobs are kept.")
    worker_heartbeat_s: int = Field(
        15, description="Worker heartbeat; a dead worker is found after ~2x."
    )

    # Pipeline
    device: DeviceSetting = "auto"
    sequences: Sequences = DEFAULT_SEQUENCES
    sequence_length: SequenceLength = DEFAULT_SEQUENCE_LENGTH
    detect_scale: DetectScale = 1.0
    half: HalfPrecision = False

    # Limits on hostile uploads (appended: .env.example lists them last)
    min_frames: int = Field(
        2, ge=1, description="Fewest decodable frames; a single picture is not a video."
    )
    min_side_px: int = Field(
        MTCNN_MIN_FACE, ge=1, description="Smallest frame side, px (MTCNN's minimum face)."
    )
    max_image_pixels: int = Field(
        50_000_000, ge=1, description="Most pixels in an uploaded image (width x height)."
    )
    recipe: RecipeName | None = Field(
        None, description="dfdc-15th | dfdc-1st; unset: the recipe the model directory names."
    )
    video_score: VideoScoreRule | None = Field(
        None, description="all_faces | max_person; unset: the recipe's rule (all_faces)."
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        # A JSON list (compose, .env.example) or, for a shell, "key1,key2".
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list):
            # A blank key would count as "keys configured" yet accept nobody, or worse.
            return [str(k).strip() for k in value if str(k).strip()]
        return value

    @model_validator(mode="after")
    def _refuse_open_public_bind(self) -> Settings:
        # An open API on a public interface lets anyone burn the GPUs: require keys there.
        if self.host not in LOOPBACK_HOSTS and not (self.api_keys or self.api_key_hashes_file):
            raise ValueError(
                f"DFDETECT_HOST={self.host} is not loopback and no API keys are configured: "
                "set DFDETECT_API_KEYS or DFDETECT_API_KEY_HASHES_FILE"
            )
        return self

    def pipeline(self) -> PipelineConfig:
        """The pipeline configuration these settings describe."""
        return PipelineConfig(
            sequences=self.sequences,
            sequence_length=self.sequence_length,
            detect_scale=self.detect_scale,
            device=self.device,
            half=self.half,
            recipe=self.recipe,
            video_score=self.video_score,
        )
