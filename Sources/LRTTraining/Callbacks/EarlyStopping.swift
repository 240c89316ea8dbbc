import Foundation
import LRTFormat

/// Ends the run when the monitored metric has not improved for `patience` epochs (`--early-stopping`), as
/// Keras's `EarlyStopping` (Prechelt 1998, "Early stopping — but when?"): after each epoch `wait` grows by
/// one and is reset by an improvement of more than `minimumDelta`; when it reaches `patience` (never after
/// the first epoch) the run stops and is finished. Its state is ``TrainingState/earlyStopping``, saved with
/// every checkpoint, so a resumed run counts on.
public final class EarlyStopping: TrainingCallback {
    public let monitor: MonitoredMetric
    public let patience: Int
    public let minimumDelta: Double
    private let report: (String) -> Void

    /// - Parameters:
    ///   - monitor: the metric watched.
    ///   - patience: epochs without improvement before stopping (≥ 1).
    ///   - minimumDelta: the smallest change that counts as an improvement (≥ 0, default 0).
    ///   - report: receives the line saying why the run stopped.
    public init(monitor: MonitoredMetric, patience: Int, minimumDelta: Double = 0, report: @escaping (String) -> Void) {
        precondition(patience >= 1 && minimumDelta >= 0, "early stopping needs patience ≥ 1 and min delta ≥ 0")
        self.monitor = monitor
        self.patience = patience
        self.minimumDelta = minimumDelta
        self.report = report
    }

    public func onTrainBegin(_ trainer: Trainer) throws {
        try monitor.check(for: trainer)
        if trainer.state.earlyStopping == nil { trainer.state.earlyStopping = MonitorState(best: monitor.worst) }
    }

    public func onEpochEnd(_ trainer: Trainer, metrics: [(name: String, value: Double)]) throws {
        guard let current = monitor.value(in: metrics), var state = trainer.state.earlyStopping else { return }
        defer { trainer.state.earlyStopping = state }
        state.wait += 1
        if monitor.improves(current, on: state.best, minimumDelta: minimumDelta) {
            state.best = current
            state.bestEpoch = trainer.state.epoch
            state.wait = 0
            return
        }
        if state.wait >= patience, trainer.state.epoch > 1 {
            state.stoppedEpoch = trainer.state.epoch
            trainer.stopTraining = true
            report("early stopping after epoch \(trainer.state.epoch): \(monitor.name) did not improve"
                   + (minimumDelta > 0 ? " by more than \(minimumDelta)" : "") + " for \(state.wait) epochs"
                   + String(format: " (best %.4f at epoch %d)", state.best, state.bestEpoch))
        }
    }
}
