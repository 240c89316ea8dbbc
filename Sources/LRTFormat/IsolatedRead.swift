import Foundation
import LRTHDF5

/// Reads files in a child process, so that a file which makes the HDF5 C library crash or
/// hang is reported as a damaged file instead of crashing or hanging lrt.
///
/// The loader checks everything it reads (``Checkpoint/load(from:)``), but it cannot check
/// the HDF5 library itself: libhdf5 1.10 follows corrupted metadata without checks, and
/// about 0.4% of single bit flips in a checkpoint make it crash (a segmentation fault in
/// its global-heap or B-tree code) or loop forever (`Tools/make_broken_corpus.py --flips
/// 1500` finds such files). A child process contains that:
///
/// - ``supervise(executable:arguments:files:timeout:)`` runs a whole read-only command
///   (`lrt inspect`, `lrt predict`, `lrt eval`) in a child, then replays its output; a
///   crash (of the HDF5 library, or an allocation a hostile file asks for that the checks
///   did not foresee) or a timeout becomes a one-line ``CheckpointError``;
/// - ``preflight(_:executable:timeout:)`` has a child read one file (`lrt inspect --json`)
///   before a long-running command (`lrt resume`, `lrt finetune`) opens it.
///
/// The child finds ``childVariable`` in its environment and does not isolate again; setting
/// it yourself reads files in-process (to see a crash under a debugger).
public enum IsolatedRead {
    /// Set in the child's environment (to `1`).
    public static let childVariable = "LRT_ISOLATED_CHILD"

    /// Whether this process is such a child (or isolation was switched off).
    public static var isChild: Bool { ProcessInfo.processInfo.environment[childVariable] != nil }

    /// Signals that mean the child was stopped from outside (Ctrl-C, kill), not crashed.
    private static let externalSignals: Set<Int32> = [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGKILL]

    /// Overrides ``defaultTimeout(files:)``, in seconds (for slow disks, or tests).
    public static let timeoutVariable = "LRT_READ_TIMEOUT"

    /// The time a child may take to read `files`: ``timeoutVariable`` when set, else 60 s
    /// plus 1 s per 20 MB.
    public static func defaultTimeout(files: [String]) -> TimeInterval {
        if let text = ProcessInfo.processInfo.environment[timeoutVariable], let seconds = TimeInterval(text), seconds > 0 {
            return seconds
        }
        let bytes = files.reduce(0.0) { total, path in
            total + (((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.doubleValue ?? 0)
        }
        return 60 + bytes / 20e6
    }

    /// Runs `executable arguments` in a child process, waits for it, and then writes what it
    /// printed to this process's standard output and error.
    ///
    /// - Parameters:
    ///   - files: the files the command reads, for the message.
    ///   - timeout: seconds the child may take; nil waits as long as it runs.
    /// - Returns: the child's exit status; 128 + the signal number when it was stopped
    ///   from outside (Ctrl-C gives 130).
    /// - Throws: ``CheckpointError`` naming `files` when the child crashed (was killed by a
    ///   signal such as SIGSEGV) or ran past `timeout`; its output is dropped then.
    public static func supervise(executable: URL, arguments: [String], files: [String],
                                 timeout: TimeInterval? = nil) throws -> Int32 {
        try requireRegularFiles(files)
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("lrt-isolated-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let outputURL = folder.appendingPathComponent("stdout")
        let errorURL = folder.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputURL)
        let error = try FileHandle(forWritingTo: errorURL)
        let status = try runChild(executable: executable, arguments: arguments, files: files, timeout: timeout,
                                  input: FileHandle.standardInput, output: output, error: error)
        try? output.close()
        try? error.close()
        if let printed = try? Data(contentsOf: outputURL), !printed.isEmpty { FileHandle.standardOutput.write(printed) }
        if let printed = try? Data(contentsOf: errorURL), !printed.isEmpty { FileHandle.standardError.write(printed) }
        return status
    }

    /// Reads `path` as ``Checkpoint/load(from:)`` does, in a child process running
    /// `executable inspect --json path` with its output discarded.
    ///
    /// - Parameter timeout: seconds the child may take (default ``defaultTimeout(files:)``).
    /// - Throws: ``CheckpointError`` when the child crashed or did not finish in time. A file
    ///   that the child merely refuses passes: the caller's own load reports it.
    public static func preflight(_ path: String, executable: URL, timeout: TimeInterval? = nil) throws {
        try requireRegularFiles([path])
        // A real descriptor: Foundation's `FileHandle.nullDevice` has none on Linux, and the
        // child would then inherit (and print to) this process's streams.
        guard let null = FileHandle(forUpdatingAtPath: "/dev/null") else {
            throw CheckpointError(.unreadable(files: [path], problem: "cannot open /dev/null to read \(path) in a child process"))
        }
        defer { try? null.close() }
        _ = try runChild(executable: executable, arguments: ["inspect", "--json", path], files: [path],
                         timeout: timeout ?? defaultTimeout(files: [path]), input: null, output: null, error: null)
    }

    /// Refuses, before a child is started, any of `files` that exists but is not a regular
    /// file: a FIFO would block the child until the timeout, then read as "damaged". Missing
    /// files pass, for the command's own message.
    static func requireRegularFiles(_ files: [String]) throws {
        for path in files where FileManager.default.fileExists(atPath: path) {
            do { try SafeFile.requireRegularFile(path) } catch let error as FileError where error.kind != .systemFailure {
                throw CheckpointError(.file(error))
            }
        }
    }

    /// Spawns the child with `posix_spawn` (standard streams redirected to `input`, `output`,
    /// `error`), waits for it on another thread, and classifies how it ended.
    private static func runChild(executable: URL, arguments: [String], files: [String], timeout: TimeInterval?,
                                 input: FileHandle, output: FileHandle, error: FileHandle) throws -> Int32 {
        var environment = ProcessInfo.processInfo.environment
        environment[childVariable] = "1"
        environment["SWIFT_BACKTRACE"] = "enable=no"  // a crash is reported by the parent, in one line
        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input.fileDescriptor, 0)
        posix_spawn_file_actions_adddup2(&actions, output.fileDescriptor, 1)
        posix_spawn_file_actions_adddup2(&actions, error.fileDescriptor, 2)
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable.path, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw CheckpointError(.unreadable(files: files, problem: "cannot start \(executable.path) to read \(files.joined(separator: " and ")) in a child process: \(String(cString: strerror(spawned))); set \(childVariable)=1 to read in this process"))
        }
        let finished = DispatchSemaphore(value: 0)
        let exit = ExitStatus()
        let child = pid
        Thread.detachNewThread {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0, errno == EINTR {}
            exit.value = status
            finished.signal()
        }
        if let timeout {
            if finished.wait(timeout: .now() + timeout) == .timedOut {
                kill(pid, SIGKILL)
                finished.wait()
                throw CheckpointError(.unreadable(files: files, problem: "\(files.joined(separator: " or ")) is damaged: reading it did not finish within \(Int(timeout)) s (the HDF5 library loops on corrupted metadata); restore the file from a backup or re-create it"))
            }
        } else {
            finished.wait()
        }
        let signal = exit.value & 0x7F  // WTERMSIG; 0 when the child exited
        guard signal != 0 else { return (exit.value >> 8) & 0xFF }  // WEXITSTATUS
        if externalSignals.contains(signal) { return 128 + signal }
        throw CheckpointError(.unreadable(files: files, problem: "\(files.joined(separator: " or ")) cannot be read: reading it crashed lrt (signal \(signal), in the HDF5 library or out of memory); the file is damaged or hostile: restore it from a backup or re-create it"))
    }
}

/// The child's wait status, written by the waiting thread before it signals the semaphore.
private final class ExitStatus: @unchecked Sendable {
    var value: Int32 = 0
}
