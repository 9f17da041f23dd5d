"""Text from outside made safe to classify and store."""

from __future__ import annotations

MAX_TEXT = 64 * 1024  # characters kept per message: Telegram posts are at most 4096

# C0 controls and DEL except tab, newline and carriage return; NUL included
_CONTROLS = {c: None for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]}


def clean_text(text: str) -> str:
    """Text safe to classify and store: no lone surrogates or control characters, bounded length."""
    # lone surrogates (legal in JSON escapes) cannot be encoded for SQLite; replace them
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = text.translate(_CONTROLS)
    return text[:MAX_TEXT]
