"""Mapping network z → w (StyleGAN2): pixel-norm, an MLP at a reduced learning rate, broadcast to num_ws,
a running average `w_avg` (the truncation centre), and truncation toward any centre."""

from __future__ import annotations

import torch
from torch import nn

from sdstylegan.models.layers import FullyConnected, normalize_2nd_moment


def truncate(
    ws: torch.Tensor,  # [N, num_ws, w_dim]
    psi: float,
    center: torch.Tensor,  # [w_dim], [N, w_dim] or [N, num_ws, w_dim]
    cutoff: int | None = None,  # truncate only the first `cutoff` ws (coarse layers); None = all
) -> torch.Tensor:
    """w' = c + psi · (w − c) on the first `cutoff` layers (psi = 0 → the centre, 1 → unchanged)."""
    if psi < 0:
        raise ValueError(f"truncation_psi must be >= 0, got {psi}")
    n, num_ws, w_dim = ws.shape
    if center.ndim == 1:
        center = center.reshape(1, 1, -1)
    elif center.ndim == 2:
        center = center.unsqueeze(1)
    if (
        center.ndim != 3
        or center.shape[-1] != w_dim
        or center.shape[0] not in (1, n)
        or center.shape[1] not in (1, num_ws)
    ):
        raise ValueError(
            f"truncation_center must have shape [{w_dim}], [{n}, {w_dim}] or [{n}, {num_ws}, {w_dim}], "
            f"got {tuple(center.shape)}"
        )
    cutoff = num_ws if cutoff is None else int(cutoff)
    if not 0 <= cutoff <= num_ws:
        raise ValueError(f"truncation_cutoff must be in [0, {num_ws}], got {cutoff}")
    center = center.to(ws.dtype).expand(n, num_ws, w_dim)
    head = center[:, :cutoff].lerp(ws[:, :cutoff], psi)
    return torch.cat([head, ws[:, cutoff:]], dim=1)


class MappingNetwork(nn.Module):
    """z [N, z_dim] → ws [N, num_ws, w_dim]; keeps `w_avg`, the EMA of w, for truncation."""

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 8,  # StyleGAN2 config F: 8; `auto`/tiny: 2
        layer_features: int | None = None,  # hidden width; None = w_dim
        activation: str = "lrelu",
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,  # decay of the w_avg EMA (StyleGAN2/-ADA: 0.995; StyleGAN3 uses 0.998)
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"mapping num_layers must be >= 1, got {num_layers}")
        self.z_dim, self.w_dim, self.num_ws, self.w_avg_beta = z_dim, w_dim, num_ws, w_avg_beta
        hidden = w_dim if layer_features is None else layer_features
        features = [z_dim] + [hidden] * (num_layers - 1) + [w_dim]
        self.layers = nn.ModuleList(
            FullyConnected(i, o, activation=activation, lr_multiplier=lr_multiplier)
            for i, o in zip(features[:-1], features[1:], strict=True)
        )
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(
        self,
        z: torch.Tensor,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        truncation_center: torch.Tensor | None = None,  # None = w_avg; multi-modal truncation passes a centre
        update_emas: bool = False,
    ) -> torch.Tensor:
        """ws [N, num_ws, w_dim] for latents z [N, z_dim]."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"mapping expects z of shape [N, {self.z_dim}], got {tuple(z.shape)}")
        if truncation_psi < 0:
            raise ValueError(f"truncation_psi must be >= 0, got {truncation_psi}")
        x = normalize_2nd_moment(z.to(torch.float32))
        for layer in self.layers:
            x = layer(x)
        if update_emas:
            with torch.no_grad():
                # float32 statistics: under autocast x may be bf16/fp16 while w_avg stays float32.
                self.w_avg.copy_(x.detach().float().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1 or truncation_center is not None:
            center = self.w_avg if truncation_center is None else truncation_center
            ws = truncate(ws, truncation_psi, center, truncation_cutoff)
        return ws

    def extra_repr(self) -> str:  # noqa: D102
        return f"z_dim={self.z_dim}, w_dim={self.w_dim}, num_ws={self.num_ws}"
