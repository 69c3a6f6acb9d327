"""The optional OpenMMLab face backend (``xdub.face.openmmlab``) behind ``load_wholebody``.

Everywhere: without OpenMMLab the backend is a clear ``ModelError``; unknown names are refused;
OpenCV 5 (whose crops differ from X-Dub's 4.x) is reported.
Where mmdet + mmpose import (not in CI; e.g. ``/work/venvs/mmpose``): the packaged configs build
the released key sets and the reduced models, the real mmdet/mmpose inference reproduces the
X-Dub wrapper golden, and it agrees with the built-in backend on the same weights.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from xdub.errors import ModelError
from xdub.face.backends import FACE_BACKENDS, load_wholebody
from xdub.face.detect import Detections, person_box
from xdub.face.nets.configs import RtmwConfig, YoloxConfig
from xdub.face.openmmlab import check_opencv, load_config
from xdub.face.wholebody import (
    WholebodyBackend,
    WholebodyEstimator,
    WholebodyFrame,
    normalized_dwpose,
)

try:  # import-time notices of mmcv/mmengine (moved classes, pkg_resources) are not ours
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mmdet.apis  # noqa: F401
        import mmpose.apis  # noqa: F401
    HAS_OPENMMLAB = True
except ImportError:
    HAS_OPENMMLAB = False

needs_openmmlab = pytest.mark.skipif(
    not HAS_OPENMMLAB,
    reason="mmdet + mmpose are not installed (optional backend; see docs/models.md)",
)
needs_opencv4 = pytest.mark.skipif(
    int(cv2.__version__.split(".")[0]) >= 5,
    reason=f"OpenCV {cv2.__version__}: mmpose's warpAffine crops differ from the 4.x of the "
    "golden set (pose README §5); install opencv-python<5 in the OpenMMLab env",
)
pytestmark = [
    # Under OpenCV 5 the backend says its crops differ; the exact checks skip (needs_opencv4).
    pytest.mark.filterwarnings(r"ignore:OpenCV \d.*warpAffine:UserWarning"),
    # mmdet/mmpose CSP layers call the deprecated torch.cuda.amp.autocast.
    pytest.mark.filterwarnings(r"ignore:`torch\.cuda\.amp\.autocast:FutureWarning:mm(det|pose)\."),
    # mmdet's prior generator calls torch.meshgrid without indexing=.
    pytest.mark.filterwarnings("ignore:torch.meshgrid:UserWarning:torch.functional"),
]

KINDS = {"detector": "yolox", "pose": "rtmw"}
"""``load_config`` kind → the ``reduced_config.json`` section (and file prefix)."""


@pytest.fixture(scope="module")
def reduced(pose_dir: Path) -> dict[str, Any]:
    return json.loads((pose_dir / "reduced_config.json").read_text())


@pytest.fixture(scope="module")
def configs(reduced: dict[str, Any]) -> tuple[YoloxConfig, RtmwConfig]:
    return (
        YoloxConfig.from_mmdet(reduced["yolox"]["model"]),
        RtmwConfig.from_mmpose(reduced["rtmw"]["model"]),
    )


@pytest.fixture(scope="module")
def frames(pose_dir: Path) -> list[np.ndarray]:
    images = np.load(pose_dir / "golden_images.npz")
    return [images[f"img{i}_bgr_u8"] for i in range(len(images.files))]


@pytest.fixture(scope="module")
def wrapper(pose_dir: Path) -> dict[str, np.ndarray]:
    return dict(np.load(pose_dir / "xdub_wrapper_golden.npz"))


@pytest.fixture(scope="module")
def pose_golden(pose_dir: Path) -> dict[str, np.ndarray]:
    return dict(np.load(pose_dir / "rtmw_golden.npz"))


@pytest.fixture(scope="module")
def pth_files(pose_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The reduced weights as mmengine ``.pth`` files (``meta`` with numpy arrays, as released)."""
    root = tmp_path_factory.mktemp("pth")
    paths = []
    for name in KINDS.values():
        meta = {"dataset_meta": {"sigmas": np.ones(3, np.float32)}, "mmengine_version": "0.10.7"}
        weights = load_file(pose_dir / f"{name}_reduced.safetensors")
        torch.save({"meta": meta, "state_dict": weights}, root / f"{name}.pth")
        paths.append(root / f"{name}.pth")
    return paths[0], paths[1]


def _backend(
    name: str, configs: tuple[YoloxConfig, RtmwConfig], paths: tuple[Path, Path]
) -> WholebodyBackend:
    return load_wholebody(*paths, backend=name, detector_config=configs[0], pose_config=configs[1])


@pytest.fixture(scope="module")
def openmmlab(
    pose_dir: Path, configs: tuple[YoloxConfig, RtmwConfig], pth_files: tuple[Path, Path]
) -> WholebodyBackend:
    return _backend("openmmlab", configs, pth_files)


@pytest.fixture(scope="module")
def builtin(pose_dir: Path, configs: tuple[YoloxConfig, RtmwConfig]) -> WholebodyBackend:
    files = (pose_dir / "yolox_reduced.safetensors", pose_dir / "rtmw_reduced.safetensors")
    return _backend("builtin", configs, files)


@dataclasses.dataclass(frozen=True)
class Outputs:
    """One backend's results on the golden frames, computed once per module."""

    detections: list[Detections]
    on_golden_boxes: list[WholebodyFrame]
    """With X-Dub's chosen boxes as ``box_ext``."""
    end_to_end: list[WholebodyFrame]


def _outputs(
    backend: WholebodyBackend, frames: list[np.ndarray], wrapper: dict[str, np.ndarray]
) -> Outputs:
    boxes = [wrapper[f"img{i}_det_result"] for i in range(len(frames))]
    return Outputs(
        backend.detect(frames, batch_size=2),
        backend(frames, boxes=boxes),
        list(backend.stream(iter(frames), batch_size=2)),
    )


@pytest.fixture(scope="module")
def openmmlab_outputs(
    openmmlab: WholebodyBackend, frames: list[np.ndarray], wrapper: dict[str, np.ndarray]
) -> Outputs:
    return _outputs(openmmlab, frames, wrapper)


@pytest.fixture(scope="module")
def builtin_outputs(
    builtin: WholebodyBackend, frames: list[np.ndarray], wrapper: dict[str, np.ndarray]
) -> Outputs:
    return _outputs(builtin, frames, wrapper)


def _robust_rows(pose_golden: dict[str, np.ndarray], i: int) -> np.ndarray:
    """The 133 rows whose SimCC top-1/top-2 gaps are ≥ 2e-3 (README §8)."""
    gap_x, gap_y = pose_golden[f"case{i}_flip_gap_x"], pose_golden[f"case{i}_flip_gap_y"]
    return ((gap_x >= 2e-3) & (gap_y >= 2e-3))[0]


def _assert_same_points(ours: WholebodyFrame, ref_info_133: np.ndarray, robust: np.ndarray) -> None:
    # atol: README §8 end to end: keypoints exact (1e-3 px) on rows with SimCC gaps ≥ 2e-3,
    # scores 3e-3 (float32 noise of the raw outputs between torch builds, ~1e-4 here).
    np.testing.assert_allclose(
        ours.keypoints_info_133[0, robust, :2], ref_info_133[0, robust, :2], rtol=0, atol=1e-3
    )
    np.testing.assert_allclose(
        ours.keypoints_info_133[..., 2], ref_info_133[..., 2], rtol=0, atol=3e-3
    )


def _assert_same_detections(
    ours: Detections, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray
) -> None:
    """The detections scoring ≥ 0.05 are the same set: label, box and score pair up 1:1."""
    mine, theirs = ours.scores >= 0.05, scores >= 0.05
    assert mine.sum() == theirs.sum()
    unmatched = list(np.flatnonzero(theirs))
    for box, score, label in zip(
        ours.bboxes[mine], ours.scores[mine], ours.labels[mine], strict=True
    ):
        # atol: README §8: 1e-2 px end to end, plus 1e-4 of the box's w + h, because a box's
        # size is exp(raw delta) · stride, so raw float32 noise scales with it (measured
        # 3e-5 · (w + h), 0.03 px on 900 px boxes); scores are sigmoid products, measured
        # ≤ 9e-5 apart, 5e-4 allowed.
        size = box[2] - box[0] + box[3] - box[1]
        close = [
            j
            for j in unmatched
            if labels[j] == label
            and np.abs(boxes[j] - box).max() <= 1e-2 + 1e-4 * size
            and abs(scores[j] - score) <= 5e-4
        ]
        assert len(close) == 1, f"detection {box} (label {label}, score {score}) has no twin"
        unmatched.remove(close[0])


def test_openmmlab_without_openmmlab_is_a_clear_model_error(
    pose_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in ("mmdet", "mmdet.apis", "mmpose", "mmpose.apis"):  # None: "not installed"
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ModelError) as caught:
        load_wholebody(
            pose_dir / "yolox_reduced.safetensors",
            pose_dir / "rtmw_reduced.safetensors",
            backend="openmmlab",
        )
    assert caught.value.code == "backend_unavailable"
    assert "mmdet" in caught.value.message
    assert caught.value.hint is not None and "mmpose" in caught.value.hint


def test_unknown_backends_and_config_files_for_the_builtin_are_refused(
    pose_dir: Path, tmp_path: Path
) -> None:
    files = (pose_dir / "yolox_reduced.safetensors", pose_dir / "rtmw_reduced.safetensors")
    with pytest.raises(ModelError) as caught:
        load_wholebody(*files, backend="mediapipe")
    assert caught.value.code == "unknown_backend"
    assert "'mediapipe'" in caught.value.message
    assert caught.value.hint is not None
    assert all(name in caught.value.hint for name in FACE_BACKENDS)
    with pytest.raises(ModelError, match="config files"):
        load_wholebody(*files, backend="builtin", pose_config=tmp_path / "rtmw.py")


def test_builtin_backend_from_the_factory(
    builtin: WholebodyBackend, pose_dir: Path, configs: tuple[YoloxConfig, RtmwConfig]
) -> None:
    assert isinstance(builtin, WholebodyEstimator)
    assert builtin.networks == (builtin.detector, builtin.pose)
    assert (builtin.detector.config, builtin.pose.config) == configs
    weights = load_file(pose_dir / "yolox_reduced.safetensors")
    for key, value in builtin.networks[0].state_dict().items():
        assert torch.equal(value, weights[key]), key


@needs_openmmlab
@pytest.mark.parametrize("kind", list(KINDS))
def test_packaged_config_gives_the_reduced_model(
    kind: str, reduced: dict[str, Any], configs: tuple[YoloxConfig, RtmwConfig], tmp_path: Path
) -> None:
    section = reduced[KINDS[kind]]
    with_changes = load_config(None, kind)
    with_changes.merge_from_dict(section["changes"])
    as_json = json.loads(json.dumps(with_changes.model.to_dict()))
    assert as_json == section["model"]  # mmdet/mmpose ship X-Dub's model sections
    dataclass = configs[0] if kind == "detector" else configs[1]
    from_dataclass = load_config(dataclass, kind)  # how xdub-model.json sizes reach mmdet/mmpose
    assert json.loads(json.dumps(from_dataclass.model.to_dict())) == section["model"]
    with_changes.dump(str(tmp_path / "config.json"))
    from_file = load_config(tmp_path / "config.json", kind)
    assert json.loads(json.dumps(from_file.model.to_dict())) == section["model"]


@needs_openmmlab
def test_configs_the_packaged_files_cannot_express_are_refused(
    configs: tuple[YoloxConfig, RtmwConfig], tmp_path: Path
) -> None:
    detector, pose = configs
    with pytest.raises(ModelError, match="strides"):
        load_config(dataclasses.replace(detector, strides=(8, 16, 64)), "detector")
    with pytest.raises(ModelError, match="input_size"):  # also in the pipeline: a file's job
        load_config(dataclasses.replace(pose, input_size=(192, 256)), "pose")
    with pytest.raises(ModelError, match="not found"):
        load_config(tmp_path / "missing.py", "pose")


@needs_openmmlab
@pytest.mark.parametrize(("kind", "manifest"), [("detector", "yolox_l"), ("pose", "rtmw_x")])
def test_full_size_packaged_configs_build_the_released_key_sets(
    kind: str, manifest: str, pose_dir: Path
) -> None:
    from mmengine.registry import init_default_scope

    scope = "mmdet" if kind == "detector" else "mmpose"
    init_default_scope(scope)
    registry = sys.modules[f"{scope}.registry"].MODELS
    with torch.device("meta"):
        state = registry.build(load_config(None, kind).model).state_dict()
    expected = json.loads((pose_dir / f"{manifest}_keys.json").read_text())
    assert list(state) == list(expected)  # same keys, same (module) order
    assert {k: list(v.shape) for k, v in state.items()} == expected


@needs_openmmlab
def test_openmmlab_networks_hold_the_checkpoint_weights(
    openmmlab: WholebodyBackend, pose_dir: Path
) -> None:
    detector, pose = openmmlab.networks
    assert type(detector).__name__ == "YOLOX" and type(pose).__name__ == "TopdownPoseEstimator"
    for network, name in zip(openmmlab.networks, KINDS.values(), strict=True):
        weights = load_file(pose_dir / f"{name}_reduced.safetensors")
        state = network.state_dict()
        assert set(state) == set(weights)
        for key, value in state.items():
            assert torch.equal(value, weights[key]), key


@needs_opencv4
@needs_openmmlab
def test_openmmlab_on_xdubs_boxes_reproduces_the_wrapper(
    openmmlab_outputs: Outputs,
    wrapper: dict[str, np.ndarray],
    pose_golden: dict[str, np.ndarray],
) -> None:
    for i, result in enumerate(openmmlab_outputs.on_golden_boxes):
        np.testing.assert_array_equal(result.det_box, wrapper[f"img{i}_det_result"])
        assert result.keypoints_info_133.dtype == np.float32
        _assert_same_points(
            result, wrapper[f"img{i}_keypoints_info_133"], _robust_rows(pose_golden, i)
        )
        # atol: scores as above; the neck row is 0 or 10 (both shoulders > 0.5, or not).
        np.testing.assert_allclose(result.scores, wrapper[f"img{i}_scores_134"], rtol=0, atol=3e-3)


@needs_opencv4
@needs_openmmlab
def test_openmmlab_end_to_end_with_mmdet(
    openmmlab: WholebodyBackend,
    openmmlab_outputs: Outputs,
    pose_dir: Path,
    wrapper: dict[str, np.ndarray],
    pose_golden: dict[str, np.ndarray],
    frames: list[np.ndarray],
) -> None:
    golden = dict(np.load(pose_dir / "yolox_golden.npz"))
    found, results = openmmlab_outputs.detections, openmmlab_outputs.end_to_end
    assert len(found) == len(results) == len(frames)
    for i, (dets, result) in enumerate(zip(found, results, strict=True)):
        prefix = f"img{i}_det_"
        _assert_same_detections(
            dets, golden[prefix + "bboxes"], golden[prefix + "scores"], golden[prefix + "labels"]
        )
        golden_box = wrapper[f"img{i}_det_result"]
        assert result.det_box.shape == golden_box.shape
        # atol: README §8 end to end: X-Dub's chosen box to 1e-2 px.
        np.testing.assert_allclose(result.det_box, golden_box, rtol=0, atol=1e-2)
        np.testing.assert_array_equal(result.det_box, person_box(dets))
        if len(golden_box) == 0:  # whole-frame crop: same input as the golden, same points
            _assert_same_points(result, wrapper[f"img{i}_keypoints_info_133"],
                                _robust_rows(pose_golden, i))  # fmt: skip
    sizes = [(frame.shape[1], frame.shape[0]) for frame in frames]
    np.testing.assert_array_equal(
        openmmlab.extract_dwpose(frames), normalized_dwpose(results, sizes)
    )


@needs_opencv4
@needs_openmmlab
def test_both_backends_agree_on_the_same_weights(
    openmmlab_outputs: Outputs, builtin_outputs: Outputs, pose_golden: dict[str, np.ndarray]
) -> None:
    for ours, theirs in zip(builtin_outputs.detections, openmmlab_outputs.detections, strict=True):
        _assert_same_detections(ours, theirs.bboxes, theirs.scores, theirs.labels)
    for i, (ours_pose, theirs_pose) in enumerate(
        zip(builtin_outputs.on_golden_boxes, openmmlab_outputs.on_golden_boxes, strict=True)
    ):
        _assert_same_points(ours_pose, theirs_pose.keypoints_info_133, _robust_rows(pose_golden, i))
    for ours_e2e, theirs_e2e in zip(
        builtin_outputs.end_to_end, openmmlab_outputs.end_to_end, strict=True
    ):
        # atol: README §8: the chosen box to 1e-2 px.
        np.testing.assert_allclose(ours_e2e.det_box, theirs_e2e.det_box, rtol=0, atol=1e-2)


@needs_openmmlab
def test_moving_the_networks_moves_the_whole_openmmlab_backend(
    pose_dir: Path, configs: tuple[YoloxConfig, RtmwConfig], pth_files: tuple[Path, Path]
) -> None:
    backend = _backend("openmmlab", configs, pth_files)
    for network in backend.networks:
        network.to("meta")
        tensors = [*network.parameters(), *network.buffers()]
        assert tensors and all(t.device.type == "meta" for t in tensors)
        # OpenMMLab puts each input batch where its data preprocessor says.
        assert network.data_preprocessor.device.type == "meta"


def test_opencv_5_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cv2, "__version__", "5.0.0")
    with pytest.warns(UserWarning, match="OpenCV 5.0.0.*warpAffine"):
        check_opencv()
    monkeypatch.setattr(cv2, "__version__", "4.13.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_opencv()
