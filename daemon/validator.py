"""Validating submitted jobs in a child process, off the server loop and within a time limit.

A submit's OTIO goes through opentimelineio and its media through FFmpeg: C code that holds the
GIL (a thread would still freeze the loop), may take long on a hostile input, or crash. So the
server hands each new job to ``SubmitValidator``: one spawned child validates the jobs one at a
time, its pipe is polled by the server loop like the worker's, and a job that takes longer
than ``timeout_s`` or crashes the child is refused with ``bad_job`` (the child is replaced).
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from xdub.protocol.errors import ErrorCode
from xdub.protocol.records import DubOptions, ErrorInfo
from xdub_daemon.wire import WorkerPipe

log = logging.getLogger(__name__)

VALIDATE_TIMEOUT_S = 20.0
"""Longest a job may take to validate (a real one takes well under a second: one OTIO parse
and two media probes)."""
STOP_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class ValidatedJob:
    """What the store records of a valid job."""

    name: str
    host: str
    clip: str
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class ValidationRequest:
    """One job to validate: its OTIO, its options and the folder its take will go to."""

    otio: str
    options: DubOptions
    take_folder: Path


ValidationResult = ValidatedJob | ErrorInfo
ValidatorPipe = WorkerPipe[ValidationRequest, ValidationResult]
"""The server's end: sends requests, receives results."""


def validate_in_child(request: ValidationRequest) -> ValidationResult:
    """Validate one job (runs in the child): the job, or the error that refuses it."""
    from xdub.errors import XdubError
    from xdub_daemon.submit import validate_job

    try:
        job = validate_job(request.otio, request.options, request.take_folder)
    except XdubError as error:
        return ErrorInfo(error.code, error.message, error.hint)
    except Exception as error:  # a bug, not the user's fault: say so
        log.exception("validating a job failed")
        return ErrorInfo(
            ErrorCode.INTERNAL.value,
            f"validating the job failed: {type(error).__name__}: {error}",
            "this is a bug in xdub; the daemon's log has the traceback",
        )
    return ValidatedJob(job.name, job.host, job.clip_name, job.warnings)


def validator_main(conn: Connection) -> None:
    """The child: answer each ``ValidationRequest`` with a ``ValidationResult`` until the pipe
    closes."""
    import xdub_daemon.submit  # noqa: F401  (OTIO and PyAV load now, not in the first submit)

    pipe: WorkerPipe[ValidationResult, ValidationRequest] = WorkerPipe(conn, (ValidationRequest,))
    while True:
        try:
            request = pipe.receive()
        except (EOFError, OSError):
            return
        pipe.send(validate_in_child(request))


class SubmitValidator:
    """Jobs queued by ``validate``, answered by ``receive`` as ``(token, result)`` pairs in the
    order they were queued; ``fileno`` is the descriptor the server polls."""

    def __init__(self, timeout_s: float = VALIDATE_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._pipe: ValidatorPipe | None = None
        self._queue: deque[tuple[int, ValidationRequest]] = deque()
        self._current: int | None = None
        self._deadline = 0.0

    def start(self) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=validator_main, args=(child,), name="xdub-validator", daemon=True
        )
        process.start()
        child.close()
        self._process = process
        self._pipe = WorkerPipe(parent, (ValidatedJob, ErrorInfo))
        log.info("started the job validator (pid %s)", process.pid)

    def stop(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
        if self._process is not None:
            self._process.join(STOP_TIMEOUT_S)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        self._process = self._pipe = None

    def fileno(self) -> int | None:
        return self._pipe.fileno() if self._pipe is not None else None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def validate(self, token: int, otio: str, options: DubOptions, take_folder: Path) -> None:
        """Queue a job whose take goes to ``take_folder``; its result comes out of
        ``receive`` with ``token``."""
        self._queue.append((token, ValidationRequest(otio, options, take_folder)))
        self._send_next()

    def receive(self) -> list[tuple[int, ValidationResult]]:
        """The results that are ready, and refusals of jobs past their time or that crashed
        the child."""
        results: list[tuple[int, ValidationResult]] = []
        while self._current is not None:
            token = self._current
            result = self._poll()
            if result is None:
                break
            results.append((token, result))
            self._current = None
            self._send_next()
        return results

    def _poll(self) -> ValidationResult | None:
        assert self._pipe is not None
        try:
            if self._pipe.poll():
                return self._pipe.receive()
        except (EOFError, OSError):
            code = self._process.exitcode if self._process is not None else None
            return self._replaced(f"validating the job crashed the validator (exit code {code})")
        if time.monotonic() > self._deadline:
            return self._replaced(f"the job took longer than {self.timeout_s:g} s to validate")
        return None

    def _replaced(self, reason: str) -> ErrorInfo:
        log.warning("%s; the validator is replaced", reason)
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        self.stop()
        self.start()
        return ErrorInfo(
            ErrorCode.BAD_JOB.value, reason, "check the job's OTIO and media; it was refused"
        )

    def _send_next(self) -> None:
        if self._current is not None or not self._queue:
            return
        if self._pipe is None:
            self.start()
        assert self._pipe is not None
        token, request = self._queue.popleft()
        self._current, self._deadline = token, time.monotonic() + self.timeout_s
        try:
            self._pipe.send(request)
        except OSError:  # the idle child died; the next poll replaces it and refuses the job
            log.warning("the job validator is gone")
