"""Video sources: files, frame folders, and live sources that drop and come back."""

import numpy as np
import pytest

from svdgan.errors import UserError
from svdgan.sources.open import open_source
from svdgan.sources.video import CaptureSource, FolderSource

from ..conftest import random_frames, write_frame_folder, write_video


class FakeCapture:
    """A live source that delivers `n` frames, then stops delivering (a dropped connection)."""

    def __init__(self, n, opens=True):
        self.n, self.opens, self.released = n, opens, False

    def isOpened(self):  # noqa: N802 (OpenCV's name)
        return self.opens

    def get(self, prop):
        return 25.0

    def read(self):
        if self.n == 0:
            return False, None
        self.n -= 1
        return True, np.zeros((8, 8, 3), np.uint8)

    def release(self):
        self.released = True


def test_video_file_and_frame_folder(tmp_path):
    write_video(tmp_path / "clip.avi", random_frames(5), fps=10)
    source = open_source(str(tmp_path / "clip.avi"))
    frames = list(source.frames())
    assert not source.live and [f.index for f in frames] == list(range(5))
    assert frames[2].time == pytest.approx(0.2) and frames[0].image.shape == (24, 32, 3)
    write_frame_folder(tmp_path / "folder", random_frames(3))
    assert isinstance(open_source(str(tmp_path / "folder")), FolderSource)
    assert len(list(open_source(str(tmp_path / "folder")).frames())) == 3


def test_live_source_that_drops_is_reopened_with_back_off(capsys):
    captures = iter([FakeCapture(3), FakeCapture(0, opens=False), FakeCapture(2)])
    waits = []
    source = CaptureSource("rtsp://camera", lambda: next(captures, FakeCapture(0, opens=False)), live=True,
                           retries=3, sleep=waits.append)
    frames = list(source.frames())
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]  # numbering continues across the reconnection
    assert source.reconnects == 1
    assert waits == [0.5, 1.0, 0.5, 1.0, 2.0]  # back-off doubles, and starts over once frames flow
    err = capsys.readouterr().err
    assert "reconnecting in 0.5 s" in err and "giving up" in err


def test_a_file_that_breaks_ends_cleanly(capsys):
    source = CaptureSource("broken.avi", lambda: FakeCapture(2), live=False)
    assert len(list(source.frames())) == 2
    assert "end of video after 2 frames" in capsys.readouterr().err


@pytest.mark.parametrize("spec", ["missing.avi", "notes.txt"])
def test_bad_sources(tmp_path, spec):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UserError):
        open_source(str(tmp_path / spec))
    with pytest.raises(UserError, match="no readable frames"):
        list(CaptureSource("empty.avi", lambda: FakeCapture(0), live=False).frames())
