"""S5 layer: HiPPO init, parallel scan == recurrence (resets, carried-in state), shapes, gradients."""

import math

import numpy as np
import pytest
import torch

from hieros.agent.s5 import S5SSM, S5Stack, hippo_legs_normal, resettable_scan

B, T, H, P = 3, 37, 8, 12


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _resets() -> torch.Tensor:
    reset = torch.zeros(B, T, dtype=torch.bool)
    reset[0, [5, 6, 20]] = True
    reset[1, 0] = True
    reset[1, T - 1] = True
    return reset


def _unroll(module, u: torch.Tensor, reset: torch.Tensor, state: torch.Tensor):
    """Reference: step through time, replacing the state by zeros where reset."""
    ys, states = [], []
    for t in range(u.shape[1]):
        mask = reset[:, t].reshape(-1, *[1] * (state.ndim - 1))
        state = torch.where(mask, torch.zeros_like(state), state)
        y, state = module.step(u[:, t], state)
        ys.append(y)
        states.append(state)
    return torch.stack(ys, 1), torch.stack(states, 1)


def test_hippo_decomposition():
    lam, v = hippo_legs_normal(16)
    np.testing.assert_allclose(lam.real, -0.5)
    np.testing.assert_allclose(v @ v.conj().T, np.eye(16), atol=1e-12)
    k = np.arange(16)
    q = np.sqrt(2 * k + 1.0)
    normal = -(np.tril(np.outer(q, q)) - np.diag(k)) + np.outer(np.sqrt(k + 0.5), np.sqrt(k + 0.5))
    np.testing.assert_allclose(v @ np.diag(lam) @ v.conj().T, normal, atol=1e-10)


def test_ssm_init():
    ssm = S5SSM(64, 128, init_blocks=4)
    torch.testing.assert_close(ssm.lambda_re, torch.full((128,), -0.5))
    # Λ is tiled: every block of 32 has the same imaginary parts.
    torch.testing.assert_close(ssm.lambda_im.view(4, 32), ssm.lambda_im[:32].expand(4, 32))
    step = ssm.log_step.exp()
    assert step.min() >= 1e-3 and step.max() <= 1e-1
    # V is unitary, so V⁻¹B₀ keeps B₀'s JAX lecun-normal second moment 1/fan_in = 1/P.
    b_power = ssm.b_tilde.pow(2).sum(-1).mean().item()
    assert b_power == pytest.approx(1 / 128, rel=0.05)
    legacy = S5SSM(64, 128, init_blocks=4, legacy_init_scale=True)
    ratio = legacy.b_tilde.pow(2).sum(-1).mean().item() / b_power
    assert ratio == pytest.approx(0.87962566103423978**4, rel=0.08)


def test_init_blocks_must_divide_state():
    with pytest.raises(ValueError, match="divisible"):
        S5SSM(8, 10, init_blocks=4)


def test_scan_matches_loop_with_resets_and_initial_state():
    lam = torch.randn(P, dtype=torch.complex128) * 0.5
    bu = torch.randn(B, T, P, dtype=torch.complex128)
    x0 = torch.randn(B, P, dtype=torch.complex128)
    reset = _resets()
    xs = resettable_scan(lam, bu, reset, x0)
    x = x0
    for t in range(T):
        x = torch.where(reset[:, t, None], 0, lam * x) + bu[:, t]
        torch.testing.assert_close(xs[:, t], x, rtol=1e-10, atol=1e-10)


def test_ssm_parallel_equals_recurrent():
    ssm = S5SSM(H, P, init_blocks=3).double()
    u = torch.randn(B, T, H, dtype=torch.float64)
    reset = _resets()
    x0 = torch.randn(B, P, dtype=torch.complex128)
    y, xs = ssm(u, reset, x0)
    y_ref, xs_ref = _unroll(ssm, u, reset, x0)
    assert y.shape == (B, T, H) and xs.shape == (B, T, P) and xs.dtype == torch.complex128
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(xs, xs_ref, rtol=1e-5, atol=1e-5)


def test_ssm_float32_parallel_close_to_recurrent():
    ssm = S5SSM(H, P, init_blocks=2)
    u = torch.randn(B, T, H)
    reset = _resets()
    zeros = torch.zeros(B, P, dtype=torch.complex64)
    y, _ = ssm(u, reset)
    y_ref, _ = _unroll(ssm, u, reset, zeros)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)


def _stack(dropout: float = 0.0) -> S5Stack:
    return S5Stack(num_blocks=3, model_dim=H, state_dim=P, init_blocks=2, dropout=dropout).double().eval()


def test_stack_parallel_equals_recurrent():
    stack = _stack(dropout=0.1)
    x = torch.randn(B, T, H, dtype=torch.float64)
    reset = _resets()
    state = torch.randn(B, 3, 2 * P, dtype=torch.complex128)
    y, states = stack(x, reset, state)
    assert y.shape == (B, T, H) and states.shape == (B, T, 3, 2 * P)
    y_ref, states_ref = _unroll(stack, x, reset, state)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(states, states_ref, rtol=1e-5, atol=1e-5)


def test_stack_default_state_is_zero_state():
    stack = _stack()
    x = torch.randn(B, T, H, dtype=torch.float64)
    y, states = stack(x, _resets())
    y0, states0 = stack(x, _resets(), stack.initial_state(B))
    torch.testing.assert_close(y, y0)
    torch.testing.assert_close(states, states0)
    assert stack.initial_state(B).shape == (B, *stack.state_shape) == (B, 3, 2 * P)


def test_reset_cuts_dependence_on_the_past():
    stack = _stack()
    x = torch.randn(B, T, H, dtype=torch.float64)
    reset = torch.zeros(B, T, dtype=torch.bool)
    reset[:, 10] = True
    y, states = stack(x, reset, torch.randn(B, 3, 2 * P, dtype=torch.complex128))
    x_other = x.clone()
    x_other[:, :10] = torch.randn(B, 10, H, dtype=torch.float64)
    y_other, states_other = stack(x_other, reset, torch.randn(B, 3, 2 * P, dtype=torch.complex128))
    torch.testing.assert_close(y[:, 10:], y_other[:, 10:])
    torch.testing.assert_close(states[:, 10:], states_other[:, 10:])
    assert not torch.allclose(y[:, :10], y_other[:, :10])
    # Without a reset, the carried-in state does matter.
    y_no_reset, _ = stack(x, None, torch.randn(B, 3, 2 * P, dtype=torch.complex128))
    y_no_reset_zero, _ = stack(x, None)
    assert not torch.allclose(y_no_reset[:, -1], y_no_reset_zero[:, -1])


def test_initial_state_continues_a_split_sequence():
    stack = _stack()
    x = torch.randn(B, T, H, dtype=torch.float64)
    reset = _resets()
    y, states = stack(x, reset)
    cut = 17
    y1, states1 = stack(x[:, :cut], reset[:, :cut])
    y2, states2 = stack(x[:, cut:], reset[:, cut:], states1[:, -1])
    torch.testing.assert_close(torch.cat([y1, y2], 1), y, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(torch.cat([states1, states2], 1), states, rtol=1e-10, atol=1e-10)


def test_gradients_flow():
    stack = S5Stack(num_blocks=2, model_dim=H, state_dim=P, init_blocks=2, dropout=0.1)
    x = torch.randn(B, T, H, requires_grad=True)
    y, states = stack(x, _resets())
    loss = y.square().mean() + states.real.square().mean()
    loss.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for name, param in stack.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
    step_y, _ = stack.step(x[:, 0].detach(), stack.initial_state(B))
    assert step_y.shape == (B, H) and math.isfinite(step_y.sum().item())


def test_paper_presets_initialise_b_and_c_at_the_originals_scale():
    """The original's port multiplies the truncated normal by 0.8796 where lecun_normal divides (D10); the config
    key reaches every SSM of the S5WM, and the paper presets keep the original's scale."""
    from hieros.agent.s5_dynamics import S5Dynamics
    from hieros.config import build_config

    def ssm(legacy: str) -> S5SSM:
        torch.manual_seed(0)
        config = build_config(["atari100k", "debug"], {"s5.legacy_init_scale": legacy})
        return S5Dynamics(config, embed_dim=8, action_dim=2).seq.blocks[0].ssm2

    legacy, plain = ssm("true"), ssm("false")
    torch.testing.assert_close(legacy.b_tilde, plain.b_tilde * 0.87962566103423978**2)
    torch.testing.assert_close(legacy.c_tilde, plain.c_tilde * 0.87962566103423978**2)
    for preset in ("atari100k", "dmc_vision", "dmc_proprio"):
        assert build_config([preset]).s5.legacy_init_scale is True


def test_discretisation_is_the_zero_order_hold_of_the_continuous_system():
    """Van Loan: for dx/dt = λx + b u with u held over Δ, expm([[λΔ, Δ], [0, 0]]) = [[Λ̄, (Λ̄-1)/λ], [0, 1]].
    Built by hand in NumPy from the parameters (scipy's expm, not the module's formula), one step of the
    SSM (state, output with the real part of C̃x and the feedthrough D) must match `step` in float64."""
    import scipy.linalg

    torch.set_default_dtype(torch.float64)
    try:
        ssm = S5SSM(H, P, init_blocks=2)
    finally:
        torch.set_default_dtype(torch.float32)
    lam = ssm.lambda_re.detach().numpy() + 1j * ssm.lambda_im.detach().numpy()
    delta = np.exp(ssm.log_step.detach().numpy())
    b = ssm.b_tilde.detach().numpy()[..., 0] + 1j * ssm.b_tilde.detach().numpy()[..., 1]  # (P, H)
    c = ssm.c_tilde.detach().numpy()[..., 0] + 1j * ssm.c_tilde.detach().numpy()[..., 1]  # (H, P)
    held = [scipy.linalg.expm(np.array([[lp * dp, dp], [0.0, 0.0]])) for lp, dp in zip(lam, delta, strict=True)]
    lambda_bar = np.array([m[0, 0] for m in held])
    input_gain = np.array([m[0, 1] for m in held])
    rng = np.random.default_rng(0)
    u = rng.normal(size=(B, H))
    state = rng.normal(size=(B, P)) + 1j * rng.normal(size=(B, P))
    x_next = lambda_bar * state + (u @ b.T) * input_gain
    y = (x_next @ c.T).real + ssm.d.detach().numpy() * u
    got_y, got_x = ssm.step(torch.from_numpy(u), torch.from_numpy(state))
    np.testing.assert_allclose(got_x.detach().numpy(), x_next, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_y.detach().numpy(), y, rtol=1e-10, atol=1e-12)


def test_discretisation_is_kept_without_gradients_and_renewed_when_a_parameter_changes():
    ssm = S5SSM(H, P)
    with torch.no_grad():
        first = ssm.discretize()
        assert ssm.discretize() is first  # kept: a rollout discretises once
        ssm.log_step.add_(0.1)  # an in-place update, as an optimiser step
        renewed = ssm.discretize()
        assert renewed is not first and all(torch.equal(a, b) for a, b in zip(renewed, ssm._discretize(), strict=True))
        for tensor in ssm.parameters():  # new data under the same parameters (as parity's to_double)
            tensor.data = tensor.data.to(torch.complex128 if tensor.is_complex() else torch.float64)
        assert ssm.discretize()[0].dtype == torch.complex128
    trained = ssm.discretize()  # with gradients: always fresh, so each backward has its own graph
    assert trained[1].requires_grad and trained is not ssm.discretize()
