import LRTLayers
import LRTTensor

/// The optimizer: an update rule inside a chain of stages, holding the state of every parameter
/// by its path (mlx-swift's `OptimizerBase`, optax's `chain`). Built from a typed
/// ``OptimizerConfiguration``; the chain is ``stages`` (see ``OptimizerStage``), in this order:
///
/// 1. ``GradientClippingStage``: `g ← clip(g)` (by global norm over all trained parameters, or by value).
/// 2. ``WeightDecayStage``: coupled `g ← g + λ·θ` before the rule; in-update `d ← d + λ·θ` after
///    it; decoupled `θ ← θ·(1 − t·λ)` at the step.
/// 3. ``TrustRatioStage``: LARS `g ← r·(g + λθ)` with `r = η‖θ‖/(‖g_clipped‖ + λ‖θ‖ + ε)` before
///    the rule; LAMB `r = ‖θ‖/‖d‖` on the step after it.
/// 4. ``LayerRatesStage``: the paper's multiplier `m_l` from the raw gradient norm of the layer
///    (or tensor, with ``perTensor``), see ``LayerRates``.
///
/// and for every trained parameter `θ` with raw gradient `g`, between the stages' `beforeRule`
/// and `afterRule`, the rule `d, slots ← rule(g, θ, slots, k)` with `k` the parameter's 1-based
/// step; then the step `θ ← θ·(1 − t·λ) − t·m_l·r·d` with `t` the schedule's rate.
///
/// So the paper's multiplier scales the learning rate of the layer's whole step and nothing
/// else: for SGD `θ ← θ − t·m_l·v` (or `g`, `g + μv`); AdaGrad `θ ← θ − t·m_l·g/(√s + ε)`;
/// RMSProp `θ ← θ − t·m_l·g/(√v′ + ε)` or `− t·m_l·b`; Adam `θ ← θ − t·m_l·m̂/(√v̂ + ε)`;
/// AdamW `θ ← θ − t·λ·θ − t·m_l·m̂/(√v̂ + ε)` (the decay is scaled by `t` only, so a layer
/// with vanishing gradients is not also decayed 28 times faster); LARS `θ ← θ − t·m_l·v`
/// with `v` accumulating the trust-scaled gradients; LAMB `θ ← θ − t·m_l·(‖θ‖/‖u‖)·u`.
/// Coupled decay is part of `g`, so it is scaled with it; the momentum buffers and moments
/// never see `m_l`.
///
/// Parameters that are not trainable, or whose gradient is empty, are skipped and keep no state.
public final class Optimizer {
    /// What this optimizer is, as built; ``config`` is its Keras-style JSON.
    public let configuration: OptimizerConfiguration
    /// The stages around the rule, in order.
    public let stages: [any OptimizerStage]
    /// The global rate; stateful schedules advance through ``onEpochEnd(metrics:)``.
    public private(set) var schedule: any LearningRateSchedule
    /// The number of updates applied so far.
    public private(set) var step = 0
    /// The multiplier each rate group got at the last step, in order: one per layer named by
    /// the layer, or with ``perTensor`` one per tensor named by its path.
    public var multipliers: [(layerName: String, multiplier: Double)] { layerRatesStage.multipliers }
    /// The global rate `t` of the last step.
    public private(set) var lastRate = 0.0
    /// Per rate group, what the last step did (norms, multiplier, trust ratio).
    public private(set) var lastTelemetry: [LayerTelemetry] = []
    /// The layer and parameter path of the gradient that stopped the last ``apply(to:epoch:)`` because it was
    /// not finite (or its squared norm overflowed): the first in backpropagation order, from the output.
    /// Nil when that step was applied.
    public private(set) var nonFiniteGradient: (layerName: String, path: String)?

    private let layerRatesStage: LayerRatesStage
    private let recordsPerTensor: Bool
    private var states: [String: ParameterState] = [:]
    private let workBuffer = GrowingBuffer()
    private let directionBuffer = GrowingBuffer()

    /// The optimizer `configuration` describes, with no state yet.
    /// - Parameter additionalStages: stages of the library user's own (gradient noise, lookahead, …),
    ///   run after the built-in ones in the order given. They are not part of ``configuration``: a
    ///   checkpoint records neither them nor their state, so a run that uses them passes them again
    ///   when it resumes.
    public init(configuration: OptimizerConfiguration, additionalStages: [any OptimizerStage] = []) {
        precondition(configuration.rule.slotNames.count <= SlotBuffers.capacity,
                     "a rule keeps at most \(SlotBuffers.capacity) slots")
        self.configuration = configuration
        layerRatesStage = LayerRatesStage(configuration.layerRates, perTensor: configuration.perTensor)
        var stages: [any OptimizerStage] = []
        if configuration.clipping != .none { stages.append(GradientClippingStage(configuration.clipping)) }
        if configuration.weightDecay.rate > 0 { stages.append(WeightDecayStage(configuration.weightDecay)) }
        if let trustRatio = configuration.trustRatio { stages.append(TrustRatioStage(trustRatio)) }
        stages.append(layerRatesStage)
        self.stages = stages + additionalStages
        recordsPerTensor = stages.contains { $0.actsPerTensor }
        schedule = configuration.schedule
    }

    /// An optimizer from its parts; its class is the one they describe (``OptimizerConfiguration/ClassName/describing(rule:trustRatio:weightDecay:)``).
    /// - Parameters:
    ///   - rule: the base rule (``StochasticGradientDescent``, ``AdaGrad``, ``RMSProp``, ``Adam``).
    ///   - layerRates: the paper's rule or off (default paper).
    ///   - perTensor: one multiplier per tensor instead of per layer (default false).
    ///   - trustRatio: a LARS or LAMB stage (default none).
    ///   - weightDecay: decay and where it enters (default none).
    ///   - clipping: gradient clipping (default none).
    ///   - schedule: the global rate.
    public convenience init(rule: any UpdateRule, layerRates: LayerRates = .paper, perTensor: Bool = false,
                            trustRatio: TrustRatio? = nil, weightDecay: WeightDecay = .none, clipping: GradientClipping = .none,
                            schedule: any LearningRateSchedule) {
        self.init(configuration: OptimizerConfiguration(
            unchecked: .describing(rule: rule, trustRatio: trustRatio, weightDecay: weightDecay), rule: rule,
            trustRatio: trustRatio, weightDecay: weightDecay, clipping: clipping, schedule: schedule,
            layerRates: layerRates, perTensor: perTensor))
    }

    /// Builds an optimizer from a Keras-style config (`--optimizer-config FILE.json`, checkpoints);
    /// see ``OptimizerConfiguration/init(json:)``.
    /// - Throws: ``OptimizerError`` naming the class, key or value at fault.
    public static func make(config: JSONValue) throws -> Optimizer {
        Optimizer(configuration: try OptimizerConfiguration(json: config))
    }

    /// The class names ``make(config:)`` accepts (case-insensitively).
    public static let classNames = OptimizerConfiguration.ClassName.allCases.map(\.rawValue)

    /// Everything needed to rebuild this optimizer, Keras-style (``OptimizerConfiguration/json``).
    public var config: JSONValue { configuration.json }
    /// The Keras-style class name (`SGD`, `AdamW`, `LARS`, …).
    public var className: String { configuration.className.rawValue }
    /// The base update rule.
    public var rule: any UpdateRule { configuration.rule }
    /// The paper's rule or off.
    public var layerRates: LayerRates { configuration.layerRates }
    /// One paper multiplier per parameter tensor instead of per layer.
    public var perTensor: Bool { configuration.perTensor }
    /// A LARS or LAMB stage around the rule, or nil.
    public var trustRatio: TrustRatio? { configuration.trustRatio }
    public var weightDecay: WeightDecay { configuration.weightDecay }
    public var clipping: GradientClipping { configuration.clipping }

    /// Each parameter's slots (in `rule.slotNames` order), by parameter path; created on first use.
    public var slots: [String: [Tensor]] { states.mapValues(\.slots) }

    /// The global rate the next update will use in epoch `epoch`.
    public func nextRate(epoch: Int) -> Double { schedule.rate(step: step, epoch: epoch) }

    /// Whether the optimizer updates `parameter`: trainable, with a gradient of its shape.
    public static func isTrained(_ parameter: Parameter) -> Bool {
        parameter.trainable && parameter.gradient.count == parameter.value.count && parameter.value.count > 0
    }

    /// Applies one update to every trained parameter from its current gradient.
    /// - Parameters:
    ///   - groups: the model's layers with parameters (``Model/parameterGroups``).
    ///   - epoch: the 0-based epoch, for the schedule.
    ///
    /// A gradient whose squared norm (computed for the layer-wise rules anyway) is not finite stops the step
    /// before anything changes: ``nonFiniteGradient`` names it, and the weights, slots and step count stay.
    public func apply(to groups: [(layerName: String, parameters: [Parameter])], epoch: Int) {
        let rate = schedule.rate(step: step, epoch: epoch)

        var gradients = StepGradients(groups: [], rate: rate)
        for (layerName, parameters) in groups {
            let tensors = parameters.filter(Optimizer.isTrained).map { parameter in
                StepGradients.TrainedParameter(path: parameter.path,
                                     squares: parameter.gradient.withUnsafeBufferPointer(Kernels.sumOfSquares))
            }
            if !tensors.isEmpty { gradients.groups.append((layerName, tensors)) }
        }
        nonFiniteGradient = nil
        for group in gradients.groups.reversed() {  // backpropagation order: where it went wrong first
            guard let tensor = group.tensors.last(where: { !$0.squares.isFinite }) else { continue }
            nonFiniteGradient = (group.layerName, tensor.path)
            return
        }
        step += 1
        lastRate = rate
        for stage in stages { stage.beginStep(gradients) }

        lastTelemetry.removeAll(keepingCapacity: true)
        var index = 0
        for (layerName, parameters) in groups {
            var layerSquares = 0.0
            var layerWeightSquares = 0.0
            var layerUpdateSquares = 0.0
            var layerMultiplier = 1.0
            var trained = 0
            for parameter in parameters where Optimizer.isTrained(parameter) {
                let squares = gradients.groups[index].tensors[trained].squares
                layerSquares += squares
                trained += 1
                let result = update(parameter, layerName: layerName, squares: squares, rate: rate)
                layerMultiplier = result.multiplier
                if recordsPerTensor {
                    lastTelemetry.append(LayerTelemetry(
                        layerName: layerName, parameterPath: parameter.path, gradientNorm: squares.squareRoot(),
                        weightNorm: result.weightSquares.squareRoot(), updateNorm: result.updateSquares.squareRoot(),
                        multiplier: result.multiplier, trustRatio: result.trustRatio))
                } else {
                    layerWeightSquares += result.weightSquares
                    layerUpdateSquares += result.updateSquares
                }
            }
            guard trained > 0 else { continue }
            index += 1
            if !recordsPerTensor {
                lastTelemetry.append(LayerTelemetry(
                    layerName: layerName, parameterPath: nil, gradientNorm: layerSquares.squareRoot(),
                    weightNorm: layerWeightSquares.squareRoot(), updateNorm: layerUpdateSquares.squareRoot(),
                    multiplier: layerMultiplier, trustRatio: 1))
            }
        }
    }

    /// Steps one parameter through the chain (see the type's documentation).
    private func update(_ parameter: Parameter, layerName: String, squares: Double, rate: Double)
        -> (weightSquares: Double, updateSquares: Double, multiplier: Double, trustRatio: Double) {
        let count = parameter.value.count
        let state = self.state(for: parameter)
        state.step += 1
        let work = workBuffer.prefix(count)
        let direction = directionBuffer.prefix(count)
        var result = (weightSquares: 0.0, updateSquares: 0.0, multiplier: 1.0, trustRatio: 1.0)
        parameter.gradient.withUnsafeBufferPointer { gradient in
            parameter.value.withUnsafeMutableBufferPointer { values in
                var update = ParameterUpdate(path: parameter.path, layerName: layerName, rawSquares: squares,
                                             value: UnsafeBufferPointer(values), gradient: gradient, work: work,
                                             direction: direction, rate: rate)
                for stage in stages { stage.beforeRule(&update) }
                let decay = Float(update.gradientDecay)
                if decay != 0 || update.gradientFactor != 1 {
                    Kernels.addScaled(update.value, by: decay, to: update.writableGradient(), thenMultiplyBy: update.gradientFactor)
                }
                SlotBuffers.with(&state.slots) { slots in
                    rule.direction(gradient: update.gradient, parameter: update.value, slots: slots, step: state.step,
                                   into: direction)
                }
                for stage in stages { stage.afterRule(&update) }
                let scale = Float(rate * update.multiplier * update.stepFactor)
                let (weightSquares, updateSquares) = Kernels.step(values, direction: UnsafeBufferPointer(direction),
                                                                  keep: update.keep, scale: scale)
                result = (weightSquares, updateSquares, update.multiplier, update.trustRatio)
            }
        }
        return result
    }

    private func state(for parameter: Parameter) -> ParameterState {
        if let existing = states[parameter.path] { return existing }
        let slots = rule.slotNames.indices.map { Tensor(shape: parameter.value.shape, repeating: rule.initialSlotValue($0)) }
        let state = ParameterState(slots: slots, step: 0)
        states[parameter.path] = state
        return state
    }

    /// This optimizer's state (step, slots, parameter steps, last multipliers) under another schedule,
    /// which starts from its own initial state (`lrt resume --learning-rate`); this optimizer is unchanged.
    public func replacingSchedule(_ schedule: any LearningRateSchedule) -> Optimizer {
        let optimizer = Optimizer(configuration: configuration.replacingSchedule(schedule))
        optimizer.step = step
        optimizer.lastRate = lastRate
        optimizer.states = states.mapValues { ParameterState(slots: $0.slots, step: $0.step) }
        optimizer.layerRatesStage.restore(multipliers: multipliers)
        return optimizer
    }

    /// Feeds one finished epoch's metrics (training and validation, by name) to the schedule;
    /// ``ReduceOnPlateau`` reads its monitored metric here. Call it after each epoch's validation.
    /// - Throws: ``OptimizerError`` when the schedule monitors a metric that `metrics` lacks.
    public func onEpochEnd(metrics: [(name: String, value: Double)]) throws {
        try schedule.onEpochEnd(metrics: metrics)
    }

    // MARK: - State

    /// The optimizer's state besides ``step`` and ``slots``, small and JSON-able, for checkpoints:
    /// `{"version": 1, "schedule": <the schedule's state or null>, "parameter_steps": {"dense.kernel": 12, …}}`.
    /// The per-parameter steps drive bias correction (Adam, LAMB) and AdaGrad's `lr_decay`;
    /// a parameter's step starts when its slots are created.
    public var scalarState: JSONValue {
        .object([
            ("version", .number(1)),
            ("schedule", schedule.state),
            ("parameter_steps", .object(states.keys.sorted().map { ($0, .number(Double(states[$0]!.step))) })),
        ])
    }

    /// Restores the state saved from an optimizer of the same config.
    /// - Parameters:
    ///   - step: updates done so far.
    ///   - slots: by parameter path, in `rule.slotNames` order; each must match its parameter's shape.
    ///   - multipliers: the last step's multipliers by rate group.
    ///   - scalarState: ``scalarState`` as saved, or `.null` when the file has none (then every
    ///     parameter with slots takes `step` as its own step and the schedule starts fresh).
    ///   - parameters: the model's parameters, to check paths and shapes against.
    public func restore(step: Int, slots: [String: [Tensor]], multipliers: [(layerName: String, multiplier: Double)],
                        scalarState: JSONValue = .null, parameters: [Parameter]) throws {
        guard step >= 0 else { throw OptimizerError(.state("invalid optimizer step \(step): a saved step is at least 0")) }
        let byPath = Dictionary(parameters.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        var restored: [String: ParameterState] = [:]
        for (path, tensors) in slots {
            guard let parameter = byPath[path] else {
                throw OptimizerError(.state("optimizer state names parameter '\(path)', which the model does not have"))
            }
            guard tensors.count == rule.slotNames.count else {
                throw OptimizerError(.state("optimizer state for '\(path)' has \(tensors.count) slots; \(rule.name) keeps \(rule.slotNames)"))
            }
            for (slotName, tensor) in zip(rule.slotNames, tensors) where tensor.shape != parameter.value.shape {
                throw OptimizerError(.state("optimizer slot '\(slotName)' of '\(path)' has shape \(tensor.shape), the parameter \(parameter.value.shape)"))
            }
            restored[path] = ParameterState(slots: tensors, step: step)
        }
        let previous = (self.step, states, self.multipliers)
        self.step = step
        self.states = restored
        layerRatesStage.restore(multipliers: multipliers)
        if !scalarState.isNull {
            do {
                try restore(scalarState: scalarState)
            } catch {
                (self.step, self.states) = (previous.0, previous.1)
                layerRatesStage.restore(multipliers: previous.2)
                throw error
            }
        }
    }

    /// Restores ``scalarState`` (after ``restore(step:slots:multipliers:scalarState:parameters:)``
    /// has restored the step and slots, or on its own). Nothing changes when it throws.
    public func restore(scalarState: JSONValue) throws {
        guard case .object = scalarState else {
            throw OptimizerError(.state("invalid optimizer scalar state \(scalarState.serialized): expected a JSON object"))
        }
        guard scalarState["version"]?.intValue == 1 else {
            throw OptimizerError(.state("invalid optimizer scalar state version \(scalarState["version"]?.serialized ?? "(missing)"): this build reads version 1; use a newer lrt"))
        }
        var schedule = self.schedule
        try schedule.restore(state: scalarState["schedule"] ?? .null)
        var steps: [(path: String, step: Int)] = []
        if let parameterSteps = scalarState["parameter_steps"], !parameterSteps.isNull {
            guard case .object(let members) = parameterSteps else {
                throw OptimizerError(.state("invalid parameter_steps \(parameterSteps.serialized): expected an object of paths and steps"))
            }
            for (path, value) in members {
                guard let count = value.intValue, count >= 0, count <= step else {
                    throw OptimizerError(.state("invalid parameter step of '\(path)' \(value.serialized): a parameter's step is between 0 and the optimizer's step \(step)"))
                }
                guard states[path] != nil || rule.slotNames.isEmpty else {
                    throw OptimizerError(.state("optimizer scalar state has a step for '\(path)', which has no saved slots \(rule.slotNames)"))
                }
                steps.append((path, count))
            }
        }
        self.schedule = schedule
        for (path, count) in steps {
            if let state = states[path] {
                state.step = count
            } else {
                states[path] = ParameterState(slots: [], step: count)
            }
        }
    }
}

/// One parameter's rule slots and its own step count (bias corrections, AdaGrad's decay).
final class ParameterState {
    var slots: [Tensor]
    var step: Int

    init(slots: [Tensor], step: Int) {
        self.slots = slots
        self.step = step
    }
}

/// A scratch buffer reused across steps, grown to the largest parameter.
final class GrowingBuffer {
    private var start: UnsafeMutablePointer<Float>?
    private var capacity = 0

    func prefix(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        if count > capacity {
            start?.deallocate()
            start = UnsafeMutablePointer<Float>.allocate(capacity: count)
            capacity = count
        }
        return UnsafeMutableBufferPointer(start: start, count: count)
    }

    deinit { start?.deallocate() }
}
