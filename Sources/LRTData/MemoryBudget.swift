import LRTTensor
import Foundation

/// The most memory decoded images may take before a dataset is streamed from a cache file (`--memory-budget`).
public enum MemoryBudget {
    /// Half of the machine's physical memory.
    public static var defaultBytes: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory / 2) }

    /// Bytes from `2G`, `512M`, `1.5G`, `300K`, `4T` (binary multiples: 1K = 1024 bytes) or a plain byte count.
    /// - Throws: `DataError` `.invalidArgument` naming the text when it is not a positive size.
    public static func parse(_ text: String) throws(DataError) -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [Character: Double] = ["K": 0x1p10, "M": 0x1p20, "G": 0x1p30, "T": 0x1p40]
        var number = Substring(trimmed), scale = 1.0
        if number.hasSuffix("B"), number.count > 1, units[number.dropLast().last ?? " "] != nil { number = number.dropLast() }
        if let last = number.last, let unit = units[last] { scale = unit; number = number.dropLast() }
        guard let value = Double(number), value.isFinite, value > 0, value * scale >= 1, value * scale < 0x1p62 else {
            throw DataError(.invalidArgument, path: nil, "--memory-budget '\(text)' is not a size",
                            hint: "pass bytes or a number with K, M, G or T, e.g. 2G or 512M")
        }
        return Int(value * scale)
    }

    /// `bytes` for people: `1.5 GiB`, `512 MiB`, `800 KiB`, `12 bytes`.
    public static func format(_ bytes: Int) -> String {
        for (unit, size) in [("TiB", 0x1p40), ("GiB", 0x1p30), ("MiB", 0x1p20), ("KiB", 0x1p10)] where Double(bytes) >= size {
            let value = Double(bytes) / size
            return value >= 100 || value == value.rounded() ? String(format: "%.0f %@", value, unit) : String(format: "%.1f %@", value, unit)
        }
        return "\(bytes) bytes"
    }
}

/// The line shown while a large folder is decoded, `decoding 12,000/60,000 images…`: redrawn in place on a
/// terminal, otherwise written every 10%.
public struct DecodeProgress {
    /// Folders with fewer images decode without a progress line.
    public static let minimumImages = 5_000
    private let write: (String) -> Void
    private let redraw: Bool
    private var lastTenth = 0

    /// - Parameters:
    ///   - write: receives whole lines (when not redrawing in place).
    ///   - terminal: redraw one line in place on standard error (default: whether standard error is a terminal).
    public init(write: @escaping (String) -> Void, terminal: Bool = isatty(2) != 0) {
        self.write = write
        self.redraw = terminal
    }

    /// Reports `done` of `total` images decoded.
    public mutating func update(_ done: Int, of total: Int) {
        guard total >= Self.minimumImages else { return }
        let line = "decoding \(done.groupedDigits)/\(total.groupedDigits) images…"
        if redraw {
            FileHandle.standardError.write(Data(("\r" + line + (done == total ? "\n" : "")).utf8))
        } else {
            let tenth = done * 10 / total
            if tenth > lastTenth || done == total { write(line) }
            lastTenth = tenth
        }
    }

}
