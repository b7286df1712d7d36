"""The four generator losses (paper Eq. 1 and 2) and the discriminator's BCE loss."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.nn import functional as F

from svdgan.config import LossConfig


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.promote_types(x.dtype, torch.float32))


def low_rank(x: torch.Tensor, rank: int) -> torch.Tensor:
    """Best rank-r approximation of every (H, W) matrix in x (..., H, W), as U_r U_r^T x.

    The value is exactly the truncated SVD sum_{i<=r} s_i u_i v_i^T. The singular vectors are
    computed without gradient, so the gradient is the projection onto the top-r left singular
    subspace. That keeps it finite where the SVD's own backward divides by zero: repeated
    singular values (constant, repeated or rank-deficient frames, where the rank-r subspace is
    not even unique).
    """
    rank = min(rank, *x.shape[-2:])
    # autocast off: it would compute x x^T in bfloat16, and CUDA has no bfloat16 eigh
    with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
        # The left singular vectors are the eigenvectors of x x^T: eigh of that H x H matrix is
        # cheaper than torch's SVD on a CPU, and the top-r subspace is the same.
        x32 = _at_least_fp32(x.detach())
        _, vectors = torch.linalg.eigh(x32 @ x32.transpose(-2, -1))  # ascending eigenvalues
        basis = vectors[..., -rank:].to(x.dtype)  # (..., H, r)
    return basis @ (basis.transpose(-2, -1) @ x)


def svd_loss(real: torch.Tensor, fake: torch.Tensor, rank: int) -> torch.Tensor:
    """Eq. (1): mean squared difference of the rank-r approximations of each frame channel.

    real, fake: (..., C, H, W); every (H, W) channel matrix is approximated on its own.
    """
    real, fake = _at_least_fp32(real), _at_least_fp32(fake)  # SVD in bf16 is not accurate enough
    with torch.no_grad():
        real_r = low_rank(real, rank)
    return F.mse_loss(low_rank(fake, rank), real_r)


def adversarial_loss(real_prob: torch.Tensor, fake_prob: torch.Tensor, real_features: torch.Tensor,
                     fake_features: torch.Tensor, kind: str) -> torch.Tensor:
    """"abs": E|D(X) - D(G(X))| (paper Sec. 3.3); "features": the authors' feature matching,
    E(f(X) - mean over the batch of f(G(X)))^2."""
    if kind == "features":
        return (real_features.detach() - fake_features.mean(dim=0, keepdim=True)).pow(2).mean()
    return (real_prob.detach() - fake_prob).abs().mean()


class GeneratorLosses(NamedTuple):
    total: torch.Tensor
    adversarial: torch.Tensor
    contextual: torch.Tensor
    encoder: torch.Tensor
    svd: torch.Tensor


def contextual_loss(real: torch.Tensor, recon: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Mean |X - G(X)| ("l1", the paper's) or mean (X - G(X))^2 ("l2")."""
    error = real - recon
    return error.pow(2).mean() if kind == "l2" else error.abs().mean()


def generator_losses(real: torch.Tensor, recon: torch.Tensor, latent: torch.Tensor,
                     latent_recon: torch.Tensor, adversarial: torch.Tensor, cfg: LossConfig
                     ) -> GeneratorLosses:
    """Eq. (2), weighted: adversarial + contextual (L1, or L2 with `contextual_kind`) + encoder (L2) + SVD."""
    contextual = contextual_loss(real, recon, cfg.contextual_kind)
    encoder = (latent - latent_recon).pow(2).mean()
    svd = svd_loss(real, recon, cfg.svd_rank) if cfg.svd > 0 else recon.new_zeros(())
    total = (cfg.adversarial * adversarial + cfg.contextual * contextual
             + cfg.encoder * encoder + cfg.svd * svd)
    return GeneratorLosses(total, adversarial, contextual, encoder, svd)


def discriminator_loss(real_prob: torch.Tensor, fake_prob: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy: real frames -> 1, generated frames -> 0."""
    real_prob, fake_prob = real_prob.float(), fake_prob.float()
    with torch.autocast(real_prob.device.type, enabled=False):  # CUDA's autocast refuses BCE on probabilities
        return (F.binary_cross_entropy(real_prob, torch.ones_like(real_prob))
                + F.binary_cross_entropy(fake_prob, torch.zeros_like(fake_prob))) / 2
