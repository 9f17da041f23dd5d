"""The cut-off spool: transitions, outages and notices kept in a local file while the fleet's
database is away, replayed when it returns."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class Spool:
    """Transitions, outages and notices kept in a local file while the database is away."""

    def __init__(self, path: str, max_bytes: int) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.dropped = 0

    def size(self) -> int:
        """Bytes spooled."""
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def append(self, records: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Append records; past the bound, new ones are dropped and counted (state is re-sent
        whole on reconnect, so only history is lost)."""
        lines = [json.dumps({"t": t, "r": r}, ensure_ascii=False) + "\n" for t, r in records]
        size = self.size()
        keep = []
        for line in lines:
            if size + len(line) > self.max_bytes:
                self.dropped += 1
                continue
            size += len(line)
            keep.append(line)
        if keep and size and not self._ends_with_newline():
            keep.insert(0, "\n")  # after a torn last line (a crash mid-write), start afresh
        if keep:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.writelines(keep)
                f.flush()
                os.fsync(f.fileno())

    def _ends_with_newline(self) -> bool:
        try:
            with self.path.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                return f.read(1) == b"\n"
        except OSError:
            return True

    def read(self) -> list[tuple[str, dict[str, Any]]]:
        """Every record, oldest first (a torn last line from a crash is skipped)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            return []
        out = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                out.append((str(rec["t"]), dict(rec["r"])))
        return out

    def clear(self) -> None:
        """Forget what was replayed."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
