"""The one options record: defaults, validation, old job JSON, and the pipeline's reading of it."""

from __future__ import annotations

import pytest

from xdub.errors import ProtocolError
from xdub.face.speaker import SpeakerRule
from xdub.job.options import DEFAULT_SEED, noise_seed, speaker_choice, take_settings
from xdub.media.codecs import VIDEO_CODECS
from xdub.protocol.records import Codec, DubOptions, MissingFace, Speaker

JOB_OPTIONS_1_1 = {
    "codec": "dnxhr_hq",
    "num_steps": 12,
    "ref_cfg_scale": 1.5,
    "audio_cfg_scale": 8.0,
    "seed": 99,
    "speaker": "point",
    "speaker_xy": [0.25, 0.5],
    "output_dir": None,
}
"""A job's options as a protocol 1.1 client sent them and a 1.1 daemon stored them."""


def test_every_protocol_codec_is_a_take_codec() -> None:
    assert {codec.value for codec in Codec} == set(VIDEO_CODECS)


def test_options_stored_by_protocol_1_1_parse_with_the_new_fields_at_their_defaults() -> None:
    options = DubOptions.from_json(JOB_OPTIONS_1_1)
    assert (options.codec, options.num_steps, options.seed) == (Codec.DNXHR_HQ, 12, 99)
    assert (options.ref_cfg_scale, options.audio_cfg_scale) == (1.5, 8.0)
    assert options.independent_noise is False and options.missing_face is MissingFace.ERROR
    assert options.crf == DubOptions().crf
    assert DubOptions.from_json(options.to_json()) == options
    assert {key: options.to_json()[key] for key in JOB_OPTIONS_1_1} == JOB_OPTIONS_1_1


def test_options_map_onto_the_pipelines_settings() -> None:
    options = DubOptions.from_json({**JOB_OPTIONS_1_1, "crf": 20})
    assert take_settings(options).codec == "dnxhr_hq" and take_settings(options).crf == 20
    speaker = speaker_choice(options, frame_size=(1920, 1080))
    assert speaker.rule is SpeakerRule.PICKED and speaker.point_xy == (480.0, 540.0)
    assert speaker_choice(DubOptions(), frame_size=(8, 8)).rule is SpeakerRule.LARGEST
    top = DubOptions(speaker=Speaker.HIGHEST_SCORE)
    assert speaker_choice(top, frame_size=(8, 8)).rule is SpeakerRule.HIGHEST_SCORE
    assert noise_seed(DubOptions(seed=7)) == 7 and noise_seed(DubOptions()) == DEFAULT_SEED


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"num_steps": 0}, "num_steps"),
        ({"ref_cfg_scale": -1.0}, "ref_cfg_scale"),
        ({"seed": -1}, "seed"),
        ({"crf": 52}, "crf"),
        ({"speaker": "point"}, "speaker_xy"),
        ({"speaker_xy": [0.5, 0.5]}, "speaker_xy"),
        ({"output_dir": "relative/dir"}, "output_dir"),
        ({"missing_face": "skip"}, "missing_face"),
        ({"independent_noise": "yes"}, "independent_noise"),
        ({"preset": "fastest"}, "preset"),
        ({"step_cache_threshold": 10.0}, "step_cache_threshold"),
        ({"guidance_reuse_period": 0}, "guidance_reuse_period"),
        ({"guidance_reuse_branch": "posi_ra"}, "guidance_reuse_branch"),
    ],
)
def test_bad_options_are_refused_with_the_field_named(fields: dict, fragment: str) -> None:
    with pytest.raises(ProtocolError, match=fragment) as caught:
        DubOptions.from_json(fields)
    assert caught.value.code == "bad_content"
