"""The benchmark runs its three paths and reports comparable figures (speed goals are not asserted here)."""

from studio.engine.bench import run_bench


def test_bench_reports_three_paths_and_ratios(tiny_model_dir):
    res = run_bench(tiny_model_dir, n=8, batch=4)
    for key in ("seed_style", "trainer", "studio"):
        assert res[key] > 0
    assert res["studio_vs_seed_style"] == round(res["studio"] / res["seed_style"], 2) or abs(
        res["studio_vs_seed_style"] - res["studio"] / res["seed_style"]) < 0.05
    assert res["examples"] == 8 and res["unit"] == "non-pad tokens per second"


def test_mfu_is_tokens_times_model_flops_over_the_measured_peak(tiny_model_dir):
    from studio.engine.bench import flops_per_token

    res = run_bench(tiny_model_dir, n=8, batch=4)
    assert set(res["mfu"]) == {"seed_style", "trainer", "studio"}
    peak = res["matmul_peak_gflops"]["fp32"] * 1e9
    assert peak > 0 and res["gflop_per_token"] > 0
    got = res["trainer"] * res["gflop_per_token"] * 1e9 / peak
    assert abs(res["mfu"]["trainer"] - got) < 0.002 and 0 < res["mfu"]["trainer"] < 1
    assert res["studio_precision"] in res["matmul_peak_gflops"]
    # 2N forward + 2N backward + 2 per trained weight; the tiny model ties its embedding, so all its weights count
    assert abs(flops_per_token(tiny_model_dir, 100) - flops_per_token(tiny_model_dir, 0) - 200) < 1e-6
