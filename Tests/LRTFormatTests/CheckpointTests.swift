import Foundation
import LRTHDF5
import LRTLayers
import LRTOptimizers
import LRTTensor
import XCTest
@testable import LRTFormat

/// Writing and reading lrt checkpoints: everything round-trips, the layout is Keras's, saves are atomic.
final class CheckpointTests: FormatTestCase {
    func testEverythingRoundTripsAndNoTemporaryFileRemains() throws {
        let (model, optimizer, state) = try trainedState()
        let file = path("run.h5")
        try Checkpoint.save(model: model, optimizer: optimizer, training: state, to: file)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["run.h5"])

        let loaded = try Checkpoint.load(from: file)
        XCTAssertEqual(loaded.model.config, model.config)
        for (original, restored) in zip(model.weights, loaded.model.weights) {
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
        XCTAssertEqual(restoredOptimizer.scalarState, optimizer.scalarState)
        XCTAssertEqual(loaded.training, state)
        XCTAssertTrue(loaded.warnings.isEmpty)
        XCTAssertEqual(loaded.origin, .lrt(formatVersion: Checkpoint.formatVersion))
        XCTAssertEqual(loaded.kerasVersion, Checkpoint.kerasVersion)
        XCTAssertEqual(loaded.backend, "lrt")
        XCTAssertNil(loaded.kerasOptimizer, "lrt files carry their own optimizer")
    }

    /// A model-only file (no optimizer, no training state) has no training_config and no lrt state.
    func testModelOnlyFileRoundTrips() throws {
        let (model, _, _) = try trainedState()
        let file = path("model.h5")
        try Checkpoint.save(model: model, optimizer: nil, training: nil, to: file)
        let loaded = try Checkpoint.load(from: file)
        XCTAssertNil(loaded.optimizer)
        XCTAssertNil(loaded.training)
        XCTAssertNil(loaded.trainingConfig)
        XCTAssertEqual(loaded.model.weights.map(\.value), model.weights.map(\.value))
    }

    /// The layout Keras 3 writes, checked through the HDF5 layer (h5py and Keras in Tools/).
    func testKerasLegacyLayout() throws {
        let file = try savedCheckpoint("keras.h5")
        let root = try HDF5File.openForReading(atPath: file).root
        XCTAssertEqual(try root.stringAttribute("keras_version"), Checkpoint.kerasVersion)
        let weights = try root.openGroup("model_weights")
        XCTAssertEqual(try weights.stringArrayAttribute("layer_names"), ["flatten", "dense", "re_lu", "dense_1", "activation"])
        XCTAssertEqual(try weights.openGroup("flatten").stringArrayAttribute("weight_names"), [])
        XCTAssertEqual(try weights.openGroup("dense").stringArrayAttribute("weight_names"), ["mlp/dense/kernel", "mlp/dense/bias"])
        XCTAssertEqual(try weights.datasetShape("dense/mlp/dense/kernel"), [9, 4])
        XCTAssertEqual(try root.openGroup("lrt").stringAttribute("format"), "lrt-checkpoint")
        XCTAssertEqual(try root.openGroup("lrt").int64Attribute("format_version"), 1)
        XCTAssertEqual(try root.openGroup("lrt/optimizer/momentum").datasetShape("dense.kernel"), [9, 4])
        let config = try JSONValue.parse(try root.stringAttribute("model_config"))
        XCTAssertEqual(config["class_name"]?.stringValue, "Sequential")
    }

    /// Compressed weights (gzip 4, chunked) load to the same values; h5py and Keras reading
    /// them is checked by ToolTests and Tools/keras_check.py.
    func testCompressedWeightsLoadTheSame() throws {
        let plain = try Checkpoint.load(from: try savedCheckpoint("plain.h5"))
        let compressed = try Checkpoint.load(from: try savedCheckpoint("compressed.h5", compress: true))
        XCTAssertEqual(compressed.model.weights.map(\.value), plain.model.weights.map(\.value))
        XCTAssertEqual(compressed.training, plain.training)
    }

    /// A failed save leaves the previous file untouched and no temporary file behind.
    func testFailedSaveKeepsThePreviousFile() throws {
        let (model, optimizer, state) = try trainedState()
        let file = path("run.h5")
        try Checkpoint.save(model: model, optimizer: optimizer, training: state, to: file)
        let before = try Data(contentsOf: URL(fileURLWithPath: file))
        model.parameters[0].value = Tensor(shape: [9, 4], repeating: 7)
        // Make the rename fail, through the file layer's test double.
        var failingRename = SafeFile.FileSystem.system
        failingRename.rename = { _, _ in errno = EIO; return -1 }
        SafeFile.fileSystem = failingRename
        defer { SafeFile.fileSystem = .system }
        XCTAssertThrowsError(try Checkpoint.save(model: model, optimizer: optimizer, training: state, to: file))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: file)), before)
        let folder = (file as NSString).deletingLastPathComponent
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(SafeFile.temporarySuffix) }, [])
    }

    /// training_config names the Keras optimizer closest to lrt's, with only options of the same meaning,
    /// so that Keras's load_model compiles it (Tools/keras_check.py loads each in Keras).
    func testTrainingConfigNamesTheClosestKerasOptimizer() throws {
        let cases: [(lrt: String, keras: String, keys: [String])] = [
            (#"{"class_name": "SGD", "config": {"momentum": 0.9, "nesterov": true, "learning_rate": 0.1}}"#,
             "SGD", ["name", "learning_rate", "momentum", "nesterov"]),
            (#"{"class_name": "Adam", "config": {"learning_rate": 0.001}}"#,
             "Adam", ["name", "learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad"]),
            (#"{"class_name": "AdamW", "config": {"weight_decay": 0.05}}"#,
             "AdamW", ["name", "learning_rate", "weight_decay", "beta_1", "beta_2", "epsilon", "amsgrad"]),
            (#"{"class_name": "LAMB", "config": {}}"#, "AdamW", ["name", "learning_rate", "weight_decay", "beta_1", "beta_2", "epsilon"]),
            (#"{"class_name": "LARS", "config": {"momentum": 0.8}}"#, "SGD", ["name", "learning_rate", "momentum", "nesterov"]),
            (#"{"class_name": "SGD", "config": {"momentum": 0}}"#, "SGD", ["name", "learning_rate", "nesterov"]),
            (#"{"class_name": "RMSprop", "config": {"global_clipnorm": 1.5}}"#,
             "RMSprop", ["name", "learning_rate", "rho", "epsilon", "centered", "global_clipnorm"]),
            (#"{"class_name": "Adagrad", "config": {}}"#, "Adagrad", ["name", "learning_rate", "initial_accumulator_value", "epsilon"]),
        ]
        for (lrtConfig, kerasClass, keys) in cases {
            let optimizer = try Optimizer.make(config: try JSONValue.parse(lrtConfig))
            let keras = Checkpoint.kerasOptimizerConfig(optimizer)
            XCTAssertEqual(keras["class_name"]?.stringValue, kerasClass, lrtConfig)
            XCTAssertEqual(keras["config"]?.keys, keys, lrtConfig)
            XCTAssertEqual(keras["config"]?["learning_rate"]?.numberValue, optimizer.schedule.rate(step: 0, epoch: 0), lrtConfig)
        }
    }

    /// Keras's optimizers refuse integers where they expect floats (`learning_rate=1`): every
    /// number of training_config is written as a float.
    func testTrainingConfigWritesNumbersAsFloats() throws {
        let optimizer = try Optimizer.make(config: try JSONValue.parse(#"{"class_name": "LARS", "config": {"learning_rate": 1}}"#))
        let (model, _, _) = try trainedState()
        let file = path("lars.h5")
        try Checkpoint.save(model: model, optimizer: optimizer, training: nil, to: file)
        let text = try HDF5File.openForReading(atPath: file).root.stringAttribute("training_config")
        XCTAssert(text.contains(#""learning_rate": 1.0"#), text)
        XCTAssertEqual(try JSONValue.parse(text)["optimizer_config"]?["config"]?["learning_rate"]?.numberValue, 1)
    }

    /// The rate Keras continues with is the one of lrt's last step.
    func testTrainingConfigCarriesTheLastRate() throws {
        let file = try savedCheckpoint()
        let contents = try Checkpoint.load(from: file)
        let optimizerConfig = try XCTUnwrap(contents.trainingConfig?["optimizer_config"])
        XCTAssertEqual(optimizerConfig["class_name"]?.stringValue, "SGD")
        XCTAssertEqual(optimizerConfig["config"]?["learning_rate"]?.numberValue ?? 0, 0.05, accuracy: 1e-12)
        XCTAssertEqual(optimizerConfig["config"]?["momentum"]?.numberValue ?? 0, 0.9, accuracy: 1e-6)
        XCTAssertEqual(contents.trainingConfig?["loss"]?.stringValue, "sparse_categorical_crossentropy")
    }

    /// Non-finite weights are refused on load, naming the dataset and the first bad value
    /// (issue 10: they used to load with only a warning, and `eval` then printed a null loss).
    func testNonFiniteWeightsAreRefused() throws {
        let (model, optimizer, state) = try trainedState()
        model.parameters[0].value.storage[3] = .nan
        let file = path("nan.h5")
        try Checkpoint.save(model: model, optimizer: optimizer, training: state, to: file)
        assertLoadFails(file, mentioning: [file, "/model_weights/dense/mlp/dense/kernel", "nan at index 3"])
    }
}
