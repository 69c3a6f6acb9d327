"""``DaemonConfig``: where the daemon keeps things, how it listens, and what it keeps."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from xdub.paths import data_dir, default_log_dir, default_model_dir
from xdub.protocol.connection import default_connection_path
from xdub.protocol.records import VramPolicy
from xdub.sample.segments import MIN_SEGMENT_WINDOWS

GPU_RESOURCE = "GPU"
"""The resource a farm actor asks for by default (``num_gpus=1``)."""
RESOURCE_ENV = "XDUB_RAY_RESOURCE"
"""Another resource per actor (``--ray-resource``), e.g. ``xdub_gpu`` for a CPU test cluster."""


@dataclass(frozen=True)
class FarmOptions:
    """The Ray backend (docs/farm.md). ``address``: ``auto`` (the cluster ``ray start`` runs
    here), ``HOST:6379`` or ``ray://HOST:10001``; ``resource``: what one actor needs (``GPU``:
    one GPU); ``num_actors``: 0 is one per unit of the resource in the cluster;
    ``max_segments``: a long take's segments on several actors at once, 0 is one per actor,
    1 never splits; ``min_segment_windows``: a segment's windows at least
    (``xdub_daemon.farm_split``)."""

    address: str = "auto"
    resource: str = field(default_factory=lambda: os.environ.get(RESOURCE_ENV, GPU_RESOURCE))
    num_actors: int = 0
    max_segments: int = 0
    min_segment_windows: int = MIN_SEGMENT_WINDOWS


@dataclass(frozen=True)
class Retention:
    """Finished jobs older than ``max_age_days`` or beyond the newest ``max_jobs`` are pruned
    with their folders (a take written to a job's ``output_dir`` is never deleted)."""

    max_age_days: float = 30.0
    max_jobs: int = 500
    upload_max_age_days: float = 7.0
    """An upload no queued or running job uses is removed this long after its last use."""
    partial_upload_max_age_h: float = 24.0
    """An unfinished upload untouched this long is removed (its client gave up)."""


@dataclass(frozen=True)
class DaemonConfig:
    """Everything a daemon run needs. ``transport``: ``"tcp"`` (loopback) or ``"ipc"``;
    ``ip`` other than loopback needs ``allow_lan``. ``device``, ``precision``, ``vram_policy``
    and ``face_backend`` go to ``DubPipeline``. Settings stored with ``settings set`` replace
    ``model_dir``, ``model_source``, ``allow_lan`` and ``vram_policy`` at start, except those
    in ``pinned`` (given on the command line)."""

    data_dir: Path = field(default_factory=data_dir)
    model_dir: Path = field(default_factory=default_model_dir)
    model_source: str = "hub"
    """Where ``models download`` fetches from: ``"hub"`` or a local folder laid out like it."""
    model_max_bps: float | None = None
    """A cap on the model download rate in bytes per second (None: none)."""
    log_dir: Path = field(default_factory=default_log_dir)
    connection_file: Path = field(default_factory=default_connection_path)
    transport: str = "tcp"
    ip: str = "127.0.0.1"
    port: int = 0
    """tcp: requests on ``port``, events on ``port + 1``; 0: ports the OS picks."""
    remote: bool = False
    """``--listen``: serve other machines; requests are CURVE-encrypted too and the keys
    persist in ``identity_path`` so pairing codes survive restarts."""
    allow_lan: bool = False
    device: str = "auto"
    precision: str = "auto"
    vram_policy: VramPolicy = VramPolicy.RESIDENT
    face_backend: str = "builtin"
    """Landmark networks: ``"builtin"`` or ``"openmmlab"`` (``xdub.face.backends``)."""
    compile: str = "auto"
    """Regional torch.compile of the DiT: ``auto`` (CUDA only), ``on`` or ``off``."""
    cuda_graphs: bool = False
    backend: str = "local"
    """Where jobs run: ``local`` (a worker process) or ``ray`` (``farm``'s actors)."""
    farm: FarmOptions = field(default_factory=FarmOptions)
    shared_dir: Path | None = None
    """Job folders (checkpoints, dialogue, takes) in a folder every Ray node mounts."""
    pinned: frozenset[str] = frozenset()
    retention: Retention = field(default_factory=Retention)
    health_interval_s: float = 10.0
    max_upload_bytes: int = 64 * 2**30
    """The largest file a remote client may upload (``upload_too_large`` above it)."""

    @property
    def store_path(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @property
    def jobs_dir(self) -> Path:
        """Per-job folders: the dialogue WAV, checkpoints and (without output_dir) the take;
        under ``shared_dir`` when one is given, so every farm actor reads them."""
        return (self.shared_dir or self.data_dir) / "jobs"

    @property
    def uploads_dir(self) -> Path:
        """Media remote clients uploaded, named by content hash (``xdub_daemon.uploads``);
        under ``shared_dir`` when one is given, so every farm actor reads them."""
        return (self.shared_dir or self.data_dir) / "uploads"

    @property
    def lock_path(self) -> Path:
        """The one-daemon-per-user lock, beside the connection file."""
        return self.connection_file.with_name(self.connection_file.name + ".lock")

    @property
    def identity_path(self) -> Path:
        """The signing key and CURVE pair of a daemon for remote clients (0600)."""
        return self.data_dir / "remote-identity.json"

    @property
    def log_path(self) -> Path:
        return self.log_dir / "daemon.log"
