import XCTest
import Foundation
import LRTLayers
import LRTTensor
@testable import LRTOptimizers

final class OptimizerTests: XCTestCase {
    /// One layer with a kernel and a bias whose gradients are set by hand.
    private func layer(kernelGradient: [Float], biasGradient: [Float]) -> (String, [Parameter]) {
        let kernel = Parameter(layerName: "dense", weightName: "kernel", value: Tensor(shape: [2], storage: [1, -1]))
        let bias = Parameter(layerName: "dense", weightName: "bias", value: Tensor(shape: [1], storage: [0.5]))
        kernel.gradient = Tensor(shape: [2], storage: kernelGradient)
        bias.gradient = Tensor(shape: [1], storage: biasGradient)
        return ("dense", [kernel, bias])
    }

    /// The paper's multiplier uses the norm of kernel and bias gradients together: ‖(3, 0, 4)‖ = 5.
    func testPaperMultiplierUsesWholeLayerNorm() throws {
        let group = layer(kernelGradient: [3, 0], biasGradient: [4])
        let optimizer = Optimizer(rule: try StochasticGradientDescent(), layerRates: .paper,
                                  schedule: try ConstantSchedule(learningRate: 0.1))
        optimizer.apply(to: [group], epoch: 0)
        let multiplier = 1 + log(1 + 1 / 5.0)  // 1.18232
        XCTAssertEqual(optimizer.multipliers.first?.multiplier ?? 0, multiplier, accuracy: 1e-12)
        let step = Float(0.1 * multiplier)
        XCTAssertEqual(group.1[0].value.storage, [1 - step * 3, -1], "kernel")
        XCTAssertEqual(group.1[1].value.storage[0], 0.5 - step * 4, accuracy: 1e-7)
    }

    func testLayerRatesOffIsPlainSGD() throws {
        let group = layer(kernelGradient: [3, 0], biasGradient: [4])
        let optimizer = Optimizer(rule: try StochasticGradientDescent(), layerRates: .off,
                                  schedule: try ConstantSchedule(learningRate: 0.1))
        optimizer.apply(to: [group], epoch: 0)
        XCTAssertEqual(group.1[0].value.storage[0], 0.7, accuracy: 1e-7)
        XCTAssertEqual(optimizer.multipliers.first?.multiplier, 1)
    }

    /// Small gradients get large multipliers, large ones about 1; zero and non-finite norms are guarded.
    func testMultiplierShapeAndGuards() {
        XCTAssertEqual(LayerRates.paper.multiplier(gradientNorm: 1), 1 + log(2.0), accuracy: 1e-12)
        XCTAssertEqual(LayerRates.paper.multiplier(gradientNorm: 1e6), 1, accuracy: 1e-5)
        XCTAssertEqual(LayerRates.paper.multiplier(gradientNorm: 0.01), 1 + log(101.0), accuracy: 1e-12)
        XCTAssertEqual(LayerRates.paper.multiplier(gradientNorm: 0), 1)
        XCTAssertEqual(LayerRates.paper.multiplier(gradientNorm: .nan), 1)
        XCTAssertEqual(LayerRates.paper.multiplier(gradientNorm: .infinity), 1)
        XCTAssertEqual(LayerRates.paper.multiplier(gradientNorm: 1e-300), 1 + log(1 + 1e12), accuracy: 1e-9)
        XCTAssert(LayerRates.paper.multiplier(gradientNorm: 1e-300).isFinite)
    }

    /// Momentum and Nesterov against values worked out by hand (torch.optim.SGD, dampening 0):
    /// θ₀ = 1, g = 1 each step, μ = 0.9, rate 0.1.
    /// classical: v = 1, 1.9 → θ = 0.9, 0.71; Nesterov: d = 1.9, 1 + 0.9·1.9 = 2.71 → θ = 0.81, 0.539.
    func testMomentumAndNesterovMatchTorchFormulas() throws {
        for (nesterov, expected) in [(false, [Float(0.9), 0.71]), (true, [0.81, 0.539])] {
            let parameter = Parameter(layerName: "dense", weightName: "kernel", value: Tensor(shape: [1], storage: [1]))
            parameter.gradient = Tensor(shape: [1], storage: [1])
            let optimizer = Optimizer(rule: try StochasticGradientDescent(momentum: 0.9, nesterov: nesterov), layerRates: .off,
                                      schedule: try ConstantSchedule(learningRate: 0.1))
            for value in expected {
                optimizer.apply(to: [("dense", [parameter])], epoch: 0)
                XCTAssertEqual(parameter.value.storage[0], value, accuracy: 1e-6, "nesterov \(nesterov)")
            }
            XCTAssertEqual(optimizer.step, 2)
            XCTAssertEqual(optimizer.slots["dense.kernel"]?.first?.storage[0] ?? 0, 1.9, accuracy: 1e-6)
        }
    }

    func testBadHyperparametersAreNamed() {
        XCTAssertThrowsError(try ConstantSchedule(learningRate: -1)) { XCTAssert("\($0)".contains("-1")) }
        XCTAssertThrowsError(try ConstantSchedule(learningRate: .nan)) { XCTAssert("\($0)".contains("nan")) }
        XCTAssertThrowsError(try StochasticGradientDescent(momentum: 1)) { XCTAssert("\($0)".contains("momentum 1")) }
        XCTAssertThrowsError(try StochasticGradientDescent(momentum: 0, nesterov: true)) { XCTAssert("\($0)".contains("Nesterov")) }
        XCTAssertThrowsError(try Optimizer.make(config: .object([("class_name", .string("Shampoo"))]))) {
            XCTAssert("\($0)".contains("Shampoo"))
        }
    }

    func testConfigRoundTripAndRestoreChecksShapes() throws {
        let optimizer = Optimizer(rule: try StochasticGradientDescent(momentum: 0.5, nesterov: true), layerRates: .paper,
                                  schedule: try ConstantSchedule(learningRate: 0.25))
        let rebuilt = try Optimizer.make(config: optimizer.config)
        XCTAssertEqual(rebuilt.config, optimizer.config)
        XCTAssertEqual(rebuilt.layerRates, .paper)
        let parameter = Parameter(layerName: "dense", weightName: "kernel", value: Tensor(shape: [2]))
        XCTAssertThrowsError(try rebuilt.restore(step: 3, slots: ["dense.kernel": [Tensor(shape: [3])]], multipliers: [],
                                                 parameters: [parameter])) { XCTAssert("\($0)".contains("dense.kernel")) }
        XCTAssertThrowsError(try rebuilt.restore(step: 3, slots: ["other.kernel": [Tensor(shape: [2])]], multipliers: [],
                                                 parameters: [parameter])) { XCTAssert("\($0)".contains("other.kernel")) }
        try rebuilt.restore(step: 3, slots: ["dense.kernel": [Tensor(shape: [2])]], multipliers: [("dense", 1.5)],
                            parameters: [parameter])
        XCTAssertEqual(rebuilt.step, 3)
    }
}
