"""paper_repro.class_structure: the digits rebuilt with SVCCA Fig 6's class structure (two similar
pairs that differ only in where a mark is, one class distinct by colour, five ordinary classes)."""
from __future__ import annotations

import numpy as np
import pytest

from paper_repro import class_structure as cs
from paper_repro.classifiers import classifier_config, image_data
from paper_repro.context import RunContext
from paper_repro.data import digits


@pytest.fixture(scope="module")
def data():
    images, labels = digits()
    return images, labels, *cs.class_structure_images(images, labels)


def test_deterministic_shapes_and_labels(data):
    images, labels, x, y = data
    x2, y2 = cs.class_structure_images(images, labels)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    n_pair = sum(int(np.sum(labels == d)) for d in cs.PAIR_DIGITS)
    n_rest = sum(int(np.sum(labels == d)) for d in (cs.DISTINCT_DIGIT, *cs.ORDINARY_DIGITS))
    assert x.shape == (2 * n_pair + n_rest, 3, 8, 8) and x.dtype == np.float32
    assert y.shape == (len(x),) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(cs.CLASSES)) and len(cs.class_names()) == cs.CLASSES
    assert np.all(np.diff(y) >= 0)                          # grouped by class
    assert x.min() >= 0 and x.max() <= 1
    # every class holds the images of its digit, in order
    for k, d in enumerate(cs.ORDINARY_DIGITS):
        np.testing.assert_allclose(x[y == 5 + k][:, 1], images[labels == d], atol=1e-6)


def test_the_colour_cue_is_in_the_distinct_class_only(data):
    _, _, x, y = data
    grey = np.all(np.abs(x - x[:, :1]) < 1e-6, axis=(1, 2, 3))      # the three channels equal
    assert not grey[y == 4].any() and grey[y != 4].all()
    red = x[y == 4]
    np.testing.assert_allclose(red[:, 1], cs.RED[1] / cs.RED[0] * red[:, 0], atol=1e-6)
    np.testing.assert_allclose(red[:, 2], cs.RED[2] / cs.RED[0] * red[:, 0], atol=1e-6)


def test_a_pairs_classes_differ_only_by_the_mark(data):
    images, labels, x, y = data
    (r0, r1), (l0, l1), (q0, q1) = cs.MARK["rows"], cs.MARK["left"], cs.MARK["right"]
    place = {"left": np.zeros((8, 8), bool), "right": np.zeros((8, 8), bool)}
    place["left"][r0:r1, l0:l1] = True
    place["right"][r0:r1, q0:q1] = True
    for p, d in enumerate(cs.PAIR_DIGITS):
        a, b, base = x[y == 2 * p], x[y == 2 * p + 1], images[labels == d]
        assert len(a) == len(b) == len(base)
        for img, side in ((a, "left"), (b, "right")):
            g = img[:, 0]
            np.testing.assert_allclose(g[:, ~place[side]], base[:, ~place[side]], atol=1e-6)   # same image
            np.testing.assert_allclose(g[:, place[side]], np.maximum(base[:, place[side]], cs.MARK["value"]),
                                       atol=1e-6)                                             # plus the mark
        # the two classes differ nowhere but in the two marks' places, and there in most images
        diff = np.abs(a - b).max(axis=1) > 1e-6
        assert not diff[:, ~(place["left"] | place["right"])].any()
        assert diff.any(axis=(1, 2)).mean() > 0.9


def test_documented_digit_choice(data):
    """The pairs are the two digits with the least mean ink in the mark's places; the distinct
    digit is the first other one, the ordinary ones the next five; ten classes."""
    images, labels, _, _ = data
    (r0, r1), (l0, l1), (q0, q1) = cs.MARK["rows"], cs.MARK["left"], cs.MARK["right"]
    ink = [images[labels == d][:, r0:r1, l0:l1].mean() + images[labels == d][:, r0:r1, q0:q1].mean()
           for d in range(10)]
    assert set(cs.PAIR_DIGITS) == set(np.argsort(ink)[:2].tolist())
    rest = [d for d in range(10) if d not in cs.PAIR_DIGITS]
    assert cs.DISTINCT_DIGIT == rest[0] and tuple(cs.ORDINARY_DIGITS) == tuple(rest[1:6])


def test_image_data_and_config_use_it():
    ctx = RunContext(scale="small", out="/tmp/unused-class-structure-test")
    x, y = image_data(ctx, train=True, dataset="class_structure")
    xd, yd = image_data(ctx, train=True)
    xt, yt = image_data(ctx, train=False, dataset="class_structure")
    assert x.shape[1:] == (3, 8, 8) and xd.shape[1:] == (1, 8, 8)
    # built from the fixed digits split: the train digits of the pair digits appear twice
    assert len(y) == len(yd) + sum(int(np.sum(yd == d)) for d in cs.PAIR_DIGITS) - sum(
        int(np.sum(yd == d)) for d in range(10) if d not in (cs.DISTINCT_DIGIT, *cs.PAIR_DIGITS, *cs.ORDINARY_DIGITS))
    assert set(np.unique(yt)) == set(range(10))
    cfg = classifier_config(ctx, {"name": "resnet", "width": 4, "blocks": 1}, steps=1, dataset="class_structure")
    assert cfg["model"]["in_channels"] == 3 and cfg["data"]["name"] == "class_structure"
    assert cfg["data"]["params"] == cs.params()                   # the generator's knobs key the cache
    assert "params" not in classifier_config(ctx, {"name": "resnet"}, steps=1)["data"]
    with pytest.raises(ValueError, match="dataset"):
        image_data(ctx, dataset="nope")
