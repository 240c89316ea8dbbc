import Foundation
import LRTData
import XCTest

/// `lrt plot` end to end: a real run's checkpoint and JSON-lines log, and the ways a plot must refuse.
final class PlotCommandTests: CommandTestCase {
    func testPlotsARealRunsCheckpointAndLogOverlaid() throws {
        let dataset = try makeDataset()
        let checkpoint = outputs.appendingPathComponent("paper.h5").path
        let log = outputs.appendingPathComponent("off.jsonl").path
        try lrtSucceeds(["train", "--model", try makeModel().path, "--data", dataset.path, "--epochs", "2", "--batch-size", "4",
                         "--log-every", "2", "--out", checkpoint])
        try lrtSucceeds(["train", "--model", try makeModel().path, "--data", dataset.path, "--epochs", "2", "--batch-size", "4",
                         "--log-every", "2", "--layer-rates", "off", "--out", outputs.appendingPathComponent("off.h5").path,
                         "--metrics-log", log])
        let figure = outputs.appendingPathComponent("rates.png").path
        let run = try lrtSucceeds(["plot", checkpoint, log, "--label", "paper", "--label", "off", "--title", "tiny MLP",
                                   "--size", "800x500", "--out", figure])
        XCTAssertTrue(run.standardOutput.contains("wrote \(figure): 1600×1000 pixels, loss, accuracy, multipliers, gradient-norms for paper, off"),
                      "\(run)")
        let image = try PNGCodec.decode(fileAt: figure, channels: 3)
        XCTAssertEqual(image.width, 1600)
        XCTAssertEqual(image.height, 1000)
        XCTAssertTrue(image.pixels.contains { $0 < 100 }, "the figure has ink")

        let vector = outputs.appendingPathComponent("rates.svg").path
        try lrtSucceeds(["plot", checkpoint, "--panels", "multipliers", "--smooth", "none", "--out", vector])
        let svg = try String(contentsOfFile: vector, encoding: .utf8)
        XCTAssertTrue(svg.contains("<!-- Software: lrt plot -->"))
        XCTAssertTrue(svg.contains(">Layer rate multipliers</text>"))
        XCTAssertFalse(svg.contains(">Loss</text>"))
        // The tiny MLP has two Dense layers: one smoothed-free line each.
        XCTAssertEqual(svg.components(separatedBy: "class=\"series\"").count - 1, 2)
        // Plotting again replaces lrt's own figure.
        try lrtSucceeds(["plot", checkpoint, "--out", vector])
    }

    func testBadInputsAndOptionsFailWithOneLine() throws {
        let broken = inputs.appendingPathComponent("broken.csv")
        try "epoch,loss\n1,2.0\n2,oops\n".write(to: broken, atomically: true, encoding: .utf8)
        let good = inputs.appendingPathComponent("good.csv")
        try "epoch,loss,accuracy\n0,2.0,0.3\n1,1.5,0.5\n".write(to: good, atomically: true, encoding: .utf8)
        let figure = outputs.appendingPathComponent("figure.png").path
        try assertFailsCleanly(["plot", broken.path, "--out", figure], mentioning: [broken.path, "line 3", "'oops' is not a number"])
        try assertFailsCleanly(["plot", inputs.appendingPathComponent("missing.jsonl").path, "--out", figure], mentioning: ["missing.jsonl"])
        try assertFailsCleanly(["plot", good.path, "--out", outputs.appendingPathComponent("figure.pdf").path], mentioning: ["must end in .png or .svg"])
        try assertFailsCleanly(["plot", good.path, "--size", "big", "--out", figure], mentioning: ["--size big"])
        try assertFailsCleanly(["plot", good.path, "--smooth", "2", "--out", figure], mentioning: ["--smooth 2"])
        try assertFailsCleanly(["plot", good.path, "--panels", "loss,weights", "--out", figure], mentioning: ["unknown panel 'weights'"])
        try assertFailsCleanly(["plot", good.path, "--panels", "gradient-norms", "--out", figure], mentioning: ["--log-every"])
        try assertFailsCleanly(["plot", good.path, "--label", "a", "--label", "b", "--out", figure], mentioning: ["2 --label values for 1 runs"])
        let notes = outputs.appendingPathComponent("notes.png")
        try "not a figure".write(to: notes, atomically: true, encoding: .utf8)
        try assertFailsCleanly(["plot", good.path, "--out", notes.path], mentioning: [notes.path, "is not an lrt plot", "--overwrite"])
        try lrtSucceeds(["plot", good.path, "--out", notes.path, "--overwrite"])
    }
}
