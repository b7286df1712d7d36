"""The Ped2 benchmark's machinery on tiny synthetic data: rows, resumable runs, the table."""

import json

import numpy as np
import pytest
import torch

from benchmarks.ped2 import TABLE_END, TABLE_START, main

from .conftest import TINY
from .serve.test_serve import camera_model  # noqa: F401 (a fixture)


def test_ped2_benchmark_writes_json_table_readme_and_weights(synthetic_dataset, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{TABLE_START}\nold table\n{TABLE_END}\nrest\n")
    out_json = tmp_path / "results" / "ped2.json"
    args = ["--data", str(synthetic_dataset), "--recipe", str(TINY), "--runs", str(tmp_path / "runs"),
            "--json", str(out_json), "--page", str(readme),
            "--rows", "shipped", "look", "objects_size", "full", "no_svd", "score_patch", "copy_previous",
            "--ship", str(tmp_path / "weights" / "model.pt")]
    assert main(args) == 0
    results = json.loads(out_json.read_text())
    assert [r["name"] for r in results["rows"]] == ["shipped", "look", "objects_size", "full", "copy_previous",
                                                   "no_svd", "score_patch"]
    shipped, look, objects, full, copy, no_svd, patch = results["rows"]
    # the look row: the shipped recipe with the look of the cells that move, and its share
    assert look["overrides"] == ["memory.look=true"]
    assert "look" in torch.load(look["model"], weights_only=True)["motion"]
    share = look["micro_auc_train"] - shipped["micro_auc_train"]
    assert f"the part's share {share:+.4f}" in (tmp_path / "results" / "ped2.md").read_text()
    # an objects row: the shipped recipe with one group of the memory of normal objects, and its share
    assert objects["overrides"] == ["memory.objects=[size]"] and objects["parameters"] == 0
    share = objects["micro_auc_train"] - shipped["micro_auc_train"]
    assert f"the part's share {share:+.4f}" in (tmp_path / "results" / "ped2.md").read_text()
    assert torch.load(objects["model"], weights_only=True)["motion"]["objects"]["groups"] == ["size"]
    # the shipped recipe (configs/ped2.yaml) trains no generator: no parameters, no FLOPs, its memory fitted
    assert shipped["parameters"] == 0 and shipped["gflops_per_frame"] == 0 and shipped["steps"] == 0
    assert "generator_replaced" not in shipped["no_model"] and 0 <= shipped["micro_auc_train"] <= 1
    assert copy["parameters"] == 0 and 0 <= copy["micro_auc_train"] <= 1 and copy["n_frames"] == full["n_frames"]
    assert full["steps"] == no_svd["steps"] == 6 and full["parameters"] > 0 and full["gflops_per_frame"] > 0
    assert 0 <= full["micro_auc_train"] <= 1 and 0 <= full["micro_auc_video"] <= 1
    assert no_svd["overrides"] == ["loss.svd=0", "memory.enabled=false"] and patch["score"]["patch"] == 16
    assert patch["steps"] == full["steps"]  # score rows reuse the first row's run
    text = readme.read_text()
    assert "old table" not in text and "without the SVD loss" in text and text.endswith(f"{TABLE_END}\nrest\n")
    shipped_file = torch.load(tmp_path / "weights" / "model.pt", weights_only=True)  # the first row's model
    assert "generator" not in shipped_file and shipped_file["config"]["score"]["generator"] is False
    # a rerun of one row reuses its finished run instead of training again, and keeps the other rows
    before = (tmp_path / "runs" / "full" / "checkpoint.pt").stat().st_mtime_ns
    assert main(args[:-2] + ["--rows", "full"]) == 0
    assert (tmp_path / "runs" / "full" / "checkpoint.pt").stat().st_mtime_ns == before
    assert [r["name"] for r in json.loads(out_json.read_text())["rows"]] == [
        "shipped", "look", "objects_size", "full", "copy_previous", "no_svd", "score_patch"]


def test_memory_rows_state_what_the_generator_and_the_memory_each_add(synthetic_dataset, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(TINY.read_text() + "memory:\n  enabled: true\n  height: 32\n  cell: 8\n")
    out_json = tmp_path / "ped2.json"
    assert main(["--data", str(synthetic_dataset), "--recipe", str(recipe), "--runs", str(tmp_path / "runs"),
                 "--json", str(out_json), "--page", str(tmp_path / "page.md"),
                 "--rows", "full", "no_memory", "memory_copy", "memory_only", "copy_previous"]) == 0
    rows = {r["name"]: r for r in json.loads(out_json.read_text())["rows"]}
    full, alone, copy = rows["full"], rows["no_memory"], rows["copy_previous"]
    assert full["score"]["motion"] is True and alone["score"]["motion"] is False
    assert full["micro_auc_train"] != alone["micro_auc_train"]
    # the learned parts replaced by 'no model': frame t-1 for the generator (memory kept), then nothing learned
    assert full["no_model"]["generator_replaced"] == rows["memory_copy"]["micro_auc_train"]
    assert full["no_model"]["nothing_learned"] == copy["micro_auc_train"]
    assert alone["no_model"]["generator_replaced"] == alone["no_model"]["nothing_learned"] == copy["micro_auc_train"]
    assert rows["memory_only"]["no_model"] == {"nothing_learned": copy["micro_auc_train"]}
    table = (tmp_path / "ped2.md").read_text()
    assert "generator's share" in table and f"{full['micro_auc_train'] - copy['micro_auc_train']:+.4f}" in table


def test_motion_generated_is_zero_for_a_model_that_copies_the_last_frame(synthetic_dataset, tmp_path):
    import torch

    from benchmarks.baselines import motion_generated
    from svdgan.cli import main as cli
    from svdgan.model.checkpoint import load_checkpoint, save_checkpoint

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

    from research.fit_clips import fit_clips
    from svdgan.errors import UserError

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(TINY.read_text().replace("model:\n", "model:\n  target: predict\n  residual: true\n"))
    rows = fit_clips(synthetic_dataset, recipe, 32, 4, "l2", 1e-3, zero_init=True, start=0, report_every=2)
    assert [r["step"] for r in rows] == [0, 2, 4]
    assert rows[0]["l1"] == pytest.approx(rows[0]["copy_l1"]) and rows[0]["ratio"] == 0
    assert rows[-1]["ratio"] > 0  # it has started to generate a change
    with pytest.raises(UserError, match="residual"):
        fit_clips(synthetic_dataset, TINY, 32, 1, "l1", 1e-3, zero_init=False, start=0)


def test_copy_sweep_matches_the_baseline_row_and_rejects_bad_options(synthetic_dataset, tmp_path, capsys):
    from benchmarks.baselines import baseline_metrics
    from research.copy_sweep import main as sweep_main
    from research.copy_sweep import sweep
    from svdgan.config import load_config

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


def test_paper_claim_rows_train_both_groups_at_one_budget_and_fill_the_page(synthetic_dataset, tmp_path):
    from benchmarks.ped2 import PAIRS_END, PAIRS_START

    page = tmp_path / "ped2.md"
    page.write_text(f"{TABLE_START}\n{TABLE_END}\nintro\n{PAIRS_START}\nold\n{PAIRS_END}\n")
    out_json = tmp_path / "ped2.json"
    rows = ["paper_nosvd_s0", "paper_svd_s0"]  # one seed each keeps the test short; the command runs two
    assert main(["--data", str(synthetic_dataset), "--recipe", str(TINY), "--runs", str(tmp_path / "runs"),
                 "--json", str(out_json), "--page", str(page),
                 "--rows", *rows, "--paper-steps", "2"]) == 0
    results = json.loads(out_json.read_text())
    assert [r["name"] for r in results["rows"]] == rows
    for r in results["rows"]:
        assert r["steps"] == 2 and "model.target=reconstruct" in r["overrides"]
        assert f"loss.svd={int(r['svd'])}" in r["overrides"] and 0 <= r["authors"]["macro_auc"] <= 1
    (budget,) = results["paper_claim"]["budgets"]
    claim = budget["micro_auc_video"]
    assert budget["steps"] == 2 and len(claim["with"]["values"]) == len(claim["without"]["values"]) == 1
    assert claim["difference"] == claim["with"]["mean"] - claim["without"]["mean"]
    assert claim["ci95"] is None and claim["verdict"] == "too few seeds for an interval"  # one seed: no interval
    assert "old" not in page.read_text() and "± " in page.read_text() and "76.98" in page.read_text()
    assert "paper configuration, with" not in page.read_text().split(PAIRS_START)[0]  # not in the main table
    # --tables-only rewrites the pages from the JSON alone
    stale = tmp_path / "stale.md"
    stale.write_text(f"{PAIRS_START}\nstale\n{PAIRS_END}\n")
    assert main(["--tables-only", "--json", str(out_json), "--page", str(stale)]) == 0
    assert "stale" not in stale.read_text() and "76.98" in stale.read_text()
    assert main(["--tables-only", "--json", str(tmp_path / "none.json")]) == 2
    # a budget that differs from the finished runs' is refused, not mixed into one table
    assert main(["--data", str(synthetic_dataset), "--recipe", str(TINY), "--runs", str(tmp_path / "runs"),
                 "--json", str(out_json), "--page", str(page),
                 "--rows", "paper_svd_s0", "--paper-steps", "1"]) == 2


def test_welch_interval_of_made_up_scores_matches_the_hand_computed_one():
    from benchmarks.paper_claim import PAPER_DIFFERENCE, compare, welch_interval

    # difference 1, each mean's variance 1, so se = sqrt(2) and df = 2: t(0.975, 2) = 4.302653
    low, high = welch_interval([1.0, 3.0], [0.0, 2.0])
    assert low == pytest.approx(1 - 4.302653 * 2 ** 0.5, abs=1e-5) and high == pytest.approx(1 + 4.302653 * 2 ** 0.5,
                                                                                             abs=1e-5)
    # one arm without spread: se = sqrt(1/3), df = 2
    low, high = welch_interval([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert (low, high) == pytest.approx((2 - 4.302653 / 3 ** 0.5, 2 + 4.302653 / 3 ** 0.5), abs=1e-5)
    assert welch_interval([1.0], [0.0, 1.0]) is None
    clear = compare([0.70, 0.71, 0.72, 0.70, 0.71], [0.80, 0.81, 0.80, 0.82, 0.81])  # +0.10, far from zero
    assert clear["excludes_zero"] and not clear["contains_paper"] and "helps" in clear["verdict"]
    noisy = compare([0.70, 0.75, 0.72], [0.71, 0.76, 0.74])
    assert not noisy["excludes_zero"] and noisy["contains_paper"] and "contains zero" in noisy["verdict"]
    assert PAPER_DIFFERENCE == pytest.approx(0.0238)


def test_authors_protocol_applies_the_ranges_one_frame_early():
    import numpy as np

    from benchmarks.protocols import authors_metrics

    scores = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0])  # frames 2-3 (0-based) stand out
    # the range 2:3 means 0-based frames 1-2 (1-based 2-3); the authors' code marks frames 2-3
    assert authors_metrics([("v", scores)], [[(2, 3)]])["macro_auc"] == 1.0
    assert authors_metrics([("v", scores)], [[(3, 4)]])["macro_auc"] < 1.0  # standard's 3:4 = frames 2-3
    assert authors_metrics([("v", scores)], [np.array([0, 0, 1, 1, 0, 0])])["macro_auc"] == 1.0  # labels as given


def test_feature_memory_distances_and_a_run_on_tiny_data(synthetic_dataset, tmp_path, capsys):
    import torch

    from research.feature_memory import main as memory_main
    from research.feature_memory import memory_bank, nearest_distances
    from svdgan.cli import main as cli

    normal = [torch.zeros(3, 2, 16, 16), torch.ones(2, 2, 16, 16)]
    bank = memory_bank(normal, every=1)
    assert bank.shape == (256, 5 * 9, 2)
    queries = torch.zeros(1, 2, 16, 16)
    queries[0, :, 4, 7] = 3.0  # one cell far from anything normal
    d = nearest_distances(bank, queries)
    assert d.shape == (1, 16, 16) and d[0, 4, 7] == torch.tensor(8.0).sqrt() and d.sum() == d[0, 4, 7]

    run = tmp_path / "run"
    assert cli(["train", "--data", str(synthetic_dataset), "--out", str(run), "--config", str(TINY), "--quiet",
                "--set", "train.steps=1"]) == 0
    out = tmp_path / "memory.json"
    assert memory_main(["--data", str(synthetic_dataset), "--model", str(run / "checkpoint.pt"),
                        "--every", "2", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 1 + 1 + 3 * 2 and all(0 <= r["fused_auc"] <= 1 for r in rows)
    assert memory_main(["--data", str(tmp_path / "missing"), "--model", str(run / "checkpoint.pt")]) == 2
    assert "error" in capsys.readouterr().err


def test_describe_names_the_processor_kind_and_does_not_guess_for_old_records():
    from svdgan.utils.hardware import describe

    base = {"cpu": "X", "cores": 2, "torch_threads": 2, "torch": "2"}
    assert "(AVX-512;" in describe({**base, "vector_extensions": ["avx2", "avx512f"], "native_bf16": True})
    assert "(no AVX-512;" in describe({**base, "vector_extensions": ["avx2"], "native_bf16": False})
    assert "not recorded" in describe(base)


def test_describe_training_names_each_kind_of_machine_and_the_unrecorded_steps():
    from svdgan.utils.hardware import describe_training

    avx2 = {"cpu": "X", "avx512": False, "native_bf16": False, "torch_threads": 2, "processes": 1, "gpu": None}
    assert describe_training([{"steps": [0, 5], "precision": "fp32", "machine": avx2}]) == "fp32, no AVX-512, 2 threads"
    mixed = describe_training([{"steps": [0, 300], "machine": None},
                               {"steps": [300, 1000], "precision": "fp32", "machine": avx2}])
    assert mixed == "machine not recorded for 300 steps; fp32, no AVX-512, 2 threads for 700 steps"
    assert describe_training(None) == "machine not recorded"


def test_the_soak_runs_through_a_drop_and_a_full_disk_and_loses_nothing(camera_model):  # noqa: F811
    from benchmarks.soak import format_soak, soak

    r = soak(minutes=0.5, cameras=2, fps=5, clients=4, disk_mb=16, fill_mb=2, sample_every_s=5,
             checkpoint=str(camera_model))
    assert all(c["frames"] > 20 for c in r["per_camera"]) and r["per_camera"][0]["reconnects"] >= 1
    assert r["events_lost"] == [] and r["http"]["requests"] > 20 and r["memory"]
    assert "soak:" in format_soak(r) and "lost" in format_soak(r)


def test_events_are_runs_of_alarmed_frames_matched_to_anomalies():
    from benchmarks.events import match, runs, summarise

    flags = [False, True, True, False, False, True, False, True, True, True]
    assert runs(flags) == [(1, 2), (5, 5), (7, 9)]
    assert runs([]) == [] and runs([True]) == [(0, 0)]
    counts = match(runs(flags), [(2, 3), (8, 12), (20, 25)])  # the event at 5 overlaps no anomaly
    assert counts == {"events": 3, "true_events": 2, "false_alarms": 1, "anomalies": 3, "found": 2}
    camera = {**counts, "frames": 18000, "kinds": {"cart": [{"found": True, "reasons": {"large": 4}}],
                                                    "runner": [{"found": False, "reasons": {}}]}}
    summary = summarise([camera], fps=5.0)  # 18000 frames at 5 frames/s: one hour
    assert summary["precision"] == 2 / 3 and summary["recall"] == 2 / 3 and summary["false_alarms_per_hour"] == 1.0
    assert summary["kinds"]["cart"] == {"recall": 1.0, "anomalies": 1, "reasons": {"large": 4}}
    assert summary["kinds"]["runner"]["recall"] == 0.0


def test_a_synthetic_camera_replayed_through_the_live_pipeline_finds_its_cyclist():
    from benchmarks.events import replay
    from svdgan.scoring.detector import Detector

    result = replay(Detector.load(), seed=0, clips=3, threshold=1.0, min_frames=3, size=(64, 48), clip_frames=24)
    assert result["frames"] == 72 and result["anomalies"] == 1 and list(result["kinds"]) == ["cyclist"]
    assert result["found"] == 1 and result["false_alarms"] == 0
    assert sum(result["kinds"]["cyclist"][0]["reasons"].values()) > 0  # its alarmed frames say why


def test_a_memory_recipe_is_a_model_for_synthetic_cameras_and_a_generator_recipe_is_refused():
    from pathlib import Path

    from benchmarks.events import recipe_detector, replay
    from svdgan.errors import UserError

    root = Path(__file__).resolve().parents[1] / "configs"
    detector = recipe_detector(root / "objects.yaml")
    assert detector.config.memory.objects == ("size",) and detector.scorer is None and detector.memory is None
    result = replay(detector, seed=0, clips=3, size=(64, 48), clip_frames=24)  # each camera fits its own memory
    assert result["frames"] == 72 and result["anomalies"] == 1
    with pytest.raises(UserError, match="scores with a generator"):
        recipe_detector(root / "svdgan_memory.yaml")


def test_object_generator_study_on_tiny_data_resumes_and_keeps_every_seed(synthetic_dataset, tmp_path, capsys):
    from research.object_generator import frame_series
    from research.object_generator import main as study

    series = frame_series(np.array([1.0, 3.0, 2.0]), np.array([0, 0, 2]), 4, smooth=1)
    assert series.tolist() == [3.0, 0.0, 2.0, 0.0]  # each frame's worst object; 0 with none

    out, work = tmp_path / "og.json", tmp_path / "work"
    common = ["--data", str(synthetic_dataset), "--work", str(work), "--variants", "predict_bottleneck",
              "--steps", "2", "--batch", "2", "--json", str(out), "--set", "model.conv1_channels=8",
              "model.conv2_channels=8", "model.lstm_channels=[8,8,8,8]", "model.decoder_channels=8"]
    assert study([*common, "--seeds", "0", "1"]) == 0
    stamps = {p.name: p.stat().st_mtime_ns for p in work.glob("*.pt")}
    assert study([*common, "--svd", "on", "--seeds", "1"]) == 0  # resumed: rescored, not retrained
    assert {p.name: p.stat().st_mtime_ns for p in work.glob("*.pt")} == stamps
    results = json.loads(out.read_text())
    assert sorted((r["svd"], r["seed"]) for r in results["rows"]) == [(False, 0), (False, 1), (True, 0), (True, 1)]
    assert all(0 <= v <= 1 for r in results["rows"] for v in r["micro_auc"].values())
    assert all(r["scored_on"]["cpu"] and "hardware" not in results for r in results["rows"])  # each row its machine
    comparison = results["summary"]["predict_bottleneck (2 steps)"]["svd_loss"]["cells+error"]
    assert len(comparison["ci95"]) == 2 and "interval" in comparison["verdict"]
    assert sorted(p.name for p in work.glob("*.pt")) == [
        f"predict_bottleneck_svd{a}_s{s}_2steps.pt" for a in ("off", "on") for s in (0, 1)]  # not the 300-step runs
    capsys.readouterr()
    assert study(["--data", "x", "--work", str(work), "--json", str(out), "--table-only"]) == 0
    assert "| predict_bottleneck | with | 1 | 2 x 2 |" in capsys.readouterr().out
    assert study(["--data", str(tmp_path / "missing"), "--work", str(tmp_path / "w2")]) == 2
    assert "error" in capsys.readouterr().err


def test_cell_feature_variants_describe_how_a_cells_pixels_move():
    from research.cell_features import EXTRA, features, speed_histogram, speed_spread

    flow = np.zeros((64, 96, 2), np.float32)
    flow[:32, :32, 0] = 3.0  # one cell moving as one piece at 3 px a frame
    flow[32:, :32, 0] = np.where(np.arange(32) % 2, 1.5, 6.0)[None, :]  # one whose pixels move at two speeds
    mean, spread = speed_spread(flow)
    assert mean[0, 0] == pytest.approx(3.0) and spread[0, 0] == pytest.approx(0.0)
    assert mean[1, 0] == pytest.approx(3.75) and spread[1, 0] == pytest.approx(2.25)
    assert spread[:, 1:].max() == 0 and mean[:, 1:].max() == 0  # still cells
    shares = speed_histogram(flow)
    assert shares[:, 0, 0].tolist() == [0.0, 2.0, 0.0, 0.0] and shares[:, 1, 0].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert {v: features(flow, v).shape[1:] for v in EXTRA} == dict.fromkeys(EXTRA, (2, 3))


def test_the_temporal_cell_variants_look_back_causally():
    from research.cell_features import video_features

    video = [np.full((64, 96, 2), t, np.float32) for t in range(5)]  # every pixel moves at t px a frame along x and y
    history = video_features(video, "history")
    assert history.shape == (5, 10, 2, 3)
    assert torch.equal(history[:, :5], video_features(video, "shipped"))
    assert history[:, 5, 0, 0].tolist() == [0, 0, 0, 1, 2]  # frame t-2's mean dx; the first frames repeat frame 0
    steadiness = video_features(video, "steadiness")
    assert steadiness.shape == (5, 7, 2, 3)
    assert steadiness[:, 5, 0, 0].tolist() == pytest.approx([0] + [np.sqrt(2)] * 4, abs=1e-4)  # the mean speed's change
    assert float(video_features(video[:1] * 4, "steadiness")[:, 5:].abs().max()) == 0.0  # steady: no change


def test_where_it_loses_gives_each_videos_auc_and_the_micro_auc_without_it():
    from research.where_it_loses import per_video

    scores = [np.array([0.0, 0.1, 2.0, 3.0]), np.array([0.05, 0.6]), np.array([0.2, 1.0])]
    labels = [np.array([0, 0, 1, 1]), np.array([1, 1]), np.array([0, 1])]
    result = per_video(scores, labels)
    first, second, third = result["videos"]
    assert first["auc"] == 1.0 and second["auc"] is None and second["normal_mean"] is None
    assert second["anomalous_mean"] == pytest.approx(0.325) and third["micro_auc_without"] < 1.0
    assert result["micro_auc"] < 1.0 == second["micro_auc_without"]  # the faint anomaly costs the AUC


def test_the_object_claim_compares_the_object_generators_rows_by_their_svd_arm():
    from benchmarks.paper_claim import object_claim, object_claim_table

    def row(name: str, svd: bool | None, auc: float) -> dict:
        return {"name": name, "object_svd": svd, "micro_auc_train": auc, "micro_auc_video": auc - 0.01,
                "train_seconds": 600.0, "trained_on": "fp32, AVX-512, 2 threads", "steps": 0}

    rows = [row("shipped", None, 0.95), row("objects_error", True, 0.93), row("objects_error_s1", True, 0.92),
            row("objects_error_nosvd", False, 0.925), row("objects_error_nosvd_s1", False, 0.935)]
    assert object_claim(rows[:3]) is None  # one arm only: nothing to compare
    claim = object_claim(rows)
    assert claim["seeds"] == {"without": ["objects_error_nosvd", "objects_error_nosvd_s1"],
                              "with": ["objects_error", "objects_error_s1"]}
    assert claim["micro_auc_train"]["difference"] == pytest.approx(0.925 - 0.93)
    assert "contains zero" in claim["micro_auc_train"]["verdict"]
    table = object_claim_table({"rows": rows, "object_claim": claim})
    assert "2 seeds without its SVD loss, 2 with" in table and "-0.0050" in table and "10 min" in table


def test_alarms_on_a_dataset_before_and_after_feedback(synthetic_dataset, tmp_path):
    from benchmarks.events_real import Replayed, format_results, measures, run

    results = run(synthetic_dataset, heldout=True, fps=5.0, progress=False)
    for name in ("before", "after"):
        m = results[name]
        assert set(m) >= {"event_precision", "event_recall", "false_alarms_per_hour", "mean_delay_s", "normal_hours"}
        assert m["videos"] == results["before"]["videos"]  # the same footage before and after
    assert results["before"]["normal_frames"] > 0 and "before" in format_results(results)
    labels = np.zeros(50, bool)
    labels[20:30] = True  # one labelled interval
    one = Replayed("v", [((22, 26), 24), ((40, 44), 42)], labels)  # caught 4 frames in; one false alarm
    m = measures([one], fps=10.0)
    assert (m["event_precision"], m["event_recall"], m["false_alarms"]) == (0.5, 1.0, 1)
    assert m["mean_delay_s"] == 0.4 and m["false_alarms_per_hour"] == 1 / (40 / 10 / 3600)


@pytest.mark.parametrize("layout", ["ucsd_dataset", "video_dataset", "frame_folder_dataset"])
def test_alarms_on_real_footage_read_every_layout(layout, request):
    from benchmarks.events_real import run

    root = request.getfixturevalue(layout)
    results = run(root, heldout=True, fps=None if layout == "ucsd_dataset" else 10.0, progress=False)
    assert results["fps"] == 10.0 and results["before"]["videos"] == results["after"]["videos"] > 1
    assert results["before"]["anomalies"] >= 1  # the layout's ground truth was read
