from __future__ import annotations

from services.live.domain.once import Once


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_id_passes_once_within_the_window_and_again_after_it() -> None:
    clock = Clock()
    once = Once(window_s=120, limit=1000, clock=clock)
    assert once.first("a") and once.first("b")
    clock.now = 119.9
    assert not once.first("a") and not once.first("b")
    clock.now = 120.0
    assert once.first("c")  # the next id seen forgets what is older than the window
    assert once.first("a")  # beyond the window the stream stores a second copy too
    assert len(once) == 2


def test_memory_is_bounded_by_the_limit_oldest_forgotten_first() -> None:
    once = Once(window_s=120, limit=3, clock=Clock())
    for event_id in "abcd":
        assert once.first(event_id)
    assert len(once) == 3
    assert not once.first("d") and not once.first("b")
    assert once.first("a")
