"""Bucketed timers: long delays wait in buckets served by one loop timer, short ones go to the loop."""

from __future__ import annotations

import asyncio

from checkin.server.timers import Timer, Timers, timers

RESOLUTION = 0.02


async def test_long_delays_run_in_order_within_one_bucket_late() -> None:
    """Each call runs once, not before its delay and at most one bucket after it, in time order."""
    loop = asyncio.get_running_loop()
    wheel = Timers(loop, RESOLUTION)
    started, ran = loop.time(), []
    for delay in (0.2, 0.1, 0.15, 0.1):
        wheel.later(delay, lambda delay=delay: ran.append((delay, loop.time() - started)))
    assert loop.time() - started < 0.1 and ran == []
    await asyncio.sleep(0.35)
    assert [delay for delay, _ in ran] == [0.1, 0.1, 0.15, 0.2]
    for delay, at in ran:
        assert delay <= at, (delay, at)
    assert wheel.pending() == 0


async def test_a_cancelled_timer_never_runs_and_keeps_nothing_alive() -> None:
    """cancel() before the bucket: the call never happens, and its callback is dropped at once."""
    loop = asyncio.get_running_loop()
    wheel = Timers(loop, RESOLUTION)
    ran: list[str] = []
    kept = wheel.later(0.1, ran.append, "kept")
    dropped = wheel.later(0.1, ran.append, "dropped")
    assert isinstance(dropped, Timer)
    dropped.cancel()
    assert dropped.callback is None and dropped.args == ()
    await asyncio.sleep(0.2)
    assert ran == ["kept"]
    kept.cancel()  # after it ran: nothing happens


async def test_short_delays_go_to_the_loop() -> None:
    """Under four buckets the loop's own timer is used, with its precision."""
    wheel = Timers(asyncio.get_running_loop(), RESOLUTION)
    assert isinstance(wheel.later(0.05, print), asyncio.TimerHandle)
    assert isinstance(wheel.later(0.1, print), Timer)


async def test_a_timer_set_from_a_timer_runs_too_and_a_failing_one_stops_nobody() -> None:
    """A call may set the next one (a ping sets its pong deadline); one that raises leaves the others."""
    loop = asyncio.get_running_loop()
    wheel = Timers(loop, RESOLUTION)
    ran: list[str] = []
    errors: list[object] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context["exception"]))
    try:

        def first() -> None:
            ran.append("first")
            wheel.later(0.1, ran.append, "second")

        def failing() -> None:
            raise RuntimeError("boom")

        wheel.later(0.1, failing)
        wheel.later(0.1, first)
        await asyncio.sleep(0.35)
    finally:
        loop.set_exception_handler(None)
    assert ran == ["first", "second"]
    assert [str(error) for error in errors] == ["boom"]


async def test_each_loop_has_its_own_timers() -> None:
    """One set of timers per event loop, made on first use."""
    loop = asyncio.get_running_loop()
    assert timers(loop) is timers(loop) and timers(loop).loop is loop
