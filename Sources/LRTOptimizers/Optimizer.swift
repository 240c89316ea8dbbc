import LRTLayers
import LRTTensor

/// A base update rule composed with the stages around it, holding the state of every
/// parameter by its path (mlx-swift's `OptimizerBase`, optax's `chain`).
///
/// Each ``apply(to:epoch:)`` runs, for every trained parameter `θ` with raw gradient `g`:
///
/// 1. `t` = the schedule's rate for this step; the paper's multiplier `m_l` from the raw
///    gradient norm of the layer (or tensor, with ``perTensor``), see ``LayerRates``.
/// 2. Clipping: `g ← clip(g)` (by global norm over all trained parameters, or by value).
/// 3. Coupled decay: `g ← g + λ·θ`.
/// 4. LARS: `g ← r·g` with `r = η‖θ‖/(‖g_clipped‖ + λ‖θ‖ + ε)`.
/// 5. The rule: `d, slots ← rule(g, θ, slots, k)` with `k` the parameter's 1-based step.
/// 6. In-update decay and LAMB: `d ← d + λ·θ`, then `r = ‖θ‖/‖d‖`.
/// 7. The step: `θ ← θ·(1 − t·λ) − t·m_l·r·d`, with the factor `(1 − t·λ)` only for
///    decoupled decay and `r` only for LAMB (LARS's ratio is already inside `d`).
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
    public let rule: any UpdateRule
    public let layerRates: LayerRates
    /// One paper multiplier per parameter tensor instead of per layer.
    public let perTensor: Bool
    /// A LARS or LAMB stage around the rule, or nil.
    public let trustRatio: TrustRatio?
    public let weightDecay: WeightDecay
    public let clipping: GradientClipping
    /// The global rate; stateful schedules advance through ``onEpochEnd(metrics:)``.
    public private(set) var schedule: any LearningRateSchedule
    /// The number of updates applied so far.
    public private(set) var step = 0
    /// The multiplier each rate group got at the last step, in order: one per layer named by
    /// the layer, or with ``perTensor`` one per tensor named by its path.
    public private(set) var multipliers: [(layerName: String, multiplier: Double)] = []
    /// The global rate `t` of the last step.
    public private(set) var lastRate = 0.0
    /// Per rate group, what the last step did (norms, multiplier, trust ratio).
    public private(set) var lastTelemetry: [LayerTelemetry] = []

    private var states: [String: ParameterState] = [:]
    private let workBuffer = GrowingBuffer()
    private let directionBuffer = GrowingBuffer()
    private var rawSquares: [Double] = []

    /// - Parameters:
    ///   - rule: the base rule (``StochasticGradientDescent``, ``AdaGrad``, ``RMSProp``, ``Adam``).
    ///   - layerRates: the paper's rule or off (default paper).
    ///   - perTensor: one multiplier per tensor instead of per layer (default false).
    ///   - trustRatio: a LARS or LAMB stage (default none).
    ///   - weightDecay: decay and where it enters (default none).
    ///   - clipping: gradient clipping (default none).
    ///   - schedule: the global rate.
    public init(rule: any UpdateRule, layerRates: LayerRates = .paper, perTensor: Bool = false,
                trustRatio: TrustRatio? = nil, weightDecay: WeightDecay = .none, clipping: GradientClipping = .none,
                schedule: any LearningRateSchedule) {
        precondition(rule.slotNames.count <= SlotBuffers.capacity, "a rule keeps at most \(SlotBuffers.capacity) slots")
        self.rule = rule
        self.layerRates = layerRates
        self.perTensor = perTensor
        self.trustRatio = trustRatio
        self.weightDecay = weightDecay
        self.clipping = clipping
        self.schedule = schedule
    }

    /// Each parameter's slots (in `rule.slotNames` order), by parameter path; created on first use.
    public var slots: [String: [Tensor]] { states.mapValues(\.slots) }

    /// The slots of the parameter at `path` (``slots`` without building the whole dictionary).
    public func slots(for path: String) -> [Tensor]? { states[path]?.slots }

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
    public func apply(to groups: [(layerName: String, parameters: [Parameter])], epoch: Int) {
        let rate = schedule.rate(step: step, epoch: epoch)
        step += 1
        lastRate = rate

        rawSquares.removeAll(keepingCapacity: true)
        var globalSquares = 0.0
        for group in groups {
            for parameter in group.parameters where Optimizer.isTrained(parameter) {
                let squares = parameter.gradient.withUnsafeBufferPointer(Kernels.sumOfSquares)
                rawSquares.append(squares)
                globalSquares += squares
            }
        }
        var gradientScale: Float = 1
        if case .globalNorm(let maximum) = clipping.kind {
            let norm = globalSquares.squareRoot()
            if norm > maximum { gradientScale = Float(maximum / norm) }
        }

        multipliers.removeAll(keepingCapacity: true)
        lastTelemetry.removeAll(keepingCapacity: true)
        let tensorRecords = perTensor || trustRatio != nil
        var index = 0
        for (layerName, parameters) in groups {
            var layerSquares = 0.0
            var trained = 0
            for parameter in parameters where Optimizer.isTrained(parameter) {
                layerSquares += rawSquares[index + trained]
                trained += 1
            }
            guard trained > 0 else { continue }
            let layerMultiplier = layerRates.multiplier(gradientNorm: layerSquares.squareRoot())
            if !perTensor { multipliers.append((layerName, layerMultiplier)) }
            var layerWeightSquares = 0.0
            var layerUpdateSquares = 0.0
            for parameter in parameters where Optimizer.isTrained(parameter) {
                let squares = rawSquares[index]
                index += 1
                let multiplier = perTensor ? layerRates.multiplier(gradientNorm: squares.squareRoot()) : layerMultiplier
                if perTensor { multipliers.append((parameter.path, multiplier)) }
                let result = update(parameter, rate: rate, multiplier: multiplier, gradientScale: gradientScale)
                if tensorRecords {
                    lastTelemetry.append(LayerTelemetry(
                        layerName: layerName, parameterPath: parameter.path, gradientNorm: squares.squareRoot(),
                        weightNorm: result.weightSquares.squareRoot(), updateNorm: result.updateSquares.squareRoot(),
                        multiplier: multiplier, trustRatio: result.trustRatio))
                } else {
                    layerWeightSquares += result.weightSquares
                    layerUpdateSquares += result.updateSquares
                }
            }
            if !tensorRecords {
                lastTelemetry.append(LayerTelemetry(
                    layerName: layerName, parameterPath: nil, gradientNorm: layerSquares.squareRoot(),
                    weightNorm: layerWeightSquares.squareRoot(), updateNorm: layerUpdateSquares.squareRoot(),
                    multiplier: layerMultiplier, trustRatio: 1))
            }
        }
    }

    /// Steps one parameter through stages 2–7 (see the type's documentation).
    private func update(_ parameter: Parameter, rate: Double, multiplier: Double, gradientScale: Float)
        -> (weightSquares: Double, updateSquares: Double, trustRatio: Double) {
        let count = parameter.value.count
        let state = self.state(for: parameter)
        state.step += 1
        let decay = state.decayRate
        let coupledDecay: Float = weightDecay.mode == .coupled ? Float(decay) : 0
        var clipValue: Float?
        if case .value(let maximum) = clipping.kind { clipValue = Float(maximum) }
        var lars: (coefficient: Double, epsilon: Double)?
        var lamb = false
        if let trustRatio, state.adapts {
            switch trustRatio.kind {
            case .lars(let coefficient, let epsilon): lars = (coefficient, epsilon)
            case .lamb: lamb = true
            }
        }
        let work = workBuffer.prefix(count)
        let direction = directionBuffer.prefix(count)
        var trust = 1.0
        var weightSquares = 0.0
        var updateSquares = 0.0
        parameter.gradient.withUnsafeBufferPointer { gradient in
            parameter.value.withUnsafeMutableBufferPointer { values in
                let current = UnsafeBufferPointer(values)
                var input = gradient
                if gradientScale != 1 || clipValue != nil || coupledDecay != 0 || lars != nil {
                    if let clipValue {
                        Kernels.clamp(gradient, limit: clipValue, into: work)
                    } else {
                        Kernels.scale(gradient, by: gradientScale, into: work)
                    }
                    var factor: Float = 1
                    if let lars {
                        let weightNorm = Kernels.sumOfSquares(current).squareRoot()
                        let gradientNorm = Kernels.sumOfSquares(UnsafeBufferPointer(work)).squareRoot()
                        trust = TrustRatio.ratio(lars.coefficient * weightNorm,
                                                 gradientNorm + Double(coupledDecay == 0 ? 0 : decay) * weightNorm + lars.epsilon,
                                                 weightNorm: weightNorm, otherNorm: gradientNorm)
                        factor = Float(trust)
                    }
                    if coupledDecay != 0 || factor != 1 {
                        Kernels.addScaled(current, by: coupledDecay, to: work, thenMultiplyBy: factor)
                    }
                    input = UnsafeBufferPointer(work)
                }
                SlotBuffers.with(&state.slots) { slots in
                    rule.direction(gradient: input, parameter: current, slots: slots, step: state.step, into: direction)
                }
                if weightDecay.mode == .inUpdate, decay > 0 {
                    Kernels.addScaled(current, by: Float(decay), to: direction, thenMultiplyBy: 1)
                }
                if lamb {
                    let weightNorm = Kernels.sumOfSquares(current).squareRoot()
                    let updateNorm = Kernels.sumOfSquares(UnsafeBufferPointer(direction)).squareRoot()
                    trust = TrustRatio.ratio(weightNorm, updateNorm, weightNorm: weightNorm, otherNorm: updateNorm)
                }
                let scale = Float(rate * multiplier * (lamb ? trust : 1))
                let keep: Float = weightDecay.mode == .decoupled && decay > 0 ? Float(1 - rate * decay) : 1
                (weightSquares, updateSquares) = Kernels.step(values, direction: UnsafeBufferPointer(direction), keep: keep, scale: scale)
            }
        }
        return (weightSquares, updateSquares, trust)
    }

    private func state(for parameter: Parameter) -> ParameterState {
        if let existing = states[parameter.path] { return existing }
        let slots = rule.slotNames.indices.map { Tensor(shape: parameter.value.shape, repeating: rule.initialSlotValue($0)) }
        let state = makeState(path: parameter.path, slots: slots, step: 0)
        states[parameter.path] = state
        return state
    }

    private func makeState(path: String, slots: [Tensor], step: Int) -> ParameterState {
        ParameterState(slots: slots, step: step, decayRate: weightDecay.rate(for: path),
                       adapts: trustRatio?.adapts(path) ?? false)
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
        guard step >= 0 else { throw OptimizerError(invalid: "optimizer step", value: String(step), hint: "a saved step is at least 0") }
        let byPath = Dictionary(parameters.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        var restored: [String: ParameterState] = [:]
        for (path, tensors) in slots {
            guard let parameter = byPath[path] else {
                throw OptimizerError("optimizer state names parameter '\(path)', which the model does not have")
            }
            guard tensors.count == rule.slotNames.count else {
                throw OptimizerError("optimizer state for '\(path)' has \(tensors.count) slots; \(rule.name) keeps \(rule.slotNames)")
            }
            for (slotName, tensor) in zip(rule.slotNames, tensors) where tensor.shape != parameter.value.shape {
                throw OptimizerError("optimizer slot '\(slotName)' of '\(path)' has shape \(tensor.shape), the parameter \(parameter.value.shape)")
            }
            restored[path] = makeState(path: path, slots: tensors, step: step)
        }
        let previous = (self.step, states, self.multipliers)
        self.step = step
        self.states = restored
        self.multipliers = multipliers
        if !scalarState.isNull {
            do {
                try restore(scalarState: scalarState)
            } catch {
                (self.step, self.states, self.multipliers) = previous
                throw error
            }
        }
    }

    /// Restores ``scalarState`` (after ``restore(step:slots:multipliers:scalarState:parameters:)``
    /// has restored the step and slots, or on its own). Nothing changes when it throws.
    public func restore(scalarState: JSONValue) throws {
        guard case .object = scalarState else {
            throw OptimizerError(invalid: "optimizer scalar state", value: scalarState.serialized, hint: "expected a JSON object")
        }
        guard scalarState["version"]?.intValue == 1 else {
            throw OptimizerError(invalid: "optimizer scalar state version", value: scalarState["version"]?.serialized ?? "(missing)",
                                 hint: "this build reads version 1; use a newer lrt")
        }
        var schedule = self.schedule
        try schedule.restore(state: scalarState["schedule"] ?? .null)
        var steps: [(path: String, step: Int)] = []
        if let parameterSteps = scalarState["parameter_steps"], !parameterSteps.isNull {
            guard case .object(let members) = parameterSteps else {
                throw OptimizerError(invalid: "parameter_steps", value: parameterSteps.serialized, hint: "expected an object of paths and steps")
            }
            for (path, value) in members {
                guard let count = value.intValue, count >= 0, count <= step else {
                    throw OptimizerError(invalid: "parameter step of '\(path)'", value: value.serialized,
                                         hint: "a parameter's step is between 0 and the optimizer's step \(step)")
                }
                guard states[path] != nil || rule.slotNames.isEmpty else {
                    throw OptimizerError("optimizer scalar state has a step for '\(path)', which has no saved slots \(rule.slotNames)")
                }
                steps.append((path, count))
            }
        }
        self.schedule = schedule
        for (path, count) in steps {
            if let state = states[path] {
                state.step = count
            } else {
                states[path] = makeState(path: path, slots: [], step: count)
            }
        }
    }
}

/// One parameter's slots and step, with its decay and adaptation settled once from its path.
final class ParameterState {
    var slots: [Tensor]
    var step: Int
    let decayRate: Double
    let adapts: Bool

    init(slots: [Tensor], step: Int, decayRate: Double, adapts: Bool) {
        self.slots = slots
        self.step = step
        self.decayRate = decayRate
        self.adapts = adapts
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
