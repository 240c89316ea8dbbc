import XCTest
@testable import LRTReport

/// Base of the tests that write files: a fresh temporary folder, removed afterwards.
class TemporaryFolderTestCase: XCTestCase {
    private(set) var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("LRTReportTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let folder { try FileManager.default.removeItem(at: folder) }
    }

    /// Writes `text` to `name` in the folder and returns its path.
    @discardableResult
    func write(_ text: String, to name: String) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// Asserts that reading `path` fails with one line that names the file, contains every fragment, and is of `kind`.
    func assertReadFails(_ path: String, kind: PlotError.Kind = .malformedInput, mentioning fragments: [String],
                         file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try RunReader.read(path: path), file: file, line: line) { error in
            guard let error = error as? PlotError else { return XCTFail("not a PlotError: \(error)", file: file, line: line) }
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "more than one line: \(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains(path), "the file is not named: \(error)", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(error.description.contains(fragment), "'\(fragment)' missing from: \(error)", file: file, line: line)
            }
        }
    }
}

/// The formats the logging callbacks write, exactly: a run's log in each, then damaged copies.
final class RunReaderTests: TemporaryFolderTestCase {
    static let jsonLines = """
        {"type": "telemetry", "epoch": 1, "step": 10, "layers": [{"name": "conv2d", "gradient_norm": 0.30, "weight_norm": 1.37, "update_norm": 0.021, "multiplier": 2.46}, {"name": "dense", "gradient_norm": 0.33, "weight_norm": 4.46, "update_norm": 0.021, "multiplier": 2.39}]}
        {"type": "telemetry", "epoch": 1, "step": 20, "loss": 2.1, "learning_rate": 0.01, "layers": [{"name": "conv2d", "gradient_norm": 0.0, "weight_norm": 1.4, "update_norm": 0.02, "multiplier": null}, {"name": "dense", "gradient_norm": 0.5, "weight_norm": 4.5, "update_norm": 0.02, "multiplier": 2.0}]}
        {"type": "epoch", "epoch": 1, "loss": 2.258, "accuracy": 0.158, "val_loss": 2.093, "val_accuracy": 0.336, "learning_rate": 0.01, "seconds": 22.8}
        {"type": "progress", "note": "a record type plot does not know"}
        {"type": "epoch", "epoch": 2, "loss": 1.785, "accuracy": 0.423, "val_loss": null, "val_accuracy": 0.727, "learning_rate": 0.01, "seconds": 21.2}

        """

    func testJSONLinesGiveEpochMetricsAndPerLayerStepSeries() throws {
        let run = try RunReader.read(path: try write(Self.jsonLines, to: "paper.jsonl"))
        XCTAssertEqual(run.label, "paper")
        XCTAssertEqual(run.epochs.x, [1, 2])
        XCTAssertEqual(run.epochs.column("loss"), [2.258, 1.785])
        XCTAssertEqual(run.epochs.column("val_loss")?[0], 2.093)
        XCTAssertTrue(run.epochs.column("val_loss")![1].isNaN, "null is a missing value")
        XCTAssertEqual(run.epochs.names, ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"])
        XCTAssertEqual(run.steps.x, [10, 20])
        XCTAssertEqual(run.layers, ["conv2d", "dense"])
        XCTAssertEqual(run.steps.column("multiplier/dense"), [2.39, 2.0])
        XCTAssertEqual(run.steps.column("gradient_norm/conv2d"), [0.30, 0.0])
        XCTAssertTrue(run.steps.column("multiplier/conv2d")![1].isNaN)
        // The optional per-step loss appears in the second record only.
        XCTAssertTrue(run.steps.column("loss")![0].isNaN)
        XCTAssertEqual(run.steps.column("loss")![1], 2.1)
        XCTAssertEqual(run.steps.column("epoch"), [1, 1])
    }

    func testKerasCSVLoggerEpochsCountFromOneAndStepsCSVJoinsItsRun() throws {
        let epochs = try write("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.158,2.258,0.336,2.093\n1,0.423,1.785,0.727,1.009\n2,0.69,0.96,nan,\n",
                               to: "paper.csv")
        let steps = try write("step,epoch,loss,learning_rate,multiplier/conv2d,gradient_norm/conv2d,multiplier/dense,gradient_norm/dense\n"
                              + "10,1,2.2,0.01,2.46,0.30,2.39,0.33\n20,1,2.0,0.01,inf,0,2.0,0.5\r\n", to: "paper.steps.csv")
        let other = try write("epoch,loss\n1,2.3\n", to: "off.csv")
        let runs = try RunReader.readRuns(paths: [epochs, other, steps])
        XCTAssertEqual(runs.map(\.label), ["paper", "off"])
        XCTAssertEqual(runs[0].sources, [epochs, steps])
        XCTAssertEqual(runs[0].epochs.x, [1, 2, 3], "Keras's 0-based epochs are counted from 1")
        XCTAssertEqual(runs[0].epochs.column("val_loss")?.prefix(2), [2.093, 1.009])
        XCTAssertTrue(runs[0].epochs.column("val_loss")![2].isNaN, "an empty field is missing")
        XCTAssertTrue(runs[0].epochs.column("val_accuracy")![2].isNaN)
        XCTAssertEqual(runs[0].steps.x, [10, 20])
        XCTAssertEqual(runs[0].layers, ["conv2d", "dense"])
        XCTAssertEqual(runs[0].steps.column("multiplier/conv2d")?[1], .infinity)
        XCTAssertEqual(runs[0].steps.column("learning_rate"), [0.01, 0.01])
        XCTAssertEqual(runs[1].epochs.x, [1], "1-based epochs stay")

        let labelled = try RunReader.readRuns(paths: [epochs, steps, other], labels: ["paper rule", "off"])
        XCTAssertEqual(labelled.map(\.label), ["paper rule", "off"])
        XCTAssertThrowsError(try RunReader.readRuns(paths: [epochs, steps, other], labels: ["one"])) { error in
            XCTAssertTrue("\(error)".contains("1 --label values for 2 runs"), "\(error)")
        }
    }

    func testQuotedCSVHeadersAndTwoRunsOfTheSameName() throws {
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("b"), withIntermediateDirectories: true)
        let first = try write("\"step\",\"multiplier/block,1\"\n5,1.5\n", to: "run.steps.csv")
        let second = try write("step,multiplier/x\n5,1.5\n", to: "b/run.steps.csv")
        let runs = try RunReader.readRuns(paths: [first, second])
        XCTAssertEqual(runs[0].layers, ["block,1"])
        XCTAssertEqual(runs.map(\.label), ["run", "run (2)"])
    }

    func testMalformedJSONLinesNameTheFileAndLine() throws {
        let lines = Self.jsonLines.components(separatedBy: "\n")
        var broken = lines
        broken[2] = "{\"type\": \"epoch\", \"epoch\": 1, \"loss\": 2.2"  // not closed, and not the last line
        assertReadFails(try write(broken.joined(separator: "\n"), to: "a.jsonl"), mentioning: ["line 3", "invalid JSON"])
        broken = lines
        broken[1] = "[1, 2]"
        assertReadFails(try write(broken.joined(separator: "\n"), to: "b.jsonl"), mentioning: ["line 2", "expected a JSON object"])
        broken = lines
        broken[0] = "{\"epoch\": 1}"
        assertReadFails(try write(broken.joined(separator: "\n"), to: "c.jsonl"), mentioning: ["line 1", "\"type\""])
        broken = lines
        broken[0] = "{\"type\": \"telemetry\", \"step\": 5, \"layers\": [{\"name\": \"x\", \"multiplier\": \"big\"}]}"
        assertReadFails(try write(broken.joined(separator: "\n"), to: "d.jsonl"), mentioning: ["line 1", "\"multiplier\" is a string"])
        broken = lines
        broken[2] = "{\"type\": \"epoch\", \"loss\": 1}"
        assertReadFails(try write(broken.joined(separator: "\n"), to: "e.jsonl"), mentioning: ["line 3", "\"epoch\""])
        assertReadFails(try write("\n\n", to: "empty.jsonl"), kind: .nothingToPlot, mentioning: ["no \"epoch\" or \"telemetry\" records"])
        assertReadFails(try write("\u{1}\u{2}binary", to: "f.jsonl"), mentioning: ["line 1"])
    }

    func testACutOffLastLineIsLeftOutWithAWarning() throws {
        let cut = String(Self.jsonLines.dropLast(40))
        let run = try RunReader.read(path: try write(cut, to: "cut.jsonl"))
        XCTAssertEqual(run.epochs.x, [1])
        XCTAssertEqual(run.warnings.count, 1)
        XCTAssertTrue(run.warnings[0].contains("line 5") && run.warnings[0].contains("cut short"), run.warnings[0])

        let csv = try RunReader.read(path: try write("epoch,loss,accuracy\n1,2.0,0.5\n2,1.5", to: "cut.csv"))
        XCTAssertEqual(csv.epochs.x, [1])
        XCTAssertEqual(csv.warnings.count, 1)
    }

    func testMalformedCSVNamesTheFileAndLine() throws {
        assertReadFails(try write("epoch,loss\n1,2.0\n2\n3,1.0\n", to: "a.csv"), mentioning: ["line 3", "1 values but the header names 2 columns"])
        assertReadFails(try write("epoch,loss\n1,2.0\n2,lots\n", to: "b.csv"), mentioning: ["line 3", "column \"loss\"", "'lots' is not a number"])
        assertReadFails(try write("time,loss\n1,2.0\n", to: "c.csv"), mentioning: ["line 1", "neither an \"epoch\" nor a \"step\""])
        assertReadFails(try write("epoch,loss,loss\n1,2,3\n", to: "d.csv"), mentioning: ["line 1", "\"loss\" twice"])
        assertReadFails(try write("epoch,loss\n,2.0\n", to: "e.csv"), mentioning: ["line 2", "every row needs its epoch"])
        assertReadFails(try write("epoch,loss\n\"1,2.0\n", to: "f.csv"), mentioning: ["line 2", "quoted field is not closed"])
        assertReadFails(try write("", to: "g.csv"), kind: .nothingToPlot, mentioning: ["is empty"])
        assertReadFails(try write("epoch,loss\n", to: "h.csv"), kind: .nothingToPlot, mentioning: ["no rows"])
        assertReadFails(try write("just some notes", to: "notes.txt"), mentioning: ["neither an lrt checkpoint nor"])
        assertReadFails(folder.appendingPathComponent("missing.csv").path, kind: .file, mentioning: ["No such file"])
        assertReadFails(folder.path, kind: .file, mentioning: ["is a folder"])
        assertReadFails(try write("not HDF5", to: "fake.h5"), mentioning: [])
    }
}
