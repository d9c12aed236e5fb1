"""Training throughput: img/s (and s/kimg, peak GPU memory) of the full StyleGAN2-ADA step.

Runs StyleGAN2Module through a real Lightning Trainer on synthetic demo images (all phases: Gmain,
Greg every 4, Dmain, Dreg every 16, ADA on, G_ema), timing minibatches after a warm-up. Presets and
resolutions are compared side by side in one run, on the same machine.

    python experiments/bench_training.py --preset tiny --res 32 64 --batch 32 --steps 20
    python experiments/bench_training.py --preset auto --res 256 --batch 32 --steps 60 --accelerator gpu
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from sdstylegan.data.datamodule import ManifestDataModule
from sdstylegan.data.demo_stage import generate_demo_dataset
from sdstylegan.training.data import TrainingDataModule
from sdstylegan.training.module import StyleGAN2Module

CONF = Path(__file__).resolve().parents[1] / "conf"


class StepTimer(pl.Callback):
    """Wall time of each minibatch (CUDA-synchronised)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._t = 0.0

    def on_train_batch_start(self, trainer, module, *args) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer, module, *args) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.times.append(time.perf_counter() - self._t)


def bench(
    preset: str,
    res: int,
    batch: int,
    steps: int,
    warmup: int,
    accelerator: str,
    precision: str,
    data_dir: Path,
) -> dict:
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose(
            "config",
            overrides=[
                f"model={preset}",
                f"dataset.resolution={res}",
                f"training.batch_size={batch}",
                "paths.run_dir=/tmp/bench",
            ],
        )
    manifest = data_dir / f"{res}" / "manifest.jsonl"
    if not manifest.exists():
        generate_demo_dataset(manifest.parent, num_images=max(2 * batch, 64), seed=0, resolution=res)
    total = (steps + warmup) * batch / 1000
    training = OmegaConf.to_container(cfg.training, resolve=True)
    training["total_kimg"] = total
    torch.manual_seed(0)
    module = StyleGAN2Module(OmegaConf.to_container(cfg.model, resolve=True), training)
    inner = ManifestDataModule(str(manifest), resolution=res, batch_size=batch, num_workers=2)
    timer = StepTimer()
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=1,
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        max_epochs=-1,
        use_distributed_sampler=False,
        callbacks=[timer],
    )
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.fit(module, datamodule=TrainingDataModule(inner, seed=0))
    t = timer.times[warmup:]
    # Regularisation phases run on a subset of minibatches; average over whole 16-step cycles when possible.
    img_s = batch * len(t) / sum(t)
    mem = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
    return {
        "preset": preset,
        "res": res,
        "batch": batch,
        "steps": len(t),
        "img_s": img_s,
        "s_kimg": 1000 / img_s,
        "gpu_mem_gib": mem,
        "params_G": sum(p.numel() for p in module.G.parameters()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--res", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--accelerator", default="cpu")
    ap.add_argument("--precision", default="32-true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            bench(
                args.preset,
                r,
                args.batch,
                args.steps,
                args.warmup,
                args.accelerator,
                args.precision,
                Path(tmp),
            )
            for r in args.res
        ]
    print("| preset | res | batch | timed steps | img/s | s/kimg | GPU mem (GiB) | G params |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        mem = f"{r['gpu_mem_gib']:.2f}" if r["gpu_mem_gib"] is not None else "–"
        print(
            f"| {r['preset']} | {r['res']}² | {r['batch']} | {r['steps']} | {r['img_s']:.1f} | {r['s_kimg']:.1f} | "
            f"{mem} | {r['params_G'] / 1e6:.2f} M |"
        )


if __name__ == "__main__":
    main()
