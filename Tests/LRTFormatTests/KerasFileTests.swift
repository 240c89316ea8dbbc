import Foundation
import LRTHDF5
import LRTLayers
import LRTOptimizers
import LRTTensor
import XCTest
@testable import LRTFormat

/// Keras files in lrt: Keras 3 and Keras 2 layouts, predictions equal Keras's, and Keras's
/// optimizer state imported so that lrt's next step is Keras's next step.
///
/// Reference numbers come from real Keras (Tools/make_format_fixtures.py: Keras 3.15.1 on JAX,
/// tf.keras 2.15) and from the shared Keras 3.15.1 files (`<repo>/../shared/keras`).
final class KerasFileTests: FormatTestCase {
    // MARK: Predictions

    /// Predictions of real Keras files equal Keras's own (stored beside them), within 1e-5.
    func testSharedKerasFilesPredictLikeKeras() throws {
        for name in ["mlp_sgdm", "mlp_adam", "cnn_sgdm", "cnn_adam"] {
            let contents = try Checkpoint.load(from: try kerasFile("\(name).h5"))
            XCTAssertNil(contents.training)
            XCTAssertEqual(contents.origin, .keras)
            XCTAssertEqual(contents.kerasVersion, "3.15.1")
            XCTAssertEqual(contents.backend, "jax")
            let reference = try HDF5File.openForReading(atPath: try kerasFile("\(name).reference.h5")).root
            let (inputs, inputShape) = try reference.readFloats("x")
            let (expected, _) = try reference.readFloats("y_pred")
            let predictions = contents.model.predict(Tensor(shape: [inputShape[0]] + contents.model.inputShape, storage: inputs))
            XCTAssertLessThanOrEqual(maximumDifference(predictions.storage, expected), 1e-5, name)
        }
    }

    /// The uncompiled files have no training_config, hence no optimizer to import.
    func testUncompiledKerasFileHasNoOptimizer() throws {
        let contents = try Checkpoint.load(from: try kerasFile("mlp_uncompiled.h5"))
        XCTAssertNil(contents.trainingConfig)
        XCTAssertNil(contents.kerasOptimizer)
        XCTAssertNil(contents.optimizer)
    }

    /// The fixtures of every Keras generation predict like the Keras that wrote them.
    func testKeras3AndKeras2FixturesPredictLikeKeras() throws {
        for name in ["keras3-sgd-momentum", "keras3-adam", "keras2-sgd-momentum", "keras2-legacy-sgd-momentum"] {
            let contents = try Checkpoint.load(from: try fixture("\(name).h5"))
            let reference = try HDF5File.openForReading(atPath: try fixture("\(name).step.h5")).root
            let (inputs, inputShape) = try reference.readFloats("x")
            let predictions = contents.model.predict(Tensor(shape: inputShape, storage: inputs))
            XCTAssertLessThanOrEqual(maximumDifference(predictions.storage, try reference.readFloats("y_pred").values), 1e-5, name)
        }
    }

    /// Keras 2 names weights `dense/kernel:0`; files of Keras ≤ 2.10 (h5py 2) store every string,
    /// `model_config` and `layer_names` included, as fixed-length bytes. Both load, to the same weights.
    func testKeras2NamesAndFixedLengthStringsLoad() throws {
        let variable = try Checkpoint.load(from: try fixture("keras2-sgd-momentum.h5"))
        let fixed = try Checkpoint.load(from: try fixture("keras2-fixed-strings.h5"))
        XCTAssertEqual(variable.kerasVersion, "2.15.0")
        XCTAssertEqual(fixed.kerasVersion, "2.15.0")
        XCTAssertEqual(fixed.model.weights.map(\.path), ["dense.kernel", "dense.bias", "dense_1.kernel", "dense_1.bias"])
        XCTAssertEqual(fixed.model.weights.map(\.value), variable.model.weights.map(\.value))
        XCTAssertEqual(fixed.kerasOptimizer?.className, "Custom>SGD")
        XCTAssertEqual(fixed.kerasOptimizer?.slots["momentum"]?.count, 4)
    }

    // MARK: Optimizer import

    /// `training_config` is exposed, and the optimizer it names with Keras's state by parameter path.
    func testTrainingConfigAndKerasOptimizerStateAreExposed() throws {
        let contents = try Checkpoint.load(from: try kerasFile("mlp_adam.h5"))
        XCTAssertEqual(contents.trainingConfig?["loss"]?.stringValue, "sparse_categorical_crossentropy")
        let keras = try XCTUnwrap(contents.kerasOptimizer)
        XCTAssertEqual(keras.className, "Adam")
        XCTAssertEqual(keras.config["beta_2"]?.numberValue, 0.999)
        XCTAssertEqual(keras.iteration, 469)
        XCTAssertEqual(keras.learningRate ?? 0, 0.001, accuracy: 1e-9)
        XCTAssertNil(keras.problem)
        XCTAssertEqual(keras.slots.keys.sorted(), ["momentum", "velocity"])
        XCTAssertEqual(keras.slots["velocity"]?.keys.sorted(),
                       ["dense.bias", "dense.kernel", "dense_1.bias", "dense_1.kernel", "dense_2.bias", "dense_2.kernel"])
        XCTAssertEqual(keras.slots["momentum"]?["dense.kernel"]?.shape, [784, 512])
    }

    /// Keras keeps m with `m ← μm − lr·g`, `θ ← θ + m`; lrt keeps v with `v ← μv + g`, `θ ← θ − lr·v`:
    /// the import stores v = −m / lr, element by element, and Keras's update count as the step.
    func testSGDMomentumIsImportedAsMinusMomentumOverRate() throws {
        let file = try kerasFile("mlp_sgdm.h5")
        let contents = try Checkpoint.load(from: file)
        let keras = try XCTUnwrap(contents.kerasOptimizer)
        let optimizer = try keras.makeOptimizer(for: contents.model)
        XCTAssertEqual(optimizer.step, 469)
        XCTAssertEqual(optimizer.layerRates, .off)
        XCTAssertEqual(optimizer.schedule.rate(step: 469, epoch: 1), 0.009999999776482582)
        let raw = try HDF5File.openForReading(atPath: file).root.openGroup("optimizer_weights/sgd")
        let rate = Float(try raw.readFloats("learning_rate").values[0])
        for (path, kerasName) in [("dense.kernel", "mlp_dense_kernel_momentum"), ("dense_2.bias", "mlp_dense_2_bias_momentum")] {
            let momentum = try raw.readFloats(kerasName).values
            let velocity = try XCTUnwrap(optimizer.slots[path]?[0]).storage
            XCTAssertEqual(velocity.count, momentum.count)
            XCTAssertLessThanOrEqual(maximumDifference(velocity, momentum.map { -$0 / rate }), 1e-6, path)
            XCTAssert(momentum.contains { $0 != 0 }, "the fixture's momentum should not be all zeros")
        }
    }

    /// After the import, lrt's next step equals Keras's `train_on_batch` on the same batch, for
    /// SGD with momentum (Keras 3; tf.keras 2.15 with both optimizer generations) and Nesterov.
    func testImportedSGDStateTakesKerasNextStep() throws {
        for name in ["keras3-sgd-momentum", "keras3-sgd-nesterov", "keras2-sgd-momentum", "keras2-legacy-sgd-momentum"] {
            try assertNextStepMatchesKeras(name, tolerance: 1e-5)
        }
    }

    /// Adam: Keras's momentum and velocity are lrt's first and second moments; the step count
    /// carries the bias correction (Keras adds ε before the correction, lrt after: O(ε) apart).
    func testImportedAdamStateTakesKerasNextStep() throws {
        try assertNextStepMatchesKeras("keras3-adam", tolerance: 1e-5)
    }

    private func assertNextStepMatchesKeras(_ name: String, tolerance: Float, line: UInt = #line) throws {
        let contents = try Checkpoint.load(from: try fixture("\(name).h5"))
        XCTAssertEqual(contents.warnings, [], name, line: line)
        let keras = try XCTUnwrap(contents.kerasOptimizer, name, line: line)
        let optimizer = try keras.makeOptimizer(for: contents.model)
        let reference = try HDF5File.openForReading(atPath: try fixture("\(name).step.h5")).root
        let (inputs, inputShape) = try reference.readFloats("x")
        let labels = try reference.readInt64s("y").values.map { Int32($0) }
        let model = contents.model
        var context = ForwardContext(training: true)
        let logits = model.forward(Tensor(shape: inputShape, storage: inputs), context: &context)
        model.zeroGradients()
        model.backward(SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels[...]).gradient)
        optimizer.apply(to: model.parameterGroups, epoch: 0)
        XCTAssertEqual(optimizer.step, Int(try reference.int64Attribute("iteration")), name, line: line)
        for parameter in model.parameters {
            let expected = try reference.readFloats(parameter.path).values
            XCTAssertLessThanOrEqual(maximumDifference(parameter.value.storage, expected), tolerance,
                                     "\(name) \(parameter.path)", line: line)
        }
    }

    /// What lrt cannot honour is refused by name, never dropped.
    func testUnsupportedKerasOptimizersAndOptionsAreRefused() throws {
        let model = try Checkpoint.load(from: try fixture("keras3-sgd-momentum.h5")).model
        let cases: [(String, String, [String])] = [
            ("SGD", #"{"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.01}"#, ["weight_decay", "0.01"]),
            ("SGD", #"{"learning_rate": 0.1, "clipnorm": 1.0}"#, ["clipnorm"]),
            ("SGD", #"{"learning_rate": 0.1, "use_ema": true}"#, ["use_ema"]),
            ("SGD", #"{"learning_rate": {"class_name": "ExponentialDecay", "config": {}}}"#, ["learning_rate", "constant"]),
            ("Nadam", #"{"learning_rate": 0.1}"#, ["Nadam", "SGD"]),
        ]
        for (className, config, fragments) in cases {
            let state = KerasOptimizerState(className: className, config: try JSONValue.parse(config))
            XCTAssertThrowsError(try state.makeOptimizer(for: model), className) { error in
                XCTAssert(error is CheckpointError)
                for fragment in fragments { XCTAssert("\(error)".contains(fragment), "'\(error)' lacks '\(fragment)'") }
            }
        }
        var inert = KerasOptimizerState(className: "SGD", config: try JSONValue.parse(
            #"{"name": "sgd", "learning_rate": 0.1, "weight_decay": null, "clipnorm": null, "use_ema": false, "momentum": 0.5}"#))
        inert.iteration = 0
        XCTAssertEqual(try inert.makeOptimizer(for: model).config["config"]?["momentum"]?.numberValue, 0.5)
    }

    /// Keras optimizer weights that match no parameter make the state unusable (a warning), never the model.
    func testUnmatchedKerasOptimizerWeightsOnlyDisableTheImport() throws {
        let source = try fixture("keras3-sgd-momentum.h5")
        let copy = path("renamed.h5")
        try FileManager.default.copyItem(atPath: source, toPath: copy)
        // The same file with the model renamed: the slot names ("tiny_dense_kernel_momentum") no longer match.
        let original = try String(contentsOfFile: source, encoding: .isoLatin1)
        let renamed = original.replacingOccurrences(of: "\"name\": \"tiny\"", with: "\"name\": \"wide\"")
        XCTAssertNotEqual(original, renamed)
        try renamed.data(using: .isoLatin1)!.write(to: URL(fileURLWithPath: copy))
        let contents = try Checkpoint.load(from: copy)
        let keras = try XCTUnwrap(contents.kerasOptimizer)
        XCTAssertNotNil(keras.problem)
        XCTAssertEqual(contents.warnings.count, 1)
        XCTAssert(contents.warnings[0].contains("tiny_dense_kernel_momentum"), contents.warnings[0])
        XCTAssertThrowsError(try keras.makeOptimizer(for: contents.model))
    }

    /// Layer classes lrt cannot build are named in the error.
    func testUnsupportedKerasLayerIsNamed() throws {
        let file = try HDF5File.create(atPath: path("lstm.h5"))
        try file.root.setAttribute("model_config", string: """
            {"class_name": "Sequential", "config": {"name": "rnn", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 5, 3]}},
              {"class_name": "LSTM", "config": {"units": 4}}]}}
            """)
        try file.close()
        assertLoadFails(path("lstm.h5"), mentioning: ["lstm.h5", "LSTM", "not supported"])
    }
}
