"""qjit.torch without a GPU: op registration and fake (meta) shapes, the weight quantization rule, W8A8Linear's
construction, load_quantized on a file the test writes, and the errors a CPU tensor gets."""

import struct

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed: the qjit.torch tests need it")

import qjit  # noqa: E402
import qjit.torch as qtorch  # noqa: E402
from test_safetensors import write_safetensors  # noqa: E402


def test_ops_are_registered():
    for name in ("quantized_linear", "smooth_quant_linear", "quantize_per_token", "scaled_mm", "rms_norm_quantize",
                 "rms_norm_quantize_static", "layer_norm_quantize", "weight_only_linear"):
        assert hasattr(torch.ops.qjit, name)


def test_weight_only_linear_schema():
    assert str(torch.ops.qjit.weight_only_linear.default._schema) == (
        "qjit::weight_only_linear(Tensor x, Tensor w_q, Tensor w_scale, Tensor? bias=None, Tensor? zero_point=None, "
        "int? group_size=None) -> Tensor")


def test_weight_only_linear_fake_shapes():
    x = torch.empty(2, 5, 512, dtype=torch.float16, device="meta")
    w = torch.empty(32, 512, dtype=torch.int8, device="meta")
    for scale_shape, group_size in (((32,), None), ((32, 1), None), ((1,), None), ((32, 4), 128), ((32, 8), None)):
        s = torch.empty(scale_shape, dtype=torch.float32, device="meta")
        zp = torch.empty(scale_shape, dtype=torch.int32, device="meta")
        b = torch.empty(32, dtype=torch.float16, device="meta")
        y = torch.ops.qjit.weight_only_linear(x, w, s, b, zp, group_size)
        assert y.shape == (2, 5, 32) and y.dtype == torch.float16 and y.device.type == "meta"
    s = torch.empty(32, dtype=torch.float32, device="meta")
    y = torch.ops.qjit.weight_only_linear(x.to(torch.bfloat16)[0], w, s)
    assert y.shape == (5, 32) and y.dtype == torch.bfloat16


def test_fake_shapes():
    # register_fake also serves meta tensors: the shapes torch.compile traces with.
    if True:
        x = torch.empty(2, 5, 64, dtype=torch.bfloat16, device="meta")
        w = torch.empty(32, 64, dtype=torch.int8, device="meta")
        s = torch.empty(32, dtype=torch.float32, device="meta")
        y = torch.ops.qjit.quantized_linear(x, w, s, None)
        assert y.shape == (2, 5, 32) and y.dtype == torch.bfloat16
        z = torch.ops.qjit.smooth_quant_linear(torch.empty(7, 64, dtype=torch.int8, device="meta"), 0.1, w, s, None,
                                               torch.float16)
        assert z.shape == (7, 32) and z.dtype == torch.float16
        q, sc = torch.ops.qjit.quantize_per_token(x)
        assert q.shape == (2, 5, 64) and q.dtype == torch.int8 and sc.shape == (2, 5) and sc.dtype == torch.float32
        a = torch.empty(3, 7, 64, dtype=torch.int8, device="meta")
        y = torch.ops.qjit.scaled_mm(a, w, torch.empty(21, device="meta"), s, None, torch.bfloat16)
        assert y.shape == (3, 7, 32) and y.dtype == torch.bfloat16
        g = torch.empty(64, dtype=torch.bfloat16, device="meta")
        q, sc = torch.ops.qjit.rms_norm_quantize(x, g, 1e-6, None)
        assert q.shape == (2, 5, 64) and q.dtype == torch.int8 and sc.shape == (2, 5) and sc.dtype == torch.float32
        q, sc = torch.ops.qjit.layer_norm_quantize(x, g, g, 1e-5, torch.empty_like(x))
        assert q.shape == (2, 5, 64) and sc.shape == (2, 5)
        assert torch.ops.qjit.rms_norm_quantize_static(x, g, 1e-6, 0.5).shape == (2, 5, 64)


def test_cpu_tensor_is_refused_naming_x():
    x = torch.randn(4, 64)
    w = torch.zeros(32, 64, dtype=torch.int8)
    s = torch.ones(32)
    with pytest.raises(qjit.InvalidArgumentError, match="^x must be in CUDA device memory, got a tensor on cpu"):
        torch.ops.qjit.quantized_linear(x, w, s, None)
    with pytest.raises(qjit.InvalidArgumentError, match="^x must be in CUDA device memory"):
        qjit.quantized_linear(x, w, s)
    xh = x.to(torch.float16)
    with pytest.raises(qjit.InvalidArgumentError, match="^x must be in CUDA device memory, got a tensor on cpu"):
        torch.ops.qjit.weight_only_linear(xh, w, s, None, None, None)
    with pytest.raises(qjit.InvalidArgumentError, match="^x must be in CUDA device memory"):
        qjit.weight_only_linear(xh, w, s)


def test_quantize_weight_rule():
    u = 2.0 ** -10
    w = torch.tensor([[0.0, 0.0, 0.0], [254.0, -127.0, 1.0], [127.0, 63.5, -64.5], [127 * u, 2.5 * u, -3.5 * u]])
    q, s = qtorch.quantize_weight_per_channel(w)
    assert q.dtype == torch.int8 and s.dtype == torch.float32
    assert s.tolist() == [0.0, 2.0, 1.0, u]  # absmax / 127; a zero row gets scale 0 and q 0
    assert q[0].tolist() == [0, 0, 0]
    assert q[1].tolist() == [127, -64, 0]  # -63.5 and 0.5: ties round to even
    assert q[2].tolist() == [127, 64, -64]
    assert q[3].tolist() == [127, 2, -4]


def test_quantize_weight_refuses_nan():
    with pytest.raises(qjit.InvalidArgumentError, match="finite"):
        qtorch.quantize_weight_per_channel(torch.tensor([[1.0, float("nan")]]))


def test_from_linear_and_from_quantized():
    lin = torch.nn.Linear(64, 32)
    m = qtorch.W8A8Linear.from_linear(lin)
    assert m.weight_q.shape == (32, 64) and m.weight_scale.shape == (32,) and m.bias is not None
    deq = m.weight_q.float() * m.weight_scale[:, None]
    assert torch.allclose(deq, lin.weight.detach(), atol=float(m.weight_scale.max()) / 2 + 1e-7)
    with pytest.raises(qjit.InvalidArgumentError, match="weight_scale.shape must be"):
        qtorch.W8A8Linear.from_quantized(m.weight_q, m.weight_scale[:5])
    assert "in_features=64, out_features=32, bias=True" in repr(m)


def test_from_linear_pads_an_odd_k_weight_once():
    lin = torch.nn.Linear(100, 8)
    m = qtorch.W8A8Linear.from_linear(lin)
    q, s = qtorch.quantize_weight_per_channel(lin.weight)
    assert m.weight_q.shape == (8, 100) and m.weight_q.stride() == (128, 1)  # 128-byte rows, read in place
    assert torch.equal(m.weight_q, q) and torch.equal(m.weight_scale, s)
    assert qtorch.W8A8Linear.from_quantized(q, s).weight_q.stride() == (100, 1)  # a contiguous one stays so


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = torch.nn.LayerNorm(3)
        self.layer = torch.nn.Module()
        self.layer.fc = torch.nn.Linear(3, 2)
        self.head = torch.nn.Linear(2, 4)


def _quantized(tmp_path, wshape=(2, 3)):
    n = wshape[0]
    w = struct.pack(f"<{wshape[0] * wshape[1]}b", *range(wshape[0] * wshape[1]))
    return write_safetensors(tmp_path / "q.safetensors", {
        "layer.fc.weight": ("I8", wshape, w), "layer.fc.weight_scale": ("F32", (n,), struct.pack(f"<{n}f", *[0.5] * n)),
        "layer.fc.input_scale": ("F32", (1,), struct.pack("<f", 0.01)),
        "norm.weight": ("F32", (3,), struct.pack("<3f", 1.0, 0.5, 2.0)),
        "head.weight": ("F32", (4, 2), struct.pack("<8f", *[0.25] * 8))})


def test_load_quantized_swaps_linears_and_loads_the_rest(tmp_path):
    model = Tiny()
    bias = model.layer.fc.bias.detach().clone()
    assert qtorch.load_quantized(model, _quantized(tmp_path)) == ["layer.fc"]
    fc = model.layer.fc
    assert isinstance(fc, qtorch.W8A8Linear)
    assert fc.weight_q.tolist() == [[0, 1, 2], [3, 4, 5]] and fc.weight_scale.tolist() == [0.5, 0.5]
    assert torch.equal(fc.bias, bias) and fc.input_scale.tolist() == [pytest.approx(0.01)]
    assert model.norm.weight.tolist() == [1.0, 0.5, 2.0]  # folded norms come along
    assert isinstance(model.head, torch.nn.Linear) and model.head.weight.flatten().tolist() == [0.25] * 8


def test_load_quantized_refuses_shape_mismatch(tmp_path):
    with pytest.raises(qjit.InvalidArgumentError, match=r"layer.fc.weight has shape \[2, 4\], but layer.fc is "
                                                        r"nn.Linear\(in_features=3, out_features=2\)"):
        qtorch.load_quantized(Tiny(), _quantized(tmp_path, wshape=(2, 4)))


def _padded(tmp_path):
    w = bytes(b % 256 for r in range(2) for b in (list(range(r * 3, r * 3 + 3)) + [0] * 13))
    return write_safetensors(tmp_path / "p.safetensors", {
        "layer.fc.weight": ("I8", (2, 16), w), "layer.fc.weight_scale": ("F32", (2,), struct.pack("<2f", 0.5, 0.5))},
        metadata={"qjit.padded_rows": '{"layer.fc.weight": {"in_features": 3, "row_stride": 16}}'})


def test_load_quantized_takes_a_padded_weight_as_its_view(tmp_path):
    model = Tiny()
    assert qtorch.load_quantized(model, _padded(tmp_path)) == ["layer.fc"]
    fc = model.layer.fc
    assert fc.weight_q.shape == (2, 3) and fc.weight_q.stride() == (16, 1)
    assert fc.weight_q.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_tensor_from_safetensors(tmp_path):
    from qjit._safetensors import SafetensorsFile

    f = SafetensorsFile(_quantized(tmp_path))
    t = f.tensor("layer.fc.weight")
    assert t.dtype == torch.int8 and t.shape == (2, 3) and t.tolist() == [[0, 1, 2], [3, 4, 5]]
    p = SafetensorsFile(_padded(tmp_path))
    assert p.tensor("layer.fc.weight").stride() == (16, 1) and p.tensor("layer.fc.weight", raw=True).shape == (2, 16)
    assert p.tensor("layer.fc.weight", device="cpu").stride() == (16, 1)


def test_pad_rows_keeps_values_and_pads_to_128_bytes():
    w = torch.randint(-127, 128, (5, 4100), dtype=torch.int8)
    p = qtorch.pad_rows(w)
    assert p.shape == (5, 4100) and p.stride() == (4224, 1) and torch.equal(p, w)
    assert qtorch.pad_rows(w, 4112).stride() == (4112, 1)
    with pytest.raises(qjit.InvalidArgumentError, match="row_stride must be >= K=4100"):
        qtorch.pad_rows(w, 4000)
