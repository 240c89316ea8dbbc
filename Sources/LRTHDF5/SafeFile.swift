import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A file that cannot be read or written safely, named with the problem and a fix.
///
/// `description` is one line, for example:
/// `/data/notes.txt exists and is not an lrt or Keras checkpoint; choose another file or pass --overwrite to replace it`.
public struct FileError: Error, CustomStringConvertible, Equatable {
    /// The broad category of a ``FileError``, for callers (and tests) that react differently.
    public enum Kind: Sendable, Equatable {
        /// The path is empty or ends in `/`.
        case invalidPath
        /// The folder that should hold the file is missing or not a folder.
        case noFolder
        /// The path names a folder where a file is needed.
        case isFolder
        /// The path names a FIFO, device, socket or other non-regular file.
        case notRegularFile
        /// The target is a symbolic link (replaced only with `--overwrite`).
        case symbolicLink
        /// The target exists and is not a file lrt may replace (replaced only with `--overwrite`).
        case notReplaceable
        /// The output is one of the command's inputs.
        case sameAsInput
        /// Another process holds the target's lock.
        case locked
        /// The file is larger than the reader accepts.
        case tooLarge
        /// An operating-system call failed (`errno` in ``code``): no space, no permission, name too long.
        case systemFailure
    }

    /// The broad category of the failure.
    public let kind: Kind
    /// The file the error is about.
    public let path: String
    /// The whole message: what is wrong and how to fix it.
    public let description: String
    /// The `errno` of a ``Kind/systemFailure``, 0 otherwise.
    public let code: Int32

    /// Creates an error; `message` is the complete one-line text.
    public init(_ kind: Kind, path: String, _ message: String, code: Int32 = 0) {
        self.kind = kind
        self.path = path
        self.description = message
        self.code = code
    }
}

/// Reads and writes files the way databases do (SQLite, LMDB): every output goes to an
/// exclusive temporary file with an unpredictable name in the target's folder, is `fsync`ed,
/// renamed over the target and followed by an `fsync` of the folder, under an advisory lock
/// on the target. Inputs are opened only when they are regular files, so a FIFO or a device
/// is refused at once instead of blocking or being read forever.
///
/// This is the one implementation of write-temporary-then-rename that every lrt writer uses.
public enum SafeFile {
    /// Suffix of temporary files: `.<name>.<pid>.<random>.lrt-tmp` beside the target.
    public static let temporarySuffix = ".lrt-tmp"
    /// Suffix of lock files: `.<name>.lrt-lock` beside the target, removed when released.
    public static let lockSuffix = ".lrt-lock"
    /// Longest file name the file systems lrt supports accept (`NAME_MAX`).
    static let maximumNameBytes = 255

    // MARK: - The file layer (replaceable for fault-injection tests)

    /// The system calls ``write(_:to:)`` makes, so that tests can inject failures (a full
    /// disk, a failing `fsync`) where a small file system cannot be mounted.
    public struct FileSystem: Sendable {
        /// `write(2)`: returns the bytes written or -1 with `errno` set.
        public var write: @Sendable (_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int
        /// `fsync(2)`: returns 0 or -1 with `errno` set.
        public var synchronize: @Sendable (_ descriptor: Int32) -> Int32
        /// `rename(2)`: returns 0 or -1 with `errno` set.
        public var rename: @Sendable (_ source: String, _ destination: String) -> Int32

        /// The real system calls.
        public static let system = FileSystem(
            write: { Glibc.write($0, $1, $2) }, synchronize: { Glibc.fsync($0) }, rename: { Glibc.rename($0, $1) })

        /// Creates a file layer from the three calls.
        public init(write: @escaping @Sendable (Int32, UnsafeRawPointer, Int) -> Int,
                    synchronize: @escaping @Sendable (Int32) -> Int32,
                    rename: @escaping @Sendable (String, String) -> Int32) {
            self.write = write
            self.synchronize = synchronize
            self.rename = rename
        }
    }

    private static let fileSystemLock = NSLock()
    nonisolated(unsafe) private static var installedFileSystem = FileSystem.system

    /// The file layer in use (``FileSystem/system`` unless a test replaced it).
    public static var fileSystem: FileSystem {
        get { fileSystemLock.withLock { installedFileSystem } }
        set { fileSystemLock.withLock { installedFileSystem = newValue } }
    }

    // MARK: - Reading

    /// What a path names, from `stat` (following symbolic links; the user named the path).
    static func fileType(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "a regular file"
        }
    }

    /// Checks that `path` names an existing regular file (symbolic links are followed), without
    /// opening it: a FIFO, device, socket or folder is refused at once.
    ///
    /// - Parameter what: what the file is, for the message (`"checkpoint"`, `"model config"`).
    /// - Returns: the file's size in bytes.
    /// - Throws: ``FileError`` naming `path`: `.systemFailure` (missing, no permission), `.isFolder`
    ///   or `.notRegularFile`.
    @discardableResult
    public static func requireRegularFile(_ path: String, what: String = "file") throws -> Int {
        guard !path.isEmpty else { throw FileError(.invalidPath, path: path, "the \(what) path is empty; name a file") }
        var status = stat()
        guard stat(path, &status) == 0 else {
            let code = errno
            let fix = code == ENOENT ? "check the path" : code == EACCES ? "check its permissions" : "check the path and its permissions"
            throw FileError(.systemFailure, path: path, "cannot read \(what) \(path): \(String(cString: strerror(code))); \(fix)", code: code)
        }
        if status.st_mode & S_IFMT == S_IFDIR {
            throw FileError(.isFolder, path: path, "\(what) \(path) is a folder, not a file; name the file inside it")
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw FileError(.notRegularFile, path: path, "\(what) \(path) is \(fileType(status.st_mode)), not a regular file; lrt reads only regular files: name a file")
        }
        return Int(status.st_size)
    }

    /// Reads the whole regular file at `path`, at most `limit` bytes. Opened non-blocking
    /// and checked after opening too, so a FIFO swapped in after the check cannot block.
    ///
    /// - Throws: ``FileError`` naming `path` (see ``requireRegularFile(_:what:)``), `.tooLarge`.
    public static func readRegularFile(_ path: String, what: String = "file", limit: Int) throws -> [UInt8] {
        try requireRegularFile(path, what: what)
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw systemError(errno, path: path, doing: "cannot read \(what)") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw FileError(.notRegularFile, path: path, "\(what) \(path) is not a regular file; lrt reads only regular files: name a file")
        }
        guard Int(status.st_size) <= limit else {
            throw FileError(.tooLarge, path: path, "\(what) \(path) has \(status.st_size) bytes, more than the \(limit) lrt reads; is it the right file?")
        }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw systemError(errno, path: path, doing: "cannot read \(what)") }
            if count == 0 { bytes.removeLast(bytes.count - offset); break }  // the file shrank
            offset += count
        }
        return bytes
    }

    /// Whether two paths name the same file (same device and inode); false when either is missing.
    public static func sameFile(_ first: String, _ second: String) -> Bool {
        var a = stat(), b = stat()
        guard stat(first, &a) == 0, stat(second, &b) == 0 else { return false }
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    // MARK: - Checking a target before any work

    /// What may be written at a target path.
    public struct Target: Sendable {
        /// The file to write.
        public var path: String
        /// What the file is, for messages (`"checkpoint"`, `"predictions file"`).
        public var what: String
        /// Whether an existing regular file may be replaced without `overwrite` (an lrt or
        /// Keras checkpoint for checkpoints). Called only for regular files.
        public var isReplaceable: @Sendable (String) -> Bool
        /// Replace any existing regular file or symbolic link (`--overwrite`).
        public var overwrite: Bool
        /// The command's input files, which the output may never be.
        public var inputs: [String]
        /// Folders the output may not be inside (a dataset: a new file there would become data).
        public var inputFolders: [String]

        /// Describes a target; see the properties.
        public init(path: String, what: String, overwrite: Bool = false, inputs: [String] = [],
                    inputFolders: [String] = [], isReplaceable: @escaping @Sendable (String) -> Bool) {
            self.path = path
            self.what = what
            self.overwrite = overwrite
            self.inputs = inputs
            self.inputFolders = inputFolders
            self.isReplaceable = isReplaceable
        }

        /// The folder holding the target (`.` for a bare name).
        var folder: String {
            let folder = (path as NSString).deletingLastPathComponent
            return folder.isEmpty ? "." : folder
        }

        /// The target's file name.
        var name: String { (path as NSString).lastPathComponent }

        /// Checks, before any work is done, that the target can be written and that writing it
        /// replaces nothing the user did not name as output: the folder exists and is writable
        /// (a temporary file is created there and removed), the name is valid, an existing file
        /// is replaceable (or `overwrite` is set), and the target is none of the inputs.
        ///
        /// - Throws: ``FileError`` naming the path, the problem and a fix.
        public func check() throws {
            guard !path.isEmpty else {
                throw FileError(.invalidPath, path: path, "the \(what) path is empty; name a file such as model.h5")
            }
            guard !path.hasSuffix("/") else {
                throw FileError(.invalidPath, path: path, "\(what) path \(path) ends in '/' and so names a folder; name a file such as \(path)model.h5")
            }
            var status = stat()
            guard stat(folder, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
                throw FileError(.noFolder, path: path, "cannot write \(what) \(path): folder \(folder) does not exist; create it or choose another path")
            }
            for input in inputs where SafeFile.sameFile(input, path) {
                throw FileError(.sameAsInput, path: path, "\(what) \(path) is also an input of this command (\(input)); write the output to another file")
            }
            let realFolder = URL(fileURLWithPath: folder).resolvingSymlinksInPath().standardizedFileURL.path
            for inputFolder in inputFolders {
                let realInput = URL(fileURLWithPath: inputFolder).resolvingSymlinksInPath().standardizedFileURL.path
                if realFolder == realInput || realFolder.hasPrefix(realInput.hasSuffix("/") ? realInput : realInput + "/") {
                    throw FileError(.sameAsInput, path: path, "\(what) \(path) is inside the input folder \(inputFolder); write it outside the dataset")
                }
            }
            if lstat(path, &status) == 0 {
                let type = status.st_mode & S_IFMT
                if type == S_IFDIR {
                    throw FileError(.isFolder, path: path, "cannot write \(what) \(path): it is a folder; choose a file name such as \(path)/model.h5")
                }
                if type == S_IFLNK {
                    var target = stat()
                    if stat(path, &target) == 0, target.st_mode & S_IFMT != S_IFREG {
                        throw FileError(.notRegularFile, path: path, "cannot write \(what) \(path): it links to \(SafeFile.fileType(target.st_mode)); choose another path")
                    }
                    guard overwrite else {
                        throw FileError(.symbolicLink, path: path, "\(what) \(path) is a symbolic link; lrt would replace the link with a file: choose another path or pass --overwrite")
                    }
                } else if type != S_IFREG {
                    throw FileError(.notRegularFile, path: path, "cannot write \(what) \(path): it is \(SafeFile.fileType(status.st_mode)), not a regular file; choose another path")
                } else if !overwrite && !isReplaceable(path) {
                    throw FileError(.notReplaceable, path: path, "\(path) exists and is not an lrt \(what); choose another file or pass --overwrite to replace it")
                }
            }
            // Creating (and removing) a temporary file proves the folder is writable and the
            // name fits, before hours of training end in a failed save.
            let probe = try SafeFile.createTemporaryFile(for: path, what: what)
            close(probe.descriptor)
            unlink(probe.path)
        }
    }

    // MARK: - Writing

    /// Replaces `path` with `bytes`, atomically and durably: an exclusive temporary file
    /// (`O_CREAT|O_EXCL|O_NOFOLLOW`, unpredictable name) in the same folder receives the
    /// bytes, is `fsync`ed and renamed over `path`; then the folder is `fsync`ed. Temporary
    /// files left by dead processes for the same target are removed first.
    ///
    /// A crash at any moment leaves either the old file or the new one at `path`, never a
    /// mix, and never an empty file after a power loss.
    ///
    /// - Throws: ``FileError`` naming `path` (no space, no permission, …); the temporary
    ///   file is removed then and `path` is untouched.
    public static func write(_ bytes: [UInt8], to path: String, what: String = "file") throws {
        removeStaleTemporaryFiles(for: path)
        let temporary = try createTemporaryFile(for: path, what: what)
        var closed = false
        do {
            try bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = fileSystem.write(temporary.descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0, errno == EINTR { continue }
                    guard written > 0 else {
                        throw systemError(written < 0 ? errno : ENOSPC, path: path, doing: "cannot write \(what)",
                                          detail: "after \(offset) of \(buffer.count) bytes")
                    }
                    offset += written
                }
            }
            guard fileSystem.synchronize(temporary.descriptor) == 0 else {
                throw systemError(errno, path: path, doing: "cannot write \(what)", detail: "fsync failed")
            }
            closed = true
            guard close(temporary.descriptor) == 0 else {
                throw systemError(errno, path: path, doing: "cannot write \(what)", detail: "close failed")
            }
            guard fileSystem.rename(temporary.path, path) == 0 else {
                throw systemError(errno, path: path, doing: "cannot move the finished \(what) to")
            }
        } catch {
            if !closed { close(temporary.descriptor) }
            unlink(temporary.path)
            throw error
        }
        synchronizeFolder(of: path)
    }

    /// A new temporary file beside `path`, opened for writing with `O_CREAT|O_EXCL|O_NOFOLLOW`
    /// under an unpredictable name: a file or symbolic link planted there is never opened.
    static func createTemporaryFile(for path: String, what: String) throws -> (path: String, descriptor: Int32) {
        let folder = (path as NSString).deletingLastPathComponent
        for _ in 0..<16 {
            var random = SystemRandomNumberGenerator()
            let token = String(random.next(), radix: 36)
            let temporaryName = temporaryName(for: (path as NSString).lastPathComponent, token: token)
            let temporaryPath = folder.isEmpty ? temporaryName : folder + "/" + temporaryName
            let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o666)
            if descriptor >= 0 { return (temporaryPath, descriptor) }
            if errno == EEXIST { continue }
            if errno == ENAMETOOLONG {
                throw FileError(.systemFailure, path: path, "cannot write \(what) \(path): the file name is too long (\((path as NSString).lastPathComponent.utf8.count) bytes; at most \(maximumNameBytes)); choose a shorter name", code: errno)
            }
            throw systemError(errno, path: path, doing: "cannot write \(what)")
        }
        throw FileError(.systemFailure, path: path, "cannot write \(what) \(path): no unused temporary name in its folder; remove the .*\(temporarySuffix) files there", code: EEXIST)
    }

    /// `.<name>.<pid>.<token>.lrt-tmp`, with `name` cut to ``shortenedName(_:)`` so the whole
    /// fits in a file name. A name longer than `NAME_MAX` is kept whole, so that creating the
    /// temporary file fails with `ENAMETOOLONG` as creating the target would.
    static func temporaryName(for name: String, token: String) -> String {
        let base = name.utf8.count <= maximumNameBytes ? shortenedName(name) : name
        return ".\(base).\(getpid()).\(token)\(temporarySuffix)"
    }

    /// At most 200 bytes of `name` (whole characters), leaving room in a 255-byte file name for
    /// a leading dot, a process id, a random token and a suffix.
    static func shortenedName(_ name: String) -> String {
        var shortened = ""
        for character in name {
            guard shortened.utf8.count + character.utf8.count <= 200 else { break }
            shortened.append(character)
        }
        return shortened
    }

    /// Removes temporary files of `path`'s name whose writing process is gone (a run killed
    /// during a save). Only regular files and links are removed; live writers' files are kept.
    public static func removeStaleTemporaryFiles(for path: String) {
        let folder = (path as NSString).deletingLastPathComponent
        let prefix = "." + shortenedName((path as NSString).lastPathComponent) + "."
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder) else { return }
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(temporarySuffix) {
            let fields = name.dropFirst(prefix.count).dropLast(temporarySuffix.count).split(separator: ".")
            guard fields.count == 2, let pid = pid_t(fields[0]), pid > 0 else { continue }
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }  // the writer is alive
            let stalePath = folder.isEmpty ? name : folder + "/" + name
            var status = stat()
            guard lstat(stalePath, &status) == 0, [S_IFREG, S_IFLNK].contains(status.st_mode & S_IFMT) else { continue }
            unlink(stalePath)
        }
    }

    /// `fsync` of the folder holding `path`, so the rename itself survives a power loss.
    /// File systems that cannot sync folders (some network ones) are tolerated.
    static func synchronizeFolder(of path: String) {
        let folder = (path as NSString).deletingLastPathComponent
        let descriptor = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fileSystem.synchronize(descriptor)
        close(descriptor)
    }

    /// A ``FileError`` for a failed system call, with a fix for the common `errno`s.
    static func systemError(_ code: Int32, path: String, doing: String, detail: String? = nil) -> FileError {
        let fix: String
        switch code {
        case ENOSPC, EDQUOT: fix = "free space on that disk or choose another path"
        case EACCES, EPERM, EROFS: fix = "check the folder's permissions or choose another path"
        case ENAMETOOLONG: fix = "choose a shorter name"
        case ENOENT: fix = "check that the folder exists"
        default: fix = "check the path"
        }
        let reason = String(cString: strerror(code)) + (detail.map { ", \($0)" } ?? "")
        return FileError(.systemFailure, path: path, "\(doing) \(path): \(reason); \(fix)", code: code)
    }

    // MARK: - Locking

    /// An advisory lock (`flock`) on a target, held by a run from before its work until its last
    /// save, so that two runs writing the same file fail at once instead of racing. The lock
    /// file `.<name>.lrt-lock` beside the target holds the holder's process id and is removed
    /// on ``release()``; the kernel drops the lock itself when the process dies.
    public final class Lock {
        /// The locked target.
        public let path: String
        private let lockPath: String
        private var descriptor: Int32

        /// Takes the lock on `path`, without waiting.
        ///
        /// - Throws: ``FileError`` `.locked` naming the process id of the holder, or
        ///   `.systemFailure` when the lock file cannot be created.
        public init(_ path: String, what: String = "file") throws {
            self.path = path
            let folder = (path as NSString).deletingLastPathComponent
            let name = (path as NSString).lastPathComponent
            let lockName = "." + shortenedName(name) + lockSuffix
            lockPath = folder.isEmpty ? lockName : folder + "/" + lockName
            while true {
                let descriptor = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
                guard descriptor >= 0 else { throw systemError(errno, path: path, doing: "cannot lock \(what)") }
                if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
                    let code = errno
                    var text = [UInt8](repeating: 0, count: 32)
                    let count = pread(descriptor, &text, 31, 0)
                    close(descriptor)
                    guard code == EWOULDBLOCK else { throw systemError(code, path: path, doing: "cannot lock \(what)") }
                    let holder = count > 0 ? String(decoding: text.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
                    throw FileError(.locked, path: path, "\(what) \(path) is being written by another lrt run (process \(holder)); wait for it to finish or choose another path")
                }
                // The holder before us may have removed the file after we opened it: then our
                // lock is on a deleted file, and we try again with the new one.
                var opened = stat(), current = stat()
                guard fstat(descriptor, &opened) == 0, lstat(lockPath, &current) == 0,
                      opened.st_dev == current.st_dev, opened.st_ino == current.st_ino
                else {
                    close(descriptor)
                    continue
                }
                let pid = Array("\(getpid())\n".utf8)
                _ = ftruncate(descriptor, 0)
                _ = pwrite(descriptor, pid, pid.count, 0)
                self.descriptor = descriptor
                return
            }
        }

        deinit { release() }

        /// Removes the lock file and releases the lock; releasing twice does nothing.
        public func release() {
            guard descriptor >= 0 else { return }
            unlink(lockPath)
            close(descriptor)
            descriptor = -1
        }
    }
}
