import Foundation
import LRTHDF5
import XCTest

/// The one write path (exclusive temporary file, fsync, rename, fsync of the folder, lock) and
/// the checks made before anything is written or read. Failures of the disk are injected
/// through ``SafeFile/fileSystem``, the file layer's test double.
final class SafeFileTests: HDF5TestCase {
    override func tearDownWithError() throws {
        SafeFile.fileSystem = .system
        try super.tearDownWithError()
    }

    private func bytes(of path: String) -> Data? { FileManager.default.contents(atPath: path) }

    private func temporaryFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(SafeFile.temporarySuffix) }
    }

    private func assertFileError<Result>(_ expression: @autoclosure () throws -> Result, kind: FileError.Kind, mentions fragments: [String],
                                 file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            guard let error = error as? FileError else { return XCTFail("expected FileError, got \(error)", file: file, line: line) }
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "not one line: \(error)", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(error.description.contains(fragment), "'\(error)' does not mention '\(fragment)'", file: file, line: line)
            }
        }
    }

    /// A disk that fills after 100 bytes: the write fails with ENOSPC, the old file stays, no temporary remains.
    func testFullDiskKeepsThePreviousFileAndLeavesNoTemporary() throws {
        let target = temporaryPath("model.h5")
        try SafeFile.write(Array("old contents".utf8), to: target)
        let written = Counter()
        SafeFile.fileSystem.write = { descriptor, buffer, count in
            let allowed = max(0, 100 - written.add(0))
            guard allowed > 0 else { errno = ENOSPC; return -1 }
            let result = Glibc.write(descriptor, buffer, min(count, allowed))
            _ = written.add(result)
            return result
        }
        assertFileError(try SafeFile.write([UInt8](repeating: 7, count: 10_000), to: target, what: "checkpoint"),
                        kind: .systemFailure, mentions: [target, "No space left on device", "after 100 of 10000 bytes", "free space"])
        XCTAssertEqual(bytes(of: target), Data("old contents".utf8))
        XCTAssertEqual(try temporaryFiles(), [])
    }

    /// A failing fsync (an I/O error reported late) fails the save instead of renaming unsynced data.
    func testFailedFsyncIsNotRenamed() throws {
        let target = temporaryPath("model.h5")
        SafeFile.fileSystem.synchronize = { _ in errno = EIO; return -1 }
        assertFileError(try SafeFile.write([1, 2, 3], to: target), kind: .systemFailure, mentions: [target, "fsync failed"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
        XCTAssertEqual(try temporaryFiles(), [])
    }

    /// The data and then the folder are synced, and the rename comes between them.
    func testFileIsSyncedBeforeTheRenameAndTheFolderAfter() throws {
        let target = temporaryPath("model.h5")
        let events = EventLog()
        SafeFile.fileSystem.synchronize = { descriptor in
            var status = stat()
            fstat(descriptor, &status)
            events.append(status.st_mode & S_IFMT == S_IFDIR ? "fsync folder" : "fsync file")
            return Glibc.fsync(descriptor)
        }
        SafeFile.fileSystem.rename = { source, destination in
            events.append("rename")
            return Glibc.rename(source, destination)
        }
        try SafeFile.write([1, 2, 3], to: target)
        XCTAssertEqual(events.entries, ["fsync file", "rename", "fsync folder"])
        XCTAssertEqual(bytes(of: target), Data([1, 2, 3]))
    }

    /// Symbolic links planted at the old predictable temporary names (`.<name>.<pid>.tmp`) are
    /// never followed, and two saves use different, unpredictable temporary names.
    func testPlantedSymbolicLinksAreNotFollowed() throws {
        let victim = temporaryPath("victim.txt")
        try Data("precious".utf8).write(to: URL(fileURLWithPath: victim))
        let target = temporaryPath("model.h5")
        try FileManager.default.createSymbolicLink(atPath: temporaryPath(".model.h5.\(getpid()).tmp"), withDestinationPath: victim)
        let names = EventLog()
        SafeFile.fileSystem.rename = { source, destination in
            names.append((source as NSString).lastPathComponent)
            return Glibc.rename(source, destination)
        }
        try SafeFile.write([1], to: target)
        try SafeFile.write([2], to: target)
        XCTAssertEqual(bytes(of: victim), Data("precious".utf8))
        XCTAssertEqual(bytes(of: target), Data([2]))
        XCTAssertEqual(names.entries.count, 2)
        XCTAssertNotEqual(names.entries.first, names.entries.last)
        XCTAssertTrue(names.entries.allSatisfy { $0.hasPrefix(".model.h5.\(getpid()).") && $0.hasSuffix(SafeFile.temporarySuffix) })
    }

    /// Temporary files of dead processes are removed by the next save; a live process's stay.
    func testStaleTemporaryFilesOfDeadProcessesAreRemoved() throws {
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let stale = temporaryPath(".model.h5.\(dead.processIdentifier).abc\(SafeFile.temporarySuffix)")
        let live = temporaryPath(".model.h5.\(getpid()).def\(SafeFile.temporarySuffix)")
        let other = temporaryPath(".other.h5.\(dead.processIdentifier).abc\(SafeFile.temporarySuffix)")
        for path in [stale, live, other] { XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(count: 10))) }
        try SafeFile.write([1], to: temporaryPath("model.h5"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
        XCTAssertTrue(FileManager.default.fileExists(atPath: live))
        XCTAssertTrue(FileManager.default.fileExists(atPath: other))
    }

    /// A second lock on the same target fails at once naming the holder's process id; after
    /// release, the lock file is gone and the target can be locked again.
    func testSecondLockFailsNamingTheHolder() throws {
        let target = temporaryPath("model.h5")
        let first = try SafeFile.Lock(target, what: "checkpoint")
        let started = Date()
        assertFileError(try SafeFile.Lock(target, what: "checkpoint"), kind: .locked,
                        mentions: [target, "process \(getpid())", "another lrt run"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 1)
        first.release()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
        try SafeFile.Lock(target).release()
    }

    // MARK: - Checking targets

    private func target(_ path: String, overwrite: Bool = false, inputs: [String] = [], inputFolders: [String] = []) -> SafeFile.Target {
        SafeFile.Target(path: path, what: "checkpoint", overwrite: overwrite, inputs: inputs, inputFolders: inputFolders,
                        isReplaceable: { FileManager.default.contents(atPath: $0) == Data("checkpoint".utf8) })
    }

    /// Only a replaceable file (or none) may be replaced without overwrite; nothing else is ever written.
    func testTargetCheckRefusesWhatIsNotAnOutput() throws {
        let notes = temporaryPath("notes.txt")
        try Data("my notes".utf8).write(to: URL(fileURLWithPath: notes))
        assertFileError(try target(notes).check(), kind: .notReplaceable, mentions: [notes, "--overwrite"])
        try target(notes, overwrite: true).check()
        assertFileError(try target(notes, overwrite: true, inputs: [notes]).check(), kind: .sameAsInput, mentions: [notes, "input"])

        let previous = temporaryPath("previous.h5")
        try Data("checkpoint".utf8).write(to: URL(fileURLWithPath: previous))
        try target(previous).check()

        assertFileError(try target("/dev/null", overwrite: true).check(), kind: .notRegularFile, mentions: ["/dev/null", "character device"])
        let fifo = temporaryPath("fifo")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        assertFileError(try target(fifo, overwrite: true).check(), kind: .notRegularFile, mentions: [fifo, "FIFO"])
        assertFileError(try target(directory.path).check(), kind: .isFolder, mentions: [directory.path, "folder"])
        assertFileError(try target("").check(), kind: .invalidPath, mentions: ["empty"])
        assertFileError(try target(temporaryPath("newdir") + "/").check(), kind: .invalidPath, mentions: ["newdir/", "ends in '/'"])
        assertFileError(try target(temporaryPath("missing/model.h5")).check(), kind: .noFolder, mentions: ["missing", "does not exist"])
        let link = temporaryPath("link.h5")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: notes)
        assertFileError(try target(link).check(), kind: .symbolicLink, mentions: [link, "symbolic link"])
        let dataset = temporaryPath("data")
        try FileManager.default.createDirectory(atPath: dataset + "/train/cat", withIntermediateDirectories: true)
        assertFileError(try target(dataset + "/train/cat/x.png", inputFolders: [dataset]).check(), kind: .sameAsInput,
                        mentions: ["inside the input folder", dataset])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted(),
                       ["data", "fifo", "link.h5", "notes.txt", "previous.h5"], "the check left a file behind")
    }

    /// A 253-byte name can be written (its temporary name is shortened); a 256-byte one is refused before any work.
    func testLongNamesFitOrAreRefusedUpFront() throws {
        let fitting = temporaryPath(String(repeating: "a", count: 250) + ".h5")
        try target(fitting).check()
        try SafeFile.write([1], to: fitting)
        XCTAssertEqual(bytes(of: fitting), Data([1]))
        let tooLong = temporaryPath(String(repeating: "b", count: 253) + ".h5")
        assertFileError(try target(tooLong).check(), kind: .systemFailure, mentions: ["too long", "256 bytes", "shorter name"])
    }

    // MARK: - Reading

    /// A FIFO is refused at once, without opening it (which would block until a writer comes).
    func testFIFOsAreRefusedWithoutBlocking() throws {
        let fifo = temporaryPath("model.h5")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let started = Date()
        assertFileError(try SafeFile.readRegularFile(fifo, what: "model config", limit: 100), kind: .notRegularFile,
                        mentions: [fifo, "FIFO", "model config"])
        assertHDF5Error(try HDF5File.openForReading(atPath: fifo), kind: .notRegularFile, mentions: [fifo, "FIFO"])
        assertHDF5Error(try HDF5File.openForReading(atPath: "/dev/zero"), kind: .notRegularFile, mentions: ["/dev/zero", "character device"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 1)
    }

    /// Files above the limit are refused before they are read.
    func testOversizedFilesAreRefused() throws {
        let big = temporaryPath("big.json")
        try Data(count: 1000).write(to: URL(fileURLWithPath: big))
        assertFileError(try SafeFile.readRegularFile(big, limit: 999), kind: .tooLarge, mentions: [big, "1000 bytes"])
        XCTAssertEqual(try SafeFile.readRegularFile(big, limit: 1000).count, 1000)
    }
}

/// A thread-safe running total for the file-layer doubles.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add(_ amount: Int) -> Int { lock.withLock { value += amount; return value } }
}

/// A thread-safe list of what the file-layer doubles saw.
private final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [String] = []
    func append(_ event: String) { lock.withLock { events.append(event) } }
    var entries: [String] { lock.withLock { events } }
}
