import XCTest
import Foundation
import LRTFormat
import LRTLayers
import LRTData
@testable import LRTTraining

/// Runs that stream from the image cache, normalize and weigh classes: each is saved, resumed and applied exactly.
final class DataPipelineTrainingTests: TrainingTestCase {
    private let modelConfig = TrainingTestCase.digitsMLP(hiddenUnits: 32)

    private var quiet: Runs.Hooks {
        var hooks = Runs.Hooks()
        hooks.progress = { _ in }
        return hooks
    }

    private func configuration(out: String, epochs: Int = 2) -> TrainingConfiguration {
        var configuration = TrainingConfiguration(dataRoot: sampleRoot, modelConfig: modelConfig)
        configuration.epochs = epochs
        configuration.batchSize = 64
        configuration.seed = 5
        configuration.outputPath = path(out)
        return configuration
    }

    /// Over the memory budget, the training images are streamed from the cache (the digits fit one chunk, so the
    /// chunk-shuffled order is a uniform one: DataCacheTests checks several chunks); stopping mid-epoch and resuming
    /// gives the same weights and state, bit for bit.
    func testStreamingFromTheCacheResumesBitIdentically() throws {
        func streamed(_ out: String) -> TrainingConfiguration {
            var configuration = configuration(out: out)
            configuration.data.cachePath = path("cache.h5")
            configuration.data.memoryBudget = 50_000  // the 1,437 training images take 91,968 bytes
            configuration.data.augmentation = try! Augmentation(parsing: "flip,brightness")
            configuration.data.normalize = true
            configuration.data.classWeighting = .balanced
            return configuration
        }
        _ = try Runs.train(streamed("straight.h5"), hooks: quiet)
        var hooks = quiet
        var batches = 0
        hooks.shouldStop = { batches += 1; return batches == 27 }  // 1,294 training images: 21 batches per epoch
        XCTAssertTrue(try Runs.train(streamed("stopped.h5"), hooks: hooks).stoppedEarly)
        let saved = try XCTUnwrap(Checkpoint.load(from: path("stopped.h5")).training)
        XCTAssertTrue(saved.streamed)
        XCTAssertEqual(saved.cachePath, path("cache.h5"))
        XCTAssertEqual(saved.epochOrder.sorted(), Array(0..<1294))
        _ = try Runs.resume(checkpointPath: path("stopped.h5"), epochs: 2, outputPath: nil, memoryBudget: 50_000, hooks: quiet)
        try assertSameRun(path("straight.h5"), path("stopped.h5"))
    }

    /// The weights, the counters, the generators, the loss history and the test metrics of two checkpoints are equal.
    private func assertSameRun(_ expected: String, _ actual: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let straight = try Checkpoint.load(from: expected), resumed = try Checkpoint.load(from: actual)
        XCTAssertFalse(straight.model.parameters.isEmpty, file: file, line: line)
        for (left, right) in zip(straight.model.parameters, resumed.model.parameters) {
            XCTAssertEqual(left.value.storage, right.value.storage, "\(left.path) differs", file: file, line: line)
        }
        let a = try XCTUnwrap(straight.training), b = try XCTUnwrap(resumed.training)
        XCTAssertEqual([a.epoch, a.globalStep], [b.epoch, b.globalStep], file: file, line: line)
        XCTAssertEqual(a.generatorState, b.generatorState, file: file, line: line)
        XCTAssertEqual(a.augmentationGeneratorState, b.augmentationGeneratorState, file: file, line: line)
        XCTAssertEqual(a.history.columns["loss"], b.history.columns["loss"], file: file, line: line)
        XCTAssertEqual(a.test, b.test, file: file, line: line)
    }

    /// The digits' image cache as a run builds it (groups `test` and `train`), but in chunks of `chunkBytes`.
    private func buildCache(_ cache: String, chunkBytes: Int) throws {
        let folders = try ["test", "train"].map {
            ImageCache.Folder(name: $0, listing: try ImageListing.list(root: sampleRoot + "/" + $0))
        }
        _ = try ImageCache.prepare(path: cache, folders: folders, preprocessing: Preprocessing(height: 8, width: 8, colorMode: .grayscale),
                                   skipBadImages: false, chunkBytes: chunkBytes)
    }

    private func inode(_ path: String) throws -> Int {
        try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int)
    }

    /// Truncates the image cache when the second epoch begins, after the first epoch's checkpoint is written, and keeps
    /// that checkpoint's bytes.
    private final class CacheTruncator: TrainingCallback {
        let cache: String, checkpoint: String
        var savedCheckpoint: Data?
        init(cache: String, checkpoint: String) { (self.cache, self.checkpoint) = (cache, checkpoint) }
        func onEpochBegin(_ trainer: Trainer) throws {
            guard trainer.state.epoch == 1 else { return }
            savedCheckpoint = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
            XCTAssertEqual(truncate(cache, 0), 0)
        }
    }

    /// An image cache truncated while a run streams from it: the run stops with the cache's error and the checkpoint
    /// of the last epoch named, that checkpoint is unchanged byte for byte, and resuming it from a cache built anew
    /// (given as `cachePath`, and recorded) ends exactly as the uninterrupted run.
    func testACacheTruncatedDuringTheRunStopsItAndTheLastCheckpointResumesExactly() throws {
        func streamed(_ out: String) -> TrainingConfiguration {
            var configuration = configuration(out: out)
            configuration.data.cachePath = path("cache.h5")
            configuration.data.memoryBudget = 50_000  // the 1,437 training images take 91,968 bytes
            return configuration
        }
        // 16 images a chunk: 90 chunks, more than a streamed dataset keeps in memory, so every epoch reads the file.
        try buildCache(path("cache.h5"), chunkBytes: 16 * 64)
        let built = try inode(path("cache.h5"))
        _ = try Runs.train(streamed("straight.h5"), hooks: quiet)
        XCTAssertEqual(try inode(path("cache.h5")), built, "the run streams from the cache built here")

        let truncator = CacheTruncator(cache: path("cache.h5"), checkpoint: path("run.h5"))
        var hooks = quiet
        hooks.callbacks = [truncator]
        XCTAssertThrowsError(try Runs.train(streamed("run.h5"), hooks: hooks)) { error in
            guard case TrainingError.stopped(.unreadableData(let cause), let checkpoint, let epoch) = error else {
                return XCTFail("not a stop on unreadable data: \(error)")
            }
            XCTAssertEqual(cause.kind, .cacheFailed)
            XCTAssertEqual(cause.path, path("cache.h5"))
            XCTAssertEqual([checkpoint, String(epoch)], [path("run.h5"), "1"])
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("the image cache \(path("cache.h5")) could not be read (truncated"), message)
            XCTAssertTrue(message.contains("delete it, and the next run builds it anew"), message)
            XCTAssertTrue(message.hasSuffix("; \(path("run.h5")) still holds epoch 1, intact: continue it with `lrt resume \(path("run.h5"))`"), message)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)")
        }
        let saved = try XCTUnwrap(truncator.savedCheckpoint)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("run.h5"))), saved, "the last checkpoint changed")

        try buildCache(path("rebuilt.h5"), chunkBytes: 16 * 64)
        _ = try Runs.resume(checkpointPath: path("run.h5"), epochs: 2, outputPath: nil, memoryBudget: 50_000,
                            cachePath: path("rebuilt.h5"), hooks: quiet)
        try assertSameRun(path("straight.h5"), path("run.h5"))
        XCTAssertEqual(try Checkpoint.load(from: path("run.h5")).training?.cachePath, path("rebuilt.h5"))
    }

    /// A run that held its training images in memory keeps its order on resume: a smaller memory budget is refused,
    /// naming the size the images need, instead of streaming them in another order.
    func testResumingAnInMemoryRunUnderASmallerBudgetIsRefusedNamingTheSize() throws {
        var cached = configuration(out: "run.h5", epochs: 1)
        cached.data.cachePath = path("cache.h5")
        _ = try Runs.train(cached, hooks: quiet)
        let before = try Data(contentsOf: URL(fileURLWithPath: path("run.h5")))
        XCTAssertThrowsError(try Runs.resume(checkpointPath: path("run.h5"), epochs: 2, outputPath: nil, memoryBudget: 50_000,
                                             hooks: quiet)) { error in
            guard case TrainingError.insufficientMemory(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("held the 1437 images of its training folder \(self.sampleRoot)/train in memory (89.8 KiB), over the memory budget of 48.8 KiB"), message)
            XCTAssertTrue(message.contains("resume with --memory-budget 89.8 KiB or more"), message)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("run.h5"))), before)
        _ = try Runs.resume(checkpointPath: path("run.h5"), epochs: 2, outputPath: nil, memoryBudget: 100_000, hooks: quiet)
        XCTAssertEqual(try Checkpoint.load(from: path("run.h5")).training?.epoch, 2)
    }

    /// Under the budget, the cache only saves decoding: the run is the one decoding into memory gives.
    func testACacheWithinTheBudgetGivesTheInMemoryRun() throws {
        var cached = configuration(out: "cached.h5", epochs: 1)
        cached.data.cachePath = path("cache.h5")
        _ = try Runs.train(cached, hooks: quiet)
        _ = try Runs.train(configuration(out: "plain.h5", epochs: 1), hooks: quiet)
        let a = try Checkpoint.load(from: path("cached.h5")), b = try Checkpoint.load(from: path("plain.h5"))
        XCTAssertEqual(a.model.parameters.map(\.value), b.model.parameters.map(\.value))
        XCTAssertEqual(a.training?.streamed, false)
        XCTAssertTrue(ImageCache.isCache(path("cache.h5")))
    }

    func testOverTheMemoryBudgetWithoutACacheIsAnErrorNamingTheFix() {
        var configuration = configuration(out: "run.h5", epochs: 1)
        configuration.data.memoryBudget = 50_000
        XCTAssertThrowsError(try Runs.train(configuration, hooks: quiet)) { error in
            XCTAssertTrue("\(error)".contains("over the memory budget of 48.8 KiB"), "\(error)")
            XCTAssertTrue("\(error)".contains("--cache FILE.h5"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run.h5")))
    }

    /// The statistics measured on the training split and the class weights are saved; `eval` applies the
    /// normalization as training did (same test metrics).
    func testNormalizationAndClassWeightsAreSavedAndApplied() throws {
        var configuration = configuration(out: "run.h5", epochs: 1)
        configuration.data.normalize = true
        configuration.data.classWeighting = .named(["3": 2, "7": 0.5], source: "weights.json")
        let summary = try Runs.train(configuration, hooks: quiet)
        let state = try XCTUnwrap(Checkpoint.load(from: path("run.h5")).training)
        XCTAssertEqual(state.classWeights, [1, 1, 1, 2, 1, 1, 1, 0.5, 1, 1])
        XCTAssertEqual(state.classWeightSource, "weights.json")
        XCTAssertEqual(state.normalization, "mean-std")
        // The training split: the training folder less the stratified 10% validation split.
        let all = try ImageFolder.load(root: sampleRoot + "/train", height: 8, width: 8, channels: 1)
        let split = try ValidationSplit(labels: all.labels, fraction: 0.1, seed: 5)
        let expected = try Normalization.measure(DatasetSubset(all, indices: split.train))
        XCTAssertEqual(state.normalizationMean, expected.mean)
        XCTAssertEqual(state.normalizationStandardDeviation, expected.standardDeviation)
        XCTAssertNotEqual(expected.mean, try Normalization.measure(all).mean, "measured without the validation images")
        let report = try Runs.evaluate(modelPath: path("run.h5"), dataRoot: nil)
        XCTAssertEqual(report.accuracy, try XCTUnwrap(summary.testAccuracy), accuracy: 1e-12)
        XCTAssertEqual(report.loss, try XCTUnwrap(summary.test?.loss), accuracy: 1e-12)
    }
}
