import Foundation

/// The paper's layer-wise rate rule, a stage that wraps any ``UpdateRule``: how the global
/// rate is scaled per layer (or per parameter tensor) at each step.
///
/// With `.paper`, layer `l` takes the step `θ ← θ − t·m_l·d` of its rule, where `t` is
/// the scheduled rate, `d` the rule's direction and
///
///     m_l = 1 + log(1 + 1/‖g_l‖₂)
///
/// with `g_l` the layer's *raw* mini-batch gradient, as backprop produced it: before
/// gradient clipping, before coupled weight decay and before any trust ratio; kernel
/// and bias together by default, one tensor at a time with the optimizer's `perTensor`.
/// Where it enters each rule is spelled out in ``Optimizer``.
public enum LayerRates: String, Sendable, CaseIterable {
    /// Every layer takes the global rate (`m_l = 1`).
    case off
    /// Singh, De, Zhang, Goldstein, Taylor (2015), "Layer-Specific Adaptive Learning
    /// Rates for Deep Networks": layer l steps with `rate · (1 + log(1 + 1/‖g_l‖₂))`,
    /// where ‖g_l‖₂ is the L2 norm of all of the layer's parameter gradients together
    /// (kernel and bias) for the current mini-batch.
    case paper

    /// The smallest gradient norm used in the paper's formula: below it the norm is
    /// clamped, which caps the multiplier at `1 + log(1 + 1e12) ≈ 28.6`.
    public static let minimumNorm = 1e-12

    /// The multiplier of a layer whose gradients have L2 norm `gradientNorm`.
    ///
    /// Guard: a norm that is exactly zero (the layer received no gradient) or not
    /// finite (NaN or infinity from a diverging step) gives 1, the plain global rate,
    /// so the multiplier itself is always finite and at least 1.
    public func multiplier(gradientNorm: Double) -> Double {
        switch self {
        case .off:
            return 1
        case .paper:
            guard gradientNorm.isFinite, gradientNorm > 0 else { return 1 }
            return 1 + log(1 + 1 / max(gradientNorm, LayerRates.minimumNorm))
        }
    }
}
