import tempfile
from pathlib import Path

from tensorflow.keras.preprocessing.image import ImageDataGenerator
from tensorflow import keras
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 40)
root = Path(tempfile.mkdtemp()) / "shapes"
write_folder(x, y, root, names, ext="jpg")
(root / names[2] / "img_download_17.jpg").write_text("<html><body>404 Not Found</body></html>")

gen = ImageDataGenerator(rescale=1.0 / 255)
train = gen.flow_from_directory(root, target_size=(28, 28), color_mode="grayscale",
                                class_mode="sparse", batch_size=32, seed=0)

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    keras.layers.Conv2D(16, 3, activation="relu"),
    keras.layers.MaxPooling2D(),
    keras.layers.Flatten(),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train, epochs=2, verbose=2)
