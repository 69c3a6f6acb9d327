"""The ``queue_paused`` setting on a real daemon (tiny model), and the job host in ``JobInfo``."""

from __future__ import annotations

from xdub.job.timeline import parse_job
from xdub.protocol.messages import JobStateEvent
from xdub.protocol.records import JobState

PAUSED_WATCH_S = 2.0
"""How long a paused daemon is watched for a job start: ten of its 200 ms polls."""


def test_a_paused_queue_starts_nothing_and_resumes_in_order(
    daemon_factory, short_clip, fast_options
) -> None:
    daemon = daemon_factory()
    daemon.start()
    with daemon.client("pauser") as client:
        assert client.settings()["queue_paused"] is False
        assert client.settings({"queue_paused": True})["queue_paused"] is True
        job_ids = [client.submit(short_clip.otio, fast_options()).job_id for _ in range(2)]
        started = [
            event.content.job_id
            for event in client.events(PAUSED_WATCH_S, job_ids)
            if isinstance(event.content, JobStateEvent) and event.content.state is JobState.RUNNING
        ]
        assert started == []
        listed = {job.job_id: job for job in client.list_jobs()}
        assert [listed[job_id].state for job_id in job_ids] == [JobState.QUEUED] * 2
        assert listed[job_ids[0]].host == parse_job(short_clip.otio).host
        assert client.settings({"queue_paused": False})["queue_paused"] is False
        for event in client.events(300.0, job_ids):
            content = event.content
            if isinstance(content, JobStateEvent) and content.state is JobState.RUNNING:
                started.append(content.job_id)
                if len(started) == len(job_ids):
                    break
        assert started == job_ids  # first in, first out
        assert [client.wait(job_id, 300).state for job_id in job_ids] == [JobState.DONE] * 2
