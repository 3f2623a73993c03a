"""uvicorn's server for the local stack's HTTP APIs (OSS, FC), made to stop within milliseconds.

uvicorn notices a stop on its 100 ms tick, then sleeps 100 ms more before it waits, again in 100 ms steps, for the
connections still answering: about 0.2 s a stop. The tests start and stop a local OSS a few hundred times (0.2 s was
a third of their teardown time), and ``ossfaces up`` stops three servers on Ctrl-C. This one wakes at once when
:meth:`PromptServer.stop_soon` is called (idle, it still wakes only on uvicorn's tick) and then does uvicorn's
shutdown steps in the same order, polling every ``POLL_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import uvicorn

POLL_S = 0.005
TICK_S = 0.1
"""uvicorn's tick: ``on_tick`` refreshes the Date header every tenth and checks the request limit."""


class PromptServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def stop_soon(self) -> None:
        """Ask the server to stop, from any thread: it wakes at once (``should_exit`` alone waits for the tick)."""
        self.should_exit = True
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                self._loop.call_soon_threadsafe(self._stopping.set)

    async def main_loop(self) -> None:
        """uvicorn's loop: ``on_tick`` every ``TICK_S`` until it says to exit, woken early by :meth:`stop_soon`."""
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), TICK_S)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's graceful shutdown: stop accepting, ask every connection to close (idle ones do at once), wait for
        those still answering and their tasks (up to ``timeout_graceful_shutdown``, if set), then the lifespan."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        limit = self.config.timeout_graceful_shutdown
        deadline = None if limit is None else loop.time() + limit
        state = self.server_state
        while (state.connections or state.tasks) and not self.force_exit:
            if deadline is not None and loop.time() > deadline:
                for task in state.tasks:
                    task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
                break
            await asyncio.sleep(POLL_S)
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()
