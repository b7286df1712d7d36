"""One training step of the SVD-GAN: the generator, the discriminator, their optimisers, and one
update of each on a batch of clips (whole frames or objects' crops alike)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from svdgan.config import Config
from svdgan.errors import UserError
from svdgan.model.discriminator import Discriminator
from svdgan.model.generator import Generator
from svdgan.model.losses import adversarial_loss, discriminator_loss, generator_losses
from svdgan.training.distributed import Dist
from svdgan.utils.fpmode import flushed_denormals
from svdgan.utils.precision import resolve_precision


class Models:
    """Generator, discriminator and their optimisers (Adam for G, RMSProp for D, as the authors).

    `g` and `d` are what training calls: the modules themselves, or their DDP wrappers, which
    average the gradients over processes, when several run under torchrun.
    """

    def __init__(self, config: Config, device: torch.device | None = None, world: int = 1):
        t = config.train
        device = device or torch.device("cpu")
        self.generator = Generator(config.model).to(device, memory_format=torch.channels_last)
        self.discriminator = Discriminator(config.model).to(device, memory_format=torch.channels_last)
        self.g: torch.nn.Module = self.generator
        self.d: torch.nn.Module = self.discriminator
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [device.index] if device.type == "cuda" else None
            self.g = DDP(self.generator, device_ids=ids)
            self.d = DDP(self.discriminator, device_ids=ids)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=t.lr_generator,
                                      weight_decay=t.weight_decay)
        self.opt_d = torch.optim.RMSprop(self.discriminator.parameters(), lr=t.lr_discriminator)

    def state(self) -> dict[str, Any]:
        return {"generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load(self, payload: dict[str, Any]) -> None:
        self.generator.load_state_dict(payload["generator"])
        self.discriminator.load_state_dict(payload["discriminator"])
        self.opt_g.load_state_dict(payload["opt_g"])
        self.opt_d.load_state_dict(payload["opt_d"])


def split_clips(clips: torch.Tensor, config: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """Generator inputs and the frames it must produce: the same T frames when reconstructing;
    frames 0..T-1 and 1..T of a T+1-frame clip when predicting."""
    if config.target_offset:
        return clips[:, :-1], clips[:, 1:]
    return clips, clips


@flushed_denormals()  # denormal gradients through saturated tanh/sigmoid are slow on CPUs
def train_step(models: Models, clips: torch.Tensor, config: Config, dist: Dist | None = None) -> dict[str, float]:
    """One generator and one discriminator update on a batch (B, T, C, S, S).

    The discriminator sees X and G(X) once: each loss's backward is restricted to its own
    network's parameters, so G's loss does not train D, D's loss does not reach into G, and
    no third discriminator pass over a detached G(X) is needed.
    """
    g, d = models.g.train(), models.d.train()
    inputs, targets = split_clips(clips, config)
    bf16 = resolve_precision(config.train.precision, clips.device, announce=False) == "bf16"
    with torch.autocast(clips.device.type, dtype=torch.bfloat16, enabled=bf16):
        out = g(inputs)
        real, fake = d(targets), d(out.recon)
        adversarial = adversarial_loss(real.prob, fake.prob, real.features, fake.features,
                                       config.loss.adversarial_kind)
        losses = generator_losses(targets, out.recon.float(), out.latent.float(), out.latent_recon.float(),
                                  adversarial.float(), config.loss)
        loss_d = discriminator_loss(real.prob, fake.prob)
    models.opt_g.zero_grad(set_to_none=True)
    models.opt_d.zero_grad(set_to_none=True)
    losses.total.backward(inputs=list(g.parameters()), retain_graph=True)
    loss_d.backward(inputs=list(d.parameters()))
    models.opt_g.step()
    models.opt_d.step()
    values = {"discriminator": loss_d.item(), **{k: v.item() for k, v in losses._asdict().items()}}
    values["generator"] = values.pop("total")
    if dist is not None:  # every process logs, and stops on, the same (mean) values
        values = dict(zip(values, dist.mean(list(values.values()))))
    if not all(np.isfinite(v) for v in values.values()):
        raise UserError("training diverged: a loss is NaN or infinite (try a lower learning rate); "
                        "the last checkpoint on disk is the last good state")
    return values
