#!/usr/bin/env python3
"""Checks with real Keras that lrt files and Keras files are interchangeable, layer type by layer type.

    python3 Tools/keras_check.py [--lrt PATH] [--venv DIR] [--work DIR]

Both directions, for every layer class in LAYER_CASES (one small model per case, 8x8x1 inputs):

  lrt -> Keras   `lrt train --model <Keras's own model.to_json()>` for one epoch on Samples/digits,
                 then keras.models.load_model(checkpoint) (compiling it from training_config) and
                 compare Keras's predictions on random inputs with `lrt predict`;
  Keras -> lrt   build the model in Keras, train it one epoch (SGD with momentum, so BatchNormalization
                 statistics and optimizer state are real), model.save("x.h5"), and compare
                 `lrt predict x.h5` with Keras's predictions; `lrt inspect` must find the optimizer
                 state importable.

Plus: every lrt file passes Tools/validate_checkpoint.py (h5py); gzip-compressed weights load in
Keras (`lrt train --compress` when lrt has it, and the committed Tests/LRTFormatTests/Fixtures/lrt-v1.h5,
written with Checkpoint.save(compressWeights: true)); Keras compiles lrt checkpoints of every
`lrt train --optimizer`; the shared Keras reference files (../shared/keras/*.reference.h5) predict
alike. The tolerance is 1e-5 (largest absolute difference of probabilities).

Keras 3.15.1 and JAX (CPU) are installed from PyPI into a virtual environment, by default
Tools/.venv (git-ignored). When that cannot be done (no network, no venv module) the check prints
SKIP and why, and exits 0; a mismatch or a file Keras or lrt cannot read exits 1.
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
KERAS = "keras==3.15.1"
PACKAGES = [KERAS, "jax[cpu]", "h5py", "numpy"]
TOLERANCE = 1e-5


# ----------------------------------------------------------------------------- the environment

def ensure_venv(venv):
    """A Python with Keras and JAX, or None and the reason."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import keras, jax, h5py, numpy; assert keras.__version__ == '3.15.1'"]
    environment = dict(os.environ, KERAS_BACKEND="jax")
    if python.exists() and subprocess.run(check, env=environment, capture_output=True).returncode == 0:
        return python, None
    print(f"installing {', '.join(PACKAGES)} into {venv} …", flush=True)
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PACKAGES], check=True, capture_output=True, text=True)
    except (subprocess.CalledProcessError, OSError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        return None, f"cannot install Keras and JAX into {venv}: {detail.strip().splitlines()[-1] if detail.strip() else error}"
    if subprocess.run(check, env=environment, capture_output=True).returncode != 0:
        return None, f"Keras {KERAS} with JAX does not import in {venv}"
    return python, None


def find_lrt(given):
    if given:
        return pathlib.Path(given).resolve()
    candidates = [path for pattern in (".build*/release/lrt", ".build*/debug/lrt") for path in REPOSITORY.glob(pattern)]
    candidates = [path for path in candidates if path.is_file() and os.access(path, os.X_OK)]
    if candidates:
        return max(candidates, key=lambda path: path.stat().st_mtime)
    print("building lrt (swift build --product lrt) …", flush=True)
    subprocess.run(["swift", "build", "--product", "lrt"], cwd=REPOSITORY, check=True)
    return REPOSITORY / ".build" / "debug" / "lrt"


# ----------------------------------------------------------------------------- inside the venv

def layer_cases(keras):
    """Layer class → a function making a small Keras model with it, for 8x8x1 inputs and 10 classes."""
    layers = keras.layers

    def model(*body, name):
        return keras.Sequential([layers.Input(shape=(8, 8, 1))] + list(body), name=name)

    return {
        "Flatten+Dense": lambda: model(layers.Flatten(), layers.Dense(24, activation="relu"),
                                       layers.Dense(10, activation="softmax"), name="dense_model"),
        "Dense(linear)+ReLU+Activation": lambda: model(layers.Flatten(), layers.Dense(16), layers.ReLU(), layers.Dense(10),
                                                       layers.Activation("softmax"), name="relu_model"),
        "Activation(tanh,sigmoid)": lambda: model(layers.Flatten(), layers.Dense(16), layers.Activation("tanh"), layers.Dense(12),
                                                  layers.Activation("sigmoid"), layers.Dense(10, activation="softmax"),
                                                  name="activation_model"),
        "LeakyReLU": lambda: model(layers.Flatten(), layers.Dense(16), layers.LeakyReLU(negative_slope=0.1),
                                   layers.Dense(10, activation="softmax"), name="leaky_model"),
        "Conv2D+MaxPooling2D": lambda: model(layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(2), layers.Flatten(),
                                             layers.Dense(10, activation="softmax"), name="conv_model"),
        "Conv2D(same,strides)+AveragePooling2D": lambda: model(
            layers.Conv2D(5, 3, strides=2, padding="same", activation="relu"), layers.AveragePooling2D(2, padding="same"),
            layers.Flatten(), layers.Dense(10, activation="softmax"), name="average_model"),
        "GlobalAveragePooling2D": lambda: model(layers.Conv2D(6, 3, activation="relu"), layers.GlobalAveragePooling2D(),
                                                layers.Dense(10, activation="softmax"), name="global_model"),
        "BatchNormalization": lambda: model(layers.Conv2D(4, 3), layers.BatchNormalization(), layers.ReLU(), layers.Flatten(),
                                            layers.Dense(10, activation="softmax"), name="batch_norm_model"),
        "Dropout": lambda: model(layers.Flatten(), layers.Dense(16, activation="relu"), layers.Dropout(0.3),
                                 layers.Dense(10, activation="softmax"), name="dropout_model"),
        # Frozen layers ("trainable": false): lrt trains around them, and each side loads them frozen.
        "Frozen Conv2D+BatchNormalization (trainable=False)": lambda: model(
            layers.Conv2D(4, 3, trainable=False), layers.BatchNormalization(trainable=False), layers.ReLU(), layers.Flatten(),
            layers.Dense(10, activation="softmax"), name="frozen_model"),
        # Functional models: the graph format both ways, and every layer that needs a graph or is new with it.
        "Functional chain": lambda: functional(lambda x: layers.Dense(10, activation="softmax")(
            layers.Dense(16, activation="relu")(layers.Flatten()(x))), name="chain_model"),
        "Functional residual block (Add, BatchNormalization)": lambda: functional(residual, name="residual_model"),
        "Functional branches (Concatenate, Subtract, Multiply, Average, Maximum)": lambda: functional(branches, name="branch_model"),
        "ZeroPadding2D+GlobalMaxPooling2D+Rescaling": lambda: functional(lambda x: layers.Dense(10, activation="softmax")(
            layers.GlobalMaxPooling2D()(layers.Conv2D(6, 3, activation="relu")(
                layers.ZeroPadding2D(((1, 2), (0, 1)))(layers.Rescaling(2.0, offset=-1.0)(x))))), name="padding_model"),
        "DepthwiseConv2D+SeparableConv2D": lambda: functional(lambda x: layers.Dense(10, activation="softmax")(layers.Flatten()(
            layers.SeparableConv2D(6, 3, padding="same", depth_multiplier=2, activation="relu")(
                layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=3)(x)))), name="depthwise_model"),
        "Reshape+ReLU(max_value, threshold, negative_slope)": lambda: functional(lambda x: layers.Dense(10, activation="softmax")(
            layers.Flatten()(layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2)(
                layers.Reshape((4, 16, 2))(layers.Conv2D(2, 3, padding="same")(x))))), name="reshape_model"),
    }


def functional(body, name):
    """A Keras Functional model: 8x8x1 inputs, `body` maps the input tensor to the output."""
    import keras
    inputs = keras.Input(shape=(8, 8, 1))
    return keras.Model(inputs, body(inputs), name=name)


def residual(x):
    """A ResNet basic block with an identity and a projection shortcut, as in He et al. 2016."""
    import keras
    layers = keras.layers
    x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(8, 3, padding="same", use_bias=False)(x)))
    shortcut = x
    y = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(8, 3, padding="same", use_bias=False)(x)))
    y = layers.BatchNormalization()(layers.Conv2D(8, 3, padding="same", use_bias=False)(y))
    x = layers.ReLU()(layers.Add()([shortcut, y]))
    projection = layers.BatchNormalization()(layers.Conv2D(12, 1, strides=2, use_bias=False)(x))
    y = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(12, 3, strides=2, padding="same", use_bias=False)(x)))
    y = layers.BatchNormalization()(layers.Conv2D(12, 3, padding="same", use_bias=False)(y))
    x = layers.ReLU()(layers.Add()([projection, y]))
    return layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling2D()(x))


def branches(x):
    """Parallel branches merged every way Keras merges them."""
    import keras
    layers = keras.layers
    flat = layers.Flatten()(x)
    a = layers.Dense(12, activation="tanh")(flat)
    b = layers.Dense(12, activation="sigmoid")(flat)
    c = layers.Dense(12)(flat)
    merged = layers.Concatenate()([layers.Subtract()([a, b]), layers.Multiply()([a, c]), layers.Average()([a, b, c]),
                                   layers.Maximum()([b, c])])
    images = layers.Concatenate(axis=-1)([layers.Conv2D(3, 3, padding="same")(x), layers.Conv2D(2, 1)(x)])
    return layers.Dense(10, activation="softmax")(layers.Concatenate()([merged, layers.Flatten()(images)]))


class Checker:
    def __init__(self, lrt, work):
        import numpy

        self.numpy = numpy
        self.lrt = lrt
        self.work = work
        self.results = []  # (check, outcome, detail)
        rng = numpy.random.default_rng(20240601)
        self.inputs = rng.random((16, 8, 8, 1), dtype=numpy.float32)
        self.inputs_file = work / "inputs.h5"
        import h5py
        with h5py.File(self.inputs_file, "w") as file:
            file["x"] = self.inputs
        help_text = self.run_lrt(["train", "--help"]).stdout
        self.has_compress = "--compress" in help_text
        self.has_optimizer = "--optimizer " in help_text or "--optimizer <" in help_text

    def record(self, check, outcome, detail=""):
        self.results.append((check, outcome, detail))
        print(f"{outcome:5} {check}{': ' + detail if detail else ''}", flush=True)

    def run_lrt(self, arguments):
        return subprocess.run([str(self.lrt)] + arguments, capture_output=True, text=True, cwd=self.work)

    def lrt_predict(self, model_file, inputs_file=None):
        import h5py
        output = self.work / f"{pathlib.Path(model_file).stem}.predictions.h5"
        run = self.run_lrt(["predict", str(model_file), "--inputs", str(inputs_file or self.inputs_file), "--out", str(output)])
        if run.returncode != 0:
            raise RuntimeError(f"lrt predict failed: {run.stderr.strip()}")
        with h5py.File(output, "r") as file:
            return file["y_pred"][()]

    def compare(self, check, expected, actual):
        difference = float(self.numpy.max(self.numpy.abs(self.numpy.asarray(expected) - self.numpy.asarray(actual))))
        self.record(check, "ok" if difference <= TOLERANCE else "FAIL", f"max |difference| {difference:.2e}")

    def validate(self, check, path):
        run = subprocess.run([sys.executable, str(REPOSITORY / "Tools" / "validate_checkpoint.py"), "--quiet", str(path)],
                             capture_output=True, text=True)
        self.record(check, "ok" if run.returncode == 0 else "FAIL", (run.stdout + run.stderr).strip())

    # lrt → Keras

    def lrt_to_keras(self, name, make, compress=False, optimizer=None):
        import keras
        keras.utils.set_random_seed(1)
        config = self.work / f"{name}.json"
        config.write_text(make().to_json())
        checkpoint = self.work / f"lrt-{name}{'-gzip' if compress else ''}{'-' + optimizer if optimizer else ''}.h5"
        arguments = ["train", "--model", str(config), "--data", str(REPOSITORY / "Samples" / "digits"), "--epochs", "1",
                     "--batch-size", "64", "--out", str(checkpoint)]
        if compress:
            arguments.append("--compress")
        if optimizer:
            arguments += ["--optimizer", optimizer]
        label = f"lrt -> Keras  {name}{' (gzip)' if compress else ''}{' --optimizer ' + optimizer if optimizer else ''}"
        run = self.run_lrt(arguments)
        if run.returncode != 0:
            message = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else f"exit {run.returncode}"
            unsupported = "not supported" in message
            self.record(label, "SKIP" if unsupported else "FAIL", f"lrt train: {message}")
            return
        self.validate(f"h5py          {checkpoint.name} conforms to Schemas/checkpoint-layout.json", checkpoint)
        try:
            model = keras.models.load_model(str(checkpoint))
        except Exception as error:
            self.record(label, "FAIL", f"keras.models.load_model: {type(error).__name__}: {str(error).splitlines()[0]}")
            return
        if optimizer:
            self.record(label, "ok", f"Keras compiled it with {type(model.optimizer).__name__}")
            return
        expected = [layer.trainable for layer in make().layers]
        if not all(expected):
            loaded = [layer.trainable for layer in model.layers]
            self.record(f"{label}: trainable flags", "ok" if loaded == expected else "FAIL", f"Keras loaded {loaded}, expected {expected}")
        self.compare(label, model.predict(self.inputs, verbose=0), self.lrt_predict(checkpoint))

    # Keras → lrt

    def keras_to_lrt(self, name, make):
        import keras
        keras.utils.set_random_seed(2)
        model = make()
        model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy")
        rng = self.numpy.random.default_rng(3)
        model.fit(rng.random((64, 8, 8, 1), dtype=self.numpy.float32), rng.integers(0, 10, 64), batch_size=16, epochs=1, verbose=0)
        path = self.work / f"keras-{name}.h5"
        model.save(str(path))
        label = f"Keras -> lrt  {name}"
        try:
            predictions = self.lrt_predict(path)
        except RuntimeError as error:
            unsupported = "not supported" in str(error)
            self.record(label, "SKIP" if unsupported else "FAIL", str(error))
            return
        self.compare(label, model.predict(self.inputs, verbose=0), predictions)
        inspected = self.run_lrt(["inspect", "--json", str(path)])
        frozen = sum(int(self.numpy.prod(weight.shape)) for weight in model.non_trainable_weights)
        if not all(layer.trainable for layer in model.layers) and inspected.returncode == 0:
            counted = json.loads(inspected.stdout)["model"]["non_trainable_parameters"]
            self.record(f"{label}: frozen layers read as frozen", "ok" if counted == frozen else "FAIL",
                        f"lrt counts {counted} non-trainable parameters, Keras {frozen}")
        problem = json.loads(inspected.stdout)["optimizer"]["problem"] if inspected.returncode == 0 else inspected.stderr.strip()
        self.record(f"Keras -> lrt  {name}: Keras SGD state importable", "ok" if problem is None else "FAIL", problem or "")

    def shared_references(self):
        folder = REPOSITORY.parent / "shared" / "keras"
        for reference in sorted(folder.glob("*.reference.h5")):
            model = folder / reference.name.replace(".reference.h5", ".h5")
            import h5py
            with h5py.File(reference, "r") as file:
                expected = file["y_pred"][()]
            label = f"Keras -> lrt  shared {model.name}"
            try:
                self.compare(label, expected, self.lrt_predict(model, reference))
            except RuntimeError as error:
                self.record(label, "SKIP" if "not supported" in str(error) else "FAIL", str(error))

    def committed_fixture(self):
        import keras
        fixture = REPOSITORY / "Tests" / "LRTFormatTests" / "Fixtures" / "lrt-v1.h5"
        label = "lrt -> Keras  Fixtures/lrt-v1.h5 (gzip, Conv2D, BatchNormalization, MaxPooling2D, Dropout)"
        import h5py
        with h5py.File(fixture, "r") as file:
            compressed = file["model_weights/dense/v1_fixture/dense/kernel"].compression
        try:
            model = keras.models.load_model(str(fixture))
        except Exception as error:
            self.record(label, "FAIL", f"keras.models.load_model: {type(error).__name__}: {str(error).splitlines()[0]}")
            return
        rng = self.numpy.random.default_rng(4)
        inputs = rng.random((8, 4, 4, 1), dtype=self.numpy.float32)
        inputs_file = self.work / "fixture-inputs.h5"
        with h5py.File(inputs_file, "w") as file:
            file["x"] = inputs
        self.record("h5py          Fixtures/lrt-v1.h5 weights are gzip-compressed", "ok" if compressed == "gzip" else "FAIL", str(compressed))
        self.compare(label, model.predict(inputs, verbose=0), self.lrt_predict(fixture, inputs_file))


def inside(arguments):
    import keras

    work = pathlib.Path(arguments.work)
    checker = Checker(pathlib.Path(arguments.lrt), work)
    print(f"Keras {keras.__version__} ({keras.backend.backend()}), lrt {checker.lrt}, work folder {work}\n", flush=True)
    cases = layer_cases(keras)
    wanted = [part.strip().lower() for part in (arguments.cases or "").split(",") if part.strip()]
    selected = {name: make for name, make in cases.items() if not wanted or any(part in name.lower() for part in wanted)}
    for name, make in selected.items():
        checker.lrt_to_keras(name, make)
        checker.keras_to_lrt(name, make)
    first = next(iter(cases))
    if arguments.cases:  # a quick look at some cases: the file-level checks below run in full runs only
        return summarize(checker)
    if checker.has_compress:
        checker.lrt_to_keras(first, cases[first], compress=True)
    else:
        checker.record("lrt -> Keras  lrt train --compress", "SKIP", "this lrt has no --compress flag; gzip is checked with Fixtures/lrt-v1.h5")
    if checker.has_optimizer:
        for optimizer in ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "lars", "lamb"]:
            checker.lrt_to_keras(first, cases[first], optimizer=optimizer)
    checker.committed_fixture()
    checker.shared_references()
    return summarize(checker)


def summarize(checker):
    counts = {}
    for _, outcome, _ in checker.results:
        counts[outcome] = counts.get(outcome, 0) + 1
    print(f"\n{len(checker.results)} checks: " + ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items())))
    return 1 if counts.get("FAIL") else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lrt", help="the lrt executable (default: the newest .build*/{release,debug}/lrt, else swift build)")
    parser.add_argument("--venv", default=str(REPOSITORY / "Tools" / ".venv"), help="virtual environment for Keras (default Tools/.venv)")
    parser.add_argument("--work", help="folder for the files made (default: a temporary folder, removed afterwards)")
    parser.add_argument("--cases", help="only the layer cases whose name contains one of these comma-separated texts (e.g. Functional,Reshape)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.inside:
        return inside(arguments)

    python, reason = ensure_venv(pathlib.Path(arguments.venv))
    if python is None:
        print(f"SKIP: {reason}")
        return 0
    lrt = find_lrt(arguments.lrt)
    work = pathlib.Path(arguments.work) if arguments.work else pathlib.Path(tempfile.mkdtemp(prefix="lrt-keras-check-"))
    work.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
    try:
        command = [str(python), __file__, "--inside", "--lrt", str(lrt), "--work", str(work)]
        if arguments.cases:
            command += ["--cases", arguments.cases]
        return subprocess.run(command, env=environment).returncode
    finally:
        if not arguments.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
