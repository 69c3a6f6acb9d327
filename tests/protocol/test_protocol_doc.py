"""docs/protocol.md is read by the tests: every JSON example round-trips through the code."""

from __future__ import annotations

import json
import re
from typing import Any

from xdub.protocol import MESSAGE_TYPES, TRANSITIONS, ConnectionInfo, ErrorCode, JobState
from xdub.protocol.messages import ErrorReply, parse_content
from xdub.protocol.signing import Header

NON_MESSAGE_CLASSES: dict[str, Any] = {"connection_file": ConnectionInfo, "header": Header}


def _table_after(doc_text: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped of backticks) of the first table after ``heading``."""
    rows = []
    for line in doc_text.split(heading, 1)[1].splitlines():
        if line.startswith("|"):
            rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # drop the head and the --- row


def test_every_json_block_is_tagged_with_a_known_type(
    doc_text: str, doc_examples: list[tuple[str, str]]
) -> None:
    untagged = re.findall(r"^```json\s*$", doc_text, re.MULTILINE)
    assert not untagged, "a ```json block needs a tag: its msg_type or a NON_MESSAGE_CLASSES name"
    tags = {tag for tag, _ in doc_examples}
    assert not tags - set(MESSAGE_TYPES) - set(NON_MESSAGE_CLASSES)


def test_example_round_trips_through_the_code(doc_example: tuple[str, str]) -> None:
    tag, body = doc_example
    obj = json.loads(body)
    if tag in NON_MESSAGE_CLASSES:
        assert NON_MESSAGE_CLASSES[tag].from_json(obj).to_json() == obj
        return
    content = parse_content(tag, obj)
    assert content.to_json() == obj
    assert parse_content(tag, json.loads(json.dumps(content.to_json()))) == content


def test_every_message_type_has_an_example_and_the_error_reply_too(
    message_examples: list[tuple[str, dict[str, Any]]],
) -> None:
    assert {msg_type for msg_type, _ in message_examples} == set(MESSAGE_TYPES)
    kinds = {type(parse_content(msg_type, content)) for msg_type, content in message_examples}
    assert ErrorReply in kinds


def test_error_code_table_lists_exactly_the_enum(doc_text: str) -> None:
    documented = [row[0] for row in _table_after(doc_text, "### Error codes")]
    assert sorted(documented) == sorted(code.value for code in ErrorCode)


def test_job_state_table_is_the_transition_table(doc_text: str) -> None:
    documented = {}
    for state, allowed in _table_after(doc_text, "### Job states"):
        targets = {JobState(name.strip("` ")) for name in allowed.split(",") if name.strip()}
        documented[JobState(state)] = frozenset(targets)
    assert documented == TRANSITIONS
