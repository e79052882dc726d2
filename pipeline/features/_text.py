"""Text normalisation shared by the feature functions (no spaCy here: features stay cheap)."""

from __future__ import annotations

import re

_NON_WORD = re.compile(r"[^a-z0-9']+")


def normalise_text(text: str) -> str:
    """Lowercase, everything but letters, digits and apostrophes to spaces, single spaces."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())
