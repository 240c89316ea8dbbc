import XCTest
import Foundation
import LRTFormat
import LRTLayers
import LRTData
@testable import LRTTraining

final class TrainingTests: TrainingTestCase {
    private let modelConfig = TrainingTestCase.digitsMLP(hiddenUnits: 64)

    private func configuration(epochs: Int, out: String) -> TrainingConfiguration {
        var configuration = TrainingConfiguration(dataRoot: sampleRoot, modelConfig: modelConfig)
        configuration.epochs = epochs
        configuration.batchSize = 64
        configuration.optimizerConfig = Self.sgd(learningRate: 0.05)
        configuration.seed = 11
        configuration.outputPath = out
        // These tests measure the optimizers and resuming on all 1,437 training images, as before a validation
        // split was held out by default; the split has its own tests below.
        configuration.data.validationSplit = 0
        return configuration
    }

    static func sgd(learningRate: Double) -> JSONValue {
        .object([("class_name", .string("SGD")),
                 ("config", .object([("learning_rate", .number(learningRate)), ("momentum", .number(0.9))]))])
    }

    private var quiet: Runs.Hooks {
        var hooks = Runs.Hooks()
        hooks.progress = { _ in }
        return hooks
    }

    /// The two checkpoints hold the same run: every weight, every optimizer slot of every parameter,
    /// the optimizer's step and scalar state, and the whole training state (epoch, step, generator,
    /// epoch order and position, running sums, history without timings), bit for bit.
    private func assertSameRun(_ first: String, _ second: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let a = try Checkpoint.load(from: first)
        let b = try Checkpoint.load(from: second)
        XCTAssertEqual(a.model.parameters.map(\.path), b.model.parameters.map(\.path), file: file, line: line)
        XCTAssertEqual(a.model.parameters.count, b.model.parameters.count, file: file, line: line)
        for (left, right) in zip(a.model.parameters, b.model.parameters) {
            XCTAssertEqual(left.value.storage, right.value.storage, "\(left.path) differs", file: file, line: line)
        }
        let optimizerA = try XCTUnwrap(a.optimizer, file: file, line: line)
        let optimizerB = try XCTUnwrap(b.optimizer, file: file, line: line)
        XCTAssertEqual(optimizerA.config, optimizerB.config, file: file, line: line)
        XCTAssertEqual(optimizerA.step, optimizerB.step, file: file, line: line)
        XCTAssertEqual(optimizerA.scalarState, optimizerB.scalarState, file: file, line: line)
        XCTAssertEqual(optimizerA.slots.keys.sorted(), optimizerB.slots.keys.sorted(), file: file, line: line)
        XCTAssertFalse(optimizerA.slots.isEmpty, "the run kept no optimizer slots to compare", file: file, line: line)
        for (path, slots) in optimizerA.slots {
            XCTAssertEqual(slots, optimizerB.slots[path], "slots of \(path) differ", file: file, line: line)
        }
        let trainingA = try XCTUnwrap(a.training, file: file, line: line)
        let trainingB = try XCTUnwrap(b.training, file: file, line: line)
        XCTAssertEqual(trainingA.epoch, trainingB.epoch, file: file, line: line)
        XCTAssertEqual(trainingA.globalStep, trainingB.globalStep, file: file, line: line)
        XCTAssertEqual(trainingA.generatorState, trainingB.generatorState, file: file, line: line)
        XCTAssertEqual(trainingA.augmentationGeneratorState, trainingB.augmentationGeneratorState, file: file, line: line)
        XCTAssertEqual(trainingA.dropoutGeneratorState, trainingB.dropoutGeneratorState, file: file, line: line)
        XCTAssertEqual(trainingA.epochOrder, trainingB.epochOrder, "epoch order", file: file, line: line)
        XCTAssertEqual(trainingA.position, trainingB.position, "position in the epoch", file: file, line: line)
        XCTAssertEqual(trainingA.epochLossSum, trainingB.epochLossSum, file: file, line: line)
        XCTAssertEqual(trainingA.epochCorrect, trainingB.epochCorrect, file: file, line: line)
        XCTAssertEqual(trainingA.epochSeen, trainingB.epochSeen, file: file, line: line)
        XCTAssertEqual(trainingA.history, trainingB.history.removingTimings(matching: trainingA.history), file: file, line: line)
    }

    /// Real data: the paper's SGD learns the digits sample.
    func testPaperSGDLearnsDigits() throws {
        let summary = try Runs.train(configuration(epochs: 8, out: path("digits.h5")), hooks: quiet)
        XCTAssertEqual(summary.epochs, 8)
        XCTAssertGreaterThan(summary.testAccuracy ?? 0, 0.88)
        let report = try Runs.evaluate(modelPath: path("digits.h5"), dataRoot: nil)
        XCTAssertEqual(report.count, 360)
        XCTAssertEqual(report.accuracy, summary.testAccuracy ?? -1, accuracy: 1e-12)
        XCTAssertEqual(report.perClass.map(\.name), (0...9).map(String.init))
        XCTAssertEqual(report.perClass.reduce(0) { $0 + $1.count }, 360)
    }

    /// The product's default run (`lrt train` with no arguments): the sample CNN with the
    /// default optimizer (paper SGD, momentum 0.9) reaches 95% on the real digits test split.
    func testDefaultSampleRunReaches95PercentOnDigits() throws {
        let modelPath = URL(fileURLWithPath: sampleRoot).deletingLastPathComponent()
            .appendingPathComponent("models/digits-cnn.json").path
        var configuration = TrainingConfiguration(dataRoot: sampleRoot,
                                                  modelConfig: try String(contentsOfFile: modelPath, encoding: .utf8))
        configuration.outputPath = path("sample.h5")
        let summary = try Runs.train(configuration, hooks: quiet)
        XCTAssertEqual(summary.epochs, 20)
        XCTAssertGreaterThanOrEqual(summary.testAccuracy ?? 0, 0.95)
    }

    /// `train --epochs 4` equals `train --epochs 2` + `resume --epochs 4`, bit for bit.
    func testResumeAtEpochBoundaryIsBitIdentical() throws {
        _ = try Runs.train(configuration(epochs: 4, out: path("straight.h5")), hooks: quiet)
        _ = try Runs.train(configuration(epochs: 2, out: path("split.h5")), hooks: quiet)
        let summary = try Runs.resume(checkpointPath: path("split.h5"), epochs: 4, outputPath: nil, hooks: quiet)
        XCTAssertEqual(summary.epochs, 4)
        try assertSameRun(path("straight.h5"), path("split.h5"))
    }

    /// Stopping mid-epoch (Ctrl-C) saves the data-order cursor; resuming continues from that batch exactly.
    func testResumeMidEpochIsBitIdentical() throws {
        _ = try Runs.train(configuration(epochs: 2, out: path("straight.h5")), hooks: quiet)
        var hooks = quiet
        var batches = 0
        hooks.shouldStop = { batches += 1; return batches == 30 }  // 23 batches per epoch: stops in epoch 2
        let stopped = try Runs.train(configuration(epochs: 2, out: path("stopped.h5")), hooks: hooks)
        XCTAssertTrue(stopped.stoppedEarly)
        let saved = try XCTUnwrap(Checkpoint.load(from: path("stopped.h5")).training)
        XCTAssertEqual(saved.epoch, 1)
        XCTAssertEqual(saved.position, 7 * 64)
        _ = try Runs.resume(checkpointPath: path("stopped.h5"), epochs: 2, outputPath: nil, hooks: quiet)
        try assertSameRun(path("straight.h5"), path("stopped.h5"))
    }

    /// With the default validation split, augmentation and dropout, stopping mid-epoch and resuming is still
    /// bit-identical: the three generator streams and the split are in the checkpoint; validation and test are
    /// disjoint from training and from each other, and the test split is evaluated once, at the end.
    func testResumeMidEpochWithValidationSplitAugmentationAndDropoutIsBitIdentical() throws {
        func augmented(out: String) -> TrainingConfiguration {
            var configuration = configuration(epochs: 2, out: path(out))
            configuration.data.validationSplit = 0.1
            configuration.data.augmentation = try! Augmentation(parsing: "flip,crop,brightness,cutout")
            configuration.modelConfig = modelConfig.replacingOccurrences(of: #"{"class_name": "Dense", "config": {"units": 10"#,
                with: #"{"class_name": "Dropout", "config": {"rate": 0.2}}, {"class_name": "Dense", "config": {"units": 10"#)
            return configuration
        }
        let straight = try Runs.train(augmented(out: "straight.h5"), hooks: quiet)
        XCTAssertEqual(straight.history.columns["val_accuracy"]?.count, 2)
        XCTAssertEqual(straight.test?.count, 360)
        var hooks = quiet
        var batches = 0
        hooks.shouldStop = { batches += 1; return batches == 30 }  // 1,294 training images: 21 batches per epoch
        let stopped = try Runs.train(augmented(out: "stopped.h5"), hooks: hooks)
        XCTAssertTrue(stopped.stoppedEarly)
        XCTAssertNil(stopped.test, "the test split is only evaluated when the run finishes")
        let saved = try XCTUnwrap(Checkpoint.load(from: path("stopped.h5")).training)
        XCTAssertEqual([saved.epoch, saved.position, saved.epochOrder.count, saved.validationCount], [1, 9 * 64, 1294, 143])
        XCTAssertEqual(saved.validationSource, "split")
        XCTAssertEqual(saved.augmentation, "flip,crop,brightness,cutout")
        let resumed = try Runs.resume(checkpointPath: path("stopped.h5"), epochs: 2, outputPath: nil, hooks: quiet)
        XCTAssertEqual(resumed.test, straight.test)
        try assertSameRun(path("straight.h5"), path("stopped.h5"))
        let validation = try Runs.evaluate(modelPath: path("stopped.h5"), dataRoot: nil, split: .validation)
        XCTAssertEqual(validation.count, 143)
        XCTAssertEqual(validation.accuracy, resumed.validationAccuracy ?? -1, accuracy: 1e-12)
        let test = try Runs.evaluate(modelPath: path("stopped.h5"), dataRoot: nil)
        XCTAssertEqual(test.accuracy, resumed.testAccuracy ?? -1, accuracy: 1e-12)
    }

    /// Resume through the checkpoint is bit-identical for a rule with moments and scalar state
    /// (Adam with AMSGrad, a warm-up schedule) and telemetry records survive it.
    func testAdamWithWarmupResumesBitIdentically() throws {
        func adam(epochs: Int, out: String) -> TrainingConfiguration {
            var configuration = configuration(epochs: epochs, out: path(out))
            configuration.optimizerConfig = try! JSONValue.parse("""
                {"class_name": "Adam", "config": {"amsgrad": true, "learning_rate": {"class_name": "Warmup",
                 "config": {"steps": 30, "schedule": {"class_name": "Constant", "config": {"learning_rate": 0.002}}}}}}
                """)
            return configuration
        }
        var hooks = quiet
        hooks.logEvery = 7
        _ = try Runs.train(adam(epochs: 3, out: "straight.h5"), hooks: hooks)
        _ = try Runs.train(adam(epochs: 1, out: "split.h5"), hooks: hooks)
        _ = try Runs.resume(checkpointPath: path("split.h5"), epochs: 3, outputPath: nil, hooks: hooks)
        try assertSameRun(path("straight.h5"), path("split.h5"))
        let straight = try XCTUnwrap(Checkpoint.load(from: path("straight.h5")).training)
        let split = try XCTUnwrap(Checkpoint.load(from: path("split.h5")).training)
        XCTAssertEqual(split.telemetry.steps, straight.telemetry.steps)
        XCTAssertEqual(split.telemetry.updateNorms, straight.telemetry.updateNorms)
        // Another optimizer is refused without --reset-optimizer.
        XCTAssertThrowsError(try Runs.resume(checkpointPath: path("split.h5"), epochs: 4, outputPath: nil,
                                             optimizerConfig: Self.sgd(learningRate: 0.01), hooks: quiet)) {
            XCTAssert("\($0)".contains("--reset-optimizer"), "\($0)")
        }
        _ = try Runs.resume(checkpointPath: path("split.h5"), epochs: 4, outputPath: nil,
                            optimizerConfig: Self.sgd(learningRate: 0.01), resetOptimizer: true, hooks: quiet)
        XCTAssertEqual(try Checkpoint.load(from: path("split.h5")).optimizer?.config["class_name"]?.stringValue, "SGD")
    }

    /// `lrt resume KERAS.h5 --data DIR` continues a Keras model's weights and its saved
    /// optimizer state (SGD momentum from `optimizer_weights`), then writes an lrt checkpoint.
    func testResumeOfAKerasFileContinuesItsOptimizerState() throws {
        // The Keras 3 SGD-momentum file committed with the format tests (8×8×1 inputs, 3 classes).
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../LRTFormatTests/Fixtures/keras3-sgd-momentum.h5").standardized.path
        guard FileManager.default.fileExists(atPath: fixture) else {
            return XCTFail("Keras fixture \(fixture) is missing; it is committed with the tests")
        }
        let model = path("keras.h5")
        try FileManager.default.copyItem(atPath: fixture, toPath: model)
        let keras = try Checkpoint.load(from: model)
        let kerasSteps = try XCTUnwrap(keras.kerasOptimizer?.iteration)
        XCTAssertGreaterThan(kerasSteps, 0)
        // Three classes of 8×8 images, ten each, in both splits.
        for split in ["train", "test"] {
            for label in 0..<3 {
                let folder = path("tiny/\(split)/\(label)")
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                for index in 0..<10 {
                    let pixels = (0..<64).map { UInt8(($0 * (label + 1) + index * 7) % 256) }
                    try PNGCodec.encode(pixels, height: 8, width: 8, channels: 1, toFileAt: "\(folder)/\(index).png")
                }
            }
        }
        _ = try Runs.resume(checkpointPath: model, epochs: 1, outputPath: path("continued.h5"),
                            dataRoot: path("tiny"), hooks: quiet)
        let continued = try Checkpoint.load(from: path("continued.h5"))
        let optimizer = try XCTUnwrap(continued.optimizer)
        XCTAssertEqual(optimizer.config["class_name"]?.stringValue, "SGD")
        XCTAssertEqual(optimizer.config["config"]?["momentum"]?.numberValue ?? 0, 0.9, accuracy: 1e-6)
        XCTAssertEqual(optimizer.step, kerasSteps + 1)  // one batch of 30 images at batch size 32
        XCTAssertEqual(continued.training?.epoch, 1)
    }

    /// A diverging run stops with a clear error and writes nothing.
    func testNonFiniteLossStopsWithoutSaving() throws {
        var configuration = configuration(epochs: 3, out: path("nan.h5"))
        configuration.optimizerConfig = Self.sgd(learningRate: 1e30)
        XCTAssertThrowsError(try Runs.train(configuration, hooks: quiet)) { error in
            XCTAssert("\(error)".contains("loss"), "\(error)")
            XCTAssert("\(error)".contains("--learning-rate"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("nan.h5")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }

    func testResumeRefusesAFinishedRunAndModelOnlyFiles() throws {
        _ = try Runs.train(configuration(epochs: 1, out: path("one.h5")), hooks: quiet)
        XCTAssertThrowsError(try Runs.resume(checkpointPath: path("one.h5"), epochs: 1, outputPath: nil, hooks: quiet)) {
            XCTAssert("\($0)".contains("--epochs above 1"), "\($0)")
        }
    }

    /// Every rule, with the paper's layer rates, learns the digits sample (real data), and the
    /// metrics log receives epoch rows and telemetry records.
    func testEveryOptimizerLearnsDigitsWithThePapersRule() throws {
        let rules: [(String, Double)] = [("SGD", 0.05), ("Adagrad", 0.05), ("RMSprop", 0.001), ("Adam", 0.002),
                                         ("AdamW", 0.002), ("LARS", 2), ("LAMB", 0.005)]
        for (className, learningRate) in rules {
            var configuration = configuration(epochs: 4, out: path("\(className).h5"))
            configuration.optimizerConfig = .object([
                ("class_name", .string(className)),
                ("config", .object([("learning_rate", .number(learningRate)), ("layer_rates", .string("paper"))])),
            ])
            var hooks = quiet
            hooks.logEvery = 10
            hooks.metricsLogPath = path("\(className).jsonl")
            let summary = try Runs.train(configuration, hooks: hooks)
            XCTAssertGreaterThan(summary.testAccuracy ?? 0, 0.8, className)
            let lines = try String(contentsOfFile: path("\(className).jsonl"), encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(lines.filter { $0.contains("\"type\": \"epoch\"") }.count, 4, className)
            XCTAssertEqual(lines.filter { $0.contains("\"type\": \"telemetry\"") }.count, 4 * 23 / 10, className)
        }
    }

    func testBadConfigurationsAreNamed() {
        var configuration = configuration(epochs: 0, out: path("x.h5"))
        XCTAssertThrowsError(try Runs.train(configuration, hooks: quiet)) { XCTAssert("\($0)".contains("epochs 0")) }
        configuration.epochs = 1
        configuration.batchSize = 0
        XCTAssertThrowsError(try Runs.train(configuration, hooks: quiet)) { XCTAssert("\($0)".contains("batch size 0")) }
        configuration.batchSize = 8
        configuration.dataRoot = path("nowhere")
        XCTAssertThrowsError(try Runs.train(configuration, hooks: quiet)) { XCTAssert("\($0)".contains("nowhere")) }
    }
}

private extension MetricsHistory {
    /// The same history with wall-clock columns taken from `other`, which legitimately differ between runs.
    func removingTimings(matching other: MetricsHistory?) -> MetricsHistory {
        guard let other else { return self }
        var columns = self.columns
        for name in ["seconds", "images_per_second"] { columns[name] = other.columns[name] }
        return MetricsHistory(names: names, columns: columns)
    }
}
