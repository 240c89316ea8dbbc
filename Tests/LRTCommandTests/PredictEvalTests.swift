import Foundation
import LRTData
import LRTHDF5
import LRTTensor
import XCTest

/// `lrt predict MODEL PATH…` on PNG and JPEG files and folders, and the full `lrt eval` report, checked against numbers
/// the test computes itself from the per-image probabilities.
final class PredictEvalTests: CommandTestCase {
    /// A JPEG written by another encoder (Pillow), from the decoder fixtures.
    static let jpegFixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("LRTDataTests/Fixtures/images/gray-progressive.jpg")

    /// One line of `--json`: file and predictions.
    private func parseJSONLine(_ line: String) throws -> (file: String, classes: [(String, Double)]) {
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
        let predictions = try XCTUnwrap(object["predictions"] as? [[String: Any]], line)
        return (try XCTUnwrap(object["file"] as? String, line),
                try predictions.map { (try XCTUnwrap($0["class"] as? String), try XCTUnwrap($0["probability"] as? Double)) })
    }

    /// Rows of a CSV file lrt wrote (no field of these tests needs quoting).
    private func csvRows(_ url: URL) throws -> [[String]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { $0.components(separatedBy: ",") }
    }

    func testPredictClassifiesFilesFoldersAndJPEGsAsEvalReadsThem() throws {
        let dataset = try makeDataset()
        let checkpoint = try trainCheckpoint(dataset: dataset)
        let testFolder = dataset.appendingPathComponent("test")
        let leftImage = testFolder.appendingPathComponent("left/000.png").path

        // eval --predictions: every test image's class probabilities, as eval reads the images.
        let evalCSV = outputs.appendingPathComponent("eval.csv")
        try lrtSucceeds(["eval", checkpoint.path, "--predictions", evalCSV.path])
        let evalRows = try csvRows(evalCSV)
        XCTAssertEqual(evalRows.first, ["file", "true_class", "predicted_class", "probability"] + Self.patternClasses.map { "probability_" + $0 })
        var evalProbabilities: [String: [Double]] = [:]
        for row in evalRows.dropFirst() { evalProbabilities[(row[0] as NSString).lastPathComponent + "@" + row[1]] = row[4...].map { Double($0)! } }

        // One file, default top-k: the class count (3) since it is below 5; a table with a header.
        let single = try lrtSucceeds(["predict", checkpoint.path, leftImage])
        let lines = single.standardOutput.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, "\(single)")
        XCTAssertEqual(lines[0].split(separator: " ", omittingEmptySubsequences: true), ["file", "top", "1", "top", "2", "top", "3"], "\(single)")
        XCTAssertTrue(lines[1].hasPrefix(leftImage + "   "), "\(single)")
        let cells = lines[1].dropFirst(leftImage.count).split(separator: " ").map(String.init)
        XCTAssertEqual(Set(stride(from: 0, to: 6, by: 2).map { cells[$0] }), Set(Self.patternClasses), "\(single)")
        let shown = stride(from: 1, to: 6, by: 2).map { Double(cells[$0])! }
        XCTAssertEqual(shown, shown.sorted(by: >), "most probable first: \(single)")
        XCTAssertEqual(shown.reduce(0, +), 1, accuracy: 3e-4, "the top 3 of 3 classes hold all the probability (4 decimals shown)")

        // A folder (recursively, with a nested folder and a file that is not an image), --json, --top-k 2.
        let folder = inputs.appendingPathComponent("new-images")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("nested"), withIntermediateDirectories: true)
        for (name, target) in [("a.png", "left/001.png"), ("nested/b.PNG", "right/002.png"), ("nested/c.png", "top/003.png")] {
            try FileManager.default.copyItem(at: testFolder.appendingPathComponent(target), to: folder.appendingPathComponent(name))
        }
        try "not an image".write(to: folder.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let json = try lrtSucceeds(["predict", checkpoint.path, folder.path, "--json", "--top-k", "2"])
        let parsed = try json.standardOutput.split(separator: "\n").map { try parseJSONLine(String($0)) }
        XCTAssertEqual(parsed.map { ($0.file as NSString).lastPathComponent }, ["a.png", "b.PNG", "c.png"], "sorted, recursive: \(json)")
        XCTAssertTrue(json.errorLines.contains { $0.hasPrefix("note: skipped 1 file") && $0.contains("notes.txt") }, "\(json)")
        for ((file, classes), source) in zip(parsed, ["001.png@left", "002.png@right", "003.png@top"]) {
            XCTAssertEqual(classes.count, 2, file)
            let expected = try XCTUnwrap(evalProbabilities[source])
            for (name, probability) in classes {
                let index = try XCTUnwrap(Self.patternClasses.firstIndex(of: name))
                // The CSV holds 6 significant digits.
                XCTAssertEqual(probability, expected[index], accuracy: 1e-5 + 1e-5 * expected[index], "\(file) \(name): predict and eval read the image differently")
            }
            XCTAssertGreaterThanOrEqual(classes[0].1, classes[1].1, file)
        }

        // --csv: the same predictions, written as an lrt output; a JPEG is read too (here one Pillow wrote).
        let jpeg = folder.appendingPathComponent("photo.jpg")
        try FileManager.default.copyItem(at: Self.jpegFixture, to: jpeg)
        let csv = outputs.appendingPathComponent("predictions.csv")
        let csvRun = try lrtSucceeds(["predict", checkpoint.path, jpeg.path, leftImage, "--csv", csv.path, "--top-k", "1"])
        let rows = try csvRows(csv)
        XCTAssertEqual(rows.first, ["file", "class_1", "probability_1"])
        XCTAssertEqual(rows.dropFirst().map(\.first), [jpeg.path, leftImage], "\(csvRun)")
        XCTAssertTrue(csvRun.standardOutput.contains(jpeg.path), "the table is printed too: \(csvRun)")
        // The JPEG as a test image of class "top": eval reads it exactly as predict did.
        let jpegSet = inputs.appendingPathComponent("jpeg-set/top")
        try FileManager.default.createDirectory(at: jpegSet, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.jpegFixture, to: jpegSet.appendingPathComponent("photo.jpg"))
        let jpegEval = outputs.appendingPathComponent("jpeg-eval.csv")
        try lrtSucceeds(["eval", checkpoint.path, "--data", jpegSet.deletingLastPathComponent().path, "--predictions", jpegEval.path])
        let jpegRow = try XCTUnwrap(try csvRows(jpegEval).last)
        XCTAssertEqual(rows[1][1], jpegRow[2], "predict and eval disagree on the JPEG's class")
        XCTAssertEqual(Double(rows[1][2])!, Double(jpegRow[3])!, accuracy: 1e-5, "predict and eval disagree on the JPEG's probability")
        // Its own CSV is replaced; a file lrt did not write is not, unless --overwrite.
        try lrtSucceeds(["predict", checkpoint.path, leftImage, "--csv", csv.path])
        let notes = outputs.appendingPathComponent("notes.csv")
        try "name,value\nx,1\n".write(to: notes, atomically: true, encoding: .utf8)
        try assertFailsCleanly(["predict", checkpoint.path, leftImage, "--csv", notes.path], mentioning: [notes.path, "--overwrite"])
        try lrtSucceeds(["predict", checkpoint.path, leftImage, "--csv", notes.path, "--overwrite"])
        XCTAssertEqual(try csvRows(notes).first?.first, "file")
    }

    func testPredictNamesBadImagesAndBadValues() throws {
        let dataset = try makeDataset()
        let checkpoint = try trainCheckpoint(dataset: dataset)
        let folder = inputs.appendingPathComponent("mixed")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: dataset.appendingPathComponent("test/top/000.png"), to: folder.appendingPathComponent("good.png"))
        let broken = folder.appendingPathComponent("broken.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0]).write(to: broken)

        try assertFailsCleanly(["predict", checkpoint.path, folder.path], mentioning: [broken.path])
        let skipped = try lrtSucceeds(["predict", checkpoint.path, folder.path, "--on-bad-image", "skip", "--json"])
        XCTAssertEqual(skipped.standardOutput.split(separator: "\n").count, 1, "\(skipped)")
        XCTAssertTrue(skipped.standardOutput.contains("good.png"), "\(skipped)")
        XCTAssertTrue(skipped.errorLines.contains { $0.contains("left out 1 image") && $0.contains(broken.path) }, "\(skipped)")

        try assertFailsCleanly(["predict", checkpoint.path, folder.appendingPathComponent("good.png").path, "--top-k", "4"],
                               mentioning: ["--top-k", "4", "3 classes"])
        try assertFailsCleanly(["predict", checkpoint.path, inputs.appendingPathComponent("missing.png").path],
                               mentioning: ["missing.png", "does not exist"])
        try assertFailsCleanly(["predict", checkpoint.path], mentioning: ["--inputs"])
        try assertFailsCleanly(["predict", checkpoint.path, folder.path, "--inputs", "x.h5", "--out", "y.h5"], mentioning: ["not both"])
        let empty = inputs.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try assertFailsCleanly(["predict", checkpoint.path, empty.path], mentioning: [empty.path, "no PNG or JPEG"])
    }

    /// eval's report, recomputed here from its own per-image CSV with scikit-learn's formulas.
    func testEvalReportMatchesMetricsRecomputedFromItsPredictions() throws {
        let dataset = try makeDataset()
        let checkpoint = try trainCheckpoint(dataset: dataset, epochs: 1)
        // A test set with mistakes to count: images filed under other classes, and noise the model cannot place.
        let mixed = inputs.appendingPathComponent("mixed")
        let filed = [("left", "left", 0..<5), ("left", "top", 0..<3), ("right", "right", 0..<4), ("right", "left", 5..<7),
                     ("top", "top", 3..<8), ("top", "right", 4..<5)]
        for (folder, source, indices) in filed {
            let target = mixed.appendingPathComponent(folder)
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            for index in indices {
                let name = String(format: "%03d.png", index)
                try FileManager.default.copyItem(at: dataset.appendingPathComponent("test/\(source)/\(name)"),
                                                 to: target.appendingPathComponent(source + "-" + name))
            }
        }
        var noise = SeededGenerator(seed: 5)
        for index in 0..<4 {
            try PNGCodec.encode((0..<64).map { _ in noise.byte(below: 255) }, height: 8, width: 8, channels: 1,
                                toFileAt: mixed.appendingPathComponent("top/noise-\(index).png").path)
        }
        let csv = outputs.appendingPathComponent("eval.csv")
        let run = try lrtSucceeds(["eval", checkpoint.path, "--data", mixed.path, "--json", "--top-k", "2", "--errors", "3",
                                   "--predictions", csv.path])
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any], "\(run)")
        let rows = try csvRows(csv).dropFirst()
        XCTAssertEqual(rows.count, 24)
        let classes = Self.patternClasses
        let truth = rows.map { classes.firstIndex(of: $0[1])! }
        let probabilities = rows.map { $0[4...].map { Double($0)! } }
        let predicted = probabilities.map { row in row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }! }
        XCTAssertEqual(predicted, rows.map { classes.firstIndex(of: $0[2])! }, "predicted_class is the most probable class")

        var confusion = [[Int]](repeating: [0, 0, 0], count: 3)
        for (label, guess) in zip(truth, predicted) { confusion[label][guess] += 1 }
        XCTAssertEqual(report["confusion_matrix"] as? [[Int]], confusion, "\(report)")
        XCTAssertEqual(report["accuracy"] as? Double ?? -1, Double((0..<3).map { confusion[$0][$0] }.reduce(0, +)) / 24, accuracy: 1e-12)
        let loss = zip(truth, probabilities).map { -log($1[$0]) }.reduce(0, +) / 24
        XCTAssertEqual(report["loss"] as? Double ?? -1, loss, accuracy: 1e-4, "mean cross-entropy of the CSV's probabilities")
        let topTwo = zip(truth, probabilities).filter { label, row in row.indices.filter { row[$0] > row[label] }.count < 2 }.count
        XCTAssertEqual(report["top_k"] as? Int, 2)
        XCTAssertEqual(report["top_k_accuracy"] as? Double ?? -1, Double(topTwo) / 24, accuracy: 1e-12)
        XCTAssertLessThan(topTwo, 24, "some image's class is not among its two most probable")

        let perClass = try XCTUnwrap(report["per_class"] as? [[String: Any]])
        var precisions: [Double] = [], recalls: [Double] = [], scores: [Double] = []
        for (index, entry) in perClass.enumerated() {
            let correct = Double(confusion[index][index])
            let support = Double(confusion[index].reduce(0, +))
            let predictedCount = Double(confusion.map { $0[index] }.reduce(0, +))
            let precision = predictedCount > 0 ? correct / predictedCount : 0
            let recall = support > 0 ? correct / support : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            precisions.append(precision); recalls.append(recall); scores.append(f1)
            XCTAssertEqual(entry["class"] as? String, classes[index])
            XCTAssertEqual(entry["precision"] as? Double ?? -1, precision, accuracy: 1e-12, "\(entry)")
            XCTAssertEqual(entry["recall"] as? Double ?? -1, recall, accuracy: 1e-12, "\(entry)")
            XCTAssertEqual(entry["f1"] as? Double ?? -1, f1, accuracy: 1e-12, "\(entry)")
            XCTAssertEqual(entry["support"] as? Int, Int(support), "\(entry)")
        }
        let macro = try XCTUnwrap(report["macro_avg"] as? [String: Any])
        XCTAssertEqual(macro["precision"] as? Double ?? -1, precisions.reduce(0, +) / 3, accuracy: 1e-12)
        XCTAssertEqual(macro["f1"] as? Double ?? -1, scores.reduce(0, +) / 3, accuracy: 1e-12)
        let weighted = try XCTUnwrap(report["weighted_avg"] as? [String: Any])
        let supports = (0..<3).map { Double(confusion[$0].reduce(0, +)) }
        XCTAssertEqual(weighted["recall"] as? Double ?? -1, zip(recalls, supports).map(*).reduce(0, +) / 24, accuracy: 1e-12)
        XCTAssertEqual(weighted["f1"] as? Double ?? -1, zip(scores, supports).map(*).reduce(0, +) / 24, accuracy: 1e-12)

        // --errors 3: the most confident mistakes, with their files.
        var mistakes: [(file: String, probability: Double)] = []
        for (index, row) in rows.enumerated() where truth[index] != predicted[index] {
            mistakes.append((row[0], Double(row[3])!))
        }
        mistakes.sort { $0.probability > $1.probability }
        XCTAssertGreaterThanOrEqual(mistakes.count, 5, "the misfiled images are mistakes: \(confusion)")
        let errors = try XCTUnwrap(report["errors"] as? [[String: Any]])
        XCTAssertEqual(errors.count, min(3, mistakes.count))
        for (entry, expected) in zip(errors, mistakes) {
            XCTAssertEqual(entry["probability"] as? Double ?? -1, expected.1, accuracy: 1e-5)
            XCTAssertTrue(FileManager.default.fileExists(atPath: entry["file"] as? String ?? ""), "\(entry)")
            XCTAssertNotEqual(entry["true_class"] as? String, entry["predicted_class"] as? String)
        }

        // The text report: per-class rows, averages, the confusion matrix; top-5 of 3 classes is left out with a note.
        let table = try lrtSucceeds(["eval", checkpoint.path, "--data", mixed.path, "--errors", "2"])
        let lines = table.standardOutput.components(separatedBy: "\n")
        for name in ["macro avg", "weighted avg", "confusion matrix"] {
            XCTAssertTrue(lines.contains { $0.hasPrefix(name) }, "no \(name) in \(table)")
        }
        for (index, name) in classes.enumerated() {
            let row = try XCTUnwrap(lines.last { $0.hasPrefix(name + " ") }, "no matrix row for \(name): \(table)")
            XCTAssertEqual(row.split(separator: " ").dropFirst().map { Int($0)! }, confusion[index], "\(table)")
        }
        XCTAssertTrue(table.errorLines.contains { $0.contains("top-5 accuracy left out") && $0.contains("3 classes") }, "\(table)")
        XCTAssertFalse(lines.contains { $0.hasPrefix("top-5") }, "\(table)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("most confident mistakes (2 of \(mistakes.count))") }, "\(table)")
    }

    /// The checkpoint's resize mode travels with it: a model trained with `--resize pad` reads a 16×8 image for
    /// `predict` and `eval` by padding it, exactly as the image padded beforehand (and not as stretched).
    func testPredictAndEvalReadImagesWithTheSavedResizeMode() throws {
        let dataset = try makeDataset()
        let checkpoint = outputs.appendingPathComponent("padded.h5")
        try lrtSucceeds(["train", "--model", try makeModel().path, "--data", dataset.path, "--epochs", "1",
                         "--batch-size", "4", "--resize", "pad", "--out", checkpoint.path])
        var noise = SeededGenerator(seed: 11)
        let wide = inputs.appendingPathComponent("wide.png")
        try PNGCodec.encode((0..<(8 * 16)).map { _ in noise.byte(below: 255) }, height: 8, width: 16, channels: 1, toFileAt: wide.path)
        let padded = try Preprocessing(height: 8, width: 8, colorMode: .grayscale, resizeMode: .pad).read(fileAt: wide.path)
        let stretched = try Preprocessing(height: 8, width: 8, colorMode: .grayscale, resizeMode: .stretch).read(fileAt: wide.path)
        XCTAssertNotEqual(padded.pixels, stretched.pixels, "the test needs an image that pad and stretch read differently")
        let paddedFile = inputs.appendingPathComponent("padded.png")
        try PNGCodec.encode(padded.pixels, height: 8, width: 8, channels: 1, toFileAt: paddedFile.path)

        let run = try lrtSucceeds(["predict", checkpoint.path, wide.path, paddedFile.path, "--json"])
        let lines = try run.standardOutput.split(separator: "\n").map { try parseJSONLine(String($0)) }
        XCTAssertEqual(lines.count, 2, "\(run)")
        XCTAssertEqual(lines[0].classes.map(\.0), lines[1].classes.map(\.0), "\(run)")
        for (first, second) in zip(lines[0].classes, lines[1].classes) {
            XCTAssertEqual(first.1, second.1, accuracy: 1e-12, "predict did not pad the wide image as the checkpoint says: \(run)")
        }
        // eval reads it the same way.
        let evalSet = inputs.appendingPathComponent("wide-set/left")
        try FileManager.default.createDirectory(at: evalSet, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: wide, to: evalSet.appendingPathComponent("wide.png"))
        let csv = outputs.appendingPathComponent("wide.csv")
        try lrtSucceeds(["eval", checkpoint.path, "--data", evalSet.deletingLastPathComponent().path, "--predictions", csv.path])
        let row = try XCTUnwrap(try csvRows(csv).last)
        let evalProbabilities = row[4...].map { Double($0)! }
        for (name, probability) in lines[0].classes {
            let index = try XCTUnwrap(Self.patternClasses.firstIndex(of: name))
            XCTAssertEqual(probability, evalProbabilities[index], accuracy: 1e-5 + 1e-5 * probability, "eval and predict read the wide image differently")
        }
    }

    /// A model trained with `--normalize mean-std` gets its inputs standardized by `predict` as by `eval`: both give
    /// every image the same probabilities, and eval's per-image CSV names the files.
    func testPredictAndEvalNormalizeAsTheRunDid() throws {
        let dataset = try makeDataset()
        let checkpoint = outputs.appendingPathComponent("normalized.h5")
        try lrtSucceeds(["train", "--model", try makeModel().path, "--data", dataset.path, "--epochs", "1",
                         "--batch-size", "4", "--normalize", "mean-std", "--validation-split", "0", "--out", checkpoint.path])
        let test = dataset.appendingPathComponent("test")
        let csv = outputs.appendingPathComponent("normalized.csv")
        try lrtSucceeds(["eval", checkpoint.path, "--data", dataset.path, "--predictions", csv.path])
        let rows = try csvRows(csv).dropFirst()
        XCTAssertFalse(rows.isEmpty)
        let run = try lrtSucceeds(["predict", checkpoint.path, test.path, "--json", "--top-k", "\(Self.patternClasses.count)"])
        let predicted = Dictionary(uniqueKeysWithValues: try run.standardOutput.split(separator: "\n").map {
            let line = try parseJSONLine(String($0))
            return (URL(fileURLWithPath: line.file).standardizedFileURL.path, line.classes)
        })
        XCTAssertEqual(predicted.count, rows.count, "\(run)")
        for row in rows {
            let file = URL(fileURLWithPath: row[0]).standardizedFileURL.path
            let classes = try XCTUnwrap(predicted[file], "eval's CSV names \(row[0]), which predict did not classify")
            let evalProbabilities = row[4...].map { Double($0)! }
            for (name, probability) in classes {
                let index = try XCTUnwrap(Self.patternClasses.firstIndex(of: name))
                XCTAssertEqual(probability, evalProbabilities[index], accuracy: 1e-5 + 1e-5 * probability,
                               "predict and eval read \(file) differently")
            }
        }
    }

    /// A Keras file has no class names: predict shows the indices with a note; eval takes the folder names.
    func testKerasFilesWithoutClassNamesGetIndices() throws {
        let keras = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("LRTFormatTests/Fixtures/keras2-legacy-sgd-momentum.h5")  // [8, 8, 1] → 3 classes
        let dataset = try makeDataset()
        let image = dataset.appendingPathComponent("test/left/000.png").path
        let run = try lrtSucceeds(["predict", keras.path, image, "--json"])
        let line = try parseJSONLine(String(run.standardOutput.split(separator: "\n").first ?? ""))
        XCTAssertEqual(Set(line.classes.map(\.0)), ["0", "1", "2"], "\(run)")
        XCTAssertTrue(run.errorLines.contains { $0.contains("holds no class names") && $0.contains("indices") }, "\(run)")
        let report = try lrtSucceeds(["eval", keras.path, "--data", dataset.path, "--json"])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual((object["per_class"] as? [[String: Any]])?.compactMap { $0["class"] as? String }, Self.patternClasses)
        XCTAssertEqual((object["confusion_matrix"] as? [[Int]])?.flatMap { $0 }.reduce(0, +), 30, "\(object)")
    }

    /// Integer HDF5 inputs are refused without --scale; eval --predictions never replaces a file lrt did not write.
    func testIntegerInputsNeedScaleAndOutputsAreProtected() throws {
        let dataset = try makeDataset()
        let checkpoint = try trainCheckpoint(dataset: dataset, epochs: 1)
        let pixels = inputs.appendingPathComponent("pixels.h5").path
        let file = try HDF5File.create(atPath: pixels)
        try file.root.writeInt64s("x", [Int64](repeating: 200, count: 2 * 64), shape: [2, 8, 8, 1])
        try file.close()
        let out = outputs.appendingPathComponent("y.h5").path
        try assertFailsCleanly(["predict", checkpoint.path, "--inputs", pixels, "--out", out], mentioning: [pixels, "--scale 255"])
        try lrtSucceeds(["predict", checkpoint.path, "--inputs", pixels, "--out", out, "--scale", "255"])
        try assertFailsCleanly(["predict", checkpoint.path, "--inputs", pixels, "--out", out, "--scale", "0"], mentioning: ["--scale"])
        try assertFailsCleanly(["predict", checkpoint.path, dataset.path, "--scale", "255"], mentioning: ["--scale", "--inputs"])

        let notes = outputs.appendingPathComponent("notes.csv")
        try "a,b\n".write(to: notes, atomically: true, encoding: .utf8)
        try assertFailsCleanly(["eval", checkpoint.path, "--predictions", notes.path], mentioning: [notes.path, "--overwrite"])
        try assertFailsCleanly(["eval", checkpoint.path, "--predictions", checkpoint.path, "--overwrite"], mentioning: [checkpoint.path, "input"])
    }
}
