"""The compiled Lanczos program on the ISA simulator: bit for bit the golden model
(hw_lanczos_bidiag), its memory layouts written out independently, and its refusals."""

import numpy as np
import pytest

from dcom.config import DcomConfig
from dcom.isa import Instruction, Opcode, ResultIndex, Side, Status
from dcom.sw import HardwareOverflowError, InputError, hw_lanczos_bidiag
from dcom.sw.compiler import CompileError, _instruction, compile_lanczos, isa_lanczos
from dcom.sw.fparith import round_to, to_bits
from dcom.sw.isasim import IsaSimulator, check_instruction


def config(R, C, P, Q, f, acc="fp32", **extra):
    return DcomConfig(cluster_rows=R, cluster_cols=C, grid_rows=P, grid_cols=Q, expansion=f,
                      acc_format=acc, **extra)


def assert_same_run(golden, isa):
    assert (isa.rank, isa.breakdown, isa.breakdown_step) == \
        (golden.rank, golden.breakdown, golden.breakdown_step)
    for name in ("alphas", "betas", "U_basis", "V_basis"):
        expected, got = getattr(golden, name), getattr(isa, name)
        assert got.shape == expected.shape, name
        assert np.array_equal(to_bits(got.astype(expected.dtype)), to_bits(expected)), name


# (R, C, P, Q, f, acc, M, N, k): 1x1, 2x2 and 2x4 cluster arrays; 2x2, 4x4, 2x4 and 4x2 grids;
# f from 1 to R C; tall, wide, square, smaller than the array, not tile multiples; k beyond
# P and Q so that both bases have several coefficient blocks; clusters that own no chunk.
CASES = [
    (1, 1, 2, 2, 1, "fp32", 13, 9, 6),
    (2, 2, 4, 4, 2, "fp32", 37, 21, 12),
    (2, 4, 2, 4, 4, "fp16", 20, 45, 9),
    (2, 4, 4, 2, 8, "fp32", 6, 7, 5),
    (2, 2, 4, 2, 1, "fp16", 50, 12, 9),
    (2, 4, 2, 2, 2, "fp32", 29, 31, 11),
    (1, 1, 4, 4, 1, "fp16", 30, 18, 10),
    (2, 2, 4, 4, 4, "fp32", 256, 192, 20),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "{}x{}_{}x{}_f{}_{}_{}x{}_k{}".format(*c))
def test_isa_run_equals_the_golden_model_bit_for_bit(case):
    R, C, P, Q, f, acc, M, N, k = case
    cfg = config(R, C, P, Q, f, acc)
    rng = np.random.default_rng(M * N)
    a = rng.standard_normal((M, N)) * (0.25 if acc == "fp16" else 1.0)
    a[rng.random((M, N)) < 0.1] = -0.0
    *golden_result, golden = hw_lanczos_bidiag(a, 3, k, config=cfg, seed=k, return_info=True)
    *isa_result, isa = isa_lanczos(a, 3, k, config=cfg, seed=k, return_info=True)
    assert isa.breakdown is None
    assert_same_run(golden, isa)
    for expected, got in zip(golden_result, isa_result):
        assert np.array_equal(expected, got)


def test_breakdown_matches_and_brings_back_the_bases():
    # Rank 3: alpha breaks down at step 3 (the start vector has a null-space component).
    a = np.zeros((40, 30))
    a[0, 0], a[1, 1], a[2, 2] = 4.0, 2.0, 1.0
    cfg = config(2, 2, 2, 4, 2)
    U, s, Vt, golden = hw_lanczos_bidiag(a, 5, 8, config=cfg, return_info=True)
    U2, s2, Vt2, isa = isa_lanczos(a, 5, 8, config=cfg, return_info=True)
    assert isa.breakdown == "alpha" and isa.rank == 3 and isa.V_basis.shape == (30, 4)
    assert_same_run(golden, isa)
    assert np.array_equal(s, s2) and np.array_equal(U, U2) and np.array_equal(Vt, Vt2)


def test_beta_and_start_breakdowns():
    rng = np.random.default_rng(5)
    # Nearly rank one: beta_1 is the noise level, far below every norm before it.
    a = np.outer(rng.standard_normal(24), rng.standard_normal(20)) * 3 \
        + 1e-3 * rng.standard_normal((24, 20))
    cfg = config(2, 2, 2, 2, 4)
    *_, probe = hw_lanczos_bidiag(a, 2, 4, config=cfg, return_info=True)
    tol = float(np.sqrt(probe.alphas[1] * probe.betas[1]))
    *_, golden = hw_lanczos_bidiag(a, 2, 4, config=cfg, breakdown_tol=tol, return_info=True)
    *_, isa = isa_lanczos(a, 2, 4, config=cfg, breakdown_tol=tol, return_info=True)
    assert (isa.breakdown, isa.breakdown_step) == ("beta", 2)
    assert_same_run(golden, isa)
    # A threshold above the start vector's norm stops the program at its first NORM.
    U, s, Vt, isa = isa_lanczos(a, 2, 4, config=cfg, breakdown_tol=1e4, return_info=True)
    assert (isa.breakdown, isa.rank, s.shape, U.shape, Vt.shape) == \
        ("start", 0, (0,), (24, 0), (0, 20))


def test_overflow_names_the_step_of_the_golden_model():
    cfg = config(2, 2, 2, 2, 2, "fp16")
    a = np.random.default_rng(1).standard_normal((24, 20)) * 100
    with pytest.raises(HardwareOverflowError) as golden:
        hw_lanczos_bidiag(a, 2, config=cfg)
    with pytest.raises(HardwareOverflowError) as isa:
        isa_lanczos(a, 2, config=cfg)
    assert (isa.value.step, isa.value.kernel) == (golden.value.step, "norm_u")
    # FP16 storage overflow in MTV at step 1 (fp32 accumulation): found by NORM V of step 1.
    a = np.full((16, 16), 30000.0)
    with pytest.raises(HardwareOverflowError) as golden:
        hw_lanczos_bidiag(a, 1, 2, config=cfg.replace(acc_format="fp32"))
    with pytest.raises(HardwareOverflowError) as isa:
        isa_lanczos(a, 1, 2, config=cfg.replace(acc_format="fp32"))
    assert (golden.value.step, golden.value.kernel) == (1, "mtv")
    assert (isa.value.step, isa.value.kernel) == (1, "norm_v")


def test_singular_values_within_the_golden_tolerance_of_lapack():
    rng = np.random.default_rng(1)
    left = rng.standard_normal((160, 8)) * np.geomspace(4.0, 0.5, 8)
    a = (left @ rng.standard_normal((8, 120)) + 0.02 * rng.standard_normal((160, 120)))
    a = a.astype(np.float16)
    U, s, Vt = isa_lanczos(a, 5, 12, config=config(2, 2, 4, 4, 2))
    exact = np.linalg.svd(a.astype(np.float64), compute_uv=False)
    assert np.max(np.abs(s - exact[:5]) / exact[:5]) < 2e-3         # as tests/test_hwlanczos.py
    optimal = np.sqrt(np.sum(exact[5:] ** 2))
    assert np.linalg.norm(a - (U * s) @ Vt) / optimal < 1.001


def test_program_shape_and_memory_maps():
    cfg = config(2, 4, 4, 2, 4)
    k = 7
    compiled = compile_lanczos(cfg, 30, 50, k)
    R = cfg.cluster_rows
    program = compiled.program
    assert all(check_instruction(cfg, ins) is None for ins in program)
    assert [ins.op for ins in program[:R]] == [Opcode.LOAD] * R
    assert [ins.op for ins in program[-R - 1:]] == [Opcode.STORE] * R + [Opcode.HALT]
    assert compiled.store_program == program[-R - 1:]
    assert len(program) == 2 * R + 1 + 2 + 4 + 16 * (k - 1) + 1
    norms = [ins for ins in program if ins.op == Opcode.NORM]
    assert [ins.m for ins in norms] == list(range(2 * k))
    assert norms[0].m == ResultIndex.START and norms[2].m == ResultIndex.beta(0)
    # Reorthogonalization at step j covers the blocks of the j stored vectors, at the
    # stride of the whole basis.
    reorth = [ins for ins in program if ins.op in (Opcode.PROJ, Opcode.UPDATE)]
    lanes = {Side.U: cfg.grid_cols, Side.V: cfg.grid_rows}
    strides = {Side.U: compiled.u_blocks, Side.V: compiled.v_blocks}
    assert strides == {Side.U: -(-k // 2), Side.V: -(-k // 4)}
    assert all(ins.d == strides[ins.side] for ins in reorth)
    for side in Side:
        used = [ins.m for ins in reorth if ins.side == side][::4]
        assert used == [-(-j // lanes[side]) for j in range(1, k)]
    regions = sorted(compiled.buffer_map.values(), key=lambda region: region.start)
    assert regions[0].start == 0 and regions[-1].stop <= cfg.buffer_depth
    assert all(x.stop == y.start for x, y in zip(regions, regions[1:]))
    assert compiled.bank_map["load"].stop == compiled.bank_map["store"].start


def test_bank_images_fill_the_buffers_as_documented():
    R, C, P, Q = 2, 4, 2, 4
    cfg = config(R, C, P, Q, 2)
    M, N = 11, 37
    compiled = compile_lanczos(cfg, M, N, 3)
    Mb, Nb = -(-M // (P * R)), -(-N // (Q * C))
    rng = np.random.default_rng(2)
    a = round_to(rng.standard_normal((M, N)), "fp16")
    start = round_to(rng.standard_normal(N), "fp16")
    sim = IsaSimulator(cfg)
    sim.write_banks(compiled.bank_images(a, start))
    sim.run(list(compiled.program[:R]) + [Instruction(Opcode.HALT)])
    padded = np.zeros((Mb * P * R, Nb * Q * C), np.float16)
    padded[:M, :N] = a
    z = np.zeros(Nb * Q * C, np.float16)
    z[:N] = start
    tiles, slots = compiled.buffer_map["tiles"], compiled.buffer_map["v_slots"]
    for r in range(R):
        for c in range(C):
            for i in range(Mb):
                for j in range(Nb):
                    word = sim.buffers[r, c, tiles.start + i * Nb + j].reshape(P, Q)
                    rows = slice((r * Mb + i) * P, (r * Mb + i + 1) * P)
                    cols = slice((c * Nb + j) * Q, (c * Nb + j + 1) * Q)
                    assert np.array_equal(word, to_bits(padded[rows, cols]))
            for s in range(slots.size):
                word = sim.buffers[r, c, slots.start + s].reshape(P, Q)
                local = s * R + r                  # v chunk c Nb + local, owned in slot s
                expected = z[(c * Nb + local) * Q:(c * Nb + local + 1) * Q] if local < Nb else 0
                assert np.array_equal(word[0], to_bits(np.float16(expected) + np.zeros(Q,
                                                                                  np.float16)))
                assert not word[1:].any()


@pytest.mark.parametrize("changes,shape,steps,parameter,needed", [
    (dict(buffer_depth=64), (64, 64), 8, "buffer_depth", None),
    (dict(bank_depth=100), (64, 64), 8, "bank_depth", None),
    (dict(broadcast_depth=15), (64, 64), 8, "broadcast_depth", 16),
    (dict(program_depth=100), (64, 64), 8, "program_depth", None),
    (dict(cluster_rows=1, cluster_cols=1, grid_rows=1, grid_cols=1, expansion=1,
          buffer_depth=1 << 16, bank_depth=1 << 16), (300, 300), 2, "buffer_depth", 92404),
])
def test_refusals_name_the_parameter_and_both_values(changes, shape, steps, parameter, needed):
    cfg = config(2, 2, 2, 2, 2).replace(**changes)
    with pytest.raises(CompileError) as err:
        compile_lanczos(cfg, *shape, steps)
    assert err.value.parameter == parameter
    assert needed is None or err.value.needed == needed
    assert err.value.needed > err.value.available
    message = str(err.value)
    assert str(err.value.needed) in message and str(err.value.available) in message
    assert parameter.split(".")[-1] in message


def test_a_field_too_narrow_is_named():
    # Memories of at most 2**16 words keep compiled fields in range; the check stays for
    # programs built by hand.
    with pytest.raises(CompileError, match=r"field n of LOAD would need 90300, beyond its 16 "
                                           r"bits \(at most 65535\)") as err:
        _instruction(Opcode.LOAD, n=90300)
    assert (err.value.parameter, err.value.needed, err.value.available) == ("LOAD.n", 90300,
                                                                            65535)


def test_design_point_holds_4096_by_4096_and_refuses_a_smaller_bank():
    assert compile_lanczos(DcomConfig(), 4096, 4096, 20).program
    with pytest.raises(CompileError, match=r"bank_depth=16384 is too small: this 4096x4096 "
                                           r"matrix with 20 Lanczos steps needs 16608 words"):
        compile_lanczos(DcomConfig(bank_depth=16384), 4096, 4096, 20)


def test_bad_arguments():
    cfg = config(1, 1, 2, 2, 1)
    with pytest.raises(InputError) as err:
        compile_lanczos(cfg, 10, 8, 9)
    assert err.value.parameter == "steps"
    with pytest.raises(InputError) as err:
        isa_lanczos(np.eye(4), 2, config="16x16")
    assert err.value.parameter == "config"
    with pytest.raises(InputError) as err:
        isa_lanczos(np.eye(4), 2, config=cfg, breakdown_tol=1e-9)
    assert err.value.parameter == "breakdown_tol"
    compiled = compile_lanczos(cfg, 10, 8, 3)
    with pytest.raises(InputError) as err:
        compiled.extract(np.zeros((1, 100, 4), np.uint16), np.zeros(8, np.uint32),
                         Status.BAD_ADDRESS, 4)
    assert err.value.parameter == "status"
    with pytest.raises(InputError):
        compiled.bank_images(np.zeros((10, 8)), np.zeros(7))
