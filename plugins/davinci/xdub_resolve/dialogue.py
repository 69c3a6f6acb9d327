"""Which audio is the new dialogue: selected clips, a "Dub"/"ADR" track, or the user's choice.

Stdlib-only. Asking needs a script GUI, so free Resolve (>= 19.1) gets a message saying how to
name the track instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xdub_resolve.host import HostError, ResolveTimeline
from xdub_resolve.modal import ask_window
from xdub_resolve.progress import WindowView


def choose_dialogue(
    host: ResolveTimeline, video: Any, view: Any, write: Callable[[str], None]
) -> int | str:
    """The new dialogue of the ``video`` item: an audio track index, or an absolute file path.
    The picture's own (linked) sound is never it."""
    track = host.selected_audio_track(video) or host.default_dialogue_track()
    if track is not None:
        write(f"XDub: dialogue from audio track {track} ({dict(host.audio_tracks())[track]})")
        return track
    if isinstance(view, WindowView):
        tracks = host.audio_tracks()
        own = host.own_sound_tracks(video)
        first = next((n for n, (index, _) in enumerate(tracks) if index not in own), 0)
        choice = ask(view.ui, view.dispatcher, tracks, first)
        if choice is not None:
            return choice
        raise HostError("no dialogue chosen")
    raise HostError(
        "which audio is the new dialogue? Name its audio track 'Dub' (or 'ADR'), or select "
        "its clips together with the video clip (Resolve 21.0.4+), then run XDub again"
    )


def ask(
    ui: Any, dispatcher: Any, tracks: list[tuple[int, str]], first: int = 0
) -> int | str | None:
    """A small window: pick an audio track (``tracks[first]`` preselected), or type a file
    path; ``None`` if cancelled."""

    def fill(items: dict[str, Any]) -> None:
        for index, name in tracks:
            items["track"].AddItem(f"A{index}: {name}")
        items["track"].CurrentIndex = first

    rows = [
        ui.Label({"Text": "Audio track with the new dialogue:"}),
        ui.ComboBox({"ID": "track"}),
        ui.LineEdit({"ID": "path", "PlaceholderText": "or the absolute path of a file"}),
    ]
    items = ask_window(ui, dispatcher, "xdub_audio", "XDub - new dialogue", rows, fill)
    if items is None:
        return None
    path = str(items["path"].Text or "").strip()
    chosen = int(items["track"].CurrentIndex)
    if path:
        return path
    return tracks[chosen][0] if 0 <= chosen < len(tracks) else None
