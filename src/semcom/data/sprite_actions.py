"""The generated ``sprite-actions`` video set: the class is how one target sprite moves.

:func:`sprite_action_datasets` gives 5 000 train / 1 000 test RGB clips ``3×16×32×32`` (uint8 in
memory, :class:`~semcom.data.clips.ClipTensorDataset`) of 10 classes
(:data:`SPRITE_ACTION_CLASSES`). Each clip shows three procedurally drawn sprites over a panned,
textured background; the label is the motion of the **target** sprite, so a model has to find
the target (*where*) and follow it over the frames (*which frames*: ``bounce`` starts like a
translation, ``still`` only differs from the others over time).

Scene (``t = 0 .. 15`` is the frame, ``τ = t − 7.5``; pixel units, ``y`` down; angles in
degrees, positive = clockwise on screen):

* **Sprites.** A random shape of unit radius (a blob ``ρ < r(φ)`` with random harmonics 1..3, a
  convex polygon of 3–6 jittered half-planes cut by the unit disc, or a glyph of three joined
  thick strokes; centred on its centroid and scaled to touch the unit circle), filled with a
  two-colour texture (stripes, checker, a split in two halves or an off-centre spot; colours in
  ``[0.05, 0.75]`` per channel) that turns with it, and a 1 px outline. The **target** is the
  one with a bright near-white outline (every channel ``≥ 0.9``); the two **distractors** have a
  near-black one (``≤ 0.12``). Nothing else in a clip is that bright (background ``≤ 0.6``,
  textures ``≤ 0.75``, pixel noise σ = 0.02). Depth order is random per clip, so any sprite may
  occlude the others (the target is mostly hidden in a quarter of the frames or more in about
  6 % of the clips).
* **Pose.** Sprite *size* ``d`` is the diameter of its unit circle in pixels; the angle and the
  centre start at random. Motions (each sprite's own, the target's is the label):

  - ``right`` / ``left`` / ``up`` / ``down``: ``c(t) = m + τ·v·u``, ``v ∈ [0.6, 1.2]`` px/frame,
    ``u`` the class's direction turned by a random ``±15°``;
  - ``rotate-cw`` / ``rotate-ccw``: ``angle(t) = a0 ± ω·t``, ``ω ∈ [8, 15]`` °/frame;
  - ``zoom-in`` / ``zoom-out``: ``d(t) = d_mid·z^(±τ)``, ``z ∈ [1.04, 1.07]`` per frame,
    ``d_mid`` log-uniform in ``[8, 13]`` px (so ``d`` spans about ``4.8 .. 22`` px);
  - ``bounce`` (out and back): ``c(t) = p0 + A·u·sin(π·t/15)``, ``A ∈ [5, 9]`` px, ``u`` a random
    unit vector: the sprite goes out along ``u`` and is back at ``p0`` in the last frame;
  - ``still``: constant pose.

  Sprites that do not zoom keep a size log-uniform in ``[6, 17]`` px, so a clip's mean size does
  not tell the class (nor does a middle frame's size; only the first or last frames hint at a
  zoom, as a position near the border hints at a translation). Positions are uniform among
  those that keep the target's centre in ``[5, 26]`` (distractors ``[3, 28]``) in every frame.
  Distractors draw their motion uniformly from the same 10 classes, independently of the label.
* **Background.** A 48×48 texture per clip (smooth noise blended with stripes or a checker in
  two random colours, ``[0.08, 0.6]`` per channel) that the 32×32 view pans across at a random
  ``0 .. 0.4`` px/frame: camera motion that is not the target's.

Labels are balanced (``n // 10`` or one more per class) and shuffled. Everything is drawn from
``torch.Generator().manual_seed(seed)``: the same ``(n, seed)`` gives the same bytes. Train and
test come from seeds ``2·seed`` and ``2·seed + 1``. :func:`render_sprite_actions` also returns
each sprite's per-frame centre, size and angle and, on request, the target's visible coverage;
:func:`save_preview` draws clips as a PNG grid. The default 5 000 + 1 000 clips take about 15 s
on one CPU thread (more threads on a busy machine can be slower) and are then cached.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from semcom.data.array_cache import cache_entry, load_arrays, save_arrays
from semcom.data.clips import ClipTensorDataset
from semcom.data.info import DatasetInfo

log = logging.getLogger(__name__)

#: Target motions, label = index.
SPRITE_ACTION_CLASSES: tuple[str, ...] = (
    "right",
    "left",
    "up",
    "down",
    "rotate-cw",
    "rotate-ccw",
    "zoom-in",
    "zoom-out",
    "bounce",
    "still",
)
SPRITE_TRAIN, SPRITE_TEST, SPRITE_FRAMES, SPRITE_SIZE = 5000, 1000, 16, 32
#: Sprites per clip: the target (index 0) and two distractors.
SPRITES = 3
#: Bump when the generated pixels change (the cache key includes it).
SPRITE_ACTIONS_VERSION = 1

_SPEED = (0.6, 1.2)  # translation, px/frame
_TURN = (8.0, 15.0)  # rotation, degrees/frame
_ZOOM = (1.04, 1.07)  # zoom factor per frame
_ZOOM_MID = (8.0, 13.0)  # zooming sprites' middle size, px (log-uniform)
_SIZE = (6.0, 17.0)  # other sprites' size, px (log-uniform)
_BOUNCE = (5.0, 9.0)  # bounce amplitude, px
_JITTER = 15.0  # translation direction jitter, degrees
_PAN = 0.4  # background pan speed limit, px/frame
_NOISE = 0.02  # pixel noise std
_OUTLINE = 1.0  # outline width, px
_CANVAS, _EXTENT = 40, 1.75  # sprite canvas: pixels, half-width in unit radii
_BG_MARGIN = 8  # the background texture is this much larger than the frame on each side, px
_CHUNK = 128  # clips rendered at once (bounds memory; the pixels do not depend on it)
_CACHE_MIN = 500  # sets of fewer clips are generated, not cached
# (dy, dx) of the translation classes
_DIRECTION = {0: (0.0, 1.0), 1: (0.0, -1.0), 2: (-1.0, 0.0), 3: (1.0, 0.0)}


@dataclass
class SpriteActionClips:
    """Generated clips with the ground truth of every sprite (``S`` = :data:`SPRITES`, sprite 0
    is the target).

    Attributes:
        clips: uint8 ``[n, 3, T, H, W]``.
        labels: int64 ``[n]``, the target's motion (index into :data:`SPRITE_ACTION_CLASSES`).
        motion: int64 ``[n, S]``, each sprite's motion class (``motion[:, 0] == labels``).
        centre: float32 ``[n, S, T, 2]``, each sprite's centre ``(y, x)`` per frame, pixels
            (pixel ``(i, j)`` has its centre at ``(i, j)``).
        size: float32 ``[n, S, T]``, diameter of the sprite's unit circle per frame, pixels.
        angle: float32 ``[n, S, T]``, orientation per frame, degrees (positive = clockwise).
        depth: int64 ``[n, S]``, drawing rank (0 = at the back, ``S - 1`` = in front).
        pan: float32 ``[n, T, 2]``, the background's offset ``(y, x)`` per frame, pixels.
        target_alpha: float32 ``[n, T, H, W]`` in ``[0, 1]``, the target's visible coverage
            (after occluders in front of it), or ``None`` unless asked for.
    """

    clips: Tensor
    labels: Tensor
    motion: Tensor
    centre: Tensor
    size: Tensor
    angle: Tensor
    depth: Tensor
    pan: Tensor
    target_alpha: Tensor | None = None


def _uniform(g: torch.Generator, shape: Sequence[int], lo: float, hi: float) -> Tensor:
    return lo + (hi - lo) * torch.rand(*shape, generator=g)


def _log_uniform(g: torch.Generator, shape: Sequence[int], lo: float, hi: float) -> Tensor:
    return torch.exp(_uniform(g, shape, math.log(lo), math.log(hi)))


def _poses(
    motion: Tensor, g: torch.Generator, frames: int, bounds: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Centre ``[m, T, 2]`` (y, x px), size ``[m, T]`` (px) and angle ``[m, T]`` (degrees) of
    ``m`` sprites with the motion classes ``motion [m]``; ``bounds [m, 2]`` (lo, hi) limits
    their centres in every frame."""
    m = motion.numel()
    t = torch.arange(frames, dtype=torch.float32)
    tau = t - (frames - 1) / 2
    # translation: direction of the class turned by ±_JITTER
    base = torch.tensor([_DIRECTION.get(int(k), (0.0, 0.0)) for k in range(10)])[motion]
    turn = torch.deg2rad(_uniform(g, (m,), -_JITTER, _JITTER))
    cos, sin = torch.cos(turn), torch.sin(turn)
    u = torch.stack([base[:, 0] * cos + base[:, 1] * sin, base[:, 1] * cos - base[:, 0] * sin], 1)
    speed = _uniform(g, (m,), *_SPEED)
    offset = tau[None, :, None] * (speed[:, None] * u)[:, None, :]  # [m, T, 2]
    # bounce: out along a random direction and back
    heading = _uniform(g, (m,), 0.0, 2 * math.pi)
    amplitude = _uniform(g, (m,), *_BOUNCE)
    hop = torch.sin(math.pi * t / (frames - 1))
    out = torch.stack([torch.sin(heading), torch.cos(heading)], 1) * amplitude[:, None]
    offset = torch.where((motion == 8)[:, None, None], hop[None, :, None] * out[:, None], offset)
    # place: uniform among the positions that keep every frame inside the bounds
    lo = bounds[:, :1, None] - offset.amin(1, keepdim=True)  # [m, 1, 2]
    hi = bounds[:, 1:, None] - offset.amax(1, keepdim=True)
    start = lo + (hi - lo).clamp_min(0) * torch.rand(m, 1, 2, generator=g)
    centre = start + offset
    # rotation
    a0 = _uniform(g, (m,), 0.0, 360.0)
    omega = _uniform(g, (m,), *_TURN)
    spin = torch.where(motion == 4, omega, torch.where(motion == 5, -omega, torch.zeros(m)))
    angle = a0[:, None] + spin[:, None] * t[None]
    # zoom
    zoom = torch.log(_uniform(g, (m,), *_ZOOM))
    grow = torch.where(motion == 6, zoom, torch.where(motion == 7, -zoom, torch.zeros(m)))
    mid = _log_uniform(g, (m,), *_ZOOM_MID)
    fixed = _log_uniform(g, (m,), *_SIZE)
    zooming = (motion == 6) | (motion == 7)
    zoomed = mid[:, None] * torch.exp(grow[:, None] * tau)
    scale = torch.where(zooming[:, None], zoomed, fixed[:, None])
    return centre, scale.expand(m, frames).contiguous(), angle


@dataclass
class _SpriteParams:
    """Random shape, texture and outline of ``m`` sprites (drawn once, rendered per chunk)."""

    family: Tensor  # [m] 0 blob, 1 polygon, 2 glyph
    harmonics: Tensor  # [m, 3, 2] amplitude, phase
    normals: Tensor  # [m, 6] half-plane angles
    offsets: Tensor  # [m, 6] half-plane distances (inf = unused)
    strokes: Tensor  # [m, 4, 2] glyph polyline
    thickness: Tensor  # [m]
    pattern: Tensor  # [m] 0 stripes, 1 checker, 2 split, 3 spot
    direction: Tensor  # [m] pattern angle
    period: Tensor  # [m] pattern period, unit radii
    phase: Tensor  # [m, 2]
    colours: Tensor  # [m, 2, 3]
    outline: Tensor  # [m, 3]

    @classmethod
    def draw(cls, m: int, g: torch.Generator, target: Tensor) -> _SpriteParams:
        amp = torch.stack(
            [_uniform(g, (m,), 0, 0.15), _uniform(g, (m,), 0.2, 0.35), _uniform(g, (m,), 0, 0.2)], 1
        )
        harmonics = torch.stack([amp, _uniform(g, (m, 3), 0, 2 * math.pi)], 2)
        sides = torch.randint(3, 7, (m,), generator=g)
        k = torch.arange(6)
        jitter = _uniform(g, (m, 6), -0.12, 0.12)
        normals = 2 * math.pi * (k + jitter) / sides[:, None]
        normals = normals + _uniform(g, (m, 1), 0, 2 * math.pi)
        offsets = _uniform(g, (m, 6), 0.35, 0.8).masked_fill(k >= sides[:, None], math.inf)
        radius = 0.85 * torch.sqrt(torch.rand(m, 4, generator=g))
        theta = _uniform(g, (m, 4), 0, 2 * math.pi)
        strokes = torch.stack([radius * torch.sin(theta), radius * torch.cos(theta)], 2)
        outline = torch.where(
            target[:, None], _uniform(g, (m, 3), 0.9, 1.0), _uniform(g, (m, 3), 0.0, 0.12)
        )
        return cls(
            family=torch.randint(0, 3, (m,), generator=g),
            harmonics=harmonics,
            normals=normals,
            offsets=offsets,
            strokes=strokes,
            thickness=_uniform(g, (m,), 0.16, 0.28),
            pattern=torch.randint(0, 4, (m,), generator=g),
            direction=_uniform(g, (m,), 0, 2 * math.pi),
            period=_uniform(g, (m,), 0.5, 0.9),
            phase=_uniform(g, (m, 2), 0, 2 * math.pi),
            colours=_uniform(g, (m, 2, 3), 0.05, 0.75),
            outline=outline,
        )

    def select(self, index: slice | Tensor) -> _SpriteParams:
        return _SpriteParams(**{k: v[index] for k, v in vars(self).items()})


def _blob_field(p: _SpriteParams, qy: Tensor, qx: Tensor) -> Tensor:
    """Blob ``ρ < r(φ)`` (harmonics 1..3, ``max r = 1``): field ``ρ − r(φ)``."""
    rho, phi = torch.sqrt(qy * qy + qx * qx), torch.atan2(qy, qx)
    k = torch.arange(1, 4, dtype=torch.float32)
    amp, ph = p.harmonics[..., 0], p.harmonics[..., 1]  # [m, 3]
    probe = torch.linspace(0, 2 * math.pi, 65)[:-1]
    peak = (1 + (amp[:, :, None] * torch.cos(k[:, None] * probe + ph[:, :, None])).sum(1)).amax(1)
    r = torch.ones_like(rho)
    for j in range(3):
        r += amp[:, j, None, None] * torch.cos((j + 1) * phi + ph[:, j, None, None])
    return rho - r / peak[:, None, None]


def _polygon_field(p: _SpriteParams, qy: Tensor, qx: Tensor) -> Tensor:
    """Convex polygon of jittered half-planes cut by the unit disc."""
    field = torch.sqrt(qy * qy + qx * qx) - 1
    nx, ny = torch.cos(p.normals), torch.sin(p.normals)  # [m, 6]
    for j in range(nx.shape[1]):
        plane = qx * nx[:, j, None, None] + qy * ny[:, j, None, None] - p.offsets[:, j, None, None]
        field = torch.maximum(field, plane)
    return field


def _glyph_field(p: _SpriteParams, qy: Tensor, qx: Tensor) -> Tensor:
    """Three joined thick strokes (a polyline of four points)."""
    field = torch.full_like(qy, math.inf)
    for j in range(p.strokes.shape[1] - 1):
        ay, ax = p.strokes[:, j, 0, None, None], p.strokes[:, j, 1, None, None]
        by, bx = p.strokes[:, j + 1, 0, None, None] - ay, p.strokes[:, j + 1, 1, None, None] - ax
        py, px = qy - ay, qx - ax
        h = ((py * by + px * bx) / (by * by + bx * bx).clamp_min(1e-6)).clamp_(0, 1)
        field = torch.minimum(field, torch.sqrt((py - h * by) ** 2 + (px - h * bx) ** 2))
    return field - p.thickness[:, None, None]


def _shape_field(p: _SpriteParams, qy: Tensor, qx: Tensor) -> Tensor:
    """Signed distance-like field ``[m, A, B]`` of the sprites' shapes at canvas points
    ``qy, qx [m, A, B]`` (unit radii; negative inside)."""
    field = torch.empty_like(qy)
    for family, shape in enumerate((_blob_field, _polygon_field, _glyph_field)):
        index = torch.nonzero(p.family == family)[:, 0]
        if len(index):
            field[index] = shape(p.select(index), qy[index], qx[index])
    return field


def _sprite_canvases(p: _SpriteParams) -> Tensor:
    """Canvases ``[m, 4, C, C]`` of the sprites over ``[-_EXTENT, _EXTENT]²``
    (``align_corners=True``): the shape field (unit radii, negative inside) and the texture's RGB
    minus the outline colour."""
    m = p.family.numel()
    axis = torch.linspace(-_EXTENT, _EXTENT, _CANVAS)
    qy = axis[:, None].expand(m, _CANVAS, _CANVAS)
    qx = axis[None, :].expand(m, _CANVAS, _CANVAS)
    # centre each shape on its centroid and scale it to touch the unit circle
    inside = (_shape_field(p, qy, qx) < 0).float()
    area = inside.sum((1, 2)).clamp_min(1)
    gy, gx = (inside * qy).sum((1, 2)) / area, (inside * qx).sum((1, 2)) / area
    gy, gx = gy[:, None, None], gx[:, None, None]
    reach = (torch.sqrt((qy - gy) ** 2 + (qx - gx) ** 2) * inside).amax((1, 2)).clamp_min(0.2)
    reach = reach[:, None, None]
    field = _shape_field(p, qy * reach + gy, qx * reach + gx) / reach
    # texture, in the sprite's own frame (it turns with the sprite)
    cos, sin = torch.cos(p.direction)[:, None, None], torch.sin(p.direction)[:, None, None]
    along, across = qx * cos + qy * sin, qy * cos - qx * sin
    w = (2 * math.pi / p.period)[:, None, None]
    ph0, ph1 = p.phase[:, 0, None, None], p.phase[:, 1, None, None]
    stripes = 0.5 + 0.5 * torch.sin(w * along + ph0)
    checker = (torch.sin(w * along + ph0) * torch.sin(w * across + ph1) > 0).float()
    split = torch.sigmoid(8 * (along - 0.15 * torch.sin(ph0)))
    spot_y, spot_x = 0.45 * torch.sin(ph1), 0.45 * torch.cos(ph1)
    spot = torch.sigmoid(8 * (0.35 - torch.sqrt((qy - spot_y) ** 2 + (qx - spot_x) ** 2)))
    kind = p.pattern[:, None, None]
    mix = torch.where(
        kind == 0, stripes, torch.where(kind == 1, checker, torch.where(kind == 2, split, spot))
    )
    c0, c1 = p.colours[:, 0, :, None, None], p.colours[:, 1, :, None, None]
    rgb = c0 + (c1 - c0) * mix[:, None] - p.outline[:, :, None, None]
    return torch.cat([field[:, None], rgb], 1)


@dataclass
class _Backgrounds:
    """Random background textures and pans of ``n`` clips (drawn once, built per chunk)."""

    colours: Tensor  # [n, 2, 3]
    smooth: Tensor  # [n, 1, 6, 6] noise, upsampled to the texture
    kind: Tensor  # [n] 0 stripes, 1 checker
    angle: Tensor  # [n]
    period: Tensor  # [n] px
    phase: Tensor  # [n, 2]
    weight: Tensor  # [n] pattern vs smooth noise
    pan: Tensor  # [n, T, 2] offset (y, x) px

    @classmethod
    def draw(cls, n: int, g: torch.Generator, frames: int) -> _Backgrounds:
        colours = _uniform(g, (n, 2, 3), 0.08, 0.6)
        smooth = torch.rand(n, 1, 6, 6, generator=g)
        kind = torch.randint(0, 2, (n,), generator=g)
        angle = _uniform(g, (n,), 0, math.pi)
        period = _uniform(g, (n,), 4.0, 10.0)
        phase = _uniform(g, (n, 2), 0, 2 * math.pi)
        weight = _uniform(g, (n,), 0.3, 0.7)
        speed = _uniform(g, (n,), 0.0, _PAN)
        heading = _uniform(g, (n,), 0.0, 2 * math.pi)
        velocity = torch.stack([torch.sin(heading), torch.cos(heading)], 1) * speed[:, None]
        tau = torch.arange(frames, dtype=torch.float32) - (frames - 1) / 2
        pan = tau[None, :, None] * velocity[:, None, :]
        return cls(colours, smooth, kind, angle, period, phase, weight, pan)

    def textures(self, index: slice, side: int) -> Tensor:
        """RGB textures ``[c, 3, side, side]`` of the clips ``index``."""
        smooth = F.interpolate(self.smooth[index], size=(side, side), mode="bicubic")
        smooth = smooth.clamp(0, 1)[:, 0]
        axis = torch.arange(side, dtype=torch.float32)
        y, x = axis[None, :, None], axis[None, None, :]
        cos, sin = torch.cos(self.angle[index]), torch.sin(self.angle[index])
        cos, sin = cos[:, None, None], sin[:, None, None]
        w = (2 * math.pi / self.period[index])[:, None, None]
        along, across = x * cos + y * sin, y * cos - x * sin
        ph0, ph1 = self.phase[index, 0, None, None], self.phase[index, 1, None, None]
        wave = torch.sin(w * along + ph0)
        stripes = 0.5 + 0.5 * wave
        checker = 0.5 + 0.5 * torch.tanh(3 * wave * torch.sin(w * across + ph1))
        pattern = torch.where(self.kind[index, None, None] == 0, stripes, checker)
        wt = self.weight[index, None, None]
        mix = (wt * pattern + (1 - wt) * smooth)[:, None]
        c0, c1 = self.colours[index, 0, :, None, None], self.colours[index, 1, :, None, None]
        return c0 + (c1 - c0) * mix


def _sample(canvas: Tensor, grid: Tensor) -> Tensor:
    """``canvas [B, C, A, A]`` at normalised points ``grid [B, T, H, W, 2]`` (x, y) →
    ``[B, C, T, H, W]`` (bilinear, border padding, ``align_corners=True``)."""
    b, t, h, w, _ = grid.shape
    out = F.grid_sample(
        canvas, grid.view(b, t * h, w, 2), padding_mode="border", align_corners=True
    )
    return out.view(b, canvas.shape[1], t, h, w)


def _frame_to_canvas(centre: Tensor, scale: Tensor, angle: Tensor, size: int) -> Tensor:
    """Per sprite and frame, the affine map from normalised frame coordinates ``(ux, uy)``
    (pixel centres at ``(2i + 1)/size − 1``) to normalised canvas coordinates:
    ``gx = k0·ux + k1·uy + k2``, ``gy = k3·ux + k4·uy + k5``; ``k`` is ``[m, T, 6]``.

    A frame point ``p`` (pixels) lies at canvas point ``R(−angle)·(p − centre) / (scale/2)``
    (unit radii), and canvas point ``q`` at ``q / _EXTENT``, normalised.
    """
    theta = torch.deg2rad(angle)
    s = size / 2 / (scale / 2 * _EXTENT)  # normalised frame unit → normalised canvas unit
    cos, sin = torch.cos(theta) * s, torch.sin(theta) * s
    oy = (size / 2 - 0.5 - centre[..., 0]) / (size / 2)  # the centre, in normalised units
    ox = (size / 2 - 0.5 - centre[..., 1]) / (size / 2)
    # q_x = cos·(x − cx) + sin·(y − cy), q_y = cos·(y − cy) − sin·(x − cx)
    return torch.stack([cos, sin, cos * ox + sin * oy, -sin, cos, cos * oy - sin * ox], -1)


def render_sprite_actions(
    n: int,
    seed: int,
    *,
    frames: int = SPRITE_FRAMES,
    size: int = SPRITE_SIZE,
    target_alpha: bool = False,
) -> SpriteActionClips:
    """``n`` clips uint8 ``[n, 3, frames, size, size]`` of the ``sprite-actions`` scene (module
    docstring) with every sprite's pose per frame (:class:`SpriteActionClips`).

    ``target_alpha=True`` also returns the target's visible coverage ``[n, frames, size, size]``.

    >>> out = render_sprite_actions(10, seed=0)
    >>> out.clips.shape, out.centre.shape, bool((out.motion[:, 0] == out.labels).all())
    (torch.Size([10, 3, 16, 32, 32]), torch.Size([10, 3, 16, 2]), True)
    >>> sorted(out.labels.tolist())  # one clip per class
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    if n < 0 or frames < 2 or size < 16:
        raise ValueError(f"need n >= 0, frames >= 2 and size >= 16; got {n}, {frames}, {size}")
    g = torch.Generator().manual_seed(int(seed))
    classes = len(SPRITE_ACTION_CLASSES)
    labels = (torch.arange(n) % classes)[torch.randperm(n, generator=g)]
    others = torch.randint(0, classes, (n, SPRITES - 1), generator=g)
    motion = torch.cat([labels[:, None], others], 1)
    margin = torch.tensor([[5.0, size - 6.0]] + [[3.0, size - 4.0]] * (SPRITES - 1))
    bounds = margin.repeat(n, 1)  # [n*S, 2]
    centre, scale, angle = _poses(motion.reshape(-1), g, frames, bounds)
    is_target = (torch.arange(SPRITES) == 0).repeat(n)
    params = _SpriteParams.draw(n * SPRITES, g, is_target)
    depth = torch.argsort(torch.rand(n, SPRITES, generator=g), 1)  # depth[i, s]: rank of sprite s
    background = _Backgrounds.draw(n, g, frames)
    noise_seed = int(torch.randint(0, 2**62, (1,), generator=g))
    gn = torch.Generator()
    # sprites in drawing order: slot r of clip i is the sprite of rank r
    order = torch.argsort(depth, 1)  # order[i, r]: the sprite drawn r-th
    drawn = (torch.arange(n)[:, None] * SPRITES + order).reshape(-1)
    target_slot = depth[:, 0]  # the target's slot
    coef = _frame_to_canvas(centre[drawn], scale[drawn], angle[drawn], size)  # [n*S, T, 6]

    side = size + 2 * _BG_MARGIN  # background texture, px
    clips = torch.empty(n, 3, frames, size, size, dtype=torch.uint8)
    alpha_out = torch.empty(n, frames, size, size) if target_alpha else None
    u = (2 * torch.arange(size, dtype=torch.float32) + 1) / size - 1  # pixel centres, normalised
    ux, uy = u[None, None, None, :], u[None, None, :, None]
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        c = hi - lo
        # background: the size² view of the side² texture, panned
        shift = background.pan[lo:hi, :, None, None]  # [c, T, 1, 1, 2]
        by = uy * size / (side - 1) + shift[..., 0] * (2 / (side - 1))
        bx = ux * size / (side - 1) + shift[..., 1] * (2 / (side - 1))
        grid = torch.empty(c, frames, size, size, 2)
        grid[..., 0], grid[..., 1] = bx, by
        frame = _sample(background.textures(slice(lo, hi), side), grid)  # [c, 3, T, H, W]
        # sprites, back to front
        index = drawn[lo * SPRITES : hi * SPRITES]
        canvases = _sprite_canvases(params.select(index))  # [c*S, 4, A, A]
        k = coef[lo * SPRITES : hi * SPRITES, :, None, None]  # [c*S, T, 1, 1, 6]
        grid = torch.empty(c * SPRITES, frames, size, size, 2)
        torch.addcmul(k[..., 1] * uy + k[..., 2], k[..., 0], ux, out=grid[..., 0])
        torch.addcmul(k[..., 4] * uy + k[..., 5], k[..., 3], ux, out=grid[..., 1])
        layers = _sample(canvases, grid).view(c, SPRITES, 4, frames, size, size)
        radius = (scale[index] / 2).view(c, SPRITES, 1, frames, 1, 1)  # px per unit radius
        edge = layers[:, :, :1].mul(-radius).add_(0.5)  # 0.5 - distance to the shape, px
        inner = edge.clamp(0, 1)
        outer = edge.add_(_OUTLINE).clamp_(0, 1)
        outline = params.outline[index].view(c, SPRITES, 3, 1, 1, 1)
        seen = torch.zeros(c, 1, frames, size, size) if target_alpha else None
        slot = target_slot[lo:hi, None, None, None, None]
        for r in range(SPRITES):
            frame.lerp_(outline[:, r], outer[:, r]).addcmul_(layers[:, r, 1:], inner[:, r])
            if seen is not None:
                seen.mul_(1 - outer[:, r]).add_(outer[:, r] * (slot == r))
        noise = torch.empty(frame.shape[1:])
        for j in range(c):  # per clip, so that the chunk size does not matter
            gn.manual_seed(noise_seed + lo + j)
            frame[j].add_(noise.normal_(0.0, _NOISE, generator=gn))
        clips[lo:hi] = frame.mul_(255).add_(0.5).clamp_(0, 255).to(torch.uint8)
        if alpha_out is not None and seen is not None:
            alpha_out[lo:hi] = seen[:, 0]
    view = (n, SPRITES, frames)
    return SpriteActionClips(
        clips=clips,
        labels=labels,
        motion=motion,
        centre=centre.view(*view, 2),
        size=scale.view(view),
        angle=angle.view(view),
        depth=depth,
        pan=background.pan,
        target_alpha=alpha_out,
    )


def make_sprite_action_clips(
    n: int, seed: int, *, frames: int = SPRITE_FRAMES, size: int = SPRITE_SIZE
) -> tuple[Tensor, Tensor]:
    """``n`` clips uint8 ``[n, 3, frames, size, size]`` and their labels int64 ``[n]``
    (:func:`render_sprite_actions` without the poses).

    >>> clips, labels = make_sprite_action_clips(2, seed=1)
    >>> clips.dtype, tuple(clips.shape), bool(torch.equal(clips, make_sprite_action_clips(2, 1)[0]))
    (torch.uint8, (2, 3, 16, 32, 32), True)
    """
    out = render_sprite_actions(n, seed, frames=frames, size=size)
    return out.clips, out.labels


def sprite_action_info() -> DatasetInfo:
    """The ``sprite-actions`` :class:`DatasetInfo`: 10 classes, input ``(3, 16, 32, 32)``."""
    return DatasetInfo(
        "sprite-actions",
        len(SPRITE_ACTION_CLASSES),
        (3, SPRITE_FRAMES, SPRITE_SIZE, SPRITE_SIZE),
        SPRITE_ACTION_CLASSES,
    )


def _cached_clips(n: int, seed: int, cache: bool) -> tuple[Tensor, Tensor]:
    """:func:`make_sprite_action_clips` through the decoded-array cache (when ``cache`` and ``n``
    is large enough for it to pay)."""
    if not cache or n < _CACHE_MIN:
        return make_sprite_action_clips(n, seed)
    key = hashlib.sha256(
        f"sprite-actions|v{SPRITE_ACTIONS_VERSION}|n{n}|seed{seed}|torch{torch.__version__}".encode()
    ).hexdigest()[:16]
    entry = cache_entry("sprite-actions", key)
    names = ("clips", "labels")
    loaded = load_arrays(entry, names)
    if loaded is not None:
        stored = loaded[0]
        shape = (n, 3, SPRITE_FRAMES, SPRITE_SIZE, SPRITE_SIZE)
        if stored["clips"].dtype == np.uint8 and stored["clips"].shape == shape:
            return torch.from_numpy(stored["clips"]), torch.from_numpy(stored["labels"]).long()
        log.warning("ignoring a sprite-actions cache entry of the wrong shape: %s", entry)
    clips, labels = make_sprite_action_clips(n, seed)
    save_arrays(
        entry,
        {"clips": clips.numpy(), "labels": labels.numpy()},
        f"generated sprite-actions v{SPRITE_ACTIONS_VERSION}",
        {"n": n, "seed": seed, "classes": list(SPRITE_ACTION_CLASSES)},
    )
    return clips, labels


def sprite_action_datasets(
    n_train: int = SPRITE_TRAIN, n_test: int = SPRITE_TEST, seed: int = 0, *, cache: bool = True
) -> tuple[ClipTensorDataset, ClipTensorDataset, DatasetInfo]:
    """The ``sprite-actions`` set (module docstring): train clips from seed ``2·seed``, test clips
    from ``2·seed + 1``. Sets of 500 clips or more are kept in the decoded-array cache
    (:mod:`semcom.data.array_cache`, keyed by :data:`SPRITE_ACTIONS_VERSION`, ``n`` and the
    seed) unless ``cache=False``.

    >>> train, test, info = sprite_action_datasets(10, 5)
    >>> len(train), len(test), info.input_shape, info.classes[8]
    (10, 5, (3, 16, 32, 32), 'bounce')
    """
    info = sprite_action_info()
    train = _cached_clips(n_train, 2 * seed, cache)
    test = _cached_clips(n_test, 2 * seed + 1, cache)
    return ClipTensorDataset(*train, info=info), ClipTensorDataset(*test, info=info), info


def save_preview(
    path: str | os.PathLike[str],
    clips: Tensor,
    labels: Tensor | Sequence[int],
    classes: Sequence[str],
    *,
    max_clips: int = 10,
    pixel_scale: int = 3,
) -> None:
    """Save a PNG grid of clips: one row per clip (its class name on the left), one column per
    frame. ``clips`` uint8 ``[N, C, T, H, W]`` (or float in ``[0, 1]``); the first ``max_clips``
    are drawn, each frame ``pixel_scale`` inches/32 px wide."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clips = clips[:max_clips]
    if clips.dtype != torch.uint8:
        clips = (clips.clamp(0, 1) * 255).round().to(torch.uint8)
    k, c, t, h, w = clips.shape
    fig, axes = plt.subplots(
        k, t, figsize=(t * pixel_scale * w / 96, k * pixel_scale * h / 96 + 0.2), squeeze=False
    )
    for i in range(k):
        for j in range(t):
            ax = axes[i][j]
            frame = clips[i, :, j].permute(1, 2, 0).numpy()
            ax.imshow(frame[..., 0] if c == 1 else frame, cmap="gray", vmin=0, vmax=255,
                      interpolation="nearest")  # fmt: skip
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(str(classes[int(labels[i])]), rotation=0, ha="right", va="center")
            if i == 0:
                ax.set_title(str(j), fontsize=7)
    fig.subplots_adjust(left=0.08, right=0.99, top=0.97, bottom=0.01, wspace=0.05, hspace=0.05)
    fig.savefig(os.fspath(path), dpi=96)
    plt.close(fig)
