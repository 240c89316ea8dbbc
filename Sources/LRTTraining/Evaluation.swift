import Foundation
import LRTData
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
        var perClass = data.classNames.map { (name: $0, correct: 0, count: 0) }
        var totalLoss = 0.0
        var totalCorrect = 0
        let started = DispatchTime.now().uptimeNanoseconds
        var batch = Tensor(shape: [0])
        var labels: [Int32] = []
        let order = Array(0..<data.count)
        for start in stride(from: 0, to: data.count, by: batchSize) {
            let slice = order[start..<min(start + batchSize, data.count)]
            data.fill(slice, into: &batch, labels: &labels)
            let logits = model.infer(batch)
            let result = SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels[...], computeGradient: false)
            totalLoss += result.loss * Double(slice.count)
            totalCorrect += result.correct
            for (label, predicted) in zip(labels, result.predictions) {
                perClass[Int(label)].count += 1
                if predicted == label { perClass[Int(label)].correct += 1 }
            }
        }
        let count = max(data.count, 1)
        return EvaluationReport(loss: totalLoss / Double(count), accuracy: Double(totalCorrect) / Double(count),
                                count: data.count, perClass: perClass,
                                seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }
}
