"""Clip-window arithmetic: 77-frame clips, 5-frame motion overlap, 72-frame stride, at 25 fps.

Frame i is time i/25 s. The audio fixes the length: it is rounded up to a whole number of
strides, and the source video is re-indexed ping-pong to that length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xdub.errors import MediaError

AUDIO_SAMPLE_RATE_HZ = 16000
VIDEO_FPS = 25
VAE_TEMPORAL_FACTOR = 4
CLIP_NUM_FRAMES = 77
MOTION_NUM_FRAMES = 5


def audio_frame_count(num_samples_16k: int) -> int:
    """Video frames covered by the audio: ``ceil(n/16000*25)`` in Python float arithmetic.

    Evaluated left to right like the reference, so 4480 samples give 7.000000000000001 -> 8.
    """
    return int(math.ceil(num_samples_16k / AUDIO_SAMPLE_RATE_HZ * VIDEO_FPS))


def num_latent_frames(num_frames: int) -> int:
    """Latent frames of a causal 1 + 4k clip: ``(num_frames - 1)//4 + 1`` (77 -> 20, 5 -> 2)."""
    return (num_frames - 1) // VAE_TEMPORAL_FACTOR + 1


def pingpong_indices(n_video: int, target_length: int) -> list[int]:
    """Source frame index for each of ``target_length`` output frames.

    Truncates a longer video; plays a shorter one forward-backward with period 2(n-1).
    """
    if n_video < 1:
        raise MediaError("the video has no frames to dub", code="no_frames")
    if target_length <= n_video:
        return list(range(target_length))
    if n_video == 1:
        return [0] * target_length
    period = 2 * (n_video - 1)
    return [r if r < n_video else period - r for r in (i % period for i in range(target_length))]


@dataclass(frozen=True)
class WindowPlan:
    """The sliding-window layout; the defaults are the released model's 77-frame / 5-frame one."""

    clip_num_frames: int = CLIP_NUM_FRAMES
    motion_num_frames: int = MOTION_NUM_FRAMES

    @property
    def stride(self) -> int:
        """New frames per clip after the first: 72."""
        return self.clip_num_frames - self.motion_num_frames

    @property
    def clip_latent_frames(self) -> int:
        """Latent frames per clip: 20."""
        return num_latent_frames(self.clip_num_frames)

    @property
    def motion_latent_frames(self) -> int:
        """Latent frames of the motion overlap (re-encoded motion frames): 2."""
        return num_latent_frames(self.motion_num_frames)

    def total_length(self, num_frames: int) -> int:
        """Frames generated for ``num_frames`` of audio: 77, or 77 + ceil((L-77)/72)*72."""
        if num_frames <= self.clip_num_frames:
            return self.clip_num_frames
        extra_strides = math.ceil((num_frames - self.clip_num_frames) / self.stride)
        return self.clip_num_frames + int(extra_strides) * self.stride

    def num_clips(self, total_length: int) -> int:
        """Clips covering ``total_length`` frames: ``1 + max(0, total - 77)//72``."""
        return 1 + max(0, total_length - self.clip_num_frames) // self.stride

    def clip_starts(self, total_length: int) -> list[int]:
        """First video frame of each clip: 0, 72, 144, ..."""
        return [k * self.stride for k in range(self.num_clips(total_length))]

    def stitched_latent_frames(self, num_clips: int) -> int:
        """Latent frames after stitching: ``20 + 18*(n - 1)``, decoding to ``77 + 72*(n - 1)``."""
        new_per_clip = self.clip_latent_frames - self.motion_latent_frames
        return self.clip_latent_frames + new_per_clip * (num_clips - 1)
