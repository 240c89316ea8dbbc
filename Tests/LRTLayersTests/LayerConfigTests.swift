import XCTest
import LRTTensor
@testable import LRTLayers

/// Building the image layers from short specs and from the configs Keras writes, and refusing what they cannot honour.
final class LayerConfigTests: XCTestCase {
    private func build(_ layers: String, input: String = "[null, 28, 28, 1]") throws -> any Model {
        var generator = SeededGenerator(seed: 1)
        return try ModelConfig.build(text: """
            {"class_name": "Sequential", "config": {"name": "net", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": \(input)}}, \(layers)]}}
            """, generator: &generator)
    }

    private func assertError(_ layers: String, input: String = "[null, 28, 28, 1]", mentions fragments: [String],
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try build(layers, input: input), file: file, line: line) { error in
            let message = "\(error)"
            for fragment in fragments { XCTAssert(message.contains(fragment), "'\(message)' lacks '\(fragment)'", file: file, line: line) }
        }
    }

    func testShortSpecsTakeKerasDefaults() throws {
        let model = try build("""
            {"class_name": "Conv2D", "config": {"filters": 6, "kernel_size": 5, "padding": "same", "activation": "relu"}},
            {"class_name": "MaxPooling2D"},
            {"class_name": "Conv2D", "config": {"filters": 16, "kernel_size": [5, 3], "strides": [1, 2]}},
            {"class_name": "BatchNormalization"},
            {"class_name": "LeakyReLU"},
            {"class_name": "AveragePooling2D", "config": {"pool_size": 3, "strides": 2, "padding": "same"}},
            {"class_name": "Dropout", "config": {"rate": 0.25}},
            {"class_name": "GlobalAveragePooling2D"},
            {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}
            """)
        XCTAssertEqual(model.layers.map(\.name), ["conv2d", "max_pooling2d", "conv2d_1", "batch_normalization", "leaky_re_lu",
                                                  "average_pooling2d", "dropout", "global_average_pooling2d", "dense"])
        XCTAssertEqual(model.layers.map(\.outputShape), [[28, 28, 6], [14, 14, 6], [10, 6, 16], [10, 6, 16], [10, 6, 16],
                                                         [5, 3, 16], [5, 3, 16], [16], [10]])
        XCTAssertEqual(model.parameters.map(\.path), ["conv2d.kernel", "conv2d.bias", "conv2d_1.kernel", "conv2d_1.bias",
                                                      "batch_normalization.gamma", "batch_normalization.beta",
                                                      "dense.kernel", "dense.bias"])
        XCTAssertEqual(model.weights.map(\.path), ["conv2d.kernel", "conv2d.bias", "conv2d_1.kernel", "conv2d_1.bias",
                                                   "batch_normalization.gamma", "batch_normalization.beta",
                                                   "batch_normalization.moving_mean", "batch_normalization.moving_variance",
                                                   "dense.kernel", "dense.bias"])
        XCTAssertEqual(model.parameters.map(\.value.shape), [[5, 5, 1, 6], [6], [5, 3, 6, 16], [16], [16], [16], [16, 10], [10]])
        XCTAssertFalse(model.weights[6].trainable)
        // The paper's rule: one rate per layer with parameters; BatchNormalization counts once.
        XCTAssertEqual(model.parameterGroups.map(\.layerName), ["conv2d", "conv2d_1", "batch_normalization", "dense"])
        let convolution = try XCTUnwrap(model.layers[2] as? Conv2D)
        XCTAssertEqual(convolution.geometry.strideWidth, 2)
        XCTAssertEqual((model.layers[4] as? ActivationLayer)?.activation, .leakyRelu(negativeSlope: 0.3))
        XCTAssertEqual((model.layers[6] as? Dropout)?.rate, 0.25)
        let normalization = try XCTUnwrap(model.layers[3] as? BatchNormalization)
        XCTAssertEqual(normalization.momentum, 0.99)
        XCTAssertEqual(normalization.epsilon, 1e-3)
        XCTAssert(normalization.gamma!.value.storage.allSatisfy { $0 == 1 })
        XCTAssert(normalization.movingVariance.value.storage.allSatisfy { $0 == 1 })
        XCTAssert(normalization.movingMean.value.storage.allSatisfy { $0 == 0 })
        // Glorot uniform with Keras's fans for a kernel: ±√(6 / (5·5·1 + 5·5·6)).
        let limit = Float((6.0 / (25 + 150)).squareRoot())
        let kernel = model.parameters[0].value.storage
        XCTAssert(kernel.allSatisfy { abs($0) <= limit })
        XCTAssertGreaterThan(kernel.map(abs).max()!, limit * 0.9)
        // The first trainable layer has nobody to pass an input gradient to.
        XCTAssertFalse((model.layers[0] as! Conv2D).computesInputGradient)
        XCTAssertTrue(convolution.computesInputGradient)
    }

    func testActivationOptionsAndLayers() throws {
        let model = try build("""
            {"class_name": "Flatten"},
            {"class_name": "Dense", "config": {"units": 4, "activation": "sigmoid"}},
            {"class_name": "Dense", "config": {"units": 4, "activation": "tanh"}},
            {"class_name": "Dense", "config": {"units": 4, "activation": "elu"}},
            {"class_name": "Dense", "config": {"units": 4, "activation": "leaky_relu"}},
            {"class_name": "ReLU", "config": {"negative_slope": 0.1}},
            {"class_name": "LeakyReLU", "config": {"alpha": 0.2}},
            {"class_name": "Activation", "config": {"activation": "elu"}}
            """, input: "[null, 3]")
        XCTAssertEqual(model.layers.compactMap { ($0 as? Dense)?.activation },
                       [.sigmoid, .tanh, .elu, .leakyRelu(negativeSlope: 0.2)])
        XCTAssertEqual(model.layers.compactMap { ($0 as? ActivationLayer)?.activation }, [.leakyRelu(negativeSlope: 0.2), .elu])
        XCTAssertEqual((model.layers[5] as? ReLU)?.negativeSlope, 0.1, "ReLU is its own class, with every Keras option")
        XCTAssertEqual(model.layers[6].config["negative_slope"], .number(0.2), "written as read, not as 0.20000000298")
    }

    /// The configs Keras 3 writes (`model.to_json()`), with every key, build the same layers.
    func testKeras3ConfigsBuild() throws {
        let dtype = #"{"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}"#
        func initializer(_ name: String) -> String {
            #"{"module": "keras.initializers", "class_name": "\#(name)", "config": {}, "registered_name": null}"#
        }
        let model = try build("""
            {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "conv2d", "trainable": true, "dtype": \(dtype), "filters": 32, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "bias_initializer": \(initializer("Zeros")), "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}, "registered_name": null, "build_config": {"input_shape": [null, 28, 28, 1]}},
            {"module": "keras.layers", "class_name": "BatchNormalization", "config": {"name": "batch_normalization", "trainable": true, "dtype": \(dtype), "axis": -1, "momentum": 0.9, "epsilon": 0.001, "center": true, "scale": true, "beta_initializer": \(initializer("Zeros")), "gamma_initializer": \(initializer("Ones")), "moving_mean_initializer": \(initializer("Zeros")), "moving_variance_initializer": \(initializer("Ones")), "beta_regularizer": null, "gamma_regularizer": null, "beta_constraint": null, "gamma_constraint": null, "synchronized": false}},
            {"module": "keras.layers", "class_name": "MaxPooling2D", "config": {"name": "max_pooling2d", "trainable": true, "dtype": \(dtype), "pool_size": [2, 2], "padding": "valid", "strides": [2, 2], "data_format": "channels_last"}},
            {"module": "keras.layers", "class_name": "AveragePooling2D", "config": {"name": "average_pooling2d", "trainable": true, "dtype": \(dtype), "pool_size": [3, 3], "padding": "same", "strides": [2, 2], "data_format": "channels_last"}},
            {"module": "keras.layers", "class_name": "LeakyReLU", "config": {"name": "leaky_re_lu", "trainable": true, "dtype": \(dtype), "negative_slope": 0.1}},
            {"module": "keras.layers", "class_name": "Dropout", "config": {"name": "dropout", "trainable": true, "dtype": \(dtype), "rate": 0.5, "seed": null, "noise_shape": null}},
            {"module": "keras.layers", "class_name": "GlobalAveragePooling2D", "config": {"name": "global_average_pooling2d", "trainable": true, "dtype": \(dtype), "data_format": "channels_last", "keepdims": false}},
            {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": \(dtype), "units": 10, "activation": "softmax", "use_bias": true, "kernel_initializer": \(initializer("GlorotUniform")), "bias_initializer": \(initializer("Zeros")), "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": null}}
            """)
        XCTAssertEqual(model.layers.map(\.outputShape), [[26, 26, 32], [26, 26, 32], [13, 13, 32], [7, 7, 32], [7, 7, 32], [7, 7, 32], [32], [10]])
        XCTAssertEqual((model.layers[1] as? BatchNormalization)?.momentum, 0.9)
        XCTAssertEqual(model.layers[0].config["kernel_size"], .array([.number(3), .number(3)]))
    }

    /// Keras 2 (tf.keras) configs: `batch_input_shape` on the first layer, BatchNormalization's
    /// axis as a list and its extra options, LeakyReLU's `alpha`.
    func testKeras2ConfigsBuild() throws {
        var generator = SeededGenerator(seed: 1)
        let model = try ModelConfig.build(text: """
            {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
              {"class_name": "Conv2D", "config": {"name": "conv2d", "trainable": true, "batch_input_shape": [null, 8, 8, 1], "dtype": "float32", "filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "linear", "use_bias": true, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}}, "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}},
              {"class_name": "BatchNormalization", "config": {"name": "batch_normalization", "trainable": true, "dtype": "float32", "axis": [3], "momentum": 0.99, "epsilon": 0.001, "center": true, "scale": false, "beta_initializer": {"class_name": "Zeros", "config": {}}, "gamma_initializer": {"class_name": "Ones", "config": {}}, "moving_mean_initializer": {"class_name": "Zeros", "config": {}}, "moving_variance_initializer": {"class_name": "Ones", "config": {}}, "beta_regularizer": null, "gamma_regularizer": null, "beta_constraint": null, "gamma_constraint": null}},
              {"class_name": "LeakyReLU", "config": {"name": "leaky_re_lu", "trainable": true, "dtype": "float32", "alpha": 0.30000001192092896}},
              {"class_name": "Flatten", "config": {"name": "flatten", "trainable": true, "dtype": "float32", "data_format": "channels_last"}},
              {"class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": "float32", "units": 10, "activation": "softmax", "use_bias": true, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}}, "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}}]}}
            """, generator: &generator)
        XCTAssertEqual(model.inputShape, [8, 8, 1])
        XCTAssertEqual(model.weights.map(\.path), ["conv2d.kernel", "conv2d.bias", "batch_normalization.beta",
                                                   "batch_normalization.moving_mean", "batch_normalization.moving_variance",
                                                   "dense.kernel", "dense.bias"])
        XCTAssertEqual((model.layers[2] as? ActivationLayer)?.activation, .leakyRelu(negativeSlope: 0.3))
    }

    /// What lrt writes for every new layer builds the same model again.
    func testImageLayerConfigsRoundTrip() throws {
        let model = try build("""
            {"class_name": "Conv2D", "config": {"filters": 3, "kernel_size": [3, 2], "strides": 2, "padding": "same", "use_bias": false, "kernel_initializer": "he_uniform", "activation": "elu"}},
            {"class_name": "BatchNormalization", "config": {"momentum": 0.9, "epsilon": 0.01, "center": false}},
            {"class_name": "ReLU"},
            {"class_name": "ReLU", "config": {"negative_slope": 0.05}},
            {"class_name": "LeakyReLU", "config": {"negative_slope": 0.25}},
            {"class_name": "MaxPooling2D", "config": {"pool_size": [3, 3], "strides": [2, 1], "padding": "same"}},
            {"class_name": "AveragePooling2D", "config": {"pool_size": 2}},
            {"class_name": "Dropout", "config": {"rate": 0.5}},
            {"class_name": "GlobalAveragePooling2D"},
            {"class_name": "Dense", "config": {"units": 4, "activation": "tanh"}}
            """)
        var generator = SeededGenerator(seed: 2)
        let rebuilt = try ModelConfig.build(text: model.config.serialized, generator: &generator)
        XCTAssertEqual(rebuilt.config, model.config)
        XCTAssertEqual(rebuilt.layers.map(\.outputShape), model.layers.map(\.outputShape))
        XCTAssertEqual(rebuilt.weights.map(\.path), model.weights.map(\.path))
    }

    func testBadImageLayerOptionsNameTheProblem() {
        let conv = #"{"class_name": "Conv2D", "config": {"name": "c", "filters": 4, "kernel_size": 3"#
        assertError(conv + #", "dilation_rate": 2}}"#, mentions: ["'c'", "dilation_rate"])
        assertError(conv + #", "groups": 2}}"#, mentions: ["'c'", "groups 2"])
        assertError(conv + #", "data_format": "channels_first"}}"#, mentions: ["'c'", "channels_first"])
        assertError(conv + #", "padding": "full"}}"#, mentions: ["'c'", "full", "same"])
        assertError(conv + #", "kernel_regularizer": "l2"}}"#, mentions: ["'c'", "kernel_regularizer"])
        assertError(conv + #", "strides": [1, 2, 3]}}"#, mentions: ["'c'", "strides", "[1, 2, 3]"])
        assertError(conv + #", "strides": 0}}"#, mentions: ["'c'", "strides", "0"])
        assertError(conv + #", "activation": "gelu"}}"#, mentions: ["'c'", "gelu"])
        assertError(conv + #", "colour": 1}}"#, mentions: ["'c'", "colour"])
        assertError(#"{"class_name": "Conv2D", "config": {"name": "c", "kernel_size": 3}}"#, mentions: ["'c'", "filters"])
        assertError(#"{"class_name": "Conv2D", "config": {"name": "c", "filters": 4, "kernel_size": 5}}"#,
                    input: "[null, 3, 8, 1]", mentions: ["'c'", "kernel_size", "3×8", "same"])
        assertError(conv + "}}", input: "[null, 784]", mentions: ["'c'", "[784]", "height, width, channels"])
        assertError(#"{"class_name": "MaxPooling2D", "config": {"name": "p", "pool_size": [2, 0]}}"#, mentions: ["'p'", "pool_size"])
        assertError(#"{"class_name": "AveragePooling2D", "config": {"name": "p", "pool_size": 40}}"#, mentions: ["'p'", "pool_size", "28×28"])
        assertError(#"{"class_name": "GlobalAveragePooling2D", "config": {"name": "g", "keepdims": true}}"#, mentions: ["'g'", "keepdims"])
        assertError(#"{"class_name": "BatchNormalization", "config": {"name": "b", "axis": 1}}"#, mentions: ["'b'", "axis", "1"])
        assertError(#"{"class_name": "BatchNormalization", "config": {"name": "b", "momentum": 1.5}}"#, mentions: ["'b'", "momentum", "1.5"])
        assertError(#"{"class_name": "BatchNormalization", "config": {"name": "b", "renorm": true}}"#, mentions: ["'b'", "renorm"])
        assertError(#"{"class_name": "Dropout", "config": {"name": "d", "rate": 1}}"#, mentions: ["'d'", "rate", "1"])
        assertError(#"{"class_name": "Dropout", "config": {"name": "d"}}"#, mentions: ["'d'", "rate"])
        assertError(#"{"class_name": "Dropout", "config": {"name": "d", "rate": 0.5, "noise_shape": [null, 1, 1, 1]}}"#,
                    mentions: ["'d'", "noise_shape"])
        assertError(#"{"class_name": "LeakyReLU", "config": {"name": "l", "negative_slope": -1}}"#, mentions: ["'l'", "negative_slope", "-1"])
        assertError(#"{"class_name": "LeakyReLU", "config": {"name": "l", "negative_slope": 0.1, "alpha": 0.1}}"#, mentions: ["'l'", "alpha"])
        assertError(#"{"class_name": "ReLU", "config": {"name": "r", "max_value": -6}}"#, mentions: ["'r'", "max_value", "-6"])
    }

    /// The sample models build, with the shapes their descriptions promise.
    func testSampleModelsBuild() throws {
        let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Samples/models").standardized
        let expected: [(file: String, input: [Int], parameters: Int)] = [
            ("lenet-mnist.json", [28, 28, 1], 156 + 2_416 + 48_120 + 10_164 + 850),
            ("cnn-mnist.json", [28, 28, 1], 320 + 18_496 + 204_928 + 1_290),
            ("cifar10-quick.json", [32, 32, 3], 2_432 + 25_632 + 51_264 + 65_600 + 650),
            ("digits-cnn.json", [8, 8, 1], -1),
        ]
        for (file, input, parameters) in expected {
            var generator = SeededGenerator(seed: 1)
            let text = try String(contentsOf: models.appendingPathComponent(file), encoding: .utf8)
            let model = try ModelConfig.build(text: text, generator: &generator)
            XCTAssertEqual(model.inputShape, input, file)
            XCTAssertEqual(model.outputShape, [10], file)
            XCTAssertTrue(model.outputsProbabilities, file)
            if parameters >= 0 { XCTAssertEqual(model.parameterCount, parameters, file) }
        }
    }
}
