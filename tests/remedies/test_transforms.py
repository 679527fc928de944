"""Every Recipe transform is pure (returns a new Recipe, leaves its input alone) and changes
what its remedy says."""

import pytest

from convergent.findings import Code, Finding, Severity
from convergent.remedies import transforms as T
from convergent.remedies.catalog import CATALOG
from convergent.trainer.recipe import Recipe, default_recipe, diff


def base() -> Recipe:
    return default_recipe(num_classes=10, input_shape=(28, 28, 1), n_train=4000)


def finding(code: Code, **evidence) -> Finding:
    return Finding(code, Severity.ERROR, 0.9, "t", "e", evidence)


BROKEN = base().with_(
    data={"input_scale": "none", "balance": "none"},
    model={"activation": "sigmoid", "initializer": "random_normal", "batchnorm": False,
           "dropout": 0.9, "output_activation": "sigmoid", "output_units": 5},
    compile={"optimizer": "sgd", "learning_rate": 10.0, "loss": "mse"},
    fit={"early_stopping_patience": 0, "epochs": 5})

# remedy id -> (context, a check on the new recipe)
CASES = {
    "rescale": (T.Context(), lambda r: r.data.input_scale == "rescale"),
    "standardize": (T.Context(), lambda r: r.data.input_scale == "standardize"),
    "same_preprocessing": (T.Context(), lambda r: r.data.input_scale != "none"),
    "class_weights": (T.Context(), lambda r: r.data.balance == "class_weight"),
    "oversample": (T.Context(), lambda r: r.data.balance == "oversample"),
    "drop_corrupt": (T.Context(finding(Code.DATA_CORRUPT, files=["a/x.png"])),
                     lambda r: r.data.exclude == ("a/x.png",)),
    "review_images": (T.Context(finding(Code.DATA_BLURRY, files=["a/y.png"])),
                      lambda r: "a/y.png" in r.data.exclude),
    "dedupe": (T.Context(finding(Code.DATA_DUPLICATES, pairs=[["a/1.png", "a/2.png"]])),
               lambda r: r.data.dedupe and r.data.leak_pairs == (("a/1.png", "a/2.png"),)),
    "deleak_split": (T.Context(finding(Code.DATA_LEAKAGE, pairs=[["a/1.png", "b/1.png"]])),
                     lambda r: r.data.deleak and len(r.data.leak_pairs) == 1),
    "shuffle_before_split": (T.Context(), lambda r: r.data.stratified),
    "augment": (T.Context(), lambda r: {"rotation", "zoom"} <= set(r.data.augment)
                and "flip" not in r.data.augment),
    "augment_brightness": (T.Context(), lambda r: "brightness" in r.data.augment),
    "single_channel": (T.Context(), lambda r: r.model.input_shape[-1] == 1),
    "fix_output_activation": (T.Context(), lambda r: r.model.output_activation == "softmax"),
    "fix_output_units": (T.Context(), lambda r: (r.model.output_units or 10) == 10),
    "fix_loss": (T.Context(), lambda r: r.compile.loss == "sparse_categorical_crossentropy"),
    "he_init": (T.Context(), lambda r: r.model.initializer == "glorot_uniform"),  # sigmoid
    "relu_activation": (T.Context(), lambda r: r.model.activation == "relu"),
    "add_nonlinearity": (T.Context(), lambda r: r.model.activation == "relu"),
    "leaky_relu": (T.Context(), lambda r: r.model.activation == "leaky_relu"),
    "batch_norm": (T.Context(), lambda r: r.model.batchnorm),
    "add_capacity": (T.Context(), lambda r: r.model.width == 2 * BROKEN.model.width),
    "widen_bottleneck": (T.Context(), lambda r: r.model.width >= 16),
    "reduce_capacity": (T.Context(), lambda r: r.model.width == BROKEN.model.width // 2),
    "less_pooling": (T.Context(), lambda r: r.model.depth == BROKEN.model.depth - 1),
    "less_dropout": (T.Context(), lambda r: r.model.dropout <= 0.3),
    "dropout": (T.Context(), lambda r: r.model.dropout >= 0.3),
    "weight_decay": (T.Context(), lambda r: r.model.l2 > 0),  # SGD: L2 on the kernels
    "lower_lr": (T.Context(), lambda r: r.compile.learning_rate == 1.0),
    "raise_lr": (T.Context(), lambda r: r.compile.learning_rate == 100.0),
    "lr_range_test": (T.Context(lr_suggested=3e-3), lambda r: r.compile.learning_rate == 3e-3),
    "adam": (T.Context(), lambda r: r.compile.optimizer == "adamw"),
    "grad_clip": (T.Context(), lambda r: r.compile.clipnorm == 1.0),
    "batch_size": (T.Context(value=128), lambda r: r.fit.batch_size == 128),
    "batch_size/too-few-updates": (
        T.Context(finding(Code.TRAIN_BATCH_SIZE, total_updates=32, min_updates=100)),
        lambda r: r.fit.batch_size == 20),
    "more_epochs": (T.Context(), lambda r: r.fit.epochs == 10 and r.fit.early_stopping_patience),
    "early_stopping": (T.Context(), lambda r: r.fit.early_stopping_patience > 0),
    "reduce_lr_on_plateau": (T.Context(), lambda r: r.fit.reduce_lr_patience > 0
                             and r.fit.schedule == "constant"),
}


@pytest.mark.parametrize("remedy_id", sorted(CASES), ids=sorted(CASES))
def test_transform_is_pure_and_does_what_it_says(remedy_id):
    before = BROKEN.to_dict()
    ctx, check = CASES[remedy_id]
    after = T.apply(remedy_id.split("/")[0], BROKEN, ctx)
    assert BROKEN.to_dict() == before  # input untouched
    assert after is not BROKEN and check(after), diff(BROKEN, after)


def test_every_transform_is_tested_and_in_the_catalog():
    assert set(T.TRANSFORMS) == {c.split("/")[0] for c in CASES}
    assert set(T.TRANSFORMS) <= set(CATALOG)


def test_lr_comes_from_the_range_test_when_given():
    r = T.apply("lower_lr", BROKEN, T.Context(lr_suggested=3e-3))
    assert r.compile.learning_rate == 3e-3
    # a suggestion that would not lower the LR is ignored
    assert T.apply("lower_lr", BROKEN, T.Context(lr_suggested=20.0)).compile.learning_rate == 1.0


def test_search_spaces_are_inside_sane_bounds():
    for rid, make in T.SEARCH.items():
        s = make(BROKEN, T.Context(lr_suggested=1e-3))
        assert s.choices or s.low < s.high, rid


def test_unknown_id_names_the_known_ones():
    with pytest.raises(KeyError, match="rescale"):
        T.apply("nope", BROKEN)


def test_a_transform_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="already registered"):
        T.transform("rescale")(lambda r, c: r)


def test_recipe_rejects_bad_values_with_the_options():
    with pytest.raises(ValueError, match="adamw"):
        base().with_(compile={"optimizer": "adagrad"})
    with pytest.raises(ValueError, match="unknown fit settings"):
        base().with_(fit={"epoch": 3})


def test_recipe_round_trips_through_a_dict():
    r = T.apply("dedupe", BROKEN, CASES["dedupe"][0])
    assert Recipe.from_dict(r.to_dict()) == r
