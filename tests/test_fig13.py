"""The three comparisons of figure 13, against figures worked by hand."""

import pytest

from dcom.synth.fig13 import COMPARISONS, StepFigures, compare_designs
from dcom.synth.power import ClockGating, PowerBreakdown, PowerFigures

# 1000 MHz: one cycle is 1 ns, so pJ / cycles = mW and uW = pJ / us. FAST: 20 mW over its
# step (10 mW gated), of which leakage 0.3 mW and clock 7.7 mW (2 mW gated, its gates 0.2 mW).
FAST = StepFigures(cycles=100, energy_pj=(2000.0, 1000.0), leakage_uw=300.0,
                   clock_uw=(7700.0, 2000.0), gates_uw=200.0, macs=6400, multipliers=100,
                   clock_mhz=1000.0)
# SLOW: 5 mW (3.75 mW gated), leakage 0.1 mW, clock 2.9 mW (1.5 mW gated, gates 0.1 mW).
SLOW = StepFigures(cycles=800, energy_pj=(4000.0, 3000.0), leakage_uw=100.0,
                   clock_uw=(2900.0, 1500.0), gates_uw=100.0, macs=6400, multipliers=100,
                   clock_mhz=1000.0)


def test_energy_at_equal_work_is_the_step_energy():
    result = compare_designs(FAST, SLOW)["energy at equal work"]
    assert result["ungated"]["ratio"] == pytest.approx(0.5)
    assert result["gated"]["ratio"] == pytest.approx(1 / 3)
    assert result["ungated"]["dcom_pj_per_mac"] == pytest.approx(2000 / 6400)


def test_common_window_adds_the_faster_design_idle_time():
    result = compare_designs(FAST, SLOW)
    assert result["window_cycles"] == 800
    window = result["average power over a common window"]
    # D-com: 2000 pJ + 700 ns idle at 8 mW (leakage and clock), over 800 ns; systolic 5 mW.
    assert window["ungated"]["dcom_uw"] == pytest.approx((2000 + 700 * 8) / 0.8)
    assert window["ungated"]["systolic_uw"] == pytest.approx(4000 / 0.8)
    # Gated, an idle cycle draws leakage and the gates: 0.5 mW.
    assert window["gated"]["dcom_uw"] == pytest.approx((1000 + 700 * 0.5) / 0.8)
    assert window["gated"]["ratio"] == pytest.approx(1350 / 3000)
    with pytest.raises(ValueError, match="shorter than the step"):
        SLOW.window_power_uw(10, False)


def test_equal_utilization_scales_the_activity_but_not_the_ungated_clock():
    result = compare_designs(FAST, SLOW)
    assert result["utilization"] == {"dcom": pytest.approx(0.64), "systolic": pytest.approx(0.08)}
    equal = result["power at equal utilization"]["ungated"]
    # The systolic array made 8x as busy: leakage 0.1 + clock 2.9 + logic (5 - 3) x 8 mW.
    assert equal["systolic_uw"] == pytest.approx(100 + 2900 + 2000 * 8)
    assert equal["dcom_uw"] == pytest.approx(20000)
    # Gated: logic (3.75 - 0.1 - 1.5) x 8; the gated clock's activity part (1.5 - 0.1) x 8
    # would exceed the whole clock, which it cannot: 2.9 mW.
    gated = result["power at equal utilization"]["gated"]
    assert gated["systolic_uw"] == pytest.approx(100 + 2900 + 2150 * 8)
    assert SLOW.power_at_utilization_uw(0.16, True) == pytest.approx(100 + 100 + 1400 * 2
                                                                      + 2150 * 2)
    assert set(result) == set(COMPARISONS) | {"utilization", "window_cycles"}


def test_step_figures_from_a_measured_breakdown():
    gating = ClockGating()
    gating.add(10, 2, 30)
    power = PowerBreakdown({"logic": PowerFigures(internal_uw=300, switching_uw=100,
                                                  leakage_uw=10, clock_uw=200)},
                           cycles=10, clock_mhz=500.0, voltage=0.8, gating={"logic": gating})
    step = StepFigures.measured(power, macs=40, multipliers=4)
    # 410 uW for 10 cycles at 500 MHz (20 ns): 8200 fJ = 8.2 pJ.
    assert step.energy_pj[0] == pytest.approx(410 * 0.02)
    rate = (30 + 2 * 10) / (10 * 10)
    assert step.energy_pj[1] == pytest.approx((410 - 200 * (1 - rate)) * 0.02)
    assert (step.idle_uw(False), step.idle_uw(True)) == (pytest.approx(210),
                                                         pytest.approx(10 + 200 * 2 / 10))
    assert step.clock_uw == (pytest.approx(200), pytest.approx(200 * rate))
    assert step.utilization == pytest.approx(1.0)
