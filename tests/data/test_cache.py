"""The decoded-frame cache and batch workers change nothing but speed."""

import numpy as np
import torch

from svdgan.cli import main
from svdgan.data.cache import cached_video
from svdgan.data.datasets import discover
from svdgan.data.frames import load_video

from ..conftest import TINY


def test_cache_holds_the_decoded_frames_and_notices_changes(frame_folder_dataset, tmp_path):
    video = discover(frame_folder_dataset).train[0]
    cached = cached_video(video, 32, 1, tmp_path / "cache")
    assert isinstance(cached, np.memmap) or isinstance(cached.base, np.memmap)
    np.testing.assert_array_equal(cached, load_video(video, 32, 1))
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    cached_video(video, 32, 1, tmp_path / "cache")  # reused
    cached_video(video, 16, 1, tmp_path / "cache")  # another size: another entry
    first = sorted(video.path.iterdir())[0]
    first.write_bytes(sorted(video.path.iterdir())[1].read_bytes())  # the video changed
    cached_video(video, 32, 1, tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 3 and not list((tmp_path / "cache").glob(".*"))


def test_training_with_cache_and_workers_equals_plain_training(synthetic_dataset, tmp_path):
    common = ["--data", str(synthetic_dataset), "--config", str(TINY), "--quiet"]
    assert main(["train", "--out", str(tmp_path / "plain"), *common]) == 0
    assert main(["train", "--out", str(tmp_path / "cached"), *common, "--set", f"train.cache_dir={tmp_path / 'c'}",
                 "--set", "train.workers=2"]) == 0
    assert len(list((tmp_path / "c").glob("*.npy"))) == 2  # one per training video
    a = torch.load(tmp_path / "plain" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "cached" / "checkpoint.pt", weights_only=True)
    for key in a["generator"]:
        torch.testing.assert_close(a["generator"][key], b["generator"][key])
