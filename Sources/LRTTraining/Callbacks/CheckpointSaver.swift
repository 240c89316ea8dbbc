import Foundation
import LRTFormat

/// Saves the whole run to one checkpoint file after every epoch, every ``saveEvery`` steps within an
/// epoch (`--save-every`), and when a stop is requested mid-epoch, so that `lrt resume` continues
/// from the exact batch. Put it last in the list: the state it saves includes what the callbacks
/// before it recorded.
public final class CheckpointSaver: TrainingCallback {
    public let path: String
    private let compressWeights: Bool
    /// Save mid-epoch at every global step divisible by this (0: only at epoch ends and stops).
    public let saveEvery: Int
    /// The epoch the file on disk holds, or nil before the first save.
    public private(set) var savedEpoch: Int?

    /// - Parameters:
    ///   - path: the checkpoint file (reserved by the caller; see ``LRTFormat/Checkpoint/reserve(_:overwrite:inputs:inputFolders:)``).
    ///   - compressWeights: gzip the weights (default false).
    ///   - saveEvery: steps between mid-epoch saves (default 0: none).
    public init(path: String, compressWeights: Bool = false, saveEvery: Int = 0) {
        self.path = path
        self.compressWeights = compressWeights
        self.saveEvery = saveEvery
    }

    public func onEpochEnd(_ trainer: Trainer, metrics: [(name: String, value: Double)]) throws {
        try save(trainer)
    }

    public func onBatchEnd(_ trainer: Trainer) throws {
        let state = trainer.state
        // The last batch of an epoch is saved by onEpochEnd, after validation.
        let periodic = saveEvery > 0 && state.globalStep % saveEvery == 0 && state.position < state.epochOrder.count
        if trainer.stopRequested || periodic { try save(trainer) }
    }

    /// Writes the trainer's model, optimizer and state now.
    /// - Throws: ``TrainingError`` instead of saving weights that are not finite.
    public func save(_ trainer: Trainer) throws {
        try Self.save(trainer, to: path, compressWeights: compressWeights, savedBefore: savedEpoch != nil)
        savedEpoch = trainer.state.epoch
    }

    /// Writes the trainer's model, optimizer and state to `path` (atomically, see ``LRTFormat/Checkpoint``).
    /// - Parameter savedBefore: this run saved `path` already (the caller then says which epoch it still holds).
    static func save(_ trainer: Trainer, to path: String, compressWeights: Bool, savedBefore: Bool = false) throws {
        guard trainer.model.weights.allSatisfy(\.value.isFinite) else {
            throw TrainingError.diverged("the weights are no longer finite; not saving them over \(path): lower --learning-rate")
        }
        do {
            try Checkpoint.save(model: trainer.model, optimizer: trainer.optimizer, training: trainer.checkpointState,
                                to: path, compressWeights: compressWeights)
        } catch let error as CheckpointError {
            // Saves go through a temporary file and a rename: a failed one leaves the target as it was.
            // After a save of this run, the caller adds which epoch the file still holds.
            let previous = savedBefore ? "" : FileManager.default.fileExists(atPath: path)
                ? "; the previous \(path) is unchanged" : "; no checkpoint was written"
            throw TrainingError.cannotWrite(path: path, problem: error.description + previous)
        }
    }
}
