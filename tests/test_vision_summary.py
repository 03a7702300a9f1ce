"""Per-answer arithmetic over frame cues (hand-made cues: the real-media tests are elsewhere)."""

from __future__ import annotations

import pytest

from inference.interfaces import FaceCues, FrameCues
from inference.vision.summary import main_face, summarise, summarise_answers

BIG = (0.3, 0.2, 0.4, 0.5)
SMALL = (0.8, 0.1, 0.1, 0.1)


def _frame(t: float, *faces: FaceCues) -> FrameCues:
    return FrameCues(t=t, width=640, height=360, faces=faces)


def _face(
    box: tuple[float, float, float, float] = BIG,
    *,
    looking: bool = True,
    smile: float = 0.0,
    closure: float = 0.0,
) -> FaceCues:
    return FaceCues(box=box, score=0.9, gaze_at_camera=looking, smile=smile, eye_closure=closure)


def test_shares_look_away_and_people_events() -> None:
    frames = [
        _frame(0.0, _face(smile=0.8)),
        _frame(0.5, _face(looking=False)),
        _frame(1.0),  # nobody in frame
        _frame(1.5, _face(looking=False, closure=0.9)),
        _frame(2.0, _face(smile=0.6), _face(SMALL)),
        _frame(2.5, _face(), _face(SMALL), _face(SMALL)),
        _frame(3.0, _face()),
        _frame(3.5, _face(), _face(SMALL)),
    ]
    summary = summarise(frames, 0.5)
    assert summary.frames == 8 and (summary.start, summary.end) == (0.0, 4.0)
    assert summary.face_visible_share == pytest.approx(7 / 8, abs=1e-4)
    assert summary.looking_at_camera_share == pytest.approx(5 / 8, abs=1e-4)
    assert summary.longest_look_away_s == 1.5  # 0.5 .. 2.0: away, absent, away
    assert summary.smile_share == pytest.approx(2 / 7, abs=1e-4)
    assert summary.eyes_closed_share == pytest.approx(1 / 7, abs=1e-4)
    events = [(e.start, e.end, e.max_faces) for e in summary.multiple_people_events]
    assert events == [(2.0, 3.0, 3), (3.5, 4.0, 2)]


def test_main_face_is_the_largest_and_windows_cut_by_time() -> None:
    frame = _frame(0.0, _face(SMALL, smile=1.0), _face(BIG, smile=0.0))
    chosen = main_face(frame)
    assert chosen is not None and chosen.box == BIG
    frames = [_frame(t / 2, _face(looking=t < 4)) for t in range(8)]
    answers = summarise_answers(frames, 0.5, [("1", 0.0, 2.0), ("2", 2.0, 4.0)])
    assert answers["1"].looking_at_camera_share == 1.0 and answers["1"].frames == 4
    assert answers["2"].looking_at_camera_share == 0.0 and answers["2"].longest_look_away_s == 2.0


def test_unknown_gaze_stays_unknown_and_empty_input() -> None:
    blind = [_frame(0.0, FaceCues(box=BIG, score=1.0, smile=1.0))]
    summary = summarise(blind, 0.5)
    assert summary.looking_at_camera_share is None and summary.longest_look_away_s is None
    assert summary.smile_share == 1.0 and summary.eyes_closed_share is None
    nobody = summarise([_frame(0.0), _frame(0.5)], 0.5, reports_gaze=True)
    assert (nobody.face_visible_share, nobody.looking_at_camera_share) == (0.0, 0.0)
    assert nobody.longest_look_away_s == 1.0
    empty = summarise([], 0.5)
    assert empty.frames == 0 and empty.face_visible_share == 0.0
    with pytest.raises(ValueError):
        summarise([], 0.0)


def test_summaries_stay_inside_the_media() -> None:
    from inference.interfaces import FaceCues, FrameCues
    from inference.vision.summary import summarise

    face = FaceCues((0.1, 0.1, 0.2, 0.2), 0.9, gaze_at_camera=True)
    two = (face, FaceCues((0.6, 0.1, 0.2, 0.2), 0.9))
    frames = [
        FrameCues(t, 640, 480, two if t >= 2.0 else (face,)) for t in (0.0, 0.5, 1.0, 1.5, 2.0)
    ]
    # 2.4 s of video sampled at 2 fps: the last frame (2.0 s) stands for 0.4 s, not 0.5 s.
    inside = summarise(frames, 0.5, duration_s=2.4)
    assert inside.end == 2.4
    assert [(e.start, e.end) for e in inside.multiple_people_events] == [(2.0, 2.4)]
    assert summarise(frames, 0.5).end == 2.5  # without the duration, as before
