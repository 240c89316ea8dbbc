import Foundation
import LRTTensor
import XCTest
@testable import LRTLayers

/// The built-in architectures: Keras's parameter counts (`Fixtures/ArchitectureReference.swift`, written
/// by `Tools/architecture_check.py` from networks built with the Keras API), the samples they reproduce,
/// the structure of the Functional configs, and the errors for inputs they cannot take.
final class ArchitectureTests: XCTestCase {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Samples/models").standardized

    func testParameterAndLayerCountsAreThoseKerasReported() throws {
        XCTAssertGreaterThanOrEqual(ArchitectureReference.cases.count, Architectures.all.count)
        for reference in ArchitectureReference.cases {
            let architecture = try Architectures.named(reference.name)
            let label = "\(reference.name) \(reference.inputShape) \(reference.classCount) classes"
            XCTAssertEqual(try architecture.parameterCount(inputShape: reference.inputShape, classCount: reference.classCount),
                           reference.parameters, label)
            let config = try architecture.config(inputShape: reference.inputShape, classCount: reference.classCount)
            XCTAssertEqual(config["config"]?["layers"]?.arrayValue?.count, reference.layerCount, label)
        }
        // Every architecture has a reference at its default input.
        for architecture in Architectures.all {
            XCTAssertTrue(ArchitectureReference.cases.contains {
                $0.name == architecture.name && $0.inputShape == architecture.defaultInputShape
                    && $0.classCount == architecture.defaultClassCount
            }, "\(architecture.name) has no Keras reference at its default input")
        }
    }

    func testPlainStacksAreTheSamplesAtTheirDefaultInput() throws {
        let files = ["mlp": "mnist-mlp", "lenet": "lenet-mnist", "cnn": "cnn-mnist", "digits-cnn": "digits-cnn",
                     "cifar10-quick": "cifar10-quick"]
        for (name, file) in files {
            let text = try String(contentsOf: Self.samples.appendingPathComponent(file + ".json"), encoding: .utf8)
            XCTAssertEqual(try Architectures.named(name).config(), try JSONValue.parse(text), name)
        }
    }

    func testPlainStacksBuildIntoSequentialModelsOfTheCountedSize() throws {
        for reference in ArchitectureReference.cases {
            let architecture = try Architectures.named(reference.name)
            let config = try architecture.config(inputShape: reference.inputShape, classCount: reference.classCount)
            guard config["class_name"]?.stringValue == "Sequential" else { continue }
            var generator = SeededGenerator(seed: 1)
            let model = try ModelConfig.build(json: config, generator: &generator)
            let label = "\(reference.name) \(reference.inputShape)"
            XCTAssertEqual(model.inputShape, reference.inputShape, label)
            XCTAssertEqual(model.outputShape, [reference.classCount], label)
            XCTAssertEqual(model.parameterCount, reference.trainableParameters, label)
            XCTAssertEqual(model.weights.reduce(0) { $0 + $1.value.count }, reference.parameters, label)
        }
    }

    func testFunctionalConfigsAreWellFormedGraphs() throws {
        for architecture in Architectures.all {
            let config = try architecture.config()
            guard config["class_name"]?.stringValue == "Functional" else { continue }
            let name = architecture.name
            let model = try XCTUnwrap(config["config"])
            let layers = try XCTUnwrap(model["layers"]?.arrayValue)
            var shapes: [String: JSONValue] = [:]  // layer name → its output's batch shape, once consumed
            var produced: Set<String> = [], consumed: Set<String> = []
            for layer in layers {
                let layerName = try XCTUnwrap(layer["name"]?.stringValue, name)
                XCTAssertEqual(layer["config"]?["name"]?.stringValue, layerName, name)
                XCTAssertFalse(layerName.contains(".") || layerName.contains("/"), "\(name): \(layerName)")
                XCTAssertTrue(produced.insert(layerName).inserted, "\(name): two layers named \(layerName)")
                let nodes = try XCTUnwrap(layer["inbound_nodes"]?.arrayValue, layerName)
                if layer["class_name"]?.stringValue == "InputLayer" {
                    XCTAssertEqual(nodes.count, 0, layerName)
                    continue
                }
                XCTAssertEqual(nodes.count, 1, layerName)
                XCTAssertEqual(nodes.first?.keys, ["args", "kwargs"], layerName)
                XCTAssertEqual(nodes.first?["kwargs"], .object([]), layerName)
                let arguments = try XCTUnwrap(nodes.first?["args"]?.arrayValue, layerName)
                XCTAssertEqual(arguments.count, 1, layerName)
                let isMerge = layer["class_name"]?.stringValue == "Add"
                let tensors = isMerge ? try XCTUnwrap(arguments[0].arrayValue, layerName) : arguments
                XCTAssertEqual(tensors.count, isMerge ? 2 : 1, layerName)
                for tensor in tensors {
                    XCTAssertEqual(tensor["class_name"]?.stringValue, "__keras_tensor__", layerName)
                    XCTAssertEqual(tensor["config"]?["dtype"]?.stringValue, "float32", layerName)
                    let history = try XCTUnwrap(tensor["config"]?["keras_history"]?.arrayValue, layerName)
                    XCTAssertEqual(history.count, 3, layerName)
                    XCTAssertEqual(Array(history.dropFirst()), [.number(0), .number(0)], layerName)
                    let source = try XCTUnwrap(history.first?.stringValue, layerName)
                    XCTAssertTrue(produced.contains(source) && source != layerName,
                                  "\(name): \(layerName) reads \(source), which no earlier layer makes")
                    let shape = try XCTUnwrap(tensor["config"]?["shape"], layerName)
                    if let known = shapes.updateValue(shape, forKey: source) {
                        XCTAssertEqual(known, shape, "\(name): \(source) read with two shapes")
                    }
                    consumed.insert(source)
                }
                if isMerge { XCTAssertEqual(tensors[0]["config"]?["shape"], tensors[1]["config"]?["shape"], layerName) }
            }
            let input = try XCTUnwrap(model["input_layers"]?.arrayValue?.first?.stringValue, name)
            let output = try XCTUnwrap(model["output_layers"]?.arrayValue?.first?.stringValue, name)
            XCTAssertEqual(model["input_layers"], .array([.string("input_layer"), .number(0), .number(0)]), name)
            XCTAssertEqual(input, layers.first?["name"]?.stringValue, name)
            XCTAssertEqual(output, layers.last?["name"]?.stringValue, name)
            XCTAssertEqual(produced.subtracting(consumed), [output], "\(name): layers whose output nobody reads")
        }
    }

    /// Layer counts by class and the shortcut projections: option B puts one where the shape changes only.
    func testResidualNetworksHaveTheirPapersShape() throws {
        let expected: [(name: String, convolutions: Int, adds: Int, projections: [String], strided: [String])] = [
            ("resnet20", 19 + 2, 9, ["stage2_block1", "stage3_block1"], ["stage2_block1", "stage3_block1"]),
            ("resnet56", 55 + 2, 27, ["stage2_block1", "stage3_block1"], ["stage2_block1", "stage3_block1"]),
            ("resnet18", 17 + 3, 8, ["stage2_block1", "stage3_block1", "stage4_block1"],
             ["conv1", "stage2_block1", "stage3_block1", "stage4_block1"]),
        ]
        for network in expected {
            let layers = try XCTUnwrap(try Architectures.named(network.name).config()["config"]?["layers"]?.arrayValue)
            func named(_ className: String) -> [JSONValue] { layers.filter { $0["class_name"]?.stringValue == className } }
            let convolutions = named("Conv2D")
            XCTAssertEqual(convolutions.count, network.convolutions, network.name)
            XCTAssertEqual(named("Add").count, network.adds, network.name)
            XCTAssertEqual(named("BatchNormalization").count, network.convolutions, network.name)
            XCTAssertEqual(named("Dense").count, 1, network.name)
            XCTAssertEqual(named("GlobalAveragePooling2D").count, 1, network.name)
            let projections = convolutions.compactMap { $0["name"]?.stringValue }.filter { $0.hasSuffix("_shortcut_conv") }
            XCTAssertEqual(projections, network.projections.map { $0 + "_shortcut_conv" }, network.name)
            let strided = convolutions.filter { $0["config"]?["strides"] == .number(2) }.compactMap { $0["name"]?.stringValue }
            XCTAssertEqual(Set(strided.map { $0.replacingOccurrences(of: "_shortcut_conv", with: "")
                .replacingOccurrences(of: "_conv1", with: "").replacingOccurrences(of: "_conv", with: "") }),
                Set(network.strided), network.name)
            for convolution in convolutions {
                XCTAssertEqual(convolution["config"]?["use_bias"], .bool(false), network.name)
                XCTAssertEqual(convolution["config"]?["kernel_initializer"], .string("he_normal"), network.name)
            }
            XCTAssertEqual(layers.last?["config"]?["activation"], .string("softmax"), network.name)
        }
    }

    func testEveryArchitectureBuildsAtItsMinimumSideAndRefusesLess() throws {
        for architecture in Architectures.all {
            let channels = architecture.defaultInputShape[2]
            let side = architecture.minimumSide
            XCTAssertNoThrow(try architecture.config(inputShape: [side, side, channels], classCount: 3), architecture.name)
            XCTAssertNoThrow(try architecture.config(inputShape: [side, 2 * side + 1, channels], classCount: 3), architecture.name)
            guard side > 1 else { continue }
            for shape in [[side - 1, side, channels], [side, side - 1, channels]] {
                XCTAssertThrowsError(try architecture.config(inputShape: shape, classCount: 3)) { error in
                    XCTAssertTrue("\(error)".contains("at least \(side)×\(side) pixels"), "\(architecture.name): \(error)")
                }
            }
        }
        XCTAssertThrowsError(try Architectures.resnet18.config(inputShape: [28, 28, 1], classCount: 10)) { error in
            XCTAssertEqual("\(error)", "resnet18 needs images of at least 32×32 pixels, got 28×28; resize the images or pick a network for small inputs (`lrt models` lists them)")
        }
    }

    func testBadNamesShapesAndClassCountsAreRefusedByName() {
        XCTAssertThrowsError(try Architectures.named("resnet50")) { error in
            XCTAssertTrue("\(error)".contains("'resnet50'") && "\(error)".contains("resnet20, resnet56, resnet18"), "\(error)")
        }
        XCTAssertThrowsError(try Architectures.resnet20.config(inputShape: [32, 32], classCount: 10)) { error in
            XCTAssertTrue("\(error)".contains("[32, 32]"), "\(error)")
        }
        XCTAssertThrowsError(try Architectures.resnet20.config(inputShape: [32, 32, 0], classCount: 10))
        XCTAssertThrowsError(try Architectures.mlp.config(inputShape: [5000, 5000, 3], classCount: 10)) { error in
            XCTAssertTrue("\(error)".contains("4096"), "\(error)")
        }
        XCTAssertThrowsError(try Architectures.cnn.config(inputShape: [28, 28, 1], classCount: 1)) { error in
            XCTAssertTrue("\(error)".contains("1 classes"), "\(error)")
        }
        XCTAssertEqual(Set(Architectures.all.map(\.name)).count, Architectures.all.count)
    }

    func testTheClassCountAndInputShapeReachTheConfig() throws {
        let config = try Architectures.resnet20.config(inputShape: [28, 28, 1], classCount: 7)
        let layers = try XCTUnwrap(config["config"]?["layers"]?.arrayValue)
        XCTAssertEqual(layers.first?["config"]?["batch_shape"], .array([.null, .number(28), .number(28), .number(1)]))
        XCTAssertEqual(layers.last?["config"]?["units"], .number(7))
        // The last stage sees 7×7 maps: 28 → 28 → 14 → 7.
        let pool = try XCTUnwrap(layers.first { $0["name"] == .string("pool") })
        XCTAssertEqual(pool["inbound_nodes"]?.arrayValue?.first?["args"]?.arrayValue?.first?["config"]?["shape"],
                       .array([.null, .number(7), .number(7), .number(64)]))
    }

    func testFormattedJSONPutsOneLayerPerLineAndParsesBack() throws {
        let config = try Architectures.resnet20.config()
        let text = config.formatted(expandedDepth: 3)
        XCTAssertEqual(try JSONValue.parse(text), config)
        let layerCount = try XCTUnwrap(config["config"]?["layers"]?.arrayValue?.count)
        XCTAssertEqual(text.split(separator: "\n").filter { $0.hasPrefix("      {\"module\": \"keras.layers\"") }.count, layerCount)
        XCTAssertEqual(JSONValue.array([]).formatted(expandedDepth: 3), "[]")
        XCTAssertEqual(JSONValue.object([("a", .array([.number(1), .string("x")]))]).formatted(expandedDepth: 1),
                       "{\n  \"a\": [1, \"x\"]\n}")
    }
}
