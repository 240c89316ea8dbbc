import Foundation
import LRTFormat
import LRTHDF5
import LRTLayers

/// Reads training runs from lrt checkpoints, JSON-lines logs and CSV logs.
///
/// Formats (header- and key-driven: missing columns are fine, unknown ones are kept):
/// - checkpoint (`.h5`): the training state's per-epoch `history` and per-step `telemetry`;
/// - JSON lines (`.jsonl`): `{"type":"epoch","epoch":N,<metrics>}` and
///   `{"type":"telemetry","epoch":E,"step":S,["loss":L,"learning_rate":R,]"layers":[{"name",
///   "gradient_norm","weight_norm","update_norm","multiplier"}]}`; other types are skipped;
/// - CSV: `epoch,<metrics>` per epoch, as Keras's `CSVLogger` writes (0-based epochs are counted from 1),
///   or per step, `step,epoch,loss,learning_rate,multiplier/<layer>,gradient_norm/<layer>,…`.
///
/// Only the files named are read. A malformed file is a ``PlotError`` naming the file and the line.
public enum RunReader {
    /// The largest log read (512 MiB): a run logging every step for days stays far below it.
    public static let maximumLogBytes = 512 << 20

    /// Reads `paths` as runs: `X.csv` and `X.steps.csv` both named make one run (its epochs and its steps);
    /// every other file is a run of its own.
    ///
    /// - Parameter labels: one legend label per run, in order; empty: each run's file name without extension.
    /// - Throws: ``PlotError`` naming the file (and line) that cannot be read, or a label count that does not match.
    public static func readRuns(paths: [String], labels: [String] = []) throws(PlotError) -> [RunRecord] {
        guard !paths.isEmpty else {
            throw PlotError(.invalidOption, "no input given; name one or more checkpoints (.h5) or logs (.jsonl, .csv)")
        }
        var keys: [String] = [], groups: [String: [String]] = [:]
        for path in paths {
            let key = groupKey(path)
            if groups[key] == nil { keys.append(key) }
            groups[key, default: []].append(path)
        }
        guard labels.isEmpty || labels.count == keys.count else {
            let grouping = keys.map { groups[$0]!.joined(separator: "+") }.joined(separator: ", ")
            throw PlotError(.invalidOption, "\(labels.count) --label values for \(keys.count) runs (\(grouping)); give one --label per run, in order")
        }
        var runs: [RunRecord] = []
        for (index, key) in keys.enumerated() {
            let files = groups[key]!
            var run = RunRecord(label: labels.isEmpty ? defaultLabel(key) : labels[index], sources: files)
            for file in files {
                let part = try read(path: file)
                if run.epochs.count == 0 { run.epochs = part.epochs }
                if run.steps.count == 0 { run.steps = part.steps }
                run.warnings += part.warnings
            }
            runs.append(run)
        }
        if labels.isEmpty {  // two files named run.h5 in different folders: tell them apart
            var seen: [String: Int] = [:]
            for index in runs.indices {
                let count = seen[runs[index].label, default: 0] + 1
                seen[runs[index].label] = count
                if count > 1 { runs[index].label += " (\(count))" }
            }
        }
        return runs
    }

    /// Reads one file, by its extension (`.h5`/`.hdf5`/`.keras` checkpoint, `.jsonl`/`.ndjson`/`.json` JSON lines,
    /// `.csv`), or by its first bytes when the extension says nothing.
    public static func read(path: String) throws(PlotError) -> RunRecord {
        let name = (path as NSString).lastPathComponent.lowercased()
        let label = defaultLabel(groupKey(path))
        if [".h5", ".hdf5", ".keras"].contains(where: name.hasSuffix) { return try readCheckpoint(path: path, label: label) }
        let bytes: [UInt8]
        do { bytes = try SafeFile.readRegularFile(path, what: "log", limit: maximumLogBytes) } catch {
            throw PlotError.file(error)
        }
        if bytes.starts(with: [0x89, 0x48, 0x44, 0x46]) { return try readCheckpoint(path: path, label: label) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw PlotError(.malformedInput, "\(path) is not UTF-8 text, an lrt checkpoint or log; name a .h5 checkpoint, a .jsonl or a .csv log")
        }
        if [".jsonl", ".ndjson", ".json"].contains(where: name.hasSuffix) { return try readJSONLines(text, path: path, label: label) }
        if name.hasSuffix(".csv") { return try readCSV(text, path: path, label: label) }
        let first = text.drop { $0 == "\u{FEFF}" || $0.isWhitespace }.first
        if first == "{" { return try readJSONLines(text, path: path, label: label) }
        if text.hasPrefix("epoch") || text.hasPrefix("step") { return try readCSV(text, path: path, label: label) }
        throw PlotError(.malformedInput, "\(path) is neither an lrt checkpoint nor a JSON-lines or CSV log; name a .h5, .jsonl or .csv file")
    }

    // MARK: - Checkpoints

    static func readCheckpoint(path: String, label: String) throws(PlotError) -> RunRecord {
        do { try SafeFile.requireRegularFile(path, what: "checkpoint") } catch { throw PlotError.file(error) }
        let contents: Checkpoint.Contents
        do { contents = try Checkpoint.load(from: path) } catch {
            throw PlotError(.malformedInput, "\(error)")
        }
        guard let training = contents.training else {
            throw PlotError(.nothingToPlot, "\(path) holds a model but no training history (a Keras model, or written before lrt kept one); plot an lrt checkpoint or log")
        }
        var run = RunRecord(label: label, sources: [path])
        let history = training.history
        for row in 0..<history.count {
            run.epochs.append(x: Double(row + 1), values: history.names.map { ($0, history.columns[$0]?[row] ?? .nan) })
        }
        let telemetry = training.telemetry
        for (row, step) in telemetry.steps.enumerated() {
            var values: [(name: String, value: Double)] = []
            for (column, layer) in telemetry.names.enumerated() {
                values.append(("multiplier/" + layer, telemetry.multipliers[row][column]))
                values.append(("gradient_norm/" + layer, telemetry.gradientNorms[row][column]))
                values.append(("weight_norm/" + layer, telemetry.weightNorms[row][column]))
                values.append(("update_norm/" + layer, telemetry.updateNorms[row][column]))
            }
            run.steps.append(x: Double(step), values: values)
        }
        return run
    }

    // MARK: - JSON lines

    static func readJSONLines(_ text: String, path: String, label: String) throws(PlotError) -> RunRecord {
        var run = RunRecord(label: label, sources: [path])
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        var sawRecord = false
        for (index, rawLine) in lines.enumerated() {
            let number = index + 1
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: "\u{FEFF}")))
            if line.isEmpty { continue }
            let value: JSONValue
            do { value = try JSONValue.parse(line) } catch {
                if index == lines.count - 1 && !(text.last?.isNewline ?? false) && sawRecord {
                    run.warnings.append("\(path) line \(number): the last line is cut short (the run was stopped while writing?); it is left out")
                    continue
                }
                throw PlotError.malformed(path, line: number, "\(error); each line must be one JSON object")
            }
            guard case .object(let members) = value else {
                throw PlotError.malformed(path, line: number, "expected a JSON object ({\"type\": …}), found \(kind(of: value))")
            }
            guard let type = value["type"]?.stringValue else {
                throw PlotError.malformed(path, line: number, "the object has no \"type\" string; expected \"epoch\" or \"telemetry\" records")
            }
            sawRecord = true
            switch type {
            case "epoch":
                guard let epoch = value["epoch"]?.numberValue, epoch.isFinite else {
                    throw PlotError.malformed(path, line: number, "the epoch record has no numeric \"epoch\"")
                }
                var metrics: [(name: String, value: Double)] = []
                for member in members where member.key != "type" && member.key != "epoch" {
                    if let number = member.value.numberValue { metrics.append((member.key, number)) }
                    else if member.value.isNull { metrics.append((member.key, .nan)) }  // lrt writes non-finite values as null
                }
                run.epochs.append(x: epoch, values: metrics)
            case "telemetry":
                guard let step = value["step"]?.numberValue, step.isFinite else {
                    throw PlotError.malformed(path, line: number, "the telemetry record has no numeric \"step\"")
                }
                var values: [(name: String, value: Double)] = []
                for key in ["epoch", "loss", "learning_rate"] {
                    if let number = value[key]?.numberValue { values.append((key, number)) }
                }
                guard let layers = value["layers"]?.arrayValue else {
                    throw PlotError.malformed(path, line: number, "the telemetry record has no \"layers\" array")
                }
                for (position, layer) in layers.enumerated() {
                    guard let name = layer["name"]?.stringValue else {
                        throw PlotError.malformed(path, line: number, "layer \(position + 1) of \"layers\" has no \"name\" string")
                    }
                    for field in ["multiplier", "gradient_norm", "weight_norm", "update_norm"] {
                        guard let entry = layer[field] else { continue }
                        if let number = entry.numberValue { values.append((field + "/" + name, number)) }
                        else if entry.isNull { values.append((field + "/" + name, .nan)) }
                        else { throw PlotError.malformed(path, line: number, "layer \(name): \"\(field)\" is \(kind(of: entry)), not a number") }
                    }
                }
                run.steps.append(x: step, values: values)
            default:
                continue  // a record type this lrt does not plot
            }
        }
        guard run.epochs.count + run.steps.count > 0 else {
            throw PlotError(.nothingToPlot, "\(path) has no \"epoch\" or \"telemetry\" records; is it an lrt JSON-lines log (--log FILE.jsonl)?")
        }
        return run
    }

    private static func kind(of value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    // MARK: - CSV

    static func readCSV(_ text: String, path: String, label: String) throws(PlotError) -> RunRecord {
        var run = RunRecord(label: label, sources: [path])
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let headerLine = lines.first else {
            throw PlotError(.nothingToPlot, "\(path) is empty; is it a CSV log lrt or Keras's CSVLogger wrote?")
        }
        var header = try fields(headerLine.hasPrefix("\u{FEFF}") ? headerLine.dropFirst() : headerLine, path: path, line: 1)
        header = header.map { $0.trimmingCharacters(in: .whitespaces) }
        let perStep = header.contains("step")
        let xName = perStep ? "step" : "epoch"
        guard let xColumn = header.firstIndex(of: xName) else {
            throw PlotError.malformed(path, line: 1, "the header names neither an \"epoch\" nor a \"step\" column; expected `epoch,<metrics>` (Keras CSVLogger) or `step,epoch,loss,…` (lrt per-step log)")
        }
        if let duplicate = Dictionary(grouping: header, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw PlotError.malformed(path, line: 1, "the header names column \"\(duplicate)\" twice; each column once")
        }
        var table = SeriesTable()
        for (index, line) in lines.enumerated().dropFirst() {
            let number = index + 1
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let row = try fields(line, path: path, line: number)
            guard row.count == header.count else {
                if index == lines.count - 1 && !(text.last?.isNewline ?? false) && row.count < header.count && table.count > 0 {
                    run.warnings.append("\(path) line \(number): the last line is cut short (the run was stopped while writing?); it is left out")
                    continue
                }
                throw PlotError.malformed(path, line: number, "\(row.count) values but the header names \(header.count) columns; is the file cut short or two logs mixed?")
            }
            var values: [(name: String, value: Double)] = []
            var x = Double.nan
            for (column, field) in row.enumerated() {
                guard let value = parseNumber(field) else {
                    throw PlotError.malformed(path, line: number, "column \"\(header[column])\": '\(field.prefix(40))' is not a number")
                }
                if column == xColumn { x = value } else { values.append((header[column], value)) }
            }
            guard x.isFinite else {
                throw PlotError.malformed(path, line: number, "column \"\(xName)\" is '\(row[xColumn])'; every row needs its \(xName)")
            }
            table.append(x: x, values: values)
        }
        guard table.count > 0 else {
            throw PlotError(.nothingToPlot, "\(path) has a header but no rows; plot it after the first \(perStep ? "logged step" : "epoch")")
        }
        if perStep { run.steps = table } else {
            if table.x.min() == 0 { table.shiftX(by: 1) }  // Keras CSVLogger counts epochs from 0
            run.epochs = table
        }
        return run
    }

    /// The fields of one CSV line (RFC 4180: double quotes around fields, "" inside them).
    static func fields(_ line: Substring, path: String, line number: Int) throws(PlotError) -> [String] {
        var fields: [String] = [], field = "", quoted = false, wasQuoted = false
        var characters = line.makeIterator()
        while let character = characters.next() {
            if quoted {
                if character == "\"" {
                    var lookahead = characters
                    if lookahead.next() == "\"" { field.append("\""); characters = lookahead } else { quoted = false }
                } else { field.append(character) }
            } else if character == "\"" && field.isEmpty && !wasQuoted {
                quoted = true
                wasQuoted = true
            } else if character == "," {
                fields.append(field)
                field = ""
                wasQuoted = false
            } else { field.append(character) }
        }
        guard !quoted else { throw PlotError.malformed(path, line: number, "a quoted field is not closed; is the line cut short?") }
        fields.append(field)
        return fields
    }

    /// A CSV number: decimal, `nan`, `inf`, `-inf` (any case); an empty field is a missing value (NaN).
    static func parseNumber(_ field: String) -> Double? {
        let text = field.trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return .nan }
        switch text.lowercased() {
        case "nan", "-nan": return .nan
        case "inf", "+inf", "infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        default: break
        }
        guard text.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }) else { return nil }
        return Double(text)
    }

    // MARK: - Names

    /// The run a file belongs to: `X.steps.csv` and `X.csv` share the key `X`.
    static func groupKey(_ path: String) -> String {
        if path.lowercased().hasSuffix(".steps.csv") { return String(path.dropLast(".steps.csv".count)) }
        if path.lowercased().hasSuffix(".csv") { return String(path.dropLast(".csv".count)) }
        return path
    }

    /// A run's label from its key: the file name without extension.
    static func defaultLabel(_ key: String) -> String {
        let name = (key as NSString).lastPathComponent
        let stem = (name as NSString).deletingPathExtension
        return stem.isEmpty ? name : stem
    }
}
