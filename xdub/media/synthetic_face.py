"""A drawn cartoon face that moves, zooms and tilts, and its exact geometry per frame.

Coordinates are continuous pixels of the upright (displayed) image: pixel (i, j) spans
``[j, j + 1) x [i, i + 1)``, so a box ``(0, 0, W, H)`` is the whole frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

SUBPIXEL_BITS = 4
"""cv2 drawing precision: coordinates in 1/16 px, so slow motion is smooth."""
HEAD_ASPECT = 0.78
"""Head half-width over half-height."""
ZOOM_AMPLITUDE = 0.15
"""Head size varies by this fraction around its mean."""
TILT_AMPLITUDE_DEG = 8.0
MOUTH_HALF_WIDTH = 0.42
"""In head half-widths."""
MOUTH_CLOSED_HALF_HEIGHT = 0.03
MOUTH_OPEN_HALF_HEIGHT = 0.22
"""In head half-heights, added at ``mouth_open = 1``."""
MOUTH_DROP = 0.5
"""Mouth centre below the head centre, in head half-heights."""


@dataclass(frozen=True)
class FaceGeometry:
    """One face in one frame; all lengths in pixels of the upright frame, angles in degrees."""

    center_xy: tuple[float, float]
    half_height_px: float
    tilt_deg: float
    """Clockwise on screen."""
    mouth_open: float
    """0 closed .. 1 wide open; follows the speech envelope for the speaking face."""

    @property
    def half_width_px(self) -> float:
        return HEAD_ASPECT * self.half_height_px

    @property
    def box_xyxy(self) -> tuple[float, float, float, float]:
        """Tight box of the head ellipse: (x1, y1, x2, y2)."""
        a, b = self.half_width_px, self.half_height_px
        tilt = math.radians(self.tilt_deg)
        half_w = math.hypot(a * math.cos(tilt), b * math.sin(tilt))
        half_h = math.hypot(a * math.sin(tilt), b * math.cos(tilt))
        cx, cy = self.center_xy
        return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)

    @property
    def area_px(self) -> float:
        return math.pi * self.half_width_px * self.half_height_px

    def point(self, along_x: float, along_y: float) -> tuple[float, float]:
        """The point at (along_x head half-widths, along_y head half-heights) from the centre."""
        tilt = math.radians(self.tilt_deg)
        dx, dy = along_x * self.half_width_px, along_y * self.half_height_px
        cx, cy = self.center_xy
        return (cx + dx * math.cos(tilt) - dy * math.sin(tilt),
                cy + dx * math.sin(tilt) + dy * math.cos(tilt))  # fmt: skip

    @property
    def mouth_center_xy(self) -> tuple[float, float]:
        return self.point(0.0, MOUTH_DROP)

    @property
    def mouth_half_height_px(self) -> float:
        opening = MOUTH_CLOSED_HALF_HEIGHT + MOUTH_OPEN_HALF_HEIGHT * self.mouth_open
        return opening * self.half_height_px

    def landmarks68(self) -> np.ndarray:
        """Ground-truth iBUG-68 face points of the drawn face: (68, 2) float32 pixels.

        Jaw 0-16 along the lower head, brows 17-26, nose 27-35, eyes 36-47 (outer corner first,
        so 39 and 42 are the inner corners), mouth 48-67 on the drawn lips; the layout the
        landmark network gives, for testing the crop track without a trained network.
        """
        points: list[tuple[float, float]] = []
        for t in range(17):
            angle = math.pi * t / 16
            points.append(self.point(-0.95 * math.cos(angle), 0.2 + 0.75 * math.sin(angle)))
        for side in (-1.0, 1.0):
            points += [self.point(side * (0.16 + 0.11 * i), -0.42) for i in range(5)][:: int(side)]
        points += [self.point(0.0, -0.3 + 0.13 * i) for i in range(4)]
        points += [self.point(-0.16 + 0.08 * i, 0.2) for i in range(5)]
        for side in (-1.0, 1.0):
            ring = [(math.cos(math.pi * k / 3), math.sin(math.pi * k / 3)) for k in range(6)]
            eye = [self.point(side * (0.38 - 0.2 * c), -0.22 + 0.11 * d) for c, d in ring]
            points += eye if side < 0 else eye[3:] + eye[:3]
        opening = self.mouth_half_height_px / self.half_height_px
        for count, width in ((12, MOUTH_HALF_WIDTH), (8, 0.8 * MOUTH_HALF_WIDTH)):
            for k in range(count):
                angle = math.pi + 2 * math.pi * k / count
                points.append(
                    self.point(width * math.cos(angle), MOUTH_DROP + opening * math.sin(angle))
                )
        return np.asarray(points, dtype=np.float32)

    def to_json(self) -> dict[str, object]:
        return {
            "box_xyxy": list(self.box_xyxy),
            "center_xy": list(self.center_xy),
            "half_height_px": self.half_height_px,
            "tilt_deg": self.tilt_deg,
            "mouth_open": self.mouth_open,
            "mouth_center_xy": list(self.mouth_center_xy),
            "mouth_half_height_px": self.mouth_half_height_px,
        }


@dataclass(frozen=True)
class FaceMotion:
    """A seeded smooth path for one face inside a home region of the frame.

    ``region_xyxy`` is in pixels; the head oscillates (Lissajous) within it, zooming and tilting.
    """

    region_xyxy: tuple[float, float, float, float]
    mean_half_height_px: float
    periods_s: tuple[float, float, float, float]
    """Of x, y, zoom and tilt."""
    phases_rad: tuple[float, float, float, float]

    @classmethod
    def seeded(
        cls, region_xyxy: tuple[float, float, float, float], mean_half_height_px: float, seed: int
    ) -> FaceMotion:
        rng = np.random.default_rng(seed)
        p = [float(value) for value in rng.uniform(1.5, 4.0, size=4)]
        q = [float(value) for value in rng.uniform(0.0, 2 * math.pi, size=4)]
        return cls(
            region_xyxy, mean_half_height_px, (p[0], p[1], p[2], p[3]), (q[0], q[1], q[2], q[3])
        )

    def at(self, time_s: float, mouth_open: float) -> FaceGeometry:
        """The face at ``time_s`` with the given mouth opening (0..1)."""
        wave = [
            math.sin(2 * math.pi * time_s / period + phase)
            for period, phase in zip(self.periods_s, self.phases_rad, strict=True)
        ]
        half_height = self.mean_half_height_px * (1.0 + ZOOM_AMPLITUDE * wave[2])
        # The largest head (zoomed, fully tilted) must stay inside the region.
        reach = self.mean_half_height_px * (1.0 + ZOOM_AMPLITUDE)
        x1, y1, x2, y2 = self.region_xyxy
        swing_x = max(0.0, (x2 - x1) / 2 - reach)
        swing_y = max(0.0, (y2 - y1) / 2 - reach)
        center = ((x1 + x2) / 2 + swing_x * wave[0], (y1 + y2) / 2 + swing_y * wave[1])
        return FaceGeometry(center, half_height, TILT_AMPLITUDE_DEG * wave[3], mouth_open)


@dataclass(frozen=True)
class FacePalette:
    """RGB colours of one cartoon face."""

    skin: tuple[int, int, int]
    outline: tuple[int, int, int]
    lips: tuple[int, int, int]
    mouth_inside: tuple[int, int, int] = (60, 10, 20)
    eye_white: tuple[int, int, int] = (245, 245, 240)
    pupil: tuple[int, int, int] = (30, 25, 20)

    @classmethod
    def seeded(cls, seed: int) -> FacePalette:
        rng = np.random.default_rng(seed)
        tone = float(rng.uniform(0.45, 1.0))
        skin = (int(235 * tone + 20), int(190 * tone + 15), int(160 * tone + 10))
        outline = (int(skin[0] * 0.55), int(skin[1] * 0.5), int(skin[2] * 0.5))
        return cls(skin=skin, outline=outline, lips=(170, 60, 70))


def textured_background(height: int, width: int, seed: int) -> np.ndarray:
    """A seeded textured backdrop: (height, width, 3) uint8 RGB of blotches, stripes and grain."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(40.0, 200.0, size=(4, 4, 3)).astype(np.float32)
    blotches = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = float(rng.uniform(0.0, math.pi))
    period_px = max(4.0, min(height, width) / float(rng.uniform(4.0, 10.0)))
    stripes = 25.0 * np.sin(
        2 * math.pi * (cols * math.cos(angle) + rows * math.sin(angle)) / period_px
    )
    grain = 12.0 * rng.standard_normal(size=(height, width, 1)).astype(np.float32)
    image = blotches + stripes[..., None] + grain
    return np.clip(image, 0.0, 255.0).astype(np.uint8)


def draw_face(image: np.ndarray, face: FaceGeometry, palette: FacePalette) -> None:
    """Draw ``face`` into ``image`` ((H, W, 3) uint8 RGB, modified in place)."""
    a, b = face.half_width_px, face.half_height_px
    tilt = face.tilt_deg
    rim_px = max(1.0, b / 14)
    _ellipse(image, face.center_xy, (a, b), tilt, palette.outline)
    _ellipse(image, face.center_xy, (a - rim_px, b - rim_px), tilt, palette.skin)
    for side in (-1.0, 1.0):
        eye = face.point(0.38 * side, -0.22)
        _ellipse(image, eye, (0.2 * a, 0.11 * b), tilt, palette.eye_white)
        _ellipse(image, eye, (0.08 * a, 0.08 * a), tilt, palette.pupil)
        brow = face.point(0.38 * side, -0.42)
        _ellipse(image, brow, (0.22 * a, 0.035 * b), tilt, palette.outline)
    _ellipse(image, face.point(0.0, 0.12), (0.09 * a, 0.12 * b), tilt, palette.outline)
    mouth_axes = (MOUTH_HALF_WIDTH * a, face.mouth_half_height_px)
    _ellipse(image, face.mouth_center_xy, mouth_axes, tilt, palette.lips)
    inner_axes = (mouth_axes[0] * 0.8, max(0.0, mouth_axes[1] - 0.04 * b))
    _ellipse(image, face.mouth_center_xy, inner_axes, tilt, palette.mouth_inside)


def _ellipse(
    image: np.ndarray,
    center_xy: tuple[float, float],
    axes_px: tuple[float, float],
    angle_deg: float,
    color: tuple[int, int, int],
) -> None:
    """A filled, antialiased cv2.ellipse in our continuous coordinates (cv2 centres pixels on
    integers)."""
    scale = 1 << SUBPIXEL_BITS
    center = (round((center_xy[0] - 0.5) * scale), round((center_xy[1] - 0.5) * scale))
    axes = (round(axes_px[0] * scale), round(axes_px[1] * scale))
    cv2.ellipse(
        image, center, axes, angle_deg, 0, 360, color, cv2.FILLED, cv2.LINE_AA, SUBPIXEL_BITS
    )
