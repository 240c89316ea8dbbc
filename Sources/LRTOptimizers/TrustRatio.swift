/// A layer-wise trust-ratio stage (LARS, LAMB) that wraps any ``UpdateRule``, applied to each
/// parameter tensor whose path matches none of ``excluded`` (excluded tensors take ratio 1).
/// Norms are per tensor, as in the reference implementations; a ratio is 1 whenever one of
/// its norms is 0.
public struct TrustRatio: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// You, Gitman, Ginsburg 2017, "Large Batch Training of Convolutional Networks" (LARS):
        /// before the rule, the gradient the rule sees (`g + λ·θ` with coupled decay) is
        /// multiplied by the local rate
        ///
        ///     r = η·‖θ‖ / (‖g‖ + λ·‖θ‖ + ε)
        ///
        /// with `g` the clipped gradient before decay and λ the coupled weight decay of the
        /// tensor (0 when it is excluded or the mode is not coupled). The rule's momentum
        /// then accumulates `r·(g + λθ)` and the optimizer steps `θ ← θ − t·m_l·d`: the global
        /// rate outside the momentum, as NVIDIA apex LARC and torchlars do (the paper's
        /// Algorithm 1 puts `t` inside; both agree while `t` is constant).
        case lars(trustCoefficient: Double, epsilon: Double)
        /// You et al. 2019, "Large Batch Optimization for Deep Learning: Training BERT in 76
        /// minutes" (LAMB, Algorithm 2 with φ the identity): after the rule (Adam),
        /// `u = d + λ·θ` (``WeightDecay/Mode-swift.enum/inUpdate``) and
        ///
        ///     θ ← θ − t·m_l·(‖θ‖ / ‖u‖)·u
        case lamb
    }

    public let kind: Kind
    /// Tensors whose path matches one of these keep ratio 1.
    public let excluded: [PathPattern]

    /// LARS's local rate before the rule.
    /// - Parameters:
    ///   - trustCoefficient: η > 0 (default 0.001).
    ///   - epsilon: ε > 0 in the denominator (default 1e-8).
    ///   - excluding: paths not adapted (default biases and BatchNormalization's gamma and beta).
    public static func lars(trustCoefficient: Double = 0.001, epsilon: Double = 1e-8,
                            excluding: [String] = PathPattern.biasesAndNormalization) throws -> TrustRatio {
        try Check.positive(trustCoefficient, .trustCoefficient, example: "0.001")
        try Check.positive(epsilon, .epsilon, example: "1e-8")
        return TrustRatio(kind: .lars(trustCoefficient: trustCoefficient, epsilon: epsilon), excluded: excluding.map(PathPattern.init))
    }

    /// LAMB's ratio after the rule.
    /// - Parameter excluding: paths not adapted (default biases and BatchNormalization's gamma and beta).
    public static func lamb(excluding: [String] = PathPattern.biasesAndNormalization) -> TrustRatio {
        TrustRatio(kind: .lamb, excluded: excluding.map(PathPattern.init))
    }

    /// Whether the tensor at `path` is adapted.
    public func adapts(_ path: String) -> Bool { !PathPattern.any(excluded, match: path) }

    /// `numerator / denominator`, or 1 when either norm is 0 or not finite.
    static func ratio(_ numerator: Double, _ denominator: Double, weightNorm: Double, otherNorm: Double) -> Double {
        guard weightNorm > 0, otherNorm > 0, weightNorm.isFinite, otherNorm.isFinite, denominator > 0 else { return 1 }
        return numerator / denominator
    }
}

/// A trust ratio as a stage of the chain: LARS scales the decayed gradient before the rule
/// (``ParameterUpdate/gradientFactor``), LAMB the step after it (``ParameterUpdate/stepFactor``).
/// Runs after the weight-decay stage, whose coupled λ enters LARS's denominator and whose
/// in-update λθ is part of LAMB's `u`. Whether each path is adapted is settled once.
public final class TrustRatioStage: OptimizerStage {
    public let trustRatio: TrustRatio
    private var adapted: [String: Bool] = [:]

    public init(_ trustRatio: TrustRatio) { self.trustRatio = trustRatio }

    public var actsPerTensor: Bool { true }

    private func adapts(_ path: String) -> Bool {
        if let adapts = adapted[path] { return adapts }
        let adapts = trustRatio.adapts(path)
        adapted[path] = adapts
        return adapts
    }

    public func beforeRule(_ update: inout ParameterUpdate) {
        guard case .lars(let coefficient, let epsilon) = trustRatio.kind, adapts(update.path) else { return }
        let weightNorm = Kernels.sumOfSquares(update.value).squareRoot()
        let gradientNorm = Kernels.sumOfSquares(update.gradient).squareRoot()
        let decay = Float(update.gradientDecay) == 0 ? 0 : update.gradientDecay
        let ratio = TrustRatio.ratio(coefficient * weightNorm, gradientNorm + decay * weightNorm + epsilon,
                                     weightNorm: weightNorm, otherNorm: gradientNorm)
        update.trustRatio = ratio
        update.gradientFactor = Float(ratio)
    }

    public func afterRule(_ update: inout ParameterUpdate) {
        guard case .lamb = trustRatio.kind, adapts(update.path) else { return }
        let weightNorm = Kernels.sumOfSquares(update.value).squareRoot()
        let updateNorm = Kernels.sumOfSquares(UnsafeBufferPointer(update.direction)).squareRoot()
        let ratio = TrustRatio.ratio(weightNorm, updateNorm, weightNorm: weightNorm, otherNorm: updateNorm)
        update.trustRatio = ratio
        update.stepFactor = ratio
    }
}
