import Foundation
import LRTFormat

/// Writes TensorBoard event files in Keras's layout (`--tensorboard DIR`): `DIR/train` with `epoch_loss`,
/// `epoch_accuracy` and `epoch_learning_rate` at step = the 0-based epoch, and at every telemetry record
/// (`--log-every`) `batch_loss` (the mini-batch's loss), `multiplier/<layer>` and `gradient_norm/<layer>` at
/// step = the global step; `DIR/validation` with `epoch_loss` and `epoch_accuracy` of the validation split.
///
/// Each process writes new files (`events.out.tfevents.<time>.<host>.<pid>.lrt`), and every checkpoint records
/// their lengths (``TrainingState/eventFiles``). A resumed run first cuts the files its checkpoint names back to
/// those lengths, dropping every event a killed run wrote past its last checkpoint (epoch-level ones included, which
/// TensorBoard's own restart rule cannot reach), then writes what comes after the checkpoint, starting with a
/// `SessionLog.START` at the next step (for checkpoints written before the lengths were recorded, and for a resume
/// from an earlier checkpoint than the last, whose later files stay), so that TensorBoard shows the run as one.
public final class TensorBoardLogger: TrainingCallback {
    public let directory: String
    private var train: EventFileWriter?
    private var validation: EventFileWriter?
    private var lastLoggedStep = -1

    /// Logs under `directory` (created if missing) once training begins.
    public init(directory: String) {
        self.directory = directory
    }

    public func onTrainBegin(_ trainer: Trainer) throws {
        lastLoggedStep = trainer.state.globalStep
        let folders = ["train", "validation"].map { (directory as NSString).appendingPathComponent($0) }
        for extent in trainer.state.eventFiles { try EventFileWriter.cut(extent.path, to: extent.length, in: folders) }
        train = try EventFileWriter(directory: folders[0])
        // Epoch-level events (step = epoch index < global step) are never purged by this.
        if trainer.state.globalStep > 0 { try train?.addSessionStart(step: trainer.state.globalStep + 1) }
        if trainer.validationData != nil { validation = try EventFileWriter(directory: folders[1]) }
        recordLengths(trainer)
    }

    /// Keeps the files' lengths in the state the next checkpoint saves (the checkpoint saver runs after this).
    private func recordLengths(_ trainer: Trainer) {
        trainer.state.eventFiles = [train, validation].compactMap { $0.map { EventFileExtent(path: $0.path, length: $0.length) } }
    }

    public func onBatchEnd(_ trainer: Trainer) throws {
        let telemetry = trainer.state.telemetry
        guard let train, let step = telemetry.steps.last, step == trainer.state.globalStep, step != lastLoggedStep else { return }
        lastLoggedStep = step
        let row = telemetry.steps.count - 1
        var values: [(tag: String, value: Float)] = [("batch_loss", Float(telemetry.losses[row]))]
        values += telemetry.names.enumerated().map { ("multiplier/" + $1, Float(telemetry.multipliers[row][$0])) }
        values += telemetry.names.enumerated().map { ("gradient_norm/" + $1, Float(telemetry.gradientNorms[row][$0])) }
        try train.add(values, step: step)
        recordLengths(trainer)
    }

    public func onEpochEnd(_ trainer: Trainer, metrics: [(name: String, value: Double)]) throws {
        let value = Dictionary(metrics, uniquingKeysWith: { first, _ in first })
        let epoch = trainer.state.epoch - 1  // Keras's 0-based epoch
        let trainTags = [("loss", "epoch_loss"), ("accuracy", "epoch_accuracy"), ("learning_rate", "epoch_learning_rate")]
        try train?.add(trainTags.compactMap { name, tag in value[name].map { (tag, Float($0)) } }, step: epoch)
        let validationTags = [("val_loss", "epoch_loss"), ("val_accuracy", "epoch_accuracy")]
        try validation?.add(validationTags.compactMap { name, tag in value[name].map { (tag, Float($0)) } }, step: epoch)
        recordLengths(trainer)
    }
}
