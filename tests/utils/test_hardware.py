"""The machine record beside every figure says when the libraries were held to older kernels."""

from svdgan.utils.hardware import describe, hardware


def test_kernel_limits_are_kept_beside_a_figure_and_named_in_its_line(monkeypatch):
    for name in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "OPENCV_CPU_DISABLE", "NPY_DISABLE_CPU_FEATURES"):
        monkeypatch.delenv(name, raising=False)
    assert "isa_limits" not in hardware() and "=" not in describe(hardware())
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    record = hardware()
    assert record["isa_limits"] == {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert describe(record).endswith("; ONEDNN_MAX_CPU_ISA=AVX2")
