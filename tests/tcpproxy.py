"""A loopback TCP proxy a test controls: forward, cut (close everything), or blackhole (hold
connections open and forward nothing, like a dead link that sends no FIN)."""

from __future__ import annotations

import asyncio
import contextlib

from tests.conftest import free_port


class TcpProxy:
    """127.0.0.1:<port> -> 127.0.0.1:<upstream>."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.mode = "forward"
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Close every connection; new ones are closed at once until forward()."""
        self.mode = "cut"
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    def blackhole(self) -> None:
        """Keep connections open but pass nothing either way."""
        self.mode = "blackhole"

    def forward(self) -> None:
        """Pass traffic again (connections cut or blackholed before stay dead)."""
        self.cut()
        self.mode = "forward"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode != "forward":
            if self.mode == "cut":
                writer.transport.abort()
            else:
                self._writers.add(writer)  # blackholed: accepted, then silence
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                if self.mode == "blackhole":
                    continue  # swallowed
                if self.mode == "cut":
                    break
                writer.write(data)
                await writer.drain()
        if self.mode == "blackhole":
            return  # a dead link tells the other side nothing, not even that this side closed
        writer.transport.abort()
        self._writers.discard(writer)
