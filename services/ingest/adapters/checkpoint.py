"""Where an import got to, in a small JSON file beside the import (written atomically)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

FINGERPRINT_BYTES = 64 * 1024


def fingerprint(path: Path) -> str:
    """The file's identity: a hash of its beginning (so an appended CSV still resumes)."""
    with path.open("rb") as handle:
        return hashlib.sha256(handle.read(FINGERPRINT_BYTES)).hexdigest()


@dataclass
class Checkpoint:
    file: str
    fingerprint: str
    room_id: str
    position: int = 0  # records (export messages or CSV rows) fully stored
    published: int = 0
    duplicates: int = 0
    skipped: int = 0
    done: bool = False


class CheckpointFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Checkpoint | None:
        try:
            return Checkpoint(**json.loads(self.path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:
            raise ValueError(f"unreadable checkpoint {self.path}: {exc}; use --restart") from None

    def save(self, checkpoint: Checkpoint) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(checkpoint), indent=1))
        os.replace(tmp, self.path)  # a crash leaves the old checkpoint or the new, never half
