from svdgan.live.alerts import Alarm


def flags(alarm: Alarm, scores: list[float]) -> list[bool]:
    return [alarm.update(s) for s in scores]


def test_an_alert_needs_min_frames_above_the_threshold_to_rise():
    assert flags(Alarm(1.0, min_frames=3), [2, 2, 0, 2, 2, 2, 2]) == [False, False, False, False, False, True, True]


def test_by_default_the_first_frame_not_above_the_threshold_ends_the_alert():
    assert flags(Alarm(1.0, min_frames=2), [2, 2, 1.0, 2, 2, 0]) == [False, True, False, False, True, False]


def test_end_frames_holds_the_alert_through_a_short_dip_and_ends_it_after_a_long_one():
    alarm = Alarm(1.0, min_frames=2, end_frames=3)
    scores = [2, 2, 0, 0, 2, 0, 0, 0, 0, 2]
    assert flags(alarm, scores) == [False, True, True, True, True, True, True, False, False, False]
    # once lowered it needs min_frames above the threshold again: the last single frame raises nothing
