import XCTest
import Foundation
import LRTFormat
import LRTLayers
import LRTTensor
@testable import LRTTraining

/// `Runs.finetune` with frozen layers and a new head, on the residual network of
/// ``FunctionalTrainingTests`` (convolutions, BatchNormalization, a Dense head) and the digits sample.
final class FinetuneTests: XCTestCase {
    private var directory: URL!
    private let sampleRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Samples/digits").standardized.path
    /// The frozen layers of the tests: the stem (a convolution and its BatchNormalization) and the block's first pair.
    private let frozen: Set<String> = ["stem", "stem_bn", "conv1", "bn1"]

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lrt-finetune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private var quiet: Runs.Hooks {
        var hooks = Runs.Hooks()
        hooks.progress = { _ in }
        hooks.logEvery = 5
        return hooks
    }

    private func configuration(data: String, out: String, epochs: Int = 1) -> TrainingConfiguration {
        var configuration = TrainingConfiguration(dataRoot: data, modelConfig: FunctionalTrainingTests.residualConfig)
        configuration.epochs = epochs
        configuration.optimizerConfig = .object([
            ("class_name", .string("SGD")),
            ("config", .object([("learning_rate", .number(0.05)), ("momentum", .number(0.9)), ("weight_decay", .number(0.001))])),
        ])
        configuration.seed = 5
        configuration.outputPath = out
        configuration.data.validationSplit = 0
        return configuration
    }

    /// The residual network trained one epoch on all ten digits.
    private func baseCheckpoint() throws -> String {
        let base = path("base.h5")
        _ = try Runs.train(configuration(data: sampleRoot, out: base), hooks: quiet)
        return base
    }

    /// Every stored weight of a checkpoint, by path.
    private func weights(_ checkpoint: String) throws -> [String: [Float]] {
        Dictionary(try Checkpoint.load(from: checkpoint).model.weights.map { ($0.path, $0.value.storage) },
                   uniquingKeysWith: { first, _ in first })
    }

    /// A dataset of the digits 0, 1 and 2 only, linking the sample's class folders.
    private func threeDigits() throws -> String {
        let root = directory.appendingPathComponent("digits012")
        for split in ["train", "test"] {
            let folder = root.appendingPathComponent(split)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for digit in ["0", "1", "2"] {
                try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent(digit).path,
                                                           withDestinationPath: sampleRoot + "/" + split + "/" + digit)
            }
        }
        return root.path
    }

    func testFrozenLayersStayBitIdenticalAndFrozenBatchNormalizationKeepsItsStatistics() throws {
        let base = try baseCheckpoint()
        let finetuned = path("finetuned.h5")
        _ = try Runs.finetune(modelPath: base, configuration: configuration(data: sampleRoot, out: finetuned),
                              options: Runs.FinetuneOptions(freeze: ["stem*", "conv1", "bn1"]), hooks: quiet)
        let before = try weights(base), after = try weights(finetuned)
        XCTAssertEqual(Set(before.keys), Set(after.keys))
        for (path, values) in before.sorted(by: { $0.key < $1.key }) {
            let layer = String(path.split(separator: ".")[0])
            if frozen.contains(layer) {
                // Weight decay, momentum and the moving statistics would all move them: none may.
                XCTAssertEqual(after[path], values, "frozen \(path) changed")
            } else {
                XCTAssertNotEqual(after[path], values, "trained \(path) did not change")
            }
        }

        let contents = try Checkpoint.load(from: finetuned)
        XCTAssertEqual(contents.model.frozenLayers, frozen, "\"trainable\": false is saved in the model config")
        let optimizer = try XCTUnwrap(contents.optimizer)
        XCTAssertEqual(Set(optimizer.slots.keys), ["conv2.kernel", "bn2.gamma", "bn2.beta", "scores.kernel", "scores.bias"],
                       "frozen layers keep no optimizer slots")
        XCTAssertEqual(optimizer.multipliers.map(\.layerName), ["conv2", "bn2", "scores"], "the paper's rule covers trained layers only")
        let telemetry = try XCTUnwrap(contents.training?.telemetry)
        XCTAssertFalse(telemetry.steps.isEmpty)
        XCTAssertEqual(Set(telemetry.names), ["conv2", "bn2", "scores"], "telemetry covers trained layers only")

        // Resumed, the layers are still frozen: the model config says so.
        _ = try Runs.resume(checkpointPath: finetuned, epochs: 2, outputPath: path("resumed.h5"), hooks: quiet)
        let resumed = try weights(path("resumed.h5"))
        for (path, values) in before where frozen.contains(String(path.split(separator: ".")[0])) {
            XCTAssertEqual(resumed[path], values, "frozen \(path) changed on resume")
        }
    }

    func testNewHeadFitsAThreeClassSubsetOfAFunctionalModel() throws {
        let base = try baseCheckpoint()
        let data = try threeDigits()
        XCTAssertThrowsError(try Runs.finetune(modelPath: base, configuration: configuration(data: data, out: path("x.h5")), hooks: quiet)) { error in
            XCTAssertTrue("\(error)".contains("--new-head"), "no hint to --new-head: \(error)")
            XCTAssertTrue("\(error)".contains("'scores'"), "the head is not named: \(error)")
        }
        var lines: [String] = []
        var hooks = quiet
        hooks.progress = { lines.append($0) }
        let finetuned = path("three.h5")
        let summary = try Runs.finetune(modelPath: base, configuration: configuration(data: data, out: finetuned),
                                        options: Runs.FinetuneOptions(newHead: true, freeze: ["stem*"]), hooks: hooks)
        XCTAssertTrue(lines.contains("new head: Dense 'scores' with 3 units (was 10), initialized afresh"), "\(lines)")
        // Chance is 1/3; after one epoch on the sample's 430 images of 0, 1 and 2: 0.49 (the MNIST test in
        // LRTCommandTests checks the accuracy a finetuned CNN reaches).
        XCTAssertGreaterThan(summary.testAccuracy ?? 0, 0.4)
        let contents = try Checkpoint.load(from: finetuned)
        XCTAssertEqual(contents.model.outputShape, [3])
        XCTAssertEqual(contents.training?.classNames, ["0", "1", "2"])
        XCTAssertEqual(contents.model.frozenLayers, ["stem", "stem_bn"])
        let before = try weights(base), after = try weights(finetuned)
        XCTAssertEqual(after["scores.kernel"]?.count, 8 * 3)
        XCTAssertEqual(after["stem.kernel"], before["stem.kernel"])
        XCTAssertEqual(after["stem_bn.moving_mean"], before["stem_bn.moving_mean"])
    }

    func testFreezeMistakesAreNamed() throws {
        let base = try baseCheckpoint()
        func failure(_ options: Runs.FinetuneOptions, keepOptimizer: Bool = false) -> String {
            do {
                _ = try Runs.finetune(modelPath: base, configuration: configuration(data: sampleRoot, out: path("x.h5")),
                                      keepOptimizer: keepOptimizer, options: options, hooks: quiet)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        let unmatched = failure(Runs.FinetuneOptions(freeze: ["conv*", "block*"]))
        XCTAssertTrue(unmatched.contains("--freeze 'block*' matches no layer"), unmatched)
        XCTAssertTrue(unmatched.contains("stem, stem_bn, stem_relu, conv1"), unmatched)
        let everything = failure(Runs.FinetuneOptions(freeze: ["*"]))
        XCTAssertTrue(everything.contains("nothing would train"), everything)
        let kept = failure(Runs.FinetuneOptions(newHead: true), keepOptimizer: true)
        XCTAssertTrue(kept.contains("leave out --keep-optimizer"), kept)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.h5")))
    }
}
