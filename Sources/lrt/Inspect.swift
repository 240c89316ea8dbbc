import ArgumentParser
import Foundation
import LRTFormat

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a checkpoint or Keras .h5 model holds: format, model summary, optimizer, progress, history.",
        discussion: """
            The file is loaded as strictly as by `lrt resume`: a damaged file is an error naming what is wrong.
            Checkpoint layout: Schemas/checkpoint.md.
            """)

    @Argument(help: "An lrt checkpoint or Keras legacy .h5 model.")
    var file: String

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        try Isolation.superviseUnlessChild(files: [file], timeout: IsolatedRead.defaultTimeout(files: [file]))
        let inspection = try Inspection(path: file)
        print(json ? inspection.json.serialized : inspection.text)
    }
}

/// Reading untrusted files in a child process (``IsolatedRead``): a file that crashes the
/// HDF5 C library becomes a one-line error instead of a crash of lrt.
enum Isolation {
    /// This executable.
    static var executable: URL { Bundle.main.executableURL ?? URL(fileURLWithPath: "/proc/self/exe") }

    /// For read-only commands: in the parent, runs this same command line in a child process,
    /// replays its output and exits with its status; in the child, returns.
    /// - Parameter timeout: seconds the child may take (default: none).
    static func superviseUnlessChild(files: [String], timeout: TimeInterval? = nil) throws {
        guard !IsolatedRead.isChild else { return }
        let status = try IsolatedRead.supervise(executable: executable, arguments: Array(CommandLine.arguments.dropFirst()),
                                                files: files, timeout: timeout)
        throw ExitCode(status)
    }

    /// For commands that go on to train: has a child read `path` first (`lrt inspect --json`),
    /// so a file that crashes or hangs the HDF5 library is refused before this process opens it.
    static func preflight(_ path: String) throws {
        guard !IsolatedRead.isChild, FileManager.default.fileExists(atPath: path) else { return }
        try IsolatedRead.preflight(path, executable: executable)
    }
}
