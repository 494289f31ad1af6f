"""Periodic jobs: a stop lets the step in hand finish and cuts only the wait."""

from __future__ import annotations

import asyncio

import pytest

from shared.background import Periodic
from tests.support import eventually


class Steps:
    """A step that records its runs and can be held half-way."""

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()
        self.fail = False

    async def __call__(self) -> None:
        self.started += 1
        self.entered.set()
        await self.release.wait()
        if self.fail:
            raise RuntimeError("boom")
        self.finished += 1


async def test_a_stop_lets_the_step_in_hand_finish_and_starts_no_other() -> None:
    steps = Steps()
    steps.release.clear()
    job = Periodic("test", steps, every_s=0.01)
    job.start()
    await asyncio.wait_for(steps.entered.wait(), 5)

    stopping = asyncio.create_task(job.stop())
    for _ in range(20):  # loop turns enough for a cancel to land and the job to end
        await asyncio.sleep(0)
    assert not stopping.done()  # it waits for the step, it does not cancel it
    steps.release.set()
    await asyncio.wait_for(stopping, 5)
    assert (steps.started, steps.finished) == (1, 1)


async def test_a_stop_cuts_the_wait_and_wake_runs_the_next_step_now() -> None:
    steps = Steps()
    job = Periodic("test", steps, every_s=3600)
    job.start()
    await asyncio.wait_for(steps.entered.wait(), 5)
    steps.entered.clear()

    job.wake()
    await asyncio.wait_for(steps.entered.wait(), 5)
    assert steps.started == 2

    await asyncio.wait_for(job.stop(), 5)  # not an hour
    assert steps.finished == 2


async def test_a_failing_step_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    steps = Steps()
    steps.fail = True
    job = Periodic("test", steps, every_s=0.01)
    job.start()

    async def retried() -> bool:
        return steps.started >= 3

    await eventually(retried)
    await job.stop()
    assert steps.finished == 0
    assert "step failed" in caplog.text


async def test_a_step_that_outlasts_the_stop_is_cancelled() -> None:
    steps = Steps()
    steps.release.clear()  # never released
    job = Periodic("test", steps, every_s=0.01)
    job.start()
    await asyncio.wait_for(steps.entered.wait(), 5)
    await asyncio.wait_for(job.stop(timeout_s=0.05), 5)
    assert steps.finished == 0
