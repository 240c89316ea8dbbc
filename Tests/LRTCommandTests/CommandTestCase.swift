import Foundation
import LRTData
import LRTTensor
import XCTest

/// Base class of the end-to-end tests: runs the built `lrt` executable in a fresh temporary
/// directory (removed afterwards) and builds tiny PNG datasets there.
///
/// Layout of the temporary directory:
/// - `inputs/`: datasets, model configs and broken files the commands read;
/// - `out/`: the working directory of every command and the folder of every `--out`, so a
///   test can tell that a failing command left nothing behind.
class CommandTestCase: XCTestCase {
    private(set) var directory: URL!
    /// Datasets, model configs and damaged files.
    var inputs: URL { directory.appendingPathComponent("inputs") }
    /// The commands' working directory and the folder of their checkpoints.
    var outputs: URL { directory.appendingPathComponent("out") }

    /// What one run of `lrt` did.
    struct Run: CustomStringConvertible {
        var arguments: [String]
        var status: Int32
        var reason: Process.TerminationReason
        var standardOutput: String
        var standardError: String

        /// Standard error as lines, without the empty string after the final newline.
        var errorLines: [String] {
            var lines = standardError.components(separatedBy: "\n")
            if lines.last == "" { lines.removeLast() }
            return lines
        }

        var description: String {
            "lrt \(arguments.joined(separator: " ")) → \(reason == .exit ? "exit" : "signal") \(status)\n"
                + "stdout:\n\(standardOutput)stderr:\n\(standardError)"
        }
    }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("LRTCommandTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try FileManager.default.removeItem(at: directory) }
    }

    // MARK: - Running lrt

    /// The `lrt` executable SwiftPM built next to the test bundle.
    static var executable: URL {
        Bundle.main.bundleURL.appendingPathComponent("lrt")
    }

    /// A process from ``start(_:environment:)``: its output goes to files outside ``outputs``.
    struct Started {
        var process: Process
        var standardOutput: URL
        var standardError: URL
    }

    /// Starts `lrt arguments` in ``outputs``; `environment` replaces the inherited one.
    func start(_ arguments: [String], environment: [String: String]? = nil) throws -> Started {
        guard FileManager.default.isExecutableFile(atPath: Self.executable.path) else {
            XCTFail("lrt is not built at \(Self.executable.path); run `swift build --build-tests`")
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: Self.executable.path])
        }
        let logs = directory.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let name = UUID().uuidString
        let started = Started(process: Process(), standardOutput: logs.appendingPathComponent(name + ".stdout"),
                              standardError: logs.appendingPathComponent(name + ".stderr"))
        let process = started.process
        process.executableURL = Self.executable
        process.arguments = arguments
        process.currentDirectoryURL = outputs
        if let environment { process.environment = environment }
        for url in [started.standardOutput, started.standardError] {
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        }
        // Files rather than pipes: nothing can fill up and block the child.
        process.standardOutput = try FileHandle(forWritingTo: started.standardOutput)
        process.standardError = try FileHandle(forWritingTo: started.standardError)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return started
    }

    /// Waits until the standard error of a process from ``start(_:environment:)`` has a line
    /// containing `text` (a readiness signal), failing the test after `timeout` seconds or
    /// when the process exits first.
    func waitForError(_ started: Started, containing text: String, timeout: TimeInterval = 120,
                      file: StaticString = #filePath, line: UInt = #line) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let output = (try? String(contentsOf: started.standardError, encoding: .utf8)) ?? ""
            if output.split(separator: "\n").contains(where: { $0.contains(text) }) { return }
            guard started.process.isRunning else {
                XCTFail("lrt exited before printing '\(text)': \(output.suffix(2000))", file: file, line: line)
                throw CocoaError(.executableLoad)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTFail("lrt printed no '\(text)' within \(Int(timeout)) s", file: file, line: line)
        throw CocoaError(.executableLoad)
    }

    /// Waits for a process from ``start(_:environment:)`` to exit and collects its output.
    func finish(_ started: Started, arguments: [String]) throws -> Run {
        started.process.waitUntilExit()
        return Run(arguments: arguments, status: started.process.terminationStatus,
                   reason: started.process.terminationReason,
                   standardOutput: try String(contentsOf: started.standardOutput, encoding: .utf8),
                   standardError: try String(contentsOf: started.standardError, encoding: .utf8))
    }

    /// Runs `lrt arguments` to completion.
    func lrt(_ arguments: [String], environment: [String: String]? = nil) throws -> Run {
        try finish(try start(arguments, environment: environment), arguments: arguments)
    }

    /// Runs `lrt arguments` and fails the test unless it exits with status 0.
    @discardableResult
    func lrtSucceeds(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Run {
        let run = try lrt(arguments)
        XCTAssertEqual(run.reason, .exit, "\(run)", file: file, line: line)
        XCTAssertEqual(run.status, 0, "\(run)", file: file, line: line)
        assertNoCrash(run, file: file, line: line)
        return run
    }

    // MARK: - Assertions

    func assertNoCrash(_ run: Run, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.reason, .exit, "lrt was killed by a signal: \(run)", file: file, line: line)
        for crashSign in ["Fatal error", "Illegal instruction", "Segmentation fault", "Stack dump", "Trace/breakpoint"] {
            XCTAssertFalse(run.standardError.contains(crashSign), "lrt crashed: \(run)", file: file, line: line)
        }
    }

    /// Runs `lrt arguments` and asserts it fails the way a user should see: a non-zero exit
    /// status (no signal, no Swift runtime trap), one `Error: …` line on stderr mentioning
    /// every fragment, nothing on stdout, and ``outputs`` exactly as it was (no new or partial
    /// checkpoint, no temporary file, existing files byte-identical).
    ///
    /// ArgumentParser follows a validation error (exit status 64) with a usage hint
    /// (`Help: …`, `Usage: …`, `  See '…'`); only those lines may follow the error then.
    @discardableResult
    func assertFailsCleanly(_ arguments: [String], mentioning fragments: [String],
                            file: StaticString = #filePath, line: UInt = #line) throws -> Run {
        let before = try snapshot(outputs)
        let run = try lrt(arguments)
        assertNoCrash(run, file: file, line: line)
        XCTAssertNotEqual(run.status, 0, "lrt should have failed: \(run)", file: file, line: line)
        XCTAssertEqual(run.standardOutput, "", "a failing command should print nothing on stdout: \(run)", file: file, line: line)

        let lines = run.errorLines
        let message = lines.first ?? ""
        XCTAssertTrue(message.hasPrefix("Error: ") && message.count > "Error: ".count,
                      "stderr should start with one `Error: …` line: \(run)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(message.contains(fragment), "the error line does not mention '\(fragment)': \(run)", file: file, line: line)
        }
        let extraLines = lines.dropFirst()
        if run.status == 64 {
            let usageHint = extraLines.allSatisfy { $0.hasPrefix("Help: ") || $0.hasPrefix("Usage: ") || $0.hasPrefix("  See '") }
            XCTAssertTrue(usageHint, "only a usage hint may follow a validation error: \(run)", file: file, line: line)
        } else {
            XCTAssertTrue(extraLines.isEmpty, "stderr should be exactly one line: \(run)", file: file, line: line)
        }

        let after = try snapshot(outputs)
        XCTAssertEqual(after.keys.sorted(), before.keys.sorted(), "files in out/ changed: \(run)", file: file, line: line)
        for (name, contents) in before where after[name] != nil {
            XCTAssertTrue(after[name] == contents, "\(name) was modified by a failing command: \(run)", file: file, line: line)
        }
        return run
    }

    /// Every file under `folder` (hidden ones included), by relative path, with its bytes.
    /// The epochs a checkpoint has completed, as `lrt inspect` prints them (`training    epoch N done, …`).
    func completedEpochs(_ checkpoint: String, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let inspect = try lrtSucceeds(["inspect", checkpoint], file: file, line: line)
        let field = inspect.standardOutput.components(separatedBy: "\n").first { $0.hasPrefix("training ") }
        return try XCTUnwrap(field?.components(separatedBy: "epoch ").dropFirst().first?.split(separator: " ").first
            .flatMap { Int($0) }, "no completed epochs in \(inspect)", file: file, line: line)
    }

    func snapshot(_ folder: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        guard let enumerator = FileManager.default.enumerator(atPath: folder.path) else { return files }
        for case let name as String in enumerator {
            let path = folder.appendingPathComponent(name).path
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            files[name] = isDirectory.boolValue ? Data() : try Data(contentsOf: URL(fileURLWithPath: path))
        }
        return files
    }

    // MARK: - Inputs

    /// The classes of ``makeDataset(_:classes:imagesPerClass:)``, each a bright band of an 8×8 image.
    static let patternClasses = ["left", "right", "top"]

    /// Writes an 8×8 grayscale dataset `inputs/name/{train,test}/<class>/NNN.png`: class
    /// `left` is bright in its left half, `right` in its right half, `top` in its top half,
    /// plus deterministic noise, so a small MLP learns it in a few steps.
    /// - Returns: the dataset folder.
    @discardableResult
    func makeDataset(_ name: String = "shapes", classes: [String] = patternClasses, imagesPerClass: Int = 10) throws -> URL {
        let root = inputs.appendingPathComponent(name)
        var noise = SeededGenerator(seed: 42)
        for split in ["train", "test"] {
            for className in classes {
                let folder = root.appendingPathComponent("\(split)/\(className)")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                for index in 0..<imagesPerClass {
                    var pixels = [UInt8](repeating: 0, count: 8 * 8)  // [height, width], one channel
                    for row in 0..<8 {
                        for column in 0..<8 {
                            let bright: Bool
                            switch className {
                            case "left": bright = column < 4
                            case "right": bright = column >= 4
                            default: bright = row < 4
                            }
                            pixels[row * 8 + column] = bright ? 200 + noise.byte(below: 56) : noise.byte(below: 56)
                        }
                    }
                    try PNGCodec.encode(pixels, height: 8, width: 8, channels: 1,
                                        toFileAt: folder.appendingPathComponent(String(format: "%03d.png", index)).path)
                }
            }
        }
        return root
    }

    /// Copies dataset `source` to `inputs/name` so a test can damage the copy.
    func copyDataset(_ source: URL, to name: String) throws -> URL {
        let copy = inputs.appendingPathComponent(name)
        try FileManager.default.copyItem(at: source, to: copy)
        return copy
    }

    /// Writes a Keras Sequential config for 8×8×1 images: Flatten, Dense(16, relu), Dense(classes, softmax).
    /// `flattenClass` replaces the Flatten layer's class name (to test unknown layers).
    func makeModel(_ name: String = "model.json", classes: Int = patternClasses.count, flattenClass: String = "Flatten") throws -> URL {
        let config = """
            {"class_name": "Sequential", "config": {"name": "tiny_mlp", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1]}},
              {"class_name": "\(flattenClass)", "config": {}},
              {"class_name": "Dense", "config": {"units": 16, "activation": "relu"}},
              {"class_name": "Dense", "config": {"units": \(classes), "activation": "softmax"}}
            ]}}
            """
        let url = inputs.appendingPathComponent(name)
        try config.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Trains the tiny model on `dataset` into `out/name` and returns the checkpoint.
    func trainCheckpoint(_ name: String = "model.h5", dataset: URL, epochs: Int = 2) throws -> URL {
        let checkpoint = outputs.appendingPathComponent(name)
        try lrtSucceeds(["train", "--model", try makeModel().path, "--data", dataset.path,
                         "--epochs", String(epochs), "--batch-size", "4", "--out", checkpoint.path])
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint.path), "train wrote no \(checkpoint.path)")
        return checkpoint
    }
}

/// Test noise from the product's own seeded generator.
extension SeededGenerator {
    mutating func byte(below limit: UInt8) -> UInt8 { UInt8(next() % UInt64(limit)) }

    mutating func bytes(_ count: Int) -> Data { Data((0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }) }
}
