import Foundation
import LRTLayers

/// AdaGrad in PyTorch's formulation (`torch.optim.Adagrad`), without the rate:
///
///     s ← s + g²                          (s₀ = initial_accumulator_value)
///     d = g / (√s + ε) / (1 + (k − 1)·lr_decay)
///     θ ← θ − t·m_l·d
///
/// with `k` the 1-based step. Duchi, Hazan, Singer 2011, "Adaptive Subgradient Methods for
/// Online Learning and Stochastic Optimization".
public struct AdaGrad: UpdateRule {
    public let initialAccumulatorValue: Double
    public let epsilon: Double
    /// PyTorch's `lr_decay`: the step is divided by `1 + (k − 1)·learningRateDecay`.
    public let learningRateDecay: Double

    /// - Parameters:
    ///   - initialAccumulatorValue: the accumulator's starting value, ≥ 0 (default 0).
    ///   - epsilon: ε > 0 added to the root (default 1e-10).
    ///   - learningRateDecay: PyTorch's `lr_decay`, ≥ 0 (default 0).
    public init(initialAccumulatorValue: Double = 0, epsilon: Double = 1e-10, learningRateDecay: Double = 0) throws {
        try Check.nonNegative(initialAccumulatorValue, .initialAccumulatorValue, example: "0.1")
        try Check.positive(epsilon, .epsilon, example: "1e-10")
        try Check.nonNegative(learningRateDecay, .learningRateDecay, example: "0")
        self.initialAccumulatorValue = initialAccumulatorValue
        self.epsilon = epsilon
        self.learningRateDecay = learningRateDecay
    }

    public var name: String { "adagrad" }
    public var slotNames: [String] { ["accumulator"] }
    public func initialSlotValue(_ index: Int) -> Float { Float(initialAccumulatorValue) }
    public var config: JSONValue {
        .object([("class_name", .string("Adagrad")), ("config", .object([
            ("initial_accumulator_value", .number(initialAccumulatorValue)), ("epsilon", .number(epsilon)),
            ("lr_decay", .number(learningRateDecay)),
        ]))])
    }

    public func direction(gradient: UnsafeBufferPointer<Float>, parameter: UnsafeBufferPointer<Float>,
                          slots: SlotBuffers, step: Int, into direction: UnsafeMutableBufferPointer<Float>) {
        let decay = Lanes.Vector(repeating: Float(1 / (1 + Double(step - 1) * learningRateDecay)))
        let epsilon = Lanes.Vector(repeating: Float(self.epsilon))
        let sum = slots[0]
        Lanes.forEach(gradient.count) { index, count in
            let value = Lanes.load(gradient, index, count)
            let accumulated = Lanes.load(sum, index, count) + value * value
            Lanes.store(accumulated, sum, index, count)
            Lanes.store(decay * (value / (accumulated.squareRoot() + epsilon)), direction, index, count)
        }
    }
}

/// RMSProp in PyTorch's formulation (`torch.optim.RMSprop`), without the rate:
///
///     v ← ρ·v + (1 − ρ)·g²
///     ḡ ← ρ·ḡ + (1 − ρ)·g,  v′ = v − ḡ²        (centered; else v′ = v)
///     b ← μ·b + g / (√v′ + ε),  d = b           (μ > 0; else d = g / (√v′ + ε))
///     θ ← θ − t·m_l·d
///
/// ε is added after the root, as PyTorch does (TensorFlow adds it inside). In the centered
/// form `v − ḡ²` is clamped at 0 against rounding. Hinton, Srivastava, Swersky 2012,
/// "Neural Networks for Machine Learning", lecture 6e; Graves 2013, "Generating Sequences
/// With Recurrent Neural Networks" (centered).
public struct RMSProp: UpdateRule {
    /// ρ (PyTorch's `alpha`, Keras's `rho`) in [0, 1).
    public let rho: Double
    public let epsilon: Double
    public let momentum: Double
    public let centered: Bool

    /// - Parameters:
    ///   - rho: the smoothing constant ρ in [0, 1) (default 0.99, PyTorch's `alpha`).
    ///   - epsilon: ε > 0 (default 1e-8).
    ///   - momentum: μ in [0, 1) (default 0).
    ///   - centered: normalize by the estimated variance instead of the second moment (default false).
    public init(rho: Double = 0.99, epsilon: Double = 1e-8, momentum: Double = 0, centered: Bool = false) throws {
        try Check.unitInterval(rho, .rho, example: "0.99")
        try Check.positive(epsilon, .epsilon, example: "1e-8")
        try Check.unitInterval(momentum, .momentum, example: "0.9")
        self.rho = rho
        self.epsilon = epsilon
        self.momentum = momentum
        self.centered = centered
    }

    public var name: String { "rmsprop" }
    public var slotNames: [String] {
        ["square_average"] + (momentum > 0 ? ["momentum"] : []) + (centered ? ["gradient_average"] : [])
    }
    public var config: JSONValue {
        .object([("class_name", .string("RMSprop")), ("config", .object([
            ("rho", .number(rho)), ("epsilon", .number(epsilon)), ("momentum", .number(momentum)),
            ("centered", .bool(centered)),
        ]))])
    }

    public func direction(gradient: UnsafeBufferPointer<Float>, parameter: UnsafeBufferPointer<Float>,
                          slots: SlotBuffers, step: Int, into direction: UnsafeMutableBufferPointer<Float>) {
        let rho = Lanes.Vector(repeating: Float(self.rho))
        let oneMinusRho = Lanes.Vector(repeating: Float(1 - self.rho))
        let epsilon = Lanes.Vector(repeating: Float(self.epsilon))
        let momentum = Lanes.Vector(repeating: Float(self.momentum))
        let usesMomentum = self.momentum > 0, centered = self.centered
        let squareAverage = slots[0]
        let buffer = usesMomentum ? slots[1] : squareAverage
        let gradientAverage = centered ? slots[slots.count - 1] : squareAverage
        Lanes.forEach(gradient.count) { index, count in
            let value = Lanes.load(gradient, index, count)
            let second = rho * Lanes.load(squareAverage, index, count) + oneMinusRho * value * value
            Lanes.store(second, squareAverage, index, count)
            var variance = second
            if centered {
                let first = rho * Lanes.load(gradientAverage, index, count) + oneMinusRho * value
                Lanes.store(first, gradientAverage, index, count)
                let difference = second - first * first
                variance = difference.replacing(with: 0, where: difference .< 0)
            }
            let scaled = value / (variance.squareRoot() + epsilon)
            if usesMomentum {
                let updated = momentum * Lanes.load(buffer, index, count) + scaled
                Lanes.store(updated, buffer, index, count)
                Lanes.store(updated, direction, index, count)
            } else {
                Lanes.store(scaled, direction, index, count)
            }
        }
    }
}

/// Adam with bias correction and optional AMSGrad, in PyTorch's formulation
/// (`torch.optim.Adam` / `AdamW`), without the rate:
///
///     m ← β₁·m + (1 − β₁)·g
///     v ← β₂·v + (1 − β₂)·g²
///     v_max ← max(v_max, v)                               (AMSGrad; the stored v, before bias correction)
///     d = (m / (1 − β₁ᵏ)) / (√v′ / √(1 − β₂ᵏ) + ε)          (v′ = v_max with AMSGrad, else v)
///     θ ← θ − t·m_l·d
///
/// with `k` the parameter's 1-based step. For AMSGrad the maximum is taken over the raw
/// second moment and bias-corrected afterwards, as PyTorch's code does (pytorch/pytorch#142323).
/// Kingma, Ba 2015, "Adam: A Method for Stochastic Optimization"; Reddi, Kale, Kumar 2018,
/// "On the Convergence of Adam and Beyond" (AMSGrad). AdamW is this rule with
/// ``WeightDecay/Mode-swift.enum/decoupled`` weight decay.
public struct Adam: UpdateRule {
    public let beta1: Double
    public let beta2: Double
    public let epsilon: Double
    public let amsgrad: Bool

    /// - Parameters:
    ///   - beta1: β₁ in [0, 1) (default 0.9).
    ///   - beta2: β₂ in [0, 1) (default 0.999).
    ///   - epsilon: ε > 0 (default 1e-8).
    ///   - amsgrad: keep the running maximum of the second moment (default false).
    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, amsgrad: Bool = false) throws {
        try Check.unitInterval(beta1, .beta1, example: "0.9")
        try Check.unitInterval(beta2, .beta2, example: "0.999")
        try Check.positive(epsilon, .epsilon, example: "1e-8")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
    }

    public var name: String { "adam" }
    public var slotNames: [String] {
        ["first_moment", "second_moment"] + (amsgrad ? ["max_second_moment"] : [])
    }
    public var config: JSONValue {
        .object([("class_name", .string("Adam")), ("config", .object([
            ("beta_1", .number(beta1)), ("beta_2", .number(beta2)), ("epsilon", .number(epsilon)),
            ("amsgrad", .bool(amsgrad)),
        ]))])
    }

    public func direction(gradient: UnsafeBufferPointer<Float>, parameter: UnsafeBufferPointer<Float>,
                          slots: SlotBuffers, step: Int, into direction: UnsafeMutableBufferPointer<Float>) {
        let beta1 = Lanes.Vector(repeating: Float(self.beta1)), oneMinusBeta1 = Lanes.Vector(repeating: Float(1 - self.beta1))
        let beta2 = Lanes.Vector(repeating: Float(self.beta2)), oneMinusBeta2 = Lanes.Vector(repeating: Float(1 - self.beta2))
        let firstCorrection = Lanes.Vector(repeating: Float(1 / (1 - pow(self.beta1, Double(step)))))
        let secondCorrectionRoot = Lanes.Vector(repeating: Float(1 / (1 - pow(self.beta2, Double(step))).squareRoot()))
        let epsilon = Lanes.Vector(repeating: Float(self.epsilon))
        let first = slots[0], second = slots[1]
        let amsgrad = self.amsgrad
        let maximum = amsgrad ? slots[2] : second
        Lanes.forEach(gradient.count) { index, count in
            let value = Lanes.load(gradient, index, count)
            let mean = beta1 * Lanes.load(first, index, count) + oneMinusBeta1 * value
            Lanes.store(mean, first, index, count)
            var square = beta2 * Lanes.load(second, index, count) + oneMinusBeta2 * value * value
            Lanes.store(square, second, index, count)
            if amsgrad {
                square = pointwiseMax(Lanes.load(maximum, index, count), square)
                Lanes.store(square, maximum, index, count)
            }
            Lanes.store((mean * firstCorrection) / (square.squareRoot() * secondCorrectionRoot + epsilon), direction, index, count)
        }
    }
}
