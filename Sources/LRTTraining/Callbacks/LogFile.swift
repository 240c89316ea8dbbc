import Foundation
import LRTHDF5

/// A log file that a run appends lines to (`--log`, and its `.steps.csv` sibling).
///
/// Opening it continues the run's own log: an existing file must be one lrt wrote (else nothing is
/// touched and the error names it); its lines for steps after the run's checkpoint (written before a
/// crash, and about to be written again) are dropped by an atomic rewrite, so a resumed run appends
/// no row twice. A new run (`keep` false for every row) starts the file afresh.
final class LogFile {
    let path: String
    /// The lines already in the file that were kept, header included.
    private(set) var keptLines: [String]
    private let handle: FileHandle

    /// - Parameters:
    ///   - what: the file's kind in messages (`CSV log`).
    ///   - isOwn: whether the existing lines are an lrt log of this kind.
    ///   - keep: whether an existing line stays (rows up to the checkpoint; a CSV header is kept with them).
    init(path: String, what: String, isOwn: ([String]) -> Bool, keep: (String) -> Bool) throws {
        self.path = path
        var lines: [String] = []
        var exists = false
        if FileManager.default.fileExists(atPath: path) {
            exists = true
            let bytes: [UInt8]
            do { bytes = try SafeFile.readRegularFile(path, what: what, limit: 1 << 31) } catch {
                throw TrainingError.cannotWrite(path: path, problem: "\(error)")
            }
            let text = String(decoding: bytes, as: UTF8.self)
            lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            guard lines.isEmpty || isOwn(lines) else {
                let first = lines[0].prefix(60)
                throw TrainingError.cannotWrite(path: path, problem: "\(path) exists and is not an lrt \(what) (it starts with \"\(first)\"); name another file or remove it")
            }
        }
        keptLines = lines.filter(keep)
        if exists && keptLines != lines || !exists {
            let text = keptLines.map { $0 + "\n" }.joined()
            do { try SafeFile.write(Array(text.utf8), to: path, what: what) } catch {
                throw TrainingError.cannotWrite(path: path, problem: "\(error)")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw TrainingError.cannotWrite(path: path, problem: "cannot open \(what) \(path) for writing; check the folder is writable")
        }
        do { try handle.seekToEnd() } catch {
            throw TrainingError.cannotWrite(path: path, problem: "cannot append to \(what) \(path): \(error)")
        }
        self.handle = handle
    }

    deinit { try? handle.close() }

    /// Appends `line` and a newline.
    func append(_ line: String) throws {
        do { try handle.write(contentsOf: Data((line + "\n").utf8)) } catch {
            throw TrainingError.cannotWrite(path: path, problem: "cannot write to \(path): \(error); the checkpoint is still saved")
        }
        keptLines.append(line)
    }

    /// `dir/name.steps.csv` for `dir/name.csv`.
    static func stepsPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingPathExtension().path + ".steps.csv"
    }
}
