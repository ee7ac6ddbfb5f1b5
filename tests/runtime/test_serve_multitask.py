"""FFMNet served: the digital split answers a payload with boxes and a mask (what the same stored
model computes here), and the JSCC split is listed with the reason it is not served."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import torch
from fastapi.testclient import TestClient
from PIL import Image

from semcom.data import TaskSpec
from semcom.runtime.server import create_app
from semcom.storage.store import load_run, save_system
from semcom.systems import BuildContext, build_system

SPEC = TaskSpec(
    "multitask",
    subtasks={
        "detection": TaskSpec("detection", 2, ("car", "person")),
        "segmentation": TaskSpec("segmentation", 3),
    },
)
CTX = BuildContext(3, (3, 64, 64), "ffmnet", "layer2", "scenes", SPEC)
SMALL = {"width": 8, "head_channels": 32, "head_convs": 1, "score_thresh": 0.0}


def test_digital_ffmnet_answers_boxes_and_a_mask(tmp_path: Path) -> None:
    run = tmp_path / "run"
    torch.manual_seed(0)
    digital = build_system("ffmnet-digital", {"channels": 2, "bits": 2, **SMALL}, CTX)
    digital.prepare_for_coding()
    save_system(digital, run, "digital")
    save_system(build_system("ffmnet-jscc", {"channels": 2, **SMALL}, CTX), run, "jscc")
    system = load_run(run)["digital"].system.eval()
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        payload = system.device_encode(x)[0]
        local = system.edge_decode([payload])
    wire = system.wire_codec().encode(payload)
    with TestClient(create_app(run)) as client:
        models = {m["model"]: m for m in client.get("/v1/models").json()["models"]}
        assert models["digital"]["served"] is True
        assert models["jscc"]["served"] is False and "analog" in models["jscc"]["reason"]
        response = client.post(
            "/v1/infer", content=wire, headers={"content-type": "application/octet-stream"}
        )
    assert response.status_code == 200, response.text
    answer = response.json()
    det, seg = answer["detection"], answer["segmentation"]
    assert np.allclose(det["boxes"], local["detection"][0]["boxes"].tolist(), atol=1e-3)
    assert len(det["label_names"]) == len(det["labels"]) > 0
    assert set(det["label_names"]) <= {"car", "person"}
    mask = np.array(Image.open(io.BytesIO(base64.b64decode(seg["mask_png"]))))
    assert mask.shape == (64, 64)
    assert np.array_equal(mask, local["segmentation"][0].argmax(0).numpy())
