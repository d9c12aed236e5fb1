"""The standard FID Inception (2015-12-05 TensorFlow graph, torch-fidelity weights) via torchmetrics.

Network: torchmetrics' `NoTrainInceptionV3` (which wraps torch-fidelity's port of the TF graph);
2048-d pool features. Weights: resolved by `sdstylegan.utils.weights` from `metrics.inception.weights`
(a local file, or the torch-fidelity release URL cached in the torch hub folder); offline with
neither → `WeightsNotFoundError` naming that key.

Resize choice (changes the numbers!): torchmetrics ≥ 1.8 resizes to 299² with antialiased bilinear
by default. Published FIDs (StyleGAN2-ADA, torch-fidelity, the TF reference) resize with TF1's
non-antialiased bilinear, so we pass `antialias=False`, which selects torch-fidelity's bit-exact
TF1 interpolation. Inputs are uint8, as the TF graph expects.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

import torch

from sdstylegan.metrics.extractors import FeatureExtractor, StandinExtractor, state_fingerprint
from sdstylegan.utils.logging import get_logger
from sdstylegan.utils.weights import WeightsNotFoundError, load_state_dict, standin_warning

log = get_logger(__name__)

INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth"
)
CONFIG_KEY = "metrics.inception.weights"
HINT = f"The FID Inception weights are {INCEPTION_URL} (≈ 92 MB)."


def _sha256_file(path: Path) -> str:
    st = path.stat()
    return _sha256_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    # keyed by size and mtime too: a replaced file is hashed again (preflight, stages and callbacks all build it)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_weights_file(source: str | os.PathLike, config_key: str = CONFIG_KEY, hint: str = HINT) -> Path:
    """A local file for `source`: the file itself, or a URL's copy in the torch hub cache (downloaded once)."""
    src = str(source)
    path = Path(src).expanduser()
    if path.is_file():
        return path
    if src.startswith(("http://", "https://")):
        cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(src.split("?")[0])
        if not cached.is_file():
            load_state_dict(src, config_key=config_key, hint=hint)  # downloads into the hub cache, or raises
        if not cached.is_file():
            raise WeightsNotFoundError(f"{config_key}={src}: downloaded, but not found at {cached}")
        return cached
    load_state_dict(src, config_key=config_key, hint=hint)  # raises the helper's clear error
    raise WeightsNotFoundError(f"{config_key}={src}: not a file")  # pragma: no cover - load_state_dict raised


def _no_train_inception(weights_file: Path, config_key: str):
    try:
        from torchmetrics.image.fid import NoTrainInceptionV3
        from torchmetrics.utilities.imports import _TORCH_FIDELITY_AVAILABLE
    except ImportError as e:  # pragma: no cover - torchmetrics is a core dependency
        raise ModuleNotFoundError(f"torchmetrics is needed for the FID Inception: {e}") from e
    if not _TORCH_FIDELITY_AVAILABLE:
        raise ModuleNotFoundError(
            "the standard FID Inception needs torch-fidelity: pip install torch-fidelity "
            "(or torchmetrics[image]); for tests/demo set metrics.inception.pretrained=false"
        )
    try:
        return NoTrainInceptionV3(
            name="inception-v3-compat",
            features_list=["2048"],
            feature_extractor_weights_path=str(weights_file),
            antialias=False,
        )
    except RuntimeError as e:  # strict load_state_dict: keys/shapes of another network
        raise ValueError(f"{config_key}={weights_file}: not the FID Inception's weights ({e})") from e


class InceptionExtractor(FeatureExtractor):
    """2048-d pool3 features of the FID Inception; `weights_file` from `resolve_weights_file`."""

    name = "inception"
    num_features = 2048

    def __init__(
        self, weights_file: str | os.PathLike, *, is_standin: bool = False, config_key: str = CONFIG_KEY
    ):
        super().__init__()
        weights_file = Path(weights_file)
        # weights_only load first: refuses a pickle that is not a plain state dict before
        # torch-fidelity loads the same file with weights_only=False.
        load_state_dict(weights_file, config_key=config_key)
        self.net = _no_train_inception(weights_file, config_key)
        self.is_standin = bool(is_standin)
        self.freeze()
        digest = state_fingerprint(self.net) if is_standin else _sha256_file(weights_file)
        kind = "inception_arch_standin" if is_standin else "inception-2015-12-05"
        self._identity = f"{kind}(pool3-2048,resize=tf1-bilinear-299,sha256={digest[:16]})"

    @property
    def identity(self) -> str:
        return self._identity

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).to(torch.float32)


def random_inception(seed: int = 0) -> InceptionExtractor:
    """The FID Inception architecture with random weights (seeded): real timings, meaningless numbers."""
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # torchvision's Inception3 has the same parameter names and shapes as torch-fidelity's port.
        net = torchvision.models.inception_v3(
            weights=None, aux_logits=False, init_weights=True, num_classes=1008
        )
        # Calibrate batch-norm statistics on one random batch so activations keep a trained-like
        # scale: with raw init they shrink into denormals, which would make timings unrealistic.
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = 1.0
        net.train()
        with torch.no_grad():
            net(torch.rand(4, 3, 299, 299) * 2 - 1)
        net.eval()
    standin_warning(f"FID Inception architecture (seed {seed})")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inception_standin.pth"
        torch.save(net.state_dict(), path)
        return InceptionExtractor(path, is_standin=True)


def build_inception(
    weights: str | None = INCEPTION_URL,  # local file or URL of the 2015-12-05 weights
    pretrained: bool = True,  # false → a random stand-in (tests/demo), labelled _standin
    standin: str = "small",  # stand-in kind: small (random CNN) | inception (same architecture)
    standin_features: int = 64,  # feature size of the small stand-in
    seed: int = 0,  # stand-in initialisation
) -> FeatureExtractor:
    """The extractor for FID/KID as configured in `metrics.inception`."""
    if pretrained:
        if not weights:
            raise WeightsNotFoundError(f"{CONFIG_KEY} is empty. {HINT}")
        return InceptionExtractor(resolve_weights_file(weights))
    if standin == "small":
        return StandinExtractor(num_features=standin_features, seed=seed)
    if standin == "inception":
        return random_inception(seed)
    raise ValueError(f"metrics.inception.standin must be 'small' or 'inception', got {standin!r}")
