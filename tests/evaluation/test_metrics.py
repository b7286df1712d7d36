import json
from pathlib import Path

import numpy as np
import pytest

from svdgan.cli import main
from svdgan.evaluation.metrics import auc, eer, evaluate, roc_curve

AUTHORS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "authors_scores_ped2"


def test_auc_hand_computed_cases():
    assert auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    # pairs (anomalous, normal): (0.5>0.1) (0.5>0.4) (0.3>0.1) (0.3<0.4) -> 3 of 4
    assert auc([0.1, 0.4, 0.3, 0.5], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert auc([0.5, 0.5, 0.5], [0, 1, 0]) == pytest.approx(0.5)  # ties count one half
    assert auc([0.2, 0.7], [1, 1]) is None  # one class only: undefined


def test_roc_curve_endpoints_and_thresholds():
    roc = roc_curve(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    assert roc.fpr[0] == 0 and roc.tpr[0] == 0 and roc.fpr[-1] == 1 and roc.tpr[-1] == 1
    assert np.all(np.diff(roc.thresholds) < 0)


def test_eer_hand_computed():
    assert eer([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])[0] == 0.0
    rate, _ = eer([0.1, 0.4, 0.3, 0.5], [0, 0, 1, 1])
    assert rate == pytest.approx(0.5)


def test_micro_and_macro_with_an_all_anomalous_video():
    videos = [("a", np.array([0.1, 0.9, 0.2]), np.array([0, 1, 0], bool)),
              ("b", np.array([0.5, 0.6]), np.array([1, 1], bool)),  # every frame anomalous
              ("c", np.array([0.3, 0.1]), np.array([0, 1], bool))]
    m = evaluate(videos, "none")
    assert m["per_video"] == {"a": 1.0, "b": None, "c": 0.0}
    assert m["macro_auc"] == pytest.approx(0.5)  # mean over the videos where it is defined
    # micro: anomalous {0.9, 0.5, 0.6, 0.1} vs normal {0.1, 0.2, 0.3}: 3+3+3+0.5 of 12
    assert m["micro_auc"] == pytest.approx(9.5 / 12)
    assert m["n_frames"] == 7


@pytest.mark.skipif(not AUTHORS.is_dir(), reason="needs ../shared/reference")
@pytest.mark.parametrize("protocol, key, value", [("authors", "macro_auc", 0.7698),
                                                  ("standard", "micro_auc", 0.7543)])
def test_metrics_command_reproduces_the_authors_published_figures(capsys, protocol, key, value):
    code = main(["metrics", "--scores", str(AUTHORS), "--ground-truth", str(AUTHORS / "obs.m"),
                 "--protocol", protocol])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert round(result[key], 4) == value
    assert set(result) >= {"micro_auc", "macro_auc", "eer", "n_frames", "normalize", "per_video"}
