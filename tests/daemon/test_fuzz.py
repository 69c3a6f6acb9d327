"""Fuzz the daemon's request socket: 10,000+ malformed, unsigned, tampered, replayed, stale and
oversized messages; none is accepted and a valid client is still served afterwards."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator

import zmq

from xdub.protocol.connection import read_connection_file
from xdub.protocol.messages import GetJob, ListJobs, Submit
from xdub.protocol.signing import DELIMITER, Session

NUM_MESSAGES = 10_000
OVERSIZED_BYTES = 17 * 2**20
"""Above the 16 MiB frame limit."""


def _mutations(key: bytes, otio: str) -> list[Callable[[random.Random], list[bytes]]]:
    """Makers of bad messages; every one would create a job or be answered ok if accepted."""
    session = Session(key)
    wrong_key = Session(bytes(32))

    def submit_frames() -> list[bytes]:
        job_id = f"fuzz{random.getrandbits(64):x}"
        return session.serialize("submit", Submit(job_id, otio))

    def garbage(rng: random.Random) -> list[bytes]:
        return [rng.randbytes(rng.randrange(0, 64)) for _ in range(rng.randrange(1, 8))]

    def no_frames_after_delimiter(rng: random.Random) -> list[bytes]:
        return [DELIMITER, *submit_frames()[1 : rng.randrange(1, 5)]]

    def unsigned(rng: random.Random) -> list[bytes]:
        frames = submit_frames()
        frames[1] = rng.choice([b"", b"0" * 64, rng.randbytes(64)])
        return frames

    def signed_with_another_key(rng: random.Random) -> list[bytes]:
        return wrong_key.serialize("submit", Submit(f"fuzz{rng.getrandbits(32)}", otio))

    def tampered(rng: random.Random) -> list[bytes]:
        frames = submit_frames()
        index = rng.randrange(2, len(frames))
        frame = bytearray(frames[index])
        if frame:
            frame[rng.randrange(len(frame))] ^= 1 << rng.randrange(8)
        frames[index] = bytes(frame)
        return frames

    def frames_moved(rng: random.Random) -> list[bytes]:
        frames = submit_frames()
        frames[2], frames[5] = frames[5], frames[2]
        return frames

    def buffer_appended(rng: random.Random) -> list[bytes]:
        return [*submit_frames(), rng.randbytes(8)]

    def too_many_frames(rng: random.Random) -> list[bytes]:
        frames = session.serialize("submit", Submit("fuzzmany", otio), buffers=[b"x"] * 9)
        return frames

    def too_many_identities(rng: random.Random) -> list[bytes]:
        return [b"id"] * 9 + submit_frames()

    def stale(rng: random.Random) -> list[bytes]:
        old = Session(key, clock=lambda: time.time() - 3600)
        return old.serialize("submit", Submit(f"fuzzstale{rng.getrandbits(32)}", otio))

    def wrong_major_version(rng: random.Random) -> list[bytes]:
        other = Session(key, protocol_version="2.0")
        return other.serialize("submit", Submit(f"fuzzv2{rng.getrandbits(32)}", otio))

    def bad_content(rng: random.Random) -> list[bytes]:
        content = rng.choice(
            [{"job_id": "../../etc", "otio": otio}, {"job_id": 5}, {"otio": otio}, {"x": [1] * 10}]
        )
        header = session.header("submit")
        parts = [json.dumps(header.to_json()).encode(), b"{}", b"{}", json.dumps(content).encode()]
        return [DELIMITER, session.sign(parts), *parts]

    def unknown_type(rng: random.Random) -> list[bytes]:
        header = session.header("execute_request")
        parts = [json.dumps(header.to_json()).encode(), b"{}", b"{}", b'{"code": "rm -rf /"}']
        return [DELIMITER, session.sign(parts), *parts]

    def a_reply_sent_as_request(rng: random.Random) -> list[bytes]:
        return session.serialize("shutdown_reply", {"status": "ok"})

    return [
        garbage,
        no_frames_after_delimiter,
        unsigned,
        signed_with_another_key,
        tampered,
        frames_moved,
        buffer_appended,
        too_many_frames,
        too_many_identities,
        stale,
        wrong_major_version,
        bad_content,
        unknown_type,
        a_reply_sent_as_request,
    ]


def _drain(dealer: zmq.Socket[bytes], replies: list[list[bytes]], quiet_ms: int = 0) -> None:
    """Collect replies until none has come for ``quiet_ms``."""
    while dealer.poll(quiet_ms):
        replies.append(dealer.recv_multipart())


def _statuses(session: Session, replies: list[list[bytes]]) -> Iterator[tuple[str, str | None]]:
    """(status, error code) of each reply, after checking its signature (replies to unknown
    message types have no schema on our side, so the frames are read directly)."""
    for frames in replies:
        start = frames.index(DELIMITER)
        assert frames[start + 1] == session.sign(frames[start + 2 :])
        content = json.loads(frames[start + 5])
        yield content["status"], content.get("error", {}).get("code")


def test_ten_thousand_bad_messages_are_all_rejected(running_daemon, short_clip) -> None:
    info = read_connection_file(running_daemon.connection_file)
    session = Session(info.key_bytes)
    makers = _mutations(info.key_bytes, short_clip.otio)
    rng = random.Random(1234)
    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.setsockopt(zmq.RCVHWM, 0)  # keep every reply, however many arrive while sending
    dealer.connect(info.request_address)
    replies: list[list[bytes]] = []
    sent = Counter[str]()
    valid_list = session.serialize("list", ListJobs())
    dealer.send_multipart(valid_list)  # the one legitimate message: its replays must fail
    for index in range(NUM_MESSAGES):
        if index % 10 == 0:
            dealer.send_multipart(valid_list)
            sent["replayed"] += 1
        else:
            maker = makers[index % len(makers)]
            dealer.send_multipart(maker(rng))
            sent[maker.__name__] += 1
        _drain(dealer, replies)
    _drain(dealer, replies, quiet_ms=3000)
    dealer.close()

    oversized = context.socket(zmq.DEALER)  # ZeroMQ drops a peer that sends over MAXMSGSIZE
    oversized.setsockopt(zmq.LINGER, 0)
    oversized.connect(info.request_address)
    header = session.serialize("get", GetJob("big"))
    for _ in range(3):
        oversized.send_multipart([*header, b"\0" * OVERSIZED_BYTES])
    assert not oversized.poll(2000)
    oversized.close()

    statuses = Counter(_statuses(session, replies))
    assert sum(statuses.values()) == len(replies)
    assert statuses[("ok", None)] == 1, statuses  # the original list, nothing else
    assert statuses[("error", "replayed")] == sent["replayed"], statuses
    assert statuses[("error", "stale")] == sent["stale"]
    assert statuses[("error", "unsupported_version")] == sent["wrong_major_version"]
    assert statuses[("error", "bad_content")] == sent["bad_content"]
    assert statuses[("error", "unknown_type")] == sent["unknown_type"]
    assert sum(sent.values()) >= NUM_MESSAGES
    context.term()

    with running_daemon.client("after-fuzz") as client:
        assert client.hello().pid == running_daemon.pid
        assert not [job for job in client.list_jobs(limit=1000) if job.job_id.startswith("fuzz")]
    log = running_daemon.log_text()
    assert log.count("rejected a message from") >= NUM_MESSAGES * 0.8
    assert info.key not in log


STRUCTURED_ROUNDS = 4
"""Each structured payload is sent this many times (fresh ids, so none is a replay)."""
STRUCTURED_BUDGET_S = 240.0
"""Wall-time bound of the structured run; each refusal takes milliseconds."""


def _signed(session: Session, header: dict, content: bytes) -> list[bytes]:
    parts = [json.dumps(header).encode(), b"{}", b"{}", content]
    return [DELIMITER, session.sign(parts), *parts]


def _structured(session: Session, otio: str) -> list[tuple[str, Callable[[], list[bytes]], str]]:
    """``(name, maker, expected)``: signed payloads that reach the JSON, schema and job checks;
    ``expected`` is the error code of the answer, or ``"dropped"`` for no answer."""

    def submit(content: dict) -> list[bytes]:
        return _signed(session, session.header("submit").to_json(), json.dumps(content).encode())

    def job_id() -> str:
        return f"fuzz{random.getrandbits(64):x}"

    def header_with(**fields: object) -> list[bytes]:
        header = {**session.header("list").to_json(), **fields}
        return _signed(session, header, b"{}")

    deep = 200_000
    return [
        (
            "deep JSON content",
            lambda: _signed(
                session, session.header("list").to_json(), b'{"a":' * deep + b"1" + b"}" * deep
            ),
            "dropped",
        ),
        (
            "deep OTIO",
            lambda: submit({"job_id": job_id(), "otio": "[" * deep + "]" * deep}),
            "bad_job",
        ),
        (
            "deep OTIO objects",
            lambda: submit({"job_id": job_id(), "otio": '{"a":' * 5000 + "1" + "}" * 5000}),
            "bad_job",
        ),
        (
            "huge OTIO string",
            lambda: submit({"job_id": job_id(), "otio": "x" * (3 * 2**20)}),
            "bad_job",
        ),
        ("huge job id", lambda: submit({"job_id": "j" * 2**20, "otio": otio}), "bad_content"),
        ("huge msg_id", lambda: header_with(msg_id="m" * 2**20), "ok"),
        ("surrogate msg_id", lambda: header_with(msg_id="\ud800abc"), "dropped"),
        (
            "surrogate in OTIO",
            lambda: submit({"job_id": job_id(), "otio": otio + "\udfff"}),
            "dropped",
        ),
        (
            "NaN content",
            lambda: _signed(session, session.header("list").to_json(), b'{"limit": NaN}'),
            "dropped",
        ),
        (
            "Infinity in OTIO JSON",
            lambda: submit(
                {"job_id": job_id(), "otio": otio.replace('"rate": 25.0', '"rate": Infinity', 1)}
            ),
            "bad_job",
        ),
        (
            "duplicate header key",
            lambda: _signed(
                session,
                session.header("list").to_json(),
                b'{"limit": 1, "limit": 2}',
            ),
            "dropped",
        ),
        (
            "duplicate msg_type",
            lambda: [
                DELIMITER,
                session.sign(
                    parts := [
                        json.dumps(session.header("list").to_json())[:-1].encode()
                        + b', "msg_type": "shutdown"}',
                        b"{}",
                        b"{}",
                        b"{}",
                    ]
                ),
                *parts,
            ],
            "dropped",
        ),
        (
            "duplicate key in OTIO",
            lambda: submit(
                {"job_id": job_id(), "otio": otio[:-1] + ', "name": "other", "name": "x"}'}
            ),
            "bad_job",
        ),
    ]


def test_structured_mutations_are_refused_precisely_and_the_daemon_serves_on(
    running_daemon, short_clip
) -> None:
    info = read_connection_file(running_daemon.connection_file)
    session = Session(info.key_bytes)
    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(info.request_address)
    started = time.monotonic()
    outcomes: dict[str, set[str]] = {}
    payloads = _structured(session, short_clip.otio)
    for _ in range(STRUCTURED_ROUNDS):
        for name, maker, expected in payloads:
            dealer.send_multipart(maker())
            wait_ms = 1000 if expected == "dropped" else 30_000
            if dealer.poll(wait_ms):
                frames = dealer.recv_multipart()
                start = frames.index(DELIMITER)
                content = json.loads(frames[start + 5])
                got = content.get("error", {}).get("code", content["status"])
            else:
                got = "dropped"
            outcomes.setdefault(name, set()).add(got)
            assert time.monotonic() - started < STRUCTURED_BUDGET_S
    dealer.close()
    context.term()
    expected = {name: {code} for name, _, code in payloads}
    assert outcomes == expected
    with running_daemon.client("after-structured") as client:
        assert client.hello().pid == running_daemon.pid
        assert not [job for job in client.list_jobs(limit=1000) if job.job_id.startswith("fuzz")]
