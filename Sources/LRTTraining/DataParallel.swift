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
/// BatchNormalization normalizes by each rank's own batch statistics (as PyTorch DDP without
/// SyncBatchNorm); the moving statistics (every non-trainable weight) are averaged over ranks in the
/// same allreduce, weighted by shard size, so every rank keeps the same weights.
///
/// With one rank every method returns what it is given: training is exactly single-process.
public final class DataParallel {
    public let communicator: any Communicator
    /// `[gradients of every trainable parameter, values of every non-trainable weight]`, in model order.
    private var fused: [Float] = []
    /// Seconds spent in allreduce since the counter was last read (``takeCommunicationSeconds()``).
    private var communicationSeconds = 0.0

    public init(communicator: any Communicator = SingleProcessCommunicator()) {
        self.communicator = communicator
    }

    /// Whether there is more than one rank.
    public var isParallel: Bool { communicator.size > 1 }

    /// This rank's positions of the global batch at `positions`.
    public func shard(_ positions: Range<Int>) -> Range<Int> { communicator.shard(of: positions) }

    /// This rank's generator for one step of a per-rank stream (dropout, augmentation): seeded from one
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

    /// Loss, accuracy and count of `model` on all of `data`: with one rank ``EvaluationReport/evaluate(_:on:batchSize:)``;
    /// with several, each rank evaluates a contiguous shard and the sums are added up, so every rank gets the whole result.
    /// - Throws: ``TrainingError/unreadableData(_:)`` when `data`'s examples cannot be read, ``TrainingError/communication(_:)``
    ///   when the ranks cannot add up their sums.
    public func evaluate(_ model: any Model, on data: any Dataset) throws(TrainingError) -> (loss: Double, accuracy: Double, count: Int) {
        guard isParallel else {
            let report: EvaluationReport
            do { report = try EvaluationReport.evaluate(model, on: data) } catch { throw .unreadableData(error) }
            return (report.loss, report.accuracy, report.count)
        }
        let shard = communicator.shard(of: 0..<data.count)
        var sums = [0.0, 0.0]  // [loss · count, correct]
        if !shard.isEmpty {
            let report: EvaluationReport
            do { report = try EvaluationReport.evaluate(model, on: DatasetSubset(data, indices: Array(shard))) } catch {
                throw .unreadableData(error)
            }
            sums = [report.loss * Double(report.count), (report.accuracy * Double(report.count)).rounded()]
        }
        do { try communicator.allreduceSum(&sums) } catch { throw .communication(error) }
        let count = max(data.count, 1)
        return (sums[0] / Double(count), sums[1].rounded() / Double(count), data.count)
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
            for weight in model.weights { try communicator.broadcast(&weight.value.storage, from: 0) }
        } catch let error as CommunicatorError {
            throw TrainingError.communication(error)
        }
    }
}
