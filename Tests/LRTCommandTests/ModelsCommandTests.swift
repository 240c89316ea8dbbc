import Foundation
import LRTData
import LRTLayers
import LRTTensor
import XCTest

/// `lrt models` and `lrt train --model NAME`: the built-in architectures from the command line.
final class ModelsCommandTests: CommandTestCase {
    func testModelsListsEveryArchitectureWithItsKerasParameterCount() throws {
        let run = try lrtSucceeds(["models"])
        let lines = run.standardOutput.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 1 + Architectures.all.count, run.description)
        XCTAssertTrue(lines.first?.hasPrefix("name") ?? false, run.description)
        // Counts as Keras's count_params reports them (Tools/architecture_check.py).
        for (name, parameters) in [("mlp", "535,818"), ("cnn", "225,034"), ("digits-cnn", "79,626"),
                                   ("resnet20", "274,042"), ("resnet56", "860,026"), ("resnet18", "11,699,112")] {
            let line = lines.first { $0.hasPrefix(name + " ") }
            XCTAssertNotNil(line, "no line for \(name): \(run)")
            XCTAssertTrue(line?.contains(" \(parameters) ") ?? false, "\(name) should count \(parameters): \(line ?? "")")
        }
        XCTAssertTrue(lines.contains { $0.hasPrefix("resnet20 ") && $0.contains("32×32×3") && $0.contains("option B") })
    }

    func testModelsPrintsTheKerasConfigForTheGivenInputAndClasses() throws {
        let run = try lrtSucceeds(["models", "resnet20", "--input", "28,28,1", "--classes", "3"])
        let config = try JSONValue.parse(run.standardOutput)
        XCTAssertEqual(config, try Architectures.resnet20.config(inputShape: [28, 28, 1], classCount: 3))
        XCTAssertEqual(config["class_name"], .string("Functional"))
        let layers = try XCTUnwrap(config["config"]?["layers"]?.arrayValue)
        XCTAssertEqual(layers.first?["config"]?["batch_shape"], .array([.null, .number(28), .number(28), .number(1)]))
        XCTAssertEqual(layers.last?["config"]?["units"], .number(3))
        // Pretty: one layer per line.
        XCTAssertGreaterThan(run.standardOutput.split(separator: "\n").count, layers.count)
    }

    /// `lrt models NAME > file.json` and `--model file.json` train exactly what `--model NAME` trains,
    /// the name sized from the data (8×8 gray images, 3 classes).
    func testTrainWithANameEqualsTrainWithThePrintedConfig() throws {
        let dataset = try makeDataset()
        let printed = try lrtSucceeds(["models", "mlp", "--input", "8,8,1", "--classes", "3"])
        let file = inputs.appendingPathComponent("mlp.json")
        try printed.standardOutput.write(to: file, atomically: true, encoding: .utf8)
        let common = ["--data", dataset.path, "--epochs", "2", "--batch-size", "4", "--seed", "3"]
        let byName = try lrtSucceeds(["train", "--model", "mlp", "--out", "by-name.h5"] + common)
        let byFile = try lrtSucceeds(["train", "--model", file.path, "--out", "by-file.h5"] + common)
        func metrics(_ run: Run) -> [String] {  // epoch lines without the timing
            run.errorLines.filter { $0.hasPrefix("epoch") }.map { line in
                (line.components(separatedBy: " img/s").first ?? line).split(separator: " ").dropLast().joined(separator: " ")
            }
        }
        XCTAssertEqual(metrics(byName).count, 2, byName.description)
        XCTAssertEqual(metrics(byName), metrics(byFile))
        let inspected = try lrtSucceeds(["inspect", "--json", outputs.appendingPathComponent("by-name.h5").path])
        XCTAssertTrue(inspected.standardOutput.contains("\"input_shape\": [8, 8, 1]"), inspected.description)
    }

    func testTrainWithANameReadsColourAndClassCountFromTheData() throws {
        let root = inputs.appendingPathComponent("colour")
        var noise = SeededGenerator(seed: 5)
        for split in ["train", "test"] {
            for (label, className) in ["red", "green", "blue", "grey"].enumerated() {
                let folder = root.appendingPathComponent("\(split)/\(className)")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                for index in 0..<4 {
                    var pixels = [UInt8](repeating: 0, count: 6 * 10 * 3)  // [height 6, width 10, RGB]
                    for pixel in 0..<60 {
                        for channel in 0..<3 {
                            pixels[pixel * 3 + channel] = (channel == label || label == 3 ? 150 : 0) + noise.byte(below: 100)
                        }
                    }
                    try PNGCodec.encode(pixels, height: 6, width: 10, channels: 3,
                                        toFileAt: folder.appendingPathComponent("\(index).png").path)
                }
            }
        }
        try lrtSucceeds(["train", "--model", "mlp", "--data", root.path, "--epochs", "1", "--out", "colour.h5"])
        let inspected = try lrtSucceeds(["inspect", "--json", outputs.appendingPathComponent("colour.h5").path])
        XCTAssertTrue(inspected.standardOutput.contains("\"input_shape\": [6, 10, 3]"), inspected.description)
        XCTAssertTrue(inspected.standardOutput.contains("\"output_shape\": [4]"), inspected.description)
    }

    func testBadNamesAndInputsFailWithOneLineNamingThem() throws {
        let dataset = try makeDataset()
        try assertFailsCleanly(["train", "--model", "resnet50", "--data", dataset.path, "--epochs", "1"],
                               mentioning: ["'resnet50'", "resnet20", ".json"])
        try assertFailsCleanly(["train", "--model", "lenet", "--data", dataset.path, "--epochs", "1"],
                               mentioning: ["lenet", "at least 12×12", "8×8×1", "3 classes"])
        try assertFailsCleanly(["models", "resnet18", "--input", "16,16,3"], mentioning: ["resnet18", "32×32", "16×16"])
        try assertFailsCleanly(["models", "resnet20", "--input", "32x32x3"], mentioning: ["--input", "32x32x3", "32,32,3"])
        try assertFailsCleanly(["models", "resnet20", "--classes", "1"], mentioning: ["--classes", "1"])
        try assertFailsCleanly(["models", "vgg16"], mentioning: ["'vgg16'", "resnet18"])
        try assertFailsCleanly(["train", "--model", "mlp", "--data", inputs.appendingPathComponent("missing").path],
                               mentioning: ["missing", "train/"])
    }
}
