import XCTest
import LRTTensor
@testable import LRTLayers

/// Frozen layers (Keras's `"trainable": false`, `lrt finetune --freeze`) and new heads (`--new-head`).
final class FreezingTests: XCTestCase {
    /// conv (frozen) → BN (frozen) → conv → flatten → dense softmax.
    private let sequentialConfig = """
        {"class_name": "Sequential", "config": {"name": "frozen_cnn", "layers": [
          {"class_name": "InputLayer", "config": {"batch_shape": [null, 6, 6, 1]}},
          {"class_name": "Conv2D", "config": {"name": "conv_a", "filters": 3, "kernel_size": 3, "trainable": false}},
          {"class_name": "BatchNormalization", "config": {"name": "bn_a", "trainable": false}},
          {"class_name": "Conv2D", "config": {"name": "conv_b", "filters": 2, "kernel_size": 3, "activation": "relu"}},
          {"class_name": "Flatten", "config": {"name": "flatten"}},
          {"class_name": "Dense", "config": {"name": "head", "units": 5, "activation": "softmax"}}
        ]}}
        """

    /// A stem, a residual block and a Dense head, as a Keras 3 Functional config.
    private var functionalConfig: String {
        func node(_ name: String, _ className: String, _ config: String, _ inputs: [String]) -> String {
            let tensors = inputs.map { #"{"class_name": "__keras_tensor__", "config": {"keras_history": ["\#($0)", 0, 0]}}"# }
            let argument = tensors.count == 1 ? tensors[0] : "[\(tensors.joined(separator: ", "))]"
            return #"{"class_name": "\#(className)", "name": "\#(name)", "config": {"name": "\#(name)"\#(config.isEmpty ? "" : ", " + config)}, "inbound_nodes": [{"args": [\#(argument)], "kwargs": {}}]}"#
        }
        return """
            {"class_name": "Functional", "config": {"name": "tiny_resnet", "layers": [
              {"class_name": "InputLayer", "name": "pixels", "config": {"batch_shape": [null, 6, 6, 1], "name": "pixels"}, "inbound_nodes": []},
              \(node("stem", "Conv2D", #""filters": 4, "kernel_size": 3, "padding": "same""#, ["pixels"])),
              \(node("stem_bn", "BatchNormalization", "", ["stem"])),
              \(node("conv1", "Conv2D", #""filters": 4, "kernel_size": 3, "padding": "same""#, ["stem_bn"])),
              \(node("add", "Add", "", ["stem_bn", "conv1"])),
              \(node("pool", "GlobalAveragePooling2D", "", ["add"])),
              \(node("scores", "Dense", #""units": 10, "activation": "softmax""#, ["pool"]))
            ], "input_layers": [["pixels", 0, 0]], "output_layers": [["scores", 0, 0]]}}
            """
    }

    private func build(_ text: String, seed: UInt64 = 3) throws -> any Model {
        var generator = SeededGenerator(seed: seed)
        return try ModelConfig.build(text: text, generator: &generator)
    }

    /// The `"trainable"` value of each layer in a model config, by name.
    private func trainableFlags(_ config: JSONValue) -> [String: Bool] {
        var flags: [String: Bool] = [:]
        for entry in config["config"]?["layers"]?.arrayValue ?? [] where entry["class_name"]?.stringValue != "InputLayer" {
            if let name = entry["config"]?["name"]?.stringValue { flags[name] = entry["config"]?["trainable"]?.boolValue }
        }
        return flags
    }

    func testTrainableFalseIsReadLeftOutOfTrainingAndWrittenBack() throws {
        let model = try build(sequentialConfig)
        XCTAssertEqual(model.frozenLayers, ["conv_a", "bn_a"])
        XCTAssertEqual(model.parameterGroups.map(\.layerName), ["conv_b", "head"], "frozen layers get no rate, decay or telemetry")
        XCTAssertEqual(model.parameters.map(\.path), ["conv_b.kernel", "conv_b.bias", "head.kernel", "head.bias"])
        XCTAssertEqual(model.weights.count, 10, "files still hold every weight, frozen ones included")
        XCTAssertEqual(trainableFlags(model.config),
                       ["conv_a": false, "bn_a": false, "conv_b": true, "flatten": true, "head": true])

        let rebuilt = try build(model.config.serialized)
        XCTAssertEqual(rebuilt.frozenLayers, ["conv_a", "bn_a"], "the written config reads back frozen")

        model.frozenLayers = ["conv_b"]
        XCTAssertEqual(model.parameterGroups.map(\.layerName), ["conv_a", "bn_a", "head"])
        XCTAssertEqual(trainableFlags(model.config)["conv_a"], true)
        XCTAssertEqual(trainableFlags(model.config)["conv_b"], false)
    }

    func testModelLevelTrainableFalseFreezesEveryLayerAndBadValuesAreRefused() throws {
        let frozenModel = sequentialConfig.replacingOccurrences(of: #""name": "frozen_cnn","#, with: #""name": "frozen_cnn", "trainable": false,"#)
        XCTAssertEqual(try build(frozenModel).parameterGroups.count, 0)
        let bad = sequentialConfig.replacingOccurrences(of: #""trainable": false}"#, with: #""trainable": "no"}"#)
        XCTAssertThrowsError(try build(bad)) { error in
            XCTAssertTrue("\(error)".contains("\"trainable\" must be true or false"), "\(error)")
            XCTAssertTrue("\(error)".contains("conv_a"), "\(error)")
        }
    }

    /// Backpropagation stops at the first trained layer: frozen layers before it get no gradient work at all.
    func testFrozenLayersBeforeTheFirstTrainedOneGetNoGradient() throws {
        let model = try build(sequentialConfig)
        var context = ForwardContext(training: true)
        let input = LayerChecks.random([2, 6, 6, 1], seed: 7)
        let logits = model.forward(input, context: &context)
        model.zeroGradients()
        model.backward(LayerChecks.random(logits.shape, seed: 8))
        let gradients = Dictionary(model.layers.flatMap(\.parameters).map { ($0.path, $0.gradient.storage) }, uniquingKeysWith: { a, _ in a })
        XCTAssertTrue(gradients["conv_a.kernel"]!.allSatisfy { $0 == 0 })
        XCTAssertTrue(gradients["bn_a.gamma"]!.allSatisfy { $0 == 0 })
        XCTAssertTrue(gradients["conv_b.kernel"]!.contains { $0 != 0 }, "the trained layer after them still gets its gradient")
    }

    /// A frozen BatchNormalization normalizes by its moving statistics in training too, leaves them
    /// unchanged, gives γ and β no gradient, and passes dx = dy · γ / √(moving variance + ε) back.
    func testFrozenBatchNormalizationRunsInInferenceMode() throws {
        let features = 3
        let layer = BatchNormalization(name: "bn", inputShape: [2, 2, features], epsilon: 1e-3,
                                       gamma: Tensor(shape: [features], storage: [1.5, -0.5, 2]),
                                       beta: Tensor(shape: [features], storage: [0.1, 0.2, -0.3]),
                                       movingMean: Tensor(shape: [features], storage: [0.3, -0.2, 0.5]),
                                       movingVariance: Tensor(shape: [features], storage: [0.8, 1.7, 0.4]))
        layer.frozen = true
        let input = LayerChecks.random([4, 2, 2, features], seed: 11)
        let inference = LayerChecks.forward(layer, [input], training: false)
        for parameter in layer.parameters { parameter.zeroGradient() }
        let training = LayerChecks.forward(layer, [input], training: true)
        XCTAssertEqual(training.storage, inference.storage, "a frozen layer's training forward is its inference forward, bit for bit")
        XCTAssertEqual(layer.movingMean.value.storage, [0.3, -0.2, 0.5], "moving mean moved")
        XCTAssertEqual(layer.movingVariance.value.storage, [0.8, 1.7, 0.4], "moving variance moved")

        let outputGradient = LayerChecks.random(training.shape, seed: 12)
        let inputGradient = LayerChecks.backward(layer, outputGradient)[0]
        let gamma: [Double] = [1.5, -0.5, 2], variance: [Double] = [0.8, 1.7, 0.4]
        let expected = outputGradient.storage.enumerated().map { index, gradient in
            Double(gradient) * gamma[index % features] / (variance[index % features] + 1e-3).squareRoot()
        }
        LayerChecks.assertClose(inputGradient.storage, expected, "frozen bn input gradient", tolerance: 1e-6)
        XCTAssertTrue(layer.gamma!.gradient.storage.allSatisfy { $0 == 0 } && layer.beta!.gradient.storage.allSatisfy { $0 == 0 })

        layer.frozen = false  // and trained again: the batch statistics move the moving ones
        _ = LayerChecks.forward(layer, [input], training: true)
        XCTAssertNotEqual(layer.movingMean.value.storage, [0.3, -0.2, 0.5])
    }

    func testNewHeadReplacesTheDenseHeadOfAFunctionalModel() throws {
        let model = try build(functionalConfig)
        model.frozenLayers = ["stem", "stem_bn"]
        var generator = SeededGenerator(seed: 9)
        let replaced = try Finetuning.replacingHead(of: model, units: 3, generator: &generator)
        XCTAssertEqual(replaced.className, "Functional")
        XCTAssertEqual(replaced.outputShape, [3])
        let head = try XCTUnwrap(replaced.layers.last as? Dense)
        XCTAssertEqual(head.name, "scores")
        XCTAssertEqual(head.activation, .softmax)
        XCTAssertEqual(head.kernel.value.shape, [4, 3])
        XCTAssertTrue(replaced.outputsProbabilities)
        XCTAssertEqual(replaced.frozenLayers, ["stem", "stem_bn"], "frozen layers stay frozen; the new head trains")
        let old = Dictionary(model.weights.map { ($0.path, $0.value.storage) }, uniquingKeysWith: { a, _ in a })
        for weight in replaced.weights where weight.layerName != "scores" {
            XCTAssertEqual(weight.value.storage, old[weight.path], "\(weight.path) was not carried over")
        }
        // Glorot-uniform for 4 inputs and 3 outputs: |w| ≤ √(6/7), drawn afresh.
        XCTAssertTrue(head.kernel.value.storage.allSatisfy { abs($0) <= (6.0 / 7.0).squareRoot() })
        XCTAssertTrue(head.kernel.value.storage.contains { $0 != 0 })
        XCTAssertEqual(head.bias?.value.storage, [0, 0, 0])

        var again = SeededGenerator(seed: 9)
        let same = try Finetuning.replacingHead(of: model, units: 3, generator: &again)
        XCTAssertEqual((same.layers.last as? Dense)?.kernel.value.storage, head.kernel.value.storage, "seeded: the same head twice")
    }

    func testNewHeadOfASequentialModelAndHeadsThatAreNotDense() throws {
        let model = try build(sequentialConfig)
        var generator = SeededGenerator(seed: 1)
        let replaced = try Finetuning.replacingHead(of: model, units: 2, generator: &generator)
        XCTAssertEqual(replaced.outputShape, [2])
        XCTAssertEqual(replaced.frozenLayers, ["conv_a", "bn_a"])

        let convolutionHead = """
            {"class_name": "Sequential", "config": {"name": "all_conv", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 6, 6, 1]}},
              {"class_name": "Conv2D", "config": {"name": "classifier", "filters": 10, "kernel_size": 1}},
              {"class_name": "GlobalAveragePooling2D", "config": {"name": "pool"}}
            ]}}
            """
        XCTAssertThrowsError(try Finetuning.replacingHead(of: try build(convolutionHead), units: 3, generator: &generator)) { error in
            XCTAssertTrue("\(error)".contains("Conv2D layer 'classifier'"), "\(error)")
        }
    }

    func testFreezePatternThatMatchesNothingNamesTheLayers() throws {
        let model = try build(sequentialConfig)
        let match: (String, String) -> Bool = { pattern, name in
            pattern.hasSuffix("*") ? name.hasPrefix(pattern.dropLast()) : name == pattern
        }
        XCTAssertEqual(try Finetuning.layers(of: model, matching: ["conv*"], match: match), ["conv_a", "conv_b"])
        XCTAssertEqual(try Finetuning.layers(of: model, matching: ["*"], match: match), ["conv_a", "bn_a", "conv_b", "head"],
                       "weightless layers have nothing to freeze")
        XCTAssertThrowsError(try Finetuning.layers(of: model, matching: ["flat*"], match: match)) { error in
            XCTAssertTrue("\(error)".contains("matches only layers without weights (flatten)"), "\(error)")
        }
        XCTAssertThrowsError(try Finetuning.layers(of: model, matching: ["conv*", "block*"], match: match)) { error in
            XCTAssertTrue("\(error)".contains("--freeze 'block*' matches no layer"), "\(error)")
            XCTAssertTrue("\(error)".contains("conv_a, bn_a, conv_b, flatten, head"), "\(error)")
        }
    }
}
