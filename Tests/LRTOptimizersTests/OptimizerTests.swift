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

    /// A non-finite gradient stops the step before any change, naming the first such parameter in
    /// backpropagation order (the output's layer first); the next finite step proceeds.
    func testNonFiniteGradientStopsTheStepAndNamesItsLayer() throws {
        let first = layer(kernelGradient: [.nan, 1], biasGradient: [1])
        let head = Parameter(layerName: "head", weightName: "kernel", value: Tensor(shape: [1], storage: [2]))
        head.gradient = Tensor(shape: [1], storage: [.infinity])
        let optimizer = Optimizer(rule: try StochasticGradientDescent(momentum: 0.9), layerRates: .paper,
                                  schedule: try ConstantSchedule(learningRate: 0.1))
        optimizer.apply(to: [first, ("head", [head])], epoch: 0)
        XCTAssertEqual(optimizer.nonFiniteGradient?.layerName, "head")
        XCTAssertEqual(optimizer.nonFiniteGradient?.path, "head.kernel")
        XCTAssertEqual(optimizer.step, 0, "the step was counted")
        XCTAssertTrue(optimizer.slots.isEmpty, "slots were made")
        XCTAssertEqual(first.1[0].value.storage, [1, -1])
        XCTAssertEqual(head.value.storage, [2])

        optimizer.apply(to: [first], epoch: 0)
        XCTAssertEqual(optimizer.nonFiniteGradient?.path, "dense.kernel")
        first.1[0].gradient = Tensor(shape: [2], storage: [3, 0])
        first.1[1].gradient = Tensor(shape: [1], storage: [4])
        optimizer.apply(to: [first], epoch: 0)
        XCTAssertNil(optimizer.nonFiniteGradient)
        XCTAssertEqual(optimizer.step, 1)
        XCTAssertNotEqual(first.1[0].value.storage, [1, -1])
    }

    /// A stage of the caller's own joins the chain after the built-in ones: here it halves every step
    /// and records the order it saw the parameters in.
    func testAdditionalStageRunsAfterTheBuiltInOnes() throws {
        final class HalvingStage: OptimizerStage {
            var seen: [(path: String, multiplier: Double)] = []
            func afterRule(_ update: inout ParameterUpdate) {
                seen.append((update.path, update.multiplier))
                update.stepFactor *= 0.5
            }
        }
        let stage = HalvingStage()
        let group = layer(kernelGradient: [3, 0], biasGradient: [4])
        let optimizer = Optimizer(configuration: try OptimizerConfiguration(
            className: .sgd, rule: StochasticGradientDescent(), schedule: ConstantSchedule(learningRate: 0.1)),
                                  additionalStages: [stage])
        optimizer.apply(to: [group], epoch: 0)
        let multiplier = 1 + log(1 + 1 / 5.0)
        // It ran after LayerRatesStage: it saw the paper's multiplier already set.
        XCTAssertEqual(stage.seen.map(\.path), ["dense.kernel", "dense.bias"])
        for (_, seenMultiplier) in stage.seen { XCTAssertEqual(seenMultiplier, multiplier, accuracy: 1e-12) }
        let step = Float(0.1 * multiplier * 0.5)
        XCTAssertEqual(group.1[0].value.storage[0], 1 - step * 3, accuracy: 1e-7)
        XCTAssertEqual(group.1[1].value.storage[0], 0.5 - step * 4, accuracy: 1e-7)
        XCTAssertEqual(optimizer.stages.map { String(describing: type(of: $0)) }.last, "HalvingStage")
    }

    /// With `perTensor`, kernel and bias each get the multiplier of their own norm.
    func testPerTensorGivesEachTensorItsOwnMultiplier() throws {
        let group = layer(kernelGradient: [3, 0], biasGradient: [4])
        let optimizer = Optimizer(rule: try StochasticGradientDescent(), layerRates: .paper, perTensor: true,
                                  schedule: try ConstantSchedule(learningRate: 0.1))
        optimizer.apply(to: [group], epoch: 0)
        XCTAssertEqual(optimizer.multipliers.map(\.layerName), ["dense.kernel", "dense.bias"])
        XCTAssertEqual(optimizer.multipliers[0].multiplier, 1 + log(1 + 1 / 3.0), accuracy: 1e-12)
        XCTAssertEqual(optimizer.multipliers[1].multiplier, 1 + log(1 + 1 / 4.0), accuracy: 1e-12)
        XCTAssertEqual(group.1[0].value.storage[0], 1 - Float(0.1 * (1 + log(1 + 1 / 3.0))) * 3, accuracy: 1e-6)
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

    /// AdamW with the paper's rule: θ₁ = θ₀·(1 − t·λ) − t·m·d, the decay scaled by t only.
    /// Adam's first direction is g/(|g| + ε) ≈ 1 for g = 0.5; θ₀ = 2, t = 0.1, λ = 0.5.
    func testDecoupledDecayIsScaledByTheGlobalRateOnly() throws {
        let parameter = Parameter(layerName: "dense", weightName: "kernel", value: Tensor(shape: [1], storage: [2]))
        parameter.gradient = Tensor(shape: [1], storage: [0.5])
        let optimizer = Optimizer(rule: try Adam(), layerRates: .paper,
                                  weightDecay: try WeightDecay(rate: 0.5, mode: .decoupled),
                                  schedule: try ConstantSchedule(learningRate: 0.1))
        XCTAssertEqual(optimizer.className, "AdamW")
        optimizer.apply(to: [("dense", [parameter])], epoch: 0)
        let multiplier = 1 + log(1 + 1 / 0.5)  // 2.0986
        let expected = 2 * (1 - 0.1 * 0.5) - 0.1 * multiplier * 1
        let decayAlsoMultiplied = 2 * (1 - 0.1 * multiplier * 0.5) - 0.1 * multiplier * 1
        XCTAssertEqual(Double(parameter.value.storage[0]), expected, accuracy: 1e-6)
        XCTAssertGreaterThan(abs(expected - decayAlsoMultiplied), 0.05)
    }

    /// The multiplier comes from the raw gradient: clipping and coupled decay change the step, not m_l.
    func testPaperMultiplierUsesTheRawGradientBeforeClippingAndDecay() throws {
        let group = layer(kernelGradient: [3, 0], biasGradient: [4])
        let optimizer = Optimizer(rule: try StochasticGradientDescent(), layerRates: .paper,
                                  weightDecay: try WeightDecay(rate: 0.1), clipping: try GradientClipping(globalNorm: 1),
                                  schedule: try ConstantSchedule(learningRate: 0.1))
        optimizer.apply(to: [group], epoch: 0)
        let multiplier = 1 + log(1 + 1 / 5.0)
        XCTAssertEqual(optimizer.multipliers[0].multiplier, multiplier, accuracy: 1e-12)
        XCTAssertEqual(optimizer.lastTelemetry[0].gradientNorm, 5, accuracy: 1e-12)
        // kernel[0]: clipped 3/5, plus decay 0.1·1 → θ = 1 − 0.1·m·0.7
        XCTAssertEqual(Double(group.1[0].value.storage[0]), 1 - 0.1 * multiplier * 0.7, accuracy: 1e-6)
        // kernel[1]: gradient 0, decay 0.1·(−1) → θ = −1 + 0.1·m·0.1
        XCTAssertEqual(Double(group.1[0].value.storage[1]), -1 + 0.1 * multiplier * 0.1, accuracy: 1e-6)
    }

    func testClipByValueClampsEachElement() throws {
        let group = layer(kernelGradient: [3, -0.25], biasGradient: [-4])
        let optimizer = Optimizer(rule: try StochasticGradientDescent(), layerRates: .off, clipping: try GradientClipping(value: 0.5),
                                  schedule: try ConstantSchedule(learningRate: 1))
        optimizer.apply(to: [group], epoch: 0)
        XCTAssertEqual(group.1[0].value.storage, [0.5, -0.75])
        XCTAssertEqual(group.1[1].value.storage, [1])
    }

    /// Telemetry: the raw gradient norm, the weight norm before the step, the norm of the step
    /// actually applied, and the multiplier — per layer, or per tensor with a trust-ratio stage.
    func testTelemetryReportsTheStepActuallyApplied() throws {
        let group = layer(kernelGradient: [3, 0], biasGradient: [4])
        let before = group.1.map(\.value.storage)
        let optimizer = Optimizer(rule: try StochasticGradientDescent(momentum: 0.9), layerRates: .paper,
                                  weightDecay: try WeightDecay(rate: 0.1, mode: .decoupled),
                                  schedule: try ConstantSchedule(learningRate: 0.1))
        optimizer.apply(to: [group], epoch: 0)
        XCTAssertEqual(optimizer.lastTelemetry.count, 1)
        let record = optimizer.lastTelemetry[0]
        XCTAssertEqual(record.layerName, "dense")
        XCTAssertNil(record.parameterPath)
        XCTAssertEqual(record.gradientNorm, 5, accuracy: 1e-12)
        XCTAssertEqual(record.weightNorm, (1 + 1 + 0.25).squareRoot(), accuracy: 1e-7)
        let change = zip(before.joined(), group.1.map(\.value.storage).joined()).map { Double($1 - $0) }
        XCTAssertEqual(record.updateNorm, change.map { $0 * $0 }.reduce(0, +).squareRoot(), accuracy: 1e-7 * record.updateNorm)
        XCTAssertGreaterThan(record.updateNorm, 0)
        XCTAssertEqual(record.multiplier, 1 + log(1.2), accuracy: 1e-12)
        XCTAssertEqual(record.effectiveMultiplier, record.multiplier)

        let lamb = Optimizer(rule: try Adam(), layerRates: .off, trustRatio: .lamb(),
                             schedule: try ConstantSchedule(learningRate: 0.1))
        let second = layer(kernelGradient: [3, 0], biasGradient: [4])
        lamb.apply(to: [second], epoch: 0)
        XCTAssertEqual(lamb.lastTelemetry.map(\.name), ["dense.kernel", "dense.bias"])
        // Adam's first direction is (1, 0) for the kernel: ratio ‖θ‖/‖d‖ = √2; the bias is excluded.
        XCTAssertEqual(lamb.lastTelemetry[0].trustRatio, 2.0.squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(lamb.lastTelemetry[1].trustRatio, 1)
        XCTAssertEqual(lamb.lastTelemetry[0].updateNorm, 0.1 * 2.0.squareRoot(), accuracy: 1e-6)
    }

    /// LARS's local rate η‖θ‖/(‖g‖ + λ‖θ‖ + ε) scales the kernel; the bias (excluded by default) takes
    /// plain SGD and no decay.
    func testLARSAdaptsKernelsAndLeavesBiasesAlone() throws {
        let group = layer(kernelGradient: [3, 4], biasGradient: [2])
        let optimizer = Optimizer(rule: try StochasticGradientDescent(), layerRates: .off,
                                  trustRatio: try .lars(trustCoefficient: 0.01, epsilon: 1e-8),
                                  weightDecay: try WeightDecay(rate: 0.5, excluding: PathPattern.biasesAndNormalization),
                                  schedule: try ConstantSchedule(learningRate: 1))
        optimizer.apply(to: [group], epoch: 0)
        let weightNorm = 2.0.squareRoot()
        let ratio = 0.01 * weightNorm / (5 + 0.5 * weightNorm + 1e-8)
        XCTAssertEqual(optimizer.lastTelemetry[0].trustRatio, ratio, accuracy: 1e-9)
        XCTAssertEqual(Double(group.1[0].value.storage[0]), 1 - ratio * (3 + 0.5 * 1), accuracy: 1e-6)
        XCTAssertEqual(Double(group.1[0].value.storage[1]), -1 - ratio * (4 - 0.5 * 1), accuracy: 1e-6)
        XCTAssertEqual(optimizer.lastTelemetry[1].trustRatio, 1)
        XCTAssertEqual(group.1[1].value.storage, [0.5 - 2])
    }

    /// A zero weight norm or zero gradient norm gives trust ratio 1.
    func testTrustRatioIsOneWhenANormIsZero() throws {
        for stage in [try TrustRatio.lars(), TrustRatio.lamb()] {
            let kernel = Parameter(layerName: "dense", weightName: "kernel", value: Tensor(shape: [2], storage: [0, 0]))
            kernel.gradient = Tensor(shape: [2], storage: [1, 0])
            let optimizer = Optimizer(rule: try StochasticGradientDescent(), layerRates: .off, trustRatio: stage,
                                      schedule: try ConstantSchedule(learningRate: 0.1))
            optimizer.apply(to: [("dense", [kernel])], epoch: 0)
            XCTAssertEqual(optimizer.lastTelemetry[0].trustRatio, 1)
            XCTAssertEqual(kernel.value.storage, [-0.1, 0])
        }
    }

    func testPathPatterns() {
        XCTAssert(PathPattern("*.bias").matches("dense.bias"))
        XCTAssert(PathPattern("*.bias").matches("block1.conv.bias"))
        XCTAssertFalse(PathPattern("*.bias").matches("dense.bias_1"))
        XCTAssertFalse(PathPattern("*.bias").matches("dense.kernel"))
        XCTAssert(PathPattern("dense_1.*").matches("dense_1.kernel"))
        XCTAssertFalse(PathPattern("dense_1.*").matches("dense.kernel"))
        XCTAssert(PathPattern("*").matches("anything.at.all"))
        XCTAssert(PathPattern("dense.kernel").matches("dense.kernel"))
        XCTAssertFalse(PathPattern("dense.kernel").matches("dense.kernelx"))
        XCTAssert(PathPattern("*norm*.gamma").matches("batch_normalization.gamma"))
        XCTAssertEqual(try WeightDecay(rate: 0.1, excluding: ["*.bias", "*.beta"]).rate(for: "bn.beta"), 0)
        XCTAssertEqual(try WeightDecay(rate: 0.1, excluding: ["*.bias", "*.beta"]).rate(for: "dense.kernel"), 0.1)
    }

    /// Frozen weights and weights without a gradient (moving statistics) are not touched and keep no state.
    func testParametersThatAreNotTrainedAreSkipped() throws {
        let frozen = Parameter(layerName: "bn", weightName: "moving_mean", value: Tensor(shape: [2], storage: [1, 2]), trainable: false)
        let group = layer(kernelGradient: [1, 1], biasGradient: [1])
        let optimizer = Optimizer(rule: try Adam(), schedule: try ConstantSchedule(learningRate: 0.1))
        optimizer.apply(to: [group, ("bn", [frozen])], epoch: 0)
        XCTAssertEqual(frozen.value.storage, [1, 2])
        XCTAssertNil(optimizer.slots["bn.moving_mean"])
        XCTAssertEqual(optimizer.multipliers.map(\.layerName), ["dense"])
    }

    // MARK: - Configs

    /// Optimizers covering every rule, stage, option and schedule, all away from their defaults.
    static func everyKindOfOptimizer() throws -> [Optimizer] {
        let plateau = try ReduceOnPlateau(learningRate: 0.05, monitor: "val_accuracy", mode: .max, factor: 0.25, patience: 3,
                                          threshold: 0.002, thresholdMode: .absolute, cooldown: 2, minimumLearningRate: 1e-5)
        let schedules: [any LearningRateSchedule] = [
            try ConstantSchedule(learningRate: 0.25),
            try StepSchedule(learningRate: 0.1, gamma: 0.5, stepSize: 3, unit: .step),
            try StepSchedule(learningRate: 0.1, gamma: 0.2, stepSize: 30),
            try MultiStepSchedule(learningRate: 0.3, gamma: 0.1, milestones: [3, 8, 13]),
            try ExponentialSchedule(learningRate: 0.2, gamma: 0.95),
            try InverseSchedule(learningRate: 0.01, gamma: 1e-4, power: 0.75),
            try CosineSchedule(learningRate: 0.1, minimumLearningRate: 0.001, period: 50),
            try CosineSchedule(learningRate: 0.1, period: 5000, unit: .step),
            try WarmupSchedule(steps: 500, startFactor: 0.1, schedule: try CosineSchedule(learningRate: 0.1, period: 90)),
            try WarmupSchedule(steps: 100, schedule: plateau),
            plateau,
        ]
        var optimizers: [Optimizer] = []
        for (index, schedule) in schedules.enumerated() {
            optimizers.append(Optimizer(rule: try StochasticGradientDescent(momentum: 0.8, nesterov: index % 2 == 0),
                                        layerRates: index % 3 == 0 ? .off : .paper, perTensor: index % 2 == 1, schedule: schedule))
        }
        let constant = try ConstantSchedule(learningRate: 0.003)
        optimizers += [
            Optimizer(rule: try AdaGrad(initialAccumulatorValue: 0.1, epsilon: 1e-9, learningRateDecay: 0.01),
                      weightDecay: try WeightDecay(rate: 1e-4, excluding: ["*.bias"]), schedule: constant),
            Optimizer(rule: try RMSProp(rho: 0.9, epsilon: 1e-7, momentum: 0.5, centered: true), layerRates: .off,
                      clipping: try GradientClipping(value: 2.5), schedule: constant),
            Optimizer(rule: try Adam(beta1: 0.8, beta2: 0.99, epsilon: 1e-7, amsgrad: true),
                      weightDecay: try WeightDecay(rate: 0.01), clipping: try GradientClipping(globalNorm: 5), schedule: constant),
            Optimizer(rule: try Adam(), perTensor: true,
                      weightDecay: try WeightDecay(rate: 0.05, mode: .decoupled, excluding: ["*.bias", "*.gamma"]), schedule: constant),
            Optimizer(rule: try StochasticGradientDescent(momentum: 0.95), layerRates: .off,
                      trustRatio: try .lars(trustCoefficient: 0.02, epsilon: 1e-6, excluding: ["*.bias"]),
                      weightDecay: try WeightDecay(rate: 5e-4, excluding: PathPattern.biasesAndNormalization), schedule: constant),
            Optimizer(rule: try Adam(epsilon: 1e-6), trustRatio: .lamb(excluding: []),
                      weightDecay: try WeightDecay(rate: 0.01, mode: .inUpdate, excluding: ["*.bias"]), schedule: constant),
            // stages around rules that are not their usual base
            Optimizer(rule: try RMSProp(), trustRatio: .lamb(), schedule: constant),
            Optimizer(rule: try Adam(), trustRatio: try .lars(), weightDecay: try WeightDecay(rate: 0.1, mode: .decoupled), schedule: constant),
            Optimizer(rule: try StochasticGradientDescent(), weightDecay: try WeightDecay(rate: 0.1, mode: .decoupled), schedule: constant),
        ]
        return optimizers
    }

    /// `make(config: optimizer.config)` rebuilds the same optimizer: the same config, through JSON
    /// text as checkpoints store it, and the same steps bit for bit.
    func testConfigRoundTripsEveryRuleStageAndSchedule() throws {
        let optimizers = try Self.everyKindOfOptimizer()
        var classNames = Set<String>()
        for optimizer in optimizers {
            let text = optimizer.config.serialized
            let rebuilt = try Optimizer.make(config: try JSONValue.parse(text))
            XCTAssertEqual(rebuilt.config, optimizer.config, text)
            XCTAssertEqual(rebuilt.config.serialized, text)
            classNames.insert(optimizer.className)
            let first = ReferenceTests.referenceGroups(), second = ReferenceTests.referenceGroups()
            for step in 1...4 {
                ReferenceTests.setGradients(first, step: step)
                ReferenceTests.setGradients(second, step: step)
                optimizer.apply(to: first, epoch: step / 2)
                rebuilt.apply(to: second, epoch: step / 2)
            }
            XCTAssertEqual(first.flatMap(\.parameters).map(\.value), second.flatMap(\.parameters).map(\.value), text)
        }
        XCTAssertEqual(classNames, Set(Optimizer.classNames))
        XCTAssertTrue(optimizers.contains { $0.config["config"]?["layer_adaptation"] != nil })
    }

    func testMakeTakesEachClassDefaults() throws {
        let adamW = try Optimizer.make(config: try JSONValue.parse(#"{"class_name": "adamw"}"#))
        XCTAssertEqual(adamW.className, "AdamW")
        XCTAssertEqual(adamW.weightDecay.rate, 0.01)
        XCTAssertEqual(adamW.weightDecay.mode, .decoupled)
        XCTAssertEqual(adamW.nextRate(epoch: 0), 0.001)
        XCTAssertEqual(adamW.layerRates, .paper)

        let lars = try Optimizer.make(config: try JSONValue.parse(#"{"class_name": "LARS", "config": {"weight_decay": 0.0005}}"#))
        XCTAssertEqual(lars.layerRates, .off)
        XCTAssertEqual(lars.trustRatio, try .lars(trustCoefficient: 0.001, epsilon: 1e-8))
        XCTAssertEqual(lars.weightDecay.excluded.map(\.pattern), ["*.bias", "*.gamma", "*.beta"])
        XCTAssertEqual((lars.rule as? StochasticGradientDescent)?.momentum, 0.9)

        let lamb = try Optimizer.make(config: try JSONValue.parse(#"{"class_name": "LAMB", "config": {"exclude_from_weight_decay": ["*.bias"]}}"#))
        XCTAssertEqual(lamb.weightDecay.mode, .inUpdate)
        XCTAssertEqual(lamb.trustRatio?.excluded.map(\.pattern), ["*.bias"], "adaptation exclusions default to the decay exclusions")
        XCTAssertEqual((lamb.rule as? Adam)?.epsilon, 1e-6)

        let rmsprop = try Optimizer.make(config: try JSONValue.parse(#"{"class_name": "RMSprop", "config": {"alpha": 0.9, "learning_rate": 0.5}}"#))
        XCTAssertEqual((rmsprop.rule as? RMSProp)?.rho, 0.9)
        XCTAssertEqual(rmsprop.nextRate(epoch: 0), 0.5)

        // A Keras optimizer config with its bookkeeping keys.
        let keras = try Optimizer.make(config: try JSONValue.parse(#"""
            {"class_name": "SGD", "config": {"name": "SGD", "learning_rate": 0.01, "weight_decay": null, "clipnorm": null,
             "global_clipnorm": null, "clipvalue": null, "use_ema": false, "ema_momentum": 0.99, "ema_overwrite_frequency": null,
             "loss_scale_factor": null, "gradient_accumulation_steps": null, "momentum": 0.9, "nesterov": false}}
            """#))
        XCTAssertEqual((keras.rule as? StochasticGradientDescent)?.momentum, 0.9)
    }

    /// Bad hyperparameters are refused where they are set, naming the option and the value, with a hint.
    func testBadHyperparametersAreNamed() throws {
        XCTAssertThrowsError(try ConstantSchedule(learningRate: -1)) { XCTAssert("\($0)".contains("-1")) }
        XCTAssertThrowsError(try ConstantSchedule(learningRate: .nan)) { XCTAssert("\($0)".contains("nan")) }
        XCTAssertThrowsError(try StochasticGradientDescent(momentum: 1)) { XCTAssert("\($0)".contains("momentum 1")) }
        XCTAssertThrowsError(try StochasticGradientDescent(momentum: 0, nesterov: true)) { XCTAssert("\($0)".contains("Nesterov")) }
        XCTAssertThrowsError(try Optimizer.make(config: .object([("class_name", .string("Shampoo"))]))) {
            XCTAssert("\($0)".contains("Shampoo"))
        }
        let cases: [(config: String, expected: String)] = [
            (#"{"class_name": "SGD", "config": {"learning_rate": -0.1}}"#, "invalid learning rate -0.1: use a finite value above 0"),
            (#"{"class_name": "SGD", "config": {"learning_rate": 0}}"#, "invalid learning rate 0"),
            (#"{"class_name": "SGD", "config": {"momentum": -0.5}}"#, "invalid momentum -0.5: use a value in [0, 1)"),
            (#"{"class_name": "Adam", "config": {"beta_1": 1}}"#, "invalid beta_1 1: use a value in [0, 1)"),
            (#"{"class_name": "Adam", "config": {"beta_2": 1.5}}"#, "invalid beta_2 1.5"),
            (#"{"class_name": "Adam", "config": {"epsilon": 0}}"#, "invalid epsilon 0: use a finite value above 0"),
            (#"{"class_name": "Adagrad", "config": {"epsilon": -1e-10}}"#, "invalid epsilon -1e-10"),
            (#"{"class_name": "Adagrad", "config": {"initial_accumulator_value": -1}}"#, "invalid initial_accumulator_value -1"),
            (#"{"class_name": "Adagrad", "config": {"lr_decay": -0.1}}"#, "invalid lr_decay -0.1"),
            (#"{"class_name": "RMSprop", "config": {"rho": 1}}"#, "invalid rho 1"),
            (#"{"class_name": "RMSprop", "config": {"rho": 0.9, "alpha": 0.9}}"#, "not both"),
            (#"{"class_name": "RMSprop", "config": {"momentum": 1.2}}"#, "invalid momentum 1.2"),
            (#"{"class_name": "SGD", "config": {"weight_decay": -0.01}}"#, "invalid weight_decay -0.01: use a finite value of at least 0"),
            (#"{"class_name": "SGD", "config": {"weight_decay_mode": "sideways"}}"#, "invalid weight_decay_mode 'sideways'"),
            (#"{"class_name": "AdamW", "config": {"weight_decay_mode": "coupled"}}"#, "AdamW's decay is decoupled"),
            (#"{"class_name": "SGD", "config": {"global_clipnorm": 0}}"#, "invalid global_clipnorm 0"),
            (#"{"class_name": "SGD", "config": {"clipvalue": -1}}"#, "invalid clipvalue -1"),
            (#"{"class_name": "SGD", "config": {"clipvalue": 1, "global_clipnorm": 1}}"#, "not both"),
            (#"{"class_name": "SGD", "config": {"clipnorm": 1}}"#, "use global_clipnorm"),
            (#"{"class_name": "LARS", "config": {"trust_coefficient": 0}}"#, "invalid trust_coefficient 0"),
            (#"{"class_name": "LARS", "config": {"epsilon": -1}}"#, "invalid epsilon -1"),
            (#"{"class_name": "SGD", "config": {"layer_rates": "fast"}}"#, "invalid layer_rates 'fast': use one of off, paper"),
            (#"{"class_name": "SGD", "config": {"momentum": "high"}}"#, "\"momentum\" must be a number"),
            (#"{"class_name": "SGD", "config": {"learning_rte": 0.1}}"#, "unknown option \"learning_rte\""),
            (#"{"class_name": "SGD", "config": {"exclude_from_weight_decay": "*.bias"}}"#, "array of path patterns"),
            (#"{"class_name": "SGD", "config": {"layer_adaptation": {"class_name": "Shampoo"}}}"#, "invalid layer_adaptation"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "Triangle"}}}"#, "invalid learning_rate"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "Step", "config": {"learning_rate": 0.1}}}}"#, "needs \"step_size\""),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "Step", "config": {"step_size": 0}}}}"#, "invalid step_size 0"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "Step", "config": {"step_size": 2, "gamma": -1}}}}"#, "invalid gamma -1"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "Step", "config": {"step_size": 2.5}}}}"#, "must be a whole number"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "Step", "config": {"step_size": 2, "unit": "hour"}}}}"#, "invalid unit 'hour'"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "MultiStep", "config": {"milestones": [5, 3]}}}}"#, "invalid milestones [5, 3]"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "Cosine", "config": {"learning_rate": 0.1, "minimum_learning_rate": 0.2, "period": 5}}}}"#, "invalid minimum_learning_rate 0.2"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "Inverse", "config": {"gamma": 0.1, "power": -1}}}}"#, "invalid power -1"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "Warmup", "config": {"steps": 0, "schedule": 0.1}}}}"#, "invalid warmup steps 0"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "Warmup", "config": {"steps": 5, "start_factor": 2, "schedule": 0.1}}}}"#, "invalid start_factor 2: use a value in [0, 1]"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "Warmup", "config": {"steps": 5}}}}"#, "needs \"schedule\""),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "ReduceOnPlateau", "config": {"factor": 1}}}}"#, "invalid factor 1: use a value in (0, 1)"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "ReduceOnPlateau", "config": {"patience": -1}}}}"#, "invalid patience -1"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "ReduceOnPlateau", "config": {"cooldown": -2}}}}"#, "invalid cooldown -2"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "ReduceOnPlateau", "config": {"mode": "lowest"}}}}"#, "invalid mode 'lowest'"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "ReduceOnPlateau", "config": {"threshold": -0.1}}}}"#, "invalid threshold -0.1"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "ReduceOnPlateau", "config": {"minimum_learning_rate": -1}}}}"#, "invalid minimum_learning_rate -1"),
            (#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "ReduceOnPlateau", "config": {"monitor": ""}}}}"#, "invalid monitor"),
        ]
        for (config, expected) in cases {
            XCTAssertThrowsError(try Optimizer.make(config: try JSONValue.parse(config)), config) { error in
                XCTAssert(error is OptimizerError, config)
                XCTAssert("\(error)".contains(expected), "\(config): got \(error), expected \(expected)")
            }
        }
        XCTAssertThrowsError(try Adam(beta1: 1.2)) { error in
            XCTAssertEqual((error as? OptimizerError)?.option, "beta_1")
            XCTAssertEqual((error as? OptimizerError)?.hint, "use a value in [0, 1), e.g. 0.9")
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

    // MARK: - State

    /// Adam with AMSGrad under warm-up and reduce-on-plateau, interrupted mid-epoch after the rate was
    /// reduced once, then rebuilt from its saved config, slots, step and scalar state (through JSON
    /// text, as the checkpoint stores them): the next steps, the next reduction and the state are
    /// bit for bit those of the uninterrupted run.
    func testResumeWithAMSGradAndReduceOnPlateauIsBitIdentical() throws {
        let config = #"""
            {"class_name": "Adam", "config": {"amsgrad": true, "beta_2": 0.9, "learning_rate": {"class_name": "Warmup",
             "config": {"steps": 4, "start_factor": 0.1, "schedule": {"class_name": "ReduceOnPlateau",
             "config": {"learning_rate": 0.01, "patience": 1, "factor": 0.5, "cooldown": 1}}}}}}
            """#
        let losses = [1.0, 1.05, 1.1, 0.97, 0.99, 1.0, 0.9, 0.95, 0.96, 0.97]
        func run(_ optimizer: Optimizer, _ groups: [(layerName: String, parameters: [Parameter])], steps: Range<Int>) throws {
            for step in steps {
                ReferenceTests.setGradients(groups, step: step % 10 + 1)
                optimizer.apply(to: groups, epoch: step / 3)
                if (step + 1) % 3 == 0 { try optimizer.onEpochEnd(metrics: [("loss", 1), ("val_loss", losses[step / 3])]) }
            }
        }
        let uninterrupted = try Optimizer.make(config: try JSONValue.parse(config))
        let first = ReferenceTests.referenceGroups()
        try run(uninterrupted, first, steps: 0..<11)  // mid-epoch 3; the rate was halved after epoch 2
        XCTAssertEqual(uninterrupted.nextRate(epoch: 3), 0.005)
        let saved = (config: uninterrupted.config.serialized, step: uninterrupted.step, slots: uninterrupted.slots,
                     multipliers: uninterrupted.multipliers, scalar: uninterrupted.scalarState.serialized)
        XCTAssertEqual(saved.slots["dense.kernel"]?.count, 3)

        let resumed = try Optimizer.make(config: try JSONValue.parse(saved.config))
        let second = ReferenceTests.referenceGroups()
        for (copy, original) in zip(second.flatMap(\.parameters), first.flatMap(\.parameters)) { copy.value = original.value }
        try resumed.restore(step: saved.step, slots: saved.slots, multipliers: saved.multipliers,
                            scalarState: try JSONValue.parse(saved.scalar), parameters: second.flatMap(\.parameters))
        XCTAssertEqual(resumed.scalarState, uninterrupted.scalarState)
        try run(uninterrupted, first, steps: 11..<30)
        try run(resumed, second, steps: 11..<30)
        XCTAssertLessThan(uninterrupted.lastRate, 0.005, "a second reduction happened after the interruption")
        for (copy, original) in zip(second.flatMap(\.parameters), first.flatMap(\.parameters)) {
            XCTAssertEqual(copy.value.storage, original.value.storage, original.path)
        }
        XCTAssertEqual(resumed.slots, uninterrupted.slots)
        XCTAssertEqual(resumed.scalarState, uninterrupted.scalarState)
        XCTAssertEqual(resumed.lastRate, uninterrupted.lastRate)
    }

    /// A parameter that starts training later (no gradient for the first steps) keeps its own step,
    /// and so its own bias correction, across a resume.
    func testLateJoiningParameterKeepsItsOwnStepAcrossResume() throws {
        func run(_ optimizer: Optimizer, _ groups: [(layerName: String, parameters: [Parameter])], steps: ClosedRange<Int>) {
            for step in steps {
                ReferenceTests.setGradients(groups, step: step)
                if step <= 3 { groups[1].parameters[0].gradient = Tensor(shape: [0]) }
                optimizer.apply(to: groups, epoch: 0)
            }
        }
        let uninterrupted = try Optimizer.make(config: try JSONValue.parse(#"{"class_name": "Adam", "config": {"learning_rate": 0.01}}"#))
        let first = ReferenceTests.referenceGroups()
        run(uninterrupted, first, steps: 1...5)
        XCTAssertEqual(uninterrupted.scalarState["parameter_steps"]?["dense_1.kernel"], .number(2))
        let resumed = try Optimizer.make(config: uninterrupted.config)
        let second = ReferenceTests.referenceGroups()
        for (copy, original) in zip(second.flatMap(\.parameters), first.flatMap(\.parameters)) { copy.value = original.value }
        try resumed.restore(step: uninterrupted.step, slots: uninterrupted.slots, multipliers: uninterrupted.multipliers,
                            scalarState: uninterrupted.scalarState, parameters: second.flatMap(\.parameters))
        run(uninterrupted, first, steps: 6...10)
        run(resumed, second, steps: 6...10)
        XCTAssertEqual(second[1].parameters[0].value.storage, first[1].parameters[0].value.storage)
    }

    /// Without the scalar state the plateau schedule would restart: the test above depends on it.
    func testScalarStateCarriesThePlateauAndParameterSteps() throws {
        var plateau = try ReduceOnPlateau(learningRate: 0.1, factor: 0.5, patience: 0)
        try plateau.onEpochEnd(metrics: [("val_loss", 1)])
        try plateau.onEpochEnd(metrics: [("val_loss", 2)])
        XCTAssertEqual(plateau.currentRate, 0.05)
        let optimizer = Optimizer(rule: try Adam(), schedule: plateau)
        let groups = ReferenceTests.referenceGroups()
        ReferenceTests.setGradients(groups, step: 1)
        optimizer.apply(to: groups, epoch: 0)
        XCTAssertEqual(optimizer.scalarState.serialized, #"""
            {"version": 1, "schedule": {"rate": 0.05, "best": 1, "bad_epochs": 0, "cooldown_counter": 0}, "parameter_steps": {"dense.bias": 1, "dense.kernel": 1, "dense_1.kernel": 1}}
            """#)
        let fresh = try Optimizer.make(config: optimizer.config)
        XCTAssertEqual(fresh.nextRate(epoch: 0), 0.1)
        try fresh.restore(step: 1, slots: optimizer.slots, multipliers: [], scalarState: optimizer.scalarState,
                          parameters: groups.flatMap(\.parameters))
        XCTAssertEqual(fresh.nextRate(epoch: 0), 0.05)
    }

    func testDamagedScalarStateIsRefusedAndChangesNothing() throws {
        let optimizer = Optimizer(rule: try Adam(), schedule: try ReduceOnPlateau(learningRate: 0.1))
        let groups = ReferenceTests.referenceGroups()
        ReferenceTests.setGradients(groups, step: 1)
        optimizer.apply(to: groups, epoch: 0)
        let good = optimizer.scalarState
        let damaged: [(String, String)] = [
            (#"{"version": 2}"#, "version"),
            (#"[1, 2]"#, "expected a JSON object"),
            (#"{"version": 1, "schedule": {"rate": -1, "best": null, "bad_epochs": 0, "cooldown_counter": 0}}"#, "rate"),
            (#"{"version": 1, "schedule": {"rate": 0.1, "best": null, "bad_epochs": 0.5, "cooldown_counter": 0}}"#, "bad_epochs"),
            (#"{"version": 1, "schedule": {"rate": 0.1, "best": null, "bad_epochs": 0, "cooldown_counter": 0}, "parameter_steps": {"dense.kernel": 7}}"#, "dense.kernel"),
            (#"{"version": 1, "schedule": {"rate": 0.1, "best": null, "bad_epochs": 0, "cooldown_counter": 0}, "parameter_steps": {"other.kernel": 1}}"#, "other.kernel"),
        ]
        for (text, expected) in damaged {
            XCTAssertThrowsError(try optimizer.restore(scalarState: try JSONValue.parse(text)), text) { error in
                XCTAssert("\(error)".contains(expected), "\(text): \(error)")
            }
            XCTAssertEqual(optimizer.scalarState, good)
        }
        let constant = Optimizer(rule: try Adam(), schedule: try ConstantSchedule(learningRate: 0.1))
        XCTAssertThrowsError(try constant.restore(scalarState: try JSONValue.parse(#"{"version": 1, "schedule": {"rate": 1}}"#))) {
            XCTAssert("\($0)".contains("keeps no state"))
        }
    }

    /// The trainer's hook: a monitored metric missing from the epoch's metrics is an error naming both.
    func testReduceOnPlateauNeedsItsMetric() throws {
        let optimizer = Optimizer(rule: try StochasticGradientDescent(),
                                  schedule: try ReduceOnPlateau(learningRate: 0.1, monitor: "val_accuracy", mode: .max))
        XCTAssertThrowsError(try optimizer.onEpochEnd(metrics: [("loss", 1), ("val_loss", 1)])) { error in
            XCTAssert("\(error)".contains("val_accuracy") && "\(error)".contains("val_loss"), "\(error)")
        }
        let constant = Optimizer(rule: try StochasticGradientDescent(), schedule: try ConstantSchedule(learningRate: 0.1))
        XCTAssertNoThrow(try constant.onEpochEnd(metrics: []))
    }
}
