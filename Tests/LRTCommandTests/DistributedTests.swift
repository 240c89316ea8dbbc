import Foundation
import LRTFormat
import XCTest

/// `mpirun -np N lrt …` against single-process `lrt`: the weights after the same steps agree within
/// float tolerance, resume works across rank counts, and a rank that dies or hangs stops the job
/// with the last checkpoint intact.
///
/// Needs an lrt built with the MPI trait, named by `LRT_MPI_EXECUTABLE` (CI:
/// `swift build --traits MPI --scratch-path .build-mpi` and `.build-mpi/debug/lrt`), and `mpirun`
/// (Open MPI); skipped otherwise. The single-process reference is the `lrt` built without the trait.
final class DistributedTests: CommandTestCase {
    /// Largest difference allowed between a weight after the MPI run and after the single-process run,
    /// relative to the weight (plus 1e-6 absolute): only the order of the float sums differs (each rank
    /// sums its shard, then the allreduce adds the shards), about 1e-7 per addition, grown by a few
    /// dozen steps of the paper's rule.
    static let weightTolerance: Float = 2e-5

    private var mpiExecutable: String!
    private var mpirun: String!

    override func setUpWithError() throws {
        try super.setUpWithError()
        let environment = ProcessInfo.processInfo.environment
        guard let executable = environment["LRT_MPI_EXECUTABLE"], FileManager.default.isExecutableFile(atPath: executable) else {
            throw XCTSkip("set LRT_MPI_EXECUTABLE to an lrt built with `swift build --traits MPI` to run the MPI tests")
        }
        guard let mpirun = (environment["PATH"] ?? "/usr/bin").split(separator: ":").map({ "\($0)/mpirun" })
            .first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("no mpirun on PATH: install openmpi-bin to run the MPI tests")
        }
        mpiExecutable = URL(fileURLWithPath: executable).standardizedFileURL.path
        self.mpirun = mpirun
    }

    // MARK: - Equal to one process

    func testSGDWithThePaperRuleOnTwoAndThreeRanksMatchesOneProcess() throws {
        try assertRanksMatchOneProcess(optimizer: ["--optimizer", "momentum", "--learning-rate", "0.05"])
    }

    func testAdamWithThePaperRuleOnTwoAndThreeRanksMatchesOneProcess() throws {
        try assertRanksMatchOneProcess(optimizer: ["--optimizer", "adam", "--learning-rate", "0.003"])
    }

    /// BatchNormalization synchronized over the ranks (`--sync-batch-norm`) and Dropout masks drawn per example of
    /// the global batch: the trajectory is one process's, as without them. Two epochs (8 steps): normalization
    /// divides by the batch's deviation, which grows the rounding differences of the sums faster than in the MLP
    /// (after 12 steps they reach 2.2–2.7·10⁻⁵ relative in the first Dense kernel, against 2·10⁻⁵ allowed).
    func testBatchNormalizationAndDropoutWithSyncBatchNormOnTwoAndThreeRanksMatchOneProcess() throws {
        try assertRanksMatchOneProcess(optimizer: ["--optimizer", "momentum", "--learning-rate", "0.05", "--sync-batch-norm"],
                                       model: try makeBatchNormalizationDropoutModel(), epochs: 2)
        let saved = try Checkpoint.load(from: outputs.appendingPathComponent("ranks3.h5").path)
        XCTAssertEqual(saved.training?.plan?.synchronizeBatchNormalization, true, "the plan keeps --sync-batch-norm for resume")
    }

    /// Synchronized BatchNormalization needs an example on every rank in every step: 27 training images in batches
    /// of 13 leave a last batch of 1, which 3 ranks refuse before training, naming the flag and the batch.
    func testSyncBatchNormRefusesABatchSmallerThanTheRanks() throws {
        let dataset = try makeDataset(imagesPerClass: 10)
        let arguments = ["train", "--model", try makeBatchNormalizationDropoutModel().path, "--data", dataset.path,
                         "--epochs", "1", "--batch-size", "13", "--sync-batch-norm", "--out", outputs.appendingPathComponent("small.h5").path]
        let run = try finish(try startMPI(ranks: 3, arguments), arguments: ["mpirun -np 3"] + arguments)
        assertNoCrash(run)
        XCTAssertNotEqual(run.status, 0, "\(run)")
        XCTAssertTrue(run.standardError.contains("Error: invalid --sync-batch-norm on 3 ranks: the smallest batch has 1 examples"), "\(run)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: outputs.appendingPathComponent("small.h5").path), "nothing was trained")
    }

    /// 27 training images in batches of 7: shards of 4+3 and 3+2+2 examples, and a last batch of 6
    /// (2+2+2); the paper's rule (the default) takes its norms from the averaged gradient.
    private func assertRanksMatchOneProcess(optimizer: [String], model: URL? = nil, epochs: Int = 3, file: StaticString = #filePath,
                                            line: UInt = #line) throws {
        let dataset = try makeDataset(imagesPerClass: 10)
        let arguments = ["train", "--model", try (model ?? makeModel()).path, "--data", dataset.path, "--epochs", String(epochs),
                         "--batch-size", "7", "--layer-rates", "paper"] + optimizer
        let single = outputs.appendingPathComponent("single.h5").path
        try lrtSucceeds(arguments + ["--out", single], file: file, line: line)
        let reference = try Checkpoint.load(from: single)
        for ranks in [2, 3] {
            let parallel = outputs.appendingPathComponent("ranks\(ranks).h5").path
            try mpiSucceeds(ranks: ranks, arguments + ["--out", parallel], file: file, line: line)
            let contents = try Checkpoint.load(from: parallel)
            assertWeightsEqual(contents, reference, "\(ranks) ranks", file: file, line: line)
            XCTAssertEqual(contents.training?.ranks, ranks, "the checkpoint records the rank count", file: file, line: line)
            XCTAssertEqual(contents.training?.globalStep, reference.training?.globalStep, file: file, line: line)
            for metric in ["loss", "accuracy", "val_loss", "val_accuracy"] {
                let expected = try XCTUnwrap(reference.training?.history.columns[metric], file: file, line: line)
                let actual = try XCTUnwrap(contents.training?.history.columns[metric], file: file, line: line)
                for (a, b) in zip(actual, expected) {
                    XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "\(metric) on \(ranks) ranks", file: file, line: line)
                }
            }
            XCTAssertEqual(contents.training?.test?.accuracy, reference.training?.test?.accuracy, "sharded test evaluation",
                           file: file, line: line)
        }
    }

    // MARK: - Resume across rank counts

    /// Two ranks train one epoch; three ranks and one process each continue it to three; both end where
    /// one process training three epochs without a stop ends.
    func testResumeFromTwoRanksOnThreeRanksAndOnOneProcess() throws {
        let dataset = try makeDataset(imagesPerClass: 10)
        let common = ["--model", try makeModel().path, "--data", dataset.path, "--batch-size", "5"]
        let uninterrupted = outputs.appendingPathComponent("uninterrupted.h5").path
        try lrtSucceeds(["train"] + common + ["--epochs", "3", "--out", uninterrupted])
        let reference = try Checkpoint.load(from: uninterrupted)

        let first = outputs.appendingPathComponent("two.h5").path
        try mpiSucceeds(ranks: 2, ["train"] + common + ["--epochs", "1", "--out", first])
        XCTAssertEqual(try Checkpoint.load(from: first).training?.ranks, 2)

        let onThree = outputs.appendingPathComponent("three.h5").path
        try mpiSucceeds(ranks: 3, ["resume", first, "--epochs", "3", "--out", onThree])
        let three = try Checkpoint.load(from: onThree)
        XCTAssertEqual(three.training?.ranks, 3)
        assertWeightsEqual(three, reference, "2 ranks, then 3")

        let onOne = outputs.appendingPathComponent("one.h5").path
        try lrtSucceeds(["resume", first, "--epochs", "3", "--out", onOne])
        let one = try Checkpoint.load(from: onOne)
        XCTAssertEqual(one.training?.ranks, 1)
        assertWeightsEqual(one, reference, "2 ranks, then 1 process")
    }

    /// BatchNormalization (per-rank batch statistics by default, moving statistics averaged) and Dropout: the
    /// trajectory is the ranks' own, not one process's, but it is reproducible and an interrupted run resumed
    /// on the same rank count ends exactly where an uninterrupted one ends.
    func testBatchNormalizationAndDropoutOnTwoRanksResumeExactly() throws {
        let dataset = try makeDataset(imagesPerClass: 10)
        let model = try makeBatchNormalizationDropoutModel()
        let common = ["--model", model.path, "--data", dataset.path, "--batch-size", "6"]
        let uninterrupted = outputs.appendingPathComponent("uninterrupted.h5").path
        try mpiSucceeds(ranks: 2, ["train"] + common + ["--epochs", "2", "--out", uninterrupted])
        let first = outputs.appendingPathComponent("first.h5").path
        try mpiSucceeds(ranks: 2, ["train"] + common + ["--epochs", "1", "--out", first])
        let resumed = outputs.appendingPathComponent("resumed.h5").path
        try mpiSucceeds(ranks: 2, ["resume", first, "--epochs", "2", "--out", resumed])
        let expected = try Checkpoint.load(from: uninterrupted), actual = try Checkpoint.load(from: resumed)
        for (a, b) in zip(actual.model.weights, expected.model.weights) {
            XCTAssertEqual(a.value.storage, b.value.storage, "\(a.path) after an exact resume on 2 ranks")
        }
        let moving = try XCTUnwrap(expected.model.weights.first { $0.path.hasSuffix("moving_mean") })
        XCTAssertTrue(moving.value.storage.contains { $0 != 0 }, "the moving mean moved")
        // One process normalizes whole batches: another trajectory.
        let single = outputs.appendingPathComponent("single.h5").path
        try lrtSucceeds(["train"] + common + ["--epochs", "2", "--out", single])
        let alone = try Checkpoint.load(from: single)
        XCTAssertNotEqual(alone.model.weights.map(\.value.storage), expected.model.weights.map(\.value.storage))
    }

    // MARK: - Sharded evaluation

    /// `lrt eval` on 2 and 3 ranks (27 test images in batches of 4: shards of 14+13 and 9+9+9) prints what one
    /// process prints: the same counts, per-class rows, confusion matrix and most confident mistakes, the loss
    /// within 1e-6 relative (only the order of its float sums differs), and rank 0 alone prints and writes the
    /// predictions file, with the rows one process writes.
    func testShardedEvaluationOnTwoAndThreeRanksPrintsWhatOneProcessPrints() throws {
        let dataset = try makeDataset(imagesPerClass: 9)
        let checkpoint = outputs.appendingPathComponent("trained.h5").path
        try lrtSucceeds(["train", "--model", try makeModel().path, "--data", dataset.path, "--epochs", "2",
                         "--batch-size", "5", "--out", checkpoint])
        let evaluation = ["eval", checkpoint, "--json", "--batch-size", "4", "--top-k", "2", "--errors", "5"]
        let singlePredictions = outputs.appendingPathComponent("single.csv").path
        let single = try lrtSucceeds(evaluation + ["--predictions", singlePredictions])
        let expected = try reportFields(single.standardOutput)
        XCTAssertEqual(expected["count"] as? Int, 27)
        for ranks in [2, 3] {
            let predictions = outputs.appendingPathComponent("ranks\(ranks).csv").path
            let run = try mpiSucceeds(ranks: ranks, evaluation + ["--predictions", predictions])
            XCTAssertEqual(run.standardOutput.split(separator: "\n").count, 1, "rank 0 alone prints: \(run)")
            let actual = try reportFields(run.standardOutput)
            XCTAssertEqual(Set(actual.keys), Set(expected.keys))
            for (key, value) in expected where !["loss", "seconds", "images_per_second"].contains(key) {
                XCTAssertEqual(actual[key] as? NSObject, value as? NSObject, "\(key) on \(ranks) ranks")
            }
            let loss = try XCTUnwrap(expected["loss"] as? Double), shardedLoss = try XCTUnwrap(actual["loss"] as? Double)
            XCTAssertEqual(shardedLoss, loss, accuracy: 1e-6 * abs(loss), "loss on \(ranks) ranks")
            try assertPredictionsEqual(predictions, singlePredictions, "predictions on \(ranks) ranks")
        }
    }

    /// The same rows of files and classes, and probabilities within 10⁻⁶ + 10⁻⁵ relative: a shard's batches have
    /// other sizes than one process's, which changes the last bits of the matrix products (as another
    /// `--batch-size` does in one process), and the file prints 6 significant digits.
    private func assertPredictionsEqual(_ actualPath: String, _ expectedPath: String, _ what: String,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        let rows = { (path: String) in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",") } }
        let actual = try rows(actualPath), expected = try rows(expectedPath)
        XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
        XCTAssertEqual(actual.first, expected.first, "\(what): the header", file: file, line: line)
        for (a, b) in zip(actual.dropFirst(), expected.dropFirst()) {
            XCTAssertEqual(a.prefix(3), b.prefix(3), "\(what): file, true and predicted class", file: file, line: line)
            XCTAssertEqual(a.count, b.count, what, file: file, line: line)
            for (x, y) in zip(a.dropFirst(3), b.dropFirst(3)) {
                let (actualValue, expectedValue) = (try XCTUnwrap(Double(x)), try XCTUnwrap(Double(y)))
                XCTAssertEqual(actualValue, expectedValue, accuracy: 1e-6 + 1e-5 * abs(expectedValue), "\(what): \(a[0])", file: file, line: line)
            }
        }
    }

    /// The members of `lrt eval --json`'s one object.
    private func reportFields(_ output: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "not a JSON object: \(output)",
                      file: file, line: line)
    }

    /// Dense → BatchNormalization → ReLU → Dropout → Dense over the 8×8 images. The first Dense has no bias, as is
    /// usual before BatchNormalization: the normalization removes it, so its gradient is zero but for rounding.
    private func makeBatchNormalizationDropoutModel() throws -> URL {
        let model = inputs.appendingPathComponent("bn-dropout.json")
        try """
            {"class_name": "Sequential", "config": {"name": "bn_dropout", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1]}},
              {"class_name": "Flatten", "config": {}},
              {"class_name": "Dense", "config": {"units": 16, "use_bias": false}},
              {"class_name": "BatchNormalization", "config": {}},
              {"class_name": "Activation", "config": {"activation": "relu"}},
              {"class_name": "Dropout", "config": {"rate": 0.3}},
              {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}
            ]}}
            """.write(to: model, atomically: true, encoding: .utf8)
        return model
    }

    // MARK: - Failure

    /// Rank 1 is killed mid-run: mpirun stops the job naming rank 1, the checkpoint of the last
    /// finished epoch loads, and one process resumes it.
    func testAKilledRankStopsTheJobAndLeavesAValidCheckpoint() throws {
        let (run, checkpoint) = try interruptRank1(signal: SIGKILL, extra: [])
        XCTAssertNotEqual(run.status, 0, "\(run)")
        XCTAssertTrue(run.standardError.contains("rank 1"), "the message names rank 1: \(run)")
        try assertResumable(checkpoint)
    }

    /// Rank 1 is stopped (SIGSTOP): rank 0's allreduce waits past --collective-timeout, and the job
    /// stops with a message naming the rank and the step; the checkpoint loads and resumes.
    func testAHungRankTimesOutNamingTheRankAndTheStep() throws {
        let (run, checkpoint) = try interruptRank1(signal: SIGSTOP, extra: ["--collective-timeout", "10"])
        XCTAssertNotEqual(run.status, 0, "\(run)")
        XCTAssertTrue(run.standardError.contains("rank 0 of 2: MPI_Allreduce during step"), "\(run)")
        XCTAssertTrue(run.standardError.contains("--collective-timeout 10"), "\(run)")
        try assertResumable(checkpoint)
    }

    /// Starts a long 2-rank run, waits for its first checkpoint, sends `signal` to rank 1 and waits
    /// (at most 120 s) for mpirun to end.
    private func interruptRank1(signal: Int32, extra: [String]) throws -> (Run, String) {
        let dataset = try makeDataset(imagesPerClass: 10)
        let checkpoint = outputs.appendingPathComponent("long-\(signal).h5").path
        let arguments = ["train", "--model", try makeModel().path, "--data", dataset.path, "--epochs", "100000",
                         "--batch-size", "3", "--out", checkpoint] + extra
        let started = try startMPI(ranks: 2, arguments)
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: checkpoint) && Date() < deadline && started.process.isRunning {
            Thread.sleep(forTimeInterval: 0.1)
        }
        guard FileManager.default.fileExists(atPath: checkpoint) else {
            if started.process.isRunning { started.process.terminate() }
            XCTFail("no checkpoint within 120 s: \(try finish(started, arguments: ["mpirun -np 2"] + arguments))")
            throw CocoaError(.fileNoSuchFile)
        }
        let rank1 = try XCTUnwrap(rankProcess(1, outputPath: checkpoint), "rank 1 of the job is not running")
        kill(rank1, signal)
        let stopDeadline = Date().addingTimeInterval(120)
        while started.process.isRunning && Date() < stopDeadline { Thread.sleep(forTimeInterval: 0.1) }
        if started.process.isRunning {
            kill(rank1, SIGKILL)
            started.process.terminate()
            XCTFail("the job did not stop within 120 s of rank 1's \(signal == SIGKILL ? "death" : "stop")")
        }
        kill(rank1, SIGKILL)  // a stopped rank that mpirun left behind
        return (try finish(started, arguments: ["mpirun -np 2"] + arguments), checkpoint)
    }

    private func assertResumable(_ checkpoint: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let contents = try Checkpoint.load(from: checkpoint)
        let epoch = try XCTUnwrap(contents.training?.epoch, file: file, line: line)
        XCTAssertGreaterThanOrEqual(epoch, 1, file: file, line: line)
        XCTAssertEqual(contents.training?.ranks, 2, file: file, line: line)
        try lrtSucceeds(["resume", checkpoint, "--epochs", String(epoch + 1),
                         "--out", outputs.appendingPathComponent("resumed.h5").path], file: file, line: line)
    }

    /// The process id of rank `rank` of the job writing `outputPath`, from `/proc/*/environ` and `cmdline`.
    private func rankProcess(_ rank: Int, outputPath: String) -> pid_t? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for entry in entries {
            guard let pid = Int32(entry),
                  let command = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                  let environment = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            let arguments = command.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if arguments.first == mpiExecutable, arguments.contains(outputPath),
               variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") {
                return pid
            }
        }
        return nil
    }

    // MARK: - Helpers

    private func assertWeightsEqual(_ actual: Checkpoint.Contents, _ expected: Checkpoint.Contents, _ what: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.model.weights.map(\.path), expected.model.weights.map(\.path), file: file, line: line)
        var worst: (path: String, difference: Float) = ("", 0)
        for (a, b) in zip(actual.model.weights, expected.model.weights) {
            for (x, y) in zip(a.value.storage, b.value.storage) {
                let difference = abs(x - y) / (abs(y) + 1e-6 / Self.weightTolerance)
                if difference > worst.difference { worst = (a.path, difference) }
            }
        }
        print("\(what): largest relative weight difference from one process \(worst.difference) (\(worst.path))")
        XCTAssertLessThanOrEqual(worst.difference, Self.weightTolerance,
                                 "\(what): \(worst.path) differs from one process by \(worst.difference) (relative)",
                                 file: file, line: line)
    }

    private func startMPI(ranks: Int, _ arguments: [String]) throws -> Started {
        let logs = outputs.deletingLastPathComponent().appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let name = UUID().uuidString
        let started = Started(process: Process(), standardOutput: logs.appendingPathComponent(name + ".stdout"),
                              standardError: logs.appendingPathComponent(name + ".stderr"))
        for url in [started.standardOutput, started.standardError] { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        var environment = ProcessInfo.processInfo.environment
        // CI runs as root; one machine with fewer cores than ranks; one thread per rank.
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        environment["OMP_NUM_THREADS"] = "1"
        started.process.executableURL = URL(fileURLWithPath: mpirun)
        started.process.arguments = ["-np", String(ranks), "--oversubscribe", "-x", "OMP_NUM_THREADS", mpiExecutable] + arguments
        started.process.environment = environment
        started.process.currentDirectoryURL = outputs
        started.process.standardOutput = try FileHandle(forWritingTo: started.standardOutput)
        started.process.standardError = try FileHandle(forWritingTo: started.standardError)
        started.process.standardInput = FileHandle.nullDevice
        try started.process.run()
        return started
    }

    @discardableResult
    private func mpiSucceeds(ranks: Int, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Run {
        let started = try startMPI(ranks: ranks, arguments)
        let deadline = Date().addingTimeInterval(300)
        while started.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if started.process.isRunning {
            started.process.terminate()
            XCTFail("mpirun -np \(ranks) lrt \(arguments.joined(separator: " ")) ran over 300 s", file: file, line: line)
        }
        let run = try finish(started, arguments: ["mpirun -np \(ranks)"] + arguments)
        XCTAssertEqual(run.status, 0, "\(run)", file: file, line: line)
        assertNoCrash(run, file: file, line: line)
        return run
    }
}
