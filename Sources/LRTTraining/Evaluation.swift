import Foundation
import LRTData
import LRTDistributed
import LRTLayers
import LRTTensor

/// Loss and accuracy of a model on a labelled dataset, overall and per class.
public struct EvaluationReport: Sendable {
    /// Mean sparse categorical cross-entropy.
    public var loss: Double
    /// Fraction of examples whose most probable class is their label.
    public var accuracy: Double
    /// Number of examples.
    public var count: Int
    /// Per class, in label order.
    public var perClass: [(name: String, correct: Int, count: Int)]
    /// Wall-clock seconds of the forward passes (batch assembly included, data loading not).
    public var seconds: Double
    /// Inference throughput.
    public var imagesPerSecond: Double { Double(count) / max(seconds, 1e-9) }

    /// Evaluates `model` on all of `data` in batches of `batchSize` (inference mode).
    public static func evaluate(_ model: any Model, on data: any Dataset, batchSize: Int = 1000) -> EvaluationReport {
        evaluate(model, on: data, examples: 0..<data.count, batchSize: batchSize)
    }

    /// Evaluates `model` on all of `data` split over the ranks of `communicator`: each rank runs a
    /// contiguous shard and the sums are added up, so every rank returns the whole report.
    public static func evaluate(_ model: any Model, on data: any Dataset, batchSize: Int = 1000,
                                communicator: any Communicator) throws(CommunicatorError) -> EvaluationReport {
        guard communicator.size > 1 else { return evaluate(model, on: data, batchSize: batchSize) }
        var report = evaluate(model, on: data, examples: communicator.shard(of: 0..<data.count), batchSize: batchSize)
        // [loss · count, correct, per-class correct…, per-class count…]
        var sums = [report.loss * Double(report.count), report.accuracy * Double(report.count)]
            + report.perClass.map { Double($0.correct) } + report.perClass.map { Double($0.count) }
        try communicator.allreduceSum(&sums)
        let classes = report.perClass.count
        for index in 0..<classes {
            report.perClass[index].correct = Int(sums[2 + index].rounded())
            report.perClass[index].count = Int(sums[2 + classes + index].rounded())
        }
        let count = max(data.count, 1)
        report.loss = sums[0] / Double(count)
        report.accuracy = sums[1].rounded() / Double(count)
        report.count = data.count
        return report
    }

    private static func evaluate(_ model: any Model, on data: any Dataset, examples: Range<Int>, batchSize: Int) -> EvaluationReport {
        var perClass = data.classNames.map { (name: $0, correct: 0, count: 0) }
        var totalLoss = 0.0
        var totalCorrect = 0
        let started = DispatchTime.now().uptimeNanoseconds
        var batch = Tensor(shape: [0])
        var labels: [Int32] = []
        let order = Array(examples)
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let slice = order[start..<min(start + batchSize, order.count)]
            data.fill(slice, into: &batch, labels: &labels)
            let logits = model.infer(batch)
            let result = SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels[...], computeGradient: false)
            totalLoss += result.loss * Double(slice.count)
            totalCorrect += result.correct
            let classes = logits.count / slice.count
            logits.withUnsafeBufferPointer { values in
                for (row, label) in labels.enumerated() {
                    var predicted = 0
                    for index in 1..<classes where values[row * classes + index] > values[row * classes + predicted] {
                        predicted = index
                    }
                    perClass[Int(label)].count += 1
                    if predicted == Int(label) { perClass[Int(label)].correct += 1 }
                }
            }
        }
        let count = max(order.count, 1)
        return EvaluationReport(loss: totalLoss / Double(count), accuracy: Double(totalCorrect) / Double(count),
                                count: order.count, perClass: perClass,
                                seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }
}
