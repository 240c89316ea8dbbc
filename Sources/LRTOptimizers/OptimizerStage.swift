/// One stage of the optimizer chain (optax's `chain(clip, add_decayed_weights, scale_by_trust_ratio, …)`):
/// a small type that sees every step and rewrites one parameter's update before and after the rule.
///
/// The ``Optimizer`` runs, at each step:
///
/// 1. ``beginStep(_:)`` of every stage, in chain order, with the raw gradient norms of all trained
///    parameters (global clipping, the paper's layer rates);
/// 2. per trained parameter: ``beforeRule(_:)`` of every stage in order, which build the gradient
///    the rule sees; the rule (``UpdateRule``), which turns it into a direction `d` and advances
///    its slots; ``afterRule(_:)`` of every stage in order, which rewrite `d` and the step's factors;
/// 3. the step `θ ← keep·θ − t·m·s·d` (see ``ParameterUpdate``).
///
/// A stage keeps whatever it needs between steps itself, keyed by parameter path. A new stage
/// (gradient noise, lookahead, weight averaging) is one type in one file, added to the chain.
public protocol OptimizerStage: AnyObject {
    /// Called once per step before any parameter is updated.
    func beginStep(_ step: StepGradients)
    /// Rewrites the gradient the rule will see (``ParameterUpdate/gradient``,
    /// ``ParameterUpdate/gradientDecay``, ``ParameterUpdate/gradientFactor``) or the rate factors.
    func beforeRule(_ update: inout ParameterUpdate)
    /// Rewrites the rule's direction (``ParameterUpdate/direction``) or the step's factors.
    func afterRule(_ update: inout ParameterUpdate)
    /// Whether the stage's effect differs per tensor, so telemetry records each tensor, not each layer.
    var actsPerTensor: Bool { get }
}

extension OptimizerStage {
    public func beginStep(_ step: StepGradients) {}
    public func beforeRule(_ update: inout ParameterUpdate) {}
    public func afterRule(_ update: inout ParameterUpdate) {}
    public var actsPerTensor: Bool { false }
}

/// The raw gradients of one step, as backprop produced them: every trained parameter's
/// `‖g‖²`, grouped by layer in the model's order.
public struct StepGradients {
    /// One trained parameter's raw gradient.
    public struct TrainedParameter {
        /// The parameter's path (`dense.kernel`).
        public var path: String
        /// `‖g‖²` of its raw gradient.
        public var squares: Double
    }

    /// The layers with at least one trained parameter, in model order.
    public var groups: [(layerName: String, tensors: [TrainedParameter])]
    /// The scheduled global rate `t` of this step.
    public var rate: Double
}

/// One parameter's update during a step, handed from stage to stage.
///
/// Before the rule, the gradient the rule sees is `(gradient + gradientDecay·θ)·gradientFactor`,
/// formed in one pass right before the rule (so a LARS ratio scales the decayed gradient as its
/// paper writes it). After the rule the step is
///
///     θ ← keep·θ − Float(rate·multiplier·stepFactor)·direction
public struct ParameterUpdate {
    /// The parameter's path (`dense.kernel`).
    public let path: String
    /// The layer it belongs to (`dense`).
    public let layerName: String
    /// `‖g‖²` of the raw gradient.
    public let rawSquares: Double
    /// θ before the step.
    public let value: UnsafeBufferPointer<Float>
    /// The gradient so far: the raw one, or ``work`` once a stage rewrote it.
    public var gradient: UnsafeBufferPointer<Float>
    /// Scratch of the parameter's length a stage may write the rewritten gradient into.
    public let work: UnsafeMutableBufferPointer<Float>
    /// λ of coupled decay, added as `gradient + λ·θ` before the rule (0: none).
    public var gradientDecay: Double = 0
    /// A factor on the decayed gradient (LARS's local rate; 1: none).
    public var gradientFactor: Float = 1
    /// The rule's direction `d`; stages after the rule may rewrite it.
    public let direction: UnsafeMutableBufferPointer<Float>
    /// The scheduled global rate `t`.
    public let rate: Double
    /// The paper's multiplier `m_l` (1 unless a ``LayerRatesStage`` sets it).
    public var multiplier: Double = 1
    /// An extra factor on the step (LAMB's trust ratio; 1: none).
    public var stepFactor: Double = 1
    /// The trust ratio reported in telemetry (LARS's or LAMB's; 1: none).
    public var trustRatio: Double = 1
    /// The factor on θ before the step (decoupled decay `1 − t·λ`; 1: none).
    public var keep: Float = 1

    /// Makes ``gradient`` writable: copies it into ``work`` unless it is there already.
    public mutating func writableGradient() -> UnsafeMutableBufferPointer<Float> {
        if gradient.baseAddress != UnsafePointer(work.baseAddress) {
            Kernels.scale(gradient, by: 1, into: work)
            gradient = UnsafeBufferPointer(work)
        }
        return work
    }
}
