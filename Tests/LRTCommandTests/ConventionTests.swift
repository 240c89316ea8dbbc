import Foundation
import XCTest

/// Issue 12, item 10: flags that do not apply are refused by name, `--lr`, cosine over the run by
/// default, `.keras` names refused, and the samples found wherever lrt runs.
final class ConventionTests: CommandTestCase {
    func testFlagsThatDoNotApplyAreRefusedByName() throws {
        let cases: [([String], [String])] = [
            (["--optimizer", "adam", "--momentum", "0.9"], ["--momentum does not apply to Adam"]),
            (["--optimizer", "sgd", "--beta1", "0.9"], ["--beta1 does not apply to SGD"]),
            (["--gamma", "0.5"], ["--gamma does not apply to the default schedule, constant", "--schedule step"]),
            (["--schedule", "cosine", "--gamma", "0.5"], ["--gamma does not apply to --schedule cosine"]),
            (["--schedule", "step", "--step-size", "2", "--power", "2"], ["--power does not apply to --schedule step", "inverse"]),
            (["--schedule", "exponential", "--gamma", "0.9", "--step-unit", "step"], ["--step-unit does not apply to --schedule exponential"]),
            (["--min-learning-rate", "0.001"], ["--min-learning-rate does not apply"]),
            (["--schedule", "step", "--step-size", "1", "--plateau-patience", "3"], ["--plateau-patience does not apply to --schedule step"]),
            (["--warmup-start-factor", "0.1"], ["--warmup-start-factor", "--warmup-steps"]),
            (["--out", "model.keras"], ["--out model.keras", "HDF5", "use --out model.h5"]),
        ]
        let data = try makeDataset()
        for (flags, fragments) in cases {
            try assertFailsCleanly(["train", "--data", data.path] + flags, mentioning: fragments)
        }
        let checkpoint = try trainCheckpoint(dataset: data)
        try assertFailsCleanly(["resume", checkpoint.path, "--out", "next.KERAS"], mentioning: ["use --out next.h5"])
        try assertFailsCleanly(["resume", checkpoint.path, "--epochs", "3", "--schedule", "cosine"], mentioning: ["--step-size"])
    }

    /// `--lr` sets the learning rate; `--schedule cosine` without `--step-size` spans the run: 2 epochs of
    /// 30 images in batches of 4 are 16 steps.
    func testLearningRateAliasAndCosineOverTheRun() throws {
        let checkpoint = outputs.appendingPathComponent("cosine.h5")
        try lrtSucceeds(["train", "--model", try makeModel().path, "--data", try makeDataset().path, "--epochs", "2",
                         "--batch-size", "4", "--validation-split", "0", "--lr", "0.05", "--schedule", "cosine",
                         "--out", checkpoint.path])
        let inspect = try lrtSucceeds(["inspect", checkpoint.path])
        XCTAssertTrue(inspect.standardOutput.contains("Cosine(learning_rate 0.05, minimum_learning_rate 0, period 16, unit step)"),
                      inspect.standardOutput)
        let byEpoch = outputs.appendingPathComponent("cosine-epochs.h5")
        try lrtSucceeds(["train", "--model", try makeModel().path, "--data", try makeDataset().path, "--epochs", "2",
                         "--schedule", "cosine", "--step-unit", "epoch", "--out", byEpoch.path])
        XCTAssertTrue(try lrtSucceeds(["inspect", byEpoch.path]).standardOutput.contains("period 2, unit epoch"))
    }

    /// A copy of lrt far from the repository: without --data it names the sample data it looked for (and
    /// where), not the model; with --data it trains with the built-in sample model.
    func testSamplesAreFoundOrNamedWhereverLrtRuns() throws {
        // From this test's temporary working directory, the build's lrt finds the repository's samples.
        let sample = outputs.appendingPathComponent("sample.h5")
        let run = try lrtSucceeds(["train", "--epochs", "1", "--out", sample.path])
        XCTAssertTrue(run.standardOutput.contains("wrote \(sample.path)"), "\(run)")

        let bin = inputs.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let copy = bin.appendingPathComponent("lrt")
        try FileManager.default.copyItem(at: Self.executable, to: copy)
        func runCopy(_ arguments: [String]) throws -> Run {
            let process = Process()
            process.executableURL = copy
            process.arguments = arguments
            process.currentDirectoryURL = outputs
            let standardError = Pipe(), standardOutput = Pipe()
            process.standardError = standardError
            process.standardOutput = standardOutput
            try process.run()
            let errors = standardError.fileHandleForReading.readDataToEndOfFile()
            let output = standardOutput.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Run(arguments: arguments, status: process.terminationStatus, reason: process.terminationReason,
                       standardOutput: String(decoding: output, as: UTF8.self), standardError: String(decoding: errors, as: UTF8.self))
        }
        let missing = try runCopy(["train", "--epochs", "1"])
        XCTAssertEqual(missing.status, 1, "\(missing)")
        let message = missing.errorLines.last ?? ""
        XCTAssertTrue(message.contains("Samples/digits") && message.contains(copy.path) && message.contains("--data"), message)
        XCTAssertFalse(message.contains("model"), "the sample model is built in, so it is never missing: \(message)")

        let trained = outputs.appendingPathComponent("elsewhere.h5")
        let elsewhere = try runCopy(["train", "--data", try makeDataset().path, "--epochs", "1", "--out", trained.path])
        XCTAssertEqual(elsewhere.status, 0, "\(elsewhere)")
        XCTAssertFalse(elsewhere.standardError.contains("Samples"), "\(elsewhere)")
        XCTAssertTrue(try lrtSucceeds(["inspect", trained.path]).standardOutput.contains("digits_cnn"))
    }
}
