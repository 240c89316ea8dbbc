import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The protocol-buffer encoding of TensorBoard's `Event` (tensorflow/core/util/event.proto) with scalar
/// `Summary` values, written by hand: varints, fixed64 doubles, fixed32 floats, length-delimited fields.
public enum EventEncoding {
    /// `Event { double wall_time = 1; int64 step = 2; string file_version = 3; }`.
    public static func fileVersion(wallTime: Double) -> [UInt8] {
        var bytes = header(wallTime: wallTime, step: 0)
        appendLengthDelimited(field: 3, Array("brain.Event:2".utf8), to: &bytes)
        return bytes
    }

    /// `Event { wall_time = 1; step = 2; Summary summary = 5 }` with `Summary { repeated Value value = 1 }`,
    /// `Value { string tag = 1; float simple_value = 2 }`, one value per scalar.
    public static func scalars(_ values: [(tag: String, value: Float)], step: Int64, wallTime: Double) -> [UInt8] {
        var summary: [UInt8] = []
        for (tag, value) in values {
            var entry: [UInt8] = []
            appendLengthDelimited(field: 1, Array(tag.utf8), to: &entry)
            appendKey(field: 2, wireType: 5, to: &entry)
            withUnsafeBytes(of: value.bitPattern.littleEndian) { entry += $0 }
            appendLengthDelimited(field: 1, entry, to: &summary)
        }
        var bytes = header(wallTime: wallTime, step: step)
        appendLengthDelimited(field: 5, summary, to: &bytes)
        return bytes
    }

    /// `Event { wall_time = 1; step = 2; SessionLog session_log = 7 }` with `SessionLog { status = 1: START }`:
    /// TensorBoard then drops the events of earlier files at `step` and after (a run resumed from its checkpoint
    /// after a crash writes them again).
    public static func sessionStart(step: Int64, wallTime: Double) -> [UInt8] {
        var bytes = header(wallTime: wallTime, step: step)
        appendLengthDelimited(field: 7, [0x08, 0x01], to: &bytes)
        return bytes
    }

    private static func header(wallTime: Double, step: Int64) -> [UInt8] {
        var bytes: [UInt8] = []
        appendKey(field: 1, wireType: 1, to: &bytes)
        withUnsafeBytes(of: wallTime.bitPattern.littleEndian) { bytes += $0 }
        if step != 0 {
            appendKey(field: 2, wireType: 0, to: &bytes)
            appendVarint(UInt64(bitPattern: step), to: &bytes)
        }
        return bytes
    }

    /// Base-128 varint, least significant group first.
    public static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    private static func appendKey(field: UInt64, wireType: UInt64, to bytes: inout [UInt8]) {
        appendVarint(field << 3 | wireType, to: &bytes)
    }

    private static func appendLengthDelimited(field: UInt64, _ payload: [UInt8], to bytes: inout [UInt8]) {
        appendKey(field: field, wireType: 2, to: &bytes)
        appendVarint(UInt64(payload.count), to: &bytes)
        bytes += payload
    }

    /// One TFRecord: uint64 length (little-endian), masked CRC-32C of those 8 bytes, the data, masked CRC-32C of the data.
    public static func record(_ data: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { bytes += $0 }
        let lengthCRC = CRC32C.masked(bytes)
        withUnsafeBytes(of: lengthCRC.littleEndian) { bytes += $0 }
        bytes += data
        withUnsafeBytes(of: CRC32C.masked(data).littleEndian) { bytes += $0 }
        return bytes
    }
}

/// A TensorBoard event file, `events.out.tfevents.<time>.<host>.<pid>.lrt`, created new (never an
/// existing file) in a folder, starting with the `brain.Event:2` file-version event.
public final class EventFileWriter {
    /// The file's path.
    public let path: String
    /// The bytes written to it so far.
    public private(set) var length = 0
    private let descriptor: Int32

    /// Creates the folder (and its parents) if needed and a new event file in it.
    /// - Throws: ``TrainingError/cannotWrite(path:problem:)`` naming the folder or file.
    public init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.cannotWrite(path: directory, problem: "cannot create the TensorBoard folder \(directory): \(error.localizedDescription); check --tensorboard")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TrainingError.cannotWrite(path: directory, problem: "--tensorboard \(directory) is not a folder; name a folder")
        }
        let now = Date().timeIntervalSince1970
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        // A second file of the same process within a second (a library user's resume) gets a counter before `.lrt`.
        var (path, descriptor) = ("", Int32(-1))
        for attempt in 0..<100 {
            let name = "events.out.tfevents.\(Int(now)).\(host).\(getpid())\(attempt == 0 ? "" : ".\(attempt)").lrt"
            path = (directory as NSString).appendingPathComponent(name)
            descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
            if descriptor >= 0 || errno != EEXIST { break }
        }
        (self.path, self.descriptor) = (path, descriptor)
        guard descriptor >= 0 else {
            throw TrainingError.cannotWrite(path: path, problem: "cannot create the TensorBoard event file \(path): \(String(cString: strerror(errno)))")
        }
        try write(EventEncoding.fileVersion(wallTime: now))
    }

    deinit { close(descriptor) }

    /// Appends scalar summaries at `step`, timed now.
    public func add(_ values: [(tag: String, value: Float)], step: Int) throws {
        guard !values.isEmpty else { return }
        try write(EventEncoding.scalars(values, step: Int64(step), wallTime: Date().timeIntervalSince1970))
    }

    /// Marks a restart at `step`: TensorBoard forgets what earlier files hold from `step` on.
    public func addSessionStart(step: Int) throws {
        try write(EventEncoding.sessionStart(step: Int64(step), wallTime: Date().timeIntervalSince1970))
    }

    private func write(_ event: [UInt8]) throws {
        let bytes = EventEncoding.record(event)
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = systemWrite(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0, errno == EINTR { continue }
                guard written > 0 else {
                    throw TrainingError.cannotWrite(path: path, problem: "cannot write the TensorBoard event file \(path): \(String(cString: strerror(written < 0 ? errno : ENOSPC))); the checkpoint is still saved")
                }
                offset += written
            }
        }
        length += bytes.count
    }

    /// Cuts an event file an earlier lrt process wrote back to `length` bytes, dropping the events past a checkpoint
    /// that covered its first `length`. Only an lrt event file (`events.out.tfevents.*.lrt`, a regular file, not a
    /// link) directly in one of `folders` is touched; one that is gone or shorter is left as it is.
    /// - Throws: ``TrainingError/cannotWrite(path:problem:)`` naming the file if it cannot be cut.
    public static func cut(_ path: String, to length: Int, in folders: [String]) throws {
        let name = (path as NSString).lastPathComponent
        let folder = ((path as NSString).deletingLastPathComponent as NSString).standardizingPath
        guard folders.contains(where: { ($0 as NSString).standardizingPath == folder }),
              name.hasPrefix("events.out.tfevents."), name.hasSuffix(".lrt") else { return }
        let descriptor = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG, Int(status.st_size) > length else { return }
        guard ftruncate(descriptor, off_t(length)) == 0 else {
            throw TrainingError.cannotWrite(path: path, problem: "cannot cut the TensorBoard event file \(path) back to its checkpoint's \(length) bytes: \(String(cString: strerror(errno))); move it out of the folder to resume")
        }
    }
}

/// `write(2)`.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(descriptor, bytes, count)
    #else
    return Darwin.write(descriptor, bytes, count)
    #endif
}
