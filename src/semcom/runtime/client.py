"""The device side of the runtime: input → device network → payload bytes → (emulated link) → HTTP.

* :func:`load_image` / :func:`image_paths` — PNG, JPEG, ... files (Pillow) as the model's input
  ``[1, C, H, W]`` float32 in ``[0, 1]`` (converted to grey or RGB, resized to ``H × W``).
* :func:`load_clip` — a video file (:data:`VIDEO_SUFFIXES`: MP4, AVI, MKV, WebM, MOV, ...; PyAV)
  as a clip model's input ``[1, C, T, H, W]``: ``T`` frames sampled uniformly over the file,
  scaled to cover ``H × W`` and centre-cropped, grey or RGB
  (:func:`semcom.data.video_decode.decode_clip`, the test-time protocol of the video sets).
* :func:`input_paths` / :func:`load_input` — either, by the model's input shape: ``(C, H, W)``
  takes images, ``(C, T, H, W)`` videos; a file of the other kind is refused with a message that
  names the input the model expects.
* :class:`TorchDevice` (:func:`load_torch_device`) — the stored system's ``device_encode`` in
  PyTorch; :func:`load_onnx_device` — the exported device part in onnxruntime
  (:mod:`semcom.runtime.onnx_device`). Both give one :class:`~semcom.coding.Payload` per sample.
* :class:`EdgeClient` — ``POST /v1/infer`` and the other endpoints over httpx.
* :func:`infer_one` — one image end to end, with the time of every stage
  (:class:`InferenceResult`).

Protocol overhead (:attr:`InferenceResult.overhead_s`) is what the end-to-end time spends outside
device compute, the emulated link and the edge's decode + network: HTTP on both sides, JSON, the
payload parse and model selection, queueing, the loopback or network.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import httpx
import numpy as np
import torch

from semcom.coding import Payload, WireForm
from semcom.data.video_sets import VIDEO_EXTENSIONS
from semcom.runtime.link_emulator import LinkEmulator, LinkTransfer
from semcom.storage.store import StoredSystem, load_run
from semcom.systems import BackboneSplitSystem

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
#: File endings ``semcom infer`` takes as videos (case ignored): those of the video data sets.
VIDEO_SUFFIXES: tuple[str, ...] = VIDEO_EXTENSIONS


class ClientError(RuntimeError):
    """A client-side problem (bad input, no device model, server refused); message says which."""


class InferError(ClientError):
    """The server answered with an error status; ``status`` and the server's ``detail``."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(f"server answered {status} {kind}: {detail}")
        self.status, self.kind, self.detail = status, kind, detail


# ------------------------------------------------------------------------------------ images
def image_paths(path: str | Path) -> list[Path]:
    """``path`` itself if it is a file, else the image files directly in the directory (sorted)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise ClientError(f"{path}: no image files ({', '.join(IMAGE_SUFFIXES)})")
        return found
    raise ClientError(f"{path}: no such file or directory")


def load_image(path: str | Path, shape: tuple[int, int, int]) -> torch.Tensor:
    """Read an image file as the model's input ``[1, C, H, W]``, float32 in ``[0, 1]``.

    ``shape = (C, H, W)``: ``C = 1`` converts to grey (``L``), ``C = 3`` to RGB; the image is
    resized (bilinear) to ``H × W`` when it differs.
    """
    from PIL import Image, UnidentifiedImageError

    channels, height, width = shape
    if channels not in (1, 3):
        raise ClientError(f"the model takes {channels}-channel input; images give 1 or 3")
    im: Image.Image  # the opened file, then its converted (and resized) copy
    try:
        with Image.open(path) as im:
            im = im.convert("L" if channels == 1 else "RGB")
            if im.size != (width, height):
                im = im.resize((width, height), Image.Resampling.BILINEAR)
            array = np.asarray(im, dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ClientError(f"{path}: cannot read the image: {exc}") from exc
    tensor = torch.from_numpy(array.copy())
    tensor = tensor[None] if channels == 1 else tensor.permute(2, 0, 1)
    return tensor.unsqueeze(0).contiguous()


# ------------------------------------------------------------------------------------ clips
def is_clip_shape(shape: tuple[int, ...]) -> bool:
    """Whether a model input ``shape`` (one sample) is a clip ``(C, T, H, W)``."""
    return len(shape) == 4


def describe_input(shape: tuple[int, ...]) -> str:
    """What a model with input ``shape`` takes, in words (for error messages).

    >>> describe_input((1, 28, 28)), describe_input((3, 16, 32, 32))
    ('images (C, H, W) = (1, 28, 28)', 'video clips (C, T, H, W) = (3, 16, 32, 32)')
    """
    if is_clip_shape(shape):
        return f"video clips (C, T, H, W) = {tuple(shape)}"
    return f"images (C, H, W) = {tuple(shape)}"


def _suffixes(shape: tuple[int, ...]) -> tuple[tuple[str, ...], str]:
    return (VIDEO_SUFFIXES, "video") if is_clip_shape(shape) else (IMAGE_SUFFIXES, "image")


def _check_kind(path: Path, shape: tuple[int, ...]) -> None:
    """Refuse a file whose suffix says it is of the other kind than the model takes."""
    wanted, kind = _suffixes(shape)
    other = IMAGE_SUFFIXES if wanted is VIDEO_SUFFIXES else VIDEO_SUFFIXES
    if path.suffix.lower() in other and path.suffix.lower() not in wanted:
        raise ClientError(
            f"{path}: {'an image' if kind == 'video' else 'a video'} file, but the model takes "
            f"{describe_input(shape)}; give a {kind} file ({', '.join(wanted)}) or a directory "
            "of them"
        )


def input_paths(path: str | Path, shape: tuple[int, ...]) -> list[Path]:
    """The files to send to a model taking ``shape`` inputs: ``path`` itself if it is a file,
    else the files directly in the directory that have the model's kind of suffix (images for
    ``(C, H, W)``, videos for ``(C, T, H, W)``; sorted).

    Raises :class:`ClientError` for a missing path, a directory without such files, and a file
    whose suffix is of the other kind (an image given to a clip model, a video to an image model),
    naming the input the model expects.
    """
    path = Path(path)
    wanted, kind = _suffixes(shape)
    other = IMAGE_SUFFIXES if wanted is VIDEO_SUFFIXES else VIDEO_SUFFIXES
    if path.is_file():
        _check_kind(path, shape)
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in wanted)
        if not found:
            others = sum(1 for p in path.iterdir() if p.suffix.lower() in other)
            hint = f"; it holds {others} {'image' if kind == 'video' else 'video'} file(s)"
            raise ClientError(
                f"{path}: no {kind} files ({', '.join(wanted)}); the model takes "
                f"{describe_input(shape)}" + (hint if others else "")
            )
        return found
    raise ClientError(f"{path}: no such file or directory")


def load_clip(path: str | Path, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """Decode a video file as a clip model's input ``[1, C, T, H, W]``, float32 in ``[0, 1]``.

    ``shape = (C, T, H, W)``: ``T`` frames sampled uniformly over the whole file (the centre
    frame of each of ``T`` equal segments; a shorter file repeats its last frame), each scaled to
    cover ``H × W`` and centre-cropped, RGB (``C = 3``) or grey (``C = 1``):
    :func:`semcom.data.video_decode.decode_clip` with ``sampling="uniform"``.
    """
    from semcom.data.video_decode import VideoDecodeError, decode_clip

    channels, frames, height, width = shape
    if channels not in (1, 3):
        raise ClientError(f"the model takes {channels}-channel clips; videos give 1 or 3")
    try:
        clip = decode_clip(
            path, frames=frames, size=(height, width), sampling="uniform", channels=channels
        )
    except (VideoDecodeError, ValueError) as exc:
        raise ClientError(f"{path}: cannot read the video: {exc}") from exc
    return (torch.from_numpy(clip).to(torch.float32) / 255.0).unsqueeze(0).contiguous()


def load_input(path: str | Path, shape: tuple[int, ...]) -> torch.Tensor:
    """One file as the model's input batch of one: :func:`load_clip` for a clip model
    ``(C, T, H, W)``, :func:`load_image` for an image model ``(C, H, W)``. A file whose suffix
    is of the other kind is refused (:class:`ClientError` naming the expected input)."""
    _check_kind(Path(path), shape)
    if is_clip_shape(shape):
        return load_clip(path, cast(tuple[int, int, int, int], tuple(shape)))
    if len(shape) != 3:
        raise ClientError(f"the model takes {tuple(shape)} inputs, neither images nor clips")
    return load_image(path, cast(tuple[int, int, int], tuple(shape)))


# ------------------------------------------------------------------------------------ devices
class DeviceSide(Protocol):
    """What the client needs from a device part (PyTorch or ONNX)."""

    variant: str
    system_name: str

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample's input shape: ``(C, H, W)``, or ``(C, T, H, W)`` for a clip model."""
        ...

    def encode(self, x: torch.Tensor) -> list[Payload]:
        """One payload per sample of ``x`` ``[B, *input_shape]``."""
        ...

    def wire(self, payload: Payload) -> bytes:
        """``payload`` as sent: the model's compact form where it has one
        (:mod:`semcom.coding.wire`)."""
        ...


class TorchDevice:
    """The device side of a stored system, run in PyTorch (``device_encode``)."""

    def __init__(
        self,
        stored: StoredSystem,
        device: torch.device | str | None = None,
        header: WireForm = "compact",
    ) -> None:
        self.stored = stored
        self.system = stored.system.eval() if device is None else stored.system.to(device).eval()
        self.variant = stored.variant
        self.system_name = self.system.name
        self.input_shape: tuple[int, ...] = tuple(self.system.ctx.input_shape)
        self.codec = cast(BackboneSplitSystem, self.system).wire_codec(header)

    def encode(self, x: torch.Tensor) -> list[Payload]:
        with torch.inference_mode():
            return self.system.device_encode(x.to(self.system.model_device))

    def wire(self, payload: Payload) -> bytes:
        return self.codec.encode(payload)


def choose_variant(stored: dict[str, StoredSystem], system: str | None) -> StoredSystem:
    """Pick the variant that sends payloads named by ``system`` (a variant id or a system name).

    Without ``system`` the run must hold exactly one such variant. Raises :class:`ClientError`
    listing the choices otherwise.
    """
    digital = {
        v: s for v, s in stored.items() if s.system.transport.serve_refusal(s.system) is None
    }
    choices = ", ".join(digital) or "none"
    if system is None:
        if len(digital) == 1:
            return next(iter(digital.values()))
        raise ClientError(
            f"the run has {len(digital)} digital variants; pick one with --system: {choices}"
        )
    if system in stored:
        if system not in digital:
            chosen = stored[system].system
            reason = chosen.transport.serve_refusal(chosen)
            raise ClientError(f"variant {system!r} sends no payload: {reason}")
        return digital[system]
    named = [s for s in digital.values() if s.system.name == system]
    if len(named) == 1:
        return named[0]
    if not named:
        raise ClientError(f"no digital variant or system named {system!r}; choices: {choices}")
    raise ClientError(
        f"{len(named)} variants of system {system!r}; pick one: "
        + ", ".join(s.variant for s in named)
    )


def load_torch_device(
    run_dir: str | Path, system: str | None = None, device: torch.device | str | None = None
) -> TorchDevice:
    """The PyTorch device part of ``run_dir``'s variant chosen by :func:`choose_variant`, run on
    ``device`` (default: the CPU)."""
    return TorchDevice(choose_variant(load_run(run_dir), system), device)


def load_onnx_device(onnx_dir: str | Path, system: str | None = None) -> DeviceSide:
    """The exported device part in ``onnx_dir`` (``semcom export RUN_DIR --onnx DIR``).

    ``onnx_dir`` is one variant's export folder, or an export root; with several variants under
    the root, ``system`` (a variant id or a system name) picks one. Raises :class:`ClientError`.
    """
    try:
        from semcom.runtime import onnx_device
    except ImportError as exc:
        raise ClientError(f"the ONNX device runtime is unavailable: {exc}") from exc
    folder = Path(onnx_dir)
    try:
        if system is not None and hasattr(onnx_device, "find_exports"):
            found = onnx_device.find_exports(folder)
            if len(found) > 1:
                metas = {p: onnx_device.read_device_json(p) for p in found}
                named = [p for p, m in metas.items() if system in (p.name, m.get("variant"))]
                named = named or [p for p, m in metas.items() if m.get("system") == system]
                if len(named) != 1:
                    choices = ", ".join(str(m.get("variant", p.name)) for p, m in metas.items())
                    raise ClientError(
                        f"{folder}: {len(named)} exported variants match {system!r}; "
                        f"exports: {choices}"
                    )
                folder = named[0]
        device = onnx_device.load_onnx_device(folder)
    except ValueError as exc:  # OnnxDeviceError
        raise ClientError(str(exc)) from exc
    if system is not None and system not in (device.variant, device.system_name):
        raise ClientError(
            f"{folder} holds variant {device.variant!r} of system {device.system_name!r}, "
            f"not {system!r}"
        )
    return device


# ------------------------------------------------------------------------------------ HTTP
class _StdlibConnection:
    """One keep-alive HTTP/1.1 connection (``http.client``), reopened when the server closed it.

    Chosen over httpx for the device's requests: the request line, headers and body leave in one
    ``send`` on a ``TCP_NODELAY`` socket, and the per-request cost is about a millisecond lower
    than httpx's on a loaded CPU (``benchmarks/bench_runtime.py`` measures the overhead).
    """

    def __init__(self, url: str, timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ClientError(f"server URL must be http(s)://host[:port][/prefix], got {url!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.timeout_s = timeout_s
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=self.timeout_s)
        conn.connect()
        if conn.sock is not None:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = self._connect()
        try:
            self.conn.request(method, self.prefix + path, body=body, headers=headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class EdgeClient:
    """HTTP client of the edge server; one instance per thread (it holds one connection).

    Args:
        url: server base URL, e.g. ``http://127.0.0.1:8000``.
        timeout_s: connect / read timeout of each request, seconds.
        retries: extra attempts after a connection error (a closed keep-alive connection, a
            refused connect); never after a timeout or an HTTP error answer.
        client: an ``httpx.Client`` to send through instead (tests pass FastAPI's
            ``TestClient``, which runs the app in-process).
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        *,
        timeout_s: float = 30.0,
        retries: int = 2,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.retries = retries
        self.http = client
        self._conn = None if client is not None else _StdlibConnection(self.url, timeout_s)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> EdgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        where = f"{method} {self.url}{path}"
        if self.http is not None:
            try:
                r = self.http.request(method, self.url + path, content=body, headers=headers)
            except httpx.HTTPError as exc:
                raise ClientError(f"{where}: {exc}") from exc
            return r.status_code, r.content
        assert self._conn is not None
        for attempt in range(self.retries + 1):
            try:
                return self._conn.request(method, path, body, headers or {})
            except TimeoutError as exc:
                raise ClientError(f"{where}: timed out ({exc})") from exc
            except (OSError, http.client.HTTPException) as exc:
                if attempt == self.retries:
                    raise ClientError(f"{where}: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _json(status: int, content: bytes) -> dict[str, Any]:
        try:
            data = json.loads(content)
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            data = {"error": "bad_response", "detail": content[:200].decode("utf-8", "replace")}
        if status != 200:
            raise InferError(status, str(data.get("error", "")), str(data.get("detail", data)))
        return data

    def infer(self, body: bytes, model: str | None = None) -> dict[str, Any]:
        """``POST /v1/infer`` with payload bytes; the server's JSON, or :class:`InferError`."""
        path = "/v1/infer"
        if model is not None:
            path += "?" + urllib.parse.urlencode({"model": model})
        headers = {"content-type": "application/octet-stream"}
        return self._json(*self._request("POST", path, body, headers))

    def health(self) -> dict[str, Any]:
        return self._json(*self._request("GET", "/v1/health"))

    def models(self) -> dict[str, Any]:
        return self._json(*self._request("GET", "/v1/models"))


# ------------------------------------------------------------------------------------ end to end
@dataclass
class InferenceResult:
    """One image or clip end to end. Times in seconds (``server_ms``: the server's own
    breakdown, ms)."""

    model: str
    #: the class index (classification), or a short summary of another task's answer
    #: (``"3 boxes"``, ``"mask 32x32"``); the whole answer is in :attr:`response`.
    prediction: int | str
    payload_bytes: int
    device_s: float
    link_s: float
    request_s: float
    total_s: float
    server_ms: dict[str, float]
    link: LinkTransfer | None = None
    response: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def edge_compute_s(self) -> float:
        """Edge decode + edge network, seconds (the server's ``decode + edge_compute``)."""
        return 1e-3 * (self.server_ms.get("decode", 0.0) + self.server_ms.get("edge_compute", 0.0))

    @property
    def overhead_s(self) -> float:
        """Protocol overhead: total − device − emulated link − edge decode and compute, s."""
        return self.total_s - self.device_s - self.link_s - self.edge_compute_s

    def to_json(self) -> dict[str, Any]:
        """Flat record, milliseconds (what ``semcom infer --json`` prints)."""
        out: dict[str, Any] = {
            "model": self.model,
            "prediction": self.prediction,
            "payload_bytes": self.payload_bytes,
            "device_ms": 1e3 * self.device_s,
            "link_ms": 1e3 * self.link_s,
            "request_ms": 1e3 * self.request_s,
            "server_ms": dict(self.server_ms),
            "overhead_ms": 1e3 * self.overhead_s,
            "total_ms": 1e3 * self.total_s,
        }
        if self.link is not None:
            out["packets"] = self.link.packets
            out["retransmissions"] = self.link.retransmissions
        return out


def summarize_answer(answer: dict[str, Any]) -> int | str:
    """The class index of a classification answer, else a short summary of the task's answer
    (boxes, mask, or each sub-task of a multi-task answer)."""
    if "prediction" in answer:
        return int(answer["prediction"])
    if "boxes" in answer:
        return f"{len(answer['boxes'])} boxes"
    if "mask_png" in answer:
        return f"mask {answer.get('height')}x{answer.get('width')}"
    parts = [
        f"{name}: {summarize_answer(sub)}"
        for name, sub in answer.items()
        if isinstance(sub, dict) and name != "timing_ms"
    ]
    return "; ".join(parts) or "?"


def infer_one(
    device: DeviceSide,
    client: EdgeClient,
    x: torch.Tensor,
    link: LinkEmulator | None = None,
    model: str | None = None,
) -> InferenceResult:
    """Run ``x`` — one image ``[1, C, H, W]`` or one clip ``[1, C, T, H, W]`` — through the
    device part, the link and the server.

    ``model`` is the ``?model=`` to send (default: the device's variant id).
    """
    if x.dim() < 4 or x.shape[0] != 1:
        raise ClientError(f"expected one sample [1, C, H, W] (or a clip), got {tuple(x.shape)}")
    t0 = time.perf_counter()
    body = device.wire(device.encode(x)[0])
    t1 = time.perf_counter()
    transfer = link.send(body) if link is not None else None
    t2 = time.perf_counter()
    answer = client.infer(body, model=model or device.variant)
    t3 = time.perf_counter()
    return InferenceResult(
        model=answer["model"],
        prediction=summarize_answer(answer),
        payload_bytes=len(body),
        device_s=t1 - t0,
        link_s=t2 - t1,
        request_s=t3 - t2,
        total_s=t3 - t0,
        server_ms={k: float(v) for k, v in answer.get("timing_ms", {}).items()},
        link=transfer,
        response=answer,
    )
