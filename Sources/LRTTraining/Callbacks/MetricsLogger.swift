import Foundation
import LRTLayers

/// Appends one JSON object per line to a log (`--log FILE.jsonl`, alias `--metrics-log`):
/// `{"type": "epoch", "epoch": N, …metrics}` after every epoch (N 1-based: the epochs done) and
/// `{"type": "telemetry", "epoch": N, "step": S, "loss": …, "learning_rate": …, "layers": [{"name",
/// "gradient_norm", "weight_norm", "update_norm", "multiplier"}]}` at every telemetry record (N the
/// 1-based epoch the step is in, S the global step, loss the mini-batch's).
///
/// On a resumed run, rows after the checkpoint's epoch and step are dropped before appending (see ``LogFile``).
public final class MetricsLogger: TrainingCallback {
    public let path: String
    private var file: LogFile?
    private var lastLoggedStep = -1

    /// Logs to `path` (created if missing); the file is opened when training begins.
    public init(path: String) {
        self.path = path
    }

    public func onTrainBegin(_ trainer: Trainer) throws {
        let epoch = trainer.state.epoch, step = trainer.state.globalStep
        lastLoggedStep = step
        file = try LogFile(path: path, what: "JSON-lines log", isOwn: { lines in
            lines.allSatisfy { line in
                guard let row = try? JSONValue.parse(line), let type = row["type"]?.stringValue else { return false }
                return type == "epoch" || type == "telemetry"
            }
        }, keep: { line in
            guard let row = try? JSONValue.parse(line) else { return false }
            if row["type"]?.stringValue == "epoch" { return (row["epoch"]?.numberValue ?? .infinity) <= Double(epoch) }
            return (row["step"]?.numberValue ?? .infinity) <= Double(step)
        })
    }

    public func onBatchEnd(_ trainer: Trainer) throws {
        let telemetry = trainer.state.telemetry
        guard let file, let step = telemetry.steps.last, step == trainer.state.globalStep, step != lastLoggedStep else { return }
        lastLoggedStep = step
        let row = telemetry.steps.count - 1
        let layers = telemetry.names.indices.map { column -> JSONValue in
            .object([("name", .string(telemetry.names[column])),
                     ("gradient_norm", .number(telemetry.gradientNorms[row][column])),
                     ("weight_norm", .number(telemetry.weightNorms[row][column])),
                     ("update_norm", .number(telemetry.updateNorms[row][column])),
                     ("multiplier", .number(telemetry.multipliers[row][column]))])
        }
        try file.append(JSONValue.object([
            ("type", .string("telemetry")), ("epoch", .number(Double(trainer.state.epoch + 1))),
            ("step", .number(Double(step))), ("loss", .number(telemetry.losses[row])),
            ("learning_rate", .number(telemetry.learningRates[row])), ("layers", .array(layers)),
        ]).serialized)
    }

    public func onEpochEnd(_ trainer: Trainer, metrics: [(name: String, value: Double)]) throws {
        guard let file else { return }
        let header: [(key: String, value: JSONValue)] = [("type", .string("epoch")), ("epoch", .number(Double(trainer.state.epoch)))]
        try file.append(JSONValue.object(header + metrics.map { (key: $0.name, value: JSONValue.number($0.value)) }).serialized)
    }
}
