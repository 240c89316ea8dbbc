import Foundation
import LRTTensor

/// Softmax followed by sparse categorical cross-entropy, fused and numerically stable.
///
/// For logits `z` of one example with label `y`:
/// `loss = logsumexp(z) − z_y`, `∂loss/∂z = softmax(z) − onehot(y)`.
/// The batch loss is the mean over examples, so the gradient is divided by the batch size. With sample weights
/// `w` (Keras's `sample_weight`, or `class_weight` looked up by label) each example's loss and gradient are scaled
/// by its weight and the sum is still divided by the batch size, not by the sum of weights, as Keras's default
/// `sum_over_batch_size` reduction does.
public enum SoftmaxCrossEntropy {
    /// The result of one evaluation over a batch.
    public struct Result {
        /// The mean loss over the batch.
        public var loss: Double
        /// How many examples have their label as the largest logit (first one on ties).
        public var correct: Int
        /// `[batch]`: each example's predicted class, the index of its largest logit (first one on ties).
        public var predictions: [Int32]
        /// `[batch, classes]`: ∂(mean loss)/∂logits. Empty when not requested.
        public var gradient: Tensor
    }

    /// - Parameters:
    ///   - logits: `[batch, classes]`.
    ///   - labels: `[batch]`, each in `0..<classes`.
    ///   - computeGradient: whether to fill ``Result/gradient`` (default true).
    ///   - sampleWeights: `[batch]`, each example's weight (default nil: all 1).
    public static func evaluate(logits: Tensor, labels: ArraySlice<Int32>, computeGradient: Bool = true,
                                sampleWeights: [Float]? = nil) -> Result {
        let batch = labels.count
        precondition(sampleWeights.map { $0.count == batch } ?? true, "one weight per example")
        let classes = logits.count / max(batch, 1)
        precondition(logits.count == batch * classes)
        var gradient = computeGradient ? Tensor(shape: [batch, classes]) : Tensor(shape: [0])
        var totalLoss = 0.0
        var correct = 0
        var predictions = [Int32](repeating: 0, count: batch)
        logits.withUnsafeBufferPointer { values in
            gradient.withUnsafeMutableBufferPointer { gradients in
                let scale = 1 / Float(batch)
                for (row, label) in zip(0..<batch, labels) {
                    let offset = row * classes
                    var maximum = -Float.infinity
                    var predicted = 0
                    for index in 0..<classes where values[offset + index] > maximum {
                        maximum = values[offset + index]
                        predicted = index
                    }
                    predictions[row] = Int32(predicted)
                    if predicted == Int(label) { correct += 1 }
                    var total = 0.0
                    for index in 0..<classes { total += Foundation.exp(Double(values[offset + index] - maximum)) }
                    let logTotal = Foundation.log(total)
                    let weight = sampleWeights?[row] ?? 1
                    totalLoss += Double(weight) * (logTotal - Double(values[offset + Int(label)] - maximum))
                    guard computeGradient else { continue }
                    let weightedScale = sampleWeights == nil ? scale : weight * scale
                    for index in 0..<classes {
                        let probability = Float(Foundation.exp(Double(values[offset + index] - maximum) - logTotal))
                        gradients[offset + index] = (probability - (index == Int(label) ? 1 : 0)) * weightedScale
                    }
                }
            }
        }
        return Result(loss: batch > 0 ? totalLoss / Double(batch) : 0, correct: correct, predictions: predictions,
                      gradient: gradient)
    }
}
