"""Turn a crash inside ``model.fit`` into the finding that explains it.

The patterns are the real Keras 3.15 messages, reproduced on the TensorFlow and torch
backends (tests/model/test_crash.py raises them from real fits). Unknown crashes give
no finding; the caller reports the traceback as is.

Example:
    >>> msg = ("Arguments `target` and `output` must have the same shape. Received: "
    ...        "target.shape=(32, 3), output.shape=(32, 5)")
    >>> findings_from_exception(msg)[0].code.value
    'MODEL_OUTPUT_UNITS'
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from convergent.findings import Code, Finding, Severity
from convergent.remedies.catalog import remedies_for

_SHAPE = r"(?:torch\.Size\(\[)?\(?([0-9None, ]*)\)?(?:\]\))?"
SAME_SHAPE = re.compile(r"`target` and `output` must have the same (shape|rank \(ndim\))\. "
                        r"Received: target\.shape=" + _SHAPE + r", output\.shape=" + _SHAPE)
SPARSE_RANK = re.compile(
    r"(?:Argument `output` must have rank \(ndim\) `target\.ndim - 1`\. Received: |"
    r"must have the same shape up until the last dimension: )target\.shape=" + _SHAPE +
    r", output\.shape=" + _SHAPE)
LABEL_RANGE_TF = re.compile(r"Received a label value of (-?\d+) which is outside the valid "
                            r"range of \[0, (\d+)\)")
LABEL_RANGE_TORCH = re.compile(r"Target (-?\d+) is out of bounds")
INPUT_AXIS = re.compile(r"layer '([^']+)' is incompatible with the layer: expected axis (-?\d+) "
                        r"of input shape to have value (\d+), but received input with shape "
                        + _SHAPE)
INPUT_SHAPE = re.compile(r"expected shape=\(([0-9None, ]*)\), found shape=\(([0-9None, ]*)\)")
RECEIVED_INPUTS = re.compile(r"inputs=(?:tf|torch|jax)?\S*Tensor\(shape=" + _SHAPE)
CARDINALITY = re.compile(r"Data cardinality is ambiguous.*?'x' sizes: ([\d, ]+).*?'y' sizes: "
                         r"([\d, ]+)", re.DOTALL)
# Decode errors of Keras' image loaders: TF's decode ops (image_dataset_from_directory)
# and PIL (ImageDataGenerator.flow_from_directory, keras.utils.load_img).
DECODE = re.compile(r"UnidentifiedImageError|cannot identify image file|Invalid (?:PNG|JPEG|GIF|"
                    r"BMP) data|Unknown image file format|image file is truncated|"
                    r"Input is empty|DecodeImage|decode_(?:png|jpeg|image|gif|bmp)", re.IGNORECASE)
# Files checked for the culprits after a decode crash: a folder of this many small images
# opens in seconds; past it the report says how many were not checked.
MAX_FILES_CHECKED = 50_000
MAX_LISTED = 100
NAN = re.compile(r"(Tensor had (NaN|Inf) values|NaN loss|non-finite)", re.IGNORECASE)


def _dims(text: str) -> tuple[int | None, ...]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return tuple(None if p == "None" else int(p) for p in parts)


def _f(code: Code, title: str, expl: str, evidence: dict[str, Any], remedy: str,
       sev: Severity = Severity.ERROR, conf: float = 0.95) -> Finding:
    return Finding(code, sev, conf, title, expl, {**evidence, "source": "crash"},
                   remedies_for(code, remedy))


def findings_from_exception(exc: BaseException | str, model: Any = None, y: Any = None,
                            files: Sequence[str] | None = None) -> list[Finding]:
    """Findings that explain a crash in ``fit`` (empty when the crash is not recognised).

    Args:
        exc: the exception raised by ``model.fit`` (or its message / formatted traceback).
        model: the model, when available, to name its input shape and loss.
        y: the labels given to fit, when available.
        files: the image files the fit input reads (``file_paths`` of
            ``image_dataset_from_directory``, ``filepaths`` of ``flow_from_directory``),
            checked for the undecodable ones after a decode error.

    Example:
        >>> findings_from_exception("Target 7 is out of bounds.")[0].code.value
        'MODEL_OUTPUT_UNITS'
    """
    msg = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    msg = re.sub(r"\x1b\[[0-9;]*m", "", msg)
    ev: dict[str, Any] = {"error": _first_line(msg)}
    loss = _loss_name(model)
    if loss:
        ev["loss"] = loss
    m = SAME_SHAPE.search(msg)
    if m:
        target, output = _dims(m.group(2)), _dims(m.group(3))
        ev.update(target_shape=target, output_shape=output)
        if len(target) == 1 or (len(target) == 2 and target[-1] == 1 and output[-1] != 1):
            return [_f(Code.MODEL_LOSS_MISMATCH, "Integer labels given to a one-hot loss",
                       "The loss (categorical_crossentropy) expects one-hot labels of width "
                       f"{output[-1]} but received integer class ids. Use "
                       "sparse_categorical_crossentropy, or one-hot the labels.", ev, "fix_loss")]
        return [_f(Code.MODEL_OUTPUT_UNITS,
                   f"Output has {output[-1]} units but the labels have {target[-1]} classes",
                   "The last layer must have one unit per class (the one-hot width).",
                   {**ev, "output_units": output[-1], "n_classes": target[-1]},
                   "fix_output_units")]
    m = SPARSE_RANK.search(msg)
    if m:
        target, output = _dims(m.group(1)), _dims(m.group(2))
        ev.update(target_shape=target, output_shape=output)
        return [_f(Code.MODEL_LOSS_MISMATCH, "One-hot labels given to sparse_categorical_crossentropy",
                   "sparse_categorical_crossentropy expects integer labels; these are one-hot. "
                   "Use categorical_crossentropy, or argmax the labels.", ev, "fix_loss")]
    m = LABEL_RANGE_TF.search(msg) or LABEL_RANGE_TORCH.search(msg)
    if m:
        label = int(m.group(1))
        units = int(m.group(2)) if m.re is LABEL_RANGE_TF else _units(model)
        ev.update(label=label, output_units=units)
        if label < 0:
            return [_f(Code.MODEL_LOSS_MISMATCH, f"Negative label {label}",
                       "Labels must be class ids 0..C-1.", ev, "fix_loss")]
        return [_f(Code.MODEL_OUTPUT_UNITS,
                   f"Label {label} does not fit an output of {units or '?'} units",
                   "Class ids run past the last layer's width: make it as wide as the number "
                   "of classes (max label + 1).", ev, "fix_output_units")]
    m = CARDINALITY.search(msg)
    if m:
        ev.update(x_sizes=m.group(1).strip(), y_sizes=m.group(2).strip())
        return [_f(Code.DATA_LABELS_MISALIGNED, "Inputs and labels have different lengths",
                   "x and y must hold the same samples in the same order.", ev, "align_labels")]
    m = INPUT_AXIS.search(msg) or INPUT_SHAPE.search(msg)
    if m:
        return [_input_finding(m, msg, model, ev)]
    if DECODE.search(msg):
        return [_corrupt_finding(ev, files)]
    if NAN.search(msg):
        return [_f(Code.TRAIN_DIVERGED, "Training produced NaN/inf",
                   "A tensor became non-finite during training.", ev, "lower_lr",
                   conf=0.7)]
    return []


def _input_finding(m: re.Match, msg: str, model: Any, ev: dict[str, Any]) -> Finding:
    expected = _model_input(model)
    got = None
    r = RECEIVED_INPUTS.search(msg)
    if r:
        got = _dims(r.group(1))
    elif m.re is INPUT_SHAPE:
        expected, got = _dims(m.group(1)), _dims(m.group(2))
    ev.update(expected_input=expected, received_input=got)
    if expected and got and len(expected) == len(got) == 4 and expected[-1] != got[-1]:
        return _f(Code.DATA_GRAYSCALE_AS_RGB if {expected[-1], got[-1]} == {1, 3}
                  else Code.DATA_ODD_SIZE,
                  f"Images have {got[-1]} channels, the model expects {expected[-1]}",
                  "Load the images with the channel count the model was built for "
                  "(color_mode='grayscale' or 'rgb').", ev, "single_channel"
                  if {expected[-1], got[-1]} == {1, 3} else "resize_consistently")
    return _f(Code.DATA_ODD_SIZE, "Images do not have the size the model was built for",
              "The input size differs from the model's input shape; resize every image to "
              "it (image_size=... when loading).", ev, "resize_consistently", conf=0.85)


def _corrupt_finding(ev: dict[str, Any], files: Sequence[str] | None) -> Finding:
    expl = ("The image loader stopped at a file it cannot decode (empty, truncated, or not an "
            "image at all, such as an HTML error page saved under an image name).")
    if files:
        checked = list(files)[:MAX_FILES_CHECKED]
        bad = {p: why for p in checked if (why := undecodable(p))}
        root = os.path.commonpath(checked) if len(checked) > 1 else os.path.dirname(checked[0])
        ev.update(files=[os.path.relpath(p, root) for p in list(bad)[:MAX_LISTED]],
                  n=len(bad), checked=len(checked), unchecked=len(files) - len(checked),
                  root=root, errors={os.path.relpath(p, root): w
                                     for p, w in list(bad.items())[:MAX_LISTED]})
        if bad:
            expl += f" {len(bad)} of the {len(checked)} input files fail to decode."
    else:
        expl += " Run `convergent scan DIR` on the image folder to list the files."
    return _f(Code.DATA_CORRUPT, "An image file cannot be decoded", expl, ev, "drop_corrupt",
              conf=0.95 if ev.get("n") else 0.85)


def undecodable(path: str) -> str | None:
    """Why ``path`` cannot be decoded as an image (None when it can)."""
    from PIL import Image, UnidentifiedImageError

    try:
        if os.path.getsize(path) == 0:
            return "zero bytes"
        with Image.open(path) as im:
            im.load()
    except UnidentifiedImageError:
        return "not an image"
    except (OSError, ValueError, SyntaxError) as e:
        return f"undecodable: {e}"[:200]
    return None


def _first_line(msg: str) -> str:
    for line in msg.splitlines():
        line = line.strip()
        if line and not line.startswith("Exception encountered"):
            return line[:300]
    return msg[:300]


def _loss_name(model: Any) -> str | None:
    loss = getattr(model, "loss", None) if model is not None else None
    if loss is None:
        return None
    return loss if isinstance(loss, str) else type(loss).__name__


def _units(model: Any) -> int | None:
    try:
        return int(model.outputs[0].shape[-1])
    except Exception:
        return None


def _model_input(model: Any) -> tuple | None:
    try:
        return tuple(model.inputs[0].shape)
    except Exception:
        return None
