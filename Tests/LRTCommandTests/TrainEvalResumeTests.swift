import Foundation
import LRTLayers
import XCTest

/// The whole life of a run on a tiny PNG folder: train, eval (table and JSON), resume, finetune.
final class TrainEvalResumeTests: CommandTestCase {
    func testTrainWritesCheckpointThatEvalResumeAndFinetuneRead() throws {
        let dataset = try makeDataset()
        let model = try makeModel()
        let checkpoint = outputs.appendingPathComponent("X.h5")

        // train: progress on stderr, one line per epoch; the summary on stdout.
        let train = try lrtSucceeds(["train", "--model", model.path, "--data", dataset.path,
                                     "--epochs", "2", "--batch-size", "4", "--out", checkpoint.path])
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint.path), "\(train)")
        let progress = train.errorLines.filter { $0.hasPrefix("epoch ") }
        XCTAssertEqual(progress.count, 2, "one progress line per epoch: \(train)")
        for (index, line) in progress.enumerated() {
            XCTAssertTrue(line.hasPrefix("epoch \(index + 1)/2"), line)
            for field in ["loss", "accuracy", "img/s"] {
                XCTAssertTrue(line.contains(field), "progress line lacks \(field): \(line)")
            }
        }
        XCTAssertTrue(train.standardOutput.contains("X.h5"), "\(train)")
        XCTAssertEqual(try snapshot(outputs).keys.sorted(), ["X.h5"], "train left other files behind")

        // eval --json: one JSON object over the 30 test images of the recorded dataset.
        let evalJSON = try lrtSucceeds(["eval", checkpoint.path, "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(evalJSON.standardOutput.utf8))
        let report = try XCTUnwrap(object as? [String: Any], "eval --json printed \(evalJSON.standardOutput)")
        let accuracy = try XCTUnwrap(report["accuracy"] as? Double, "\(report)")
        let loss = try XCTUnwrap(report["loss"] as? Double, "\(report)")
        XCTAssertEqual(report["count"] as? Int, 3 * 10, "\(report)")
        XCTAssertTrue((0...1).contains(accuracy), "\(report)")
        XCTAssertTrue(loss.isFinite && loss >= 0, "\(report)")
        let perClass = try XCTUnwrap(report["per_class"] as? [[String: Any]], "\(report)")
        XCTAssertEqual(perClass.compactMap { $0["class"] as? String }, Self.patternClasses, "\(report)")
        XCTAssertEqual(perClass.compactMap { $0["count"] as? Int }, [10, 10, 10], "\(report)")
        // The checkpoint holds the weights evaluated on the test split once, after the last epoch.
        let testAccuracy = try XCTUnwrap(train.standardOutput.components(separatedBy: "test accuracy ").last?
            .prefix { $0 != ")" }, "no test accuracy in \(train)")
        XCTAssertEqual(accuracy, Double(testAccuracy) ?? -1, accuracy: 1e-4, "eval disagrees with the test accuracy train reported")
        XCTAssertEqual(train.errorLines.filter { $0.hasPrefix("test ") && $0.contains("test_accuracy") }.count, 1, "\(train)")
        // Validation is a held-out tenth of train/ (stratified: 1 of each class's 10), never the test split,
        // and `eval --split validation` reads exactly those files.
        let lastValidation = try XCTUnwrap(progress.last?.components(separatedBy: "val_accuracy ").last?
            .split(separator: " ").first.flatMap { Double($0) }, "no val_accuracy in \(progress)")
        let validation = try lrtSucceeds(["eval", checkpoint.path, "--split", "validation", "--json"])
        let validationReport = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(validation.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(validationReport["count"] as? Int, 3, "\(validationReport)")
        XCTAssertEqual(validationReport["accuracy"] as? Double ?? -1, lastValidation, accuracy: 1e-4,
                       "eval --split validation disagrees with the last epoch's val_accuracy")

        // eval: a table with a row per class.
        let evalTable = try lrtSucceeds(["eval", checkpoint.path])
        let rows = evalTable.standardOutput.components(separatedBy: "\n")
        XCTAssertTrue(rows.contains { $0.hasPrefix("accuracy") }, "\(evalTable)")
        for className in Self.patternClasses {
            XCTAssertTrue(rows.contains { $0.hasPrefix(className + " ") && $0.contains("/10") }, "no row for \(className): \(evalTable)")
        }

        // resume: continues from epoch 2 to epoch 3, into the same file.
        let resume = try lrtSucceeds(["resume", checkpoint.path, "--epochs", "3"])
        XCTAssertEqual(resume.errorLines.filter { $0.hasPrefix("epoch ") }.map { String($0.prefix(9)) }, ["epoch 3/3"], "\(resume)")
        XCTAssertTrue(resume.standardOutput.contains("epoch 3"), "\(resume)")
        let resumedCheckpoint = try Data(contentsOf: checkpoint)

        // finetune: a new run from those weights into another file; the source stays as it was.
        let finetuned = outputs.appendingPathComponent("Y.h5")
        let finetune = try lrtSucceeds(["finetune", checkpoint.path, "--data", dataset.path, "--epochs", "1", "--out", finetuned.path])
        XCTAssertEqual(finetune.errorLines.filter { $0.hasPrefix("epoch ") }.count, 1, "\(finetune)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: finetuned.path), "\(finetune)")
        XCTAssertEqual(try Data(contentsOf: checkpoint), resumedCheckpoint, "finetune modified its source checkpoint")
        XCTAssertEqual(try snapshot(outputs).keys.sorted(), ["X.h5", "Y.h5"], "runs left other files behind")
    }

    /// Class names come from folder names; `eval --json` escapes them and the table prints them as they are.
    func testEvalNamesClassesWithQuotesBackslashesAndNonASCII() throws {
        let classes = ["le\"ft", "back\\slash", "über"]
        let dataset = try makeDataset("odd-names", classes: ["left", "right", "top"], imagesPerClass: 4)
        for split in ["train", "test"] {
            for (plain, odd) in zip(["left", "right", "top"], classes) {
                try FileManager.default.moveItem(at: dataset.appendingPathComponent("\(split)/\(plain)"),
                                                 to: dataset.appendingPathComponent("\(split)/\(odd)"))
            }
        }
        let checkpoint = try trainCheckpoint(dataset: dataset, epochs: 1)

        let evalJSON = try lrtSucceeds(["eval", checkpoint.path, "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(evalJSON.standardOutput.utf8))
        let perClass = try XCTUnwrap((object as? [String: Any])?["per_class"] as? [[String: Any]], evalJSON.standardOutput)
        XCTAssertEqual(Set(perClass.compactMap { $0["class"] as? String }), Set(classes), evalJSON.standardOutput)

        let evalTable = try lrtSucceeds(["eval", checkpoint.path])
        for name in classes {
            XCTAssertTrue(evalTable.standardOutput.contains("\n\(name) "), "no row for \(name): \(evalTable)")
        }
    }

    func testEvalOfADatasetWithAnUnknownClassNamesTheFolder() throws {
        let dataset = try makeDataset()
        let checkpoint = try trainCheckpoint(dataset: dataset)
        let other = try makeDataset("other", classes: ["left", "right", "bottom"], imagesPerClass: 2)
        try assertFailsCleanly(["eval", checkpoint.path, "--data", other.path],
                               mentioning: [other.appendingPathComponent("test/bottom").path])
    }

    func testResumeOfAFinishedRunAsksForMoreEpochs() throws {
        let checkpoint = try trainCheckpoint(dataset: try makeDataset(), epochs: 2)
        try assertFailsCleanly(["resume", checkpoint.path, "--epochs", "2"], mentioning: [checkpoint.lastPathComponent, "--epochs"])
    }

    /// `lrt resume` takes the optimizer flags of `lrt train` as overrides of the saved optimizer: a new
    /// learning rate continues its state (the step goes on counting), another rule setting needs
    /// --reset-optimizer, and a flag the saved rule does not read is refused by name.
    func testResumeTakesOptimizerFlagsAsOverrides() throws {
        let dataset = try makeDataset()
        let checkpoint = try trainCheckpoint(dataset: dataset, epochs: 1)
        func optimizer(_ file: URL) throws -> JSONValue {
            try XCTUnwrap(try JSONValue.parse(try lrtSucceeds(["inspect", "--json", file.path]).standardOutput)["optimizer"])
        }
        let savedStep = try XCTUnwrap(try optimizer(checkpoint)["step"]?.intValue)
        XCTAssertGreaterThan(savedStep, 0)

        try assertFailsCleanly(["resume", checkpoint.path, "--epochs", "2", "--momentum", "0.5"],
                               mentioning: ["momentum 0.9 → 0.5", "--reset-optimizer"])
        try assertFailsCleanly(["resume", checkpoint.path, "--epochs", "2", "--beta1", "0.8"], mentioning: ["--beta1", "SGD"])
        try assertFailsCleanly(["resume", checkpoint.path, "--epochs", "2", "--lr", "-1"], mentioning: ["--learning-rate", "-1"])

        let resumed = outputs.appendingPathComponent("resumed.h5")
        try lrtSucceeds(["resume", checkpoint.path, "--epochs", "2", "--lr", "0.005", "--out", resumed.path])
        let continued = try optimizer(resumed)
        XCTAssertEqual(continued["config"]?["learning_rate"]?["config"]?["learning_rate"]?.numberValue, 0.005)
        XCTAssertEqual(continued["config"]?["momentum"]?.numberValue, 0.9, "the other settings stay as saved")
        XCTAssertEqual(continued["step"]?.intValue, 2 * savedStep, "one more epoch of steps on the saved count")
    }
}
