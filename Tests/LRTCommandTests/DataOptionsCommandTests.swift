import Foundation
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
        try lrtSucceeds(["resume", checkpoint, "--epochs", "2"])
        let evaluated = try lrtSucceeds(["eval", checkpoint, "--json"]).standardOutput
        XCTAssertTrue(evaluated.contains("\"accuracy\""), evaluated)
    }
}
