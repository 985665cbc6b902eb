"""RFC 6455 WebSocket on the server side, over asyncio streams: the upgrade handshake, frames
(client frames are masked, ours are not), fragmentation, ping/pong and close. No extensions are
negotiated (websocket-client asks for none)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct

from whale.sim.httpio import HttpError, HttpRequest

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 1024 * 1024


class ProtocolError(Exception):
    """The peer broke the protocol; close with `code`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def handshake_response(req: HttpRequest) -> bytes:
    key = req.headers.get("sec-websocket-key", "")
    if req.method != "GET" or not key:
        raise HttpError(400, "bad WebSocket upgrade request")
    if req.headers.get("sec-websocket-version", "") != "13":
        raise HttpError(426, "unsupported WebSocket version (13 only)")
    return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode("ascii")


def frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def text_frame(text: str) -> bytes:
    return frame(OP_TEXT, text.encode("utf-8"))


def close_frame(code: int = 1000, reason: str = "") -> bytes:
    return frame(OP_CLOSE, struct.pack("!H", code) + reason.encode("utf-8")[:120])


def _unmask(data: bytes, mask: bytes) -> bytes:
    n = len(data)
    if not n:
        return data
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


async def read_frame(reader: asyncio.StreamReader) -> tuple[bool, int, bytes]:
    """(fin, opcode, payload) of the next frame from a client."""
    b1, b2 = await reader.readexactly(2)
    fin = bool(b1 & 0x80)
    opcode = b1 & 0x0F
    if b1 & 0x70:
        raise ProtocolError(1002, "reserved bits set")
    if not b2 & 0x80:
        raise ProtocolError(1002, "client frames must be masked")
    n = b2 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    if n > MAX_MESSAGE:
        raise ProtocolError(1009, "message too big")
    if opcode >= 0x8 and (n > 125 or not fin):
        raise ProtocolError(1002, "bad control frame")
    mask = await reader.readexactly(4)
    payload = _unmask(await reader.readexactly(n), mask)
    return fin, opcode, payload


class MessageReader:
    """Reassembles fragmented messages; answers nothing itself (the session decides)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self._parts: list[bytes] = []
        self._opcode = 0

    async def next(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next complete message or control frame."""
        while True:
            fin, opcode, payload = await read_frame(self.reader)
            if opcode >= 0x8:
                return opcode, payload
            if opcode == OP_CONT:
                if not self._parts:
                    raise ProtocolError(1002, "continuation without a message")
            elif self._parts:
                raise ProtocolError(1002, "new message inside a fragmented one")
            else:
                self._opcode = opcode
            self._parts.append(payload)
            if sum(len(p) for p in self._parts) > MAX_MESSAGE:
                raise ProtocolError(1009, "message too big")
            if fin:
                data = b"".join(self._parts)
                self._parts = []
                return self._opcode, data
