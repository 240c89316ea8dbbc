import Foundation
import XCTest
import LRTTensor
@testable import LRTLayers

/// cifar10-quick cannot be trained on CIFAR-10 here (not available offline); it learns a synthetic
/// ten-class task of noisy colored images instead, through every layer it has ("same" 5×5
/// convolutions, overlapping max and average pooling, ReLU, Dense) on the default kernels.
final class SampleModelTrainingTests: XCTestCase {
    func testCIFAR10QuickLearnsNoisyColors() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Samples/models/cifar10-quick.json").standardized
        var generator = SeededGenerator(seed: 1)
        let model = try ModelConfig.build(text: try String(contentsOf: url, encoding: .utf8), generator: &generator)
        // Class c: every pixel near a color of its own, plus uniform noise of ±0.2.
        let colors: [[Float]] = [[0.2, 0.2, 0.2], [0.5, 0.2, 0.2], [0.2, 0.5, 0.2], [0.5, 0.5, 0.2], [0.2, 0.2, 0.5],
                                 [0.5, 0.2, 0.5], [0.2, 0.5, 0.5], [0.5, 0.5, 0.5], [0.8, 0.2, 0.2], [0.2, 0.8, 0.8]]
        func batch(_ count: Int) -> (Tensor, [Int32]) {
            var images = Tensor(shape: [count, 32, 32, 3])
            let labels = (0..<count).map { _ in Int32(generator.next() % 10) }
            for (example, label) in labels.enumerated() {
                for pixel in 0..<(32 * 32) {
                    for channel in 0..<3 {
                        images.storage[(example * 1024 + pixel) * 3 + channel] = colors[Int(label)][channel] + generator.nextFloat(in: -0.2, 0.2)
                    }
                }
            }
            return (images, labels)
        }
        var losses: [Double] = []
        var velocities = model.parameters.map { [Float](repeating: 0, count: $0.value.count) }  // SGD, rate 0.003, momentum 0.9
        for _ in 0..<100 {
            let (images, labels) = batch(16)
            var context = ForwardContext(training: true, generator: generator)
            let result = SoftmaxCrossEntropy.evaluate(logits: model.forward(images, context: &context), labels: labels[...])
            generator = context.generator
            losses.append(result.loss)
            model.zeroGradients()
            model.backward(result.gradient)
            for (parameter, slot) in zip(model.parameters, velocities.indices) {
                parameter.gradient.withUnsafeBufferPointer { gradients in
                    parameter.value.withUnsafeMutableBufferPointer { values in
                        for index in values.indices {
                            velocities[slot][index] = 0.9 * velocities[slot][index] - 0.003 * gradients[index]
                            values[index] += velocities[slot][index]
                        }
                    }
                }
            }
        }
        let (test, labels) = batch(200)
        let result = SoftmaxCrossEntropy.evaluate(logits: model.infer(test), labels: labels[...], computeGradient: false)
        print("cifar10-quick: loss \(losses.prefix(3)) … \(losses.suffix(3)), test accuracy \(Double(result.correct) / 200)")
        XCTAssertLessThan(losses.suffix(5).reduce(0, +) / 5, 0.5 * losses.prefix(5).reduce(0, +) / 5)
        XCTAssertGreaterThan(Double(result.correct) / 200, 0.6)  // chance: 0.1
    }
}
