"""StyleGAN2Module: one step's effect on G, D, G_ema; lazy regularisers; resume equivalence; bad input."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf

from sdstylegan.data.datamodule import ManifestDataModule
from sdstylegan.data.demo_stage import generate_demo_dataset
from sdstylegan.training.callbacks import KimgCheckpoint
from sdstylegan.training.checkpoint import AtomicCheckpointIO, load_checkpoint
from sdstylegan.training.data import TrainingDataModule
from sdstylegan.training.ema import ema_beta
from sdstylegan.training.module import StyleGAN2Module

RES = 16


def tiny_model(res: int = RES) -> dict:
    net = {"img_resolution": res, "channel_base": 128, "channel_max": 16}
    return {
        "generator": {
            "_target_": "sdstylegan.models.generator.Generator",
            "z_dim": 16,
            "w_dim": 16,
            "mapping_layers": 2,
            **net,
        },
        "discriminator": {
            "_target_": "sdstylegan.models.discriminator.Discriminator",
            "mbstd_group_size": 4,
            **net,
        },
        "encoder": {"_target_": "sdstylegan.models.encoder.Encoder", "w_dim": 16, **net},
    }


def training_cfg(make_cfg, *overrides: str) -> dict:
    cfg = make_cfg(
        [
            "training.batch_size=4",
            "training.total_kimg=1",
            "training.ema.kimg=0.01",
            "training.ema.rampup=null",
            *overrides,
        ]
    )
    return OmegaConf.to_container(cfg.training, resolve=True)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate_demo_dataset(out, num_images=8, seed=0, resolution=RES, num_workers=1)
    return out / "manifest.jsonl"


def make_data(manifest: Path, batch: int = 4, seed: int = 0) -> TrainingDataModule:
    inner = ManifestDataModule(str(manifest), resolution=RES, batch_size=batch, num_workers=0, xflip=True)
    return TrainingDataModule(inner, seed=seed, min_images=batch)


def make_trainer(root: Path, callbacks=(), **kw) -> pl.Trainer:
    args = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        plugins=[AtomicCheckpointIO()],
        max_epochs=-1,
        use_distributed_sampler=False,
        default_root_dir=str(root),
        callbacks=list(callbacks),
        enable_checkpointing=any(isinstance(c, KimgCheckpoint) for c in callbacks),
        deterministic=True,
    )
    args.update(kw)
    return pl.Trainer(**args)


def params(m: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def test_one_step_changes_g_and_d_and_updates_g_ema_by_the_ema_formula(make_cfg, manifest, tmp_path):
    torch.manual_seed(0)
    t = training_cfg(make_cfg, "training.total_kimg=0.004", "training.r1_gamma=1.0")
    module = StyleGAN2Module(tiny_model(), t)
    g0, d0 = params(module.G), params(module.D)
    ema0 = {k: v.detach().clone() for k, v in module.G_ema.named_parameters()}
    make_trainer(tmp_path).fit(module, datamodule=make_data(manifest))
    assert int(module.cur_nimg) == 4 and module.kimg == 0.004
    assert any(not torch.equal(g0[k], v) for k, v in params(module.G).items()), "G did not change"
    assert any(not torch.equal(d0[k], v) for k, v in params(module.D).items()), "D did not change"
    beta = ema_beta(4, 0, module.ema_kimg, None)
    assert 0 < beta < 1
    g1 = dict(module.G.named_parameters())
    for k, v in module.G_ema.named_parameters():
        expected = g1[k].detach().lerp(ema0[k], beta)
        torch.testing.assert_close(v, expected, rtol=1e-5, atol=1e-6)
    assert not all(torch.equal(v, g1[k]) for k, v in module.G_ema.named_parameters()), "G_ema just copied G"


def test_r1_and_path_length_are_nonzero_and_run_on_their_intervals(make_cfg, manifest, tmp_path):
    torch.manual_seed(0)
    t = training_cfg(
        make_cfg,
        "training.total_kimg=0.012",
        "training.r1_gamma=1.0",
        "training.loss.r1_interval=2",
        "training.loss.pl_interval=3",
    )
    module = StyleGAN2Module(tiny_model(), t)
    steps: list[int] = []
    first: dict[str, float] = {}

    class Record(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args):
            steps.append(trainer.global_step)
            if not first:
                first.update({k: float(v) for k, v in trainer.callback_metrics.items()})

    make_trainer(tmp_path, callbacks=[Record()]).fit(module, datamodule=make_data(manifest))
    assert first["train/r1"] > 0 and first["train/pl"] > 0
    # Optimiser steps per minibatch: Gmain + Dmain, + Greg at 0 (interval 3), + Dreg at 0 and 2 (interval 2).
    assert [b - a for a, b in zip([0] + steps, steps)] == [4, 2, 3]
    assert float(module.loss.pl_mean) > 0


def test_mixed_precision_step_keeps_regularisers_finite(make_cfg, manifest, tmp_path):
    """Under bf16 autocast (the CPU mixed precision) R1 and path length still run, in float32, and stay finite."""
    torch.manual_seed(0)
    t = training_cfg(make_cfg, "training.total_kimg=0.004", "training.r1_gamma=1.0")
    module = StyleGAN2Module(tiny_model(), t)
    logged: dict[str, float] = {}

    class Record(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args):
            logged.update({k: float(v) for k, v in trainer.callback_metrics.items()})

    make_trainer(tmp_path, callbacks=[Record()], precision="bf16-mixed").fit(
        module, datamodule=make_data(manifest)
    )
    assert logged["train/r1"] > 0 and logged["train/pl"] > 0
    assert all(torch.isfinite(torch.tensor(v)) for v in logged.values())
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in module.G.parameters())


def test_batch_gpu_splits_each_phase_into_rounds(make_cfg, manifest, tmp_path):
    """training.batch_gpu=2 with a per-rank batch of 4: D never sees more than 2 images per pass, kimg counts 4."""
    torch.manual_seed(0)
    module = StyleGAN2Module(
        tiny_model(), training_cfg(make_cfg, "training.total_kimg=0.004", "training.batch_gpu=2")
    )
    sizes: list[int] = []
    module.D.register_forward_hook(lambda m, args, out: sizes.append(args[0].shape[0]))
    make_trainer(tmp_path).fit(module, datamodule=make_data(manifest))
    assert int(module.cur_nimg) == 4 and sizes and max(sizes) == 2
    bad = StyleGAN2Module(tiny_model(), training_cfg(make_cfg, "training.batch_gpu=3"))
    with pytest.raises(ValueError, match="not a multiple of training.batch_gpu=3"):
        make_trainer(tmp_path / "bad").fit(bad, datamodule=make_data(manifest))


def _fit(module, manifest, root, total_kimg, ckpt_path=None):
    module.total_kimg = total_kimg
    ck = KimgCheckpoint(every_kimg=None, monitor=None)
    trainer = make_trainer(root, callbacks=[ck])
    trainer.fit(module, datamodule=make_data(manifest), ckpt_path=ckpt_path, weights_only=True)
    return trainer


def test_resume_equals_uninterrupted_training(make_cfg, manifest, tmp_path):
    """N steps, stop, resume in a fresh module for N more == 2N uninterrupted (state and parameters)."""
    t = training_cfg(
        make_cfg,
        "training.r1_gamma=1.0",
        "training.loss.r1_interval=2",
        "training.loss.pl_interval=2",
        "training.ada.interval=1",
        "training.ada.kimg=1",
    )
    torch.manual_seed(0)
    ref = StyleGAN2Module(tiny_model(), t)
    init = copy.deepcopy(ref.state_dict())
    _fit(ref, manifest, tmp_path / "a", total_kimg=0.016)

    torch.manual_seed(0)
    first = StyleGAN2Module(tiny_model(), t)
    first.load_state_dict(init)
    _fit(first, manifest, tmp_path / "b", total_kimg=0.008)
    last = tmp_path / "b" / "checkpoints" / "last.ckpt"
    assert load_checkpoint(last)["sdstylegan"]["kimg"] == 0.008
    torch.manual_seed(123)  # a different process state: resume must restore the RNG itself
    second = StyleGAN2Module(tiny_model(), t)
    trainer = _fit(second, manifest, tmp_path / "b", total_kimg=0.016, ckpt_path=str(last))

    assert int(second.cur_nimg) == int(ref.cur_nimg) == 16
    assert int(second.minibatches) == 4 and trainer.global_step == ref.trainer.global_step
    assert float(second.ada.p) == float(ref.ada.p) and float(ref.ada.p) > 0
    assert float(second.loss.pl_mean) == float(ref.loss.pl_mean)
    for name in ("G", "D", "G_ema"):
        a, b = params(getattr(ref, name)), params(getattr(second, name))
        for k in a:
            torch.testing.assert_close(b[k], a[k], rtol=0, atol=0, msg=f"{name}.{k} differs after resume")
    for oa, ob in zip(ref.trainer.optimizers, trainer.optimizers, strict=True):
        sa, sb = oa.state_dict(), ob.state_dict()
        assert sa["param_groups"] == sb["param_groups"]
        for i in sa["state"]:
            assert int(sa["state"][i]["step"]) == int(sb["state"][i]["step"])
            torch.testing.assert_close(
                sb["state"][i]["exp_avg_sq"], sa["state"][i]["exp_avg_sq"], rtol=0, atol=0
            )


def test_non_finite_loss_stops_with_clear_message_and_keeps_checkpoint(make_cfg, manifest, tmp_path):
    torch.manual_seed(0)
    t = training_cfg(make_cfg, "training.r1_gamma=1.0")
    module = StyleGAN2Module(tiny_model(), t)
    _fit(module, manifest, tmp_path, total_kimg=0.004)
    last = tmp_path / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    with torch.no_grad():
        next(module.D.parameters()).fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="non-finite .* loss .*last good checkpoint"):
        _fit(module, manifest, tmp_path, total_kimg=0.012)
    assert last.read_bytes() == before
    assert load_checkpoint(last)["sdstylegan"]["kimg"] == 0.004


def test_batch_of_wrong_resolution_is_refused(make_cfg, manifest, tmp_path):
    module = StyleGAN2Module(tiny_model(res=8), training_cfg(make_cfg))
    with pytest.raises(ValueError, match="does not match the generator's resolution 8"):
        make_trainer(tmp_path).fit(module, datamodule=make_data(manifest))


def test_dataset_smaller_than_one_batch_is_refused(manifest):
    data = TrainingDataModule(
        ManifestDataModule(str(manifest), resolution=RES, batch_size=4, num_workers=0, xflip=False),
        seed=0,
        min_images=32,
    )
    with pytest.raises(ValueError, match="has 8 images .* at least one batch of 32"):
        data.setup("fit")


# ----------------------------------------------------------------------------
# Two CPU processes (gloo), launched like torchrun would: Lightning sees LOCAL_RANK and joins them.


class CountAllReduce(pl.Callback):
    """Counts DDP's gradient all-reduces (one per bucket per synchronised backward) through a comm hook."""

    def __init__(self):
        self.calls = 0

    def on_fit_start(self, trainer, module):
        from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

        def counting(state, bucket):
            self.calls += 1
            return allreduce_hook(state, bucket)

        trainer.strategy.model.register_comm_hook(None, counting)


def _ddp_worker(manifest: str, cfg_json: str, out_dir: str) -> None:
    import json

    from pytorch_lightning.strategies import DDPStrategy

    torch.manual_seed(0)  # same initial weights on both ranks (DDP also broadcasts them)
    module = StyleGAN2Module(tiny_model(), json.loads(Path(cfg_json).read_text()))
    hook = CountAllReduce()
    trainer = make_trainer(
        Path(out_dir),
        devices=2,
        deterministic=False,
        strategy=DDPStrategy(find_unused_parameters=True, process_group_backend="gloo"),
        callbacks=[hook],
    )
    data = TrainingDataModule(
        ManifestDataModule(manifest, resolution=RES, batch_size=2, num_workers=0), seed=0, min_images=4
    )
    trainer.fit(module, datamodule=data)
    torch.save(
        {
            "allreduce_calls": hook.calls,
            "G_ema": params(module.G_ema),
            "G": params(module.G),
            "nimg": int(module.cur_nimg),
            "p": float(module.ada.p),
            "pl_mean": float(module.loss.pl_mean),
        },
        Path(out_dir) / f"rank{trainer.global_rank}.pt",
    )


@pytest.mark.slow  # ~40 s on 2 busy cores: twice two interpreters, gloo rendezvous
def test_two_process_cpu_ddp_keeps_ranks_identical_and_syncs_once_per_phase(make_cfg, manifest, tmp_path):
    cfg = training_cfg(
        make_cfg,
        "training.total_kimg=0.012",
        "training.r1_gamma=1.0",
        "training.loss.r1_interval=2",
        "training.loss.pl_interval=2",
        "training.ada.interval=1",
        "training.ada.kimg=1",
    )
    results = {}
    for rounds in (1, 2):  # batch_gpu 2 (one round per phase) and 1 (two accumulation rounds)
        out = tmp_path / f"rounds{rounds}"
        out.mkdir()
        results[rounds] = _launch_two_ranks(manifest, {**cfg, "batch_gpu": 2 // rounds}, out)
    for r0, r1 in results.values():
        assert r0["nimg"] == r1["nimg"] == 12  # 3 minibatches of 2 images × 2 ranks
        assert r0["p"] == r1["p"] and r0["pl_mean"] == r1["pl_mean"]
        for name in ("G", "G_ema"):
            for k in r0[name]:
                assert torch.equal(r0[name][k], r1[name][k]), f"{name}.{k} differs between ranks"
    # gradients are all-reduced once per phase, not once per accumulation round
    assert results[2][0]["allreduce_calls"] == results[1][0]["allreduce_calls"] > 0


def _launch_two_ranks(manifest, cfg: dict, tmp_path: Path) -> tuple[dict, dict]:
    import json
    import os
    import socket
    import subprocess
    import sys

    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(2):
        env = {
            **os.environ,
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "NODE_RANK": "0",
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "RANK": str(rank),
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, str(manifest), str(tmp_path / "cfg.json"), str(tmp_path)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    logs = [p.communicate(timeout=300)[0].decode(errors="replace") for p in procs]
    assert all(p.returncode == 0 for p in procs), logs[0][-3000:] + logs[1][-3000:]
    return tuple(torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))


if __name__ == "__main__":
    import sys

    _ddp_worker(*sys.argv[1:4])


@pytest.mark.parametrize("update_generator", [True, False])
def test_encoder_terms_reach_g_only_when_update_generator(make_cfg, manifest, tmp_path, update_generator):
    """One step with tiny vs huge reconstruction weights: G ends equal when E trains alone, differs when joint;
    E learns in both cases."""
    after = []
    for weight in (1e-3, 1e3):
        torch.manual_seed(0)
        t = training_cfg(
            make_cfg,
            "training.total_kimg=0.004",
            "training.encoder.lambda_lpips=0",
            f"training.encoder.lambda_l1={weight}",
            f"training.encoder.lambda_w={weight}",
            f"training.encoder.update_generator={update_generator}",
        )
        module = StyleGAN2Module(tiny_model(), t, encoder=True)
        e0 = params(module.E)
        make_trainer(tmp_path / f"{update_generator}{weight}").fit(module, datamodule=make_data(manifest))
        assert any(not torch.equal(e0[k], v) for k, v in params(module.E).items()), "E did not change"
        after.append(params(module.G))
    same = all(torch.equal(after[0][k], after[1][k]) for k in after[0])
    assert same != update_generator


@pytest.mark.parametrize("total_kimg", [0.008, 0.012])
def test_encoder_joins_at_start_kimg(make_cfg, manifest, tmp_path, total_kimg):
    """`encoder.start_kimg` 0.008 (two steps of 4): before it E stays bit-identical and its terms do not reach
    G (huge and tiny weights give the same G); the step at 0.008 trains E."""
    after = []
    for weight in (1e-3, 1e3):
        torch.manual_seed(0)
        t = training_cfg(
            make_cfg,
            f"training.total_kimg={total_kimg}",
            "training.encoder.start_kimg=0.008",
            "training.encoder.lambda_lpips=0",
            f"training.encoder.lambda_l1={weight}",
            f"training.encoder.lambda_w={weight}",
        )
        module = StyleGAN2Module(tiny_model(), t, encoder=True)
        e0 = params(module.E)
        make_trainer(tmp_path / f"{total_kimg}{weight}").fit(module, datamodule=make_data(manifest))
        e_same = all(torch.equal(e0[k], v) for k, v in params(module.E).items())
        assert e_same == (total_kimg <= 0.008)
        after.append(params(module.G))
    g_same = all(torch.equal(after[0][k], after[1][k]) for k in after[0])
    assert g_same == (total_kimg <= 0.008)


def test_sanitize_gradients_replaces_nan_and_inf_and_leaves_finite_values():
    from sdstylegan.training.module import sanitize_gradients

    lin = torch.nn.Linear(2, 2)
    lin.weight.grad = torch.tensor([[float("nan"), 1.5], [float("inf"), -float("inf")]])
    lin.bias.grad = None  # a parameter without gradient stays without
    sanitize_gradients(lin)
    assert lin.weight.grad.tolist() == [[0.0, 1.5], [1e5, -1e5]] and lin.bias.grad is None
