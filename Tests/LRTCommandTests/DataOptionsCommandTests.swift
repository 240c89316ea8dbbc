import Foundation
import LRTData
import LRTFormat
import XCTest

/// `--normalize`, `--class-weight`, `--memory-budget` and `--cache` from the command line: bad values are one error
/// line naming them, and a streamed, normalized, class-weighted run trains, resumes and is shown by `inspect`.
final class DataOptionsCommandTests: CommandTestCase {
    private var dataset: URL!
    private var model: URL!
    private var checkpoint: String { outputs.appendingPathComponent("model.h5").path }

    override func setUpWithError() throws {
        try super.setUpWithError()
        dataset = try makeDataset()
        model = try makeModel()
    }

    private func train(_ options: [String]) -> [String] {
        ["train", "--model", model.path, "--data", dataset.path, "--epochs", "1", "--out", checkpoint] + options
    }

    func testBadValuesAreNamed() throws {
        try assertFailsCleanly(train(["--memory-budget", "2X"]), mentioning: ["--memory-budget '2X'", "2G"])
        try assertFailsCleanly(train(["--normalize", "z-score"]), mentioning: ["--normalize"])
        let missing = inputs.appendingPathComponent("no-weights.json").path
        try assertFailsCleanly(train(["--class-weight", missing]), mentioning: [missing])
        let weights = inputs.appendingPathComponent("weights.json")
        try Data(#"{"giraffe": 2}"#.utf8).write(to: weights)
        try assertFailsCleanly(train(["--class-weight", weights.path]), mentioning: [weights.path, "'giraffe'"])
        try Data(#"{"\#(Self.patternClasses[0])": -1}"#.utf8).write(to: weights)
        try assertFailsCleanly(train(["--class-weight", weights.path]), mentioning: [weights.path, "-1"])
        try assertFailsCleanly(train(["--memory-budget", "1K"]), mentioning: ["over the memory budget of 1 KiB", "--cache FILE.h5"])
        // `resume` takes the same flags, checked the same way.
        try assertFailsCleanly(["resume", checkpoint, "--memory-budget", "2X"], mentioning: ["--memory-budget '2X'", "2G"])
        try assertFailsCleanly(["resume", checkpoint, "--cache", ""], mentioning: ["--cache needs a file name"])
    }

    func testTheCacheNeverReplacesAFileThatIsNotOne() throws {
        let notes = outputs.appendingPathComponent("notes.h5")
        try Data("my notes".utf8).write(to: notes)
        try assertFailsCleanly(train(["--cache", notes.path]), mentioning: [notes.path, "not an lrt image cache"])
    }

    func testAStreamedNormalizedWeightedRunTrainsResumesAndIsInspected() throws {
        let cache = outputs.appendingPathComponent("images.h5").path
        try lrtSucceeds(train(["--cache", cache, "--memory-budget", "1K", "--normalize", "mean-std", "--class-weight", "balanced"]))
        let inspected = try lrtSucceeds(["inspect", checkpoint]).standardOutput
        for fragment in ["normalize mean-std (mean ", "balanced: ", "\(cache) (streamed, chunk-shuffled order)", "bad images  error, none skipped"] {
            XCTAssertTrue(inspected.contains(fragment), "inspect should show '\(fragment)': \(inspected)")
        }
        try lrtSucceeds(["resume", checkpoint, "--epochs", "2", "--memory-budget", "1K"])
        let evaluated = try lrtSucceeds(["eval", checkpoint, "--json"]).standardOutput
        XCTAssertTrue(evaluated.contains("\"accuracy\""), evaluated)
    }

    /// `resume --memory-budget --cache`: a streamed run resumed with a budget and a new cache file (built, and recorded)
    /// ends with the weights of the run that was never stopped, bit for bit.
    func testResumeTakesTheMemoryBudgetAndACacheAndEndsAsTheUninterruptedRun() throws {
        let first = outputs.appendingPathComponent("first.h5").path, second = outputs.appendingPathComponent("second.h5").path
        let straight = outputs.appendingPathComponent("straight.h5").path
        let streamed = ["--cache", first, "--memory-budget", "1K", "--augment", "flip"]
        try lrtSucceeds(["train", "--model", model.path, "--data", dataset.path, "--epochs", "2", "--out", straight] + streamed)
        try lrtSucceeds(train(streamed))
        try lrtSucceeds(["resume", checkpoint, "--epochs", "2", "--memory-budget", "1K", "--cache", second])
        let expected = try Checkpoint.load(from: straight), resumed = try Checkpoint.load(from: checkpoint)
        XCTAssertEqual(resumed.training?.epoch, 2)
        XCTAssertEqual(resumed.model.parameters.map(\.path), expected.model.parameters.map(\.path))
        for (left, right) in zip(expected.model.parameters, resumed.model.parameters) {
            XCTAssertEqual(left.value.storage, right.value.storage, "\(left.path) differs from the uninterrupted run")
        }
        XCTAssertTrue(ImageCache.isCache(second))
        let inspected = try lrtSucceeds(["inspect", checkpoint]).standardOutput
        XCTAssertTrue(inspected.contains("\(second) (streamed, chunk-shuffled order)"), inspected)
    }

    /// The dataset's image cache as lrt builds it for `--data dataset` (groups `test` and `train`), but in chunks of one
    /// 64-byte image: more chunks than a streamed dataset keeps in memory, so every epoch reads the file.
    private func buildOneImageChunkCache(_ path: String) throws {
        let folders = try ["test", "train"].map {
            ImageCache.Folder(name: $0, listing: try ImageListing.list(root: dataset.appendingPathComponent($0).path))
        }
        _ = try ImageCache.prepare(path: path, folders: folders, preprocessing: Preprocessing(height: 8, width: 8, colorMode: .grayscale),
                                   skipBadImages: false, chunkBytes: 64)
    }

    /// A cache truncated while `train` streams from it (after an epoch's checkpoint is written): one error line naming
    /// the cache, the fix and the checkpoint that still holds the last epoch, status 1, no trap; that checkpoint loads,
    /// and `resume` after deleting the cache (as the message says) builds it anew and trains on.
    func testACacheTruncatedDuringTrainingIsOneErrorLineAndTheCheckpointResumes() throws {
        let cache = outputs.appendingPathComponent("images.h5").path
        try buildOneImageChunkCache(cache)
        let arguments = ["train", "--model", model.path, "--data", dataset.path, "--epochs", "1000000", "--batch-size", "4",
                         "--cache", cache, "--memory-budget", "1K", "--out", checkpoint]
        let started = try start(arguments)
        try waitForError(started, containing: "epoch 2/")  // an epoch's checkpoint is on disk
        XCTAssertEqual(truncate(cache, 0), 0)
        let run = try finish(started, arguments: arguments)
        assertNoCrash(run)
        XCTAssertEqual(run.status, 1, "\(run.description.suffix(1500))")
        let message = run.errorLines.last ?? ""
        XCTAssertTrue(message.hasPrefix("Error: the image cache \(cache) could not be read (truncated: it ends before byte "), message)
        XCTAssertTrue(message.contains("the file changed or its disk failed during the run: delete it, and the next run builds it anew"), message)
        XCTAssertTrue(message.hasSuffix(", intact: continue it with `lrt resume \(checkpoint)`"), message)
        let held = try XCTUnwrap(message.components(separatedBy: "; \(checkpoint) still holds epoch ").last?
            .components(separatedBy: ", intact").first.flatMap { Int($0) }, message)
        XCTAssertGreaterThanOrEqual(held, 1)
        XCTAssertEqual(try completedEpochs(checkpoint), held, "the checkpoint holds the epoch the message names")

        // As the message says: delete the cache and resume.
        try FileManager.default.removeItem(atPath: cache)
        try lrtSucceeds(["resume", checkpoint, "--epochs", String(held + 1), "--memory-budget", "1K"])
        XCTAssertEqual(try completedEpochs(checkpoint), held + 1)
        XCTAssertTrue(ImageCache.isCache(cache), "resume built the cache anew")
    }
}
