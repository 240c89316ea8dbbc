import Foundation

/// Writes a CSV log as Keras's `CSVLogger` does (`--log FILE.csv`), plus a per-step sibling.
///
/// `FILE.csv`: a header `epoch,<metric keys sorted>` (when no key starts with `val_`, Keras adds a `val_<key>`
/// column for each, holding `NA`), then one row per epoch; `epoch` is Keras's 0-based index of the epoch
/// (the first epoch is 0), values are printed as Python prints floats. Lines end in `\n` (Keras's csv module
/// writes `\r\n`; both read the same in pandas and Python's csv).
///
/// `FILE.steps.csv`: `step,epoch,loss,learning_rate,multiplier/<layer>…,gradient_norm/<layer>…`, one row per
/// telemetry record (every `--log-every` steps): the global step, the 0-based epoch it is in, the mini-batch
/// loss, the global learning rate, then each rate group's multiplier and gradient norm, named as telemetry
/// names them (`dense`, or `dense.kernel` for per-tensor groups).
///
/// A resumed run drops rows after its checkpoint and appends (see ``LogFile``).
public final class CSVLogger: TrainingCallback {
    public let path: String
    /// `<stem>.steps.csv` beside ``path``.
    public let stepsPath: String
    private var epochs: LogFile?
    private var steps: LogFile?
    private var lastLoggedStep = -1

    /// Logs to `path` and its `.steps.csv` sibling (created if missing), opened when training begins.
    public init(path: String) {
        self.path = path
        stepsPath = LogFile.stepsPath(for: path)
    }

    public func onTrainBegin(_ trainer: Trainer) throws {
        let epoch = trainer.state.epoch, step = trainer.state.globalStep
        lastLoggedStep = step
        epochs = try LogFile(path: path, what: "CSV log", isOwn: { $0[0].hasPrefix("epoch,") || $0[0] == "epoch" },
                             keep: { line in line.hasPrefix("epoch") || Self.firstNumber(line).map { $0 < epoch } == true })
        if epochs?.keptLines.count == 1 { epochs = try LogFile(path: path, what: "CSV log", isOwn: { _ in true }, keep: { _ in false }) }
        steps = try LogFile(path: stepsPath, what: "CSV steps log", isOwn: { $0[0].hasPrefix("step,epoch,loss,learning_rate") },
                            keep: { line in line.hasPrefix("step,") || Self.firstNumber(line).map { $0 <= step } == true })
        if steps?.keptLines.count == 1 { steps = try LogFile(path: stepsPath, what: "CSV steps log", isOwn: { _ in true }, keep: { _ in false }) }
    }

    private static func firstNumber(_ line: String) -> Int? {
        Int(line.prefix { $0 != "," })
    }

    /// A value as Python's `str(float)` prints it (`0.1`, `1e-05`, `nan`, `inf`).
    static func format(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return "\(value)"
    }

    /// Appends `row` under `header`, writing the header first into an empty file; a file kept from before
    /// with another header is refused.
    private func write(_ row: [String], header: [String], to file: LogFile) throws {
        let headerLine = header.joined(separator: ",")
        if file.keptLines.isEmpty {
            try file.append(headerLine)
        } else if file.keptLines[0] != headerLine {
            throw TrainingError.cannotWrite(path: file.path, problem: "\(file.path) has the columns \(file.keptLines[0].prefix(80)) but this run writes \(headerLine.prefix(80)); name another --log file")
        }
        try file.append(row.joined(separator: ","))
    }

    public func onBatchEnd(_ trainer: Trainer) throws {
        let telemetry = trainer.state.telemetry
        guard let steps, let step = telemetry.steps.last, step == trainer.state.globalStep, step != lastLoggedStep else { return }
        lastLoggedStep = step
        let row = telemetry.steps.count - 1
        let header = ["step", "epoch", "loss", "learning_rate"] + telemetry.names.map { "multiplier/" + $0 }
            + telemetry.names.map { "gradient_norm/" + $0 }
        let values = [String(step), String(trainer.state.epoch), Self.format(telemetry.losses[row]),
                      Self.format(telemetry.learningRates[row])]
            + telemetry.multipliers[row].map(Self.format) + telemetry.gradientNorms[row].map(Self.format)
        try write(values, header: header, to: steps)
    }

    public func onEpochEnd(_ trainer: Trainer, metrics: [(name: String, value: Double)]) throws {
        guard let epochs else { return }
        var keys = metrics.map(\.name).sorted()
        if !keys.contains(where: { $0.hasPrefix("val_") }) { keys += keys.map { "val_" + $0 } }
        let value = Dictionary(metrics, uniquingKeysWith: { first, _ in first })
        let row = [String(trainer.state.epoch - 1)] + keys.map { value[$0].map(Self.format) ?? "NA" }
        try write(row, header: ["epoch"] + keys, to: epochs)
    }
}
