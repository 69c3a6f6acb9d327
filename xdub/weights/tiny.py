"""``make-tiny``: a complete model folder of seeded random TEST WEIGHTS in the released layout.

Every component is real code at a tiny width: the DiT (``XDubDiT``), the VAE
(``VideoVAE38_(dim=4, dec_dim=4)``), umt5 (``WanTextEncoder``) with a word-level tokenizer
built offline, the text context computed from them, an OpenAI-format Whisper checkpoint and a
transformers wav2vec2 folder, and YOLOX / RTMW ``.pth`` files. ``xdub-model.json`` records
every config and ``"test_weights": true``. The DiT's audio input width is the tiny Whisper +
wav2vec2 widths.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path

import torch
from diffsynth.models.wan_video_text_encoder import WanTextEncoder
from diffsynth.models.wan_video_vae import RMS_norm
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from torch import nn

from xdub.audio.tiny import write_tiny_openai_whisper, write_tiny_wav2vec2
from xdub.face.nets.configs import RtmwConfig, YoloxConfig
from xdub.face.nets.rtmw import Rtmw
from xdub.face.nets.yolox import Yolox
from xdub.model.config import DiTConfig
from xdub.model.dit import XDubDiT, init_random_weights
from xdub.model.vae import build_vae_module
from xdub.model.vae_config import VaeConfig
from xdub.weights.folder import (
    METADATA_FILE,
    ComponentInfo,
    FolderMetadata,
    ModelFolder,
    config_to_json,
)
from xdub.weights.loading import dtype_name
from xdub.weights.text_config import Umt5Config
from xdub.weights.text_context import compute_text_context, save_text_context

TINY_DTYPE = torch.float32
TINY_WHISPER = {"n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 32, "n_audio_head": 2,
                "n_audio_layer": 2}  # fmt: skip
TINY_WAV2VEC2 = {"hidden_size": 32, "num_hidden_layers": 2}
TINY_WHISPER_DTYPE = torch.float16  # as large-v2.pt
# The reduced widths of the pose reference (pose/README.md §2): same structure, 1/16 width.
TINY_YOLOX = YoloxConfig(deepen_factor=0.33, widen_factor=0.0625, neck_in_channels=(16, 32, 64),
                         neck_out_channels=16, neck_num_csp_blocks=1, head_in_channels=16,
                         head_feat_channels=16)  # fmt: skip
TINY_RTMW = RtmwConfig(deepen_factor=0.33, widen_factor=0.0625, neck_in_channels=(16, 32, 64),
                       neck_num_csp_blocks=1, head_in_channels=64, gau_hidden_dims=64,
                       gau_s=32)  # fmt: skip
TOKENIZER_SPECIAL = ("<pad>", "</s>", "<unk>")  # ids 0, 1, 2 as in umt5
_TOKENIZER_WORDS = ("a", "face", "speaks", "the", "lips", "move")
_VAE_HEAD_GAIN = 0.4  # the golden tiny VAE's decoder-head scale, keeps outputs inside [-1, 1]


def tiny_dit_config() -> DiTConfig:
    """``DiTConfig.tiny_for_tests()`` with its audio input sized for the tiny audio encoders."""
    base = DiTConfig.tiny_for_tests()
    audio_width = TINY_WHISPER["n_audio_state"] + TINY_WAV2VEC2["hidden_size"]
    return dataclasses.replace(base, audio=dataclasses.replace(base.audio, in_dim=audio_width))


TINY_CROP_SIZE = 64
"""The golden loop's crop size: a 4x4 latent grid, so a take runs in seconds on a CPU."""


def make_tiny_folder(root: Path, *, seed: int = 0) -> ModelFolder:
    """Write every component into ``root`` (created if needed) and return the folder.

    Components get seeds ``seed``, ``seed + 1``, ... in table order, so folders made with the
    same seed are byte-identical in their tensors.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    folder = ModelFolder(root)
    dit_config = tiny_dit_config()
    vae_config = VaeConfig.tiny_for_tests()
    umt5_config = Umt5Config.tiny_for_tests(
        text_dim=dit_config.text_dim, vocab=len(TOKENIZER_SPECIAL) + len(_TOKENIZER_WORDS)
    )

    write_tiny_dit(folder.path("dit"), dit_config, seed=seed)
    write_tiny_vae(folder.path("vae"), vae_config, seed=seed + 1)
    write_tiny_umt5(folder.path("umt5"), umt5_config, seed=seed + 2)
    write_tiny_tokenizer(folder.path("tokenizer"))
    context = compute_text_context(
        folder.path("tokenizer"), folder.path("umt5"), "cpu", TINY_DTYPE, config=umt5_config
    )
    save_text_context(context, folder.path("text_context"), encoder_file=folder.path("umt5").name)

    write_tiny_openai_whisper(
        folder.path("whisper"),
        seed=seed + 3,
        n_mels=TINY_WHISPER["n_mels"],
        n_audio_ctx=TINY_WHISPER["n_audio_ctx"],
        width=TINY_WHISPER["n_audio_state"],
        heads=TINY_WHISPER["n_audio_head"],
        layers=TINY_WHISPER["n_audio_layer"],
        dtype=TINY_WHISPER_DTYPE,
    )
    write_tiny_wav2vec2(
        folder.path("wav2vec2"),
        seed=seed + 4,
        width=TINY_WAV2VEC2["hidden_size"],
        layers=TINY_WAV2VEC2["num_hidden_layers"],
    )

    write_tiny_mmengine(
        folder.path("yolox"), lambda: Yolox(TINY_YOLOX).init_score_priors(), seed=seed + 5
    )
    write_tiny_mmengine(folder.path("rtmw"), lambda: Rtmw(TINY_RTMW), seed=seed + 6)

    float32 = dtype_name(TINY_DTYPE)
    metadata = FolderMetadata(
        is_test_weights=True,
        seed=seed,
        crop_size=TINY_CROP_SIZE,
        components={
            "dit": ComponentInfo(float32, json.loads(dit_config.to_json())),
            "vae": ComponentInfo(float32, vae_config.to_json()),
            "umt5": ComponentInfo(float32, umt5_config.to_json()),
            "text_context": ComponentInfo(float32),
            "whisper": ComponentInfo(dtype_name(TINY_WHISPER_DTYPE), dict(TINY_WHISPER)),
            "wav2vec2": ComponentInfo(float32, dict(TINY_WAV2VEC2)),
            "yolox": ComponentInfo(float32, config_to_json(TINY_YOLOX)),
            "rtmw": ComponentInfo(float32, config_to_json(TINY_RTMW)),
        },
    )
    (root / METADATA_FILE).write_text(metadata.to_json())
    return folder


def write_tiny_dit(path: Path, config: DiTConfig, *, seed: int) -> None:
    """An ``XDubDiT`` of ``config`` with ``init_random_weights(seed)``, saved as safetensors."""
    with torch.device("meta"):
        dit = XDubDiT(config)
    dit = dit.to_empty(device="cpu")
    init_random_weights(dit, seed=seed)
    _save_module(dit, path)


def write_tiny_vae(path: Path, config: VaeConfig, *, seed: int) -> None:
    """A ``WanVideoVAE38`` of ``config`` (``model.*`` keys) with the golden tiny-VAE init."""
    vae = build_vae_module(config).to_empty(device="cpu")
    _init_vae(vae, torch.Generator().manual_seed(seed))
    _save_module(vae, path)


def write_tiny_umt5(path: Path, config: Umt5Config, *, seed: int) -> None:
    """A ``WanTextEncoder`` of ``config`` with DiffSynth's own init, seeded."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        umt5 = WanTextEncoder(**dataclasses.asdict(config))
    _save_module(umt5, path)


def write_tiny_mmengine(path: Path, build: Callable[[], nn.Module], *, seed: int) -> None:
    """An OpenMMLab-style ``.pth`` (``{"meta", "state_dict"}``) of ``build()``'s own seeded
    init (BatchNorm statistics at their defaults)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"note": "TEST WEIGHTS: seeded random values"}
    torch.save({"meta": meta, "state_dict": module.state_dict()}, path)


def write_tiny_tokenizer(folder: Path) -> Path:
    """A word-level tokenizer in transformers' fast format: ``</s>`` (id 1) ends every text,
    so ``""`` tokenises to ``[1]`` as with umt5. Loads with ``AutoTokenizer``."""
    vocab = {token: index for index, token in enumerate(TOKENIZER_SPECIAL + _TOKENIZER_WORDS)}
    pad, eos, unk = TOKENIZER_SPECIAL
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {eos}", special_tokens=[(eos, vocab[eos])]
    )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "pad_token": pad,
        "eos_token": eos,
        "unk_token": unk,
        "model_max_length": 512,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1))
    return folder


def _init_vae(vae: nn.Module, generator: torch.Generator) -> None:
    """The golden tiny-VAE init: weights N(0, 1/fan_in) (decoder head x0.4), RMS gamma
    1 + 0.1 N, biases 0.05 N."""
    gammas = {id(module.gamma) for module in vae.modules() if isinstance(module, RMS_norm)}
    with torch.no_grad():
        for name, param in vae.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if id(param) in gammas:
                param.copy_(1 + 0.1 * noise)
            elif param.ndim >= 2:
                gain = _VAE_HEAD_GAIN if name.startswith("model.decoder.head.") else 1.0
                param.copy_(gain * noise / math.sqrt(param[0].numel()))
            else:
                param.copy_(0.05 * noise)


def _save_module(module: nn.Module, path: Path) -> None:
    state = {
        name: tensor.detach().to(TINY_DTYPE).contiguous()
        for name, tensor in module.state_dict().items()
    }
    save_file(state, str(path))
