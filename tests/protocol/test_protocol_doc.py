"""docs/protocol.md is read by the tests: every JSON example round-trips through the code."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

from xdub.protocol import (
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    TRANSITIONS,
    ConnectionInfo,
    ErrorCode,
    JobState,
)
from xdub.protocol.messages import ErrorReply, parse_content
from xdub.protocol.records import JobInfo
from xdub.protocol.schema import parse_version
from xdub.protocol.signing import Header

DocTable = Callable[[str], list[list[str]]]

NON_MESSAGE_CLASSES: dict[str, Any] = {"connection_file": ConnectionInfo, "header": Header}


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


def test_error_code_table_lists_exactly_the_enum(doc_table: DocTable) -> None:
    documented = [row[0] for row in doc_table("### Error codes")]
    assert sorted(documented) == sorted(code.value for code in ErrorCode)


def test_job_state_table_is_the_transition_table(doc_table: DocTable) -> None:
    documented = {}
    for state, allowed in doc_table("### Job states"):
        targets = {JobState(name.strip("` ")) for name in allowed.split(",") if name.strip()}
        documented[JobState(state)] = frozenset(targets)
    assert documented == TRANSITIONS


def test_job_info_table_lists_exactly_the_fields_each_with_its_version(
    doc_table: DocTable,
) -> None:
    documented = [
        (name.strip("` "), since)
        for names, _, since in doc_table("### Job info")
        for name in names.split(",")
    ]
    assert sorted(name for name, _ in documented) == sorted(
        item.name for item in dataclasses.fields(JobInfo)
    )
    for name, since in documented:
        assert parse_version(since) <= parse_version(PROTOCOL_VERSION), (name, since)
        if since != "1.0":  # added by a minor version: optional, so older peers still talk
            field = next(item for item in dataclasses.fields(JobInfo) if item.name == name)
            assert field.default is None, f"JobInfo.{name} (since {since}) must default to None"


def test_the_current_version_is_stated_and_has_a_changelog_entry(doc_text: str) -> None:
    assert f"The current version is **{PROTOCOL_VERSION}**" in doc_text
    changelog = doc_text.split("## Changelog", 1)[1]
    assert f"- **{PROTOCOL_VERSION}**:" in changelog
