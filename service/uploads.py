"""The upload store: stream a multipart upload to disk, hashing and counting as it goes.

FastAPI's `UploadFile` would spool the whole body before our code runs, so the size limit could
not stop a 50 GB upload early: we parse the multipart stream ourselves and write each chunk.
"""

from __future__ import annotations

import errno
import hashlib
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from contract.errors import BadUploadRequest, EmptyUpload, InsufficientStorage, UploadTooLarge
from contract.people import MAX_TARGET_CHARS, TARGET_FIELD

UPLOAD_FIELD = "file"
"""The multipart field that carries the video."""
FORM_FIELDS = (TARGET_FIELD,)
"""Small text fields kept beside the file (others are ignored, their bytes not kept)."""
MULTIPART_OVERHEAD = 64 * 1024
"""Slack for boundaries, part headers and small form fields on top of the file's size limit."""
MAX_FILENAME_CHARS = 255
FREE_SPACE_CHECK_BYTES = 64 * 1024**2
"""Re-check the store's free space after this many bytes, so one upload cannot fill the disk."""


@dataclass(frozen=True)
class StoredUpload:
    """A complete upload on disk. `path` is ours (a uuid), never derived from `filename`."""

    path: Path
    filename: str
    sha256: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)
    """FORM_FIELDS the client sent, as text."""


def safe_filename(raw: str) -> str:
    """The client's file name reduced to a display string: no directories, no control chars."""
    name = PureWindowsPath(PurePosixPath(raw).name).name
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:MAX_FILENAME_CHARS] or "upload"


class _FilePartSink:
    """Multipart parser callbacks: writes the `file` part, refuses anything else odd."""

    def __init__(self, out: BinaryIO, max_bytes: int) -> None:
        self.out = out
        self.max_bytes = max_bytes
        self.digest = hashlib.sha256()
        self.size = 0
        self.files_seen = 0
        self.filename: str | None = None
        self.complete = False
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._writing = False
        self.fields: dict[str, str] = {}
        self._field: str | None = None
        self._field_bytes = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        field = self._header_field.decode("latin-1").strip().lower()
        # Bytes, not str: browsers send UTF-8 file names, which parse_options_header would
        # re-encode as latin-1 (and fail on).
        self._headers[field] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        if name in FORM_FIELDS and filename is None:
            self._field = name
            self._field_bytes.clear()
            return
        if name != UPLOAD_FIELD:
            return  # other form fields are ignored (their bytes are not kept)
        if filename is None:
            raise BadUploadRequest(f"The field `{UPLOAD_FIELD}` must be a file upload.")
        self.files_seen += 1
        if self.files_seen > 1:
            raise BadUploadRequest(f"Send exactly one file in the field `{UPLOAD_FIELD}`.")
        self.filename = safe_filename(filename.decode("utf-8", "replace"))
        self._writing = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._field is not None:
            self._field_bytes.extend(data[start:end])
            if len(self._field_bytes) > MAX_TARGET_CHARS * 4:
                raise BadUploadRequest(f"The field `{self._field}` is too long.")
            return
        if not self._writing:
            return
        chunk = data[start:end]
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        self.digest.update(chunk)
        self.out.write(chunk)

    def _part_end(self) -> None:
        if self._field is not None:
            self.fields[self._field] = self._field_bytes.decode("utf-8", "replace")
            self._field = None
        if self._writing:
            self.complete = True
        self._writing = False


def too_large(max_bytes: int) -> UploadTooLarge:
    """The 413 for an upload past DFDETECT_MAX_UPLOAD_BYTES."""
    return UploadTooLarge(
        f"The upload exceeds the limit of {max_bytes} bytes (DFDETECT_MAX_UPLOAD_BYTES)."
    )


class UploadStore:
    """A directory shared with the workers (a volume in compose)."""

    def __init__(self, root: Path, *, max_bytes: int, min_free_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.min_free_bytes = min_free_bytes
        root.mkdir(parents=True, exist_ok=True)

    def new_path(self) -> Path:
        return self.root / f"{uuid.uuid4().hex}.upload"

    def check_free_space(self) -> None:
        """Refuse early when the store is nearly full (507 instead of a failed write)."""
        if shutil.disk_usage(self.root).free < self.min_free_bytes:
            raise InsufficientStorage("The upload store is full; try again later.")

    async def receive(
        self, content_type: str | None, content_length: int | None, body: AsyncIterator[bytes]
    ) -> StoredUpload:
        """Stream a multipart body into the store; on any error the partial file is removed."""
        mime, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if mime != b"multipart/form-data" or not boundary:
            raise BadUploadRequest(
                f"Send the video as multipart/form-data with the field `{UPLOAD_FIELD}`."
            )
        body_limit = self.max_bytes + MULTIPART_OVERHEAD
        if content_length is not None and content_length > body_limit:
            raise too_large(self.max_bytes)
        self.check_free_space()
        path = self.new_path()
        try:
            with path.open("wb") as out:
                sink = _FilePartSink(out, self.max_bytes)
                parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]
                received = checked = 0
                async for chunk in body:
                    received += len(chunk)
                    # Counted apart from the file part: without Content-Length (chunked), other
                    # fields could otherwise stream forever.
                    if received > body_limit:
                        raise too_large(self.max_bytes)
                    if received - checked > FREE_SPACE_CHECK_BYTES:
                        self.check_free_space()
                        checked = received
                    parser.write(chunk)
                parser.finalize()
        except MultipartParseError as exc:
            path.unlink(missing_ok=True)
            raise BadUploadRequest(f"Malformed multipart body: {exc}") from exc
        except OSError as exc:
            path.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InsufficientStorage("The upload store is full; try again later.") from exc
            raise
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if sink.files_seen == 0 or sink.filename is None:
            path.unlink(missing_ok=True)
            raise BadUploadRequest(f"No file in the multipart field `{UPLOAD_FIELD}`.")
        if not sink.complete:
            path.unlink(missing_ok=True)
            raise BadUploadRequest("The multipart body ended before the file part did.")
        if sink.size == 0:
            path.unlink(missing_ok=True)
            raise EmptyUpload("The uploaded file is empty (0 bytes).")
        return StoredUpload(
            path, sink.filename, sink.digest.hexdigest(), sink.size, dict(sink.fields)
        )
