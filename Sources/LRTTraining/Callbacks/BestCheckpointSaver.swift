import Foundation
import LRTFormat

/// Keeps the best model by the monitored metric in its own checkpoint file (`--keep-best FILE.h5`), as
/// Keras's `ModelCheckpoint(save_best_only=True)`: after an epoch whose value beats the best so far, the
/// whole run (model, optimizer, state) is saved there atomically. The best value is
/// ``TrainingState/keepBest``, saved with every checkpoint, so a resumed run only replaces the file with a
/// better model.
public final class BestCheckpointSaver: TrainingCallback {
    public let path: String
    public let monitor: MonitoredMetric
    private let compressWeights: Bool

    /// - Parameter path: the file (reserved by the caller, see ``LRTFormat/Checkpoint/reserve(_:overwrite:inputs:inputFolders:)``).
    public init(path: String, monitor: MonitoredMetric, compressWeights: Bool = false) {
        self.path = path
        self.monitor = monitor
        self.compressWeights = compressWeights
    }

    public func onTrainBegin(_ trainer: Trainer) throws {
        try monitor.check(for: trainer)
        if trainer.state.keepBest == nil { trainer.state.keepBest = MonitorState(best: monitor.worst) }
    }

    public func onEpochEnd(_ trainer: Trainer, metrics: [(name: String, value: Double)]) throws {
        guard let current = monitor.value(in: metrics), var state = trainer.state.keepBest,
              monitor.improves(current, on: state.best) else { return }
        state.best = current
        state.bestEpoch = trainer.state.epoch
        trainer.state.keepBest = state
        try CheckpointSaver.save(trainer, to: path, compressWeights: compressWeights)
    }
}
