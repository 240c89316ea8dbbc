import XCTest
import LRTTensor
@testable import LRTLayers

/// A merge layer for the graph tests, independent of the library's own: the sum of its inputs.
private final class SumOfInputs: MergeLayer {
    let name: String
    let className = "SumOfInputs"
    let inputShapes: [[Int]]
    var parameters: [Parameter] { [] }
    var outputShape: [Int] { inputShapes[0] }
    var config: JSONValue { .object([("name", .string(name))]) }

    init(name: String, inputShapes: [[Int]]) {
        self.name = name
        self.inputShapes = inputShapes
    }

    func forward(_ inputs: [Tensor], context: inout ForwardContext) -> Tensor {
        var sum = inputs[0]
        for input in inputs.dropFirst() {
            for index in 0..<sum.count { sum.storage[index] += input.storage[index] }
        }
        return sum
    }

    func backward(_ outputGradient: Tensor) -> [Tensor] { Array(repeating: outputGradient, count: inputShapes.count) }
}

/// ``Functional``: graphs with fan-out and merges against finite differences, accumulation of
/// gradients, and Keras 3 / Keras 2 Functional configs.
final class FunctionalTests: XCTestCase {
    private func dense(_ name: String, _ inputs: Int, _ units: Int, _ activation: Activation, seed: UInt64) -> Dense {
        var generator = SeededGenerator(seed: seed)
        return Dense(name: name, inputUnits: inputs, units: units, activation: activation,
                     kernel: Initializer.glorotUniform.make(shape: [inputs, units], generator: &generator),
                     bias: Initializer.randomUniform(minimum: -0.5, maximum: 0.5).make(shape: [units], generator: &generator))
    }

    /// input → a → (b, c, and a itself) → sum → output: `a`'s output is consumed three times, so its
    /// gradient is the sum of three; every parameter's gradient matches finite differences.
    private func branchingModel(backend: KernelBackend) -> Functional {
        let layers = [dense("a", 5, 4, .tanh, seed: 1), dense("b", 4, 4, .tanh, seed: 2),
                      dense("c", 4, 4, .linear, seed: 3), dense("output", 4, 3, .softmax, seed: 4)]
        layers.forEach { $0.backend = backend }
        let sum = SumOfInputs(name: "sum", inputShapes: [[4], [4], [4]])
        return Functional(name: "branches", inputShape: [5], nodes: [
            .init(layer: layers[0], inputs: [0]),
            .init(layer: layers[1], inputs: [1]),
            .init(layer: layers[2], inputs: [1]),
            .init(layer: sum, inputs: [1, 2, 3]),
            .init(layer: layers[3], inputs: [4]),
        ])
    }

    func testGradientsThroughFanOutAndMergeMatchFiniteDifferences() {
        for backend in KernelBackend.allCases {
            let model = branchingModel(backend: backend)
            XCTAssertTrue(model.outputsProbabilities)
            var generator = SeededGenerator(seed: 7)
            var input = Tensor(shape: [3, 5])
            for index in 0..<input.count { input.storage[index] = generator.nextFloat(in: -1, 1) }
            assertModelGradientsMatchFiniteDifferences(model, input: input, labels: [0, 2, 1], relative: 1e-2, label: "\(backend)")
            // The first layer receives a gradient through all three paths (a zero one would pass above only by accident).
            XCTAssertGreaterThan(model.parameters[0].gradient.sumOfSquares, 0)
        }
    }

    /// `backward` adds into the gradients; `zeroGradients` starts over. Two backward passes give
    /// twice one, for each layer kind with parameters and both kernel backends.
    func testBackwardAccumulatesAndZeroGradientsStartsOver() {
        for backend in KernelBackend.allCases {
            let model = branchingModel(backend: backend)
            var generator = SeededGenerator(seed: 8)
            var input = Tensor(shape: [4, 5])
            for index in 0..<input.count { input.storage[index] = generator.nextFloat(in: -1, 1) }
            var training = ForwardContext(training: true)
            let gradient = SoftmaxCrossEntropy.evaluate(logits: model.forward(input, context: &training), labels: [0, 1, 2, 0][...]).gradient
            model.zeroGradients()
            model.backward(gradient)
            let once = model.parameters.map(\.gradient)
            _ = model.forward(input, context: &training)  // each backward follows its own forward
            model.backward(gradient)
            for (parameter, single) in zip(model.parameters, once) {
                for index in 0..<single.count {
                    XCTAssertEqual(parameter.gradient.storage[index], 2 * single.storage[index],
                                   accuracy: 1e-6 + 1e-5 * abs(single.storage[index]), "\(backend) \(parameter.path)")
                }
            }
            model.zeroGradients()
            XCTAssertTrue(model.parameters.allSatisfy { $0.gradient.storage.allSatisfy { $0 == 0 } })
            _ = model.forward(input, context: &training)
            model.backward(gradient)
            XCTAssertEqual(model.parameters.map(\.gradient), once)
        }
    }

    func testConvolutionAndBatchNormalizationAccumulate() {
        for backend in KernelBackend.allCases {
            var generator = SeededGenerator(seed: 9)
            let convolution = Conv2D(name: "conv", inputShape: [6, 6, 3], filters: 4, kernelSize: (3, 3), padding: .same,
                                     activation: .relu, kernel: Initializer.glorotUniform.make(shape: [3, 3, 3, 4], generator: &generator),
                                     bias: Tensor(shape: [4], repeating: 0.1))
            convolution.backend = backend
            let normalization = BatchNormalization(name: "bn", inputShape: [6, 6, 4], gamma: Tensor(shape: [4], repeating: 1.5),
                                                   beta: Tensor(shape: [4]), movingMean: Tensor(shape: [4]),
                                                   movingVariance: Tensor(shape: [4], repeating: 1))
            for layer in [convolution, normalization] as [Layer] {
                let inputShape = layer === convolution ? [6, 6, 3] : [6, 6, 4]
                var input = Tensor(shape: [5] + inputShape)
                for index in 0..<input.count { input.storage[index] = generator.nextFloat(in: -1, 1) }
                var context = ForwardContext(training: true)
                let output = layer.forward(input, context: &context)
                var outputGradient = Tensor(shape: output.shape)
                for index in 0..<outputGradient.count { outputGradient.storage[index] = generator.nextFloat(in: -1, 1) }
                layer.parameters.forEach { $0.zeroGradient() }
                _ = layer.backward(outputGradient)
                let once = layer.parameters.map(\.gradient)
                _ = layer.forward(input, context: &context)
                _ = layer.backward(outputGradient)
                for (parameter, single) in zip(layer.parameters, once) {
                    XCTAssertGreaterThan(single.sumOfSquares, 0, parameter.path)
                    for index in 0..<single.count {
                        XCTAssertEqual(parameter.gradient.storage[index], 2 * single.storage[index],
                                       accuracy: 1e-4 + 1e-4 * abs(single.storage[index]), "\(backend) \(parameter.path)")
                    }
                }
            }
        }
    }

    /// A chain written as a Keras 3 Functional config computes what the same layers in a
    /// Sequential model compute, and its config reads back to the same config.
    func testKeras3FunctionalChainMatchesSequentialAndRoundTrips() throws {
        let functionalText = """
            {"class_name": "Functional", "config": {"name": "chain", "trainable": true, "layers": [
              {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 4, 4, 1], "dtype": "float32", "sparse": false, "name": "pixels"}, "registered_name": null, "name": "pixels", "inbound_nodes": []},
              {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "flatten", "trainable": true, "dtype": "float32", "data_format": "channels_last"}, "registered_name": null, "build_config": {"input_shape": [null, 4, 4, 1]}, "name": "flatten", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4, 4, 1], "dtype": "float32", "keras_history": ["pixels", 0, 0]}}], "kwargs": {}}]},
              {"module": "keras.layers", "class_name": "Dense", "config": {"name": "hidden", "units": 6, "activation": "relu"}, "name": "hidden", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 16], "dtype": "float32", "keras_history": ["flatten", 0, 0]}}], "kwargs": {}}]},
              {"module": "keras.layers", "class_name": "Dense", "config": {"name": "scores", "units": 3, "activation": "softmax"}, "name": "scores", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 6], "dtype": "float32", "keras_history": ["hidden", 0, 0]}}], "kwargs": {}}]}
            ], "input_layers": [["pixels", 0, 0]], "output_layers": [["scores", 0, 0]]}}
            """
        var generator = SeededGenerator(seed: 3)
        let functional = try ModelConfig.build(text: functionalText, generator: &generator)
        XCTAssertTrue(functional is Functional)
        XCTAssertEqual(functional.layers.map(\.name), ["flatten", "hidden", "scores"])
        XCTAssertEqual(functional.weightScope, nil)
        generator = SeededGenerator(seed: 3)
        let sequential = try ModelConfig.build(text: """
            {"class_name": "Sequential", "config": {"name": "chain", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 4, 4, 1]}},
              {"class_name": "Flatten"}, {"class_name": "Dense", "config": {"name": "hidden", "units": 6, "activation": "relu"}},
              {"class_name": "Dense", "config": {"name": "scores", "units": 3, "activation": "softmax"}}]}}
            """, generator: &generator)
        XCTAssertEqual(functional.weights.map(\.value), sequential.weights.map(\.value))
        var input = Tensor(shape: [2, 4, 4, 1])
        for index in 0..<input.count { input.storage[index] = Float(index % 7) / 7 }
        XCTAssertEqual(functional.predict(input), sequential.predict(input))

        let written = functional.config
        XCTAssertEqual(written["config"]?["input_layers"], .array([.string("pixels"), .number(0), .number(0)]))
        generator = SeededGenerator(seed: 11)
        let reread = try ModelConfig.build(json: written, generator: &generator)
        XCTAssertEqual(reread.config.serialized, written.serialized)
    }

    /// Keras 2's node format (`[[["layer", 0, 0, {}]]]`), layers listed out of order.
    func testKeras2NodeFormatInAnyOrder() throws {
        var generator = SeededGenerator(seed: 1)
        let model = try ModelConfig.build(text: """
            {"class_name": "Model", "config": {"name": "model_1", "layers": [
              {"name": "out", "class_name": "Dense", "config": {"name": "out", "units": 2}, "inbound_nodes": [[["mid", 0, 0, {}]]]},
              {"name": "input_1", "class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "name": "input_1"}, "inbound_nodes": []},
              {"name": "mid", "class_name": "Dense", "config": {"name": "mid", "units": 5, "activation": "tanh"}, "inbound_nodes": [[["input_1", 0, 0, {}]]]}
            ], "input_layers": [["input_1", 0, 0]], "output_layers": [["out", 0, 0]]}}
            """, generator: &generator)
        XCTAssertEqual(model.layers.map(\.name), ["mid", "out"])
        XCTAssertEqual(model.outputShape, [2])
        XCTAssertEqual(model.parameterCount, 3 * 5 + 5 + 5 * 2 + 2)
    }

    func testFunctionalConfigErrorsNameTheProblem() {
        func assertError(_ layers: String, inputs: String = #"[["in", 0, 0]]"#, outputs: String = #"[["b", 0, 0]]"#,
                         mentions words: [String], line: UInt = #line) {
            let text = """
                {"class_name": "Functional", "config": {"layers": [
                  {"name": "in", "class_name": "InputLayer", "config": {"batch_shape": [null, 3]}, "inbound_nodes": []},
                  \(layers)], "input_layers": \(inputs), "output_layers": \(outputs)}}
                """
            var generator = SeededGenerator(seed: 0)
            XCTAssertThrowsError(try ModelConfig.build(text: text, generator: &generator), line: line) { error in
                let message = "\(error)"
                for word in words { XCTAssertTrue(message.contains(word), "'\(message)' lacks '\(word)'", line: line) }
            }
        }
        func call(_ name: String, _ sources: [String], kwargs: String = "{}") -> String {
            let tensors = sources.map { #"{"class_name": "__keras_tensor__", "config": {"keras_history": ["\#($0)", 0, 0]}}"# }
            let argument = tensors.count == 1 ? tensors[0] : "[\(tensors.joined(separator: ", "))]"
            return #"{"name": "\#(name)", "class_name": "Dense", "config": {"units": 3}, "inbound_nodes": [{"args": [\#(argument)], "kwargs": \#(kwargs)}]}"#
        }
        assertError(call("b", ["missing"]), mentions: ["'b'", "'missing'", "does not define"])
        assertError(call("a", ["b"]) + ", " + call("b", ["a"]), mentions: ["cycles"])
        assertError(call("b", ["in"]) + ", " + #"{"name": "c", "class_name": "Dense", "config": {"units": 3}, "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["b", 1, 0]}}], "kwargs": {}}]}"#,
                    outputs: #"[["c", 0, 0]]"#, mentions: ["call 2", "'b'", "shared weights"])
        assertError(#"{"name": "b", "class_name": "Dense", "config": {"units": 3}, "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["in", 0, 0]}}], "kwargs": {}}, {"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["in", 0, 0]}}], "kwargs": {}}]}"#,
                    mentions: ["'b'", "called 2 times", "shared weights"])
        assertError(call("b", ["in"]), outputs: #"[["b", 0, 0], ["in", 0, 0]]"#, mentions: ["2 outputs", "one input and one output"])
        assertError(call("b", ["in"], kwargs: #"{"training": true}"#), mentions: ["'b'", "training"])
        assertError(call("b", ["in", "in"]), mentions: ["Dense", "'b'", "one input"])
        assertError(call("a", ["in"]) + ", " + call("b", ["in"]), mentions: ["'a'", "does not lead to the model's output"])
        assertError(call("b", ["in"]), outputs: #"[["nothing", 0, 0]]"#, mentions: ["'nothing'", "output"])
    }
}
