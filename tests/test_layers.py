import torch

from svdgan.layers import ConvLSTM, SeparableConv2d, conv2d, upconv2d


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


def test_pick_fastest_form_keeps_the_function_and_sets_the_form():
    sep = SeparableConv2d(12, 3, 5).eval()
    x = torch.randn(1, 12, 16, 16)
    with torch.no_grad():
        sep.dense = True
        dense = sep(x)
        sep.dense = False
        separate = sep(x)
    torch.testing.assert_close(dense, separate, atol=1e-5, rtol=1e-5)
    chosen = sep.pick_fastest_form(x, repeats=1)
    assert sep.dense is chosen and isinstance(chosen, bool)
    with torch.no_grad():
        torch.testing.assert_close(sep(x), separate, atol=1e-5, rtol=1e-5)


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
