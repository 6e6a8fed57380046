"""The benchmark runs its three paths and reports comparable figures (speed goals are not asserted here)."""

from studio.bench import run_bench


def test_bench_reports_three_paths_and_ratios(tiny_model_dir):
    res = run_bench(tiny_model_dir, n=8, batch=4)
    for key in ("seed_style", "trainer", "studio"):
        assert res[key] > 0
    assert res["studio_vs_seed_style"] == round(res["studio"] / res["seed_style"], 2) or abs(
        res["studio_vs_seed_style"] - res["studio"] / res["seed_style"]) < 0.05
    assert res["examples"] == 8 and res["unit"] == "non-pad tokens per second"
