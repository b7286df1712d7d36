"""The memory of normal motion: cell features, distances with position, fusion, streaming, files."""

import json

import cv2
import numpy as np
import pytest
import torch

from svdgan.cli import main
from svdgan.config import MemoryConfig, load_config
from svdgan.errors import UserError
from svdgan.memory.bank import MotionMemory, video_motion
from svdgan.memory.fitting import fit_memory
from svdgan.memory.flow import N_FEATURES, FlowCells, to_grey

from ..conftest import TINY

SMALL = MemoryConfig(enabled=True, height=48, cell=8)


def moving_square(n: int, speed: int, row: int, h: int = 48, w: int = 64, size: int = 8, seed: int = 0) -> np.ndarray:
    """(n, h, w) grey frames: a textured square moving right by `speed` px a frame at `row`."""
    rng = np.random.default_rng(seed)
    background = rng.integers(90, 110, (h, w)).astype(np.uint8)
    texture = rng.integers(150, 255, (size, size)).astype(np.uint8)
    frames = np.repeat(background[None], n, 0)
    for t in range(n):
        x = (2 + t * speed) % (w - size)
        frames[t, row:row + size, x:x + size] = texture
    return frames


def test_flow_cells_see_the_motion_where_it_is():
    frames = moving_square(2, 3, 16)
    cells = FlowCells(8)(frames[0], frames[1])
    assert cells.shape == (N_FEATURES, 6, 8)
    speed = cells[2]  # mean speed per cell
    assert speed[2:4].max() > 1.0 and speed[:1].abs().max() < 0.2 and speed[5:].abs().max() < 0.2
    assert cells[0][2:4].max() > 1.0  # it moves right: positive dx
    assert torch.count_nonzero(FlowCells(8)(None, frames[1])) == 0  # no previous frame: no motion


def test_fast_motion_and_motion_in_a_new_place_score_above_normal_motion():
    normal = [moving_square(40, 1, 16, seed=s) for s in range(2)]
    memory, normal_scores = fit_memory(normal, SMALL, smooth=1)
    assert [len(s) for s in normal_scores] == [40, 40] and memory.bank.shape[1:] == (N_FEATURES, 6, 8)
    same = memory.video_scores(moving_square(20, 1, 16, seed=5), smooth=1)[1:]
    fast = memory.video_scores(moving_square(20, 5, 16, seed=5), smooth=1)[1:]
    elsewhere = memory.video_scores(moving_square(20, 1, 36, seed=5), smooth=1)[1:]
    assert fast.mean() > 3 * same.mean() and elsewhere.mean() > 3 * same.mean()
    # normal statistics come from each video scored against a memory without it: near the unseen ones
    assert np.concatenate(normal_scores)[1:].mean() < fast.mean() / 2


def test_one_normal_video_is_split_into_folds_and_too_little_footage_is_refused():
    memory, normal = fit_memory([moving_square(24, 1, 16)], SMALL, smooth=3)
    assert len(normal) == 1 and len(normal[0]) == 24 and np.isfinite(normal[0]).all()
    with pytest.raises(UserError, match="at least 8"):
        fit_memory([moving_square(5, 1, 16)], SMALL, smooth=1)
    with pytest.raises(UserError, match="frame sizes"):
        fit_memory([moving_square(10, 1, 16), moving_square(10, 1, 16, w=72)], SMALL, smooth=1)


def test_bank_is_capped_and_the_payload_round_trips():
    cfg = MemoryConfig(enabled=True, height=48, cell=8, every=1, max_frames=10)
    memory, _ = fit_memory([moving_square(30, 1, 16, seed=s) for s in range(2)], cfg, smooth=1)
    assert len(memory.bank) == 10
    memory.stats = {"generator": {"mean": 1.0, "std": 2.0}, "motion": {"mean": 0.5, "std": 0.25}}
    again = MotionMemory.from_payload(memory.to_payload(), cfg)
    video = moving_square(12, 3, 16, seed=9)
    np.testing.assert_allclose(again.video_scores(video, 2), memory.video_scores(video, 2), rtol=1e-2, atol=1e-3)
    np.testing.assert_allclose(again.fuse(np.array([3.0]), np.array([1.0])), [1.0 + 2.0])
    with pytest.raises(UserError, match="malformed"):
        MotionMemory.from_payload({"bank": torch.zeros(3)}, cfg)


def test_a_stream_gives_the_video_scores_and_another_aspect_is_refused():
    memory, _ = fit_memory([moving_square(30, 1, 16, seed=s) for s in range(2)], SMALL, smooth=1)
    video = moving_square(15, 2, 16, seed=4)
    stream = memory.stream(smooth=3)
    live = [stream.push(np.repeat(f[:, :, None], 3, 2)) for f in video]
    np.testing.assert_allclose(live, memory.video_scores(video, 3), rtol=1e-6, atol=1e-6)
    keep = torch.ones(32, 32)
    keep[4:28] = 0  # the rows around the square are ignored: nothing moves elsewhere
    stream = memory.stream(smooth=1)
    stream.set_ignore(keep)
    assert max(stream.push(np.repeat(f[:, :, None], 3, 2)) for f in video) < 0.1
    with pytest.raises(UserError, match="svdgan train"):
        memory.distances(video_motion([to_grey(np.zeros((48, 128), np.uint8), 48)] * 2, 8)[0])


@pytest.mark.parametrize("override, message", [
    ("memory.cell=1", "memory.cell"), ("memory.height=8", "memory.height"), ("memory.weight=-1", "memory.weight"),
    ("memory.every=0", "memory.every"), ("memory.enabled=maybe", "memory.enabled")])
def test_bad_memory_settings_are_refused(override, message):
    with pytest.raises(UserError, match=message):
        load_config(TINY, [override])


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def detect_scores_as_evaluate(checkpoint, data, tmp_path, capsys) -> dict:
    """`svdgan evaluate --normalize train` of a model, and `svdgan detect` of test video 01 with it:
    asserts that detect gives the frames evaluate's scores; returns evaluate's metrics."""
    report = tmp_path / "r"
    assert run(["evaluate", "--checkpoint", checkpoint, "--data", data, "--out", report, "--normalize", "train",
                "--quiet"], capsys)[0] == 0
    offline = [float(line.split(",")[2]) for line in (report / "scores.csv").read_text().splitlines()[1:]
               if line.startswith("01,")]
    scores = tmp_path / "scores.csv"
    assert run(["detect", data / "testing" / "frames" / "01", "--checkpoint", checkpoint, "--scores", scores],
               capsys)[0] == 0
    live = [float(line.split(",")[1]) for line in scores.read_text().splitlines()[1:]]
    np.testing.assert_allclose(live, offline, rtol=1e-6, atol=1e-6)
    return json.loads((report / "metrics.json").read_text())


def test_a_model_with_a_memory_trains_evaluates_streams_and_recalibrates(synthetic_dataset, tmp_path, capsys):
    out = tmp_path / "run"
    memory = ["memory.enabled=true", "memory.height=32", "memory.cell=8", "score.smooth=2"]
    assert run(["train", "--data", synthetic_dataset, "--out", out, "--config", TINY, "--quiet",
                *[a for m in memory for a in ("--set", m)]], capsys)[0] == 0
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    assert payload["score_stats"]["motion"] is True and payload["motion"]["bank"].shape[1] == N_FEATURES
    assert set(payload["motion"]["stats"]) == {"generator", "motion", "generator_scores"}
    from svdgan.evaluation.speed import detector_speed
    from svdgan.scoring.detector import Detector

    cost = detector_speed(Detector.load(out / "checkpoint.pt"), 10, streams=0)  # what `svdgan benchmark` reports
    assert cost["frame_size"] == [32, 40] and cost["fps"] > 0 and {"flow", "memory", "generator"} <= set(
        cost["stages_ms"])
    report = tmp_path / "report"
    code, _, _ = run(["evaluate", "--checkpoint", out / "checkpoint.pt", "--data", synthetic_dataset,
                      "--out", report, "--normalize", "train", "--quiet"], capsys)
    metrics = json.loads((report / "metrics.json").read_text())
    assert code == 0 and metrics["score"]["motion"] is True
    offline = [float(line.split(",")[2]) for line in (report / "scores.csv").read_text().splitlines()[1:]
               if line.startswith("01,")]
    events, scores = tmp_path / "events.jsonl", tmp_path / "scores.csv"
    code, _, _ = run(["detect", synthetic_dataset / "testing" / "frames" / "01", "--checkpoint",
                      out / "checkpoint.pt", "--events", events, "--scores", scores, "--min-frames", "1"], capsys)
    records = [json.loads(line) for line in events.read_text().splitlines()]
    live = [float(line.split(",")[1]) for line in scores.read_text().splitlines()[1:]]
    assert code == 0
    np.testing.assert_allclose(live, offline, rtol=1e-6, atol=1e-6)  # detect fuses as evaluate does
    assert records and all(r["reason"] and len(r["box"]) == 4 for r in records)  # each event says why and where
    h, w = cv2.imread(str(sorted((synthetic_dataset / "testing" / "frames" / "01").iterdir())[0])).shape[:2]
    assert all(0 <= x < w and 0 <= y < h and x + bw <= w and y + bh <= h for x, y, bw, bh in
               (r["box"] for r in records))
    # the ablation switch: without the memory the scores are the generator's alone, and differ
    plain = tmp_path / "plain.pt"
    assert run(["calibrate", "--checkpoint", out / "checkpoint.pt", "--data", synthetic_dataset, "--out", plain,
                "--set", "memory.enabled=false", "--quiet"], capsys)[0] == 0
    assert "motion" not in torch.load(plain, weights_only=True)
    assert run(["evaluate", "--checkpoint", plain, "--data", synthetic_dataset, "--out", tmp_path / "r2",
                "--normalize", "train", "--quiet"], capsys)[0] == 0
    without = [float(line.split(",")[2]) for line in (tmp_path / "r2" / "scores.csv").read_text().splitlines()[1:]
               if line.startswith("01,")]
    assert not np.allclose(without, offline)


def test_motion_sweep_runs_on_tiny_data_and_refuses_bad_settings(synthetic_dataset, tmp_path, capsys):
    from research.motion_sweep import main as sweep

    out = tmp_path / "sweep.json"
    assert sweep(["--data", str(synthetic_dataset), "--heights", "32", "--cells", "8", "16", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["height"], r["cell"]) for r in rows] == [(32, 8), (32, 16)]
    assert all(0 <= r["micro_auc"] <= 1 for r in rows)
    assert sweep(["--data", str(synthetic_dataset), "--heights", "32", "--cells", "64"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("svdgan: error:")


def test_a_view_the_memory_does_not_fit_is_scored_by_the_generator_alone(synthetic_dataset, tmp_path, capsys):
    from svdgan.scoring.fusion import SourceScores

    memory, _ = fit_memory([moving_square(30, 1, 16, seed=s) for s in range(2)], SMALL, smooth=1)
    memory.stats = {"generator": {"mean": 0.0, "std": 1.0}, "motion": {"mean": 0.0, "std": 1.0},
                    "generator_scores": {"min": 0.0, "max": 10.0}}
    fused = {"min": -5.0, "max": 5.0}
    wide = SourceScores(memory, fused, 1, "wide camera")
    assert wide.score(5.0, np.zeros((48, 128, 3), np.uint8)) == 0.5  # the generator's statistics
    assert wide.motion is None and "wide camera" in capsys.readouterr().err
    same = SourceScores(memory, fused, 1, "same view")
    assert same.score(0.0, np.zeros((48, 64, 3), np.uint8)) == pytest.approx(0.5)  # fused: (0 + 0 + 5) / 10
    assert same.motion is not None and capsys.readouterr().err == ""


def test_another_view_is_scored_without_the_memory_by_evaluate_and_detect_alike(synthetic_dataset, tmp_path,
                                                                                    capsys):
    from ..conftest import random_frames, write_frame_folder, write_video

    out = tmp_path / "run"
    settings = ["memory.enabled=true", "memory.height=32", "memory.cell=8"]
    assert run(["train", "--data", synthetic_dataset, "--out", out, "--config", TINY, "--quiet",
                *[a for m in settings for a in ("--set", m)]], capsys)[0] == 0
    wide = tmp_path / "wide"
    write_frame_folder(wide / "training" / "frames" / "01", random_frames(8, 16, 64))
    write_frame_folder(wide / "testing" / "frames" / "01", random_frames(8, 16, 64, seed=1))
    (wide / "gt.m").write_text("TestVideoFile{end+1}.gt_frame = [2:5];\n")
    code, _, err = run(["evaluate", "--checkpoint", out / "checkpoint.pt", "--data", wide, "--out",
                        tmp_path / "report", "--normalize", "train", "--quiet"], capsys)
    assert code == 0 and "scored by the generator alone" in err and "--learn 2m" in err  # one rule everywhere
    assert (tmp_path / "report" / "metrics.json").exists()
    video = tmp_path / "wide.avi"
    write_video(video, random_frames(6, 16, 64))
    code, _, err = run(["detect", video, "--checkpoint", out / "checkpoint.pt", "--scores", tmp_path / "s.csv"],
                       capsys)
    assert code == 0 and "scored by the generator alone" in err
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 7  # a header and six frames


def test_a_model_scored_by_its_memory_alone_never_runs_the_generator(synthetic_dataset, tmp_path, capsys,
                                                                     monkeypatch):
    from svdgan.model.generator import Generator

    from ..conftest import random_frames, write_video

    out = tmp_path / "run"
    settings = ["memory.enabled=true", "memory.height=32", "memory.cell=8", "score.smooth=2"]
    assert run(["train", "--data", synthetic_dataset, "--out", out, "--config", TINY, "--quiet",
                *[a for m in settings for a in ("--set", m)]], capsys)[0] == 0
    alone = tmp_path / "alone.pt"

    def not_run(*args, **kwargs):
        raise AssertionError("the generator ran")

    monkeypatch.setattr(Generator, "forward", not_run)
    monkeypatch.setattr(Generator, "decode", not_run)
    assert run(["calibrate", "--checkpoint", out / "checkpoint.pt", "--data", synthetic_dataset, "--out", alone,
                "--set", "score.generator=false", "--quiet"], capsys)[0] == 0
    payload = torch.load(alone, weights_only=True)
    assert payload["score_stats"]["generator"] is False and set(payload["motion"]["stats"]) == {"motion"}
    assert detect_scores_as_evaluate(alone, synthetic_dataset, tmp_path, capsys)["micro_auc"] > 0.5
    # with the memory alone, a view it does not fit cannot be scored until learnt: one line that says how, exit 2
    video = tmp_path / "wide.avi"
    write_video(video, random_frames(6, 16, 64))
    code, _, err = run(["detect", video, "--checkpoint", alone], capsys)
    errors = [line for line in err.splitlines() if "error" in line]
    assert code == 2 and len(errors) == 1 and "--learn" in errors[0] and errors[0] == err.strip().splitlines()[-1]


def test_training_a_recipe_that_scores_with_the_memory_alone_trains_no_generator(synthetic_dataset, tmp_path,
                                                                                  capsys):
    out = tmp_path / "run"
    settings = ["memory.enabled=true", "memory.height=32", "memory.cell=8", "score.generator=false"]
    assert run(["train", "--data", synthetic_dataset, "--out", out, "--config", TINY, "--quiet",
                *[a for m in settings for a in ("--set", m)]], capsys)[0] == 0
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    assert "generator" not in payload and "discriminator" not in payload and payload["step"] == 0
    assert payload["train_sessions"][0]["machine"] and payload["score_stats"]["generator"] is False
    code, _, _ = run(["evaluate", "--checkpoint", out / "checkpoint.pt", "--data", synthetic_dataset, "--out",
                      tmp_path / "r", "--normalize", "train", "--quiet"], capsys)
    assert code == 0 and json.loads((tmp_path / "r" / "metrics.json").read_text())["micro_auc"] > 0.5
    # it can be recalibrated, but not asked to score with a generator it does not have
    assert run(["calibrate", "--checkpoint", out / "checkpoint.pt", "--data", synthetic_dataset, "--out",
                tmp_path / "again.pt", "--quiet"], capsys)[0] == 0
    code, _, err = run(["evaluate", "--checkpoint", out / "checkpoint.pt", "--data", synthetic_dataset, "--out",
                        tmp_path / "r2", "--set", "score.generator=true"], capsys)
    assert code == 2 and "has no generator" in err.strip().splitlines()[-1]
    code, _, err = run(["train", "--data", synthetic_dataset, "--out", out, "--resume", "--quiet"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_the_settings_chosen_on_the_synthetic_scene_come_with_the_sweep_they_come_from(capsys):
    from research.recipe_on_synth import main as choose
    from research.recipe_on_synth import run as sweep
    from svdgan.data.synth import SynthConfig

    scene = SynthConfig(width=64, height=48, train_videos=2, test_videos=2, frames=30, seed=1)
    results = sweep([8, 16], [1, 3], scene, height=48, seeds=2)
    capsys.readouterr()
    assert [(r["cell"], r["smooth"]) for r in results["rows"]] == [(8, 1), (8, 3), (16, 1), (16, 3)]
    best = max(results["rows"], key=lambda r: r["micro_auc"])
    assert all(len(r["per_seed"]) == 2 and r["micro_auc"] == pytest.approx(np.mean(r["per_seed"]))
               for r in results["rows"])
    assert results["choice"] == {"cell": best["cell"], "smooth": best["smooth"]}
    assert choose(["--cells", "1"]) == 2 and capsys.readouterr().err.strip() == (
        "svdgan: error: --cells must lie between 2 and 240, --smooth, --videos and --seeds be at least 1")
