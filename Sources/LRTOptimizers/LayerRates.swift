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

/// The paper's rule as a stage of the chain: at the start of each step, one multiplier per layer
/// from the layer's raw gradient norm (kernel and bias together), or with `perTensor` one per
/// tensor; each parameter's step is then scaled by its multiplier (``ParameterUpdate/multiplier``).
public final class LayerRatesStage: OptimizerStage {
    public let layerRates: LayerRates
    /// One multiplier per parameter tensor instead of per layer.
    public let perTensor: Bool
    /// The multipliers of the last step, in order: one per layer named by the layer, or with
    /// ``perTensor`` one per tensor named by its path.
    public private(set) var multipliers: [(layerName: String, multiplier: Double)] = []
    private var byPath: [String: Double] = [:]

    public init(_ layerRates: LayerRates, perTensor: Bool) {
        self.layerRates = layerRates
        self.perTensor = perTensor
    }

    public var actsPerTensor: Bool { perTensor }

    public func beginStep(_ step: StepGradients) {
        multipliers.removeAll(keepingCapacity: true)
        byPath.removeAll(keepingCapacity: true)
        for (layerName, tensors) in step.groups {
            var layerSquares = 0.0
            for tensor in tensors { layerSquares += tensor.squares }
            let layerMultiplier = layerRates.multiplier(gradientNorm: layerSquares.squareRoot())
            if !perTensor { multipliers.append((layerName, layerMultiplier)) }
            for tensor in tensors {
                let multiplier = perTensor ? layerRates.multiplier(gradientNorm: tensor.squares.squareRoot()) : layerMultiplier
                if perTensor { multipliers.append((tensor.path, multiplier)) }
                byPath[tensor.path] = multiplier
            }
        }
    }

    public func beforeRule(_ update: inout ParameterUpdate) {
        update.multiplier = byPath[update.path] ?? 1
    }

    /// Puts back the multipliers a checkpoint saved (reported until the next step).
    func restore(multipliers: [(layerName: String, multiplier: Double)]) {
        self.multipliers = multipliers
    }
}
