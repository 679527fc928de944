"""rebuild(): a Sequential/functional graph traced again with some layers changed."""

import numpy as np
import pytest

from convergent.remedies.rebuild import clone_layer, is_graph_model, rebuild, spatial_side


def functional(keras):
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    h = keras.layers.MaxPooling2D(4, name="pool")(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(2, name="narrow")(h)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(h))


def test_unchanged_layers_are_reused_and_a_changed_input_clones_the_next_layer(keras):
    m = functional(keras)
    new, log = rebuild(m, lambda ly: [clone_layer(ly, units=6)] if ly.name == "narrow" else None)
    assert new.get_layer("conv") is m.get_layer("conv")
    assert new.get_layer("narrow").units == 6 and new.get_layer("narrow") is not m.get_layer(
        "narrow")
    assert log["reinitialized"] == ["out"]  # its kernel is (6, 3) now
    assert new.output_shape == (None, 3)
    assert m.get_layer("narrow").units == 2  # the user's model is unchanged


def test_dropping_a_layer_and_inserting_one(keras):
    m = functional(keras)
    # dropping the pool grows the map 2x2 -> 8x8: conv is reused, narrow is cloned
    new, log = rebuild(m, lambda ly: [] if ly.name == "pool" else None)
    assert "narrow" in log["reinitialized"] and spatial_side(log) == 8
    assert not any(ly.name == "pool" for ly in new.layers)
    seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"),
                            keras.layers.Dense(2, name="b")])
    new, log = rebuild(seq, lambda ly: [keras.layers.Dense(5), ly] if ly.name == "a" else None)
    assert log["reinitialized"] == ["a"]  # built for 4 inputs, now gets 5
    assert new.get_layer("b") is seq.get_layer("b")  # its input is still 3 wide
    assert [ly.name for ly in new.layers][-2:] == ["a", "b"]
    assert new(np.zeros((2, 4), "float32")).shape == (2, 2)


def test_a_subclassed_model_cannot_be_rebuilt(keras):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2)

        def call(self, x):
            return self.d(x)

    net = Net()
    net(np.zeros((1, 4), "float32"))
    assert not is_graph_model(net)
    with pytest.raises(TypeError, match="subclassed"):
        rebuild(net, lambda ly: None)
