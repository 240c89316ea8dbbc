#!/usr/bin/env python3
"""Makes the Keras fixtures of Tests/LRTFormatTests/Fixtures with real Keras.

Each fixture is a tiny Keras model file plus a reference file that Keras computed:

    NAME.h5            model.save("NAME.h5") of Input(8, 8, 1) - Flatten - Dense(5, relu) -
                       Dense(3, softmax), compiled with the optimizer in NAME and trained one
                       epoch (4 steps of 8) on seeded random data, so the optimizer holds state.
                       keras3-functional-sgd-momentum.h5 is a Functional residual block instead
                       (Conv2D, BatchNormalization, ReLU, Add, GlobalAveragePooling2D, Dense).
    NAME.step.h5       x [8, 8, 8, 1] float32, y [8] int64, y_pred [8, 3] (Keras's predictions
                       for x with NAME.h5), then the weights after one more
                       model.train_on_batch(x, y), one dataset per lrt parameter path
                       (dense.kernel, dense.bias, dense_1.kernel, dense_1.bias), and the
                       attribute iteration (Keras's update count after that step).

The Swift tests load NAME.h5 into lrt, import the optimizer state, take the same step and
compare (Tests/LRTFormatTests/KerasFixtureTests.swift).

Usage (each needs its own Python environment; neither is needed to run the tests):

    # Keras 3 (the version the shared reference files were made with), JAX backend:
    python3 -m venv /tmp/keras3 && /tmp/keras3/bin/pip install keras==3.15.1 "jax[cpu]" h5py
    KERAS_BACKEND=jax /tmp/keras3/bin/python Tools/make_format_fixtures.py keras3

    # Keras 2 (tf.keras 2.15, both optimizer generations, plus a copy with fixed-length
    # strings as Keras 2 wrote them with h5py 2):
    python3 -m venv /tmp/keras2 && /tmp/keras2/bin/pip install tensorflow-cpu==2.15.1 h5py
    /tmp/keras2/bin/python Tools/make_format_fixtures.py keras2
"""

import argparse
import os
import pathlib
import sys

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "LRTFormatTests" / "Fixtures"


def data(numpy):
    """Seeded inputs and labels: 32 for the epoch, 8 for the reference step."""
    rng = numpy.random.default_rng(1234)
    x = rng.random((40, 8, 8, 1), dtype=numpy.float32)
    y = rng.integers(0, 3, 40).astype(numpy.int64)
    return x[:32], y[:32], x[32:], y[32:]


def build(keras, layers, optimizer, functional=False):
    if functional:
        return build_functional(keras, layers, optimizer)
    model = keras.Sequential(
        [layers.Input(shape=(8, 8, 1)) if hasattr(layers, "Input") else layers.InputLayer(input_shape=(8, 8, 1)),
         layers.Flatten(), layers.Dense(5, activation="relu"), layers.Dense(3, activation="softmax")],
        name="tiny")
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_functional(keras, layers, optimizer):
    """A residual block: Conv2D - BatchNormalization - ReLU, then a second Conv2D - BatchNormalization added to it
    (an identity shortcut), ReLU, global average pooling, Dense(3, softmax)."""
    inputs = keras.Input(shape=(8, 8, 1), name="pixels")
    x = layers.ReLU(name="stem_relu")(layers.BatchNormalization(name="stem_bn")(
        layers.Conv2D(4, 3, padding="same", use_bias=False, name="stem")(inputs)))
    y = layers.BatchNormalization(name="block_bn")(layers.Conv2D(4, 3, padding="same", name="block_conv")(x))
    x = layers.ReLU(name="block_relu")(layers.Add(name="add")([x, y]))
    outputs = layers.Dense(3, activation="softmax", name="scores")(layers.GlobalAveragePooling2D(name="pool")(x))
    model = keras.Model(inputs, outputs, name="tiny_residual")
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def write_fixture(name, model, numpy, h5py, iteration):
    train_x, train_y, step_x, step_y = data(numpy)
    model.fit(train_x, train_y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    path = FIXTURES / f"{name}.h5"
    model.save(str(path))
    predictions = model.predict(step_x, verbose=0)
    model.train_on_batch(step_x, step_y)
    with h5py.File(FIXTURES / f"{name}.step.h5", "w") as reference:
        reference["x"] = step_x
        reference["y"] = step_y
        reference["y_pred"] = predictions.astype(numpy.float32)
        for layer in model.layers:
            for weight in layer.weights:
                short = weight.name.split("/")[-1].split(":")[0]
                reference[f"{layer.name}.{short}"] = numpy.asarray(weight.numpy(), dtype=numpy.float32)
        reference.attrs["iteration"] = int(iteration(model))
    print(f"wrote {path} and {name}.step.h5")


def keras3():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import h5py
    import keras
    import numpy

    assert keras.__version__.startswith("3."), f"need Keras 3, got {keras.__version__}"
    optimizers = {
        "keras3-sgd-momentum": lambda: keras.optimizers.SGD(0.05, momentum=0.9),
        "keras3-sgd-nesterov": lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        "keras3-adam": lambda: keras.optimizers.Adam(0.01),
    }
    for name, make in optimizers.items():
        keras.utils.set_random_seed(7)
        model = build(keras, keras.layers, make())
        write_fixture(name, model, numpy, h5py, lambda m: m.optimizer.iterations.numpy())
    keras.utils.set_random_seed(7)
    model = build(keras, keras.layers, keras.optimizers.SGD(0.05, momentum=0.9), functional=True)
    write_fixture("keras3-functional-sgd-momentum", model, numpy, h5py, lambda m: m.optimizer.iterations.numpy())


def keras2():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import h5py
    import numpy
    import tensorflow

    keras = tensorflow.keras
    optimizers = {
        "keras2-sgd-momentum": lambda: keras.optimizers.SGD(0.05, momentum=0.9),
        "keras2-legacy-sgd-momentum": lambda: keras.optimizers.legacy.SGD(0.05, momentum=0.9),
    }
    for name, make in optimizers.items():
        keras.backend.clear_session()
        keras.utils.set_random_seed(7)
        model = build(keras, keras.layers, make())
        write_fixture(name, model, numpy, h5py, lambda m: m.optimizer.iterations.numpy())
    fixed_strings(FIXTURES / "keras2-sgd-momentum.h5", FIXTURES / "keras2-fixed-strings.h5", h5py, numpy)


def fixed_strings(source, target, h5py, numpy):
    """A copy of `source` with every string attribute stored as fixed-length bytes, as
    Keras 2 wrote them with h5py 2 (`numpy.asarray([name.encode("utf8") ...])`)."""
    import shutil

    shutil.copyfile(source, target)
    with h5py.File(target, "r+") as file:
        objects = [file]
        file.visititems(lambda _, item: objects.append(item))
        for item in objects:
            for key, value in list(item.attrs.items()):
                if isinstance(value, str):
                    item.attrs[key] = numpy.bytes_(value.encode("utf8"))
                elif isinstance(value, numpy.ndarray) and value.dtype == object:
                    item.attrs[key] = numpy.asarray([str(entry).encode("utf8") for entry in value])
    print(f"wrote {target} (fixed-length strings)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("keras", choices=["keras3", "keras2"], help="which Keras to make fixtures with")
    arguments = parser.parse_args()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    keras3() if arguments.keras == "keras3" else keras2()


if __name__ == "__main__":
    sys.exit(main())
