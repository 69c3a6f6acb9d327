"""Session: real signing round trips, and each documented rejection with its code."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from xdub.errors import ProtocolError
from xdub.protocol import ErrorCode, Limits, Session
from xdub.protocol.messages import (
    ErrorReply,
    GetJob,
    Hello,
    HelloReply,
    ListJobs,
    ModelDownloadEvent,
    Submit,
)
from xdub.protocol.records import DownloadState, ErrorInfo, JobState
from xdub.protocol.signing import DELIMITER, Header, RejectedMessage

KEY = bytes(range(32))


def _pair(**server_options: object) -> tuple[Session, Session]:
    """A client and a daemon session sharing KEY."""
    return Session(KEY), Session(KEY, **server_options)  # type: ignore[arg-type]


def _hello() -> Hello:
    return Hello(protocol_version="1.0", client_name="tests", client_version="0")


def _body_start(frames: list[bytes]) -> int:
    """Index of the signature frame."""
    return frames.index(DELIMITER) + 1


def _resign(session: Session, frames: list[bytes]) -> list[bytes]:
    """``frames`` with the signature recomputed, as a peer holding the key would send them."""
    start = _body_start(frames)
    return [*frames[:start], session.sign(frames[start + 1 :]), *frames[start + 1 :]]


def _with_frame(frames: list[bytes], index: int, value: bytes) -> list[bytes]:
    changed = list(frames)
    changed[index] = value
    return changed


def _code(session: Session, frames: list[bytes]) -> str:
    with pytest.raises(ProtocolError) as caught:
        session.deserialize(frames)
    return caught.value.code


def test_round_trip_keeps_header_parent_metadata_content_and_buffers() -> None:
    client, daemon = _pair()
    request_frames = client.serialize(
        "submit",
        Submit(job_id="job-1", otio="{}"),
        buffers=[b"\x00\xffraw", b""],
        identities=[b"peer-7"],
        metadata={"trace": 3},
    )
    request = daemon.deserialize(request_frames)
    assert request.identities == (b"peer-7",)
    assert request.msg_type == "submit"
    assert request.header.session == client.session_id
    assert request.parent_header is None
    assert request.metadata == {"trace": 3}
    assert request.content == Submit(job_id="job-1", otio="{}")
    assert request.buffers == (b"\x00\xffraw", b"")

    reply_content = HelloReply("1.0", "0.1.0", 1, "cpu", False)
    with pytest.raises(ProtocolError) as caught:
        daemon.reply(request, reply_content)  # a hello_reply cannot answer a submit
    assert caught.value.code == ErrorCode.BAD_CONTENT.value
    error = ErrorReply(ErrorInfo(code="bad_job", message="no video track", hint=None))
    reply = client.deserialize(daemon.reply(request, error)[1:])  # the ROUTER strips the peer
    assert reply.msg_type == "submit_reply"
    assert reply.parent_header == request.header
    assert reply.is_error and reply.content == error


def test_plain_dict_content_is_validated_before_it_is_sent() -> None:
    client, daemon = _pair()
    message = daemon.deserialize(client.serialize("list", {"states": ["done"]}))
    assert message.content == ListJobs(states=(JobState.DONE,))
    with pytest.raises(ProtocolError) as caught:
        client.serialize("list", {"limit": 0})
    assert caught.value.code == ErrorCode.BAD_CONTENT.value


def test_each_tampered_frame_is_rejected() -> None:
    client, daemon = _pair()
    frames = client.serialize("hello", _hello(), buffers=[b"buffer"])
    for index in range(_body_start(frames), len(frames)):
        tampered = bytearray(frames[index])
        tampered[len(tampered) // 2] ^= 0x01
        assert _code(daemon, _with_frame(frames, index, bytes(tampered))) == "bad_signature"
    daemon.deserialize(frames)  # the untouched message still verifies


def test_moving_bytes_across_a_frame_boundary_breaks_the_signature() -> None:
    client, daemon = _pair()
    frames = client.serialize("hello", _hello(), buffers=[b"abcd", b"efgh"])
    shifted = [*frames[:-2], b"abcde", b"fgh"]
    assert _code(daemon, shifted) == "bad_signature"


def test_wrong_key_and_unsigned_messages_are_rejected() -> None:
    frames = Session(secrets.token_bytes(32)).serialize("hello", _hello())
    assert _code(Session(KEY), frames) == "bad_signature"
    unsigned = _with_frame(frames, _body_start(frames), b"")
    assert _code(Session(KEY), unsigned) == "bad_signature"


@pytest.mark.parametrize("key", [b"", b"short", "a string key"])
def test_an_empty_or_short_key_is_refused(key: object) -> None:
    with pytest.raises(ProtocolError) as caught:
        Session(key)  # type: ignore[arg-type]
    assert caught.value.code == ErrorCode.BAD_KEY.value


def test_a_replayed_message_is_rejected_and_history_is_bounded() -> None:
    client, daemon = _pair(limits=Limits(history_size=4))
    first = client.serialize("hello", _hello())
    daemon.deserialize(first)
    assert _code(daemon, first) == "replayed"
    for _ in range(4):  # push the first digest out of the bounded history
        daemon.deserialize(client.serialize("hello", _hello()))
    daemon.deserialize(first)


def test_a_message_that_fails_its_signature_is_not_recorded_as_seen() -> None:
    client, daemon = _pair()
    frames = client.serialize("hello", _hello())
    start = _body_start(frames)
    with pytest.raises(ProtocolError):
        daemon.deserialize(_with_frame(frames, start + 1, frames[start + 1] + b" "))
    daemon.deserialize(frames)


@pytest.mark.parametrize("offset_s", [-301.0, 301.0])
def test_stale_or_future_messages_are_rejected(offset_s: float) -> None:
    client = Session(KEY, clock=lambda: time.time() + offset_s)
    assert _code(Session(KEY), client.serialize("hello", _hello())) == "stale"


def test_a_message_within_the_clock_skew_is_accepted() -> None:
    client = Session(KEY, clock=lambda: time.time() - 250.0)
    Session(KEY).deserialize(client.serialize("hello", _hello()))


def test_oversized_frames_and_messages_are_rejected() -> None:
    limits = Limits(max_frame_bytes=1000, max_total_bytes=3000)
    client, daemon = _pair(limits=limits)
    big_content = Submit(job_id="j", otio="x" * 1200)
    assert _code(daemon, client.serialize("submit", big_content)) == "too_large"
    buffers = [b"b" * 900] * 4
    assert _code(daemon, client.serialize("hello", _hello(), buffers=buffers)) == "too_large"


def test_wrong_frame_counts_are_rejected() -> None:
    client, daemon = _pair(limits=Limits(max_buffers=2, max_identities=2))
    frames = client.serialize("hello", _hello())
    assert _code(daemon, frames[:-1]) == "malformed"
    assert _code(daemon, [frame for frame in frames if frame != DELIMITER]) == "malformed"
    assert _code(daemon, client.serialize("hello", _hello(), buffers=[b"1"] * 3)) == "too_large"
    assert _code(daemon, client.serialize("hello", _hello(), identities=[b"a"] * 3)) == "too_large"


@pytest.mark.parametrize(
    ("frame_offset", "value", "code"),
    [
        (1, b"{not json", "malformed"),
        (1, b"\xff\xfe", "malformed"),
        (1, b"[1, 2]", "malformed"),
        (3, b"NaN", "malformed"),
        (4, b'{"fraction": NaN}', "malformed"),
        (2, b'{"msg_id": "x"}', "malformed"),
        (4, b'{"limit": 5, "limit": 1000000}', "malformed"),  # which one wins is parser-specific
        (4, b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, "malformed"),
    ],
)
def test_signed_but_invalid_json_is_rejected(frame_offset: int, value: bytes, code: str) -> None:
    client, daemon = _pair()
    frames = client.serialize("hello", _hello())
    start = _body_start(frames)
    assert _code(daemon, _resign(client, _with_frame(frames, start + frame_offset, value))) == code


def _with_header(session: Session, frames: list[bytes], **changes: str) -> list[bytes]:
    start = _body_start(frames)
    header = {**json.loads(frames[start + 1]), **changes}
    return _resign(session, _with_frame(frames, start + 1, json.dumps(header).encode()))


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"msg_type": "frobnicate"}, "unknown_type"),
        ({"version": "2.0"}, "unsupported_version"),
        ({"version": "one"}, "unsupported_version"),
        ({"date": "2026-03-14 09:26:53"}, "malformed"),
        ({"date": "2026-03-14T09:26:53+02:00"}, "malformed"),
        ({"msg_id": ""}, "malformed"),
    ],
)
def test_bad_headers_are_rejected(changes: dict[str, str], code: str) -> None:
    client, daemon = _pair()
    frames = _with_header(client, client.serialize("hello", _hello()), **changes)
    assert _code(daemon, frames) == code


def test_a_newer_minor_version_is_accepted() -> None:
    client, daemon = _pair()
    frames = _with_header(client, client.serialize("hello", _hello()), version="1.7")
    assert daemon.deserialize(frames).header.version == "1.7"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ({"protocol_version": "1.0", "client_name": "x"}, "bad_content"),
        ({"protocol_version": 1, "client_name": "x", "client_version": "0"}, "bad_content"),
        ({"protocol_version": "1.0", "client_name": None, "client_version": "0"}, "bad_content"),
    ],
)
def test_content_missing_a_field_or_of_the_wrong_type_is_rejected(
    content: dict[str, object], code: str
) -> None:
    client, daemon = _pair()
    frames = client.serialize("hello", _hello())
    start = _body_start(frames)
    bad = _resign(client, _with_frame(frames, start + 4, json.dumps(content).encode()))
    assert _code(daemon, bad) == code


def test_a_rejection_after_the_signature_carries_the_header_for_an_error_reply() -> None:
    client, daemon = _pair()
    frames = client.serialize("get", GetJob(job_id="j1"), identities=[b"peer"])
    start = _body_start(frames)
    bad = _resign(client, _with_frame(frames, start + 4, b'{"job_id": "not valid!"}'))
    with pytest.raises(RejectedMessage) as caught:
        daemon.deserialize(bad)
    rejected = caught.value
    assert rejected.code == "bad_content"
    assert rejected.identities == (b"peer",)
    assert isinstance(rejected.header, Header)
    assert rejected.header.msg_type == "get"


def test_a_bad_signature_rejection_carries_no_header() -> None:
    frames = Session(secrets.token_bytes(32)).serialize("hello", _hello())
    with pytest.raises(RejectedMessage) as caught:
        Session(KEY).deserialize(frames)
    assert caught.value.header is None


def _rejection(session: Session, frames: list[bytes]) -> RejectedMessage:
    with pytest.raises(RejectedMessage) as caught:
        session.deserialize(frames)
    return caught.value


def test_a_rejected_request_is_answered_with_its_code() -> None:
    client, daemon = _pair()
    frames = client.serialize("get", GetJob(job_id="j1"), identities=[b"peer"])
    start = _body_start(frames)
    bad = _resign(client, _with_frame(frames, start + 4, b'{"job_id": 7}'))
    answer = daemon.rejection_reply(_rejection(daemon, bad))
    assert answer is not None and answer[0] == b"peer"
    reply = client.deserialize(answer[1:])
    assert reply.msg_type == "get_reply" and isinstance(reply.content, ErrorReply)
    assert reply.content.error.code == "bad_content"
    assert "job_id" in reply.content.error.message


def test_unsigned_messages_and_misdirected_events_get_no_answer() -> None:
    client, daemon = _pair()
    forged = Session(secrets.token_bytes(32)).serialize("get", GetJob(job_id="j1"))
    assert daemon.rejection_reply(_rejection(daemon, forged)) is None
    event = client.serialize("model_download", _download_event())
    start = _body_start(event)
    bad_event = _resign(client, _with_frame(event, start + 4, b'{"name": "dit"}'))
    assert daemon.rejection_reply(_rejection(daemon, bad_event)) is None


def _download_event() -> ModelDownloadEvent:
    return ModelDownloadEvent("dit", "dit.safetensors", DownloadState.DONE, 10, 10, 0.0)


@pytest.mark.parametrize("frame_offset", [1, 2, 3, 4])
def test_a_lone_surrogate_in_any_frame_is_rejected_as_malformed(frame_offset: int) -> None:
    """JSON may escape a lone surrogate (``"\\ud800"``) that no UTF-8 reply could carry back."""
    client, daemon = _pair()
    frames = client.serialize("list", ListJobs(), identities=[b"peer"])
    start = _body_start(frames)
    obj = json.loads(frames[start + frame_offset]) or {"note": "x"}
    field = next(iter(obj))
    obj[field] = "\ud800abc"
    text = json.dumps(obj).encode()  # ensure_ascii: the surrogate travels as an escape
    assert b"\\ud800" in text
    rejected = _rejection(daemon, _resign(client, _with_frame(frames, start + frame_offset, text)))
    assert rejected.code == "malformed"
    assert "surrogate" in str(rejected)
    assert daemon.rejection_reply(rejected) is None  # checked before the header: no answer
