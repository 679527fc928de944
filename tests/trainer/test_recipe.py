import pytest

from convergent.trainer.recipe import Recipe, default_recipe, diff


@pytest.mark.parametrize(("shape", "n", "depth", "width", "head"), [
    ((8, 8, 1), 1400, 2, 16, "flatten"), ((28, 28, 1), 4000, 3, 16, "flatten"),
    ((64, 64, 3), 30000, 4, 32, "gap")],
    ids=["digits-4x4x32", "mnist-7x7x64", "64px-rgb-8x8x256"])
def test_default_recipe_is_sized_to_the_data(shape, n, depth, width, head):
    r = default_recipe(10, shape, n)
    assert (r.model.depth, r.model.width, r.model.head) == (depth, width, head)
    assert r.compile.optimizer == "adamw" and r.fit.early_stopping_patience > 0


def test_with_returns_a_new_recipe_and_diff_lists_changes():
    r = Recipe()
    r2 = r.with_(compile={"learning_rate": 0.1}, fit={"epochs": 3})
    assert r.compile.learning_rate == 1e-3
    assert diff(r, r2) == {"compile.learning_rate": (1e-3, 0.1), "fit.epochs": (30, 3)}


def test_unknown_part_is_rejected():
    with pytest.raises(ValueError, match="unknown recipe part"):
        Recipe().with_(optimizer={"lr": 1})


def test_unknown_head_is_rejected():
    with pytest.raises(ValueError, match="model.head='dense'"):
        Recipe().with_(model={"head": "dense"})
