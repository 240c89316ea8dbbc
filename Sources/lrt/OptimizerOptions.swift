import ArgumentParser
import Foundation
import LRTLayers
import LRTOptimizers

/// The optimizer flags of every command that trains; they build the Keras-style
/// optimizer config that ``Optimizer/make(config:)`` validates and builds.
struct OptimizerOptions: ParsableArguments {
    enum Name: String, ExpressibleByArgument, CaseIterable {
        case sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, lars, lamb
    }

    enum ScheduleName: String, ExpressibleByArgument, CaseIterable {
        case constant, step, multistep, exponential, inverse, cosine, plateau
    }

    enum DecayMode: String, ExpressibleByArgument, CaseIterable {
        case coupled, decoupled
    }

    enum Unit: String, ExpressibleByArgument, CaseIterable {
        case epoch, step
    }

    @Option(help: ArgumentHelp("Base update rule (torch.optim formulas): sgd, momentum (SGD, momentum 0.9), nesterov, adagrad, rmsprop, adam, adamw, lars, lamb.", valueName: "name"))
    var optimizer = Name.momentum

    @Option(help: ArgumentHelp("A Keras-style optimizer config {\"class_name\": …, \"config\": {…}} for reproducible runs; replaces the optimizer flags.", valueName: "file.json"))
    var optimizerConfig: String?

    @Option(parsing: .unconditional, help: "Global learning rate t (default: 0.01 for SGD-family, AdaGrad, RMSProp; 0.001 for Adam-family; 1 for LARS).")
    var learningRate: Double?

    @Option(parsing: .unconditional, help: "Momentum in [0, 1) for sgd/momentum/nesterov/rmsprop/lars (default 0.9 for momentum, nesterov, lars; else 0).")
    var momentum: Double?

    @Flag(help: "Use Nesterov momentum (sgd, momentum, lars).")
    var nesterov = false

    @Option(name: .customLong("beta1"), parsing: .unconditional, help: "Adam/AdamW/LAMB β1 in [0, 1) (default 0.9).")
    var beta1: Double?

    @Option(name: .customLong("beta2"), parsing: .unconditional, help: "Adam/AdamW/LAMB β2 in [0, 1) (default 0.999).")
    var beta2: Double?

    @Option(parsing: .unconditional, help: "Epsilon added to denominators (> 0; each rule has torch's default).")
    var epsilon: Double?

    @Flag(help: "Adam/AdamW: the AMSGrad variant.")
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

    @Option(help: "Learning-rate schedule: constant, step, multistep, exponential, inverse, cosine, plateau.")
    var schedule = ScheduleName.constant

    @Option(parsing: .unconditional, help: "step/multistep/exponential: multiply the rate by gamma; inverse: Caffe's inv gamma.")
    var gamma: Double?

    @Option(help: "step: multiply by gamma every N units; cosine: the period in units.")
    var stepSize: Int?

    @Option(help: "Unit of --step-size for step and cosine schedules.")
    var stepUnit = Unit.epoch

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

    @Option(help: "plateau: the validation metric watched (val_loss, val_accuracy, loss, accuracy).")
    var plateauMonitor = "val_loss"

    @Option(parsing: .unconditional, help: "plateau: multiply the rate by this factor (default 0.1).")
    var plateauFactor: Double?

    @Option(help: "plateau: epochs without improvement before reducing (default 10).")
    var plateauPatience: Int?

    @Option(help: "plateau: epochs to wait after a reduction (default 0).")
    var plateauCooldown: Int?

    /// The optimizer config these flags describe (or the file's), validated by building it once.
    func config() throws -> JSONValue {
        if let optimizerConfig {
            let text: String
            do { text = try String(contentsOfFile: optimizerConfig, encoding: .utf8) } catch {
                throw CommandError("cannot read optimizer config \(optimizerConfig): \((error as NSError).localizedDescription)")
            }
            do { return try checked(try JSONValue.parse(text)) } catch let error as JSONError {
                throw CommandError("optimizer config \(optimizerConfig) is not valid JSON: \(error)")
            } catch {
                throw CommandError("optimizer config \(optimizerConfig): \(error)")
            }
        }
        var options: [(key: String, value: JSONValue)] = []
        func add(_ key: String, _ value: Double?) { if let value { options.append((key, .number(value))) } }
        func add(_ key: String, _ flag: Bool) { if flag { options.append((key, .bool(true))) } }
        let className: String
        switch optimizer {
        case .sgd, .momentum, .nesterov:
            className = "SGD"
            add("momentum", momentum ?? (optimizer == .sgd && !nesterov ? nil : 0.9))
            add("nesterov", nesterov || optimizer == .nesterov)
        case .adagrad:
            className = "Adagrad"
            add("initial_accumulator_value", initialAccumulator)
        case .rmsprop:
            className = "RMSprop"
            add("rho", rho)
            add("momentum", momentum)
            add("centered", centered)
        case .adam, .adamw, .lamb:
            className = ["adam": "Adam", "adamw": "AdamW", "lamb": "LAMB"][optimizer.rawValue]!
            add("beta_1", beta1)
            add("beta_2", beta2)
            add("amsgrad", amsgrad)
        case .lars:
            className = "LARS"
            add("momentum", momentum)
            add("nesterov", nesterov)
            add("trust_coefficient", trustCoefficient)
        }
        add("epsilon", epsilon)
        add("weight_decay", weightDecay)
        if let weightDecayMode { options.append(("weight_decay_mode", .string(weightDecayMode.rawValue))) }
        if !excludeFromWeightDecay.isEmpty {
            options.append(("exclude_from_weight_decay", .array(excludeFromWeightDecay.map { .string($0) })))
        }
        if !excludeFromLayerAdaptation.isEmpty {
            options.append(("exclude_from_layer_adaptation", .array(excludeFromLayerAdaptation.map { .string($0) })))
        }
        add("global_clipnorm", clipNorm)
        add("clipvalue", clipValue)
        if let layerRates { options.append(("layer_rates", .string(layerRates.rawValue))) }
        add("layer_rates_per_tensor", layerRatesPerTensor)
        if let schedule = try scheduleConfig() { options.append(("learning_rate", schedule)) }
        do {
            return try checked(.object([("class_name", .string(className)), ("config", .object(options))]))
        } catch let error as OptimizerError {
            // Name the flag the user typed rather than the config key.
            guard let option = error.option, let flag = Self.flags[option] else { throw error }
            throw CommandError(error.description.replacingOccurrences(of: "invalid \(option)", with: "invalid \(flag)"))
        }
    }

    /// Config keys and the flags that set them.
    private static let flags = [
        "learning rate": "--learning-rate", "learning_rate": "--learning-rate", "momentum": "--momentum",
        "beta_1": "--beta1", "beta_2": "--beta2", "epsilon": "--epsilon", "rho": "--rho",
        "initial_accumulator_value": "--initial-accumulator", "trust_coefficient": "--trust-coefficient",
        "weight_decay": "--weight-decay", "global_clipnorm": "--clip-norm", "clipvalue": "--clip-value",
        "gamma": "--gamma", "step_size": "--step-size", "period": "--step-size", "power": "--power",
        "minimum_learning_rate": "--min-learning-rate", "steps": "--warmup-steps", "start_factor": "--warmup-start-factor",
        "factor": "--plateau-factor", "patience": "--plateau-patience", "cooldown": "--plateau-cooldown",
        "milestones": "--milestones", "monitor": "--plateau-monitor",
    ]

    /// The `learning_rate` entry: nil keeps the class's default constant rate.
    private func scheduleConfig() throws -> JSONValue? {
        var members: [(key: String, value: JSONValue)] = []
        func add(_ key: String, _ value: Double?) { if let value { members.append((key, .number(value))) } }
        add("learning_rate", learningRate)
        let className: String
        switch schedule {
        case .constant:
            className = "Constant"
        case .step:
            className = "Step"
            add("gamma", gamma)
            add("step_size", stepSize.map(Double.init))
            members.append(("unit", .string(stepUnit.rawValue)))
        case .multistep:
            className = "MultiStep"
            add("gamma", gamma)
            let epochs = try (milestones ?? "").split(separator: ",").map { text -> JSONValue in
                guard let epoch = Int(text.trimmingCharacters(in: .whitespaces)) else {
                    throw CommandError("--milestones must list epochs like 30,60, got '\(milestones ?? "")'")
                }
                return .number(Double(epoch))
            }
            members.append(("milestones", .array(epochs)))
        case .exponential:
            className = "Exponential"
            add("gamma", gamma)
        case .inverse:
            className = "Inverse"
            add("gamma", gamma)
            add("power", power)
        case .cosine:
            className = "Cosine"
            add("minimum_learning_rate", minLearningRate)
            add("period", stepSize.map(Double.init))
            members.append(("unit", .string(stepUnit.rawValue)))
        case .plateau:
            className = "ReduceOnPlateau"
            members.append(("monitor", .string(plateauMonitor)))
            members.append(("mode", .string(plateauMonitor.hasSuffix("accuracy") ? "max" : "min")))
            add("factor", plateauFactor)
            add("patience", plateauPatience.map(Double.init))
            add("cooldown", plateauCooldown.map(Double.init))
            add("minimum_learning_rate", minLearningRate)
        }
        var schedule: JSONValue? = className == "Constant" && members.isEmpty ? nil
            : .object([("class_name", .string(className)), ("config", .object(members))])
        if let warmupSteps {
            var warmup: [(key: String, value: JSONValue)] = [("steps", .number(Double(warmupSteps)))]
            if let warmupStartFactor { warmup.append(("start_factor", .number(warmupStartFactor))) }
            warmup.append(("schedule", schedule ?? .null))
            schedule = .object([("class_name", .string("Warmup")), ("config", .object(warmup))])
        }
        return schedule
    }

    /// Builds the optimizer once so a bad value fails before any data is read.
    private func checked(_ config: JSONValue) throws -> JSONValue {
        _ = try Optimizer.make(config: config)
        return config
    }
}
