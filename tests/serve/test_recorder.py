"""Clips and snapshots: pre-roll from the ring buffer, post-roll, written whole or not at all."""

import cv2
import numpy as np

from svdgan.serve.recorder import Recorded, Recorder, snapshot


def _item(value):
    return Recorded(np.full((24, 32, 3), value, np.uint8), np.zeros((16, 16), np.float32), 0.0)


def _frames(path):
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    return count


def test_clip_has_pre_roll_event_and_post_roll_and_no_partial_file(tmp_path):
    recorder = Recorder(pre_frames=3, post_frames=2, fps=10)
    for v in range(5):
        assert recorder.push(_item(v)) is None
    recorder.start_clip(tmp_path / "event_1.webm", 1)  # 3 frames before the alert and the alert's own
    for v in range(4):
        assert recorder.push(_item(100 + v)) is None
    recorder.end_clip()
    assert recorder.push(_item(200)) is None and not (tmp_path / "event_1.webm").exists()
    finished = recorder.push(_item(201))
    assert finished is not None and finished.event_id == 1
    assert _frames(tmp_path / "event_1.webm") == 4 + 4 + 2
    assert [p.name for p in tmp_path.iterdir()] == ["event_1.webm"]


def test_a_new_event_during_post_roll_finishes_the_last_clip(tmp_path):
    recorder = Recorder(pre_frames=1, post_frames=5, fps=10)
    recorder.push(_item(0))
    recorder.start_clip(tmp_path / "event_1.webm", 1)
    recorder.end_clip()
    finished = recorder.start_clip(tmp_path / "event_2.webm", 2)
    assert finished.event_id == 1 and (tmp_path / "event_1.webm").exists()


def test_snapshot_is_frame_beside_heat_map(tmp_path):
    item = Recorded(np.zeros((24, 32, 3), np.uint8), np.random.default_rng(0).random((16, 16)).astype(np.float32), 2.0)
    snapshot(tmp_path / "s.jpg", item)
    image = cv2.imread(str(tmp_path / "s.jpg"))
    assert image.shape == (24, 64, 3) and [p.name for p in tmp_path.iterdir()] == ["s.jpg"]
