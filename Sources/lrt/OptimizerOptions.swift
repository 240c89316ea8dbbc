import ArgumentParser
import Foundation
import LRTLayers
import LRTOptimizers

/// The optimizer flags of every command that trains (`train`, `finetune`, `resume`); they fill
/// an ``OptimizerConfiguration`` directly. On `resume` each flag given overrides the saved
/// optimizer's value and every other value stays as saved.
struct OptimizerOptions: ParsableArguments {
    enum Name: String, ExpressibleByArgument, CaseIterable {
        case sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, lars, lamb

        var className: OptimizerConfiguration.ClassName {
            switch self {
            case .sgd, .momentum, .nesterov: return .sgd
            case .adagrad: return .adagrad
            case .rmsprop: return .rmsprop
            case .adam: return .adam
            case .adamw: return .adamW
            case .lars: return .lars
            case .lamb: return .lamb
            }
        }
    }

    enum ScheduleName: String, ExpressibleByArgument, CaseIterable {
        case constant, step, multistep, exponential, inverse, cosine, plateau
    }

    enum DecayMode: String, ExpressibleByArgument, CaseIterable {
        case coupled, decoupled

        var mode: WeightDecay.Mode { self == .coupled ? .coupled : .decoupled }
    }

    @Option(help: ArgumentHelp("Base update rule (torch.optim formulas): sgd, momentum (SGD, momentum 0.9), nesterov, adagrad, rmsprop, adam, adamw, lars, lamb (default: momentum; on resume: the saved one).", valueName: "name"))
    var optimizer: Name?

    @Option(help: ArgumentHelp("A Keras-style optimizer config {\"class_name\": …, \"config\": {…}} for reproducible runs; replaces the optimizer flags.", valueName: "file.json"))
    var optimizerConfig: String?

    @Option(name: [.customLong("learning-rate"), .customLong("lr")], parsing: .unconditional,
            help: "Global learning rate t (default: 0.01 for SGD-family, AdaGrad, RMSProp; 0.001 for Adam-family; 1 for LARS).")
    var learningRate: Double?

    @Option(parsing: .unconditional, help: "Momentum in [0, 1) for sgd/momentum/nesterov/rmsprop/lars (default 0.9 for momentum, nesterov, lars; else 0).")
    var momentum: Double?

    @Flag(help: "Use Nesterov momentum (sgd, momentum, lars).")
    var nesterov = false

    @Option(name: .customLong("beta1"), parsing: .unconditional, help: "Adam/AdamW/LAMB β1 in [0, 1) (default 0.9).")
    var beta1: Double?

    @Option(name: .customLong("beta2"), parsing: .unconditional, help: "Adam/AdamW/LAMB β2 in [0, 1) (default 0.999).")
    var beta2: Double?

    @Option(parsing: .unconditional, help: "Epsilon added to denominators (> 0; each rule has torch's default; not for sgd).")
    var epsilon: Double?

    @Flag(help: "Adam/AdamW/LAMB: the AMSGrad variant.")
    var amsgrad = false

    @Option(parsing: .unconditional, help: "RMSProp smoothing constant ρ (default 0.99).")
    var rho: Double?

    @Flag(help: "RMSProp: centered (normalize by the estimated variance).")
    var centered = false

    @Option(parsing: .unconditional, help: "AdaGrad initial accumulator value (default 0).")
    var initialAccumulator: Double?

    @Option(parsing: .unconditional, help: "LARS trust coefficient η (default 0.001).")
    var trustCoefficient: Double?

    @Option(parsing: .unconditional, help: "Weight decay λ ≥ 0 (default 0; 0.01 for adamw and lamb).")
    var weightDecay: Double?

    @Option(help: "Weight decay: coupled (L2 added to the gradient) or decoupled (θ ← θ − t·λ·θ). Default: decoupled for adamw, else coupled.")
    var weightDecayMode: DecayMode?

    @Option(parsing: .singleValue, help: ArgumentHelp("Parameter paths excluded from weight decay (glob, repeatable), e.g. '*.bias'.", valueName: "pattern"))
    var excludeFromWeightDecay: [String] = []

    @Option(parsing: .singleValue, help: ArgumentHelp("LARS/LAMB: parameter paths excluded from the trust ratio (default: *.bias, *.gamma, *.beta).", valueName: "pattern"))
    var excludeFromLayerAdaptation: [String] = []

    @Option(parsing: .unconditional, help: "Clip the gradient to this global L2 norm (over all parameters).")
    var clipNorm: Double?

    @Option(parsing: .unconditional, help: "Clip each gradient value to [−v, v].")
    var clipValue: Double?

    @Option(help: "Layer-wise rate rule: paper (t·(1 + log(1 + 1/‖g_l‖)) per layer) or off (default: paper; off for lars and lamb).")
    var layerRates: LayerRates?

    @Flag(help: "With --layer-rates paper: one multiplier per parameter tensor instead of per layer.")
    var layerRatesPerTensor = false

    @Option(help: "Learning-rate schedule: constant, step, multistep, exponential, inverse, cosine, plateau (default: constant). On resume any rate or schedule flag replaces the saved schedule and keeps the slots.")
    var schedule: ScheduleName?

    @Option(parsing: .unconditional, help: "step/multistep/exponential: multiply the rate by gamma; inverse: Caffe's inv gamma.")
    var gamma: Double?

    @Option(help: "step: multiply by gamma every N units; cosine: the period in units.")
    var stepSize: Int?

    @Option(help: "Unit of --step-size for step and cosine schedules (default: epoch).")
    var stepUnit: ScheduleUnit?

    @Option(help: "multistep: comma-separated epochs at which to multiply by gamma, e.g. 30,60.")
    var milestones: String?

    @Option(parsing: .unconditional, help: "inverse: rate·(1 + gamma·k)^(−power).")
    var power: Double?

    @Option(parsing: .unconditional, help: "cosine and plateau: the lowest rate.")
    var minLearningRate: Double?

    @Option(help: "Linear warm-up over this many steps before the schedule.")
    var warmupSteps: Int?

    @Option(parsing: .unconditional, help: "Warm-up starts at this fraction of the rate (default 0).")
    var warmupStartFactor: Double?

    @Option(help: "plateau: the validation metric watched (val_loss, val_accuracy, loss, accuracy; default val_loss).")
    var plateauMonitor: String?

    @Option(parsing: .unconditional, help: "plateau: multiply the rate by this factor (default 0.1).")
    var plateauFactor: Double?

    @Option(help: "plateau: epochs without improvement before reducing (default 10).")
    var plateauPatience: Int?

    @Option(help: "plateau: epochs to wait after a reduction (default 0).")
    var plateauCooldown: Int?

    /// Checks the flags of a new run before anything is read, with usage text on a bad one
    /// (called by the commands' `validate()`: on `resume` only with `--optimizer`, since the other
    /// flags override a saved optimizer that is not read yet).
    func validateForNewRun() throws {
        guard optimizerConfig == nil else { return }
        do { _ = try fromFlags(over: nil) } catch let error as OptimizerError {
            throw ValidationError(Self.message(error))
        }
    }

    /// The configuration these flags (or the `--optimizer-config` file) describe for a new run.
    func configuration() throws -> OptimizerConfiguration {
        try configuration(over: nil) ?? fromFlags(over: nil)
    }

    /// The configuration to continue `saved` with: nil when no optimizer flag is given; else the
    /// file's, or `saved` with each flag given overriding its value (`--optimizer` naming another
    /// class starts from that class's defaults).
    func configuration(over saved: OptimizerConfiguration?) throws -> OptimizerConfiguration? {
        if let optimizerConfig {
            let text = try readConfigFile(optimizerConfig, what: "optimizer config")  // regular files only: a FIFO never blocks
            do { return try OptimizerConfiguration(json: try JSONValue.parse(text)) } catch let error as JSONError {
                throw CommandError.invalidFile(path: optimizerConfig, what: "optimizer config", reason: "not valid JSON: \(error)")
            } catch let error as OptimizerError {
                throw CommandError.invalidFile(path: optimizerConfig, what: "optimizer config", reason: error.description)
            }
        }
        if saved != nil, !givesAnyFlag { return nil }
        if saved != nil, cosinePeriodSpansRun {
            throw CommandError.invalidOption("--schedule cosine on resume needs --step-size N, the period (in --step-unit units, default epochs); a new run's cosine spans the whole run by default")
        }
        do { return try fromFlags(over: saved) } catch let error as OptimizerError {
            throw CommandError.invalidOption(Self.message(error))
        }
    }

    /// Whether any optimizer flag was given.
    private var givesAnyFlag: Bool {
        let values: [Any?] = [optimizer, learningRate, momentum, beta1, beta2, epsilon, rho, initialAccumulator, trustCoefficient,
                              weightDecay, weightDecayMode, clipNorm, clipValue, layerRates, schedule, gamma, stepSize, stepUnit,
                              milestones, power, minLearningRate, warmupSteps, warmupStartFactor, plateauMonitor, plateauFactor,
                              plateauPatience, plateauCooldown]
        return values.contains { $0 != nil } || nesterov || amsgrad || centered || layerRatesPerTensor
            || !excludeFromWeightDecay.isEmpty || !excludeFromLayerAdaptation.isEmpty
    }

    /// Whether a flag that sets the rate or its schedule was given.
    private var givesScheduleFlag: Bool {
        let values: [Any?] = [learningRate, schedule, gamma, stepSize, stepUnit, milestones, power, minLearningRate, warmupSteps,
                              warmupStartFactor, plateauMonitor, plateauFactor, plateauPatience, plateauCooldown]
        return values.contains { $0 != nil }
    }

    /// Each value: the flag's, else `saved`'s (unless `--optimizer` names another class), else the class default.
    private func fromFlags(over saved: OptimizerConfiguration?) throws -> OptimizerConfiguration {
        let name = optimizer ?? (saved == nil ? .momentum : nil)
        let className = name?.className ?? saved!.className
        let base = saved?.className == className ? saved : nil
        try checkFlagsApply(to: className)

        let rule: any UpdateRule
        switch className {
        case .sgd, .lars:
            let previous = base?.rule as? StochasticGradientDescent
            let impliedMomentum: Double? = name == .momentum || name == .nesterov || name == .lars || (name == .sgd && nesterov) ? 0.9 : nil
            rule = try StochasticGradientDescent(momentum: momentum ?? impliedMomentum ?? previous?.momentum ?? (className == .lars ? 0.9 : 0),
                                                 nesterov: nesterov || name == .nesterov || (previous?.nesterov ?? false))
        case .adagrad:
            let previous = base?.rule as? AdaGrad
            rule = try AdaGrad(initialAccumulatorValue: initialAccumulator ?? previous?.initialAccumulatorValue ?? 0,
                               epsilon: epsilon ?? previous?.epsilon ?? 1e-10,
                               learningRateDecay: previous?.learningRateDecay ?? 0)
        case .rmsprop:
            let previous = base?.rule as? RMSProp
            rule = try RMSProp(rho: rho ?? previous?.rho ?? 0.99, epsilon: epsilon ?? previous?.epsilon ?? 1e-8,
                               momentum: momentum ?? previous?.momentum ?? 0, centered: centered || (previous?.centered ?? false))
        case .adam, .adamW, .lamb:
            let previous = base?.rule as? Adam
            rule = try Adam(beta1: beta1 ?? previous?.beta1 ?? 0.9, beta2: beta2 ?? previous?.beta2 ?? 0.999,
                            epsilon: epsilon ?? previous?.epsilon ?? (className == .lamb ? 1e-6 : 1e-8),
                            amsgrad: amsgrad || (previous?.amsgrad ?? false))
        }

        let decayExclusions = !excludeFromWeightDecay.isEmpty ? excludeFromWeightDecay
            : base?.weightDecay.excluded.map(\.pattern) ?? className.defaultExclusions
        let weightDecay = try WeightDecay(rate: self.weightDecay ?? base?.weightDecay.rate ?? className.defaultWeightDecay,
                                          mode: weightDecayMode?.mode ?? base?.weightDecay.mode ?? className.defaultWeightDecayMode,
                                          excluding: decayExclusions)
        let adaptationExclusions = !excludeFromLayerAdaptation.isEmpty ? excludeFromLayerAdaptation
            : base?.trustRatio?.excluded.map(\.pattern) ?? decayExclusions
        var trustRatio = base?.trustRatio
        switch className {
        case .lars:
            var previous: (coefficient: Double, epsilon: Double)?
            if case .lars(let coefficient, let epsilon)? = base?.trustRatio?.kind { previous = (coefficient, epsilon) }
            trustRatio = try .lars(trustCoefficient: trustCoefficient ?? previous?.coefficient ?? 0.001,
                                   epsilon: epsilon ?? previous?.epsilon ?? 1e-8, excluding: adaptationExclusions)
        case .lamb:
            trustRatio = .lamb(excluding: adaptationExclusions)
        default:
            break
        }

        let clipping: GradientClipping
        switch (clipNorm, clipValue) {
        case (let norm?, nil): clipping = try GradientClipping(globalNorm: norm)
        case (nil, let value?): clipping = try GradientClipping(value: value)
        case (nil, nil): clipping = base?.clipping ?? .none
        default: throw OptimizerError(.conflict(keys: [.globalClipnorm, .clipvalue], hint: "give --clip-norm or --clip-value, not both"))
        }

        let schedule = try base.flatMap { givesScheduleFlag ? nil : $0.schedule }
            ?? makeSchedule(defaultLearningRate: className.defaultLearningRate)
        return try OptimizerConfiguration(
            className: className, rule: rule, trustRatio: trustRatio, weightDecay: weightDecay, clipping: clipping,
            schedule: schedule, layerRates: layerRates ?? base?.layerRates ?? className.defaultLayerRates,
            perTensor: layerRatesPerTensor || (base?.perTensor ?? false))
    }

    /// Refuses a rule flag the class does not read, e.g. `--beta1` with `--optimizer sgd`.
    private func checkFlagsApply(to className: OptimizerConfiguration.ClassName) throws {
        var given: [(flag: String, classes: [OptimizerConfiguration.ClassName])] = []
        if momentum != nil { given.append(("--momentum", [.sgd, .rmsprop, .lars])) }
        if nesterov { given.append(("--nesterov", [.sgd, .lars])) }
        if beta1 != nil { given.append(("--beta1", [.adam, .adamW, .lamb])) }
        if beta2 != nil { given.append(("--beta2", [.adam, .adamW, .lamb])) }
        if amsgrad { given.append(("--amsgrad", [.adam, .adamW, .lamb])) }
        if epsilon != nil { given.append(("--epsilon", [.adagrad, .rmsprop, .adam, .adamW, .lars, .lamb])) }
        if rho != nil { given.append(("--rho", [.rmsprop])) }
        if centered { given.append(("--centered", [.rmsprop])) }
        if initialAccumulator != nil { given.append(("--initial-accumulator", [.adagrad])) }
        if trustCoefficient != nil { given.append(("--trust-coefficient", [.lars])) }
        if !excludeFromLayerAdaptation.isEmpty { given.append(("--exclude-from-layer-adaptation", [.lars, .lamb])) }
        for (flag, classes) in given where !classes.contains(className) {
            throw OptimizerError(.conflict(keys: [], hint: "\(flag) does not apply to \(className.rawValue); it is for \(classes.map(\.rawValue).joined(separator: ", "))"))
        }
    }

    /// Whether the cosine schedule's period is the run's length in steps (`--schedule cosine` without
    /// `--step-size`), which the library sets once it knows the steps per epoch.
    var cosinePeriodSpansRun: Bool { schedule == .cosine && stepSize == nil }

    /// Refuses a schedule flag the chosen schedule does not read, e.g. `--gamma` with `--schedule cosine`
    /// or without `--schedule`.
    private func checkScheduleFlagsApply(to chosen: ScheduleName) throws {
        var given: [(flag: String, schedules: [ScheduleName])] = []
        if gamma != nil { given.append(("--gamma", [.step, .multistep, .exponential, .inverse])) }
        if stepSize != nil { given.append(("--step-size", [.step, .cosine])) }
        if stepUnit != nil { given.append(("--step-unit", [.step, .cosine])) }
        if milestones != nil { given.append(("--milestones", [.multistep])) }
        if power != nil { given.append(("--power", [.inverse])) }
        if minLearningRate != nil { given.append(("--min-learning-rate", [.cosine, .plateau])) }
        if plateauMonitor != nil { given.append(("--plateau-monitor", [.plateau])) }
        if plateauFactor != nil { given.append(("--plateau-factor", [.plateau])) }
        if plateauPatience != nil { given.append(("--plateau-patience", [.plateau])) }
        if plateauCooldown != nil { given.append(("--plateau-cooldown", [.plateau])) }
        for (flag, schedules) in given where !schedules.contains(chosen) {
            let current = schedule == nil ? "the default schedule, constant" : "--schedule \(chosen.rawValue)"
            throw OptimizerError(.conflict(keys: [], hint: "\(flag) does not apply to \(current); it is for --schedule \(schedules.map(\.rawValue).joined(separator: ", "))"))
        }
        if warmupStartFactor != nil, warmupSteps == nil {
            throw OptimizerError(.conflict(keys: [], hint: "--warmup-start-factor does not apply without a warm-up; give --warmup-steps N"))
        }
    }

    /// The schedule the schedule flags describe, at `defaultLearningRate` unless `--learning-rate` is given.
    /// A cosine schedule without `--step-size` spans one epoch here (with `--step-unit epoch`: one per
    /// epoch unit); ``cosinePeriodSpansRun`` tells the library to stretch it over the run.
    private func makeSchedule(defaultLearningRate: Double) throws -> any LearningRateSchedule {
        try checkScheduleFlagsApply(to: schedule ?? .constant)
        let rate = learningRate ?? defaultLearningRate
        func required<Value>(_ value: Value?, _ flag: String) throws -> Value {
            guard let value else {
                throw OptimizerError(.conflict(keys: [], hint: "--schedule \(schedule?.rawValue ?? "") needs \(flag)"))
            }
            return value
        }
        let unit = stepUnit ?? .epoch
        var result: any LearningRateSchedule
        switch schedule ?? .constant {
        case .constant:
            result = try ConstantSchedule(learningRate: rate)
        case .step:
            result = try StepSchedule(learningRate: rate, gamma: gamma ?? 0.1, stepSize: try required(stepSize, "--step-size"), unit: unit)
        case .multistep:
            let epochs = try (milestones ?? "").split(separator: ",").map { text -> Int in
                guard let epoch = Int(text.trimmingCharacters(in: .whitespaces)) else {
                    throw OptimizerError(invalid: .milestones, value: "'\(milestones ?? "")'", hint: "list epochs like 30,60")
                }
                return epoch
            }
            result = try MultiStepSchedule(learningRate: rate, gamma: gamma ?? 0.1, milestones: epochs)
        case .exponential:
            result = try ExponentialSchedule(learningRate: rate, gamma: try required(gamma, "--gamma"))
        case .inverse:
            result = try InverseSchedule(learningRate: rate, gamma: try required(gamma, "--gamma"), power: try required(power, "--power"))
        case .cosine:
            // Without --step-size: a stand-in of one unit, stretched over the run by the library.
            result = try CosineSchedule(learningRate: rate, minimumLearningRate: minLearningRate ?? 0,
                                        period: stepSize ?? 1, unit: stepSize == nil ? stepUnit ?? .step : unit)
        case .plateau:
            let monitor = plateauMonitor ?? "val_loss"
            result = try ReduceOnPlateau(learningRate: rate, monitor: monitor, mode: monitor.hasSuffix("accuracy") ? .max : .min,
                                         factor: plateauFactor ?? 0.1, patience: plateauPatience ?? 10,
                                         cooldown: plateauCooldown ?? 0, minimumLearningRate: minLearningRate ?? 0)
        }
        if let warmupSteps {
            result = try WarmupSchedule(steps: warmupSteps, startFactor: warmupStartFactor ?? 0, schedule: result)
        }
        return result
    }

    /// The error with each config key named by the flag that sets it.
    static func message(_ error: OptimizerError) -> String { error.described(naming: flag) }

    /// The flag that sets `key`, or the key itself when no flag does.
    static func flag(for key: OptimizerKey) -> String {
        switch key {
        case .className: return "--optimizer"
        case .learningRate: return "--learning-rate"
        case .momentum: return "--momentum"
        case .nesterov: return "--nesterov"
        case .beta1: return "--beta1"
        case .beta2: return "--beta2"
        case .epsilon: return "--epsilon"
        case .amsgrad: return "--amsgrad"
        case .rho, .alpha: return "--rho"
        case .centered: return "--centered"
        case .initialAccumulatorValue: return "--initial-accumulator"
        case .trustCoefficient: return "--trust-coefficient"
        case .excludeFromLayerAdaptation: return "--exclude-from-layer-adaptation"
        case .weightDecay: return "--weight-decay"
        case .weightDecayMode: return "--weight-decay-mode"
        case .excludeFromWeightDecay: return "--exclude-from-weight-decay"
        case .globalClipnorm, .clipnorm: return "--clip-norm"
        case .clipvalue: return "--clip-value"
        case .layerRates: return "--layer-rates"
        case .layerRatesPerTensor: return "--layer-rates-per-tensor"
        case .gamma: return "--gamma"
        case .stepSize, .period: return "--step-size"
        case .unit: return "--step-unit"
        case .milestones: return "--milestones"
        case .power: return "--power"
        case .minimumLearningRate: return "--min-learning-rate"
        case .steps: return "--warmup-steps"
        case .startFactor: return "--warmup-start-factor"
        case .schedule: return "--schedule"
        case .monitor, .mode: return "--plateau-monitor"
        case .factor: return "--plateau-factor"
        case .patience: return "--plateau-patience"
        case .cooldown: return "--plateau-cooldown"
        case .learningRateDecay, .layerAdaptation, .threshold, .thresholdMode, .lossScaleFactor,
             .gradientAccumulationSteps, .decay, .useEMA:
            return key.rawValue
        }
    }
}

extension ScheduleUnit: ExpressibleByArgument {}
