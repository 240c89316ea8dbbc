/// What one step did to one rate group: a layer (kernel and bias together), or a single
/// parameter tensor when the groups are tensors (``Optimizer/perTensor``, or a trust-ratio stage,
/// whose ratios are per tensor).
public struct LayerTelemetry: Sendable, Equatable {
    /// The layer's name (`dense`).
    public var layerName: String
    /// The tensor's path (`dense.kernel`) when the record covers one tensor; nil for a whole layer.
    public var parameterPath: String?
    /// ‖g‖₂ of the raw gradient, as backprop produced it (before clipping and decay).
    public var gradientNorm: Double
    /// ‖θ‖₂ before the step.
    public var weightNorm: Double
    /// ‖Δθ‖₂ of the step actually applied (decay included).
    public var updateNorm: Double
    /// The paper's multiplier `m_l` of the group (1 with layer rates off).
    public var multiplier: Double
    /// The trust ratio of a LARS or LAMB stage (1 without one, or for an excluded tensor).
    public var trustRatio: Double

    public init(layerName: String, parameterPath: String?, gradientNorm: Double, weightNorm: Double,
                updateNorm: Double, multiplier: Double, trustRatio: Double) {
        self.layerName = layerName
        self.parameterPath = parameterPath
        self.gradientNorm = gradientNorm
        self.weightNorm = weightNorm
        self.updateNorm = updateNorm
        self.multiplier = multiplier
        self.trustRatio = trustRatio
    }

    /// The record's name in logs: the parameter path, or the layer name.
    public var name: String { parameterPath ?? layerName }
    /// The factor on the global rate: `multiplier · trustRatio`.
    public var effectiveMultiplier: Double { multiplier * trustRatio }
}
