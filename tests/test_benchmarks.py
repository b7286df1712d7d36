"""The Ped2 benchmark's machinery on tiny synthetic data: rows, resumable runs, the table."""

import json

from svdgan.benchmarks.ped2 import TABLE_END, TABLE_START, main

from .conftest import TINY


def test_ped2_benchmark_writes_json_table_readme_and_weights(synthetic_dataset, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{TABLE_START}\nold table\n{TABLE_END}\nrest\n")
    out_json = tmp_path / "results" / "ped2.json"
    args = ["--data", str(synthetic_dataset), "--recipe", str(TINY), "--runs", str(tmp_path / "runs"),
            "--json", str(out_json), "--page", str(readme),
            "--rows", "full", "no_svd", "score_patch", "copy_previous",
            "--ship", str(tmp_path / "weights" / "model.pt")]
    assert main(args) == 0
    results = json.loads(out_json.read_text())
    assert [r["name"] for r in results["rows"]] == ["full", "no_svd", "score_patch", "copy_previous"]
    full, no_svd, patch, copy = results["rows"]
    assert copy["parameters"] == 0 and 0 <= copy["micro_auc_train"] <= 1 and copy["n_frames"] == full["n_frames"]
    assert full["steps"] == no_svd["steps"] == 6 and full["parameters"] > 0 and full["gflops_per_frame"] > 0
    assert 0 <= full["micro_auc_train"] <= 1 and 0 <= full["micro_auc_video"] <= 1
    assert no_svd["overrides"] == ["loss.svd=0"] and patch["score"]["patch"] == 16
    assert patch["steps"] == full["steps"]  # score rows reuse the first row's run
    text = readme.read_text()
    assert "old table" not in text and "without the SVD loss" in text and text.endswith(f"{TABLE_END}\nrest\n")
    assert (tmp_path / "weights" / "model.pt").exists()
    # a rerun of one row reuses its finished run instead of training again, and keeps the other rows
    before = (tmp_path / "runs" / "full" / "checkpoint.pt").stat().st_mtime_ns
    assert main(args[:-2] + ["--rows", "full"]) == 0
    assert (tmp_path / "runs" / "full" / "checkpoint.pt").stat().st_mtime_ns == before
    assert [r["name"] for r in json.loads(out_json.read_text())["rows"]] == [
        "full", "no_svd", "score_patch", "copy_previous"]


def test_motion_generated_is_zero_for_a_model_that_copies_the_last_frame(synthetic_dataset, tmp_path):
    import torch

    from svdgan.benchmarks.ped2 import motion_generated
    from svdgan.checkpoint import load_checkpoint, save_checkpoint
    from svdgan.cli import main as cli

    run = tmp_path / "run"
    assert cli(["train", "--data", str(synthetic_dataset), "--out", str(run), "--config", str(TINY), "--quiet",
                "--set", "model.target=predict", "--set", "model.residual=true", "--set", "train.steps=2"]) == 0
    trained = motion_generated(run / "checkpoint.pt", synthetic_dataset, moving=0.05)
    assert trained["ratio"] > 0 and -1 <= trained["correlation"] <= 1
    payload = load_checkpoint(run / "checkpoint.pt")
    for key in payload["generator"]:
        if key.startswith("decoder.out."):  # the change is tanh(0) = 0: the model copies frame t-1
            payload["generator"][key] = torch.zeros_like(payload["generator"][key])
    save_checkpoint(tmp_path / "copy.pt", payload)
    assert motion_generated(tmp_path / "copy.pt", synthetic_dataset, moving=0.05) == {"ratio": 0.0, "correlation": 0.0}


def test_fit_clips_starts_from_copy_with_zero_init_and_needs_a_residual_recipe(synthetic_dataset, tmp_path):
    import pytest

    from svdgan.errors import UserError
    from svdgan.research.fit_clips import fit_clips

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(TINY.read_text().replace("model:\n", "model:\n  target: predict\n  residual: true\n"))
    rows = fit_clips(synthetic_dataset, recipe, 32, 4, "l2", 1e-3, zero_init=True, start=0, report_every=2)
    assert [r["step"] for r in rows] == [0, 2, 4]
    assert rows[0]["l1"] == pytest.approx(rows[0]["copy_l1"]) and rows[0]["ratio"] == 0
    assert rows[-1]["ratio"] > 0  # it has started to generate a change
    with pytest.raises(UserError, match="residual"):
        fit_clips(synthetic_dataset, TINY, 32, 1, "l1", 1e-3, zero_init=False, start=0)


def test_copy_sweep_matches_the_baseline_row_and_rejects_bad_options(synthetic_dataset, tmp_path, capsys):
    from svdgan.benchmarks.ped2 import baseline_metrics
    from svdgan.config import load_config
    from svdgan.research.copy_sweep import main as sweep_main
    from svdgan.research.copy_sweep import sweep

    rows = sweep(synthetic_dataset, [32], [0, 4], [1, 3], progress=False)
    assert len(rows) == 8 and {(r["patch"], r["local"]) for r in rows} == {
        (0, "none"), (0, "location"), (8, "none"), (8, "location")}
    assert all(0 <= r["micro_auc"] <= 1 for r in rows)
    for patch, smooth in ((0, 1), (8, 3)):  # the same detector as the Ped2 table's no-model row
        config = load_config(TINY, ["model.size=32", "model.channels=1", f"score.patch={patch}",
                                    f"score.smooth={smooth}"])
        row = next(r for r in rows if (r["patch"], r["smooth"], r["local"]) == (patch, smooth, "none"))
        assert abs(row["micro_auc"] - baseline_metrics(synthetic_dataset, config)["micro_auc_train"]) < 1e-9
    out = tmp_path / "sweep.json"
    assert sweep_main(["--data", str(synthetic_dataset), "--sizes", "32", "--patch-fractions", "4",
                       "--smooth", "1", "--out", str(out)]) == 0
    assert len(json.loads(out.read_text())) == 2 and "micro AUC" in capsys.readouterr().out
    for bad in (["--sizes", "8"], ["--smooth", "0"], ["--patch-fractions", "-1"]):
        assert sweep_main(["--data", str(synthetic_dataset), *bad]) == 2
    assert sweep_main(["--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("svdgan: error:") == 4 and "Traceback" not in err
