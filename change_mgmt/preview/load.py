"""Read a recorded preview from a file, in either machine format."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from change_mgmt.preview.model import ChangeSet
from change_mgmt.preview.parse import PreviewError, parse_event_stream, parse_preview_json

PreviewFormat = Literal["json", "events"]

# Far above any real preview (100k steps with full states is about 0.9 GB and needs about
# 2 GB more memory to decode), below what would exhaust a CI runner's memory.
MAX_PREVIEW_BYTES = 4 << 30


def read_preview_text(path: Path, display: str) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_PREVIEW_BYTES:
            raise PreviewError(f"{display}: {size} bytes is more than a preview can be")
        data = path.read_bytes()
    except OSError as exc:
        raise PreviewError(f"{display}: cannot read: {exc.strerror or exc}") from None
    if b"\0" in data:
        raise PreviewError(f"{display}: binary data, not a preview")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PreviewError(f"{display}: not UTF-8 text (byte {exc.start})") from None


def load_preview(path: Path, kind: PreviewFormat, *, stack: str | None = None) -> ChangeSet:
    """Parse ``path`` as ``pulumi preview --json`` output or as an engine event log."""
    display = str(path)
    text = read_preview_text(path, display)
    if kind == "events":
        return parse_event_stream(text, source_name=display, stack=stack)
    return parse_preview_json(text, source_name=display, stack=stack)
