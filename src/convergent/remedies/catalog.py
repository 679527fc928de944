"""The catalog of remedies: id → summary, code snippet, and the finding codes it addresses.

Detectors attach remedies to findings by id (``remedy("rescale")``), so every layer names
fixes the same way; ``trainer/`` gives each id a transform of a Recipe. Snippets are what
the user pastes into their script.

Example:
    >>> remedy("rescale").code
    'layers.Rescaling(1.0 / 255)  # first layer of the model'
"""

from __future__ import annotations

from dataclasses import dataclass

from convergent.findings import Code, Remedy


@dataclass(frozen=True)
class Entry:
    summary: str
    code: str
    codes: tuple[Code, ...]


C = Code
CATALOG: dict[str, Entry] = {
    # data
    "drop_corrupt": Entry("Remove or quarantine the files that cannot be decoded",
                          "convergent scan DIR --json r.json  # move the files listed as DATA_CORRUPT",
                          (C.DATA_CORRUPT,)),
    "remove_empty_class": Entry("Delete the empty class folder or add images to it",
                                "# remove the empty folder so the label count matches",
                                (C.DATA_EMPTY_CLASS,)),
    "more_data": Entry("Collect more images per class, or use a smaller model and augmentation",
                       "# aim for hundreds of images per class", (C.DATA_TOO_FEW,)),
    "class_weights": Entry(
        "Weight the loss by inverse class frequency",
        "from sklearn.utils.class_weight import compute_class_weight\n"
        "w = compute_class_weight('balanced', classes=np.unique(y), y=y)\n"
        "model.fit(..., class_weight=dict(enumerate(w)))",
        (C.DATA_IMBALANCE,)),
    "oversample": Entry("Oversample the minority classes in the input pipeline",
                        "ds = tf.data.Dataset.sample_from_datasets(per_class_datasets, weights)",
                        (C.DATA_IMBALANCE,)),
    "rescale": Entry("Scale pixels to [0, 1] inside the model",
                     "layers.Rescaling(1.0 / 255)  # first layer of the model",
                     (C.DATA_UNNORMALIZED, C.DATA_INCONSISTENT_RANGE)),
    "standardize": Entry("Standardize inputs with statistics of the training split",
                         "norm = layers.Normalization(); norm.adapt(x_train)  # first layer",
                         (C.DATA_UNNORMALIZED, C.DATA_INCONSISTENT_RANGE)),
    "same_preprocessing": Entry("Apply the same preprocessing to every split",
                                "x_val = preprocess(x_val)  # the same function as for x_train",
                                (C.DATA_INCONSISTENT_RANGE,)),
    "fix_nonfinite": Entry("Replace NaN/inf inputs; guard divisions by a zero std",
                           "x = np.nan_to_num(x); x = (x - mean) / (std + 1e-7)",
                           (C.DATA_NONFINITE,)),
    "review_labels": Entry("Review the listed samples and fix their labels",
                           "# relabel or drop the files listed as DATA_LABEL_NOISE",
                           (C.DATA_LABEL_NOISE,)),
    "align_labels": Entry("Shuffle images and labels together, with one permutation",
                          "idx = np.random.permutation(len(x)); x, y = x[idx], y[idx]",
                          (C.DATA_LABELS_MISALIGNED,)),
    "dedupe": Entry("Keep one copy of each duplicate group",
                    "# delete the files listed in DATA_DUPLICATES pairs, keep the first",
                    (C.DATA_DUPLICATES,)),
    "deleak_split": Entry("Split so near-identical images stay on one side",
                          "# remove from validation the files listed in DATA_LEAKAGE pairs",
                          (C.DATA_LEAKAGE,)),
    "shuffle_before_split": Entry(
        "Shuffle before validation_split (Keras takes the last fraction unshuffled)",
        "idx = np.random.permutation(len(x)); x, y = x[idx], y[idx]\n"
        "model.fit(x, y, validation_split=0.2, ...)",
        (C.DATA_SORTED_SPLIT,)),
    "augment": Entry(
        "Add augmentation layers",
        "keras.Sequential([layers.RandomFlip('horizontal'), layers.RandomRotation(0.1),\n"
        "                  layers.RandomZoom(0.1), layers.RandomTranslation(0.1, 0.1)])",
        (C.DATA_LOW_VARIETY, C.DATA_TOO_FEW, C.TRAIN_OVERFITTING, C.TRAIN_NO_REGULARIZATION)),
    "augment_brightness": Entry(
        "Add brightness/contrast augmentation and review the exposure of flagged images",
        "layers.RandomBrightness(0.2), layers.RandomContrast(0.2)",
        (C.DATA_DARK, C.DATA_BRIGHT, C.DATA_LOW_CONTRAST)),
    "review_images": Entry("Review the flagged images; drop the unusable ones",
                           "# see the files listed in the finding's evidence",
                           (C.DATA_BLURRY, C.DATA_OUTLIER, C.DATA_DARK, C.DATA_BRIGHT,
                            C.DATA_LOW_CONTRAST)),
    "resize_consistently": Entry(
        "Resize with the aspect ratio kept (pad or crop) to one size",
        "keras.utils.image_dataset_from_directory(DIR, image_size=(h, w), pad_to_aspect_ratio=True)",
        (C.DATA_ODD_SIZE,)),
    "single_channel": Entry("Load grayscale images with one channel",
                            "image_dataset_from_directory(DIR, color_mode='grayscale')",
                            (C.DATA_GRAYSCALE_AS_RGB,)),
    # model
    "fix_output_activation": Entry(
        "Use softmax for one-of-many labels (sigmoid only for binary/multi-label)",
        "layers.Dense(num_classes, activation='softmax')",
        (C.MODEL_OUTPUT_ACTIVATION,)),
    "fix_output_units": Entry("Make the last layer as wide as the number of classes",
                              "layers.Dense(num_classes, activation='softmax')",
                              (C.MODEL_OUTPUT_UNITS,)),
    "fix_loss": Entry(
        "Pick the loss that fits the labels",
        "loss='sparse_categorical_crossentropy'  # integer labels\n"
        "# loss='categorical_crossentropy'       # one-hot labels",
        (C.MODEL_LOSS_MISMATCH,)),
    "widen_bottleneck": Entry("Widen the narrow layer", "layers.Dense(128, activation='relu')",
                              (C.MODEL_BOTTLENECK,)),
    "less_pooling": Entry("Pool less: keep at least 4x4 spatial size before flattening",
                          "# remove a MaxPooling2D, or use padding='same' in the convolutions",
                          (C.MODEL_OVER_POOLING,)),
    "add_capacity": Entry("Add filters or a layer", "layers.Conv2D(64, 3, activation='relu')",
                          (C.MODEL_TOO_SMALL, C.TRAIN_UNDERFITTING)),
    "reduce_capacity": Entry("Use fewer units/filters or a smaller model",
                             "layers.Dense(64, activation='relu')  # instead of thousands",
                             (C.MODEL_TOO_LARGE,)),
    "he_init": Entry("Use He initialization for ReLU layers (Glorot for tanh/sigmoid)",
                     "layers.Conv2D(32, 3, activation='relu', kernel_initializer='he_normal')",
                     (C.MODEL_BAD_INIT, C.TRAIN_VANISHING_GRADIENTS, C.TRAIN_EXPLODING_GRADIENTS)),
    "zero_bias": Entry("Start ReLU layers' biases at zero (Keras' default)",
                       "layers.Dense(128, activation='relu', bias_initializer='zeros')",
                       (C.MODEL_BAD_INIT,)),
    "relu_activation": Entry("Use ReLU in hidden layers instead of sigmoid/tanh",
                             "layers.Dense(128, activation='relu')",
                             (C.MODEL_SATURATING_ACTIVATION, C.TRAIN_VANISHING_GRADIENTS)),
    "leaky_relu": Entry("Use LeakyReLU/ELU so units cannot die",
                        "layers.Conv2D(32, 3, activation='leaky_relu')",
                        (C.TRAIN_DYING_RELU,)),
    "add_nonlinearity": Entry("Give hidden layers an activation",
                              "layers.Dense(128, activation='relu')",
                              (C.MODEL_NO_NONLINEARITY,)),
    "unfreeze": Entry("Unfreeze the top of the base model and fine-tune with a small LR",
                      "base.trainable = True  # then compile with Adam(1e-5)",
                      (C.MODEL_FROZEN,)),
    "batch_norm": Entry("Add BatchNormalization after convolutions",
                        "layers.BatchNormalization()",
                        (C.MODEL_NO_NORMALIZATION_LAYER, C.TRAIN_VANISHING_GRADIENTS)),
    "less_dropout": Entry("Lower dropout to 0.2-0.5", "layers.Dropout(0.3)",
                          (C.MODEL_EXCESSIVE_DROPOUT,)),
    # training
    "lower_lr": Entry("Lower the learning rate", "optimizer=keras.optimizers.Adam(1e-3)",
                      (C.TRAIN_LR_TOO_HIGH, C.TRAIN_DIVERGED, C.TRAIN_OSCILLATION,
                       C.TRAIN_DYING_RELU)),
    "raise_lr": Entry("Raise the learning rate", "optimizer=keras.optimizers.Adam(1e-3)",
                      (C.TRAIN_LR_TOO_LOW, C.TRAIN_STUCK_AT_CHANCE)),
    "lr_range_test": Entry("Pick the learning rate from a range test",
                           "convergent.diagnose(model, x, y)  # see the suggested LR range",
                           (C.TRAIN_LR_TOO_HIGH, C.TRAIN_LR_TOO_LOW)),
    "adam": Entry("Use Adam/AdamW instead of plain SGD",
                  "optimizer=keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=1e-4)",
                  (C.TRAIN_OPTIMIZER,)),
    "loosen_clip": Entry("Raise the gradient-clipping limit to ~1 (or remove it)",
                         "keras.optimizers.SGD(0.01, momentum=0.9, clipnorm=1.0)",
                         (C.TRAIN_OPTIMIZER,)),
    "grad_clip": Entry("Clip gradient norms", "keras.optimizers.Adam(1e-3, clipnorm=1.0)",
                       (C.TRAIN_EXPLODING_GRADIENTS, C.TRAIN_DIVERGED)),
    "batch_size": Entry("Use a batch size of 32-256", "model.fit(..., batch_size=64)",
                        (C.TRAIN_BATCH_SIZE,)),
    "more_epochs": Entry("Train longer, with early stopping",
                         "model.fit(..., epochs=50, callbacks=[keras.callbacks.EarlyStopping("
                         "patience=5, restore_best_weights=True)])",
                         (C.TRAIN_UNDERFITTING,)),
    "full_epochs": Entry("Let each epoch cover the training set",
                         "model.fit(..., steps_per_epoch=None)  # or ceil(n / batch_size)",
                         (C.TRAIN_UNDERFITTING,)),
    "early_stopping": Entry("Stop at the best validation loss",
                            "keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)",
                            (C.TRAIN_OVERFITTING,)),
    "reduce_lr_on_plateau": Entry("Reduce the LR when validation loss stalls",
                                  "keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=3)",
                                  (C.TRAIN_OSCILLATION, C.TRAIN_UNDERFITTING)),
    "dropout": Entry("Add dropout before the classifier", "layers.Dropout(0.3)",
                     (C.TRAIN_OVERFITTING, C.TRAIN_NO_REGULARIZATION, C.MODEL_TOO_LARGE)),
    "reduce_l2": Entry("Reduce the L1/L2 weight penalty: it outweighs the data loss",
                       "layers.Dense(..., kernel_regularizer=regularizers.l2(1e-4))",
                       (C.TRAIN_STUCK_AT_CHANCE, C.TRAIN_UNDERFITTING)),
    "track_weights": Entry("Create layer weights with self.add_weight (Keras 3 does not "
                           "track tf.Variable attributes)",
                           "self.w = self.add_weight(shape=(n_in, units), "
                           "initializer='glorot_uniform', trainable=True)", (C.MODEL_FROZEN,)),
    "bn_momentum": Entry("Let BatchNormalization's moving statistics catch up: lower its "
                         "momentum (or train more steps per epoch)",
                         "layers.BatchNormalization(momentum=0.9)", (C.TRAIN_UNDERFITTING,)),
    "weight_decay": Entry("Add weight decay / L2",
                          "keras.optimizers.AdamW(1e-3, weight_decay=1e-4)",
                          (C.TRAIN_OVERFITTING, C.TRAIN_NO_REGULARIZATION, C.MODEL_TOO_LARGE)),
}


def remedy(remedy_id: str) -> Remedy:
    """The Remedy (plain data for a Finding) of one catalog id."""
    try:
        e = CATALOG[remedy_id]
    except KeyError:
        raise KeyError(f"unknown remedy id {remedy_id!r}; known: {sorted(CATALOG)}") from None
    return Remedy(remedy_id, e.summary, e.code)


def remedies_for(code: Code | str, *first: str) -> tuple[Remedy, ...]:
    """Remedies for a code: the ids in ``first`` (best first), then the rest of the catalog's."""
    code = Code(code)
    ids = list(first) + [i for i, e in CATALOG.items() if code in e.codes and i not in first]
    return tuple(remedy(i) for i in ids)
