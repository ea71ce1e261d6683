"""Opening links from device paths and URLs, over real ptys and sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import serial

from drivers.errors import LinkError, PortMissingError
from drivers.link import SerialSettings, open_link
from tests.ptys import PtyDevice


@pytest.fixture
def device(tmp_path: Path) -> PtyDevice:
    return PtyDevice(tmp_path / "ttyDEV")


async def test_device_path_reads_and_writes(device: PtyDevice) -> None:
    link = await open_link(str(device.path), SerialSettings(baudrate=115200))
    try:
        device.write(b"\x01hello\x04")
        assert await asyncio.wait_for(link.read(), 2) == b"\x01hello\x04"
        await link.write(b"\x06")
        await asyncio.sleep(0.05)
        assert device.read() == b"\x06"
    finally:
        await link.close()
        device.close()


async def test_unplugged_device_raises_link_error(device: PtyDevice) -> None:
    link = await open_link(str(device.path))
    try:
        device.unplug()
        with pytest.raises(LinkError, match=r"closed by the other side|read failed"):
            await asyncio.wait_for(link.read(), 2)
    finally:
        await link.close()
        device.close()


async def test_a_busy_port_fails_at_once(device: PtyDevice) -> None:
    holder = serial.Serial(str(device.path), exclusive=True)
    try:
        with pytest.raises(LinkError, match="busy") as raised:
            await open_link(str(device.path))
        assert not isinstance(raised.value, PortMissingError)  # present: backed off
    finally:
        holder.close()
        device.close()


async def test_a_missing_port_says_so(tmp_path: Path) -> None:
    with pytest.raises(PortMissingError, match="no such port"):
        await open_link(str(tmp_path / "ttyUSB9"))


async def test_socket_url() -> None:
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"from device")
        received.append(await reader.read(100))
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        link = await open_link(f"socket://127.0.0.1:{port}")
        assert await asyncio.wait_for(link.read(), 2) == b"from device"
        await link.write(b"poll")
        with pytest.raises(LinkError, match="closed by the other side"):
            await asyncio.wait_for(link.read(), 2)
        await link.close()
        assert received == [b"poll"]
    finally:
        server.close()
        await server.wait_closed()


async def test_socket_refused_is_a_missing_port() -> None:
    with socket_port() as port, pytest.raises(PortMissingError, match="nothing listening"):
        await open_link(f"socket://127.0.0.1:{port}")


async def test_loop_url_through_a_worker_thread() -> None:
    link = await open_link("loop://")
    try:
        await link.write(b"echo")
        assert await asyncio.wait_for(link.read(), 2) == b"echo"
    finally:
        await link.close()


def socket_port() -> _FreePort:
    return _FreePort()


class _FreePort:
    """A loopback port number that nothing listens on."""

    def __enter__(self) -> int:
        import socket

        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        probe.close()
        return port

    def __exit__(self, *exc: object) -> None:
        return None
