"""Static model checks: registered plug-ins over :class:`LintContext` (plain facts, no Keras).

Each check returns findings or records in ``ctx.skipped`` why it could not run. Thresholds
are UPPER_CASE constants beside their check, with their source.

Example:
    >>> sorted(LINT.names())[:2]
    ['bad_init', 'bottleneck']
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convergent.findings import Code, Finding, Severity
from convergent.model.facts import (
    ACTIVATION_GAIN,
    RELU_LIKE,
    SATURATING,
    WEIGHT_KINDS,
    LayerFact,
    ModelFacts,
)
from convergent.registry import Registry
from convergent.remedies.catalog import remedies_for

LINT = Registry("model")


@dataclass
class LintContext:
    facts: ModelFacts
    n_classes: int | None = None
    labels: dict[str, Any] | None = None  # from facts.label_facts(y)
    n_samples: int | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    def skip(self, check: str, why: str) -> list[Finding]:
        self.skipped[check] = why
        return []


def _finding(code: Code, sev: Severity, conf: float, title: str, expl: str,
             evidence: dict[str, Any], remedy: str) -> Finding:
    return Finding(code, sev, conf, title, expl, evidence, remedies_for(code, remedy))


def effective_activations(layers: list[LayerFact]) -> list[tuple[LayerFact, str, bool, bool]]:
    """For each weight layer: (layer, activation applied to its output, normalized before the
    activation/next weight layer, max-pooled before the next weight layer)."""
    out = []
    weights = [i for i, lf in enumerate(layers) if lf.kind in WEIGHT_KINDS]
    for n, i in enumerate(weights):
        end = weights[n + 1] if n + 1 < len(weights) else len(layers)
        act, normed, maxpooled = layers[i].activation, False, False
        for lf in layers[i + 1:end]:
            if lf.kind == "act" and act == "linear":
                act = lf.activation
            elif lf.kind == "norm":
                normed = True
            elif lf.kind in ("pool", "gpool") and "Max" in lf.cls:
                maxpooled = True
            elif lf.kind == "other" and act == "linear":
                act = "unknown"  # a Lambda or custom layer may be nonlinear: do not guess
        out.append((layers[i], act, normed, maxpooled))
    return out


# --------------------------------------------------------------------------- output / loss
# Output activations whose values are not probabilities because they reach zero or below
# (Keras activation ranges): a crossentropy loss with from_logits=False clips them to
# [eps, 1], so every unit at or below zero gets no gradient. Measured: linear 0.12-0.19 and
# tanh 0.11 val accuracy vs ~0.9 with softmax.
NOT_PROBABILITIES = frozenset({
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish",
    "mish", "tanh", "hard_tanh", "softsign", "celu", "glu", "log_softmax", "sparse_plus",
    "squareplus", "hard_silu", "hard_swish"})


@LINT.register("output_activation", codes=[Code.MODEL_OUTPUT_ACTIVATION])
def check_output_activation(ctx: LintContext, params: dict[str, Any]) -> Iterator[Finding]:
    f = ctx.facts
    if not f.compiled:
        return ctx.skip("output_activation", "model is not compiled: no loss to compare with")
    if f.n_outputs != 1 or f.output is None:
        return ctx.skip("output_activation", f"model has {f.n_outputs} outputs; the check "
                        "covers single-output classifiers")
    act, units, loss = f.output.activation, f.output.units, f.loss
    ev = {"output_activation": act, "output_units": units, "loss": loss.name,
          "from_logits": loss.from_logits, "output_layer": f.output.layer, "backend": f.backend}
    C = Code.MODEL_OUTPUT_ACTIVATION
    out: list[Finding] = []
    if loss.kind in ("cce", "scce"):
        if units == 1 and act == "softmax":
            out.append(_finding(
                C, Severity.ERROR, 0.95, "Softmax over a single unit always outputs 1",
                "A softmax over one unit is the constant 1, so the loss and its gradient are "
                "the same for every input and nothing is learned.", ev,
                "fix_output_activation"))
        elif act == "sigmoid" and not loss.from_logits:
            # Measured here (Keras 3.15, digits CNN, 5 epochs, 2 seeds): sigmoid+CCE reaches
            # the same val accuracy as softmax on TF (the loss reuses the layer's logits,
            # i.e. it IS softmax) and on torch (the loss renormalises the sigmoids).
            out.append(_finding(
                C, Severity.INFO, 0.6, "Sigmoid output with a categorical crossentropy loss",
                f"With the {f.backend} backend this trains like softmax (TF: the loss reuses "
                "the layer's logits; torch: the loss renormalises the sigmoids), but predict() "
                "returns scores that do not sum to 1, and the code reads as a bug.", ev,
                "fix_output_activation"))
        elif act == "softmax" and loss.from_logits:
            if f.backend == "tensorflow":
                out.append(_finding(
                    C, Severity.INFO, 0.6, "Softmax output with from_logits=True",
                    "On TensorFlow Keras notices the softmax and uses its logits (it only warns),"
                    " so training is unaffected; on torch/JAX the loss applies softmax twice. "
                    "Drop from_logits=True or the softmax.", ev, "fix_output_activation"))
            else:
                # Double softmax: probabilities in [0, 1] as logits cap the largest
                # probability at e/(e + C - 1), so the loss cannot fall below -ln of it.
                floor = -math.log(math.e / (math.e + max((units or 2) - 1, 1)))
                out.append(_finding(
                    C, Severity.WARNING, 0.8, "Softmax output with from_logits=True",
                    f"On {f.backend} the loss applies softmax to probabilities again: the "
                    f"loss cannot go below {floor:.2f} and its gradients shrink.",
                    {**ev, "loss_floor": round(floor, 3)}, "fix_output_activation"))
        elif act in NOT_PROBABILITIES and not loss.from_logits:
            # Measured here: a linear output with from_logits=False stays near chance on both
            # backends (digits CNN, 5 epochs: val acc 0.12-0.19 vs 0.87 with softmax).
            out.append(_finding(
                C, Severity.ERROR, 0.9, f"No softmax on the output ({act}) but from_logits=False",
                "The loss treats raw scores as probabilities (it clips and renormalises them), "
                "so gradients are wrong or zero and accuracy stays near chance. Add softmax, or "
                "pass from_logits=True.", ev, "fix_output_activation"))
    elif loss.kind == "bce":
        if act in NOT_PROBABILITIES and not loss.from_logits:
            out.append(_finding(
                C, Severity.ERROR, 0.9, "No sigmoid on the output but from_logits=False",
                "Binary crossentropy clips raw scores to [0, 1]; outside that range the gradient "
                "is zero. Add a sigmoid or pass from_logits=True.", ev, "fix_output_activation"))
        elif act == "softmax" and units == 1:
            out.append(_finding(
                C, Severity.ERROR, 0.95, "Softmax over a single unit always outputs 1",
                "Use sigmoid for one binary output.", ev, "fix_output_activation"))
    return out


@LINT.register("output_units", codes=[Code.MODEL_OUTPUT_UNITS])
def check_output_units(ctx: LintContext, params: dict[str, Any]) -> Iterator[Finding]:
    f = ctx.facts
    if f.output is None or f.n_outputs != 1:
        return ctx.skip("output_units", "model output could not be read (several outputs?)")
    C = ctx.n_classes
    if C is None:
        return ctx.skip("output_units", "number of classes unknown: pass y, n_classes or --data")
    units, loss = f.output.units, f.loss.kind
    ev = {"output_units": units, "n_classes": C, "loss": f.loss.name}
    if units == C or (units == 1 and C == 2 and loss in ("bce", "none", "regression")):
        return []
    if units is not None and C is not None and units > C and loss == "scce":
        return [_finding(
            Code.MODEL_OUTPUT_UNITS, Severity.WARNING, 0.8,
            f"Output has {units} units for {C} classes",
            "Sparse labels never name the extra units, so training works, but probability "
            "mass leaks to classes that do not exist.", ev, "fix_output_units")]
    return [_finding(
        Code.MODEL_OUTPUT_UNITS, Severity.ERROR, 0.95,
        f"Output has {units} units but there are {C} classes",
        "The last layer must have one unit per class; with this width fit() crashes or the "
        "labels point past the output.", ev, "fix_output_units")]


@LINT.register("loss_mismatch", codes=[Code.MODEL_LOSS_MISMATCH])
def check_loss(ctx: LintContext, params: dict[str, Any]) -> Iterator[Finding]:
    f = ctx.facts
    if not f.compiled:
        return ctx.skip("loss_mismatch", "model is not compiled: no loss to check")
    if f.n_outputs != 1:
        return ctx.skip("loss_mismatch", f"model has {f.n_outputs} outputs")
    loss, lab, C = f.loss, ctx.labels, ctx.n_classes
    code = Code.MODEL_LOSS_MISMATCH
    ev: dict[str, Any] = {"loss": loss.name, "label_format": lab.get("format") if lab else None,
                          "n_classes": C}
    if loss.kind == "regression":
        sev = Severity.ERROR if (lab and lab.get("format") == "sparse" and
                                 f.output and f.output.units == 1) else Severity.WARNING
        return [_finding(
            code, sev, 0.85, f"Regression loss ({loss.name}) for a classifier",
            "A squared/absolute error on class probabilities gives tiny gradients when the "
            "model is confidently wrong; on integer labels it treats class ids as numbers. "
            "Use a crossentropy loss.", ev, "fix_loss")]
    if loss.kind == "cce" and f.output is not None and f.output.units == 1:
        # categorical crossentropy normalises the outputs to sum to 1: one unit is always
        # 1, the loss is 0 for every input and nothing is learned (first principles)
        return [_finding(
            code, Severity.ERROR, 0.95, "categorical_crossentropy on a single output unit",
            "The loss normalises the outputs to sum to 1, so one unit always predicts 1 and "
            "the loss is 0 whatever the input: nothing is learned. For two classes use "
            "binary_crossentropy with Dense(1, sigmoid).", ev, "fix_loss")]
    if lab is None:
        ctx.skipped["loss_mismatch.labels"] = "no labels given: sparse vs one-hot not checked"
        return []
    fmt = lab.get("format")
    if loss.kind == "cce" and fmt == "sparse":
        return [_finding(
            code, Severity.ERROR, 0.95, "Integer labels with categorical_crossentropy",
            "categorical_crossentropy expects one-hot labels; with integer labels fit() crashes "
            "on a shape mismatch. Use sparse_categorical_crossentropy (or one-hot the labels).",
            ev, "fix_loss")]
    if loss.kind == "scce" and fmt in ("onehot", "multilabel_or_soft"):
        return [_finding(
            code, Severity.ERROR, 0.95, "One-hot labels with sparse_categorical_crossentropy",
            "sparse_categorical_crossentropy expects integer labels; with one-hot labels fit() "
            "crashes. Use categorical_crossentropy (or argmax the labels).", ev, "fix_loss")]
    if loss.kind == "bce" and C is not None and C > 2:
        if fmt == "onehot":
            return [_finding(
                code, Severity.WARNING, 0.8, f"Binary crossentropy on {C} one-of-many classes",
                "This trains one independent yes/no per class, and the 'accuracy' metric becomes "
                "binary accuracy (about 90% for 10 classes while predicting nothing). Use "
                "categorical_crossentropy with softmax.", ev, "fix_loss")]
        return [_finding(
            code, Severity.ERROR, 0.9, f"Binary crossentropy on {C} classes",
            "Binary crossentropy expects labels 0/1; class ids above 1 make the loss "
            "meaningless. Use sparse_categorical_crossentropy with softmax.", ev, "fix_loss")]
    if loss.kind == "hinge":
        return [_finding(
            code, Severity.INFO, 0.5, f"Hinge loss ({loss.name}) for a classifier",
            "Hinge losses expect labels in {-1, 1} and give no probabilities; crossentropy "
            "usually trains faster.", ev, "fix_loss")]
    return []


# --------------------------------------------------------------------------- architecture
@LINT.register("bottleneck", codes=[Code.MODEL_BOTTLENECK])
def check_bottleneck(ctx: LintContext, params: dict[str, Any]) -> Iterator[Finding]:
    C = ctx.n_classes
    weights = ctx.facts.weight_layers
    if C is None:
        return ctx.skip("bottleneck", "number of classes unknown")
    out = []
    for lf in weights[:-1]:
        width = _features(lf)
        if width is not None and width < C:
            # A hidden layer narrower than the number of classes caps the rank of the logits
            # (first principles: logits = W h with h of dim < C).
            out.append(_finding(
                Code.MODEL_BOTTLENECK, Severity.WARNING, 0.7,
                f"Layer {lf.name} has {width} features for {C} classes",
                "Every class decision must pass through fewer numbers than there are classes, "
                "so the logits are confined to a low-rank subspace.",
                {"layer": lf.name, "features": width, "n_classes": C,
                 "threshold": "features < n_classes"}, "widen_bottleneck"))
    return out[:1]


def _features(lf: LayerFact) -> int | None:
    if lf.kind == "dense":
        return lf.units
    return None  # conv features keep their spatial extent; only dense widths are judged


OVERPOOL_FREE_FACTOR = 2  # downsampling allowed before any conv: one 2x2 pool (VGG/LeNet use
# one 2x pool per conv block; ResNet's stem is conv/2 + pool/2 = 4x after one conv).


@LINT.register("over_pooling", codes=[Code.MODEL_OVER_POOLING],
               free_factor=OVERPOOL_FREE_FACTOR)
def check_over_pooling(ctx: LintContext, params: dict[str, Any]) -> Iterator[Finding]:
    f = ctx.facts
    if not f.is_image:
        return ctx.skip("over_pooling", f"input shape {f.input_shape} is not an image batch "
                        "(N, H, W, C)")
    if not f.shapes_known:
        return ctx.skip("over_pooling", "layer shapes unknown (subclassed model)")
    side0 = min(int(d) for d in f.input_shape[1:3] if d is not None) if all(
        d is not None for d in f.input_shape[1:3]) else None
    if side0 is None:
        return ctx.skip("over_pooling", "input has no fixed spatial size")
    n_conv, out = 0, []
    for lf in f.layers:
        if lf.in_shape is None or lf.out_shape is None or len(lf.in_shape) != 4:
            continue
        if lf.kind == "conv":
            n_conv += 1
        if len(lf.out_shape) != 4:
            continue
        s_in, s_out = min(lf.in_shape[1:3]), min(lf.out_shape[1:3])
        ev = {"layer": lf.name, "input_side": side0, "side_before": s_in, "side_after": s_out,
              "conv_layers_so_far": n_conv}
        if lf.kind == "conv" and s_in == 1 and max(lf.in_shape[1:3]) == 1:
            out.append(_finding(
                Code.MODEL_OVER_POOLING, Severity.WARNING, 0.8,
                f"{lf.name} convolves a 1x1 map", "The spatial size collapsed to 1x1 before "
                "this convolution: a kernel on a 1x1 map sees a single position, so no spatial "
                "feature can form after this point.",
                {**ev, "threshold": "side_before > 1 for a convolution"}, "less_pooling"))
            break
        if lf.kind == "pool" and s_in == 1:
            out.append(_finding(
                Code.MODEL_OVER_POOLING, Severity.WARNING, 0.8,
                f"{lf.name} pools a 1x1 map", "The spatial size is already 1x1; this pooling "
                "does nothing useful and the layers before it lost all spatial detail.",
                {**ev, "threshold": "side_before > 1"}, "less_pooling"))
            break
        if lf.kind in ("pool", "conv") and s_out < s_in and s_in // max(s_out, 1) >= 2:
            factor = side0 / max(s_out, 1)
            allowed = params["free_factor"] * 2 ** n_conv
            if factor > allowed:
                out.append(_finding(
                    Code.MODEL_OVER_POOLING, Severity.WARNING, 0.7,
                    f"Spatial size cut {factor:.0f}x after only {n_conv} conv layer(s)",
                    "Images are shrunk faster than convolutions can summarise them, so fine "
                    "detail is thrown away before any feature can use it.",
                    {**ev, "downsampling": round(factor, 1), "allowed": allowed,
                     "threshold": "downsampling <= free_factor * 2**conv_layers"},
                    "less_pooling"))
                break
    return out


# Parameters per training sample above which an unregularized model can memorise the set
# easily. No first-principles bound exists (Zhang et al. 2017 memorise with far fewer);
# reference points: the Keras MNIST convnet example has 0.6 params/sample, the CIFAR-10
# ResNet-20 5.4; 1000 is two orders of magnitude beyond common practice.
TOO_LARGE_PARAMS_PER_SAMPLE = 1000.0
# Below ~100 trainable parameters per class the model cannot even hold one 10x10 template
# per class (first principles: a linear classifier needs features x classes weights).
TOO_SMALL_PARAMS_PER_CLASS = 100.0
# A single weight layer on image inputs is a linear classifier of the pixels: on MNIST it
# errs 7.6-12 % where LeNet-5 errs 0.95 % (LeCun et al. 1998, table of results); it cannot
# learn features. Advice: as a deliberate baseline it is fine.
LINEAR_CLASSIFIER_WEIGHT_LAYERS = 1


@LINT.register("capacity", codes=[Code.MODEL_TOO_SMALL, Code.MODEL_TOO_LARGE],
               too_large_params_per_sample=TOO_LARGE_PARAMS_PER_SAMPLE,
               too_small_params_per_class=TOO_SMALL_PARAMS_PER_CLASS)
def check_capacity(ctx: LintContext, params: dict[str, Any]) -> Iterator[Finding]:
    f, C, N = ctx.facts, ctx.n_classes, ctx.n_samples
    out: list[Finding] = []
    if C is not None and f.n_trainable > 0:
        limit = params["too_small_params_per_class"] * C
        if f.n_trainable < limit:
            out.append(_finding(
                Code.MODEL_TOO_SMALL, Severity.WARNING, 0.6,
                f"Only {f.n_trainable} trainable parameters for {C} classes",
                "The model has too few weights to tell the classes apart; add filters or a "
                "layer.", {"trainable_params": f.n_trainable, "n_classes": C,
                           "threshold": limit}, "add_capacity"))
    if len(f.weight_layers) == LINEAR_CLASSIFIER_WEIGHT_LAYERS and not out \
            and f.input_shape is not None and len(f.input_shape) >= 3:  # (N, H, W[, C])
        out.append(_finding(
            Code.MODEL_TOO_SMALL, Severity.INFO, 0.5, "A linear classifier of the pixels",
            "The model has a single weight layer, so it separates the classes with one linear "
            "function of the raw pixels and learns no features (on MNIST 7.6-12 % error vs "
            "under 1 % for a small CNN). Add a few convolutions or a hidden layer.",
            {"weight_layers": len(f.weight_layers),
             "threshold": LINEAR_CLASSIFIER_WEIGHT_LAYERS}, "add_capacity"))
    if N is None:
        ctx.skipped["capacity.too_large"] = "number of training samples unknown"
        return out
    regs = [lf.name for lf in f.layers if lf.kind in ("dropout", "augment") or lf.regularized]
    ratio = f.n_trainable / max(N, 1)
    if ratio > params["too_large_params_per_sample"] and not regs and not f.weight_decay:
        out.append(_finding(
            Code.MODEL_TOO_LARGE, Severity.WARNING, 0.5,
            f"{f.n_trainable:,} parameters for {N:,} samples, no regularization",
            "The model can memorise the training set long before it learns general features; "
            "add dropout/weight decay/augmentation or use a smaller model.",
            {"trainable_params": f.n_trainable, "samples": N, "params_per_sample": round(ratio),
             "threshold": params["too_large_params_per_sample"], "regularizers": regs},
            "reduce_capacity"))
    return out


# --------------------------------------------------------------------------- init / activations
# Forward-signal gain of a stretch of layers between normalization layers: the product over
# its weight layers of Var(W)*fan_in / (2 for ReLU, 1 for tanh/linear) (He et al. 2015;
# Glorot & Bengio 2010). He et al. 2015 (Fig. 3): a 30-layer ReLU net with Xavier init
# (gain 0.5 per layer, product 1e-9) stalled while 22 layers (2e-7) still converged.
GAIN_PRODUCT_MIN = 1e-8
# Logit std ~ sqrt(product) for unit-scale inputs (first principles). 16 means logits of
# std 4: the softmax starts peaked and the initial loss is ~ln C + s^2/2 = ln C + 8.
GAIN_PRODUCT_MAX = 16.0
# 256 means logit std 16 = ln(1 / float32 eps): float32 softmax returns exact 0/1, the loss
# is clipped and most samples give no gradient.
GAIN_PRODUCT_FATAL = 256.0
# A constant bias b on a ReLU unit switches it off for every input whose w.x < -b. Standard
# inits aim for pre-activations of std ~1 on unit-scale inputs (He: sqrt(2)), so b <= -1
# leaves a unit on for under a quarter of its inputs (P(z > 1/sqrt(2)) = 0.24), and image
# inputs in [0, 1] have smaller pre-activations still (MNIST: E[x^2] ~ 0.1): most units
# start dead and pass no gradient. Keras' default bias is zeros; tutorials use +0.1.
NEGATIVE_BIAS_MAX = -1.0
RELU_FAMILY = frozenset({"relu", "relu6"})


@LINT.register("bad_init", codes=[Code.MODEL_BAD_INIT], gain_product_min=GAIN_PRODUCT_MIN,
               gain_product_max=GAIN_PRODUCT_MAX, gain_product_fatal=GAIN_PRODUCT_FATAL,
               negative_bias_max=NEGATIVE_BIAS_MAX)
def check_bad_init(ctx: LintContext, params: dict[str, Any]) -> Iterator[Finding]:
    eff = effective_activations(ctx.facts.layers)
    if not eff:
        return []
    out: list[Finding] = []
    hidden = eff[:-1]
    const = [lf.name for lf, *_ in hidden if lf.init_constant and lf.trainable]
    if const:
        out.append(_finding(
            Code.MODEL_BAD_INIT, Severity.ERROR, 0.9,
            f"Constant (e.g. zeros) initializer on hidden layer(s): {', '.join(const)}",
            "Units that start identical get identical gradients and never become different, so "
            "the layer acts like a single unit.",
            {"layers": const, "threshold": "hidden kernels must be random"}, "he_init"))
    # a BatchNormalization before the activation subtracts the batch mean, bias included
    negative = [(lf.name, lf.bias_init) for lf, act, normed, _ in hidden
                if act in RELU_FAMILY and not normed and lf.bias_init is not None
                and lf.bias_init <= params["negative_bias_max"]]
    if negative:
        out.append(_finding(
            Code.MODEL_BAD_INIT, Severity.WARNING, 0.8,
            f"Negative constant bias on ReLU layer(s): {', '.join(n for n, _ in negative)}",
            f"Every unit of {negative[0][0]} starts with bias {negative[0][1]:g}, so it outputs "
            "zero unless its weighted input exceeds that: most units start dead and get no "
            "gradient. Use the default zero bias (bias_initializer='zeros').",
            {"layers": [n for n, _ in negative], "bias": [b for _, b in negative],
             "threshold": params["negative_bias_max"]}, "zero_bias"))
    gains, product, stretch, worst = [], 1.0, [], None
    unknown = []

    def close(product: float, stretch: list[str]) -> None:
        nonlocal worst
        if stretch and (worst is None or abs(math.log10(max(product, 1e-300))) >
                        abs(math.log10(max(worst[0], 1e-300)))):
            worst = (product, list(stretch))

    for lf, act, normed, _ in eff:
        if lf.init_var is None or lf.fan_in is None:
            unknown.append(lf.name)
            continue
        if lf.init_constant:
            continue
        target = ACTIVATION_GAIN.get(act, 1.0)
        g = lf.init_var * lf.fan_in / target
        gains.append({"layer": lf.name, "init": lf.init, "fan_in": lf.fan_in,
                      "var_x_fan_in": round(lf.init_var * lf.fan_in, 4), "activation": act,
                      "target": target})
        product *= g
        stretch.append(lf.name)
        if normed:
            close(product, stretch)
            product, stretch = 1.0, []
    close(product, stretch)
    if worst is None:
        return out
    prod, names = worst
    ev = {"gain_product": float(f"{prod:.3g}"), "layers": names, "per_layer": gains[:12],
          "threshold": [params["gain_product_min"], params["gain_product_max"]]}
    if prod > params["gain_product_max"]:
        sev = Severity.ERROR if prod > params["gain_product_fatal"] else Severity.WARNING
        out.append(_finding(
            Code.MODEL_BAD_INIT, sev, 0.85 if sev is Severity.ERROR else 0.7,
            "Initial weights are far too large for the layers' fan-in",
            f"Var(W)*fan_in multiplies the signal by ~{prod:.3g} through {len(names)} layer(s) "
            "(healthy: ~1), so the softmax starts saturated and the loss far above ln C. Use "
            "he_normal for ReLU layers, glorot for tanh/linear.", ev, "he_init"))
    elif prod < params["gain_product_min"]:
        out.append(_finding(
            Code.MODEL_BAD_INIT, Severity.WARNING, 0.7,
            "Initial weights are far too small for the network's depth",
            f"Var(W)*fan_in shrinks the signal by ~{prod:.3g} through {len(names)} layers, so "
            "early layers get almost no gradient. Use he_normal for ReLU layers.", ev, "he_init"))
    if unknown:
        ctx.skipped["bad_init.unknown"] = f"initializer scale unknown for {unknown[:5]}"
    return out


# sigmoid' <= 1/4 everywhere; tanh' averages E[1 - tanh(z)^2] over its pre-activations z,
# 0.605 for N(0, 1) (the scale Glorot init aims for) and ~1 for the small z of a small
# init, where tanh is nearly linear (that gradient loss is the init's: MODEL_BAD_INIT).
# Gradient through k such layers shrinks by at least the product; 1e-2 = two orders of
# magnitude between first and last layer.
SATURATION_FACTOR = {"sigmoid": 0.25, "tanh": 0.605}
SATURATION_GRAD_BOUND = 1e-2
# A hidden softmax over n units starts near p_i = 1/n, where dp_i/dz_i = p_i (1 - p_i) ~ 1/n
# and every output is ~1/n: the gradient through it shrinks ~n-fold (128 units: 1/128)
# and the signal with it. Always a saturating layer, whatever the initialization.
HIDDEN_SOFTMAX = frozenset({"softmax"})


def _slopes(eff: list[tuple[LayerFact, str, bool, bool]]) -> list[float]:
    """Mean slope of each hidden layer's sigmoid/tanh at its initial pre-activation scale.

    The second moment of the signal is carried layer to layer (unit-scale inputs;
    Var(pre) = Var(W) * fan_in * E[a^2] of the layer below, Poole et al. 2016 "mean field"
    propagation); an unknown initializer or a normalization layer resets it to the Glorot
    scale 1. tanh's slope is then E[1 - tanh(z)^2], z ~ N(0, Var(pre)) by Gauss-Hermite
    quadrature; sigmoid keeps its bound 1/4.
    """
    x, w = np.polynomial.hermite_e.hermegauss(40)
    w = w / w.sum()
    m, out = 1.0, []
    for lf, act, normed, _ in eff:
        known = lf.init_var is not None and lf.fan_in is not None and not lf.init_constant
        q = 1.0 if normed or not known else max(lf.init_var * lf.fan_in * m, 1e-30)
        z = math.sqrt(q) * x
        kind = SATURATING.get(act)
        if kind == "tanh":
            out.append(float(np.sum(w * (1.0 - np.tanh(z) ** 2))))
            m = float(np.sum(w * np.tanh(z) ** 2))
        elif kind == "sigmoid":
            out.append(SATURATION_FACTOR["sigmoid"])
            m = float(np.sum(w / (1.0 + np.exp(-z)) ** 2))
        elif act in HIDDEN_SOFTMAX:
            n = max(int(lf.units or 2), 2)
            out.append(1.0 / n)
            m = 1.0 / n ** 2
        else:
            m = q / 2 if act in RELU_LIKE else q
    return out


@LINT.register("saturating_activation", codes=[Code.MODEL_SATURATING_ACTIVATION],
               grad_bound=SATURATION_GRAD_BOUND)
def check_saturating(ctx: LintContext, params: dict[str, Any]) -> Iterator[Finding]:
    eff = effective_activations(ctx.facts.layers)[:-1]
    sat = [(lf.name, SATURATING.get(a, a)) for lf, a, _, _ in eff
           if a in SATURATING or a in HIDDEN_SOFTMAX]
    bound = math.prod(_slopes(eff)) if sat else 1.0
    if sat and bound < params["grad_bound"]:
        kinds = "/".join(dict.fromkeys(k for _, k in sat))
        softmax = "softmax" in kinds
        return [_finding(
            Code.MODEL_SATURATING_ACTIVATION, Severity.ERROR if softmax else Severity.WARNING,
            0.75, f"{len(sat)} hidden layers with {kinds}",
            f"Each {kinds} layer scales the gradient by its slope (sigmoid at most 0.25"
            + (", a softmax over n units ~1/n" if softmax else "") + "), so the first layers "
            f"get ~{bound:.1e} of the last layer's gradient. Use ReLU in hidden layers"
            + (" (softmax belongs on the output layer only)." if softmax else "."),
            {"layers": [n for n, _ in sat], "gradient_bound": float(f"{bound:.3g}"),
             "threshold": params["grad_bound"]}, "relu_activation")]
    return []


@LINT.register("no_nonlinearity", codes=[Code.MODEL_NO_NONLINEARITY])
def check_no_nonlinearity(ctx: LintContext, params: dict[str, Any]) -> Iterator[Finding]:
    eff = effective_activations(ctx.facts.layers)
    hidden = eff[:-1]
    if not hidden:
        return []
    linear = [lf.name for lf, a, _, mp in hidden if a == "linear" and not mp]
    if len(linear) == len(hidden):
        return [_finding(
            Code.MODEL_NO_NONLINEARITY, Severity.WARNING, 0.9,
            "Hidden layers have no activation: the network is one linear map",
            f"{len(hidden) + 1} weight layers with no nonlinearity between them compose to a "
            "single linear classifier, whatever their sizes.",
            {"linear_hidden_layers": linear, "threshold": "at least one nonlinear hidden layer"},
            "add_nonlinearity")]
    return []


# A frozen base with a head under 5% of the weights is the Keras transfer-learning guide's
# setup (e.g. a Dense head on a frozen Xception); we only advise, we cannot see the domain.
FROZEN_FRACTION = 0.05


@LINT.register("frozen", codes=[Code.MODEL_FROZEN])
def check_frozen(ctx: LintContext, params: dict[str, Any]) -> Iterator[Finding]:
    f = ctx.facts
    if f.n_params and f.n_trainable == 0:
        return [_finding(
            Code.MODEL_FROZEN, Severity.ERROR, 0.95, "No trainable weights",
            "Every layer is frozen (trainable=False), so fit() cannot change anything.",
            {"trainable_params": 0, "params": f.n_params}, "unfreeze")]
    frac = f.n_trainable / max(f.n_params, 1)
    frozen = [lf for lf in f.layers if not lf.trainable and lf.n_params]
    known = [lf for lf in frozen if lf.at_init is not None]
    if frac < FROZEN_FRACTION and f.n_params and known and all(lf.at_init for lf in known):
        return [_finding(
            Code.MODEL_FROZEN, Severity.ERROR, 0.9,
            "The frozen layers were never trained",
            f"Only {frac:.1%} of the weights are trainable, and the frozen layers still hold "
            "their initial values (biases exactly zero, normalization statistics at 0/1): "
            "they compute fixed random features. Freeze only pretrained layers; train these.",
            {"trainable_fraction": round(frac, 4), "threshold": FROZEN_FRACTION,
             "frozen_layers_at_init": [lf.name for lf in known][:20]}, "unfreeze")]
    if frac < FROZEN_FRACTION and f.n_params:
        return [_finding(
            Code.MODEL_FROZEN, Severity.INFO, 0.5,
            f"Only {frac:.1%} of the weights are trainable",
            "Fine for transfer learning from a related domain; if accuracy plateaus low, "
            "unfreeze the top of the base and fine-tune with a small learning rate.",
            {"trainable_fraction": round(frac, 4), "threshold": FROZEN_FRACTION}, "unfreeze")]
    return []


# VGG (Simonyan & Zisserman 2014) trained its 11-weight-layer net from scratch without
# normalization but had to initialise deeper ones from it: 12+ needs help.
NO_NORM_DEPTH = 12


@LINT.register("no_normalization", codes=[Code.MODEL_NO_NORMALIZATION_LAYER],
               depth=NO_NORM_DEPTH)
def check_no_norm(ctx: LintContext, params: dict[str, Any]) -> Iterator[Finding]:
    f = ctx.facts
    depth = len(f.weight_layers)
    if depth >= params["depth"] and not any(lf.kind == "norm" for lf in f.layers):
        return [_finding(
            Code.MODEL_NO_NORMALIZATION_LAYER, Severity.WARNING, 0.6,
            f"{depth} weight layers and no normalization layer",
            "Plain networks this deep train slowly or not at all from scratch; add "
            "BatchNormalization after the convolutions.",
            {"weight_layers": depth, "threshold": params["depth"]}, "batch_norm")]
    return []


# Srivastava et al. 2014 (JMLR, sec. 7.3): retain probability 0.4-0.8 works for hidden
# units, errors rise below 0.4 -> rate above 0.6 is excessive; 0.9+ leaves almost nothing.
DROPOUT_MAX_RATE = 0.6
DROPOUT_FATAL_RATE = 0.9


@LINT.register("excessive_dropout", codes=[Code.MODEL_EXCESSIVE_DROPOUT],
               max_rate=DROPOUT_MAX_RATE, fatal_rate=DROPOUT_FATAL_RATE)
def check_dropout(ctx: LintContext, params: dict[str, Any]) -> Iterator[Finding]:
    drops = [(lf.name, lf.rate) for lf in ctx.facts.layers
             if lf.kind == "dropout" and lf.rate is not None and "Gaussian" not in lf.cls]
    bad = [(n, r) for n, r in drops if r > params["max_rate"]]
    if not bad:
        return []
    worst = max(r for _, r in bad)
    sev = Severity.ERROR if worst >= params["fatal_rate"] else Severity.WARNING
    return [_finding(
        Code.MODEL_EXCESSIVE_DROPOUT, sev, 0.8,
        f"Dropout rate {worst:g} is too high",
        f"Dropping {worst:.0%} of the units on every step leaves too little signal for the "
        "network to fit the training set.",
        {"layers": dict(bad), "threshold": params["max_rate"]}, "less_dropout")]
