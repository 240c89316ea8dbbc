import XCTest
import Foundation
import LRTLayers
import LRTTensor
@testable import LRTOptimizers

/// Every optimizer class, at its default hyperparameters, learns a tiny logistic regression.
final class ConvergenceTests: XCTestCase {
    /// 64 points in 4 dimensions, labelled by a fixed hyperplane: `[64, 4]` inputs, `[64]` labels.
    static let inputs: [[Double]] = (0..<64).map { row in
        (0..<4).map { column in sin(1.37 * Double(row) + 2.11 * Double(column) + 0.3) * 2 }
    }
    static let labels: [Double] = inputs.map { x in (0.8 * x[0] - 1.1 * x[1] + 0.5 * x[2] + 0.3 * x[3] + 0.2) > 0 ? 1 : 0 }

    /// Mean binary cross-entropy and accuracy of `σ(x·w + b)`; sets the parameters' gradients.
    static func evaluate(kernel: Parameter, bias: Parameter) -> (loss: Double, accuracy: Double) {
        var kernelGradient = [Double](repeating: 0, count: 4)
        var biasGradient = 0.0
        var loss = 0.0
        var correct = 0
        for (x, y) in zip(inputs, labels) {
            var logit = Double(bias.value.storage[0])
            for column in 0..<4 { logit += x[column] * Double(kernel.value.storage[column]) }
            let probability = 1 / (1 + exp(-logit))
            loss += -(y * log(max(probability, 1e-12)) + (1 - y) * log(max(1 - probability, 1e-12)))
            if (probability > 0.5) == (y == 1) { correct += 1 }
            for column in 0..<4 { kernelGradient[column] += (probability - y) * x[column] / Double(inputs.count) }
            biasGradient += (probability - y) / Double(inputs.count)
        }
        kernel.gradient = Tensor(shape: [4, 1], storage: kernelGradient.map(Float.init))
        bias.gradient = Tensor(shape: [1], storage: [Float(biasGradient)])
        return (loss / Double(inputs.count), Double(correct) / Double(inputs.count))
    }

    func testEveryClassAtItsDefaultsLearnsLogisticRegression() throws {
        for className in Optimizer.classNames {
            for layerRates in LayerRates.allCases {
                let optimizer = try Optimizer.make(config: .object([
                    ("class_name", .string(className)), ("config", .object([("layer_rates", .string(layerRates.rawValue))])),
                ]))
                let kernel = Parameter(layerName: "dense", weightName: "kernel", value: Tensor(shape: [4, 1], storage: [0.3, 0.3, -0.3, -0.3]))
                let bias = Parameter(layerName: "dense", weightName: "bias", value: Tensor(shape: [1], storage: [0]))
                let start = Self.evaluate(kernel: kernel, bias: bias)
                var last = start
                for _ in 0..<2000 {
                    optimizer.apply(to: [("dense", [kernel, bias])], epoch: 0)
                    last = Self.evaluate(kernel: kernel, bias: bias)
                }
                XCTAssert(last.loss < 0.6 * start.loss, "\(className) layer rates \(layerRates): loss \(start.loss) → \(last.loss)")
                XCTAssertGreaterThanOrEqual(last.accuracy, 0.9, "\(className) layer rates \(layerRates)")
            }
        }
    }
}
