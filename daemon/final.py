"""``make_final``: a done draft job's final take, queued as a new job that skips face tracking.

The new job has the draft's OTIO (clip and dialogue), options with the final preset and the
draft's seed, and, copied into its folder, the draft's crop track (``crop_track.npz``) and
audio features (``audio-features/``): the worker finds them there and neither tracks the face
nor encodes the audio again.
"""

from __future__ import annotations

import dataclasses
import shutil
import uuid

from xdub.errors import JobError
from xdub.face.track_store import TRACK_FILE
from xdub.protocol.records import JobState, Preset
from xdub_daemon.job_inputs import AUDIO_CACHE_DIR
from xdub_daemon.jobs import Job
from xdub_daemon.store import JobStore


def make_final(store: JobStore, draft_id: str, *, client: str) -> Job:
    """Queue the final job of the done draft ``draft_id``; ``bad_state`` otherwise."""
    draft = store.get(draft_id)
    if draft.state is not JobState.DONE or draft.options.preset is not Preset.DRAFT:
        what = "a draft" if draft.options.preset is Preset.DRAFT else "not a draft"
        raise JobError(
            f"job {draft_id} is {what} and {draft.state.value}: "
            "only a done draft can be made final",
            code="bad_state",
            hint="wait until the draft is done, or submit the clip with the final preset",
        )
    job_id = uuid.uuid4().hex
    draft_dir, job_dir = store.job_dir(draft_id), store.job_dir(job_id)
    if (draft_dir / TRACK_FILE).is_file():
        shutil.copy2(draft_dir / TRACK_FILE, job_dir / TRACK_FILE)
    if (draft_dir / AUDIO_CACHE_DIR).is_dir():
        shutil.copytree(draft_dir / AUDIO_CACHE_DIR, job_dir / AUDIO_CACHE_DIR)
    return store.add(
        job_id,
        name=draft.name,
        otio=draft.otio,
        options=dataclasses.replace(draft.options, preset=Preset.FINAL),
        priority=draft.priority,
        client=client,
        host=draft.host,
        clip=draft.clip,
        warnings=draft.warnings,
    )
