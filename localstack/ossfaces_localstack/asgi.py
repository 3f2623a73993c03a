"""uvicorn's server for the local stack's HTTP APIs (OSS, FC), made to stop within milliseconds.

uvicorn notices a stop on its 100 ms tick, then sleeps 100 ms more before it waits, again in 100 ms steps, for the
connections still answering: about 0.2 s a stop. The tests start and stop a local OSS a few hundred times (0.2 s was
a third of their teardown time), and ``ossfaces up`` stops three servers on Ctrl-C. This one does the same things in
the same order, polling every ``POLL_S``.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn

POLL_S = 0.005
TICK_S = 0.1
"""uvicorn's tick: ``on_tick`` refreshes the Date header every tenth and checks the request limit."""


class PromptServer(uvicorn.Server):
    async def main_loop(self) -> None:
        loop = asyncio.get_running_loop()
        counter, next_tick = 0, loop.time() + TICK_S
        if await self.on_tick(counter):
            return
        while not self.should_exit:
            await asyncio.sleep(POLL_S)
            if loop.time() >= next_tick:
                counter, next_tick = (counter + 1) % 864000, next_tick + TICK_S
                if await self.on_tick(counter):
                    return

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
