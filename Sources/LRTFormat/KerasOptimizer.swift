import Foundation
import LRTHDF5
import LRTLayers
import LRTOptimizers
import LRTTensor

/// The optimizer a Keras `.h5` file was compiled with (`training_config`) and the state
/// Keras saved for it (`optimizer_weights`), with every slot named by lrt parameter path.
///
/// Keras 3 stores `optimizer_weights/<optimizer>/iteration`, `…/learning_rate` and one
/// dataset per slot and weight, `<optimizer>/<model>_<layer>_<weight>_<slot>`
/// (`sgd/mlp_dense_kernel_momentum`, `adam/mlp_dense_kernel_velocity`). tf.keras 2.11+
/// stores `iteration:0` and `<optimizer>/<slot>/<layer>/<weight>:0` (`SGD/m/dense/kernel:0`,
/// `Adam/v/dense/kernel:0`), its legacy optimizers `<optimizer>/iter:0` and
/// `<optimizer>/<layer>/<weight>/<slot>:0` (`SGD/dense/kernel/momentum:0`). ``makeOptimizer(for:layerRates:)`` converts the state into
/// an lrt optimizer through ``KerasOptimizerImport``.
public struct KerasOptimizerState {
    /// The Keras class name (`SGD`, `Adam`).
    public var className: String
    /// The Keras optimizer `config` object as Keras wrote it (`learning_rate`, `momentum`, …).
    public var config: JSONValue
    /// Updates Keras applied (`iteration`), or nil when the file holds no optimizer weights.
    public var iteration: Int?
    /// The rate of Keras's last update: `optimizer_weights/…/learning_rate`, else the
    /// config's `learning_rate` when it is a number; nil for a schedule.
    public var learningRate: Double?
    /// The slots, by Keras slot name (`momentum`, `velocity`), then lrt parameter path (`dense.kernel`).
    public var slots: [String: [String: Tensor]] = [:]
    /// Why `optimizer_weights` could not be read or matched to the model, if so (also a
    /// warning of the load); ``makeOptimizer(for:layerRates:)`` then throws it.
    public var problem: CheckpointError?

    public init(className: String, config: JSONValue) {
        self.className = className
        self.config = config
        learningRate = config["learning_rate"]?.numberValue
    }

    /// Reads the optimizer named by `training_config` and, when present, `optimizer_weights`.
    /// Problems with the optimizer weights never fail the load: the model is usable without them.
    static func read(trainingConfig: JSONValue, root: HDF5Group, model: any Model, path: String,
                     warnings: inout [String]) -> KerasOptimizerState? {
        guard let optimizerConfig = trainingConfig["optimizer_config"],
              let className = optimizerConfig["class_name"]?.stringValue
        else { return nil }
        var state = KerasOptimizerState(className: className, config: optimizerConfig["config"] ?? .object([]))
        guard root.contains("optimizer_weights") else { return state }
        do {
            try state.readWeights(from: try root.openGroup("optimizer_weights"), model: model, path: path)
        } catch {
            state.slots = [:]
            state.problem = CheckpointError.carrying(error, path: path)
            warnings.append("\(path): Keras optimizer state not usable: \(error)")
        }
        return state
    }

    private mutating func readWeights(from group: HDF5Group, model: any Model, path: String) throws {
        let names = try group.stringArrayAttribute("weight_names")
        let mapping = KerasOptimizerImport.mapping(for: className)
        // Every name a slot of a parameter may have, for exact lookup.
        var candidates: [String: (slot: String, parameter: Parameter)] = [:]
        for parameter in model.parameters {
            for slot in mapping?.slots.map(\.kerasSlot) ?? [] {
                candidates["\(model.name)_\(parameter.layerName)_\(parameter.weightName)_\(slot)"] = (slot, parameter)
                candidates["\(parameter.layerName)_\(parameter.weightName)_\(slot)"] = (slot, parameter)
            }
            for (alias, slot) in mapping?.keras2SlotNames ?? [:] {
                // tf.keras 2.11+ optimizers: "SGD/m/dense/kernel:0"; the legacy ones: "SGD/dense/kernel/momentum:0".
                candidates["\(alias)/\(parameter.layerName)/\(parameter.weightName):0"] = (slot, parameter)
                candidates["\(parameter.layerName)/\(parameter.weightName)/\(alias):0"] = (slot, parameter)
            }
        }
        var unmatched: [String] = []
        for name in names {
            let components = name.split(separator: "/").map(String.init)
            let datasetPath = "\(group.path)/\(name)"
            guard !name.isEmpty, group.contains(name) else {
                throw CheckpointError(path: path, "\(path): weight_names lists '\(name)' but \(datasetPath) is missing")
            }
            let last = CheckpointReader.shortWeightName(name)
            if ["iteration", "iterations", "iter"].contains(last) {
                let (values, shape) = try scalar(group, name, path: path)
                let count = values[0]
                guard count.rounded() == count, count >= 0, count <= Double(CheckpointLimits.steps) else {
                    throw CheckpointError(path: path, "\(path): \(datasetPath) holds \(count) (shape \(shape)); expected a count of updates")
                }
                iteration = Int(count)
                continue
            }
            if ["learning_rate", "lr"].contains(last) {
                let (values, _) = try scalar(group, name, path: path)
                guard let rate = values.first, rate.isFinite, rate > 0 else {
                    throw CheckpointError(path: path, "\(path): \(datasetPath) must be one positive learning rate")
                }
                learningRate = rate
                continue
            }
            let tail = components.dropFirst().joined(separator: "/")
            guard let match = candidates[tail] ?? candidates[name] else {
                unmatched.append(name)
                continue
            }
            let (slot, parameter) = match
            let shape = try group.datasetShape(name)
            guard shape == parameter.value.shape else {
                throw CheckpointError(path: path, "\(path): \(datasetPath) has shape \(shape) but \(parameter.path) is \(parameter.value.shape)")
            }
            let values = try group.readFloats(name).values
            guard values.allSatisfy(\.isFinite) else {
                throw CheckpointError(path: path, "\(path): \(datasetPath) contains NaN or infinite values")
            }
            guard slots[slot, default: [:]].updateValue(Tensor(shape: shape, storage: values), forKey: parameter.path) == nil else {
                throw CheckpointError(path: path, "\(path): \(group.path)@weight_names holds the \(slot) of \(parameter.path) twice")
            }
        }
        guard unmatched.isEmpty else {
            let known = mapping == nil
                ? "lrt cannot import the state of a Keras \(className) optimizer (it imports \(KerasOptimizerImport.importable.map(\.kerasClass)))"
                : "they match no parameter of the model"
            throw CheckpointError(path: path, "\(path): \(group.path) holds \(unmatched.count) weights lrt cannot use, e.g. '\(unmatched[0])': \(known)")
        }
    }

    /// A scalar (or one-element) numeric dataset.
    private func scalar(_ group: HDF5Group, _ name: String, path: String) throws -> (values: [Double], shape: [Int]) {
        let shape = try group.datasetShape(name)
        guard shape.reduce(1, *) == 1 else {
            throw CheckpointError(path: path, "\(path): \(group.path)/\(name) has shape \(shape), expected a scalar")
        }
        return (try group.readFloats(name).values.map(Double.init), shape)
    }

    /// An lrt optimizer that continues where Keras stopped: the same rule and
    /// hyperparameters, Keras's update count as its step, and every slot converted
    /// by ``KerasOptimizerImport`` (SGD momentum: `v = −m / learning_rate`).
    ///
    /// - Parameters:
    ///   - model: the model loaded from the same file (slots are checked against its parameters).
    ///   - layerRates: the layer-wise rate rule (default `off`: Keras's plain update, so
    ///     the next steps equal Keras's).
    /// - Throws: ``CheckpointError`` when the optimizer or one of its options is not
    ///   supported, the learning rate is a schedule, or the state does not match the model.
    public func makeOptimizer(for model: any Model, layerRates: LayerRates = .off) throws -> Optimizer {
        if let problem { throw problem }
        guard let mapping = KerasOptimizerImport.mapping(for: className) else {
            throw CheckpointError(.kerasOptimizer("Keras optimizer \(className) cannot be imported; lrt imports \(KerasOptimizerImport.importable.map(\.kerasClass).joined(separator: ", ")); train with a fresh optimizer instead"))
        }
        for key in config.keys where !mapping.options.contains(key) {
            guard let value = config[key], KerasOptimizerImport.isInert(key, value) else {
                throw CheckpointError(.kerasOptimizer("Keras \(className) option \"\(key)\": \(config[key]?.serialized ?? "") is not supported by lrt; the optimizer cannot be imported"))
            }
        }
        guard let learningRate, learningRate.isFinite, learningRate > 0 else {
            throw CheckpointError(.kerasOptimizer("Keras \(className) learning_rate \(config["learning_rate"]?.serialized ?? "null") is not a constant positive number; lrt imports constant rates only"))
        }
        let optimizer: Optimizer
        do {
            optimizer = try Optimizer.make(config: try mapping.makeConfig!(config, learningRate, layerRates))
        } catch let error as OptimizerError {
            throw CheckpointError(.optimizer(location: "Keras \(className) config cannot be used by lrt", error))
        }
        let context = KerasOptimizerImport.Context(learningRate: learningRate, iteration: iteration ?? 0, config: config)
        var converted: [String: [Tensor]] = [:]
        let lrtSlots = optimizer.rule.slotNames
        let usedKerasSlots = Set(mapping.slots.filter { lrtSlots.contains($0.lrtSlot) }.map(\.kerasSlot))
        if let unused = slots.keys.sorted().first(where: { !usedKerasSlots.contains($0) }) {
            throw CheckpointError(.kerasOptimizer("Keras \(className) slot '\(unused)' has no counterpart in lrt's \(optimizer.rule.name) optimizer (slots \(lrtSlots))"))
        }
        if !slots.isEmpty {
            for parameter in model.parameters {
                converted[parameter.path] = try lrtSlots.map { lrtSlot in
                    guard let row = mapping.slots.first(where: { $0.lrtSlot == lrtSlot }) else {
                        throw CheckpointError(.kerasOptimizer("lrt's \(optimizer.rule.name) slot '\(lrtSlot)' has no Keras counterpart in KerasOptimizerImport; add one"))
                    }
                    guard let value = slots[row.kerasSlot]?[parameter.path] else {
                        throw CheckpointError(.kerasOptimizer("the Keras \(className) state has no '\(row.kerasSlot)' for \(parameter.path)"))
                    }
                    return try row.convert(value, context)
                }
            }
        } else if !lrtSlots.isEmpty, (iteration ?? 0) > 0 {
            throw CheckpointError(.kerasOptimizer("the Keras \(className) optimizer made \(iteration ?? 0) updates but the file holds none of its \(mapping.slots.map(\.kerasSlot)) state"))
        }
        do {
            try optimizer.restore(step: iteration ?? 0, slots: converted.filter { !$0.value.isEmpty }, multipliers: [],
                                  parameters: model.parameters)
        } catch let error as OptimizerError {
            throw CheckpointError(.optimizer(location: "the Keras \(className) state does not fit the model", error))
        }
        return optimizer
    }
}

/// How Keras optimizers and their state become lrt optimizers: one ``Mapping`` per Keras
/// class. To import another optimizer, add a row to ``mappings``.
public enum KerasOptimizerImport {
    /// What a slot conversion may need.
    public struct Context: Sendable {
        /// The rate of Keras's last update.
        public var learningRate: Double
        /// Keras's update count.
        public var iteration: Int
        /// The Keras optimizer config.
        public var config: JSONValue
    }

    /// One Keras slot and the lrt slot it becomes.
    public struct SlotMapping: Sendable {
        /// The Keras 3 slot name (`momentum`, `velocity`).
        public var kerasSlot: String
        /// The lrt rule's slot name (`UpdateRule.slotNames`).
        public var lrtSlot: String
        /// Keras's values → lrt's.
        public var convert: @Sendable (Tensor, Context) throws -> Tensor
    }

    /// How one Keras optimizer class and lrt's optimizers map to each other, both directions.
    public struct Mapping: Sendable {
        /// The Keras class name (`SGD`); matched case-insensitively, with tf.keras's `Custom>` prefix ignored.
        public var kerasClass: String
        /// Keras config keys the import reads (besides the inert ones, see ``isInert(_:_:)``).
        public var options: Set<String>
        /// The slots, Keras → lrt (none: the class is exported but not imported).
        public var slots: [SlotMapping]
        /// tf.keras 2 slot names → Keras 3 slot names (`m` → `momentum`).
        public var keras2SlotNames: [String: String]
        /// The lrt optimizer config (``Optimizer/make(config:)``) for a Keras config, the resolved
        /// constant learning rate and the layer-wise rate rule; nil when lrt does not import the class.
        public var makeConfig: (@Sendable (JSONValue, Double, LayerRates) throws -> JSONValue)?
        /// The lrt classes saved as this Keras class, each with the lrt config keys copied into
        /// Keras's config, in order (besides `name`, `learning_rate` and the clipping keys).
        public var exports: [(lrtClass: OptimizerConfiguration.ClassName, keys: [String])]
    }

    /// The Keras optimizers lrt imports.
    ///
    /// - SGD. Keras keeps `m ← μ·m − lr·g`, `θ ← θ + m` (Nesterov: `θ ← θ + μ·m − lr·g`);
    ///   lrt (PyTorch's form) keeps `v ← μ·v + g`, `θ ← θ − lr·v` (Nesterov: `θ ← θ − lr·(g + μ·v)`).
    ///   With a constant rate both give the same steps when `v = −m / lr`, for both variants.
    /// - Adam. Keras's `momentum` and `velocity` are Adam's first and second moment
    ///   estimates m and v (Kingma & Ba 2015), the same recurrences as lrt's `first_moment`
    ///   and `second_moment` (PyTorch's `exp_avg`, `exp_avg_sq`; AMSGrad's `velocity_hat` is
    ///   `max_second_moment`); they are copied unchanged and the step count carries the bias
    ///   corrections. (Keras adds ε to √v before the bias correction, lrt and PyTorch after
    ///   it: the steps differ by O(ε).)
    ///
    /// Saving, an lrt optimizer becomes the Keras class whose ``Mapping/exports`` name its class:
    /// LARS (which Keras lacks) SGD with its momentum; LAMB AdamW (Keras 3.15's `load_model` cannot
    /// deserialize its own `Lamb`), without the trust ratio.
    public static let mappings: [Mapping] = [
        Mapping(
            kerasClass: "SGD", options: ["learning_rate", "momentum", "nesterov"],
            slots: [SlotMapping(kerasSlot: "momentum", lrtSlot: "momentum", convert: { momentum, context in
                let scale = Float(-1 / context.learningRate)
                return Tensor(shape: momentum.shape, storage: momentum.storage.map { $0 * scale })
            })],
            keras2SlotNames: ["momentum": "momentum", "m": "momentum"],
            makeConfig: { keras, learningRate, layerRates in
                .object([("class_name", .string("SGD")), ("config", .object([
                    ("momentum", .number(keras["momentum"]?.numberValue ?? 0)),
                    ("nesterov", .bool(keras["nesterov"]?.boolValue ?? false)),
                    ("learning_rate", .number(learningRate)),
                    ("layer_rates", .string(layerRates.rawValue)),
                ]))])
            },
            exports: [(.sgd, ["momentum", "nesterov"]), (.lars, ["momentum", "nesterov"])]),
        adamMapping(kerasClass: "Adam", extraOptions: [],
                    exports: [(.adam, ["beta_1", "beta_2", "epsilon", "amsgrad"])]),
        adamMapping(kerasClass: "AdamW", extraOptions: ["weight_decay"],
                    exports: [(.adamW, ["weight_decay", "beta_1", "beta_2", "epsilon", "amsgrad"]),
                              (.lamb, ["weight_decay", "beta_1", "beta_2", "epsilon"])]),
        Mapping(kerasClass: "RMSprop", options: [], slots: [], keras2SlotNames: [:], makeConfig: nil,
                exports: [(.rmsprop, ["rho", "momentum", "epsilon", "centered"])]),
        Mapping(kerasClass: "Adagrad", options: [], slots: [], keras2SlotNames: [:], makeConfig: nil,
                exports: [(.adagrad, ["initial_accumulator_value", "epsilon"])]),
    ]

    /// The Keras classes lrt imports the state of.
    public static var importable: [Mapping] { mappings.filter { $0.makeConfig != nil } }

    /// The Keras optimizer config for an lrt optimizer, as Keras 3 deserializes it (the export
    /// direction of ``mappings``).
    ///
    /// The rate is the one of the last update (the schedule's first rate before any), as a
    /// constant: Keras has no lrt schedules and no layer-wise rates. lrt's coupled weight decay
    /// (L2 added to the gradient) has no Keras option and is left out; AdamW's decoupled decay
    /// is Keras's `weight_decay`. Gradient clipping carries over. A momentum of 0 is left out
    /// (Keras's default).
    public static func kerasConfig(for optimizer: Optimizer) -> JSONValue {
        let options = optimizer.config["config"] ?? .object([])
        let rate = optimizer.step > 0 ? optimizer.lastRate : optimizer.schedule.rate(step: 0, epoch: 0)
        var kerasClass = "SGD", keys = ["momentum", "nesterov"]
        for mapping in mappings {
            if let export = mapping.exports.first(where: { $0.lrtClass == optimizer.configuration.className }) {
                (kerasClass, keys) = (mapping.kerasClass, export.keys)
            }
        }
        var members: [(key: String, value: JSONValue)] = [("name", .string(kerasClass.lowercased())),
                                                          ("learning_rate", .number(rate))]
        for key in keys + ["global_clipnorm", "clipvalue"] {
            guard let value = options[key], !value.isNull, !(key == "momentum" && value.numberValue == 0) else { continue }
            members.append((key, value))
        }
        return .object([("class_name", .string(kerasClass)), ("config", .object(members))])
    }

    /// Adam and AdamW: the same slots; AdamW adds Keras's decoupled `weight_decay`, which is lrt's
    /// (and PyTorch's) AdamW decay `θ ← θ − t·λ·θ`.
    private static func adamMapping(kerasClass: String, extraOptions: [String],
                                    exports: [(lrtClass: OptimizerConfiguration.ClassName, keys: [String])]) -> Mapping {
        Mapping(
            kerasClass: kerasClass, options: Set(["learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad"] + extraOptions),
            slots: [
                SlotMapping(kerasSlot: "momentum", lrtSlot: "first_moment", convert: { value, _ in value }),
                SlotMapping(kerasSlot: "velocity", lrtSlot: "second_moment", convert: { value, _ in value }),
                SlotMapping(kerasSlot: "velocity_hat", lrtSlot: "max_second_moment", convert: { value, _ in value }),
            ],
            keras2SlotNames: ["m": "momentum", "v": "velocity", "vhat": "velocity_hat"],
            makeConfig: { keras, learningRate, layerRates in
                var members: [(key: String, value: JSONValue)] = [
                    ("beta_1", .number(keras["beta_1"]?.numberValue ?? 0.9)),
                    ("beta_2", .number(keras["beta_2"]?.numberValue ?? 0.999)),
                    ("epsilon", .number(keras["epsilon"]?.numberValue ?? 1e-7)),
                    ("amsgrad", .bool(keras["amsgrad"]?.boolValue ?? false)),
                ]
                if extraOptions.contains("weight_decay") {
                    members.append(("weight_decay", .number(keras["weight_decay"]?.numberValue ?? 0.004)))
                }
                members += [("learning_rate", .number(learningRate)), ("layer_rates", .string(layerRates.rawValue))]
                return .object([("class_name", .string(kerasClass)), ("config", .object(members))])
            },
            exports: exports)
    }

    /// The mapping for a Keras class name, if lrt imports it.
    public static func mapping(for kerasClass: String) -> Mapping? {
        var name = kerasClass
        if name.hasPrefix("Custom>") { name.removeFirst("Custom>".count) }
        return importable.first { $0.kerasClass.lowercased() == name.lowercased() }
    }

    /// Keras optimizer options that change nothing at their value here: bookkeeping
    /// (`name`, `jit_compile`, …) and features that are off (`weight_decay` null, no
    /// clipping, no EMA, no loss scaling, no gradient accumulation, tf.keras's `decay` 0).
    public static func isInert(_ key: String, _ value: JSONValue) -> Bool {
        switch key {
        case "name", "is_legacy_optimizer", "jit_compile", "ema_momentum", "ema_overwrite_frequency":
            return true
        case "weight_decay", "decay":
            return value.isNull || value.numberValue == 0
        case "clipnorm", "global_clipnorm", "clipvalue", "loss_scale_factor", "gradient_accumulation_steps":
            return value.isNull
        case "use_ema":
            return value.boolValue == false || value.isNull
        default:
            return false
        }
    }
}

extension Checkpoint {
    /// The Keras optimizer config written into `training_config` (``KerasOptimizerImport/kerasConfig(for:)``).
    static func kerasOptimizerConfig(_ optimizer: Optimizer) -> JSONValue { KerasOptimizerImport.kerasConfig(for: optimizer) }
}
