"""The ISA simulator against docs/isa.md: a literal, command-by-command reference built on
ClusterModel (random programs, both execution modes), every error status, NORM's stop rules."""

import numpy as np
import pytest

from dcom.config import DcomConfig
from dcom.isa import Instruction, Opcode, Side, Status
from dcom.sw.clustermodel import ClusterCommand, ClusterModel
from dcom.sw.fparith import icsum, round_to, to_bits
from dcom.sw.fuzz import fuzz_case
from dcom.sw.hwkernels import reciprocal_split
from dcom.sw.isasim import IsaSimulator, check_instruction

# R, C, P, Q, f, acc: P != Q and R != C somewhere, f = 1 and f = R C, both formats.
CONFIGS = [
    (1, 1, 2, 4, 1, "fp32"),
    (2, 2, 2, 2, 2, "fp16"),
    (2, 1, 4, 2, 2, "fp32"),
    (1, 2, 2, 2, 1, "fp16"),
]


def small_config(R, C, P, Q, f, acc, **extra):
    params = dict(buffer_depth=40, bank_depth=96, broadcast_depth=8, program_depth=48)
    params.update(extra)
    return DcomConfig(cluster_rows=R, cluster_cols=C, grid_rows=P, grid_cols=Q, expansion=f,
                      acc_format=acc, **params)


class ClusterArrayReference:
    """docs/isa.md executed literally: each instruction expanded into cluster commands, one
    ClusterModel per cluster (its accumulator set 0), one step after another."""

    def __init__(self, config):
        self.config = config
        R, C = config.cluster_rows, config.cluster_cols
        self.clusters = [[ClusterModel(config) for _ in range(C)] for _ in range(R)]
        self.banks = np.zeros((C, config.bank_depth, config.macs_per_cluster), np.uint16)
        self.broadcast = np.zeros(config.broadcast_depth, np.uint32)

    def all(self):
        return [cl for row in self.clusters for cl in row]

    def buffers(self):
        return np.array([[cl.buffer for cl in row] for row in self.clusters])

    def issue(self, **fields):
        for cl in self.all():
            cl.execute(ClusterCommand(**fields))

    def reduced_bits(self, partials):
        return to_bits(round_to(icsum(np.stack(partials), axis=0), "fp16"))

    def reduce_all(self, acc):
        """Accumulators ``acc`` (set 0) of all clusters: each cluster row's sum, then the
        rows'."""
        rows = [icsum(np.stack([getattr(cl, acc)[0] for cl in row]), axis=0)
                for row in self.clusters]
        return icsum(np.stack(rows), axis=0)

    def write(self, cl, addr, values, in_column):
        """Write FP16 bits ``values`` to column 0 (``in_column``) or row 0 of word ``addr``."""
        P, Q = self.config.grid_rows, self.config.grid_cols
        lanes = np.arange(P) * Q if in_column else np.arange(Q)
        word = np.zeros(P * Q, np.uint16)
        word[lanes] = values
        cl.fill(addr, word, sum(1 << int(k) for k in lanes))

    def run(self, program, tol):
        tol = np.float32(tol)
        for pc in range(self.config.program_depth):
            ins = program[pc] if pc < len(program) else Instruction(Opcode.HALT)
            error = check_instruction(self.config, ins)
            if error is not None:
                return error, pc
            stop = self.execute(ins, tol)
            if stop is not None:
                return stop, pc
        return Status.BAD_PC, self.config.program_depth

    def execute(self, ins, tol):
        cfg = self.config
        R, C = cfg.cluster_rows, cfg.cluster_cols
        a, b, c, d, n, m = ins.a, ins.b, ins.c, ins.d, ins.n, ins.m
        u = ins.side == Side.U
        op = ins.opcode
        if op == Opcode.HALT:
            return Status.DONE
        if op == Opcode.ZERO:
            for cl in self.all():
                cl.buffer[a:a + n] = 0
        elif op == Opcode.LOAD:
            for k in range(C):
                self.clusters[m][k].buffer[b:b + n] = self.banks[k, a:a + n]
        elif op == Opcode.STORE:
            for k in range(C):
                self.banks[k, b:b + n] = self.clusters[m][k].buffer[a:a + n]
        elif op == Opcode.MV and n and m:
            for i in range(n):
                for j in range(m):
                    self.issue(broadcast="ROW", row_acc="ACCUMULATE" if j else "RESTART",
                               a_addr=a + i * m + j, b_addr=b + j)
                for r in range(R):
                    y = self.reduced_bits([cl.row_acc[0] for cl in self.clusters[r]])
                    self.write(self.clusters[r][i % C], c + i // C, y, in_column=True)
        elif op == Opcode.MTV and n and m:
            for j in range(m):
                for i in range(n):
                    self.issue(broadcast="COL", col_acc="ACCUMULATE" if i else "RESTART",
                               a_addr=a + i * m + j, b_addr=b + i)
                for k in range(C):
                    z = self.reduced_bits([self.clusters[r][k].col_acc[0] for r in range(R)])
                    self.write(self.clusters[j % R][k], c + j // R, z, in_column=False)
        elif op == Opcode.PROJ and n and m:
            acc = "col_acc" if u else "row_acc"
            for k in range(m):
                for s in range(n):
                    self.issue(broadcast="COL" if u else "ROW",
                               **{acc: "ACCUMULATE" if s else "RESTART"},
                               a_addr=a + s * d + k, b_addr=b + s)
                coefficients = to_bits(round_to(self.reduce_all(acc), "fp16"))
                for cl in self.all():
                    self.write(cl, c + k, coefficients, in_column=not u)
        elif op == Opcode.UPDATE:
            acc = "row_acc" if u else "col_acc"
            for s in range(n):
                self.issue(op="PRELOAD", b_addr=c + s, **{acc: "ACCUMULATE"})
                for k in range(m):
                    self.issue(broadcast="ROW" if u else "COL", negate=True,
                               **{acc: "ACCUMULATE"}, a_addr=a + s * d + k, b_addr=b + k)
                self.issue(op="WRITE_ROWS" if u else "WRITE_COLS", a_addr=c + s)
        elif op == Opcode.NORM and n:
            acc = "col_acc" if u else "row_acc"
            for s in range(n):
                self.issue(broadcast="COL" if u else "ROW",
                           **{acc: "ACCUMULATE" if s else "RESTART"}, a_addr=a + s,
                           b_addr=a + s)
            square = self.reduce_all(acc)[0]
            with np.errstate(invalid="ignore"):
                alpha = round_to(np.sqrt(np.float32(square)), "fp32")
            self.broadcast[m] = to_bits(alpha)
            if not np.isfinite(alpha):
                return Status.OVERFLOW
            if alpha <= tol:
                return Status.BREAKDOWN
            for offset, part in enumerate(reciprocal_split(alpha)):
                for cl in self.all():
                    word = np.zeros(cfg.macs_per_cluster, np.uint16)
                    word[0] = to_bits(part)
                    cl.fill(b + offset, word)
        elif op == Opcode.SCALE:
            acc, write = ("row_acc", "WRITE_ROWS") if u else ("col_acc", "WRITE_COLS")
            for s in range(n):
                broadcast = "ROW" if u else "COL"
                self.issue(broadcast=broadcast, **{acc: "RESTART"}, a_addr=a + s, b_addr=b)
                self.issue(broadcast=broadcast, **{acc: "ACCUMULATE"}, a_addr=a + s,
                           b_addr=b + 1)
                self.issue(op=write, a_addr=a + s)
                self.issue(op=write, a_addr=c + s * d, lane=m)
        elif op == Opcode.BCAST:
            for s in range(n):
                for k in range(C if u else R):
                    if u:
                        for r in range(R):
                            word = self.clusters[r][k].buffer[a + s].copy()
                            for cl in self.clusters[r]:
                                cl.buffer[b + s * C + k] = word
                    else:
                        for col in range(C):
                            word = self.clusters[k][col].buffer[a + s].copy()
                            for r in range(R):
                                self.clusters[r][col].buffer[b + s * R + k] = word
        return None


def assert_same_state(sim, ref, status, stop_pc, label):
    assert (sim.status, sim.stop_pc) == (status, stop_pc), label
    assert np.array_equal(sim.buffers, ref.buffers()), f"{label}: buffers"
    assert np.array_equal(sim.banks, ref.banks), f"{label}: banks"
    assert np.array_equal(sim.broadcast, ref.broadcast), f"{label}: broadcast memory"


@pytest.mark.parametrize("params", CONFIGS)
def test_random_programs_match_the_command_level_reference(params):
    """Both execution modes of the simulator against the reference on random programs, with
    special values, overlapping ranges (steps that see each other's writes) and invalid
    instructions; every piece of state compared bit for bit."""
    cfg = small_config(*params)
    for seed in range(6):
        case = fuzz_case(cfg, seed, length=20, invalid_rate=0.03 if seed % 3 == 2 else 0.0,
                         window=12)
        ref = ClusterArrayReference(cfg)
        ref.banks[:] = case.banks
        status, stop_pc = ref.run(case.program, case.tol)
        for vectorize in (True, False):
            sim = IsaSimulator(cfg, vectorize=vectorize)
            sim.write_banks(case.banks)
            sim.run(case.program, case.tol)
            assert_same_state(sim, ref, status, stop_pc, f"seed {seed}, vectorize={vectorize}")


def run_one(cfg, *program, tol=0.0):
    sim = IsaSimulator(cfg)
    sim.write_banks(fuzz_case(cfg, 0).banks)
    sim.run(list(program) + [Instruction(Opcode.HALT)], tol)
    return sim


def test_bad_opcode_and_bad_side():
    cfg = small_config(2, 2, 2, 4, 2, "fp32")
    for op in (max(Opcode) + 1, 255):
        sim = run_one(cfg, Instruction(Opcode.ZERO, a=0, n=1), Instruction(op))
        assert (sim.status, sim.stop_pc, sim.executed) == (Status.BAD_OPCODE, 1, 1)
    for op in (Opcode.PROJ, Opcode.UPDATE, Opcode.NORM, Opcode.SCALE, Opcode.BCAST):
        sim = run_one(cfg, Instruction(op, side=2))
        assert (sim.status, sim.stop_pc) == (Status.BAD_OPCODE, 0)
    # Opcodes without a side ignore the field (and every other field they do not use).
    sim = run_one(cfg, Instruction(Opcode.ZERO, side=200, a=1, b=999, c=7, d=5, n=2, m=77))
    assert (sim.status, sim.stop_pc) == (Status.DONE, 1)


D, BANK, BROADCAST = 40, 96, 8     # small_config's depths


def address_cases():
    """(instruction at the edge of a range, the same one past it) for every range kind."""
    R, C, P, Q = 2, 2, 2, 4
    I, U, V = Instruction, Side.U, Side.V
    return {
        "ZERO buffer": (I(Opcode.ZERO, a=D - 2, n=2), I(Opcode.ZERO, a=D - 1, n=2)),
        "ZERO empty range beyond": (I(Opcode.ZERO, a=D, n=0), I(Opcode.ZERO, a=D + 1, n=0)),
        "LOAD bank": (I(Opcode.LOAD, a=BANK - 3, n=3), I(Opcode.LOAD, a=BANK - 2, n=3)),
        "LOAD buffer": (I(Opcode.LOAD, b=D - 3, n=3), I(Opcode.LOAD, b=D - 2, n=3)),
        "LOAD cluster row": (I(Opcode.LOAD, n=1, m=R - 1), I(Opcode.LOAD, n=1, m=R)),
        "STORE buffer": (I(Opcode.STORE, a=D - 3, n=3), I(Opcode.STORE, a=D - 2, n=3)),
        "STORE bank": (I(Opcode.STORE, b=BANK - 3, n=3), I(Opcode.STORE, b=BANK - 2, n=3)),
        "STORE cluster row": (I(Opcode.STORE, n=1, m=R - 1), I(Opcode.STORE, n=1, m=R)),
        "MV tiles": (I(Opcode.MV, a=D - 6, n=2, m=3), I(Opcode.MV, a=D - 5, n=2, m=3)),
        "MV x": (I(Opcode.MV, b=D - 3, n=1, m=3), I(Opcode.MV, b=D - 2, n=1, m=3)),
        "MV output": (I(Opcode.MV, c=D - 2, n=2 * C, m=1),
                      I(Opcode.MV, c=D - 2, n=2 * C + 1, m=1)),
        "MTV tiles": (I(Opcode.MTV, a=D - 6, n=3, m=2), I(Opcode.MTV, a=D - 5, n=3, m=2)),
        "MTV y": (I(Opcode.MTV, b=D - 3, n=3, m=1), I(Opcode.MTV, b=D - 2, n=3, m=1)),
        "MTV output": (I(Opcode.MTV, c=D - 2, n=1, m=2 * R),
                       I(Opcode.MTV, c=D - 2, n=1, m=2 * R + 1)),
        "PROJ basis": (I(Opcode.PROJ, a=D - 6, d=3, n=2, m=3),
                       I(Opcode.PROJ, a=D - 5, d=3, n=2, m=3)),
        "PROJ vector": (I(Opcode.PROJ, side=V, b=D - 3, n=3, m=1),
                        I(Opcode.PROJ, side=V, b=D - 2, n=3, m=1)),
        "PROJ coefficients": (I(Opcode.PROJ, c=D - 3, n=1, m=3),
                              I(Opcode.PROJ, c=D - 2, n=1, m=3)),
        "UPDATE basis": (I(Opcode.UPDATE, a=D - 6, d=2, n=3, m=2),
                         I(Opcode.UPDATE, a=D - 5, d=2, n=3, m=2)),
        "UPDATE coefficients (no slots)": (I(Opcode.UPDATE, b=D - 3, n=0, m=3),
                                           I(Opcode.UPDATE, b=D - 2, n=0, m=3)),
        "UPDATE vector": (I(Opcode.UPDATE, side=V, c=D - 3, n=3, m=1),
                          I(Opcode.UPDATE, side=V, c=D - 2, n=3, m=1)),
        "NORM vector": (I(Opcode.NORM, a=D - 3, b=4, n=3), I(Opcode.NORM, a=D - 2, b=4, n=3)),
        "NORM scalar words (no slots)": (I(Opcode.NORM, b=D - 2), I(Opcode.NORM, b=D - 1)),
        "NORM result index": (I(Opcode.NORM, b=4, n=1, m=BROADCAST - 1),
                              I(Opcode.NORM, b=4, n=1, m=BROADCAST)),
        "SCALE vector": (I(Opcode.SCALE, a=D - 3, b=4, n=3), I(Opcode.SCALE, a=D - 2, b=4, n=3)),
        "SCALE scalar words": (I(Opcode.SCALE, b=D - 2), I(Opcode.SCALE, b=D - 1)),
        "SCALE strided basis": (I(Opcode.SCALE, b=4, c=D - 5, d=2, n=3),
                                I(Opcode.SCALE, b=4, c=D - 4, d=2, n=3)),
        "SCALE basis unchecked without slots": (I(Opcode.SCALE, b=4, c=0xFFFF, d=9, n=0),
                                                I(Opcode.SCALE, b=4, c=0xFFFF, d=9, n=1)),
        "SCALE lane U": (I(Opcode.SCALE, side=U, b=4, m=Q - 1), I(Opcode.SCALE, side=U, b=4, m=Q)),
        "SCALE lane V": (I(Opcode.SCALE, side=V, b=4, m=P - 1), I(Opcode.SCALE, side=V, b=4, m=P)),
        "BCAST source": (I(Opcode.BCAST, a=D - 2, n=2), I(Opcode.BCAST, a=D - 1, n=2)),
        "BCAST U destination": (I(Opcode.BCAST, side=U, b=D - 2 * C, n=2),
                                I(Opcode.BCAST, side=U, b=D - 2 * C + 1, n=2)),
        "BCAST V destination": (I(Opcode.BCAST, side=V, b=D - 2 * R, n=2),
                                I(Opcode.BCAST, side=V, b=D - 2 * R + 1, n=2)),
    }


@pytest.mark.parametrize("kind", sorted(address_cases()))
def test_every_bad_address_range(kind):
    # 2 x 2 clusters of 2 x 4: SCALE lanes differ between the sides.
    cfg = small_config(2, 2, 2, 4, 2, "fp32")
    edge, beyond = address_cases()[kind]
    sim = run_one(cfg, edge, tol=-1.0)
    assert sim.status != Status.BAD_ADDRESS and sim.executed == 2, kind
    before = run_one(cfg, Instruction(Opcode.LOAD, a=0, b=0, n=D, m=1))
    sim = run_one(cfg, Instruction(Opcode.LOAD, a=0, b=0, n=D, m=1), beyond)
    assert (sim.status, sim.stop_pc, sim.executed) == (Status.BAD_ADDRESS, 1, 1), kind
    # Nothing of the refused instruction happened.
    assert np.array_equal(sim.buffers, before.buffers)
    assert np.array_equal(sim.banks, before.banks)
    assert np.array_equal(sim.broadcast, before.broadcast)


def test_bad_pc_and_program_memory():
    cfg = small_config(1, 1, 2, 2, 1, "fp32", program_depth=8)
    sim = IsaSimulator(cfg)
    assert sim.run([Instruction(Opcode.ZERO, a=0, n=1)] * 8) == Status.BAD_PC
    assert (sim.stop_pc, sim.executed) == (8, 8)
    # A shorter program runs into what program memory holds: here the old ZEROs, then BAD_PC.
    assert sim.run([Instruction(Opcode.ZERO, a=1, n=1)]) == Status.BAD_PC
    sim = IsaSimulator(cfg)                  # after reset, program memory holds HALTs
    assert sim.run([Instruction(Opcode.ZERO, a=1, n=1)]) == Status.DONE and sim.stop_pc == 1
    with pytest.raises(ValueError, match="program_depth=8"):
        sim.load_program([Instruction(Opcode.HALT)] * 9)


def test_norm_writes_alpha_then_stops_without_touching_the_scalar_words():
    cfg = small_config(2, 2, 2, 2, 4, "fp32")
    sim = IsaSimulator(cfg)
    vector = np.zeros((2, 3, 4), np.uint16)          # (C, words, lanes): column 0 of word 0
    vector[:, 0, [0, 2]] = to_bits(np.float16([3.0, 4.0]))
    sim.write_banks(vector)
    load = [Instruction(Opcode.LOAD, n=3, m=r) for r in range(2)]
    norm = Instruction(Opcode.NORM, side=Side.U, a=0, b=1, n=1, m=5)
    # Four clusters hold (3, 4) each: alpha = 10.
    assert sim.run(load + [norm, Instruction(Opcode.HALT)], tol=10.0) == Status.BREAKDOWN
    assert sim.stop_pc == 2 and sim.broadcast_values()[5] == 10.0
    assert not sim.buffers[:, :, 1:3].any()
    assert sim.run(tol=9.99) == Status.DONE
    hi, lo = reciprocal_split(np.float32(10.0))
    assert np.all(sim.buffers[:, :, 1, 0] == to_bits(hi)) and not sim.buffers[:, :, 1, 1:].any()
    assert np.all(sim.buffers[:, :, 2, 0] == to_bits(lo)) and not sim.buffers[:, :, 2, 1:].any()
    # An infinity in the vector: OVERFLOW, whatever the threshold; alpha is recorded.
    vector[0, 0, 0] = 0x7C00
    sim.write_banks(vector)
    assert sim.run(tol=np.nan) == Status.OVERFLOW and sim.stop_pc == 2
    assert np.isinf(sim.broadcast_values()[5])
    # An empty NORM does nothing, so it cannot stop a program.
    empty = Instruction(Opcode.NORM, side=Side.U, a=0, b=1, n=0, m=6)
    assert sim.run(load + [empty, Instruction(Opcode.HALT)], tol=1e9) == Status.DONE
    assert sim.broadcast[6] == 0


def test_pausing_and_resuming():
    cfg = small_config(2, 2, 2, 2, 2, "fp16")
    case = fuzz_case(cfg, 3, length=12)
    whole = IsaSimulator(cfg)
    whole.write_banks(case.banks)
    whole.run(case.program, case.tol)
    paused = IsaSimulator(cfg)
    paused.write_banks(case.banks)
    assert paused.run(case.program, case.tol, max_instructions=4) == Status.BUSY
    assert paused.pc == 4 and paused.executed == 4
    assert paused.resume() == whole.status and paused.stop_pc == whole.stop_pc
    assert np.array_equal(paused.buffers, whole.buffers)
