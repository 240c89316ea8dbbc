import Foundation
import LRTHDF5
import LRTLayers
import LRTOptimizers
import LRTTensor
import XCTest
@testable import LRTFormat

/// Format versions: a committed version-1 file keeps loading, newer versions are refused by name.
final class FormatVersionTests: FormatTestCase {
    /// The model of the version-1 fixture: every layer class with weights or shape changes lrt has,
    /// including non-trainable weights (BatchNormalization's moving statistics).
    static let fixtureModel = """
        {"class_name": "Sequential", "config": {"name": "v1_fixture", "layers": [
          {"class_name": "InputLayer", "config": {"batch_shape": [null, 4, 4, 1]}},
          {"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": 2, "activation": "linear"}},
          {"class_name": "BatchNormalization"},
          {"class_name": "ReLU"},
          {"class_name": "MaxPooling2D", "config": {"pool_size": 2, "strides": 1}},
          {"class_name": "Flatten"},
          {"class_name": "Dense", "config": {"units": 3, "activation": "relu"}},
          {"class_name": "Dropout", "config": {"rate": 0.5}},
          {"class_name": "Dense", "config": {"units": 2}},
          {"class_name": "Activation", "config": {"activation": "softmax"}}]}}
        """

    /// Writes `Fixtures/lrt-v1.h5`: only when `LRT_WRITE_FORMAT_FIXTURES=1`, and only to make the
    /// file once. The file must never change afterwards: later lrt versions must keep reading it.
    func testWriteVersion1Fixture() throws {
        guard ProcessInfo.processInfo.environment["LRT_WRITE_FORMAT_FIXTURES"] == "1" else {
            throw XCTSkip("writes the committed fixture only with LRT_WRITE_FORMAT_FIXTURES=1")
        }
        var generator = SeededGenerator(seed: 11)
        let model = try ModelConfig.build(text: Self.fixtureModel, generator: &generator)
        let optimizer = Optimizer(rule: try StochasticGradientDescent(momentum: 0.9, nesterov: true), layerRates: .paper,
                                  schedule: try ConstantSchedule(learningRate: 0.02))
        for step in 0..<2 {
            for parameter in model.parameters {
                for index in 0..<parameter.gradient.count {
                    parameter.gradient.storage[index] = generator.nextFloat(in: -1, 1) / Float(step + 1)
                }
            }
            optimizer.apply(to: model.parameterGroups, epoch: 0)
        }
        for weight in model.weights where !weight.trainable {
            for index in 0..<weight.value.count { weight.value.storage[index] = generator.nextFloat(in: 0.5, 1.5) }
        }
        var state = TrainingState()
        state.epoch = 2
        state.globalStep = 2
        state.seed = 11
        state.generatorState = generator.state
        state.epochOrder = [2, 0, 3, 1, 4]
        state.position = 3
        state.epochLossSum = 2.0794415416798357
        state.epochCorrect = 2
        state.epochSeen = 3
        state.batchSize = 3
        state.dataRoot = "/data/shapes"
        state.classNames = ["left", "right"]
        state.history.append([("loss", 0.6931), ("accuracy", 0.5), ("val_loss", 0.7), ("val_accuracy", 0.4)])
        state.history.append([("loss", 0.5), ("accuracy", 0.8), ("val_loss", .nan), ("val_accuracy", 0.6)])
        let target = Self.repository.appendingPathComponent("Tests/LRTFormatTests/Fixtures/lrt-v1.h5").path
        try Checkpoint.save(model: model, optimizer: optimizer, training: state, to: target, compressWeights: true)
        print("wrote \(target)")
    }

    /// The version-1 fixture loads, every value as written (sums and a few values by path).
    func testVersion1FixtureLoads() throws {
        let contents = try Checkpoint.load(from: try fixture("lrt-v1.h5"))
        XCTAssertEqual(contents.origin, .lrt(formatVersion: 1))
        XCTAssertEqual(contents.warnings, [])
        let model = contents.model
        XCTAssertEqual(model.name, "v1_fixture")
        XCTAssertEqual(model.inputShape, [4, 4, 1])
        XCTAssertEqual(model.layers.map(\.className),
                       ["Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D", "Flatten", "Dense", "Dropout", "Dense", "Activation"])
        XCTAssertEqual(model.outputShape, [2])
        let sums = Dictionary(uniqueKeysWithValues: model.weights.map { ($0.path, $0.value.storage.reduce(0, +)) })
        for (path, expected) in Self.fixtureWeightSums {
            XCTAssertEqual(sums[path] ?? .nan, expected, accuracy: 1e-4, path)
        }
        XCTAssertEqual(Set(sums.keys), Set(Self.fixtureWeightSums.keys))
        XCTAssertEqual(model.weights.filter { !$0.trainable }.map(\.path),
                       ["batch_normalization.moving_mean", "batch_normalization.moving_variance"])

        let optimizer = try XCTUnwrap(contents.optimizer)
        XCTAssertEqual(optimizer.config["class_name"]?.stringValue, "SGD")
        XCTAssertEqual(optimizer.config["config"]?["nesterov"]?.boolValue, true)
        XCTAssertEqual(optimizer.step, 2)
        XCTAssertEqual(optimizer.rule.slotNames, ["momentum"])
        let momentumSums = optimizer.slots.mapValues { $0[0].storage.reduce(0, +) }
        for (path, expected) in Self.fixtureMomentumSums {
            XCTAssertEqual(momentumSums[path] ?? .nan, expected, accuracy: 1e-4, path)
        }
        XCTAssertEqual(optimizer.multipliers.map(\.layerName), ["conv2d", "batch_normalization", "dense", "dense_1"])
        XCTAssert(optimizer.multipliers.allSatisfy { $0.multiplier >= 1 })

        let training = try XCTUnwrap(contents.training)
        XCTAssertEqual(training.epoch, 2)
        XCTAssertEqual(training.globalStep, 2)
        XCTAssertEqual(training.seed, 11)
        XCTAssertEqual(training.epochOrder, [2, 0, 3, 1, 4])
        XCTAssertEqual(training.position, 3)
        XCTAssertEqual(training.epochLossSum, 2.0794415416798357)
        XCTAssertEqual(training.epochCorrect, 2)
        XCTAssertEqual(training.epochSeen, 3)
        XCTAssertEqual(training.batchSize, 3)
        XCTAssertEqual(training.dataRoot, "/data/shapes")
        XCTAssertEqual(training.classNames, ["left", "right"])
        XCTAssertEqual(training.history.names, ["loss", "accuracy", "val_loss", "val_accuracy"])
        XCTAssertEqual(training.history.columns["accuracy"] ?? [], [0.5, 0.800000011920929])
        XCTAssert(training.history.columns["val_loss"]?[1].isNaN == true)
    }

    /// Sums of the fixture's weights, by path (computed when the fixture was written).
    static let fixtureWeightSums: [String: Float] = [
        "conv2d.kernel": -0.93426353, "conv2d.bias": -0.08874119,
        "batch_normalization.gamma": 1.95336354, "batch_normalization.beta": -0.01995026,
        "batch_normalization.moving_mean": 2.62702274, "batch_normalization.moving_variance": 1.40256214,
        "dense.kernel": 4.55399513, "dense.bias": 0.01187882, "dense_1.kernel": 0.08672583, "dense_1.bias": -0.12430121,
    ]
    /// Sums of the fixture's momentum slots, by parameter path.
    static let fixtureMomentumSums: [String: Float] = [
        "conv2d.kernel": -0.31723082, "conv2d.bias": 0.97567326,
        "batch_normalization.gamma": 0.44247425, "batch_normalization.beta": 0.11909440,
        "dense.kernel": 5.27197552, "dense.bias": -0.24412905, "dense_1.kernel": -0.73571694, "dense_1.bias": 1.30087852,
    ]

    func testNewerFormatVersionIsRefusedNamingBothVersions() throws {
        let file = try HDF5File.create(atPath: path("future.h5"))
        try file.root.setAttribute("model_config", string: Self.modelConfig)
        let lrt = try file.root.createGroup("lrt")
        try lrt.setAttribute("format", string: "lrt-checkpoint")
        try lrt.setAttribute("format_version", int64: 2)
        try file.close()
        assertLoadFails(path("future.h5"), mentioning: ["future.h5", "version 2", "up to 1", "upgrade lrt"])
    }

    func testAnotherFormatInTheLrtGroupIsRefused() throws {
        let file = try HDF5File.create(atPath: path("other.h5"))
        try file.root.setAttribute("model_config", string: Self.modelConfig)
        try file.root.createGroup("lrt").setAttribute("format", string: "someone-elses-format")
        try file.close()
        assertLoadFails(path("other.h5"), mentioning: ["/lrt@format", "someone-elses-format", "not written by lrt"])
    }
}
