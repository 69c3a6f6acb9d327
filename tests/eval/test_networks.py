"""SyncNet (LSE-C/D) and ArcFace (CSIM) layouts: full-size keys and shapes on the meta device,
tiny random weights through the weights reader, and the documented output shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xdub.errors import ModelError
from xdub.eval.identity import IResNet, IResNetConfig, csim
from xdub.eval.mfcc import mfcc
from xdub.eval.syncnet import SyncNet, SyncNetConfig, lse
from xdub.eval.weights import (
    ARCFACE_FILES,
    EVAL_DIR,
    SYNCNET_FILES,
    find_weights,
    load_arcface,
    load_syncnet,
    save_tiny,
)


def test_full_syncnet_has_syncnet_python_s_layout() -> None:
    with torch.device("meta"):
        state = SyncNet().state_dict()
    shapes = {name: tuple(t.shape) for name, t in state.items()}
    assert len(shapes) == 102
    assert sum(t.numel() for t in state.values()) == 13_640_270
    assert shapes["netcnnaud.0.weight"] == (64, 1, 3, 3)
    assert shapes["netcnnaud.18.weight"] == (512, 256, 5, 4)
    assert shapes["netcnnlip.0.weight"] == (96, 3, 5, 7, 7)
    assert shapes["netcnnlip.18.weight"] == (512, 256, 1, 6, 6)
    assert shapes["netfcaud.3.weight"] == shapes["netfclip.3.weight"] == (1024, 512)
    assert "netcnnlip.19.running_var" in shapes


def test_full_arcface_has_iresnet100_s_layout() -> None:
    with torch.device("meta"):
        state = IResNet().state_dict()
    assert sum(t.numel() for t in state.values()) == 65_225_946
    assert tuple(state["fc.weight"].shape) == (512, 512 * 7 * 7)
    assert tuple(state["layer3.29.conv2.weight"].shape) == (256, 256, 3, 3)
    assert tuple(state["layer1.0.downsample.0.weight"].shape) == (64, 64, 1, 1)
    assert tuple(state["features.weight"].shape) == (512,)
    assert "layer3.30.bn1.weight" not in state


def test_tiny_syncnet_loads_from_the_model_folder_and_gives_lse(tmp_path) -> None:
    torch.manual_seed(0)
    config = SyncNetConfig.tiny_for_tests()
    written = SyncNet(config).eval()
    path = save_tiny(written, config, tmp_path / EVAL_DIR / SYNCNET_FILES[1])
    assert find_weights(tmp_path, SYNCNET_FILES) == path
    model = load_syncnet(path)
    assert model.embed_audio(torch.zeros(3, 1, 13, 20)).shape == (3, config.embed_dim)
    assert model.embed_lips(torch.zeros(2, 3, 5, 224, 224)).shape == (2, config.embed_dim)
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, size=(30, 224, 224, 3), dtype=np.uint8)
    features = mfcc(rng.standard_normal(16000 * 30 // 25) * 0.1)
    result = lse(model, faces, features)
    reference = lse(written, faces, features)
    assert result.mean_distances.shape == (31,)
    assert result.lse_d == pytest.approx(float(result.mean_distances.min()))
    assert result.lse_c >= 0
    assert -15 <= result.offset_frames <= 15
    np.testing.assert_allclose(result.mean_distances, reference.mean_distances, rtol=1e-5)


def test_tiny_arcface_loads_and_gives_one_cosine_per_face(tmp_path) -> None:
    torch.manual_seed(0)
    config = IResNetConfig.tiny_for_tests()
    path = save_tiny(IResNet(config).eval(), config, tmp_path / EVAL_DIR / ARCFACE_FILES[1])
    model = load_arcface(find_weights(tmp_path, ARCFACE_FILES))
    assert model(torch.zeros(2, 3, 112, 112)).shape == (2, config.num_features)
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, size=(3, 90, 90, 3), dtype=np.uint8)
    same = csim(model, faces, faces)
    assert same.shape == (3,)
    np.testing.assert_allclose(same, 1.0, atol=1e-5)
    assert path.with_name(path.name + ".json").is_file()


def test_weights_of_another_layout_are_refused_clearly(tmp_path) -> None:
    path = save_tiny(
        SyncNet(SyncNetConfig.tiny_for_tests()),
        IResNetConfig.tiny_for_tests(),
        tmp_path / "x.safetensors",
    )
    path.with_name(path.name + ".json").unlink()  # claims the released layout
    with pytest.raises(ModelError, match="does not match SyncNet"):
        load_syncnet(path)


def test_no_weights_means_none_found(tmp_path) -> None:
    assert find_weights(tmp_path, SYNCNET_FILES) is None
    assert find_weights(None, ARCFACE_FILES) is None


def test_mfcc_has_13_coefficients_at_100_hz() -> None:
    features = mfcc(np.zeros(16000))
    assert features.shape == (13, 99)
    tone = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000) * 0.5
    assert np.isfinite(mfcc(tone)).all()


# python_speech_features 0.6 ``mfcc(x * 32768, 16000)`` of the signal below, first 3 frames
# (computed once with that package; ours matched it to 0.0 on random audio too).
_PSF_MFCC = [
    [20.99327, 20.98357, 20.97809],
    [7.38684, 17.72030, 28.79368],
    [-11.88871, -14.46681, -14.78837],
    [-26.15573, -26.97544, -28.24901],
    [-5.56518, -8.02357, -9.19062],
    [24.26436, 23.05171, 22.34220],
    [35.69474, 34.82351, 33.91819],
    [14.30492, 14.47562, 13.52538],
    [-16.33141, -15.43199, -16.09308],
    [-28.10039, -25.90870, -25.60905],
    [-13.25830, -10.19728, -8.74732],
    [5.71516, 9.03098, 11.25050],
    [8.06838, 10.53604, 12.82949],
]


def test_mfcc_matches_python_speech_features() -> None:
    n = np.arange(1200)
    signal = np.sin(n * 0.37) * 0.3 + np.cos(n * 0.05) * 0.2
    # 5e-5: the pinned values are rounded to 5 decimals.
    np.testing.assert_allclose(mfcc(signal)[:, :3], np.array(_PSF_MFCC), atol=5e-5)
