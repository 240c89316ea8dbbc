import XCTest
import Foundation
import LRTData
import LRTFormat
import LRTLayers
import LRTOptimizers
import LRTTensor
@testable import LRTTraining

/// Records every hook call, and can act at a given step.
private final class RecordingCallback: TrainingCallback {
    var calls: [String] = []
    var atBatchBegin: ((Trainer) throws -> Void)?
    func onTrainBegin(_ trainer: Trainer) throws { calls.append("trainBegin \(trainer.state.globalStep)") }
    func onEpochBegin(_ trainer: Trainer) throws { calls.append("epochBegin \(trainer.state.epoch)") }
    func onBatchBegin(_ trainer: Trainer) throws {
        calls.append("batchBegin \(trainer.state.globalStep)")
        try atBatchBegin?(trainer)
    }
    func onBatchEnd(_ trainer: Trainer) throws { calls.append("batchEnd \(trainer.state.globalStep)") }
    func onEpochEnd(_ trainer: Trainer, metrics: [(name: String, value: Double)]) throws {
        calls.append("epochEnd \(trainer.state.epoch) \(metrics.map(\.name).joined(separator: ","))")
    }
    func onTrainEnd(_ trainer: Trainer) throws { calls.append("trainEnd \(trainer.state.globalStep)") }
}

/// Eight 2×2 images of two classes, in memory: a trainer for callbacks fed constructed metrics.
private struct TinyDataset: Dataset {
    var count: Int { 8 }
    var labels: [Int32] { (0..<8).map { Int32($0 % 2) } }
    var classNames: [String] { ["a", "b"] }
    var exampleShape: [Int] { [2, 2, 1] }
    func fill(_ indices: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32], generator: inout SeededGenerator) {
        batch = Tensor(shape: [indices.count, 2, 2, 1], storage: indices.flatMap { index in (0..<4).map { Float(index * 4 + $0) / 32 } })
        labels = indices.map { Int32($0 % 2) }
    }
}

final class CallbackTests: TrainingTestCase {
    private let modelConfig = TrainingTestCase.digitsMLP(hiddenUnits: 16)

    /// 1,437 training images in batches of 64: 23 steps per epoch; no validation split unless asked.
    private func configuration(epochs: Int, out: String, validationSplit: Double = 0) -> TrainingConfiguration {
        var configuration = TrainingConfiguration(dataRoot: sampleRoot, modelConfig: modelConfig)
        configuration.epochs = epochs
        configuration.batchSize = 64
        configuration.optimizerConfig = TrainingTests.sgd(learningRate: 0.05)
        configuration.seed = 7
        configuration.outputPath = path(out)
        configuration.data.validationSplit = validationSplit
        return configuration
    }

    private var quiet: Runs.Hooks {
        var hooks = Runs.Hooks()
        hooks.progress = { _ in }
        return hooks
    }

    private func lines(_ name: String) throws -> [String] {
        try String(contentsOfFile: path(name), encoding: .utf8).split(separator: "\n").map(String.init)
    }

    // MARK: - Hooks

    /// A library user's callback in `Hooks.callbacks` sees every hook, in Keras's order, with the state counted.
    func testCallbacksAreCalledInOrder() throws {
        let recorder = RecordingCallback()
        var hooks = quiet
        hooks.callbacks = [recorder]
        _ = try Runs.train(configuration(epochs: 2, out: "order.h5"), hooks: hooks)
        var expected = ["trainBegin 0"]
        for epoch in 0..<2 {
            expected.append("epochBegin \(epoch)")
            for step in 0..<23 { expected += ["batchBegin \(epoch * 23 + step)", "batchEnd \(epoch * 23 + step + 1)"] }
            expected.append("epochEnd \(epoch + 1) loss,accuracy,learning_rate,seconds,images_per_second")
        }
        expected.append("trainEnd 46")
        XCTAssertEqual(recorder.calls, expected)
    }

    /// Telemetry is a callback: with `logEvery` 0 nothing is recorded, with 5 every fifth step, each record with
    /// the mini-batch loss and the learning rate.
    func testTelemetryRecorderRecordsLossAndLearningRate() throws {
        var hooks = quiet
        hooks.logEvery = 0
        _ = try Runs.train(configuration(epochs: 1, out: "none.h5"), hooks: hooks)
        XCTAssertEqual(try XCTUnwrap(Checkpoint.load(from: path("none.h5")).training).telemetry.steps, [])
        hooks.logEvery = 5
        _ = try Runs.train(configuration(epochs: 1, out: "five.h5"), hooks: hooks)
        let telemetry = try XCTUnwrap(Checkpoint.load(from: path("five.h5")).training).telemetry
        XCTAssertEqual(telemetry.steps, [5, 10, 15, 20])
        XCTAssertEqual(telemetry.names, ["dense", "dense_1"])
        XCTAssertEqual(telemetry.learningRates, [0.05, 0.05, 0.05, 0.05].map { Double(Float($0)) })
        for loss in telemetry.losses { XCTAssert(loss > 0.01 && loss < 5, "a mini-batch cross-entropy of 10 classes: \(loss)") }
    }

    /// A checkpoint written before per-step losses and rates were kept (lrt at 74a3e29, `--log-every 5`, one
    /// epoch) loads with NaN for them, and resuming it appends records that have them.
    func testOldTelemetryWithoutLossesLoadsAndResumes() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../LRTFormatTests/Fixtures/lrt-v1-telemetry.h5").standardized.path
        try FileManager.default.copyItem(atPath: fixture, toPath: path("old.h5"))
        let old = try XCTUnwrap(Checkpoint.load(from: path("old.h5")).training)
        XCTAssertNil(old.plan)
        XCTAssertEqual(old.telemetry.steps, [5, 10, 15, 20])
        XCTAssertEqual(old.telemetry.losses.count, 4)
        XCTAssert(old.telemetry.losses.allSatisfy(\.isNaN) && old.telemetry.learningRates.allSatisfy(\.isNaN))
        // Without a plan, a bare resume trains one more epoch, with the default telemetry interval (50).
        var hooks = quiet
        hooks.logEvery = 10
        let summary = try Runs.resume(checkpointPath: path("old.h5"), epochs: nil, outputPath: nil, dataRoot: sampleRoot, hooks: hooks)
        XCTAssertEqual(summary.epochs, 2)
        let resumed = try XCTUnwrap(Checkpoint.load(from: path("old.h5")).training)
        XCTAssertEqual(resumed.telemetry.steps, [5, 10, 15, 20, 30, 40])
        XCTAssert(resumed.telemetry.losses[4...].allSatisfy(\.isFinite), "\(resumed.telemetry.losses)")
        XCTAssertEqual(resumed.plan?.epochs, 2)
    }

    // MARK: - Progress

    /// When stderr is not a terminal: an indented line at each tenth of an epoch (23 steps: after steps 3, 5, 7, 9,
    /// 12, 14, 16, 18 and 21, where ⌊10·position/1437⌋ grows), then the epoch's summary line.
    func testProgressLinesEveryTenthOfAnEpoch() throws {
        var written: [String] = []
        var hooks = Runs.Hooks()
        hooks.progress = { written.append($0) }
        hooks.progressStyle = .lines
        hooks.logEvery = 1
        _ = try Runs.train(configuration(epochs: 2, out: "progress.h5"), hooks: hooks)
        let steps = [3, 5, 7, 9, 12, 14, 16, 18, 21]
        XCTAssertEqual(written.count, 2 * (steps.count + 1) + 1, "\(written)")
        for epoch in 1...2 {
            let block = Array(written[(epoch - 1) * 10 ..< epoch * 10])
            for (line, step) in zip(block, steps) {
                let percent = 100 * min(step * 64, 1437) / 1437
                XCTAssertTrue(line.hasPrefix("  epoch \(epoch)/2  step \(step)/23 (\(percent)%)  loss "), line)
                for field in ["accuracy ", " img/s", "ETA ", "multiplier "] { XCTAssertTrue(line.contains(field), "no \(field): \(line)") }
            }
            XCTAssertTrue(block[9].hasPrefix("epoch \(epoch)/2  loss "), block[9])
        }
        XCTAssertTrue(written.last?.hasPrefix("test  test_loss") == true)
        // The bar (a terminal) redraws in place and clears itself before the summary line.
        var drawn: [String] = []
        let printer = ProgressPrinter(totalEpochs: 1, style: .bar, write: { drawn.append("line " + $0) }, redraw: { drawn.append("bar " + $0) })
        var barHooks = quiet
        barHooks.callbacks = [printer]
        _ = try Runs.train(configuration(epochs: 1, out: "bar.h5"), hooks: barHooks)
        XCTAssertTrue(drawn.first?.hasPrefix("bar epoch 1/1  [") == true, "\(drawn)")
        XCTAssertTrue(drawn.contains { $0.hasPrefix("bar epoch 1/1  [========================]  23/23") }, "\(drawn)")
        XCTAssertEqual(drawn.suffix(2).map { String($0.prefix(18)) }, ["bar ", "line epoch 1/1  lo"])
    }

    /// `quiet` prints nothing: no epoch lines, no test line.
    func testQuietPrintsNothing() throws {
        var written: [String] = []
        var hooks = Runs.Hooks()
        hooks.progress = { written.append($0) }
        hooks.progressStyle = .lines
        hooks.quiet = true
        _ = try Runs.train(configuration(epochs: 1, out: "quiet.h5"), hooks: hooks)
        XCTAssertEqual(written, [])
    }

    // MARK: - Logs

    /// CSV: Keras CSVLogger's columns and 0-based epochs, values equal to the checkpoint's history (float32 there);
    /// the steps file equals the checkpoint's telemetry.
    func testCSVLogRowsEqualTheCheckpointHistory() throws {
        var hooks = quiet
        hooks.logEvery = 5
        hooks.logPath = path("run.csv")
        _ = try Runs.train(configuration(epochs: 2, out: "csv.h5", validationSplit: 0.1), hooks: hooks)
        let training = try XCTUnwrap(Checkpoint.load(from: path("csv.h5")).training)
        let rows = try lines("run.csv").map { $0.split(separator: ",").map(String.init) }
        let header = ["epoch", "accuracy", "images_per_second", "learning_rate", "loss", "seconds", "val_accuracy", "val_loss"]
        XCTAssertEqual(rows.first, header)
        XCTAssertEqual(rows.count, 3)
        for (epoch, row) in rows.dropFirst().enumerated() {
            XCTAssertEqual(row[0], String(epoch))
            for (column, name) in header.enumerated().dropFirst() {
                let logged = try XCTUnwrap(Double(row[column]), row[column])
                let saved = try XCTUnwrap(training.history.columns[name]?[epoch])
                XCTAssertEqual(Float(logged), Float(saved), "\(name) of epoch \(epoch)")
            }
        }
        let steps = try lines("run.steps.csv").map { $0.split(separator: ",").map(String.init) }
        XCTAssertEqual(steps.first, ["step", "epoch", "loss", "learning_rate", "multiplier/dense", "multiplier/dense_1",
                                     "gradient_norm/dense", "gradient_norm/dense_1"])
        let telemetry = training.telemetry
        XCTAssertEqual(steps.dropFirst().map { Int($0[0]) }, telemetry.steps)
        XCTAssertEqual(telemetry.steps, Array(stride(from: 5, through: 40, by: 5)))  // 1,294 images: 21 steps per epoch
        for (record, row) in steps.dropFirst().enumerated() {
            XCTAssertEqual(row[1], telemetry.steps[record] <= 21 ? "0" : "1")
            let values = row[2...].map { Float(Double($0)!) }
            let saved = [telemetry.losses[record], telemetry.learningRates[record]] + telemetry.multipliers[record]
                + telemetry.gradientNorms[record]
            XCTAssertEqual(values, saved.map(Float.init), "step \(telemetry.steps[record])")
        }
        // Without validation, Keras adds val_ columns holding NA.
        var noValidation = quiet
        noValidation.logPath = path("plain.csv")
        _ = try Runs.train(configuration(epochs: 1, out: "plain.h5"), hooks: noValidation)
        let plain = try lines("plain.csv")
        XCTAssertEqual(plain.first, "epoch,accuracy,images_per_second,learning_rate,loss,seconds,val_accuracy,val_images_per_second,val_learning_rate,val_loss,val_seconds")
        XCTAssertTrue(plain.last?.hasSuffix(",NA,NA,NA,NA,NA") == true, "\(plain)")
    }

    /// Stopped mid-epoch and resumed, the logs hold each row once, as an uninterrupted run's: rows written past the
    /// checkpoint before a crash are dropped, and a bare resume keeps logging to the planned file.
    func testResumedLogsHoldEachRowOnce() throws {
        for format in ["csv", "jsonl"] {
            var hooks = quiet
            hooks.logEvery = 4
            hooks.logPath = path("straight.\(format)")
            _ = try Runs.train(configuration(epochs: 2, out: "straight-\(format).h5"), hooks: hooks)
            hooks.logPath = path("stopped.\(format)")
            var batches = 0
            hooks.shouldStop = { batches += 1; return batches == 30 }  // in epoch 2, at step 30
            _ = try Runs.train(configuration(epochs: 2, out: "stopped-\(format).h5"), hooks: hooks)
            // A crash after the checkpoint had written a row for step 32: the resumed run writes it again.
            let stepsLog = format == "csv" ? "stopped.steps.csv" : "stopped.jsonl"
            let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path(stepsLog)))
            handle.seekToEndOfFile()
            handle.write(Data((format == "csv" ? "32,1,9,9,9,9,9,9\n" : #"{"type": "telemetry", "epoch": 2, "step": 32, "layers": []}"# + "\n").utf8))
            try handle.close()
            _ = try Runs.resume(checkpointPath: path("stopped-\(format).h5"), epochs: nil, outputPath: nil, hooks: quiet)
            // Timings differ between runs: compare every other field.
            func withoutTimings(_ name: String) throws -> [String] {
                let rows = try lines(name)
                if format == "csv" {
                    let header = rows[0].split(separator: ",").map(String.init)
                    let timings = Set(header.indices.filter { header[$0].hasSuffix("seconds") || header[$0].hasSuffix("images_per_second") })
                    return rows.map { row in
                        row.split(separator: ",").enumerated().map { timings.contains($0.offset) ? "-" : String($0.element) }.joined(separator: ",")
                    }
                }
                return try rows.map { row in
                    guard case .object(let members) = try JSONValue.parse(row) else { return row }
                    return JSONValue.object(members.filter { !["seconds", "images_per_second"].contains($0.key) }).serialized
                }
            }
            XCTAssertEqual(try withoutTimings("stopped.\(format)"), try withoutTimings("straight.\(format)"), format)
            if format == "csv" { XCTAssertEqual(try lines("stopped.steps.csv"), try lines("straight.steps.csv")) }
        }
    }

    /// A --log file that lrt did not write is never touched.
    func testLogRefusesAFileItDidNotWrite() throws {
        try "name,value\nx,1\n".write(toFile: path("data.csv"), atomically: true, encoding: .utf8)
        var hooks = quiet
        hooks.logPath = path("data.csv")
        XCTAssertThrowsError(try Runs.train(configuration(epochs: 1, out: "refused.h5"), hooks: hooks)) {
            XCTAssert("\($0)".contains("is not an lrt CSV log"), "\($0)")
        }
        XCTAssertEqual(try String(contentsOfFile: path("data.csv"), encoding: .utf8), "name,value\nx,1\n")
    }

    // MARK: - TensorBoard encoding

    /// CRC-32C against the known vectors (RFC 3720 B.4 and the usual check value), and TFRecord framing.
    func testCRC32CAndRecordFraming() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum(Array(0..<32)), 0x46DD_794E)
        var varint: [UInt8] = []
        EventEncoding.appendVarint(300, to: &varint)
        XCTAssertEqual(varint, [0xAC, 0x02])
        let record = EventEncoding.record([1, 2, 3])
        XCTAssertEqual(record.count, 8 + 4 + 3 + 4)
        XCTAssertEqual(Array(record[0..<8]), [3, 0, 0, 0, 0, 0, 0, 0])
        let crc = CRC32C.checksum([UInt8]([1, 2, 3]))
        let masked = ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
        XCTAssertEqual(Array(record[15..<19]), withUnsafeBytes(of: masked.littleEndian) { Array($0) })
        // Event{wall_time: 1.0, step: 3, summary{value{tag: "a", simple_value: 0.5}}}
        XCTAssertEqual(EventEncoding.scalars([("a", 0.5)], step: 3, wallTime: 1),
                       [0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x10, 3, 0x2A, 10, 0x0A, 8, 0x0A, 1, 0x61, 0x15, 0, 0, 0, 0x3F])
        // Event{wall_time: 1.0, step: 5, session_log{status: START}} (session_log is field 7)
        XCTAssertEqual(EventEncoding.sessionStart(step: 5, wallTime: 1), [0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x10, 5, 0x3A, 2, 0x08, 0x01])
    }

    /// A run stopped mid-epoch records its event files' lengths in its checkpoint; events written past it (here an
    /// epoch-level one, which TensorBoard's restart rule cannot drop, as a run killed between its epoch's events and
    /// its epoch-end save leaves them) are cut off when it resumes, and a file lrt did not write is never cut.
    func testResumeCutsTensorBoardEventsPastTheCheckpoint() throws {
        var hooks = quiet
        hooks.logEvery = 4
        hooks.tensorBoardPath = path("tb")
        var batches = 0
        hooks.shouldStop = { batches += 1; return batches == 30 }  // in epoch 2, at step 30
        _ = try Runs.train(configuration(epochs: 2, out: "stopped.h5", validationSplit: 0.1), hooks: hooks)
        let extents = try XCTUnwrap(Checkpoint.load(from: path("stopped.h5")).training).eventFiles
        XCTAssertEqual(extents.map { ($0.path as NSString).deletingLastPathComponent }, [path("tb/train"), path("tb/validation")])
        for extent in extents {
            XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: extent.path)[.size] as? Int, extent.length, extent.path)
            let handle = try XCTUnwrap(FileHandle(forWritingAtPath: extent.path))
            handle.seekToEndOfFile()
            handle.write(Data(EventEncoding.record(EventEncoding.scalars([("epoch_loss", 9)], step: 1, wallTime: 1))))
            try handle.close()
        }
        let foreign = path("tb/train/events.out.tfevents.1.elsewhere")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: foreign))
        try EventFileWriter.cut(foreign, to: 1, in: [path("tb/train")])
        try EventFileWriter.cut(extents[0].path, to: 0, in: [path("tb/validation")])  // not in that folder: left
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: foreign)[.size] as? Int, 3)
        XCTAssertGreaterThan(try FileManager.default.attributesOfItem(atPath: extents[0].path)[.size] as? Int ?? 0, extents[0].length)

        _ = try Runs.resume(checkpointPath: path("stopped.h5"), epochs: nil, outputPath: nil, hooks: quiet)
        for extent in extents {
            XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: extent.path)[.size] as? Int, extent.length, extent.path)
        }
        let resumed = try XCTUnwrap(Checkpoint.load(from: path("stopped.h5")).training).eventFiles
        XCTAssertEqual(resumed.count, 2)
        XCTAssertTrue(Set(resumed.map(\.path)).isDisjoint(with: extents.map(\.path)), "the resumed run writes new files")
        for extent in resumed {
            XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: extent.path)[.size] as? Int, extent.length, extent.path)
        }
    }

    // MARK: - Early stopping, keep-best, save-every

    private func tinyTrainer() throws -> Trainer {
        var generator = SeededGenerator(seed: 1)
        let model = try ModelConfig.build(text: """
            {"class_name": "Sequential", "config": {"name": "tiny", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 2, 2, 1]}}, {"class_name": "Flatten", "config": {}},
              {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}]}}
            """, generator: &generator)
        return Trainer(model: model, optimizer: Optimizer(configuration: TrainingConfiguration.defaultOptimizer),
                       trainData: TinyDataset(), validationData: TinyDataset(), state: TrainingState())
    }

    /// Fed constructed metrics, early stopping stops where Keras 3.15's EarlyStopping does (the sequences and
    /// epochs below were run through `keras.callbacks.EarlyStopping`): val_loss 1.0, 0.8, 0.85, 0.79, 0.9, 0.95, 0.7.
    func testEarlyStoppingStopsWhereKerasDoes() throws {
        let sequence = [1.0, 0.8, 0.85, 0.79, 0.9, 0.95, 0.7]
        for (patience, delta, stop, best, bestEpoch) in [(2, 0.02, 4, 0.8, 2), (2, 0.0, 6, 0.79, 4), (1, 0.0, 3, 0.8, 2)] {
            let trainer = try tinyTrainer()
            let callback = EarlyStopping(monitor: try MonitoredMetric("val_loss"), patience: patience, minimumDelta: delta, report: { _ in })
            try callback.onTrainBegin(trainer)
            var stoppedAfter = 0
            for value in sequence {
                trainer.state.epoch += 1
                try callback.onEpochEnd(trainer, metrics: [("loss", 0.1), ("val_loss", value)])
                if trainer.stopTraining { stoppedAfter = trainer.state.epoch; break }
            }
            XCTAssertEqual(stoppedAfter, stop, "patience \(patience), min delta \(delta)")
            XCTAssertEqual(trainer.state.earlyStopping, MonitorState(best: best, bestEpoch: bestEpoch, wait: patience, stoppedEpoch: stop))
        }
        // Accuracy is maximized: 0.5, 0.6, 0.6, 0.55 with patience 2 and min delta 0.01 stops after epoch 4.
        let trainer = try tinyTrainer()
        let callback = EarlyStopping(monitor: try MonitoredMetric("val_accuracy"), patience: 2, minimumDelta: 0.01, report: { _ in })
        try callback.onTrainBegin(trainer)
        for value in [0.5, 0.6, 0.6, 0.55, 0.7] where !trainer.stopTraining {
            trainer.state.epoch += 1
            try callback.onEpochEnd(trainer, metrics: [("val_accuracy", value)])
        }
        XCTAssertEqual(trainer.state.earlyStopping, MonitorState(best: 0.6, bestEpoch: 2, wait: 2, stoppedEpoch: 4))
        // Never the test split; a val_ metric needs a validation split.
        XCTAssertThrowsError(try MonitoredMetric("test_accuracy")) { XCTAssert("\($0)".contains("never"), "\($0)") }
        var hooks = quiet
        hooks.earlyStoppingPatience = 2
        XCTAssertThrowsError(try Runs.train(configuration(epochs: 2, out: "novalidation.h5"), hooks: hooks)) {
            XCTAssert("\($0)".contains("no validation split"), "\($0)")
        }
    }

    /// In a real run, early stopping's state is saved, the run counts as finished (test metrics recorded), a bare
    /// resume refuses to go on, and `--epochs` continues with a fresh wait.
    func testEarlyStoppingEndsTheRunAndIsResumable() throws {
        var hooks = quiet
        hooks.earlyStoppingPatience = 1
        hooks.monitor = "loss"
        hooks.minimumDelta = 100  // nothing improves after the first epoch
        var reported: [String] = []
        hooks.progress = { reported.append($0) }
        let summary = try Runs.train(configuration(epochs: 5, out: "early.h5"), hooks: hooks)
        XCTAssertEqual(summary.epochs, 2)
        XCTAssertEqual(summary.earlyStoppedEpoch, 2)
        XCTAssertFalse(summary.stoppedEarly)
        XCTAssertNotNil(summary.test)
        XCTAssertTrue(reported.contains { $0.hasPrefix("early stopping after epoch 2: loss did not improve by more than 100.0 for 1 epochs") }, "\(reported)")
        let saved = try XCTUnwrap(Checkpoint.load(from: path("early.h5")).training)
        XCTAssertEqual(saved.earlyStopping?.stoppedEpoch, 2)
        XCTAssertEqual(saved.earlyStopping?.bestEpoch, 1)
        XCTAssertEqual(saved.plan?.patience, 1)
        XCTAssertEqual(saved.plan?.minimumDelta, 100)
        XCTAssertThrowsError(try Runs.resume(checkpointPath: path("early.h5"), epochs: nil, outputPath: nil, hooks: quiet)) {
            XCTAssert("\($0)".contains("stopped early at epoch 2"), "\($0)")
        }
        let more = try Runs.resume(checkpointPath: path("early.h5"), epochs: 4, outputPath: nil, hooks: quiet)
        XCTAssertEqual(more.epochs, 3, "a fresh wait of patience 1: one more epoch")
    }

    /// Keep-best holds the epoch whose monitored value was best, as a resumable checkpoint; an existing file that
    /// is not a checkpoint is refused before training.
    func testKeepBestKeepsTheBestEpoch() throws {
        var hooks = quiet
        hooks.keepBestPath = path("best.h5")
        hooks.monitor = "val_accuracy"
        var configuration = configuration(epochs: 4, out: "last.h5", validationSplit: 0.1)
        configuration.optimizerConfig = TrainingTests.sgd(learningRate: 0.3)  // a rate that makes validation wander
        _ = try Runs.train(configuration, hooks: hooks)
        let last = try XCTUnwrap(Checkpoint.load(from: path("last.h5")).training)
        let accuracies = try XCTUnwrap(last.history.columns["val_accuracy"])
        let bestEpoch = accuracies.indices.max { accuracies[$0] < accuracies[$1] || accuracies[$0] == accuracies[$1] && $0 > $1 }! + 1
        let best = try XCTUnwrap(Checkpoint.load(from: path("best.h5")).training)
        XCTAssertEqual(best.epoch, bestEpoch, "\(accuracies)")
        XCTAssertEqual(last.keepBest?.bestEpoch, bestEpoch)
        XCTAssertEqual(Float(last.keepBest?.best ?? -1), Float(accuracies[bestEpoch - 1]))
        XCTAssertEqual(best.history.columns["val_accuracy"]?.last, accuracies[bestEpoch - 1])

        try "not a model".write(toFile: path("notes.h5"), atomically: true, encoding: .utf8)
        hooks.keepBestPath = path("notes.h5")
        XCTAssertThrowsError(try Runs.train(configuration, hooks: hooks)) { XCTAssert("\($0)".contains("--keep-best"), "\($0)") }
        XCTAssertEqual(try String(contentsOfFile: path("notes.h5"), encoding: .utf8), "not a model")
    }

    /// `saveEvery` saves mid-epoch; the file saved at step 30 (taken by a user callback before step 31) resumed with a
    /// bare resume finishes the planned 2 epochs bit-identically to an uninterrupted run.
    func testSaveEveryThenBareResumeFinishesThePlanBitIdentically() throws {
        _ = try Runs.train(configuration(epochs: 2, out: "straight.h5"), hooks: quiet)
        var hooks = quiet
        hooks.saveEvery = 10
        let copier = RecordingCallback()
        copier.atBatchBegin = { [unowned self] trainer in
            if trainer.state.globalStep == 30 { try FileManager.default.copyItem(atPath: self.path("saved.h5"), toPath: self.path("at30.h5")) }
        }
        hooks.callbacks = [copier]
        _ = try Runs.train(configuration(epochs: 2, out: "saved.h5"), hooks: hooks)
        let at30 = try XCTUnwrap(Checkpoint.load(from: path("at30.h5")).training)
        XCTAssertEqual([at30.epoch, at30.globalStep, at30.position], [1, 30, 7 * 64])
        XCTAssertEqual(at30.plan?.epochs, 2)
        XCTAssertEqual(at30.plan?.saveEvery, 10)
        let summary = try Runs.resume(checkpointPath: path("at30.h5"), epochs: nil, outputPath: nil, hooks: quiet)
        XCTAssertEqual(summary.epochs, 2)
        let straight = try Checkpoint.load(from: path("straight.h5")), resumed = try Checkpoint.load(from: path("at30.h5"))
        for (left, right) in zip(straight.model.parameters, resumed.model.parameters) {
            XCTAssertEqual(left.value.storage, right.value.storage, "\(left.path) differs")
        }
        XCTAssertEqual(straight.optimizer?.slots.count, resumed.optimizer?.slots.count)
        for (path, slots) in straight.optimizer?.slots ?? [:] { XCTAssertEqual(slots, resumed.optimizer?.slots[path], path) }
        XCTAssertEqual(straight.training?.telemetry, resumed.training?.telemetry)
        XCTAssertEqual(straight.training?.test, resumed.training?.test)
    }

    /// `--sync-batch-norm` is kept in the plan: a bare resume keeps it, an explicit false turns it off; on one
    /// process it changes nothing, so the weights equal those of a run without it.
    func testSyncBatchNormIsKeptByThePlanAndChangesNothingOnOneProcess() throws {
        _ = try Runs.train(configuration(epochs: 1, out: "plain.h5"), hooks: quiet)
        var hooks = quiet
        hooks.synchronizeBatchNormalization = true
        _ = try Runs.train(configuration(epochs: 1, out: "synchronized.h5"), hooks: hooks)
        let plain = try Checkpoint.load(from: path("plain.h5")), synchronized = try Checkpoint.load(from: path("synchronized.h5"))
        XCTAssertEqual(plain.training?.plan?.synchronizeBatchNormalization, false)
        XCTAssertEqual(synchronized.training?.plan?.synchronizeBatchNormalization, true)
        XCTAssertEqual(plain.model.weights.map(\.value.storage), synchronized.model.weights.map(\.value.storage))
        _ = try Runs.resume(checkpointPath: path("synchronized.h5"), epochs: 2, outputPath: nil, hooks: quiet)
        XCTAssertEqual(try Checkpoint.load(from: path("synchronized.h5")).training?.plan?.synchronizeBatchNormalization, true)
        var off = quiet
        off.synchronizeBatchNormalization = false
        _ = try Runs.resume(checkpointPath: path("synchronized.h5"), epochs: 3, outputPath: nil, hooks: off)
        XCTAssertEqual(try Checkpoint.load(from: path("synchronized.h5")).training?.plan?.synchronizeBatchNormalization, false)
    }

    /// A new learning rate on resume keeps the optimizer's slots and says what changed; `epochs` beyond the plan extends it.
    func testResumeWithANewLearningRateSaysWhatChanged() throws {
        _ = try Runs.train(configuration(epochs: 1, out: "rate.h5"), hooks: quiet)
        var said: [String] = []
        var hooks = Runs.Hooks()
        hooks.progress = { said.append($0) }
        _ = try Runs.resume(checkpointPath: path("rate.h5"), epochs: 3, outputPath: nil,
                            optimizerConfig: TrainingTests.sgd(learningRate: 0.01), hooks: hooks)
        XCTAssertEqual(said.first, "learning rate 0.05 → 0.01; optimizer state kept")
        let saved = try XCTUnwrap(Checkpoint.load(from: path("rate.h5")).training)
        XCTAssertEqual(saved.epoch, 3)
        XCTAssertEqual(saved.plan?.epochs, 3)
        XCTAssertEqual(saved.history.columns["learning_rate"]?.map { Float($0) }, [0.05, 0.01, 0.01])
    }
}
