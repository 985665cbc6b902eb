"""WebSocket sessions (public `/v5/public/linear`, private `/v5/private`) and the hub that fans
messages out to subscribers, applying the WebSocket faults on the way.

Acks and pongs use Bybit's exact shapes (public linear and private differ). Subscribe acks are
sent after ACK_DELAY (pybit records a subscription only after sending it; an instant ack on
loopback can arrive first and kill its socket). A frame is built once per message and written to
every subscriber. One request may carry any number of topics, of any symbols (as Bybit's linear
public stream allows); the subscribed args of one public connection total at most 21,000
characters, Bybit's limit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from typing import Protocol

from whale.sim import wsproto
from whale.sim.auth import Credentials
from whale.sim.bad_data import bad_private_data, bad_private_item
from whale.sim.clock import WallClock
from whale.sim.faults import Faults

log = logging.getLogger("whalebot.sim")

ACK_DELAY = 0.025
HIGH_WATER = 512 * 1024
SLOW_CONSUMER_SECONDS = 10.0
MAX_ARGS_CHARS = 21_000  # Bybit: the args of a public connection's subscriptions total at most this
PRIVATE_TOPICS = ("order", "execution", "position", "wallet")
CATEGORISED = ("order.linear", "execution.linear", "position.linear")
MALFORMED = wsproto.text_frame('{"topic":"malformed","type":"snapshot","data":[{"oops"')


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


class TopicSource(Protocol):
    def valid_topic(self, topic: str) -> bool: ...

    def on_subscribe(self, conn: Conn, topic: str) -> None: ...

    def on_idle(self, topic: str) -> None: ...


class Conn:
    """One WebSocket connection and the faults that apply to it."""

    def __init__(self, kind: str, writer: asyncio.StreamWriter, faults: Faults,
                 data_counts: dict[str, int] | None = None) -> None:
        self.kind = kind
        self.writer = writer
        self.transport = writer.transport
        self.faults = faults
        self.conn_id = str(uuid.uuid4())
        self.topics: set[str] = set()
        self.authed = False
        self.sent = 0
        self.stall_until = 0.0
        self.closed = False
        self.batch: list[bytes] | None = None  # frames held back while the hub batches a flush
        self.data_counts = data_counts if data_counts is not None else {}  # the hub's, by connection kind
        self.data_frames = 0  # data frames written to this connection (a lockstep client counts what it read)
        self.transport.set_write_buffer_limits(high=HIGH_WATER)

    def count_data(self) -> None:
        self.data_frames += 1
        self.data_counts[self.kind] = self.data_counts.get(self.kind, 0) + 1

    def retire(self) -> None:
        """The connection is gone: what it was sent no longer counts (a new one starts from 0)."""
        self.data_counts[self.kind] = self.data_counts.get(self.kind, 0) - self.data_frames
        self.data_frames = 0

    def _write(self, frame: bytes) -> None:
        if self.batch is not None:
            self.batch.append(frame)
        else:
            self.transport.write(frame)

    def flush_batch(self) -> None:
        frames, self.batch = self.batch, None
        if frames and not self.closed:
            self.transport.write(b"".join(frames))

    def _stalled(self) -> tuple[bool, bool]:
        now = time.monotonic()
        if self.stall_until > now:
            return True, False
        return self.faults.stream_stall(self.kind, now)

    def send_control(self, text: str) -> None:
        """Acks, auth replies and pongs: not data, so no data faults; a silent stall swallows them."""
        if self.closed:
            return
        stalled, silent = self._stalled()
        if stalled and silent:
            return
        self.transport.write(wsproto.text_frame(text))

    def send_data(self, frame: bytes) -> None:
        if self.closed:
            return
        if self._stalled()[0]:
            return
        self.sent += 1
        spec = self.faults.spec
        hit = self.faults.applies_to(self.kind)
        if hit and spec.stall_ws_after and self.sent == spec.stall_ws_after + 1:
            secs = spec.stall_ws_seconds
            self.stall_until = time.monotonic() + secs if secs else math.inf
            log.info("sim: fault: %s connection %s stalls after %d messages", self.kind, self.conn_id,
                     spec.stall_ws_after)
            return
        if hit and spec.malformed_every and self.sent % spec.malformed_every == 0:
            self._write(MALFORMED)
        else:
            self._write(frame)
        self.count_data()
        if hit and spec.drop_ws_every and self.sent >= spec.drop_ws_every:
            log.info("sim: fault: dropping %s connection %s after %d messages", self.kind, self.conn_id, self.sent)
            self.drop(spec.drop_ws_mode)

    def drop(self, mode: str = "abort") -> None:
        if self.closed:
            return
        self.flush_batch()  # what was sent before the cut still goes out
        self.closed = True
        self.retire()
        if mode == "close":
            self.transport.write(wsproto.close_frame(1000, "simulator fault"))
            self.transport.close()
        else:
            self.transport.abort()


class Hub:
    def __init__(self, faults: Faults, wall: WallClock, creds: Credentials, symbol: str) -> None:
        self.faults = faults
        self.wall = wall
        self.creds = creds
        self.symbol = symbol
        self.conns: set[Conn] = set()
        self.topics: dict[str, set[Conn]] = {}
        self.source: TopicSource | None = None
        self.creation_time: Callable[[], int] = wall.now_ms
        self.data_counts: dict[str, int] = {"public": 0, "private": 0}  # data frames on the open connections
        self._msg_no = 0
        self.frames_sent = 0  # public data messages written, one per subscriber (benchmarks read it)
        faults.actions["drop"] = self.drop
        faults.actions["malformed"] = self.malformed
        faults.actions["bad_private"] = self.bad_private

    # ------------------------------------------------------------------ publishing

    @contextmanager
    def batched(self):
        """Hold every data frame sent inside the block and write each connection's frames at once
        (one syscall per connection per flush instead of one per message)."""
        conns = list(self.conns)
        for c in conns:
            c.batch = []
        try:
            yield
        finally:
            for c in conns:
                c.flush_batch()

    def subscribed(self, topic: str) -> bool:
        return bool(self.topics.get(topic))

    def publish(self, topic: str, text: str) -> None:
        subs = self.topics.get(topic)
        if not subs:
            return
        frame = wsproto.text_frame(text)
        self.frames_sent += len(subs)
        for conn in list(subs):
            conn.send_data(frame)

    def publish_private(self, events: list[tuple[str, dict]]) -> None:
        if not events:
            return
        grouped: dict[str, list] = {}
        for topic, data in events:
            grouped.setdefault(topic, []).append(data)
        for topic, items in grouped.items():
            if self.faults.private_fault():  # valid JSON, wrong shape: before and inside the real message
                self._publish_private_data(topic, bad_private_data(topic, self.faults.next_bad_private_kind(),
                                                                   self.symbol))
                items = [None, bad_private_item(topic, self.symbol), *items]
                log.info("sim: fault: bad items in a private %s message", topic)
            self._publish_private_data(topic, items)

    def _publish_private_data(self, topic: str, data) -> int:
        """One private message with `data` as given; returns the topic names it went out on."""
        sent = 0
        for name in (topic, f"{topic}.linear"):
            subs = self.topics.get(name)
            if not subs:
                continue
            sent += 1
            self._msg_no += 1
            text = dumps({"id": f"{self._msg_no}{self.symbol}{self.creation_time()}", "topic": name,
                          "creationTime": self.creation_time(), "data": data})
            frame = wsproto.text_frame(text)
            for conn in list(subs):
                conn.send_data(frame)
        return sent

    def bad_private(self, kind: str) -> int:
        """A wrong-shape message of `kind` on every private topic now; returns the messages sent."""
        sent = sum(self._publish_private_data(topic, bad_private_data(topic, kind, self.symbol))
                   for topic in PRIVATE_TOPICS)
        log.info("sim: fault: %d wrong-shape private message(s) (%s)", sent, kind)
        return sent

    async def backpressure(self) -> None:
        """Wait while a subscriber's buffer is over the high-water mark; cut a consumer that stays slow."""
        for conn in list(self.conns):
            if conn.closed or conn.transport.get_write_buffer_size() <= HIGH_WATER:
                continue
            try:
                await asyncio.wait_for(conn.writer.drain(), SLOW_CONSUMER_SECONDS)
            except (TimeoutError, ConnectionError):
                log.warning("sim: cutting slow %s consumer %s", conn.kind, conn.conn_id)
                conn.drop("abort")

    # ------------------------------------------------------------------ fault actions

    def _matching(self, stream: str) -> list[Conn]:
        return [c for c in self.conns if not c.closed and stream in ("all", c.kind)]

    def drop(self, stream: str, mode: str) -> int:
        conns = self._matching(stream)
        for c in conns:
            c.drop(mode)
        log.info("sim: fault: dropped %d %s WebSocket connection(s) (%s)", len(conns), stream, mode)
        return len(conns)

    def malformed(self, stream: str) -> int:
        conns = self._matching(stream)
        for c in conns:
            c.transport.write(MALFORMED)
            c.count_data()
        return len(conns)

    def close_all(self) -> None:
        for c in list(self.conns):
            c.drop("abort")

    # ------------------------------------------------------------------ sessions

    async def serve(self, kind: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Conn(kind, writer, self.faults, self.data_counts)
        self.conns.add(conn)
        log.debug("sim: %s WebSocket %s opened", kind, conn.conn_id)
        messages = wsproto.MessageReader(reader)
        try:
            while not conn.closed:
                opcode, payload = await messages.next()
                if opcode == wsproto.OP_TEXT:
                    try:
                        await self._on_text(conn, payload)
                    except Exception:  # noqa: BLE001 - one bad request is answered, never drops the connection
                        log.exception("sim: %s WebSocket request failed", kind)
                        self._reply(conn, "", {}, False, "error:the simulator could not handle this request")
                elif opcode == wsproto.OP_PING:
                    if not conn._stalled()[1]:
                        conn.transport.write(wsproto.frame(wsproto.OP_PONG, payload))
                elif opcode == wsproto.OP_CLOSE:
                    if not conn.closed:
                        conn.transport.write(wsproto.frame(wsproto.OP_CLOSE, payload[:2]))
                    break
                elif opcode == wsproto.OP_BINARY:
                    self._reply(conn, "", {}, False, "error:binary messages are not supported")
        except wsproto.ProtocolError as exc:
            if not conn.closed:
                conn.transport.write(wsproto.close_frame(exc.code, str(exc)))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._forget(conn)
            conn.closed = True
            writer.close()
            log.debug("sim: %s WebSocket %s closed", kind, conn.conn_id)

    def data_sent(self) -> dict[str, int]:
        """Data frames written to the open connections, by kind ("public", "private"): a lockstep
        client that has read as many has everything the simulator sent (any thread may ask)."""
        return dict(self.data_counts)

    def _forget(self, conn: Conn) -> None:
        conn.retire()  # idempotent: a dropped connection retired already
        self.conns.discard(conn)
        for topic in list(conn.topics):
            self._unsubscribe(conn, topic)

    def _unsubscribe(self, conn: Conn, topic: str) -> None:
        conn.topics.discard(topic)
        subs = self.topics.get(topic)
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self.topics[topic]
                if self.source is not None:
                    self.source.on_idle(topic)

    async def _on_text(self, conn: Conn, payload: bytes) -> None:
        try:
            msg = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            self._reply(conn, "", {}, False, "error:request is not valid JSON")
            return
        if not isinstance(msg, dict):
            self._reply(conn, "", {}, False, "error:request is not a JSON object")
            return
        op = msg.get("op")
        if op == "ping":
            self._pong(conn, msg)
        elif op in ("subscribe", "unsubscribe"):
            await asyncio.sleep(ACK_DELAY)
            if not conn.closed:
                self._subscription(conn, op, msg)
        elif op == "auth" and conn.kind == "private":
            self._auth(conn, msg)
        else:
            self._reply(conn, str(op or ""), msg, False, f"error:unsupported op {op!r}")

    def _reply(self, conn: Conn, op: str, msg: dict, ok: bool, ret_msg: str) -> None:
        req_id = msg.get("req_id")
        if conn.kind == "public":
            body = {"success": ok, "ret_msg": ret_msg, "conn_id": conn.conn_id, "req_id": req_id or "", "op": op}
        else:
            body = {"success": ok, "ret_msg": ret_msg, "op": op, "conn_id": conn.conn_id}
            if req_id is not None:
                body["req_id"] = req_id
        conn.send_control(dumps(body))

    def _pong(self, conn: Conn, msg: dict) -> None:
        if conn.kind == "public":
            self._reply(conn, "ping", msg, True, "pong")
            return
        body = {"req_id": msg.get("req_id"), "op": "pong", "args": [str(self.wall.now_ms())], "conn_id": conn.conn_id}
        if body["req_id"] is None:
            del body["req_id"]
        conn.send_control(dumps(body))

    def _auth(self, conn: Conn, msg: dict) -> None:
        problem = self.creds.check_ws(msg.get("args"), self.wall.now_ms())
        conn.authed = problem is None
        if problem:
            log.info("sim: private WebSocket auth refused: %s", problem)
        self._reply(conn, "auth", msg, problem is None, problem or "")

    def _valid(self, conn: Conn, topic) -> bool:
        if not isinstance(topic, str):
            return False
        if conn.kind == "private":
            return topic in PRIVATE_TOPICS or topic in CATEGORISED
        return self.source is not None and self.source.valid_topic(topic)

    def _subscription(self, conn: Conn, op: str, msg: dict) -> None:
        args = msg.get("args")
        if not isinstance(args, list) or not args:
            self._reply(conn, op, msg, False, "error:args must be a non-empty list of topics")
            return
        if conn.kind == "private" and not conn.authed:
            self._reply(conn, op, msg, False, "Request not authorized")
            return
        if conn.kind == "private" and any(a in CATEGORISED for a in args) and any(a in PRIVATE_TOPICS for a in args):
            self._reply(conn, op, msg, False, "error:all-in-one and categorised topics cannot be mixed")
            return
        if conn.kind == "public" and op == "subscribe":
            used = sum(len(t) for t in conn.topics)
            asked = sum(len(a) for a in args if isinstance(a, str) and a not in conn.topics)
            if used + asked > MAX_ARGS_CHARS:
                self._reply(conn, op, msg, False, f"error:the args of one connection may total at most "
                                                  f"{MAX_ARGS_CHARS} characters ({used} subscribed, {asked} asked); "
                                                  f"open another connection")
                return
        bad = [a for a in args if not self._valid(conn, a)]
        good = [a for a in args if a not in bad]
        problems = [f"error:handler not found,topic:{a}" for a in bad]
        if op == "subscribe":
            dup = [a for a in good if a in conn.topics]
            problems += [f"error:already subscribed,topic:{a}" for a in dup]
            fresh = [a for a in good if a not in dup]
            self._reply(conn, op, msg, not problems, ";".join(problems))
            for topic in fresh:
                conn.topics.add(topic)
                self.topics.setdefault(topic, set()).add(conn)
                if self.source is not None and conn.kind == "public":
                    self.source.on_subscribe(conn, topic)
        else:
            missing = [a for a in good if a not in conn.topics]
            problems += [f"error:not subscribed,topic:{a}" for a in missing]
            self._reply(conn, op, msg, not problems, ";".join(problems))
            for topic in good:
                if topic in conn.topics:
                    self._unsubscribe(conn, topic)
