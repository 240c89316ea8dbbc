#!/usr/bin/env python3
"""Checks lrt's built-in architectures (`lrt models NAME`) against the same networks written in Keras 3.

For each case (an architecture at an input shape and class count) it loads the JSON lrt prints with
keras.models.model_from_json and compares it with a reference built here with the Keras API, written from
the papers, not from lrt's Swift code:

  mlp, lenet, cnn, digits-cnn, cifar10-quick   the stacks of Samples/models/*.json
  resnet20, resnet56   He et al. 2016, section 4.2: 3x3 conv 16 + BN + ReLU; 3 stages of n basic blocks
                       (16, 32, 64 filters; stride 2 first in stages 2 and 3); global average pooling;
                       Dense softmax. Shortcut option B: 1x1 conv stride 2 + BN where the shape changes.
  resnet18             He et al. 2016, table 1: 7x7/2 conv 64 + BN + ReLU, 3x3/2 max pool, 4 stages of 2
                       basic blocks (64-512 filters), projection shortcuts where the shape changes, GAP, Dense.

Compared: the parameter count (Keras's count_params, BN moving statistics included) and the trainable
count, the model's output shape, and the multiset of (layer class, output shape, parameters) over all
layers, so a missing, extra or misshapen layer fails. Then it writes the Keras-reported numbers to
Tests/LRTLayersTests/Fixtures/ArchitectureReference.swift, which ArchitectureTests compares lrt's own
counts with.

  Tools/.venv/bin/python Tools/architecture_check.py [--lrt .build/debug/lrt] [--no-fixture]

Needs keras and jax in Tools/.venv (python3 -m venv Tools/.venv && Tools/.venv/bin/pip install keras "jax[cpu]" numpy).
"""
import argparse
import collections
import json
import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from keras import layers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "Tests", "LRTLayersTests", "Fixtures", "ArchitectureReference.swift")

# (architecture, [height, width, channels], classes): every default, and other shapes and class counts.
CASES = [
    ("mlp", [28, 28, 1], 10), ("lenet", [28, 28, 1], 10), ("cnn", [28, 28, 1], 10), ("digits-cnn", [8, 8, 1], 10),
    ("cifar10-quick", [32, 32, 3], 10), ("resnet20", [32, 32, 3], 10), ("resnet56", [32, 32, 3], 10),
    ("resnet18", [224, 224, 3], 1000),
    ("mlp", [32, 32, 3], 100), ("lenet", [32, 32, 3], 10), ("cnn", [64, 48, 3], 7), ("digits-cnn", [28, 28, 1], 10),
    ("cifar10-quick", [28, 28, 1], 10), ("resnet20", [28, 28, 1], 10), ("resnet56", [8, 8, 1], 10),
    ("resnet18", [64, 64, 3], 200), ("resnet18", [32, 32, 3], 10),
]


# --- Reference networks, written with the Keras API --------------------------------------------------------

def sequential(shape, stack):
    return keras.Sequential([keras.Input(shape=shape)] + stack)


def mlp(shape, classes):
    return sequential(shape, [layers.Flatten(), layers.Dense(512, activation="relu"),
                              layers.Dense(256, activation="relu"), layers.Dense(classes, activation="softmax")])


def lenet(shape, classes):
    return sequential(shape, [layers.Conv2D(6, 5, padding="same", activation="relu"), layers.MaxPooling2D(2),
                              layers.Conv2D(16, 5, activation="relu"), layers.MaxPooling2D(2), layers.Flatten(),
                              layers.Dense(120, activation="relu"), layers.Dense(84, activation="relu"),
                              layers.Dense(classes, activation="softmax")])


def cnn(shape, classes):
    return sequential(shape, [layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                              layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2), layers.Flatten(),
                              layers.Dense(128, activation="relu"), layers.Dense(classes, activation="softmax")])


def digits_cnn(shape, classes):
    return sequential(shape, [layers.Conv2D(64, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
                              layers.Dropout(0.25), layers.Conv2D(128, 3, padding="same", activation="relu"),
                              layers.MaxPooling2D(2), layers.Flatten(), layers.Dropout(0.5),
                              layers.Dense(classes, activation="softmax")])


def cifar10_quick(shape, classes):
    return sequential(shape, [layers.Conv2D(32, 5, padding="same"), layers.MaxPooling2D(3, 2, padding="same"),
                              layers.ReLU(), layers.Conv2D(32, 5, padding="same", activation="relu"),
                              layers.AveragePooling2D(3, 2, padding="same"),
                              layers.Conv2D(64, 5, padding="same", activation="relu"),
                              layers.AveragePooling2D(3, 2, padding="same"), layers.Flatten(), layers.Dense(64),
                              layers.Dense(classes, activation="softmax")])


def conv_bn(x, filters, kernel, stride, padding="same"):
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=False,
                      kernel_initializer="he_normal")(x)
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def basic_block(x, filters, stride):
    """conv3x3(stride)-BN-ReLU-conv3x3-BN + shortcut, ReLU; the shortcut a 1x1 projection + BN when the shape changes."""
    y = layers.Activation("relu")(conv_bn(x, filters, 3, stride))
    y = conv_bn(y, filters, 3, 1)
    shortcut = conv_bn(x, filters, 1, stride, padding="valid") if stride != 1 or x.shape[-1] != filters else x
    return layers.Activation("relu")(layers.Add()([y, shortcut]))


def cifar_resnet(depth):
    def build(shape, classes):
        n = (depth - 2) // 6
        inputs = keras.Input(shape=shape)
        x = layers.Activation("relu")(conv_bn(inputs, 16, 3, 1))
        for stage, filters in enumerate((16, 32, 64)):
            for block in range(n):
                x = basic_block(x, filters, 2 if stage > 0 and block == 0 else 1)
        x = layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x))
    return build


def resnet18(shape, classes):
    inputs = keras.Input(shape=shape)
    x = layers.ZeroPadding2D(3)(inputs)
    x = layers.Activation("relu")(conv_bn(x, 64, 7, 2, padding="valid"))
    x = layers.MaxPooling2D(3, 2)(layers.ZeroPadding2D(1)(x))
    for stage, filters in enumerate((64, 128, 256, 512)):
        for block in range(2):
            x = basic_block(x, filters, 2 if stage > 0 and block == 0 else 1)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x))


REFERENCES = {"mlp": mlp, "lenet": lenet, "cnn": cnn, "digits-cnn": digits_cnn, "cifar10-quick": cifar10_quick,
              "resnet20": cifar_resnet(20), "resnet56": cifar_resnet(56), "resnet18": resnet18}


# --- Comparison ------------------------------------------------------------------------------------------

def layer_signature(model):
    """Counter of (class name, output shape, parameters) over the layers, InputLayer left out."""
    return collections.Counter(
        (layer.__class__.__name__, tuple(layer.output.shape), layer.count_params())
        for layer in model.layers if not isinstance(layer, layers.InputLayer))


def trainable_count(model):
    return sum(int(weight.numpy().size) for weight in model.trainable_weights)


def lrt_json(binary, name, shape, classes):
    command = [binary, "models", name, "--input", ",".join(map(str, shape)), "--classes", str(classes)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"architecture_check.py: `{' '.join(command)}` failed: {result.stderr.strip()}")
    return result.stdout


def check(binary, name, shape, classes):
    """(lrt model, reference model, list of differences)."""
    text = lrt_json(binary, name, shape, classes)
    config = json.loads(text)
    names = [layer["config"].get("name") for layer in config["config"]["layers"]]
    problems = []
    if config["class_name"] == "Functional":
        if len(set(names)) != len(names):
            problems.append("layer names repeat")
        if any("." in name or "/" in name for name in names):
            problems.append("a layer name has '.' or '/'")
    if "module" not in config:
        # lrt writes Sequential configs as its samples are, Keras-2 style without "module" keys (as Keras's
        # legacy .h5 model_config); Keras 3's model_from_json locates the class only with it.
        text = json.dumps(dict(module="keras", **config))
    ours = keras.models.model_from_json(text)
    reference = REFERENCES[name](shape, classes)
    if ours.count_params() != reference.count_params():
        problems.append(f"parameters {ours.count_params():,} != reference {reference.count_params():,}")
    if trainable_count(ours) != trainable_count(reference):
        problems.append(f"trainable {trainable_count(ours):,} != reference {trainable_count(reference):,}")
    if tuple(ours.outputs[0].shape) != tuple(reference.outputs[0].shape):
        problems.append(f"output {tuple(ours.outputs[0].shape)} != reference {tuple(reference.outputs[0].shape)}")
    ours_layers, reference_layers = layer_signature(ours), layer_signature(reference)
    if ours_layers != reference_layers:
        problems.append(f"layers differ: lrt only {dict(ours_layers - reference_layers)}, "
                        f"reference only {dict(reference_layers - ours_layers)}")
    return ours, reference, problems


def write_fixture(rows):
    lines = [
        "// Generated by Tools/architecture_check.py from Keras " + keras.__version__ + " on "
        + keras.backend.backend() + "; do not edit.",
        "// Parameter counts of the Keras reference networks (count_params: BatchNormalization's moving",
        "// statistics included) and their layer counts (InputLayer included), per case.",
        "",
        "/// What Keras reported for one built-in architecture at one input shape and class count.",
        "struct ArchitectureReferenceCase {",
        "    let name: String",
        "    let inputShape: [Int]",
        "    let classCount: Int",
        "    let parameters: Int",
        "    let trainableParameters: Int",
        "    let layerCount: Int",
        "}",
        "",
        "enum ArchitectureReference {",
        "    static let cases: [ArchitectureReferenceCase] = [",
    ]
    for name, shape, classes, parameters, trainable, layer_count in rows:
        lines.append(f"        ArchitectureReferenceCase(name: \"{name}\", inputShape: {shape}, classCount: {classes}, "
                     f"parameters: {parameters}, trainableParameters: {trainable}, layerCount: {layer_count}),")
    lines += ["    ]", "}", ""]
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    with open(FIXTURE, "w") as file:
        file.write("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lrt", default=os.path.join(ROOT, ".build", "debug", "lrt"), help="the lrt binary")
    parser.add_argument("--no-fixture", action="store_true", help="check only; do not rewrite the Swift fixture")
    arguments = parser.parse_args()
    if not os.access(arguments.lrt, os.X_OK):
        sys.exit(f"architecture_check.py: no lrt binary at {arguments.lrt}; run `swift build` or pass --lrt")
    print(f"Keras {keras.__version__} on {keras.backend.backend()}; lrt {arguments.lrt}")
    print(f"{'architecture':14} {'input':>11} {'classes':>7} {'layers':>6} {'parameters':>12} {'trainable':>12}"
          f"  {'output':14} result")
    rows, failures = [], 0
    for name, shape, classes in CASES:
        ours, reference, problems = check(arguments.lrt, name, shape, classes)
        failures += bool(problems)
        layer_count = len(reference.layers) + (1 if isinstance(reference, keras.Sequential) else 0)
        rows.append((name, shape, classes, reference.count_params(), trainable_count(reference), layer_count))
        print(f"{name:14} {'x'.join(map(str, shape)):>11} {classes:>7} {layer_count:>6} {ours.count_params():>12,}"
              f" {trainable_count(ours):>12,}  {str(tuple(ours.outputs[0].shape)):14} "
              + ("matches the Keras reference" if not problems else "MISMATCH: " + "; ".join(problems)))
    if not arguments.no_fixture:
        write_fixture(rows)
        print(f"wrote {os.path.relpath(FIXTURE, ROOT)}")
    if failures:
        sys.exit(f"architecture_check.py: {failures} of {len(CASES)} cases differ from the Keras references")
    print(f"all {len(CASES)} cases match")


if __name__ == "__main__":
    main()
