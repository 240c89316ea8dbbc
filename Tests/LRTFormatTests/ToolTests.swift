import Foundation
import LRTHDF5
import LRTLayers
import XCTest
@testable import LRTFormat

/// The Python tools on files lrt writes (skipped without h5py, as on CI), and the built `lrt`
/// on damaged files: one `Error:` line, exit status 1, never a crash.
final class ToolTests: FormatTestCase {
    private var tools: URL { Self.repository.appendingPathComponent("Tools") }

    private func requireH5py() throws {
        guard Self.pythonHas(["h5py", "numpy"]) else {
            throw XCTSkip("python3 with h5py and numpy is not available (CI installs no Python packages)")
        }
    }

    /// The `lrt` executable SwiftPM built beside the test bundle.
    private func lrtExecutable() throws -> URL {
        let executable = Bundle.main.bundleURL.appendingPathComponent("lrt")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            XCTFail("lrt is not built at \(executable.path); run `swift build --build-tests`")
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: executable.path])
        }
        return executable
    }

    // MARK: validate_checkpoint.py

    /// h5py reads every file lrt writes, compressed or not, and finds it conforms to Schemas/checkpoint-layout.json.
    func testValidatorAcceptsWhatLrtWrites() throws {
        try requireH5py()
        let (model, _, _) = try trainedState()
        try Checkpoint.save(model: model, optimizer: nil, training: nil, to: path("model-only.h5"))
        let files = [try savedCheckpoint("plain.h5"), try savedCheckpoint("compressed.h5", compress: true),
                     path("model-only.h5"), try fixture("lrt-v1.h5"), try fixture("keras3-adam.h5"), try fixture("keras2-fixed-strings.h5")]
        let run = try python([tools.appendingPathComponent("validate_checkpoint.py").path] + files)
        XCTAssertEqual(run.status, 0, run.output + run.error)
        for file in files { XCTAssert(run.output.contains("\(file): conforms"), run.output) }
        XCTAssert(run.output.contains("compressed.h5: 4 of 4 weight datasets compressed (gzip 4)"), run.output)
        XCTAssert(run.output.contains("plain.h5: 4 weight datasets, uncompressed"), run.output)
    }

    /// The validator names what is wrong, by path.
    func testValidatorReportsProblemsByPath() throws {
        try requireH5py()
        let file = try savedCheckpoint("broken.h5")
        try Damage(file).apply(.int64s("/lrt/training/epoch_order", [3, 1, 1, 2]))
        try Damage(file).apply(.integer("/lrt/training", "position", 9))
        try Damage(file).apply(.deleteAttribute("/lrt", "format_version"))
        let run = try python([tools.appendingPathComponent("validate_checkpoint.py").path, file])
        XCTAssertEqual(run.status, 1, run.output + run.error)
        XCTAssert(run.output.contains("problem: /lrt/training/epoch_order: is not a permutation"), run.output)
        XCTAssert(run.output.contains("problem: /lrt/training@position: 9 exceeds 4"), run.output)
        XCTAssert(run.output.contains("problem: /lrt@format_version: missing attribute"), run.output)
    }

    // MARK: The broken corpus

    /// Every file of Tools/make_broken_corpus.py: `lrt inspect` refuses it with exit status 1 and
    /// one `Error:` line, or loads it (with a warning where the manifest says so); never a crash,
    /// never an HDF5 error dump.
    func testBrokenCorpus() throws {
        try requireH5py()
        let executable = try lrtExecutable()
        let source = try savedCheckpoint("source.h5")
        let corpus = directory.appendingPathComponent("corpus")
        let made = try python([tools.appendingPathComponent("make_broken_corpus.py").path, "--from", source, "--out", corpus.path])
        XCTAssertEqual(made.status, 0, made.output + made.error)
        struct Entry: Decodable { let file: String, expect: String }
        let entries = try JSONDecoder().decode([Entry].self, from: Data(contentsOf: corpus.appendingPathComponent("manifest.json")))
        XCTAssertGreaterThan(entries.count, 200)
        let failures = FailureList()
        let folder = directory!
        DispatchQueue.concurrentPerform(iterations: entries.count) { index in
            let entry = entries[index]
            let file = corpus.appendingPathComponent(entry.file).path
            do {
                let run = try Self.runLRT(executable, ["inspect", "--json", file], in: folder)
                if let problem = Self.judge(run, expect: entry.expect, file: file) { failures.append("\(entry.file): \(problem)") }
            } catch {
                failures.append("\(entry.file): \(error)")
            }
        }
        XCTAssertEqual(failures.items, [], "\(failures.items.count) of \(entries.count) corpus files")
        print("broken corpus: \(entries.count) files checked (\(made.output.trimmingCharacters(in: .whitespacesAndNewlines)))")
    }

    /// What is wrong with one run on a corpus file, or nil.
    private static func judge(_ run: (status: Int32, output: String, error: String), expect: String, file: String) -> String? {
        let lines = run.error.split(separator: "\n", omittingEmptySubsequences: false).dropLast(run.error.hasSuffix("\n") ? 1 : 0)
        switch run.status {
        case 0:
            guard expect != "error" else { return "loaded, but lrt should refuse it" }
            guard run.error.isEmpty else { return "loaded but wrote to stderr: \(run.error)" }
            guard let json = try? JSONValue.parse(run.output), let warnings = json["warnings"]?.arrayValue else {
                return "printed no JSON: \(run.output.prefix(200))"
            }
            if expect == "warning", warnings.isEmpty { return "loaded without the expected warning" }
            if expect == "loads", !warnings.isEmpty { return "unexpected warnings \(warnings)" }
            return nil
        case 1:
            guard expect == "error" || expect == "any" else { return "refused: \(run.error)" }
            guard lines.count == 1, lines[0].hasPrefix("Error: "), lines[0].contains(file) else {
                return "stderr is not one `Error:` line naming the file: \(run.error)"
            }
            return run.output.isEmpty ? nil : "printed on stdout too: \(run.output.prefix(200))"
        default:
            return "exit status \(run.status) (a crash?): \(run.error.prefix(300))"
        }
    }

    // MARK: Files that break the HDF5 library itself

    /// A bit flip that makes libhdf5 1.10.8 crash (SIGSEGV) when read in-process: lrt reads files in
    /// a child process (IsolatedRead) and reports one line instead of crashing. (Another HDF5
    /// version may refuse the file itself; either way: one `Error:` line, exit status 1.)
    func testFileThatCrashesTheHDF5LibraryIsOneErrorLine() throws {
        let file = try fixture("damaged-crashes-libhdf5.h5")
        let run = try runLRT(try lrtExecutable(), ["inspect", file])
        assertOneErrorLine(run, file: file)
    }

    /// A bit flip that makes libhdf5 1.10.8 loop forever: the child is stopped after LRT_READ_TIMEOUT seconds.
    func testFileThatHangsTheHDF5LibraryTimesOut() throws {
        let file = try fixture("damaged-hangs-libhdf5.h5")
        let started = Date()
        let run = try runLRT(try lrtExecutable(), ["inspect", file], environment: [IsolatedRead.timeoutVariable: "3"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 30)
        assertOneErrorLine(run, file: file)
    }

    private func assertOneErrorLine(_ run: (status: Int32, output: String, error: String), file: String, line: UInt = #line) {
        XCTAssertEqual(run.status, 1, run.error, line: line)
        XCTAssertEqual(run.output, "", line: line)
        let lines = run.error.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, run.error, line: line)
        XCTAssert(lines.first?.hasPrefix("Error: ") == true && lines.first?.contains(file) == true, run.error, line: line)
    }

    /// `lrt inspect` of a good file prints the same as the library, through the child process.
    func testInspectThroughTheChildProcessPrintsTheReport() throws {
        let executable = try lrtExecutable()
        let file = try fixture("lrt-v1.h5")
        let run = try runLRT(executable, ["inspect", file])
        XCTAssertEqual(run.status, 0, run.error)
        XCTAssertEqual(run.error, "")
        XCTAssertEqual(run.output, try Inspection(path: file).text + "\n")
    }

    private func runLRT(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws
        -> (status: Int32, output: String, error: String)
    {
        try Self.runLRT(executable, arguments, in: directory, environment: environment)
    }

    /// Runs `lrt arguments` with its output in files under `folder`.
    private static func runLRT(_ executable: URL, _ arguments: [String], in folder: URL, environment: [String: String] = [:]) throws
        -> (status: Int32, output: String, error: String)
    {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let outputURL = folder.appendingPathComponent("lrt-\(UUID().uuidString).out")
        let errorURL = folder.appendingPathComponent("lrt-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputURL)
        let error = try FileHandle(forWritingTo: errorURL)
        defer { try? output.close(); try? error.close() }
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let status = process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
        return (status, try String(contentsOf: outputURL, encoding: .utf8), try String(contentsOf: errorURL, encoding: .utf8))
    }
}

/// Failures collected from concurrent work.
private final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []
    var items: [String] { lock.lock(); defer { lock.unlock() }; return storage.sorted() }
    func append(_ item: String) { lock.lock(); storage.append(item); lock.unlock() }
}
