import Foundation
import XCTest

/// `--quiet`, `--log`, `--tensorboard`, `--early-stopping`, `--keep-best`, `--save-every` on the command line, and a
/// bare `lrt resume` that keeps logging to the planned files.
final class MonitoringCommandTests: CommandTestCase {
    func testLogsAndCallbacksFromTheCommandLine() throws {
        let dataset = try makeDataset()
        let model = try makeModel()
        let checkpoint = outputs.appendingPathComponent("run.h5").path
        let log = outputs.appendingPathComponent("run.csv").path
        let train = try lrtSucceeds(["train", "--model", model.path, "--data", dataset.path, "--epochs", "2", "--batch-size", "4",
                                     "--out", checkpoint, "--log", log, "--log-every", "2", "--tensorboard", outputs.appendingPathComponent("tb").path,
                                     "--keep-best", outputs.appendingPathComponent("best.h5").path, "--save-every", "3", "--quiet"])
        XCTAssertEqual(train.errorLines, [], "--quiet prints only errors: \(train)")
        XCTAssertTrue(train.standardOutput.hasPrefix("wrote \(checkpoint) (epoch 2"), "\(train)")
        // 27 training images (one of each class's 10 held out for validation), batches of 4: 7 steps per epoch.
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { String($0.prefix(2)) },
                       ["ep", "0,", "1,"])
        let steps = try String(contentsOfFile: outputs.appendingPathComponent("run.steps.csv").path, encoding: .utf8)
            .split(separator: "\n").dropFirst().map { Int($0.prefix { $0 != "," }) }
        XCTAssertEqual(steps, [2, 4, 6, 8, 10, 12, 14])
        XCTAssertEqual(try snapshot(outputs).keys.filter { !$0.hasPrefix("tb") }.sorted(), ["best.h5", "run.csv", "run.h5", "run.steps.csv"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outputs.appendingPathComponent("tb").path).sorted(), ["train", "validation"])

        // Past the plan, a bare resume trains one more epoch and logs to the same files.
        let resume = try lrtSucceeds(["resume", checkpoint, "--quiet"])
        XCTAssertTrue(resume.standardOutput.contains("(epoch 3"), "\(resume)")
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { String($0.prefix(2)) },
                       ["ep", "0,", "1,", "2,"])
        let inspect = try lrtSucceeds(["inspect", checkpoint])
        XCTAssertTrue(inspect.standardOutput.contains("plan        3 epochs, telemetry every 2 steps, log \(log)"), "\(inspect)")
    }

    func testBadMonitoringOptionsAreNamed() throws {
        let dataset = try makeDataset()
        let model = try makeModel()
        let base = ["train", "--model", model.path, "--data", dataset.path, "--epochs", "1", "--out", outputs.appendingPathComponent("x.h5").path]
        try assertFailsCleanly(base + ["--early-stopping", "2", "--monitor", "test_accuracy"], mentioning: ["--monitor", "test_accuracy", "val_"])
        try assertFailsCleanly(base + ["--log", "run.txt"], mentioning: ["--log", "run.txt", ".csv"])
        try assertFailsCleanly(base + ["--monitor", "val_loss"], mentioning: ["--monitor", "--early-stopping"])
        try assertFailsCleanly(base + ["--early-stopping", "0"], mentioning: ["--early-stopping", "0"])
        try assertFailsCleanly(base + ["--save-every", "-1"], mentioning: ["--save-every"])
        try assertFailsCleanly(base + ["--log", "a.jsonl", "--metrics-log", "b.jsonl"], mentioning: ["--metrics-log", "--log"])
        XCTAssertEqual(try snapshot(outputs).keys.sorted(), [], "a refused run wrote files")
    }
}
