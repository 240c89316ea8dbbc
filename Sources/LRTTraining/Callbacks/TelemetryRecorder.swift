import Foundation

/// Records each layer's gradient, weight and update norms, rate multiplier, the mini-batch loss and the
/// global learning rate every `every` steps into ``Trainer/state`` (kept in every checkpoint, read by
/// the loggers after it in the list and by `lrt plot`).
public final class TelemetryRecorder: TrainingCallback {
    /// Steps between records (> 0).
    public let every: Int

    /// - Parameter every: record at every global step divisible by it (> 0).
    public init(every: Int) {
        precondition(every > 0, "telemetry needs a positive step interval")
        self.every = every
    }

    public func onBatchEnd(_ trainer: Trainer) throws {
        if trainer.state.globalStep % every == 0 { trainer.recordTelemetry() }
    }
}
