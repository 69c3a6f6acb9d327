"""Fuzzing the checks: seeded random malformed messages, none of which may be accepted."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from xdub.errors import ProtocolError
from xdub.protocol import Session
from xdub.protocol.messages import parse_content
from xdub.protocol.signing import DELIMITER

KEY = bytes(range(32))
NUM_CASES = 10_000
SEED = 20260314

Frames = list[bytes]


def _resign(session: Session, frames: Frames) -> Frames:
    start = frames.index(DELIMITER) + 1
    return [*frames[:start], session.sign(frames[start + 1 :]), *frames[start + 1 :]]


def _replace_json(frames: Frames, offset: int, obj: Any) -> Frames:
    """``frames`` with the JSON frame at ``offset`` after the signature replaced."""
    changed = list(frames)
    changed[frames.index(DELIMITER) + 1 + offset] = json.dumps(obj).encode()
    return changed


def _json_at(frames: Frames, offset: int) -> Any:
    return json.loads(frames[frames.index(DELIMITER) + 1 + offset])


# Byte-level mutations: no valid signature can survive them.


def _flip_bits(rng: random.Random, frames: Frames, session: Session) -> Frames:
    index = rng.randrange(frames.index(DELIMITER) + 1, len(frames))
    frame = bytearray(frames[index] or b"\x00")
    for bit in rng.sample(range(8 * len(frame)), min(8 * len(frame), rng.randint(1, 4))):
        frame[bit // 8] ^= 1 << (bit % 8)
    return [*frames[:index], bytes(frame), *frames[index + 1 :]]


def _truncate_or_extend(rng: random.Random, frames: Frames, session: Session) -> Frames:
    index = rng.randrange(frames.index(DELIMITER) + 1, len(frames))
    frame = frames[index]
    if frame and rng.random() < 0.5:
        frame = frame[: rng.randrange(len(frame))]
    else:
        frame = frame + rng.randbytes(rng.randint(1, 8))
    return [*frames[:index], frame, *frames[index + 1 :]]


def _drop_duplicate_or_swap(rng: random.Random, frames: Frames, session: Session) -> Frames:
    start = frames.index(DELIMITER) + 1
    changed = list(frames)
    i, j = rng.randrange(start, len(frames)), rng.randrange(start + 1, len(frames))
    action = rng.choice(("drop", "duplicate", "swap"))
    if action == "drop":
        del changed[i]
    elif action == "duplicate":
        changed.insert(i, changed[i])
    elif changed[i] != changed[j]:
        changed[i], changed[j] = changed[j], changed[i]
    else:
        changed.append(b"x")
    return changed


def _garbage(rng: random.Random, frames: Frames, session: Session) -> Frames:
    garbage = [rng.randbytes(rng.randint(0, 64)) for _ in range(rng.randint(0, 12))]
    if garbage and rng.random() < 0.5:
        garbage.insert(rng.randrange(len(garbage)), DELIMITER)
    return garbage


def _foreign_key(rng: random.Random, frames: Frames, session: Session) -> Frames:
    return _resign(Session(rng.randbytes(32)), frames)


# Structural mutations signed with the right key: the later checks must catch them.


def _drop_required_content_field(rng: random.Random, frames: Frames, session: Session) -> Frames:
    msg_type = _json_at(frames, 1)["msg_type"]
    content = _json_at(frames, 4)
    required = [
        item.name
        for item in dataclasses.fields(type(parse_content(msg_type, content)))
        if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
    ]
    if "status" in content:
        required.append("status")
    if not required:
        return _resign(session, _replace_json(frames, 4, rng.choice([[], "x", 1, None])))
    del content[rng.choice(required)]
    return _resign(session, _replace_json(frames, 4, content))


def _field_of_wrong_kind(rng: random.Random, frames: Frames, session: Session) -> Frames:
    content = _json_at(frames, 4)
    if not content:
        return _resign(session, _replace_json(frames, 4, [content]))
    content[rng.choice(sorted(content))] = [{"bogus": rng.randint(0, 9)}]  # wrong for any field
    return _resign(session, _replace_json(frames, 4, content))


def _break_header(rng: random.Random, frames: Frames, session: Session) -> Frames:
    header = _json_at(frames, 1)
    choice = rng.randrange(5)
    if choice == 0:
        del header[rng.choice(sorted(header))]
    elif choice == 1:
        header[rng.choice(sorted(header))] = rng.choice([None, 7, [], {}])
    elif choice == 2:
        header["msg_type"] = "x_" + rng.randbytes(4).hex()
    elif choice == 3:
        header["version"] = f"{rng.randint(2, 99)}.{rng.randint(0, 9)}"
    else:
        header["date"] = rng.choice(["yesterday", "2026-13-01T00:00:00Z", "2000-01-01T00:00:00Z"])
    return _resign(session, _replace_json(frames, 1, header))


def _not_an_object(rng: random.Random, frames: Frames, session: Session) -> Frames:
    offset = rng.randrange(1, 5)
    return _resign(session, _replace_json(frames, offset, rng.choice([[], "s", 3, None, True])))


MUTATIONS: tuple[Callable[[random.Random, Frames, Session], Frames], ...] = (
    _flip_bits,
    _truncate_or_extend,
    _drop_duplicate_or_swap,
    _garbage,
    _foreign_key,
    _drop_required_content_field,
    _field_of_wrong_kind,
    _break_header,
    _not_an_object,
)


def test_no_random_malformed_message_is_accepted(
    message_examples: list[tuple[str, dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="xdub.protocol.signing")  # 10k rejection warnings
    rng = random.Random(SEED)
    sender, receiver = Session(KEY), Session(KEY)
    valid = [sender.serialize(msg_type, content) for msg_type, content in message_examples]
    for frames in valid:  # each is accepted once; an unchanged copy would then be a replay
        receiver.deserialize(frames)
    started = time.perf_counter()
    codes: dict[str, int] = {}
    for case in range(NUM_CASES):
        mutate = MUTATIONS[case % len(MUTATIONS)]
        frames = mutate(rng, rng.choice(valid), sender)
        with pytest.raises(ProtocolError) as caught:
            receiver.deserialize(frames)
        codes[caught.value.code] = codes.get(caught.value.code, 0) + 1
    elapsed_s = time.perf_counter() - started
    assert {"bad_signature", "malformed", "bad_content", "unknown_type"} <= set(codes)
    assert {"unsupported_version", "stale"} <= set(codes)
    assert elapsed_s < 30.0, f"{NUM_CASES} cases took {elapsed_s:.1f} s"
