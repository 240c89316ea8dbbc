#!/usr/bin/env python3
"""Reference outputs of the layers issue 9 adds, computed by real Keras 3, for Tests/LRTLayersTests.

Each case builds one Keras layer from its constructor, sets its weights to fixed values, runs it
on fixed inputs (batch 2) and records Keras's own `get_config()`, the weights by name, the inputs
and the output. The Swift test builds the layer from that config through lrt's registry, loads
the weights by name and checks the forward pass against the output, 1e-5 relative.

Usage (KERAS_BACKEND=jax is set here):
    python3 -m venv Tools/.venv && Tools/.venv/bin/pip install keras "jax[cpu]" numpy
    Tools/.venv/bin/python Tools/make_layer_fixtures.py
(rewrites Tests/LRTLayersTests/Fixtures/LayerReference.swift)
"""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

BATCH = 2
OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LRTLayersTests", "Fixtures",
                      "LayerReference.swift")


def values(count, seed, scale=1.0):
    """Deterministic float32 values in ±scale, not periodic over small counts."""
    index = np.arange(count, dtype=np.float64)
    return (scale * np.sin(1.37 * index + 0.61 * seed + 0.3) * np.cos(0.23 * index + seed)).astype(np.float32)


def layer_cases():
    L = keras.layers
    # (name, layer, per-example input shapes, input scale)
    return [
        ("depthwise_same_stride2_multiplier2_relu",
         L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, activation="relu", name="depthwise"),
         [(5, 6, 3)], 1.0),
        ("depthwise_valid_nonsquare_no_bias",
         L.DepthwiseConv2D((2, 3), padding="valid", use_bias=False, name="depthwise_1"), [(4, 5, 2)], 1.0),
        ("depthwise_same_even_kernel_stride1",
         L.DepthwiseConv2D(4, padding="same", name="depthwise_2"), [(5, 5, 8)], 1.0),
        ("separable_same_multiplier2_relu",
         L.SeparableConv2D(3, 3, padding="same", depth_multiplier=2, activation="relu", name="separable"), [(6, 5, 4)], 1.0),
        ("separable_valid_stride2_no_bias",
         L.SeparableConv2D(5, (3, 2), strides=2, use_bias=False, name="separable_1"), [(7, 6, 3)], 1.0),
        ("zero_padding_pairs", L.ZeroPadding2D(((1, 2), (0, 3)), name="padding"), [(3, 4, 2)], 1.0),
        ("zero_padding_int", L.ZeroPadding2D(1, name="padding_1"), [(2, 3, 1)], 1.0),
        ("concatenate_last", L.Concatenate(name="concatenate"), [(3, 4, 2), (3, 4, 5)], 1.0),
        ("concatenate_axis1", L.Concatenate(axis=1, name="concatenate_1"), [(2, 3), (4, 3), (1, 3)], 1.0),
        ("concatenate_axis_minus2", L.Concatenate(axis=-2, name="concatenate_2"), [(2, 3, 2), (2, 1, 2)], 1.0),
        ("global_max_pooling", L.GlobalMaxPooling2D(name="global_max"), [(4, 3, 5)], 1.0),
        ("global_max_pooling_keepdims", L.GlobalMaxPooling2D(keepdims=True, name="global_max_1"), [(3, 3, 2)], 1.0),
        ("reshape_minus_one", L.Reshape((4, -1), name="reshape"), [(2, 3, 4)], 1.0),
        ("reshape_flat", L.Reshape((6,), name="reshape_1"), [(3, 2)], 1.0),
        ("rescaling", L.Rescaling(1.0 / 255, offset=-0.5, name="rescaling"), [(2, 3, 2)], 255.0),
        ("relu6", L.ReLU(max_value=6.0, name="relu6"), [(3, 4)], 9.0),
        ("relu_all_options", L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.5, name="relu_all"), [(4, 5)], 3.0),
        ("relu_leaky", L.ReLU(negative_slope=0.2, name="relu_leaky"), [(6,)], 2.0),
        ("relu_threshold_only", L.ReLU(threshold=0.7, name="relu_threshold"), [(6,)], 2.0),
        ("add", L.Add(name="add"), [(2, 3), (2, 3), (2, 3)], 1.0),
        ("subtract", L.Subtract(name="subtract"), [(4,), (4,)], 1.0),
        ("multiply", L.Multiply(name="multiply"), [(3, 2), (3, 2)], 1.0),
        ("average", L.Average(name="average"), [(5,), (5,), (5,)], 1.0),
        ("maximum", L.Maximum(name="maximum"), [(2, 2), (2, 2)], 1.0),
        ("minimum", L.Minimum(name="minimum"), [(2, 2), (2, 2)], 1.0),
    ]


def swift_floats(array):
    return "[" + ", ".join(repr(float(value)) for value in np.asarray(array, dtype=np.float32).ravel()) + "]"


def swift_ints(shape):
    return "[" + ", ".join(str(int(size)) for size in shape) + "]"


def main():
    cases = []
    for case, (name, layer, shapes, scale) in enumerate(layer_cases()):
        inputs = [values(BATCH * int(np.prod(shape)), seed=10 * case + index, scale=scale).reshape((BATCH,) + shape)
                  for index, shape in enumerate(shapes)]
        layer_input = inputs if len(inputs) > 1 else inputs[0]
        layer(layer_input)  # builds the weights
        weights = []
        for index, weight in enumerate(layer.weights):
            shape = tuple(weight.shape)
            value = values(int(np.prod(shape)), seed=100 + 7 * case + index, scale=0.6).reshape(shape)
            weight.assign(value)
            weights.append((weight.name, shape, value))
        output = np.asarray(layer(layer_input))
        config = json.dumps(layer.get_config())
        cases.append((name, type(layer).__name__, config, shapes, inputs, weights, output))

    lines = [
        "// Generated by Tools/make_layer_fixtures.py — do not edit; rerun the script instead.",
        f"// Forward passes of real Keras {keras.__version__} (backend {keras.backend.backend()}), batch {BATCH}.",
        "",
        "/// One layer as Keras built and ran it.",
        "struct KerasLayerCase {",
        "    let name: String",
        "    let className: String",
        "    /// What Keras's `get_config()` returned.",
        "    let config: String",
        "    /// One example's shape for each input.",
        "    let inputShapes: [[Int]]",
        "    /// `[batch, …inputShapes[i]]` each, row-major.",
        "    let inputs: [[Float]]",
        "    /// The weights by Keras name, in Keras's order.",
        "    let weights: [(name: String, shape: [Int], values: [Float])]",
        "    /// `[batch, …]`, the output shape with the batch axis.",
        "    let outputShape: [Int]",
        "    let output: [Float]",
        "}",
        "",
        "enum LayerReference {",
        f"    static let kerasVersion = \"{keras.__version__}\"",
        "    static let cases: [KerasLayerCase] = [",
    ]
    for name, class_name, config, shapes, inputs, weights, output in cases:
        weight_text = ", ".join(f"(name: \"{weight_name}\", shape: {swift_ints(shape)}, values: {swift_floats(value)})"
                                for weight_name, shape, value in weights)
        lines += [
            f"        KerasLayerCase(name: \"{name}\", className: \"{class_name}\",",
            f"            config: #\"{config}\"#,",
            f"            inputShapes: [{', '.join(swift_ints(shape) for shape in shapes)}],",
            f"            inputs: [{', '.join(swift_floats(array) for array in inputs)}],",
            f"            weights: [{weight_text}],",
            f"            outputShape: {swift_ints(output.shape)},",
            f"            output: {swift_floats(output)}),",
        ]
    lines += ["    ]", "}", ""]
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w") as file:
        file.write("\n".join(lines))
    print(f"wrote {len(cases)} cases to {os.path.relpath(OUTPUT)}")


if __name__ == "__main__":
    main()
