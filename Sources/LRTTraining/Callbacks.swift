import Foundation
import LRTFormat
import LRTLayers

/// Prints one line per epoch to a stream (stderr by default): epoch, loss,
/// accuracy, validation metrics, images/s and elapsed time.
public final class ProgressPrinter: TrainingCallback {
    private let totalEpochs: Int
    private let write: (String) -> Void
    private let started = Date()
    private var loaderBefore = (waited: 0.0, filled: 0.0)

    /// - Parameters:
    ///   - totalEpochs: the epoch count the run goes to.
    ///   - write: where lines go (default: standard error).
    public init(totalEpochs: Int, write: @escaping (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        self.totalEpochs = totalEpochs
        self.write = write
    }

    public func onEpochEnd(_ trainer: Trainer, metrics: [(name: String, value: Double)]) throws {
        let value = Dictionary(metrics, uniquingKeysWith: { first, _ in first })
        let validation = value["val_loss"].map { String(format: "  val_loss %.4f  val_accuracy %.4f", $0, value["val_accuracy"] ?? .nan) } ?? ""
        write(String(format: "epoch %d/%d  loss %.4f  accuracy %.4f", trainer.state.epoch, totalEpochs,
                     value["loss"] ?? .nan, value["accuracy"] ?? .nan) + validation
              + String(format: "  %.0f img/s  elapsed %.1fs", value["images_per_second"] ?? .nan, Date().timeIntervalSince(started))
              + loaderShare(trainer))
    }

    /// `  loader 0.4% of step time (work 2.1%)`: the share of this epoch's step time spent waiting for batches, and
    /// the share the loader worked (in the background while the steps ran).
    private func loaderShare(_ trainer: Trainer) -> String {
        let now = trainer.loaderSeconds, seconds = trainer.epochSeconds
        defer { loaderBefore = now }
        guard seconds > 0 else { return "" }
        return String(format: "  loader %.1f%% of step time (work %.1f%%)", 100 * (now.waited - loaderBefore.waited) / seconds,
                      100 * (now.filled - loaderBefore.filled) / seconds)
    }
}

/// Saves the whole run to one checkpoint file after every epoch, and when a stop is
/// requested mid-epoch (so `lrt resume` continues from the exact batch).
public final class CheckpointSaver: TrainingCallback {
    public let path: String
    private let compressWeights: Bool
    /// The epoch the file on disk holds, or nil before the first save.
    public private(set) var savedEpoch: Int?

    public init(path: String, compressWeights: Bool = false) {
        self.path = path
        self.compressWeights = compressWeights
    }

    public func onEpochEnd(_ trainer: Trainer, metrics: [(name: String, value: Double)]) throws {
        try save(trainer)
    }

    public func onBatchEnd(_ trainer: Trainer) throws {
        if trainer.stopRequested { try save(trainer) }
    }

    /// Writes the trainer's model, optimizer and state now.
    /// - Throws: ``TrainingError`` instead of saving weights that are not finite.
    public func save(_ trainer: Trainer) throws {
        guard trainer.model.weights.allSatisfy(\.value.isFinite) else {
            throw TrainingError.diverged("the weights are no longer finite; not saving them over \(path): lower --learning-rate")
        }
        try Checkpoint.save(model: trainer.model, optimizer: trainer.optimizer, training: trainer.checkpointState,
                            to: path, compressWeights: compressWeights)
        savedEpoch = trainer.state.epoch
    }
}

/// Appends one JSON object per line to a metrics log: `{"type": "epoch", …metrics}` after
/// every epoch and `{"type": "telemetry", "step": …, "layers": [{"name", "gradient_norm",
/// "weight_norm", "update_norm", "multiplier"}]}` at every telemetry record.
public final class MetricsLogger: TrainingCallback {
    private let handle: FileHandle
    private var lastLoggedStep = -1

    /// Opens `path` for appending (created if missing).
    public init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw TrainingError.cannotWrite(path: path, problem: "cannot create metrics log \(path); check the folder exists and is writable")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw TrainingError.cannotWrite(path: path, problem: "cannot open metrics log \(path) for writing")
        }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    deinit { try? handle.close() }

    private func write(_ value: JSONValue) {
        handle.write(Data((value.serialized + "\n").utf8))
    }

    public func onBatchEnd(_ trainer: Trainer) throws {
        let telemetry = trainer.state.telemetry
        guard let step = telemetry.steps.last, step == trainer.state.globalStep, step != lastLoggedStep else { return }
        lastLoggedStep = step
        let row = telemetry.steps.count - 1
        let layers = telemetry.names.indices.map { column -> JSONValue in
            .object([("name", .string(telemetry.names[column])),
                     ("gradient_norm", .number(telemetry.gradientNorms[row][column])),
                     ("weight_norm", .number(telemetry.weightNorms[row][column])),
                     ("update_norm", .number(telemetry.updateNorms[row][column])),
                     ("multiplier", .number(telemetry.multipliers[row][column]))])
        }
        write(.object([("type", .string("telemetry")), ("epoch", .number(Double(trainer.state.epoch + 1))),
                       ("step", .number(Double(step))), ("layers", .array(layers))]))
    }

    public func onEpochEnd(_ trainer: Trainer, metrics: [(name: String, value: Double)]) throws {
        let header: [(key: String, value: JSONValue)] = [("type", .string("epoch")), ("epoch", .number(Double(trainer.state.epoch)))]
        write(.object(header + metrics.map { (key: $0.name, value: JSONValue.number($0.value)) }))
    }
}
