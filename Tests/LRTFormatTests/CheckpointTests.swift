import XCTest
import Foundation
import LRTHDF5
import LRTLayers
import LRTOptimizers
import LRTTensor
@testable import LRTFormat

final class CheckpointTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lrt-format-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static let modelConfig = """
        {"class_name": "Sequential", "config": {"name": "mlp", "layers": [
          {"class_name": "InputLayer", "config": {"batch_shape": [null, 3, 3, 1]}},
          {"class_name": "Flatten"},
          {"class_name": "Dense", "config": {"units": 4, "activation": "relu"}},
          {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}]}}
        """

    private func trainedState() throws -> (Sequential, Optimizer, TrainingState) {
        var generator = SeededGenerator(seed: 3)
        let model = try ModelConfig.build(text: Self.modelConfig, generator: &generator)
        let optimizer = Optimizer(rule: try StochasticGradientDescent(momentum: 0.9), layerRates: .paper,
                                  schedule: try ConstantSchedule(learningRate: 0.05))
        for parameter in model.parameters {
            for index in 0..<parameter.gradient.count { parameter.gradient.storage[index] = generator.nextFloat(in: -1, 1) }
        }
        optimizer.apply(to: model.parameterGroups, epoch: 0)
        var state = TrainingState()
        state.epoch = 2
        state.globalStep = 17
        state.seed = UInt64.max - 5
        state.generatorState = 0x8000_0000_0000_0001
        state.epochOrder = [3, 1, 0, 2]
        state.position = 2
        state.epochLossSum = 1.25
        state.epochCorrect = 1
        state.epochSeen = 2
        state.batchSize = 2
        state.dataRoot = "/data/digits é"
        state.classNames = ["cat", "dog"]
        state.history.append([("loss", 0.5), ("accuracy", 0.75)])
        state.history.append([("loss", 0.25), ("accuracy", 1)])
        return (model, optimizer, state)
    }

    func testEverythingRoundTripsAndNoTemporaryFileRemains() throws {
        let (model, optimizer, state) = try trainedState()
        let file = path("run.h5")
        try Checkpoint.save(model: model, optimizer: optimizer, training: state, to: file)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["run.h5"])

        let loaded = try Checkpoint.load(from: file)
        XCTAssertEqual(loaded.model.config, model.config)
        for (original, restored) in zip(model.parameters, loaded.model.parameters) {
            XCTAssertEqual(restored.path, original.path)
            XCTAssertEqual(restored.value, original.value, original.path)
        }
        let restoredOptimizer = try XCTUnwrap(loaded.optimizer)
        XCTAssertEqual(restoredOptimizer.config, optimizer.config)
        XCTAssertEqual(restoredOptimizer.step, 1)
        XCTAssertEqual(restoredOptimizer.slots["dense.kernel"], optimizer.slots["dense.kernel"])
        XCTAssertEqual(restoredOptimizer.slots["dense_1.bias"], optimizer.slots["dense_1.bias"])
        XCTAssertEqual(restoredOptimizer.multipliers.map(\.layerName), ["dense", "dense_1"])
        for (saved, restored) in zip(optimizer.multipliers, restoredOptimizer.multipliers) {
            XCTAssertEqual(restored.multiplier, saved.multiplier, accuracy: 1e-6)
        }
        XCTAssertEqual(loaded.training, state)
        XCTAssertTrue(loaded.warnings.isEmpty)
    }

    /// The layout Keras 3 writes, checked through the HDF5 layer (and h5py/Keras in Tools/).
    func testKerasLegacyLayout() throws {
        let (model, optimizer, state) = try trainedState()
        let file = path("keras.h5")
        try Checkpoint.save(model: model, optimizer: optimizer, training: state, to: file)
        let root = try HDF5File.openForReading(atPath: file).root
        XCTAssertEqual(try root.stringAttribute("keras_version"), Checkpoint.kerasVersion)
        let weights = try root.openGroup("model_weights")
        XCTAssertEqual(try weights.stringArrayAttribute("layer_names"), ["flatten", "dense", "dense_1"])
        XCTAssertEqual(try weights.openGroup("flatten").stringArrayAttribute("weight_names"), [])
        XCTAssertEqual(try weights.openGroup("dense").stringArrayAttribute("weight_names"), ["mlp/dense/kernel", "mlp/dense/bias"])
        XCTAssertEqual(try weights.datasetShape("dense/mlp/dense/kernel"), [9, 4])
        XCTAssertEqual(try root.openGroup("lrt").stringAttribute("format"), "lrt-checkpoint")
        XCTAssertEqual(try root.openGroup("lrt/optimizer/momentum").datasetShape("dense.kernel"), [9, 4])
        let config = try JSONValue.parse(try root.stringAttribute("model_config"))
        XCTAssertEqual(config["class_name"]?.stringValue, "Sequential")
    }

    /// A failed save leaves the previous file untouched and no temporary file behind.
    func testFailedSaveKeepsThePreviousFile() throws {
        let (model, optimizer, state) = try trainedState()
        let file = path("run.h5")
        try Checkpoint.save(model: model, optimizer: optimizer, training: state, to: file)
        let before = try Data(contentsOf: URL(fileURLWithPath: file))
        model.parameters[0].value = Tensor(shape: [9, 4], repeating: 7)
        // Make the rename fail: the target's temporary name is taken by a folder.
        try FileManager.default.createDirectory(atPath: Checkpoint.temporaryPath(for: file), withIntermediateDirectories: false)
        XCTAssertThrowsError(try Checkpoint.save(model: model, optimizer: optimizer, training: state, to: file))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: file)), before)
    }

    // MARK: Keras files

    private func kerasFile(_ name: String) throws -> String {
        let candidates = [
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/keras/\(name)").standardized.path,
            "/work/shared/keras/\(name)",
        ]
        guard let found = candidates.first(where: FileManager.default.fileExists) else {
            throw XCTSkip("shared/keras/\(name) is not available")
        }
        return found
    }

    /// Predictions from a real Keras 3 file equal Keras's own (stored beside it), within 1e-5.
    func testKerasMLPPredictionsMatchKeras() throws {
        for name in ["mlp_sgdm", "mlp_adam"] {
            let contents = try Checkpoint.load(from: try kerasFile("\(name).h5"))
            XCTAssertNil(contents.training)
            let reference = try HDF5File.openForReading(atPath: try kerasFile("\(name).reference.h5")).root
            let (inputs, inputShape) = try reference.readFloats("x")
            let (expected, _) = try reference.readFloats("y_pred")
            let batch = inputShape[0]
            let predictions = contents.model.predict(Tensor(shape: [batch] + contents.model.inputShape, storage: inputs))
            let worst = zip(predictions.storage, expected).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(worst, 1e-5, name)
        }
    }

    func testUnsupportedKerasLayerIsNamed() throws {
        XCTAssertThrowsError(try Checkpoint.load(from: try kerasFile("cnn_sgdm.h5"))) { error in
            XCTAssert("\(error)".contains("Conv2D"), "\(error)")
        }
    }

    // MARK: Broken and foreign files

    private func assertLoadFails(_ file: String, mentioning fragments: [String], line: UInt = #line) {
        XCTAssertThrowsError(try Checkpoint.load(from: file), line: line) { error in
            XCTAssert(error is CheckpointError, "\(type(of: error))", line: line)
            let message = "\(error)"
            XCTAssertFalse(message.contains("\n"), message, line: line)
            for fragment in fragments { XCTAssert(message.contains(fragment), "'\(message)' lacks '\(fragment)'", line: line) }
        }
    }

    func testMissingTextAndForeignFilesAreRefusedByName() throws {
        assertLoadFails(path("absent.h5"), mentioning: ["absent.h5"])
        try "hello".write(toFile: path("text.h5"), atomically: true, encoding: .utf8)
        assertLoadFails(path("text.h5"), mentioning: ["text.h5"])
        let foreign = try HDF5File.create(atPath: path("foreign.h5"))
        try foreign.root.writeFloats("temperature", [1, 2, 3], shape: [3])
        try foreign.close()
        assertLoadFails(path("foreign.h5"), mentioning: ["foreign.h5", "model_config"])
    }

    func testNewerFormatVersionIsRefusedNamingBothVersions() throws {
        let file = try HDF5File.create(atPath: path("future.h5"))
        try file.root.setAttribute("model_config", string: Self.modelConfig)
        let lrt = try file.root.createGroup("lrt")
        try lrt.setAttribute("format", string: "lrt-checkpoint")
        try lrt.setAttribute("format_version", int64: 2)
        try file.close()
        assertLoadFails(path("future.h5"), mentioning: ["version 2", "up to 1"])
    }

    func testWrongWeightShapeIsNamedByPath() throws {
        let file = try HDF5File.create(atPath: path("shape.h5"))
        try file.root.setAttribute("model_config", string: Self.modelConfig)
        let weights = try file.root.createGroup("model_weights")
        try weights.setAttribute("layer_names", strings: ["flatten", "dense", "dense_1"])
        try weights.createGroup("flatten").setEmptyArrayAttribute("weight_names")
        let dense = try weights.createGroup("dense")
        try dense.setAttribute("weight_names", strings: ["mlp/dense/kernel", "mlp/dense/bias"])
        try dense.writeFloats("mlp/dense/kernel", [Float](repeating: 0, count: 8 * 4), shape: [8, 4])
        try dense.writeFloats("mlp/dense/bias", [0, 0, 0, 0], shape: [4])
        try file.close()
        assertLoadFails(path("shape.h5"), mentioning: ["/model_weights/dense/mlp/dense/kernel", "[8, 4]", "[9, 4]"])
    }

    /// Every truncation of a real checkpoint is refused with an error, never a crash.
    func testTruncatedCheckpointsAreRefusedAtEveryOffset() throws {
        let (model, optimizer, state) = try trainedState()
        let file = path("whole.h5")
        try Checkpoint.save(model: model, optimizer: optimizer, training: state, to: file)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        for offset in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 40)) {
            let truncated = path("cut-\(offset).h5")
            try bytes.prefix(offset).write(to: URL(fileURLWithPath: truncated))
            assertLoadFails(truncated, mentioning: ["cut-\(offset).h5"])
        }
    }
}
