import Foundation

/// Writes TensorBoard event files in Keras's layout (`--tensorboard DIR`): `DIR/train` with `epoch_loss`,
/// `epoch_accuracy` and `epoch_learning_rate` at step = the 0-based epoch, and at every telemetry record
/// (`--log-every`) `batch_loss` (the mini-batch's loss), `multiplier/<layer>` and `gradient_norm/<layer>` at
/// step = the global step; `DIR/validation` with `epoch_loss` and `epoch_accuracy` of the validation split.
///
/// Each process writes new files (`events.out.tfevents.<time>.<host>.<pid>.lrt`); a resumed run writes only
/// what comes after its checkpoint, starting with a `SessionLog.START` at the next step, so that TensorBoard drops
/// the step-level events a killed run wrote past its last checkpoint and shows the run as one.
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
        train = try EventFileWriter(directory: (directory as NSString).appendingPathComponent("train"))
        // Epoch-level events (step = epoch index < global step) are never purged by this.
        if trainer.state.globalStep > 0 { try train?.addSessionStart(step: trainer.state.globalStep + 1) }
        if trainer.validationData != nil {
            validation = try EventFileWriter(directory: (directory as NSString).appendingPathComponent("validation"))
        }
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
    }

    public func onEpochEnd(_ trainer: Trainer, metrics: [(name: String, value: Double)]) throws {
        let value = Dictionary(metrics, uniquingKeysWith: { first, _ in first })
        let epoch = trainer.state.epoch - 1  // Keras's 0-based epoch
        let trainTags = [("loss", "epoch_loss"), ("accuracy", "epoch_accuracy"), ("learning_rate", "epoch_learning_rate")]
        try train?.add(trainTags.compactMap { name, tag in value[name].map { (tag, Float($0)) } }, step: epoch)
        let validationTags = [("val_loss", "epoch_loss"), ("val_accuracy", "epoch_accuracy")]
        try validation?.add(validationTags.compactMap { name, tag in value[name].map { (tag, Float($0)) } }, step: epoch)
    }
}
