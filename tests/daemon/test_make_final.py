"""``make_final``: a done draft becomes a new final job with the draft's seed and crop track,
run without face tracking; anything but a done draft is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from xdub.errors import XdubError
from xdub.face.track_store import TRACK_FILE
from xdub.job.result import parse_result
from xdub.protocol.records import JobState, Preset
from xdub_daemon.job_inputs import AUDIO_CACHE_DIR


def test_a_done_draft_is_made_final_without_tracking_the_face_again(
    running_daemon: Any, short_clip: Any, fast_options: Any
) -> None:
    jobs_dir = Path(running_daemon.data_dir) / "jobs"
    with running_daemon.client() as client:
        draft_id = client.submit(short_clip.otio, fast_options(preset=Preset.DRAFT)).job_id
        draft = client.wait(draft_id, 300)
        assert draft.state is JobState.DONE
        assert (jobs_dir / draft_id / TRACK_FILE).is_file()
        assert any((jobs_dir / draft_id / AUDIO_CACHE_DIR).iterdir())
        final_id = client.make_final(draft_id)
        assert final_id != draft_id
        final = client.wait(final_id, 300)
    assert final.state is JobState.DONE, final.error
    assert final.options.preset is Preset.FINAL and final.options.seed == draft.options.seed
    assert final.options.codec is draft.options.codec and final.name == draft.name
    worker_log = running_daemon.log_text("worker.log")
    assert f"[job {final_id}] reusing the crop track of the draft" in worker_log
    saved = np.load(jobs_dir / final_id / TRACK_FILE)
    assert np.array_equal(saved["boxes"], np.load(jobs_dir / draft_id / TRACK_FILE)["boxes"])
    assert parse_result(final.result_otio).take_path != parse_result(draft.result_otio).take_path


def test_only_a_done_draft_can_be_made_final(
    running_daemon: Any, short_clip: Any, fast_options: Any
) -> None:
    with running_daemon.client() as client:
        job = client.wait(client.submit(short_clip.otio, fast_options()).job_id, 300)
        assert job.state is JobState.DONE and job.options.preset is Preset.FINAL
        with pytest.raises(XdubError) as refused:
            client.make_final(job.job_id)
    assert refused.value.code == "bad_state"
