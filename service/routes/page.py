"""The browser page: `GET /` (a single-page app), its assets under `/static/`, `/ui/config`.

Plain files from `service/static/`, no build step; nothing here is in the OpenAPI document.
The page loads only from this origin, which its Content-Security-Policy enforces.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.deps import StateDep

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
"""index.html, app.js, app.css."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Small files that change with each release: always revalidate (ETag / Last-Modified).
    "Cache-Control": "no-cache",
}
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
"""The asset types served; any other file under static/ is a 404."""
_ASSET_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")
"""One plain file name: no directory, no leading dot (so no `..`)."""

router = APIRouter(include_in_schema=False)


def _not_found() -> StarletteHTTPException:
    return StarletteHTTPException(404, "Not Found")


@router.get("/")
async def index() -> FileResponse:
    """The single-page app."""
    return FileResponse(
        STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS
    )


@router.get("/static/{name}")
async def asset(name: str) -> FileResponse:
    """One of the page's scripts, style sheets or images."""
    path = STATIC_DIR / name
    media_type = MEDIA_TYPES.get(path.suffix)
    if not _ASSET_NAME.fullmatch(name) or media_type is None or not path.is_file():
        raise _not_found()
    return FileResponse(path, media_type=media_type, headers=SECURITY_HEADERS)


@router.get("/ui/config")
async def ui_config(state: StateDep) -> JSONResponse:
    """What the page needs to know before an upload: whether to ask for a key, the size limit."""
    body = {
        "auth_required": not state.auth.open,
        "max_upload_bytes": state.settings.max_upload_bytes,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
