"""Polls: one question, 2 to 10 distinct options; one vote per member."""

from __future__ import annotations

from dataclasses import dataclass

MAX_OPTIONS = 10


@dataclass(frozen=True)
class Poll:
    question: str
    options: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.question.strip():
            raise ValueError("a poll needs a question")
        cleaned = [o.strip() for o in self.options]
        if not 2 <= len(cleaned) <= MAX_OPTIONS:
            raise ValueError(f"a poll has 2 to {MAX_OPTIONS} options")
        if any(not o for o in cleaned):
            raise ValueError("poll options cannot be empty")
        if len({o.casefold() for o in cleaned}) != len(cleaned):
            raise ValueError("poll options must differ")

    @staticmethod
    def tally(option_count: int, votes: list[int]) -> list[int]:
        counts = [0] * option_count
        for option in votes:
            counts[option] += 1
        return counts
