import XCTest
import LRTTensor
@testable import LRTLayers

/// Per-sample weights in the loss, as Keras's `class_weight` (Tools/make_data_references.py --part class-weight).
final class ClassWeightLossTests: XCTestCase {
    func testWeightedLossAndGradientMatchKeras() {
        let logits = Tensor(shape: [4, 3], storage: ClassWeightReference.logits)
        let weights = ClassWeightReference.labels.map { ClassWeightReference.classWeights[Int($0)] }
        let result = SoftmaxCrossEntropy.evaluate(logits: logits, labels: ClassWeightReference.labels[...], sampleWeights: weights)
        XCTAssertEqual(result.loss, ClassWeightReference.loss, accuracy: 1e-6)
        for (value, expected) in zip(result.gradient.storage, ClassWeightReference.gradient) {
            XCTAssertEqual(value, expected, accuracy: 1e-6)
        }
    }

    /// Hand-computed: one example of weight 3 and one of weight 1 in a batch of 2: the weighted sum is divided by
    /// the batch size (2), not by the sum of the weights (4), as Keras's `sum_over_batch_size` does.
    func testWeightedMeanDividesByTheBatchSize() {
        let logits = Tensor(shape: [2, 2], storage: [0, 0, 0, 0])  // each example's loss is log 2
        let result = SoftmaxCrossEntropy.evaluate(logits: logits, labels: [0, 1], sampleWeights: [3, 1])
        XCTAssertEqual(result.loss, (3 * log(2.0) + log(2.0)) / 2, accuracy: 1e-12)
        // ∂/∂z of w·(logsumexp − z_y) / batch: w·(0.5 − onehot) / 2.
        XCTAssertEqual(result.gradient.storage, [-0.75, 0.75, 0.25, -0.25])
    }

    func testWeightsOfOneChangeNothing() {
        let logits = Tensor(shape: [4, 3], storage: ClassWeightReference.logits)
        let plain = SoftmaxCrossEntropy.evaluate(logits: logits, labels: ClassWeightReference.labels[...])
        let ones = SoftmaxCrossEntropy.evaluate(logits: logits, labels: ClassWeightReference.labels[...], sampleWeights: [1, 1, 1, 1])
        XCTAssertEqual(plain.loss, ones.loss)
        XCTAssertEqual(plain.gradient, ones.gradient)
    }
}
