import dataclasses

import torch

from svdgan.config import ModelConfig
from svdgan.model.discriminator import Discriminator
from svdgan.model.generator import Generator
from svdgan.model.info import flops_per_frame, parameter_counts


def test_generator_shapes(tiny_config):
    cfg = tiny_config.model
    g = Generator(cfg)
    x = torch.rand(2, cfg.clip_len, cfg.channels, cfg.size, cfg.size) * 2 - 1
    out = g(x)
    assert out.recon.shape == x.shape
    latent_shape = (2, cfg.clip_len, cfg.lstm_channels[-1], cfg.size // 8, cfg.size // 8)
    assert out.latent.shape == out.latent_recon.shape == latent_shape
    assert out.recon.abs().max() <= 1  # tanh output, the range inputs are scaled to


def test_paper_generator_layout_matches_the_authors_parameter_count():
    params = parameter_counts(ModelConfig(channels=3))  # the paper's colour frames (configs/paper.yaml)
    # the authors' Keras generator (encoder + decoder) has 2,217,818 parameters, of which their
    # batch norms hold 1,612 more than ours (Keras counts moving statistics as parameters)
    assert abs(params["generator"] - 2_217_818) < 2_000
    assert params["encoder2"] == params["encoder"]


def test_discriminator_outputs_one_probability_per_frame(tiny_config):
    cfg = tiny_config.model
    d = Discriminator(cfg)
    out = d(torch.rand(3, cfg.clip_len, cfg.channels, cfg.size, cfg.size) * 2 - 1)
    assert out.prob.shape == (3, cfg.clip_len)
    assert ((out.prob > 0) & (out.prob < 1)).all()
    assert out.features.shape == (3, cfg.clip_len, cfg.lstm_channels[-1])


def test_model_options_change_the_model(tiny_config):
    cfg = tiny_config.model
    base = parameter_counts(cfg)["generator"]
    assert parameter_counts(dataclasses.replace(cfg, separable=False))["generator"] > base
    assert parameter_counts(dataclasses.replace(cfg, separable_lstm=True))["generator"] < base
    g = Generator(dataclasses.replace(cfg, size=64, channels=1))
    assert g(torch.zeros(1, cfg.clip_len, 1, 64, 64)).recon.shape == (1, cfg.clip_len, 1, 64, 64)


def test_without_skips_each_generated_frame_comes_from_the_latent_alone(tiny_config):
    cfg = dataclasses.replace(tiny_config.model, skips=False)
    g = Generator(cfg).eval()
    x = torch.rand(1, cfg.clip_len, cfg.channels, cfg.size, cfg.size) * 2 - 1
    latent, skips = g.encoder(x)
    scrambled = type(skips)(*(torch.randn_like(s) for s in skips))
    with torch.no_grad():
        recon = g.decoder(latent.flatten(0, 1), skips)
        assert torch.equal(recon, g.decoder(latent.flatten(0, 1), scrambled))  # frame t's details cannot pass
        with_skips = Generator(dataclasses.replace(cfg, skips=True)).eval()
        with_skips.load_state_dict(g.state_dict())
        assert not torch.equal(with_skips.decoder(latent.flatten(0, 1), skips),
                               with_skips.decoder(latent.flatten(0, 1), scrambled))


def test_zero_init_residual_generator_starts_as_copy_of_the_last_frame(tiny_config):
    cfg = dataclasses.replace(tiny_config.model, target="predict", residual=True, zero_init=True)
    g = Generator(cfg)
    x = torch.rand(2, cfg.clip_len, cfg.channels, cfg.size, cfg.size) * 2 - 1
    recon, _ = g.reconstruct(x)
    assert torch.equal(recon, x)  # each position generates its own frame unchanged: "copy t-1"
    recon.sub(x.roll(-1, 1)).abs().mean().backward()
    last = [m for m in g.decoder.out.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    assert last.weight.grad.abs().sum() > 0  # and it can learn to change it
    random_init, _ = Generator(dataclasses.replace(cfg, zero_init=False)).reconstruct(x)
    assert not torch.equal(random_init, x)


def test_flops_are_counted(tiny_config):
    flops = flops_per_frame(tiny_config.model)
    assert flops["clip"] > 0
    assert flops["per_frame"] * tiny_config.model.clip_len == flops["clip"]
    assert flops["causal_per_output_frame"] < flops["windowed_per_output_frame"]


def test_folding_batch_norm_for_inference_keeps_the_function(tiny_config):
    import copy

    from svdgan.model.generator import fuse_for_inference

    config = copy.deepcopy(tiny_config)
    for separable in (True, False):
        config.model.separable = separable
        torch.manual_seed(0)
        generator = Generator(config.model)
        for module in generator.modules():
            if isinstance(module, torch.nn.BatchNorm2d):  # non-trivial statistics and affine terms
                module.running_mean.uniform_(-0.3, 0.3)
                module.running_var.uniform_(0.5, 2.0)
                torch.nn.init.uniform_(module.weight, 0.5, 1.5)
                torch.nn.init.uniform_(module.bias, -0.2, 0.2)
        generator.eval()
        fused = fuse_for_inference(generator)
        x = torch.rand(2, config.model.clip_len, config.model.channels, config.model.size, config.model.size) * 2 - 1
        with torch.no_grad():
            torch.testing.assert_close(fused.reconstruct(x)[0], generator.reconstruct(x)[0], rtol=1e-4, atol=1e-5)
        n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in fused.encoder.modules())
        assert n_bn == len(config.model.lstm_channels)  # only the ConvLSTMs' batch norms remain
