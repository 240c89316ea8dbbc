import Foundation

/// Named hooks into the training loop (Keras `callbacks`, Lightning's `Callback`): progress, telemetry,
/// logs, checkpoints and stopping are all callbacks in ``Trainer/callbacks``, called in list order.
///
/// A callback reads what it needs from the trainer (``Trainer/state``, ``Trainer/lastBatchLoss``,
/// ``Trainer/optimizer``'s `lastTelemetry`, ``Trainer/epochLoss``) and may set ``Trainer/stopRequested``
/// (an interruption, saved mid-epoch) or ``Trainer/stopTraining`` (the run ends after this epoch).
/// Every hook defaults to doing nothing.
public protocol TrainingCallback: AnyObject {
    /// Once, before the first step of this process's run (also when resuming mid-epoch).
    func onTrainBegin(_ trainer: Trainer) throws
    /// Before the first step of an epoch (not when resuming into the middle of one).
    func onEpochBegin(_ trainer: Trainer) throws
    /// Before each step.
    func onBatchBegin(_ trainer: Trainer) throws
    /// After each step: ``Trainer/state`` counts it (`globalStep`, `position`, the epoch's sums).
    func onBatchEnd(_ trainer: Trainer) throws
    /// After an epoch and its validation; ``TrainingState/epoch`` counts it.
    /// - Parameter metrics: this epoch's row of the history (`loss`, `accuracy`, `val_loss`, …).
    func onEpochEnd(_ trainer: Trainer, metrics: [(name: String, value: Double)]) throws
    /// Once, when the loop ends without an error: all epochs done, early stopping, or a requested stop.
    func onTrainEnd(_ trainer: Trainer) throws
}

extension TrainingCallback {
    public func onTrainBegin(_ trainer: Trainer) throws {}
    public func onEpochBegin(_ trainer: Trainer) throws {}
    public func onBatchBegin(_ trainer: Trainer) throws {}
    public func onBatchEnd(_ trainer: Trainer) throws {}
    public func onEpochEnd(_ trainer: Trainer, metrics: [(name: String, value: Double)]) throws {}
    public func onTrainEnd(_ trainer: Trainer) throws {}
}
