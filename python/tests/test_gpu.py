"""On a CUDA device: the ops against an f64 reference computed on the CPU from the same int8 weights and the
quantized activation the call returns, or for the weight-only (W8A16) op from the dequantized weight (bound: the
plan's precision guarantee; outputs poisoned with NaN first, so an unwritten element shows), under torch.compile, inside a captured CUDA graph, through DLPack and __cuda_array_interface__, and W8A8Linear against
nn.Linear (CuPy: test_gpu_cupy.py). Fresh random inputs every run (the seed is in each failure message)."""

import pytest

from conftest import NO_GPU_REASON, CUDA_DEVICES, random_seed

torch = pytest.importorskip("torch", reason="torch is not installed: the GPU tests drive qjit through it")

import qjit  # noqa: E402
import qjit.torch as qtorch  # noqa: E402

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(CUDA_DEVICES == 0 or not torch.cuda.is_available(), reason=NO_GPU_REASON)]

MS = [1, 16, 129]
NK = [(256, 512), (256, 520)]  # K = 520 is not a multiple of 16: the portable path
DTYPES = [torch.bfloat16, torch.float16, torch.float32]
DEV = "cuda"


@pytest.fixture
def seed():
    s = random_seed()
    torch.manual_seed(s)
    return s


def weights(n, k, bias_dtype=None):
    w = torch.randn(n, k, device=DEV) * 0.05
    q, s = qtorch.quantize_weight_per_channel(w)
    b = torch.randn(n, device=DEV, dtype=bias_dtype) if bias_dtype is not None else None
    return q, s, b


def reference(act_q, act_scale, w_q, w_scale, bias):
    """f64 on the CPU: y = act_scale[m] * w_scale[n] * acc + bias[n], and the magnitude the guarantee scales."""
    a, w = act_q.cpu().double(), w_q.cpu().double()
    scale = act_scale.cpu().double().reshape(-1, 1) * w_scale.cpu().double().reshape(1, -1)
    y = scale * (a @ w.T)
    mag = scale.abs() * (a.abs() @ w.abs().T)
    if bias is not None:
        y = y + bias.cpu().double()
        mag = mag + bias.cpu().double().abs()
    return y, mag


def assert_within(y, ref, mag, eps, seed, what):
    assert not torch.isnan(y).any(), f"{what}: unwritten (NaN) outputs, seed {seed}"
    err = (y.cpu().double() - ref).abs()
    bound = eps * mag + torch.finfo(y.dtype).tiny
    worst = (err - bound).max().item()
    assert worst <= 0, f"{what}: error exceeds the guarantee (eps {eps:.3g}) by {worst:.3g}, seed {seed}"


def quantize_reference(x):
    """The per-token rule on the CPU in f32 (absmax / 127, IEEE division, ties to even, saturate)."""
    xf = x.cpu().float()
    s = xf.abs().amax(dim=1) / 127.0
    safe = torch.where(s == 0, torch.ones_like(s), s)
    q = torch.round(torch.clamp(xf / safe[:, None], -128, 127))
    q = torch.where(s[:, None] == 0, torch.zeros_like(q), q)
    return q.to(torch.int8), s


def guarantee(m, n, k, dtype, has_bias):
    with torch.cuda.device(0):
        return qjit.select_quantized_linear(qjit.m_bucket(m), n, k, dtype, has_bias).precision_guarantee()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("n, k", NK)
@pytest.mark.parametrize("m", MS)
def test_quantized_linear_against_f64(m, n, k, dtype, seed):
    x = torch.randn(m, k, device=DEV, dtype=dtype)
    w_q, w_scale, bias = weights(n, k, dtype)
    out = torch.full((m, n), float("nan"), device=DEV, dtype=dtype)
    # Rows of preferred_row_stride(K): the quantize pass writes act_q on every path (a misaligned act_q, such as
    # contiguous rows of K = 520, is left untouched on sm_90a, where the pass writes the plan's staged copy instead).
    act_q = torch.full((m, qjit.preferred_row_stride(k)), 0x55, device=DEV, dtype=torch.int8)[:, :k]
    act_scale = torch.full((m,), float("nan"), device=DEV)
    y = qjit.quantized_linear(x, w_q, w_scale, bias, out, act_q=act_q, act_scale=act_scale)
    torch.cuda.synchronize()
    assert y is out
    ref, mag = reference(act_q, act_scale, w_q, w_scale, bias)
    g = guarantee(m, n, k, dtype, True)
    assert g.deterministic and g.exact_accumulation
    assert_within(y, ref, mag, g.epilogue_relative_error, seed, f"quantized_linear m={m} n={n} k={k} {dtype}")
    q_ref, s_ref = quantize_reference(x)
    assert torch.equal(act_q.cpu(), q_ref) and torch.equal(act_scale.cpu(), s_ref), f"quantization, seed {seed}"
    # the torch op: the same kernels, so the same bits; leading dimensions flatten into M
    y_op = torch.ops.qjit.quantized_linear(x.reshape(1, m, k), w_q, w_scale, bias)
    assert y_op.shape == (1, m, n) and torch.equal(y_op.reshape(m, n), y), f"torch op differs, seed {seed}"


@pytest.mark.parametrize("n, k", NK)
@pytest.mark.parametrize("m", MS)
def test_smoothed_quantized_linear_and_w8a8_linear(m, n, k, seed):
    """x * pre_quant_scale (= 1/s) in the quantize pass: act_q and the scales match the CPU rule applied to
    RN_f32(x * r) bit for bit, the output is within the guarantee, and a W8A8Linear with pre_quant_scale
    (weight = W * diag(s)) gives the same bits."""
    x = torch.randn(m, k, device=DEV, dtype=torch.bfloat16)
    s = torch.exp2(torch.rand(k, device=DEV) * 6 - 3)
    r = 1.0 / s
    w = torch.randn(n, k, device=DEV) * 0.05
    w_q, w_scale = qtorch.quantize_weight_per_channel(w * s[None, :])
    act_q = torch.full((m, qjit.preferred_row_stride(k)), 0x55, device=DEV, dtype=torch.int8)[:, :k]  # read back
    act_scale = torch.full((m,), float("nan"), device=DEV)
    y = qjit.quantized_linear(x, w_q, w_scale, act_q=act_q, act_scale=act_scale, pre_quant_scale=r)
    torch.cuda.synchronize()
    q_ref, s_ref = quantize_reference(x.cpu().float() * r.cpu())  # one f32 multiply on the CPU
    assert torch.equal(act_q.cpu(), q_ref) and torch.equal(act_scale.cpu(), s_ref), f"quantization, seed {seed}"
    ref, mag = reference(act_q, act_scale, w_q, w_scale, None)
    with torch.cuda.device(0):
        eps = qjit.select_quantized_linear(qjit.m_bucket(m), n, k, torch.bfloat16, False, has_smooth=True) \
            .precision_guarantee().epilogue_relative_error
    assert_within(y, ref, mag, eps, seed, f"smoothed quantized_linear m={m} n={n} k={k}")
    y_op = torch.ops.qjit.quantized_linear(x, w_q, w_scale, None, r)
    assert torch.equal(y_op, y), f"torch op differs, seed {seed}"
    layer = qtorch.W8A8Linear.from_quantized(w_q, w_scale, pre_quant_scale=r)
    assert torch.equal(layer(x), y), f"W8A8Linear with pre_quant_scale differs from the call, seed {seed}"
    # Sanity against the unquantized product: these random factors (1/8 .. 8, nothing like SmoothQuant's) cost
    # accuracy (0.988-0.99 seen on the H200); forgetting to divide by s would leave x · diag(s) · Wᵀ (far below).
    exact = x.double() @ w.double().T
    cos = torch.nn.functional.cosine_similarity(y.double().flatten(), exact.flatten(), dim=0).item()
    assert cos > 0.95, f"smoothed W8A8 vs the exact product: cosine {cos}, seed {seed}"


@pytest.mark.parametrize("m", MS)
def test_quantize_per_token_op(m, seed):
    x = torch.randn(m, 520, device=DEV, dtype=torch.bfloat16)
    x[0] = 0  # a zero row: scale 0, q 0
    q, s = torch.ops.qjit.quantize_per_token(x)
    q_ref, s_ref = quantize_reference(x)
    assert torch.equal(q.cpu(), q_ref) and torch.equal(s.cpu(), s_ref), f"seed {seed}"


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("m", MS)
def test_smooth_quant_linear_against_f64(m, dtype, seed):
    n, k, act_scale = 256, 512, 0.0173
    x_q = torch.randint(-128, 128, (m, k), device=DEV, dtype=torch.int8)
    w_q, w_scale, bias = weights(n, k, dtype)
    out = torch.full((m, n), float("nan"), device=DEV, dtype=dtype)
    qjit.smooth_quant_linear(x_q, act_scale, w_q, w_scale, bias, out)
    y_op = torch.ops.qjit.smooth_quant_linear(x_q, act_scale, w_q, w_scale, bias, dtype)
    torch.cuda.synchronize()
    scale = torch.full((m,), act_scale, dtype=torch.float32)
    ref, mag = reference(x_q, scale, w_q, w_scale, bias)
    with torch.cuda.device(0):
        eps = qjit.select_smooth_quant_linear(qjit.m_bucket(m), n, k, act_scale, dtype, True) \
            .precision_guarantee().epilogue_relative_error
    assert_within(out, ref, mag, eps, seed, f"smooth_quant_linear m={m} {dtype}")
    assert torch.equal(y_op, out)


@pytest.mark.parametrize("modes", [("per_token", "per_channel"), ("per_tensor", "per_channel"),
                                   ("per_token", "per_tensor"), ("per_tensor", "per_tensor")], ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("m", MS)
def test_scaled_mm_against_f64_and_its_torch_op(m, dtype, modes, seed):
    """qjit.scaled_mm with device scales in every mode, against the f64 reference (output poisoned first), and
    torch.ops.qjit.scaled_mm on a 3-D activation: the same kernels, so the same bits."""
    act_mode, weight_mode = modes
    n, k = 256, 520  # K % 16 != 0 as well: the contiguous int8 rows are staged into the workspace on Hopper
    a_q = torch.randint(-128, 128, (m, k), device=DEV, dtype=torch.int8)
    w_q = torch.randint(-128, 128, (n, k), device=DEV, dtype=torch.int8)
    a_scale = torch.rand(m if act_mode == "per_token" else 1, device=DEV) * 0.02 + 1e-3
    w_scale = torch.rand(n if weight_mode == "per_channel" else 1, device=DEV) * 0.02 + 1e-3
    bias = torch.randn(n, device=DEV, dtype=dtype) if m != 16 else None
    out = torch.full((m, n), float("nan"), device=DEV, dtype=dtype)
    y = qjit.scaled_mm(a_q, w_q, a_scale, w_scale, bias, out)
    torch.cuda.synchronize()
    assert y is out
    ref, mag = reference(a_q, a_scale.expand(m), w_q, w_scale.expand(n), bias)
    with torch.cuda.device(0):
        eps = qjit.select_scaled_matmul(qjit.m_bucket(m), n, k, dtype, bias is not None, act_mode, weight_mode) \
            .precision_guarantee().epilogue_relative_error
    assert_within(y, ref, mag, eps, seed, f"scaled_mm m={m} {dtype} {act_mode}/{weight_mode}")
    y_op = torch.ops.qjit.scaled_mm(a_q.reshape(1, m, k), w_q, a_scale, w_scale, bias, dtype)
    assert y_op.shape == (1, m, n) and torch.equal(y_op.reshape(m, n), y), f"torch op differs, seed {seed}"


def test_under_torch_compile(seed):
    lin = torch.nn.Linear(512, 256, device=DEV, dtype=torch.bfloat16)
    mod = qtorch.W8A8Linear.from_linear(lin)
    x = torch.randn(2, 8, 512, device=DEV, dtype=torch.bfloat16)
    eager = mod(x)
    compiled = torch.compile(mod, fullgraph=True)
    y = compiled(x)
    torch.cuda.synchronize()
    assert y.shape == (2, 8, 256) and y.dtype == torch.bfloat16
    assert torch.equal(y, eager), f"seed {seed}"


def test_inside_a_cuda_graph(seed):
    m, n, k = 16, 256, 520
    w_q, w_scale, bias = weights(n, k, torch.bfloat16)
    x_static = torch.randn(m, k, device=DEV, dtype=torch.bfloat16)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up: selects the plan before capture
        torch.ops.qjit.quantized_linear(x_static, w_q, w_scale, bias)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y_static = torch.ops.qjit.quantized_linear(x_static, w_q, w_scale, bias)
    for _ in range(3):
        x = torch.randn(m, k, device=DEV, dtype=torch.bfloat16)
        y_static.fill_(float("nan"))
        x_static.copy_(x)
        graph.replay()
        torch.cuda.synchronize()
        eager = torch.ops.qjit.quantized_linear(x, w_q, w_scale, bias)
        assert torch.equal(y_static, eager), f"seed {seed}"


def test_capture_without_warm_up_is_a_clear_error():
    qjit.clear_plan_cache()
    w_q, w_scale, _ = weights(384, 512)
    x = torch.randn(1000, 512, device=DEV, dtype=torch.float16)
    graph = torch.cuda.CUDAGraph()
    with pytest.raises(qjit.UnsupportedError, match="warm-up"):
        with torch.cuda.graph(graph):
            torch.ops.qjit.quantized_linear(x, w_q, w_scale, None)


def test_w8a8_linear_matches_nn_linear(seed):
    for dtype in (torch.bfloat16, torch.float16, torch.float32):
        lin = torch.nn.Linear(520, 256, device=DEV, dtype=dtype)
        x = torch.randn(3, 43, 520, device=DEV, dtype=dtype)
        y = qtorch.W8A8Linear.from_linear(lin)(x)
        ref = lin(x)
        assert y.dtype == dtype and y.shape == ref.shape
        cos = torch.nn.functional.cosine_similarity(y.double().flatten(), ref.double().flatten(), dim=0).item()
        assert cos > 0.999, f"{dtype}: cosine {cos}, seed {seed}"


def test_dlpack_and_cuda_array_interface_producers(seed):
    """Torch tensors seen only through __dlpack__ / __cuda_array_interface__ (no framework: every buffer given)."""
    m, n, k = 16, 256, 512
    x = torch.randn(m, k, device=DEV, dtype=torch.float16)
    w_q, w_scale, bias = weights(n, k, torch.float16)
    expect = torch.ops.qjit.quantized_linear(x, w_q, w_scale, bias)
    torch.cuda.synchronize()

    class DL:
        def __init__(self, t):
            self.t = t

        def __dlpack__(self, stream=None):
            return self.t.__dlpack__(stream=stream)

        def __dlpack_device__(self):
            return self.t.__dlpack_device__()

    class CAI:
        def __init__(self, t):
            self.__cuda_array_interface__ = t.__cuda_array_interface__

    for wrap in (DL, CAI):
        out = torch.full((m, n), float("nan"), device=DEV, dtype=torch.float16)
        aq = torch.empty(m, k, device=DEV, dtype=torch.int8)
        asc = torch.empty(m, device=DEV)
        with torch.cuda.device(0):
            ws_bytes = qjit.select_quantized_linear(m, n, k, "f16", True).workspace_size
        ws = torch.empty(max(ws_bytes, 1), device=DEV, dtype=torch.uint8)
        torch.cuda.synchronize()
        qjit.quantized_linear(wrap(x), wrap(w_q), wrap(w_scale), wrap(bias), wrap(out), act_q=wrap(aq),
                              act_scale=wrap(asc), workspace=wrap(ws), stream=0)
        torch.cuda.synchronize()
        assert torch.equal(out, expect), f"{wrap.__name__}, seed {seed}"


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("norm", ["rms_norm", "layer_norm"])
def test_norm_quantize_against_torch(norm, dtype, seed):
    m, k = 37, 4100
    x = torch.randn(m, k, device=DEV, dtype=dtype) * 3
    r = torch.randn(m, k, device=DEV, dtype=dtype)
    g = (torch.rand(k, device=DEV) + 0.5).to(dtype)
    b = (torch.rand(k, device=DEV) - 0.5).to(dtype)
    h = (x.float() + r.float()).to(dtype)  # what residual_out must hold, bit for bit
    res = r.clone()
    if norm == "rms_norm":
        q, s = qjit.rms_norm_quantize(x, g, 1e-6, residual=res)
        hf = h.float()
        v = hf * torch.rsqrt(hf.double().pow(2).mean(1, keepdim=True) + 1e-6).float() * g.float()
    else:
        q, s = qjit.layer_norm_quantize(x, g, b, 1e-5, residual=res)
        v = torch.nn.functional.layer_norm(h.double(), (k,), g.double(), b.double(), 1e-5).float()
    torch.cuda.synchronize()
    assert torch.equal(res.view(torch.int16 if dtype != torch.float32 else torch.int32),
                       h.view(torch.int16 if dtype != torch.float32 else torch.int32)), f"residual_out, seed {seed}"
    q_ref, s_ref = quantize_reference(v)
    assert torch.allclose(s.cpu(), s_ref, rtol=1e-5, atol=0), f"scales, seed {seed}"
    assert (q.cpu().int() - q_ref.int()).abs().max().item() <= 1, f"q, seed {seed}"
    # static scale: no per-token scales written
    q2, s2 = qjit.rms_norm_quantize(x, g, static_scale=0.05) if norm == "rms_norm" else \
        qjit.layer_norm_quantize(x, g, b, static_scale=0.05)
    assert s2 is None and q2.dtype == torch.int8


@pytest.mark.parametrize("norm", ["rms_norm", "layer_norm"])
def test_norm_quantize_torch_ops(norm, seed):
    """torch.ops.qjit.{rms,layer}_norm_quantize on a 3-D activation: the same bits as the Python call on the
    flattened rows, the residual updated in place the same way, and the static variant's q; under torch.compile
    (fullgraph) the in-place residual update survives functionalization."""
    b_, t, k = 2, 19, 4096
    x = torch.randn(b_, t, k, device=DEV, dtype=torch.bfloat16) * 2
    r = torch.randn(b_, t, k, device=DEV, dtype=torch.bfloat16)
    g = (torch.rand(k, device=DEV) + 0.5).to(torch.bfloat16)
    beta = (torch.rand(k, device=DEV) - 0.5).to(torch.bfloat16)
    r_call, r_op = r.clone(), r.clone()
    if norm == "rms_norm":
        q_ref, s_ref = qjit.rms_norm_quantize(x.reshape(-1, k), g, 1e-6, residual=r_call.view(-1, k))
        q, s = torch.ops.qjit.rms_norm_quantize(x, g, 1e-6, r_op)
    else:
        q_ref, s_ref = qjit.layer_norm_quantize(x.reshape(-1, k), g, beta, 1e-5, residual=r_call.view(-1, k))
        q, s = torch.ops.qjit.layer_norm_quantize(x, g, beta, 1e-5, r_op)
    torch.cuda.synchronize()
    assert q.shape == (b_, t, k) and s.shape == (b_, t), f"shapes, seed {seed}"
    assert torch.equal(q.reshape(-1, k), q_ref) and torch.equal(s.reshape(-1), s_ref), f"op differs, seed {seed}"
    assert torch.equal(r_op, r_call), f"residual not updated in place like the call, seed {seed}"
    if norm == "rms_norm":
        q_st = torch.ops.qjit.rms_norm_quantize_static(x, g, 1e-6, 0.05)
        q_st_ref, _ = qjit.rms_norm_quantize(x.reshape(-1, k), g, 1e-6, static_scale=0.05)
        assert torch.equal(q_st.reshape(-1, k), q_st_ref), f"static op differs, seed {seed}"

        def block(x, g, res):
            return torch.ops.qjit.rms_norm_quantize(x, g, 1e-6, res)

        r_c = r.clone()
        q_c, s_c = torch.compile(block, fullgraph=True)(x, g, r_c)
        torch.cuda.synchronize()
        assert torch.equal(q_c, q) and torch.equal(s_c, s), f"compiled op differs, seed {seed}"
        assert torch.equal(r_c, r_call), f"compiled op lost the in-place residual update, seed {seed}"


# ---- weight-only int8 (W8A16) ------------------------------------------------------------------------------------------

W8A16_SCALES = {  # mode name: (w_scale shape for N and K, group size to pass, the plan's mode and group)
    "per_channel": lambda n, k: ((n,), None, "per_channel", 0),
    "per_channel_column": lambda n, k: ((n, 1), None, "per_channel", 0),
    "per_tensor": lambda n, k: ((1,), None, "per_tensor", 0),
    # K = 512: the group size is inferred from the column count; K = 520 (not a multiple) must say it
    "per_group64": lambda n, k: ((n, -(-k // 64)), None if k % 64 == 0 else 64, "per_group", 64),
    "per_group128": lambda n, k: ((n, -(-k // 128)), None if k % 128 == 0 else 128, "per_group", 128),
}


def w8a16_weights(n, k, scale_shape, has_zero_point):
    """int8 codes, f32 scales in [1e-3, 2e-3] (so every non-zero dequantized weight is a normal f16 / bf16) and
    int32 zero points in [-8, 8] of the scales' shape."""
    w_q = torch.randint(-128, 128, (n, k), device=DEV, dtype=torch.int8)
    w_scale = torch.rand(scale_shape, device=DEV) * 1e-3 + 1e-3
    zp = torch.randint(-8, 9, scale_shape, device=DEV, dtype=torch.int32) if has_zero_point else None
    return w_q, w_scale, zp


def w8a16_reference(x, w_q, w_scale, zp, bias, group):
    """f64 on the CPU from the dequantized weight w = (q - zp) * scale: (y_ref, sum_k |x| |w| + |bias|)."""
    n, k = w_q.shape
    s = w_scale.cpu().double().reshape(-1, w_scale.shape[-1] if w_scale.dim() == 2 else 1)
    z = zp.cpu().double().reshape(s.shape) if zp is not None else torch.zeros_like(s)
    cols = torch.arange(k) // group if group else torch.zeros(k, dtype=torch.long)
    s_full, z_full = s.expand(n, -1)[:, cols], z.expand(n, -1)[:, cols]
    w = (w_q.cpu().double() - z_full) * s_full
    xd = x.cpu().double()
    y, mag = xd @ w.T, xd.abs() @ w.abs().T
    if bias is not None:
        y, mag = y + bias.cpu().double(), mag + bias.cpu().double().abs()
    return y, mag


@pytest.mark.parametrize("has_bias", [False, True], ids=["no_bias", "bias"])
@pytest.mark.parametrize("has_zero_point", [False, True], ids=["symmetric", "zero_point"])
@pytest.mark.parametrize("scales", list(W8A16_SCALES))
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("n, k", NK)
@pytest.mark.parametrize("m", MS)
def test_weight_only_linear_against_f64_and_its_torch_op(m, n, k, dtype, scales, has_zero_point, has_bias, seed):
    """qjit.weight_only_linear in every scale mode, with and without zero points and bias, against the f64 result
    of the dequantized weight (bound: the plan's precision guarantee; output poisoned first), and
    torch.ops.qjit.weight_only_linear on a 3-D activation: the same kernel, so the same bits."""
    scale_shape, group_size, mode, group = W8A16_SCALES[scales](n, k)
    x = torch.randn(m, k, device=DEV, dtype=dtype)
    w_q, w_scale, zp = w8a16_weights(n, k, scale_shape, has_zero_point)
    bias = torch.randn(n, device=DEV, dtype=dtype) if has_bias else None
    out = torch.full((m, n), float("nan"), device=DEV, dtype=dtype)
    y = qjit.weight_only_linear(x, w_q, w_scale, bias, out, zero_point=zp, group_size=group_size)
    torch.cuda.synchronize()
    assert y is out
    ref, mag = w8a16_reference(x, w_q, w_scale, zp, bias, group)
    with torch.cuda.device(0):
        g = qjit.select_weight_only_linear(qjit.m_bucket(m), n, k, dtype, mode, group, has_zero_point,
                                           has_bias).precision_guarantee()
    assert g.deterministic
    what = f"weight_only_linear m={m} n={n} k={k} {dtype} {scales} zp={has_zero_point} bias={has_bias}"
    assert_within(y, ref, mag, g.epilogue_relative_error, seed, what)
    y_op = torch.ops.qjit.weight_only_linear(x.reshape(1, m, k), w_q, w_scale, bias, zp, group_size)
    torch.cuda.synchronize()
    assert y_op.shape == (1, m, n) and y_op.dtype == dtype
    assert torch.equal(y_op.reshape(m, n).view(torch.int16), y.view(torch.int16)), f"{what}: torch op differs, " \
                                                                                    f"seed {seed}"


@pytest.mark.parametrize("m", [1, 129])
def test_weight_only_linear_strided_group_scales(m, seed):
    """Per-group scales and zero points as [N, G] views of wider buffers (one row stride for both, as the kernel
    reads them), a padded weight, and a caller-given split-K workspace: the same bits as the contiguous call."""
    n, k = 256, 520
    groups = -(-k // 64)
    x = torch.randn(m, k, device=DEV, dtype=torch.bfloat16)
    w_q, w_scale, zp = w8a16_weights(n, k, (n, groups), True)
    expect = qjit.weight_only_linear(x, w_q, w_scale, zero_point=zp, group_size=64)
    s_wide = torch.zeros(n, groups + 3, device=DEV)
    z_wide = torch.zeros(n, groups + 3, device=DEV, dtype=torch.int32)
    s_wide[:, :groups], z_wide[:, :groups] = w_scale, zp
    with torch.cuda.device(0):
        plan = qjit.select_weight_only_linear(qjit.m_bucket(m), n, k, torch.bfloat16, "per_group", 64, True)
    ws = torch.full((max(plan.workspace_size_for(m), 1),), 0x7F, device=DEV, dtype=torch.uint8)  # junk counters
    out = torch.full((m, n), float("nan"), device=DEV, dtype=torch.bfloat16)
    qjit.weight_only_linear(x, qtorch.pad_rows(w_q), s_wide[:, :groups], out=out, zero_point=z_wide[:, :groups],
                            group_size=64, workspace=ws)
    torch.cuda.synchronize()
    assert torch.equal(out.view(torch.int16), expect.view(torch.int16)), f"seed {seed}"
