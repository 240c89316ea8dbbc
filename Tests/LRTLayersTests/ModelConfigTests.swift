import XCTest
import LRTTensor
@testable import LRTLayers

final class ModelConfigTests: XCTestCase {
    private func build(_ text: String) throws -> any Model {
        var generator = SeededGenerator(seed: 1)
        return try ModelConfig.build(text: text, generator: &generator)
    }

    private func assertError(_ text: String, mentions fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try build(text), file: file, line: line) { error in
            let message = "\(error)"
            for fragment in fragments { XCTAssert(message.contains(fragment), "'\(message)' lacks '\(fragment)'", file: file, line: line) }
        }
    }

    func testShortSpecTakesKerasDefaultsAndNames() throws {
        let model = try build("""
            {"class_name": "Sequential", "config": {"name": "mlp", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1]}},
              {"class_name": "Flatten", "config": {}},
              {"class_name": "Dense", "config": {"units": 64, "activation": "relu"}},
              {"class_name": "ReLU"},
              {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}]}}
            """)
        XCTAssertEqual(model.name, "mlp")
        XCTAssertEqual(model.inputShape, [8, 8, 1])
        XCTAssertEqual(model.layers.map(\.name), ["flatten", "dense", "re_lu", "dense_1"])
        XCTAssertEqual(model.parameters.map(\.path), ["dense.kernel", "dense.bias", "dense_1.kernel", "dense_1.bias"])
        XCTAssertEqual(model.parameters.map(\.value.shape), [[64, 64], [64], [64, 10], [10]])
        XCTAssertEqual(model.parameterCount, 64 * 64 + 64 + 64 * 10 + 10)
        XCTAssertTrue(model.outputsProbabilities)
        XCTAssertEqual(model.parameterGroups.map(\.layerName), ["dense", "dense_1"])
        // Glorot uniform bounds for the first kernel: ±√(6 / (64 + 64)).
        let limit = Float((6.0 / 128).squareRoot())
        XCTAssert(model.parameters[0].value.storage.allSatisfy { abs($0) <= limit })
        XCTAssert(model.parameters[1].value.storage.allSatisfy { $0 == 0 })
    }

    /// The config lrt writes builds the same model again, and Keras's own file config builds too.
    func testConfigRoundTripsAndKerasConfigBuilds() throws {
        let model = try build("""
            {"class_name": "Sequential", "config": {"layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 4]}},
              {"class_name": "Dense", "config": {"units": 3, "use_bias": false, "kernel_initializer": "he_uniform"}}]}}
            """)
        let rebuilt = try build(model.config.serialized)
        XCTAssertEqual(rebuilt.config, model.config)
        XCTAssertEqual(rebuilt.name, "sequential")
        XCTAssertEqual(rebuilt.parameters.map(\.path), ["dense.kernel"])

        let keras = """
            {"class_name": "Sequential", "config": {"name": "mlp", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 784], "dtype": "float32", "sparse": false, "ragged": false, "name": "input_layer", "optional": false}}, {"class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "units": 512, "activation": "relu", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null, "input_axes": null, "output_axes": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": null, "quantization_config": null}}], "build_input_shape": [null, 784]}}
            """
        let kerasModel = try build(keras)
        XCTAssertEqual(kerasModel.parameters.map(\.value.shape), [[784, 512], [512]])
    }

    func testBadSpecsNameTheProblem() {
        assertError("{\"class_name\": \"Functional\"}", mentions: ["Functional", "layers"])
        assertError("{\"class_name\": \"Subclassed\"}", mentions: ["Subclassed", "Sequential", "Functional"])
        assertError("not json", mentions: ["not valid JSON"])
        assertError("""
            {"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 4]}}, {"class_name": "Conv3D", "config": {"name": "c"}}]}}
            """, mentions: ["Conv3D", "'c'"])
        assertError("""
            {"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"units": 3}}]}}
            """, mentions: ["no input shape"])
        assertError("""
            {"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 4]}}, {"class_name": "Dense", "config": {"units": 3, "activation": "gelu"}}]}}
            """, mentions: ["gelu", "'dense'"])
        assertError("""
            {"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 4]}}, {"class_name": "Dense", "config": {"units": 0}}]}}
            """, mentions: ["units", "0"])
        assertError("""
            {"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 4]}}, {"class_name": "Dense", "config": {"units": 2, "kernel_regularizer": "l2"}}]}}
            """, mentions: ["kernel_regularizer"])
        assertError("""
            {"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 4]}}, {"class_name": "Dense", "config": {"units": 2, "colour": 1}}]}}
            """, mentions: ["colour"])
        assertError("""
            {"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 2, 2]}}, {"class_name": "Dense", "config": {"units": 2}}]}}
            """, mentions: ["Flatten"])
        assertError("""
            {"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 4]}}, {"class_name": "Dense", "config": {"name": "a", "units": 2}}, {"class_name": "Dense", "config": {"name": "a", "units": 2}}]}}
            """, mentions: ["'a'", "unique"])
    }

    /// A short spec can ask for terabytes: it is refused before anything is allocated.
    func testOversizedModelsAreRefusedBeforeAllocation() {
        assertError("""
            {"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 65536]}}, {"class_name": "Dense", "config": {"units": 1048576}}]}}
            """, mentions: ["'dense'", "65536 × 1048576"])
        assertError("""
            {"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 64, 64, 1024]}}, {"class_name": "Conv2D", "config": {"filters": 65536, "kernel_size": 9}}]}}
            """, mentions: ["'conv2d'", "9 × 9 × 1024 × 65536"])
        assertError("""
            {"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 4096, 4096, 1]}}, {"class_name": "Conv2D", "config": {"filters": 64, "kernel_size": 1}}]}}
            """, mentions: ["'conv2d'", "per example"])
    }

    func testKerasSnakeCaseNames() {
        XCTAssertEqual(LayerNamer.snakeCase("Dense"), "dense")
        XCTAssertEqual(LayerNamer.snakeCase("ReLU"), "re_lu")
        XCTAssertEqual(LayerNamer.snakeCase("MaxPooling2D"), "max_pooling2d")
        XCTAssertEqual(LayerNamer.snakeCase("BatchNormalization"), "batch_normalization")
        XCTAssertEqual(LayerNamer.snakeCase("GlobalAveragePooling2D"), "global_average_pooling2d")
    }

    func testJSONParsesAndSerializesInOrder() throws {
        let text = #"{"b": [1, 2.5, -3e2], "a": {"x": null, "y": true}, "s": "q\"\u00e9\n"}"#
        let value = try JSONValue.parse(text)
        XCTAssertEqual(value.keys, ["b", "a", "s"])
        XCTAssertEqual(value["s"]?.stringValue, "q\"é\n")
        XCTAssertEqual(try JSONValue.parse(value.serialized), value)
        XCTAssertThrowsError(try JSONValue.parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)))
        XCTAssertThrowsError(try JSONValue.parse("{\"a\": 1,}"))
    }
}
