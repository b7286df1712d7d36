import pytest
import torch

from svdgan.model.layers import FORMS, ConvLSTM, SeparableConv2d, conv2d, upconv2d


def test_separable_conv_shapes_and_parameter_saving():
    sep = SeparableConv2d(16, 32, 5, stride=2)
    x = torch.randn(2, 16, 20, 20)
    assert sep(x).shape == (2, 32, 10, 10)
    ordinary = conv2d(16, 32, 5, 2, separable=False)
    assert sum(p.numel() for p in sep.parameters()) < sum(p.numel() for p in ordinary.parameters())


def test_fused_separable_conv_equals_depthwise_then_pointwise():
    sep = SeparableConv2d(12, 3, 5)  # few outputs: runs as one dense conv with the composed kernel
    x = torch.randn(2, 12, 16, 16)
    reference = sep.pointwise(sep.depthwise(x))
    torch.testing.assert_close(sep(x), reference, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("channels_last", [True, False])
def test_every_form_of_a_separable_conv_computes_the_same(bias, channels_last):
    sep = SeparableConv2d(12, 3, 5, bias=bias).eval()
    x = torch.randn(2, 12, 16, 16)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    outputs = {}
    with torch.no_grad():
        for form in FORMS:
            sep.form = form
            outputs[form] = sep(x)
    for form in FORMS:
        torch.testing.assert_close(outputs[form], outputs["separate"], atol=1e-5, rtol=1e-5)


def test_pick_fastest_form_keeps_the_function_and_sets_the_form():
    sep = SeparableConv2d(12, 3, 5).eval()
    x = torch.randn(1, 12, 16, 16)
    with torch.no_grad():
        reference = sep.pointwise(sep.depthwise(x))
    chosen = sep.pick_fastest_form(x, rounds=1)
    assert sep.form == chosen and chosen in FORMS
    with torch.no_grad():
        torch.testing.assert_close(sep(x), reference, atol=1e-5, rtol=1e-5)
    strided = SeparableConv2d(12, 3, 5, stride=2).eval()
    assert strided.pick_fastest_form(x, rounds=1) in ("separate", "dense")  # taps is for stride 1 only


def test_upconv_doubles_size():
    assert upconv2d(8, 4, 5)(torch.randn(1, 8, 7, 7)).shape == (1, 4, 14, 14)
    assert upconv2d(8, 4, 3)(torch.randn(1, 8, 8, 8)).shape == (1, 4, 16, 16)


def test_convlstm_sequence_shapes_and_stride():
    lstm = ConvLSTM(4, 6, 3, stride=2)
    out, (h, c) = lstm(torch.randn(2, 5, 4, 16, 16))
    assert out.shape == (2, 5, 6, 8, 8)
    assert h.shape == c.shape == (2, 6, 8, 8)
    torch.testing.assert_close(out[:, -1], h)


def test_convlstm_is_causal_and_steps_match_sequence():
    lstm = ConvLSTM(3, 4, 3, separable=True)
    x = torch.randn(1, 6, 3, 8, 8)
    full, _ = lstm(x)
    prefix, _ = lstm(x[:, :3])
    torch.testing.assert_close(full[:, :3], prefix)  # outputs never depend on later frames
    state = None
    for t in range(6):
        state = lstm.step(lstm.input_gates(x[:, t]), state)
    torch.testing.assert_close(state[0], full[:, -1])


def test_step_and_start_advances_the_first_rows_and_starts_the_rest_from_zero():
    torch.manual_seed(0)
    lstm = ConvLSTM(4, 6).eval()
    gates = torch.randn(3, 24, 5, 5)
    with torch.no_grad():
        carried = lstm.step(torch.randn(2, 24, 5, 5), None)  # two sequences, one step in
        hidden, cell = lstm.step_and_start(gates, carried)
        expected_old = lstm.step(gates[:2], carried)
        expected_new = lstm.step(gates[2:], None)
    torch.testing.assert_close(hidden, torch.cat([expected_old[0], expected_new[0]]))
    torch.testing.assert_close(cell, torch.cat([expected_old[1], expected_new[1]]))
