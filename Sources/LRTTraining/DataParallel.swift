import Foundation
import LRTData
import LRTDistributed
import LRTFormat
import LRTLayers
import LRTTensor

/// The data-parallel seam of the training step, between `backward` and the optimizer: each rank
/// takes a contiguous shard of every global batch (so `--batch-size` is the global batch and the
/// trajectory is one process's up to summation order), and ``reduce(model:totals:globalCount:)``
/// averages the gradients over ranks with one fused allreduce, so the paper's per-layer norms come
/// from the global gradient and every rank applies the same update.
///
/// BatchNormalization normalizes by each rank's own batch statistics by default (as PyTorch DDP without
/// SyncBatchNorm); the moving statistics (every non-trainable weight) are averaged over ranks in the
/// same allreduce, weighted by shard size, so every rank keeps the same weights. With
/// ``synchronizesBatchNormalization`` (`--sync-batch-norm`) it normalizes by the global batch's statistics,
/// which ``batchStatistics`` adds up over the ranks (PyTorch's SyncBatchNorm), so the step is one process's.
///
/// With one rank every method returns what it is given: training is exactly single-process.
public final class DataParallel {
    public let communicator: any Communicator
    /// `[gradients of every trainable parameter, values of every non-trainable weight]`, in model order.
    private var fused: [Float] = []
    /// Seconds spent in allreduce since the counter was last read (``takeCommunicationSeconds()``).
    private var communicationSeconds = 0.0

    /// `--sync-batch-norm`: BatchNormalization in training normalizes by the statistics of the global batch, added up
    /// over the ranks (two allreduces of per-feature sums in forward, one in backward). With one rank it changes nothing:
    /// the batch is the global batch.
    public var synchronizesBatchNormalization = false
    private lazy var statisticsReducer = CommunicatorStatisticsReducer(communicator: communicator)

    public init(communicator: any Communicator = SingleProcessCommunicator()) {
        self.communicator = communicator
    }

    /// The reducer a training step's ``ForwardContext`` gets: the ranks' allreduce when BatchNormalization is
    /// synchronized over several ranks; nil otherwise.
    public var batchStatistics: (any BatchStatisticsReducer)? {
        isParallel && synchronizesBatchNormalization ? statisticsReducer : nil
    }

    /// Throws the first failure of a ``batchStatistics`` allreduce since the last call (layers cannot throw, so the
    /// reducer keeps it and skips the collectives after it).
    public func checkBatchStatistics() throws(CommunicatorError) {
        guard isParallel, let failure = statisticsReducer.failure else { return }
        statisticsReducer.failure = nil
        throw failure
    }

    /// Whether there is more than one rank.
    public var isParallel: Bool { communicator.size > 1 }

    /// This rank's positions of the global batch at `positions`.
    public func shard(_ positions: Range<Int>) -> Range<Int> { communicator.shard(of: positions) }

    /// This rank's generator for one step of a per-rank stream (augmentation): seeded from one
    /// draw of the shared stream `shared` (which every rank advances alike, and checkpoints save) mixed
    /// with the rank, so ranks draw independent masks and a resume with the same rank count repeats them.
    public func rankGenerator(_ shared: inout SeededGenerator, stream: String) -> SeededGenerator {
        let base = shared.next()
        return SeededGenerator(seed: TrainingState.streamSeed(base, stream: "\(stream) rank \(communicator.rank)"))
    }

    /// A step's sums over its examples: `[loss · count, correct, count]` (this rank's, or all ranks').
    public typealias StepTotals = (lossSum: Double, correct: Int, count: Int)

    /// Averages the model's gradients (weighted by each rank's share of the `globalCount` examples,
    /// so uneven shards are exact) and its non-trainable weights over ranks, and sums `totals`.
    /// - Parameters:
    ///   - totals: this rank's sums; on return, all ranks'.
    ///   - globalCount: the examples of the global batch.
    public func reduce(model: any Model, totals: inout StepTotals, globalCount: Int) throws(CommunicatorError) {
        guard isParallel else { return }
        let started = DispatchTime.now().uptimeNanoseconds
        let share = Float(Double(totals.count) / Double(max(globalCount, 1)))
        let trainable = model.parameters, fixed = model.weights.filter { !$0.trainable }
        let length = trainable.reduce(0) { $0 + $1.value.count } + fixed.reduce(0) { $0 + $1.value.count }
        if fused.count != length { fused = [Float](repeating: 0, count: length) }
        fused.withUnsafeMutableBufferPointer { buffer in
            var offset = 0
            for parameter in trainable {
                parameter.gradient.withUnsafeBufferPointer { gradient in
                    for index in gradient.indices { buffer[offset + index] = gradient[index] * share }
                    offset += gradient.count
                }
            }
            for weight in fixed {
                weight.value.withUnsafeBufferPointer { value in
                    for index in value.indices { buffer[offset + index] = value[index] * share }
                    offset += value.count
                }
            }
        }
        try communicator.allreduceSum(&fused)
        var sums = [totals.lossSum, Double(totals.correct), Double(totals.count)]
        try communicator.allreduceSum(&sums)
        totals = (sums[0], Int(sums[1].rounded()), Int(sums[2].rounded()))
        fused.withUnsafeBufferPointer { buffer in
            var offset = 0
            for parameter in trainable {
                parameter.gradient.withUnsafeMutableBufferPointer { gradient in
                    for index in gradient.indices { gradient[index] = buffer[offset + index] }
                    offset += gradient.count
                }
            }
            for weight in fixed {
                weight.value.withUnsafeMutableBufferPointer { value in
                    for index in value.indices { value[index] = buffer[offset + index] }
                    offset += value.count
                }
            }
        }
        communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    }

    /// The seconds spent reducing gradients since the last call (packing, allreduce, including any wait for a
    /// slower rank, and unpacking); the progress line shows each epoch's.
    public func takeCommunicationSeconds() -> Double {
        defer { communicationSeconds = 0 }
        return communicationSeconds
    }

    /// Loss, accuracy and count of `model` on all of `data`: ``EvaluationReport/evaluate(_:on:options:communicator:)``,
    /// each rank evaluating a contiguous shard and the sums added up, so every rank gets the whole result.
    /// - Throws: ``TrainingError/unreadableData(_:)`` when `data`'s examples cannot be read, ``TrainingError/communication(_:)``
    ///   when the ranks cannot add up their sums.
    public func evaluate(_ model: any Model, on data: any Dataset) throws(TrainingError) -> (loss: Double, accuracy: Double, count: Int) {
        let report = try EvaluationReport.evaluate(model, on: data, options: EvaluationOptions(), communicator: communicator)
        return (report.loss, report.accuracy, report.count)
    }

    /// Makes every rank start from rank 0's weights (as PyTorch DDP does at construction), and checks
    /// that every rank reads the same dataset and continues from the same position.
    /// - Throws: ``TrainingError/mismatch(_:)`` naming what differs.
    public func synchronize(model: any Model, state: TrainingState, trainCount: Int) throws {
        guard isParallel else { return }
        do {
            let facts = [Double(trainCount), Double(state.position), Double(state.globalStep), Double(state.epoch),
                         Double(model.weights.reduce(0) { $0 + $1.value.count })]
            var highest = facts, negatedLowest = facts.map { -$0 }
            try communicator.allreduceMaximum(&highest)
            try communicator.allreduceMaximum(&negatedLowest)
            let names = ["training images", "epoch position", "global step", "epoch", "weight values"]
            for (index, name) in names.enumerated() where highest[index] != -negatedLowest[index] {
                throw TrainingError.mismatch("the \(communicator.size) ranks disagree on the \(name) (from \(Int(-negatedLowest[index])) to \(Int(highest[index])); rank \(communicator.rank) has \(Int(facts[index]))): give every rank the same dataset and checkpoint")
            }
            try checkSynchronizedBatches(model: model, batchSize: state.batchSize, trainCount: trainCount)
            for weight in model.weights { try communicator.broadcast(&weight.value.storage, from: 0) }
        } catch let error as CommunicatorError {
            throw TrainingError.communication(error)
        }
    }

    /// Synchronized BatchNormalization needs every rank in every step's collectives, so every batch (the last of an
    /// epoch too) must give each rank an example.
    /// - Throws: ``TrainingError/invalidSetting(_:value:hint:)`` when a batch has fewer examples than there are ranks.
    private func checkSynchronizedBatches(model: any Model, batchSize: Int, trainCount: Int) throws(TrainingError) {
        guard batchStatistics != nil,
              model.layers.contains(where: { ($0 as? BatchNormalization).map { !$0.frozen } ?? false }) else { return }
        let remainder = trainCount % batchSize
        let smallest = min(batchSize, trainCount, remainder == 0 ? batchSize : remainder)
        guard smallest < communicator.size else { return }
        throw .invalidSetting(.syncBatchNorm, value: "on \(communicator.size) ranks",
                              hint: "the smallest batch has \(smallest) examples (\(trainCount) training images in batches of \(batchSize)), which leaves a rank without any; run on at most \(max(smallest, 1)) ranks or choose another --batch-size")
    }
}

/// ``BatchStatisticsReducer`` over the ranks of a run: an allreduce. Layers cannot throw, so a failure is kept
/// for ``DataParallel/checkBatchStatistics()`` and the sums after it are skipped (left this rank's).
final class CommunicatorStatisticsReducer: BatchStatisticsReducer {
    let communicator: any Communicator
    var failure: CommunicatorError?

    init(communicator: any Communicator) { self.communicator = communicator }

    func sum(_ values: UnsafeMutableBufferPointer<Double>) {
        guard failure == nil else { return }
        do { try communicator.allreduceSum(values) } catch { failure = error }
    }
}
