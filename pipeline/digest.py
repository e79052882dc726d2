"""The one file-hash helper: a call's id, model checks and the redacted copy all use it."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: str | Path, chunk_bytes: int = 4 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks (recordings and models can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()
