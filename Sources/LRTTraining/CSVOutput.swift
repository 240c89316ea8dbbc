import Foundation
import LRTHDF5

/// The CSV files lrt writes (`lrt predict --csv`, `lrt eval --predictions`): RFC 4180, a header row first, written
/// as every lrt output is (checked target, lock, exclusive temporary file, fsync, rename).
public enum CSVOutput {
    /// The header lines that start lrt's CSV files: a file starting with one of them may be replaced without
    /// `--overwrite`.
    static let headerPrefixes = ["file,class_1,probability_1", "file,true_class,predicted_class,probability"]

    /// Checks, before any work, that `path` may be written: see ``LRTHDF5/SafeFile/Target/check()``.
    /// - Throws: `FileError` naming the path and a fix.
    public static func check(_ path: String, what: String, overwrite: Bool, inputs: [String]) throws {
        try SafeFile.Target(path: path, what: what, overwrite: overwrite, inputs: inputs, isReplaceable: isLRTFile).check()
    }

    /// Writes `rows` under `header` to `path`, atomically.
    /// - Throws: `FileError` naming the path when it may not be replaced or cannot be written.
    static func write(_ path: String, what: String, header: [String], rows: [[String]], overwrite: Bool, inputs: [String]) throws {
        try check(path, what: what, overwrite: overwrite, inputs: inputs)
        let lock = try SafeFile.Lock(path, what: what)
        defer { lock.release() }
        var text = line(header)
        for row in rows { text += line(row) }
        try SafeFile.write(Array(text.utf8), to: path, what: what)
    }

    /// One CSV record: fields quoted when they hold a comma, quote, or line break, quotes doubled; CRLF-free.
    static func line(_ fields: [String]) -> String {
        fields.map { field in
            field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
        }.joined(separator: ",") + "\n"
    }

    /// Whether `path` starts with one of lrt's CSV headers.
    static func isLRTFile(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let start = try? handle.read(upToCount: 256) else { return false }
        let text = String(decoding: start, as: UTF8.self)
        return headerPrefixes.contains { text.hasPrefix($0) }
    }

    /// A probability as the CSV files write it: up to 6 significant digits.
    static func number(_ value: Double) -> String { String(format: "%.6g", value) }
}
