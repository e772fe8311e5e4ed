"""``hw simulate``'s notes: which BP design ran and what the released RTL loses; the low-width collapse hint."""

from predsparse.hardware.config import fpga_reference
from predsparse.hardware.run import notes
from predsparse.hardware.simulator import ArchSimulator


def _hw():
    cfg = fpga_reference()
    return cfg, ArchSimulator(cfg).hardware_report(784, 10)


def test_bp_note_names_the_design_and_the_released_loss():
    cfg, hw = _hw()
    lost = hw["bp_lost_contributions_per_input"][0]["lost"]  # junction 2 of the released RTL
    assert lost > 0
    rows = [{"test_acc": 0.8, "float_test_acc": 0.81}]
    (ideal,) = notes(cfg, rows, hw, "ideal")
    assert "0/1024 contributions lost" in ideal and f"would lose {lost}/1024 in junction 2" in ideal
    (exact,) = notes(cfg, rows, hw, "exact")
    assert f"junction 2 {lost}/1024" in exact and "reproduces the released RTL" in exact


def test_collapse_is_flagged_with_the_option_that_fixes_it():
    cfg, hw = _hw()
    rows = [
        {"test_acc": a, "float_test_acc": f, "weights": [{"w_saturated": s}]}
        for a, f, s in ((0.802, 0.815, 0.02), (0.747, 0.824, 0.12), (0.702, 0.832, 0.16))
    ]
    out = notes(cfg, rows, hw, "ideal")
    assert any(
        n.startswith("accuracy collapse") and "--lr-rounding half-even" in n and "80.20 % (epoch 1) -> 70.20 %" in n
        for n in out
    )
    steady = [{"test_acc": a, "float_test_acc": 0.83} for a in (0.80, 0.81, 0.82)]
    assert not any(n.startswith("accuracy collapse") for n in notes(cfg, steady, hw, "ideal"))
