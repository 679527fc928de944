"""The shared features, neighbour lists and kNN label model of the outlier/label checks."""

import numpy as np

from convergent.data.checks.embedding import _drop_self, oos_probabilities, spectrum, votes


def _g32(img):
    return img.astype(np.float16).reshape(1, -1)


def test_spectrum_tells_thin_stripes_from_a_filled_blob():
    yy, xx = np.mgrid[0:32, 0:32]
    stripes = np.sin(xx * 2 * np.pi / 4)  # period 4 px: high frequency
    blob = (np.hypot(yy - 16, xx - 16) < 9).astype(float)  # one filled disc: low frequency
    s, b = spectrum(_g32(stripes))[0], spectrum(_g32(blob))[0]
    assert b[0] > s[0] and s[-3:].max() > b[-3:].max()
    assert np.allclose(spectrum(_g32(blob)), spectrum(_g32(np.roll(blob, 5, axis=1))),
                       atol=1e-3)  # translation does not change it


def test_drop_self_removes_the_own_row_even_behind_an_exact_copy():
    idx = np.array([[1, 0, 2], [0, 1, 2], [0, 2, 1]])  # row 0 ranks its copy (1) first
    assert _drop_self(idx).tolist() == [[1, 2], [0, 2], [0, 1]]


def test_votes_and_out_of_sample_probabilities():
    x = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    y = np.array([0, 0, 0, 1, 1, 1])
    p = oos_probabilities(x, y, k=2)
    assert p.argmax(1).tolist() == y.tolist() and np.allclose(p.sum(1), 1)
    y_wrong = y.copy()
    y_wrong[4] = 0  # the vote leaves the row out, so its own label does not count
    assert oos_probabilities(x, y_wrong, k=2)[4].argmax() == 1
    assert votes(np.array([[1, 2], [0, 2]]), np.array([0, 1, 1])).tolist() == [[0, 2], [1, 1]]


def test_spectrum_in_chunks_equals_spectrum_at_once():
    g = np.random.default_rng(0).normal(size=(5, 1024)).astype(np.float16)
    assert np.allclose(spectrum(g, chunk=2), spectrum(g))
