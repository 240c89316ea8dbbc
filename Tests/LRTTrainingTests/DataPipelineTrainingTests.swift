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
        _ = try Runs.resume(checkpointPath: path("stopped.h5"), epochs: 2, outputPath: nil, hooks: quiet)
        let straight = try Checkpoint.load(from: path("straight.h5")), resumed = try Checkpoint.load(from: path("stopped.h5"))
        for (left, right) in zip(straight.model.parameters, resumed.model.parameters) {
            XCTAssertEqual(left.value.storage, right.value.storage, "\(left.path) differs")
        }
        let a = try XCTUnwrap(straight.training), b = try XCTUnwrap(resumed.training)
        XCTAssertEqual([a.epoch, a.globalStep], [b.epoch, b.globalStep])
        XCTAssertEqual(a.generatorState, b.generatorState)
        XCTAssertEqual(a.augmentationGeneratorState, b.augmentationGeneratorState)
        XCTAssertEqual(a.history.columns["loss"], b.history.columns["loss"])
        XCTAssertEqual(a.test, b.test)
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
