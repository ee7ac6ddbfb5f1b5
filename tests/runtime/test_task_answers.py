"""Task-agnostic serving: segmentation answers a mask (PNG, base64), detection boxes, clips are
sent with a variable number of frames; ``/v1/models`` states every variant's task and output."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from semcom.coding import Payload
from semcom.data import TaskSpec
from semcom.runtime.server import create_app
from semcom.storage.store import load_run, save_system
from semcom.systems import BuildContext, build_system

OCTET = {"content-type": "application/octet-stream"}
IMAGES = BuildContext(3, (3, 32, 32), "resnet-small", "layer2", "t")
CASES = {
    "seg": ("seg-split", {"channels": 4, "bits": 2, "width": 8}, IMAGES),
    "det": (
        "det-split",
        {"channels": 4, "bits": 2, "width": 32, "head_convs": 1, "score_thresh": 0.0},
        IMAGES,
    ),  # fmt: skip
    "clip": (
        "clip-split",
        {"width": 4, "channels": 2, "bits": 8, "threshold": 0.0},
        BuildContext(3, (1, 6, 8, 8), "resnet-small", "layer2", "t"),
    ),  # fmt: skip
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    run = tmp_path_factory.mktemp("tasks")
    for i, (variant, (name, params, ctx)) in enumerate(CASES.items()):
        torch.manual_seed(i)
        system = build_system(name, params, ctx)
        system.prepare_for_coding()
        save_system(system, run, variant)
    stored = load_run(run)
    with TestClient(create_app(run)) as client:
        yield client, stored


def _post(client, payload: Payload, model: str):
    return client.post(
        "/v1/infer", content=payload.to_bytes(), params={"model": model}, headers=OCTET
    )


def test_models_state_task_and_output_schema(served) -> None:
    client, _ = served
    models = {m["model"]: m for m in client.get("/v1/models").json()["models"]}
    assert all(m["served"] for m in models.values()), models
    assert (
        models["seg"]["task"]["kind"] == "segmentation"
        and "mask_png" in models["seg"]["output_schema"]
    )
    assert (
        models["det"]["task"]["primary_metric"] == "map_50"
        and "boxes" in models["det"]["output_schema"]
    )
    assert models["clip"]["accepts"]["shapes"] == [[2, {"min": 1, "max": 6}, 4, 4]]


def test_segmentation_answers_the_mask_the_edge_computes(served) -> None:
    client, stored = served
    system = stored["seg"].system
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    payload = system.device_encode(x)[0]
    answer = _post(client, payload, "seg").json()
    assert answer["task"] == "segmentation" and (answer["height"], answer["width"]) == (32, 32)
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["mask_png"]))))
    with torch.no_grad():
        local = system.edge_decode([Payload.from_bytes(payload.to_bytes())])[0].argmax(0)
    assert np.array_equal(mask, local.numpy().astype(np.uint8))


def test_detection_answers_boxes_scores_and_labels(served) -> None:
    client, stored = served
    system = stored["det"].system
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    payload = system.device_encode(x)[0]
    answer = _post(client, payload, "det").json()
    with torch.no_grad():
        (local,) = system.edge_decode([Payload.from_bytes(payload.to_bytes())])
    assert answer["task"] == "detection"
    assert (
        len(answer["boxes"])
        == len(answer["scores"])
        == len(answer["labels"])
        == len(local["boxes"])
    )
    assert np.allclose(answer["boxes"], local["boxes"].numpy(), atol=1e-4)
    assert all(len(b) == 4 for b in answer["boxes"])


def test_clips_send_a_variable_number_of_frames_within_the_declared_bound(served) -> None:
    client, stored = served
    system = stored["clip"].system
    still = torch.full((1, 1, 6, 8, 8), 0.5)
    busy = torch.rand(1, 1, 6, 8, 8, generator=torch.Generator().manual_seed(5))
    (p_still,), (p_busy,) = system.device_encode(still), system.device_encode(busy)
    assert p_still.shapes[0][1] < p_busy.shapes[0][1] <= 6  # a still clip sends fewer frames
    for payload in (p_still, p_busy):
        answer = _post(client, payload, "clip").json()
        with torch.no_grad():
            local = system.edge_decode([payload])[0]
        assert answer["prediction"] == int(local.argmax())
    too_many = Payload("clip-split", ((2, 7, 4, 4),), {"b": 8}, p_busy.chunks)
    refused = _post(client, too_many, "clip")
    assert (
        refused.status_code == 422 and "dimension 1 is 7, allowed 1..6" in refused.json()["detail"]
    )
    wrong_mask = Payload("clip-split", ((2, 2, 4, 4),), {"b": 8}, (p_busy.chunks[0], b"\x00"))
    assert _post(client, wrong_mask, "clip").status_code == 422


def test_a_spec_with_subtasks_describes_each(served) -> None:
    from semcom.tasks import build_task

    task = build_task(TaskSpec("multitask", subtasks={
        "det": TaskSpec("detection", 2), "seg": TaskSpec("segmentation", 3)}))  # fmt: skip
    assert set(task.output_schema()) == {"det", "seg"}
    assert task.describe()["subtasks"]["seg"]["primary_metric"] == "miou"
