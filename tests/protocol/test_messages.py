"""Content schemas: validation with bad_content, job states, versions, error codes."""

from __future__ import annotations

from typing import Any

import pytest

import xdub.errors
from xdub.errors import JobError, MediaError, ModelError, ProtocolError, XdubError
from xdub.protocol import TRANSITIONS, ErrorCode, JobState, Progress, Stage
from xdub.protocol.messages import (
    MESSAGE_TYPES,
    ErrorReply,
    JobStateEvent,
    Models,
    Settings,
    SubmitReply,
    parse_content,
)
from xdub.protocol.records import (
    DubOptions,
    ErrorInfo,
    JobInfo,
    ModelAction,
    SettingsAction,
)
from xdub.protocol.schema import (
    Event,
    Reply,
    Request,
    format_utc,
    negotiate_version,
    parse_utc,
)

_STAMP = "2026-03-14T09:26:53Z"


def _bad_content(build: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ProtocolError) as caught:
        build(*args, **kwargs)
    assert caught.value.code == "bad_content"
    return str(caught.value)


def _progress(**changes: Any) -> Progress:
    values = dict(stage="denoise", clip=1, num_clips=3, step=5, num_steps=30, fraction=0.2)
    return Progress(**{**values, **changes})


def test_progress_converts_json_types_and_checks_ranges() -> None:
    progress = _progress(eta_s=12)
    assert progress.stage is Stage.DENOISE and progress.eta_s == 12.0
    assert isinstance(progress.eta_s, float)
    for changes in ({"clip": 4}, {"step": -1}, {"fraction": 1.5}, {"eta_s": -1.0}):
        _bad_content(_progress, **changes)
    assert "Progress.clip" in _bad_content(_progress, clip=True)  # a bool is not an int
    assert "Progress.stage" in _bad_content(_progress, stage="dreaming")
    _bad_content(_progress, fraction=float("nan"))


def test_job_options_check_values() -> None:
    assert DubOptions().to_json()["codec"] == "prores_hq"
    assert DubOptions(speaker="point", speaker_xy=[0.5, 0.25]).speaker_xy == (0.5, 0.25)
    _bad_content(DubOptions, speaker="point")
    _bad_content(DubOptions, speaker_xy=[0.5, 0.5])
    _bad_content(DubOptions, speaker="point", speaker_xy=[1.5, 0.5])
    _bad_content(DubOptions, num_steps=0)
    _bad_content(DubOptions, codec="mpeg1")
    _bad_content(DubOptions, output_dir="relative/dir")
    _bad_content(DubOptions, seed=-3)


def test_requests_check_their_fields() -> None:
    _bad_content(Models, ModelAction.DELETE)  # delete needs names
    Models(ModelAction.DOWNLOAD)  # empty names: what dubbing needs (1.2)
    Models(ModelAction.VERIFY)  # empty names: every model
    _bad_content(Models, ModelAction.LIST, ("bad name!",))
    _bad_content(Settings, SettingsAction.SET, {"nested": {"a": 1}})
    _bad_content(Settings, SettingsAction.GET, {"models_dir": "/x"})
    _bad_content(SubmitReply, "job", JobState.QUEUED, -1)


def test_unknown_keys_are_ignored_but_missing_ones_are_not() -> None:
    reply = {"status": "ok", "job_id": "j", "state": "queued", "queue_position": 0}
    assert parse_content("submit_reply", {**reply, "added_in_1_1": True}) == SubmitReply(
        "j", JobState.QUEUED, 0
    )
    del reply["queue_position"]
    assert "queue_position" in _bad_content(parse_content, "submit_reply", reply)
    _bad_content(parse_content, "submit_reply", {**reply, "status": "maybe"})
    _bad_content(parse_content, "submit_reply", ["not", "an", "object"])


def test_job_info_host_round_trips_and_is_optional() -> None:
    info = JobInfo("j", "Scene 1", JobState.QUEUED, _STAMP, _STAMP, DubOptions(), host="resolve")
    assert JobInfo.from_json(info.to_json()) == info
    without_host = {key: value for key, value in info.to_json().items() if key != "host"}
    assert JobInfo.from_json(without_host).host is None  # from a daemon that does not say
    assert _bad_content(JobInfo.from_json, {**info.to_json(), "host": 3})


def test_queue_paused_travels_as_a_boolean_setting() -> None:
    request = Settings(SettingsAction.SET, {"queue_paused": True})
    assert parse_content("settings", request.to_json()) == request


def test_unknown_message_type() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_content("frobnicate", {})
    assert caught.value.code == "unknown_type"


def test_every_registered_type_is_a_request_reply_or_event_and_replies_pair_up() -> None:
    for msg_type, cls in MESSAGE_TYPES.items():
        assert cls.MSG_TYPE == msg_type
        assert issubclass(cls, (Request, Reply, Event))
        if issubclass(cls, Request):
            assert issubclass(MESSAGE_TYPES[msg_type + "_reply"], Reply)
        if issubclass(cls, Reply):
            assert issubclass(MESSAGE_TYPES[msg_type.removesuffix("_reply")], Request)


def test_job_state_transitions() -> None:
    assert JobState.QUEUED.can_become(JobState.RUNNING)
    assert not JobState.DONE.can_become(JobState.QUEUED)
    assert JobState.FAILED.can_become(JobState.QUEUED)  # retry
    assert {state for state in JobState if state.is_terminal} == {
        JobState.DONE,
        JobState.FAILED,
        JobState.CANCELLED,
    }
    assert set(TRANSITIONS) == set(JobState)
    for state in JobState:
        if state.is_terminal:  # only a retry leaves a terminal state
            assert TRANSITIONS[state] <= {JobState.QUEUED}
    _bad_content(JobStateEvent, "j", JobState.RUNNING, previous_state=JobState.DONE)
    _bad_content(JobStateEvent, "j", JobState.FAILED, previous_state=JobState.RUNNING)  # no error


def test_version_negotiation() -> None:
    assert negotiate_version("1.0", "1.3") == "1.0"
    assert negotiate_version("1.4", "1.3") == "1.3"
    for client in ("2.0", "1", "1.0.0", "x"):
        with pytest.raises(ProtocolError) as caught:
            negotiate_version(client, "1.3")
        assert caught.value.code == "unsupported_version"


def test_utc_timestamps() -> None:
    moment = parse_utc("2026-03-14T09:26:53.5Z")
    assert moment.microsecond == 500_000 and moment.utcoffset() is not None
    assert parse_utc(format_utc(moment)) == moment
    assert parse_utc("2026-03-14T09:26:53+00:00") == parse_utc("2026-03-14T09:26:53Z")
    for text in ("2026-03-14T09:26:53", "2026-03-14T09:26:53+01:00", "2026-02-30T00:00:00Z"):
        with pytest.raises(ValueError):
            parse_utc(text)


def test_the_error_tree_codes_are_protocol_codes() -> None:
    for cls in (xdub.errors.XdubError, MediaError, ModelError, ProtocolError, JobError):
        ErrorCode(cls.code)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("no_face", MediaError),
        ("model_missing", ModelError),
        ("bad_state", JobError),
        ("stale", ProtocolError),
        ("internal", XdubError),
        ("some_newer_code", XdubError),  # a code of a newer peer
    ],
)
def test_error_replies_become_exceptions_of_the_tree(code: str, cls: type) -> None:
    error = ErrorReply(ErrorInfo(code=code, message="what", hint="do this")).to_exception()
    assert type(error) is cls and error.code == code and error.hint == "do this"
    assert ErrorReply.from_exception(error).error == ErrorInfo(code, "what", "do this")
