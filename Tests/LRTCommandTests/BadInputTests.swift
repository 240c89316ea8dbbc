import Foundation
import LRTTensor
import LRTData
import LRTHDF5
import XCTest

/// Bad datasets, model configs, options and checkpoint files: each fails with one error
/// line naming the bad thing, without crashing, and leaves the output folder untouched.
final class BadInputTests: CommandTestCase {
    private var dataset: URL!
    private var model: URL!
    private var checkpoint: String { outputs.appendingPathComponent("model.h5").path }

    override func setUpWithError() throws {
        try super.setUpWithError()
        dataset = try makeDataset()
        model = try makeModel()
    }

    /// `lrt train` of the tiny model on `data` with `options`, into out/model.h5.
    private func train(data: URL, _ options: [String] = []) -> [String] {
        ["train", "--model", model.path, "--data", data.path, "--epochs", "1", "--out", checkpoint] + options
    }

    // MARK: - Datasets

    func testMissingDataFolder() throws {
        let missing = inputs.appendingPathComponent("no-such-dataset")
        try assertFailsCleanly(train(data: missing), mentioning: [missing.path])
    }

    func testDataFolderWithoutTestSplitTrainsAndValidatesOnAHeldOutPart() throws {
        // Once an error ("has no test/ subfolder"); now train/ alone is a dataset, without test metrics.
        let data = try copyDataset(dataset, to: "no-test")
        try FileManager.default.removeItem(at: data.appendingPathComponent("test"))
        let run = try lrtSucceeds(train(data: data))
        XCTAssertTrue(run.standardOutput.contains("val_accuracy"), "\(run)")
        XCTAssertFalse(run.standardOutput.contains("test accuracy"), "\(run)")
        try assertFailsCleanly(["eval", checkpoint], mentioning: ["no test split", "--split validation"])
    }

    func testAFIFONamedAsAnImageIsRefusedAtOnce() throws {
        let data = try copyDataset(dataset, to: "fifo")
        let fifo = data.appendingPathComponent("train/left/x.png")
        XCTAssertEqual(mkfifo(fifo.path, 0o644), 0)
        try assertFailsCleanly(train(data: data), mentioning: [fifo.path, "FIFO"])
    }

    func testTrainFolderWithoutClassFolders() throws {
        let data = inputs.appendingPathComponent("empty")
        for split in ["train", "test"] {
            try FileManager.default.createDirectory(at: data.appendingPathComponent(split), withIntermediateDirectories: true)
        }
        try assertFailsCleanly(train(data: data), mentioning: [data.appendingPathComponent("train").path])
    }

    func testClassFolderWithoutImages() throws {
        let data = try copyDataset(dataset, to: "no-images")
        let classFolder = data.appendingPathComponent("train/right")
        try FileManager.default.removeItem(at: classFolder)
        try FileManager.default.createDirectory(at: classFolder, withIntermediateDirectories: false)
        try assertFailsCleanly(train(data: data), mentioning: [classFolder.path])
    }

    func testCorruptPNGIsNamed() throws {
        let data = try copyDataset(dataset, to: "corrupt")
        let image = data.appendingPathComponent("train/left/003.png")
        var noise = SeededGenerator(seed: 7)
        try noise.bytes(300).write(to: image)
        try assertFailsCleanly(train(data: data), mentioning: [image.path])
    }

    func testTextFileNamedPNGIsNamed() throws {
        let data = try copyDataset(dataset, to: "text")
        let image = data.appendingPathComponent("test/top/002.png")
        try "this is not an image\n".write(to: image, atomically: true, encoding: .utf8)
        try assertFailsCleanly(train(data: data), mentioning: [image.path])
    }

    func testTruncatedPNGIsNamed() throws {
        let data = try copyDataset(dataset, to: "truncated")
        let image = data.appendingPathComponent("train/right/009.png")
        let bytes = try Data(contentsOf: image)
        try bytes.prefix(bytes.count / 2).write(to: image)
        try assertFailsCleanly(train(data: data), mentioning: [image.path])
    }

    func testImageOfWrongSizeIsNamed() throws {
        let data = try copyDataset(dataset, to: "wrong-size")
        let image = data.appendingPathComponent("train/top/005.png")
        try PNGCodec.encode([UInt8](repeating: 128, count: 9 * 9), height: 9, width: 9, channels: 1, toFileAt: image.path)
        // Images of other sizes are resized by default (once a hard error); --resize error refuses them.
        try assertFailsCleanly(train(data: data, ["--resize", "error"]), mentioning: [image.path, "9×9", "--resize"])
        try lrtSucceeds(train(data: data))
    }

    func testModelWithTooFewOutputsForTheClasses() throws {
        let twoOutputs = try makeModel("two-outputs.json", classes: 2)
        try assertFailsCleanly(["train", "--model", twoOutputs.path, "--data", dataset.path, "--out", checkpoint],
                               mentioning: ["3 classes"])
    }

    // MARK: - Model configs

    func testUnknownLayerClassIsNamed() throws {
        let config = try makeModel("unknown-layer.json", flattenClass: "FancyLayer")
        try assertFailsCleanly(["train", "--model", config.path, "--data", dataset.path, "--out", checkpoint],
                               mentioning: ["FancyLayer"])
    }

    func testInvalidJSONModel() throws {
        let config = inputs.appendingPathComponent("invalid.json")
        try #"{"class_name": "Sequential", "config": {"layers": ["#.write(to: config, atomically: true, encoding: .utf8)
        try assertFailsCleanly(["train", "--model", config.path, "--data", dataset.path, "--out", checkpoint],
                               mentioning: ["JSON"])
    }

    func testMissingModelFileIsNamed() throws {
        let config = inputs.appendingPathComponent("no-such-model.json")
        try assertFailsCleanly(["train", "--model", config.path, "--data", dataset.path, "--out", checkpoint],
                               mentioning: [config.path])
    }

    // MARK: - Options

    func testNegativeLearningRate() throws {
        try assertFailsCleanly(train(data: dataset, ["--learning-rate=-1"]), mentioning: ["--learning-rate", "-1"])
        // As a separate word, ArgumentParser takes "-1" for an option; the error must still name --learning-rate.
        try assertFailsCleanly(train(data: dataset, ["--learning-rate", "-1"]), mentioning: ["--learning-rate"])
    }

    func testNaNLearningRate() throws {
        try assertFailsCleanly(train(data: dataset, ["--learning-rate", "nan"]), mentioning: ["--learning-rate", "nan"])
    }

    func testZeroEpochs() throws {
        try assertFailsCleanly(train(data: dataset, ["--epochs", "0"]), mentioning: ["--epochs", "0"])
    }

    func testZeroBatchSize() throws {
        try assertFailsCleanly(train(data: dataset, ["--batch-size", "0"]), mentioning: ["--batch-size", "0"])
    }

    func testMomentumOfOneAndAHalf() throws {
        try assertFailsCleanly(train(data: dataset, ["--momentum", "1.5"]), mentioning: ["--momentum", "1.5"])
    }

    func testUnknownLayerRateRule() throws {
        try assertFailsCleanly(train(data: dataset, ["--layer-rates", "bogus"]), mentioning: ["--layer-rates", "bogus"])
    }

    func testResumeWithZeroEpochs() throws {
        let good = try trainCheckpoint(dataset: dataset)
        try assertFailsCleanly(["resume", good.path, "--epochs", "0"], mentioning: ["--epochs", "0"])
    }

    // MARK: - Broken checkpoints, for resume, eval and finetune

    /// Each command that reads a checkpoint fails cleanly on `file`, naming it.
    private func assertEveryReaderRejects(_ file: URL, mentioning fragments: [String] = [],
                                          line: UInt = #line) throws {
        let name = file.lastPathComponent
        try assertFailsCleanly(["resume", file.path, "--epochs", "3"], mentioning: [name] + fragments, line: line)
        try assertFailsCleanly(["eval", file.path, "--data", dataset.path], mentioning: [name] + fragments, line: line)
        try assertFailsCleanly(["eval", file.path, "--data", dataset.path, "--json"], mentioning: [name] + fragments, line: line)
        try assertFailsCleanly(["finetune", file.path, "--data", dataset.path, "--epochs", "1", "--out", checkpoint],
                               mentioning: [name] + fragments, line: line)
    }

    func testMissingCheckpoint() throws {
        try assertEveryReaderRejects(inputs.appendingPathComponent("no-such-checkpoint.h5"))
    }

    func testTruncatedCheckpoint() throws {
        let good = try trainCheckpoint("good.h5", dataset: dataset)
        let truncated = inputs.appendingPathComponent("truncated.h5")
        let bytes = try Data(contentsOf: good)
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        try assertEveryReaderRejects(truncated)
    }

    func testTextFileNamedH5() throws {
        let text = inputs.appendingPathComponent("notes.h5")
        try "epoch 1 loss 0.5\n".write(to: text, atomically: true, encoding: .utf8)
        try assertEveryReaderRejects(text)
    }

    func testPNGNamedH5() throws {
        let image = inputs.appendingPathComponent("image.h5")
        try FileManager.default.copyItem(at: dataset.appendingPathComponent("train/left/000.png"), to: image)
        try assertEveryReaderRejects(image)
    }

    func testForeignHDF5File() throws {
        let foreign = inputs.appendingPathComponent("foreign.h5")
        // A valid HDF5 file with a dataset, as another program would write it.
        let file = try HDF5File.create(atPath: foreign.path)
        try file.root.createGroup("measurements").writeFloats("temperature", [20.5, 21, 19.75], shape: [3])
        try file.root.setAttribute("instrument", string: "thermometer")
        try file.close()
        try assertEveryReaderRejects(foreign)
    }

    // MARK: - Outputs

    func testResumeIntoMissingFolderFailsBeforeTrainingAndKeepsTheCheckpoint() throws {
        let good = try trainCheckpoint(dataset: dataset)
        let target = outputs.appendingPathComponent("no-such-folder/resumed.h5")
        let run = try assertFailsCleanly(["resume", good.path, "--epochs", "3", "--out", target.path],
                                         mentioning: [outputs.appendingPathComponent("no-such-folder").path])
        XCTAssertFalse(run.standardError.contains("epoch 3/"), "it trained before failing: \(run)")
    }

    func testTrainOutIntoMissingFolder() throws {
        let target = outputs.appendingPathComponent("no-such-folder/model.h5")
        let run = try assertFailsCleanly(["train", "--model", model.path, "--data", dataset.path, "--epochs", "1", "--out", target.path],
                                         mentioning: [outputs.appendingPathComponent("no-such-folder").path])
        XCTAssertFalse(run.standardError.contains("epoch 1/"), "it trained before failing: \(run)")
    }

    func testFailedTrainKeepsExistingCheckpoint() throws {
        let good = try trainCheckpoint(dataset: dataset)
        let data = try copyDataset(dataset, to: "corrupt")
        let image = data.appendingPathComponent("test/right/000.png")
        var noise = SeededGenerator(seed: 11)
        try noise.bytes(64).write(to: image)
        // assertFailsCleanly checks that good.h5 stays byte-identical.
        try assertFailsCleanly(["train", "--model", model.path, "--data", data.path, "--epochs", "1", "--out", good.path],
                               mentioning: [image.path])
    }

    func testFailedResumeKeepsItsCheckpoint() throws {
        let good = try trainCheckpoint(dataset: dataset)
        let moved = inputs.appendingPathComponent("moved-away")
        try assertFailsCleanly(["resume", good.path, "--epochs", "3", "--data", moved.path], mentioning: [moved.path])
    }
}
