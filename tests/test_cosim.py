"""The cocotb plumbing: one build per design and simulator, clocks with a timescale, failures."""

import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from dcom.tb.cosim import CocotbFailure, HdlDesign, amaranth_emitter, run_cocotb

pytestmark = pytest.mark.cocotb


class Counter(wiring.Component):
    count: Out(16)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.count.eq(self.count + 1)
        return m


COUNTER = HdlDesign("dcom_test_counter", amaranth_emitter(Counter, "dcom_test_counter"))


def test_builds_once_and_counts(sim):
    first = run_cocotb(COUNTER, "cocotb_counter", sim, env={"COUNTER_CYCLES": "5"})
    binary = sorted(p for p in first.test_dir.parent.parent.iterdir() if p.is_file())
    stamps = {p: p.stat().st_mtime_ns for p in binary}
    second = run_cocotb(COUNTER, "cocotb_counter", sim, env={"COUNTER_CYCLES": "9"},
                        run_name="second")
    assert (first.tests, first.failed, second.tests, second.failed) == (1, 0, 1, 0)
    assert {p: p.stat().st_mtime_ns for p in binary} == stamps, "the design was rebuilt"


def test_failure_names_seed_and_rerun_command(sim):
    with pytest.raises(CocotbFailure, match=r"seed 7\).*rerun alone with waveforms: .*--seed 7"):
        run_cocotb(COUNTER, "cocotb_counter", sim, seed=7, run_name="failing",
                   env={"COUNTER_CYCLES": "3", "COUNTER_EXPECT": "4"})
