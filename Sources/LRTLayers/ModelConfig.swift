import Foundation
import LRTTensor

/// A model description that cannot be built, with the layer and option named.
public struct ModelConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Builds models from Keras `model_config` JSON (what `model.to_json()` writes).
///
/// Omitted keys take Keras's defaults and omitted layer names are made as Keras
/// makes them (`dense`, `dense_1`, …), so a hand-written spec can stay short.
/// Anything this version cannot honour (an unknown class, a regularizer, an
/// unknown option) is an error naming it, never silently ignored.
public enum ModelConfig {
    /// The layer classes that can be built.
    public static let supportedClasses = ["InputLayer"] + LayerRegistry.classNames

    /// The most weights a model may allocate, and why: checked layer by layer before each kernel
    /// is allocated, so that a model too large for the machine is an error, not a failed allocation.
    public struct WeightLimit: Sendable {
        public var count: Int
        /// What sets it, for the error (`"ulimit -v (2.9 GB available)"`).
        public var reason: String

        public init(count: Int, reason: String) {
            self.count = count
            self.reason = reason
        }

        /// lrt's own bound, ``maximumModelWeights``.
        public static let format = WeightLimit(count: maximumModelWeights, reason: "lrt's limit of \(maximumModelWeights) weights")
    }

    /// Parses `text` and builds the model, drawing initial weights from `generator`.
    public static func build(text: String, generator: inout SeededGenerator, weightLimit: WeightLimit = .format) throws -> any Model {
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch {
            throw ModelConfigError("the model config is not valid JSON: \(error)")
        }
        return try build(json: json, generator: &generator, weightLimit: weightLimit)
    }

    /// Builds the model described by a Keras model config: `Sequential`, or `Functional` (Keras 2
    /// calls it `Model`).
    /// - Parameter weightLimit: the most weights the model may have (default: ``maximumModelWeights``).
    public static func build(json: JSONValue, generator: inout SeededGenerator, weightLimit: WeightLimit = .format) throws -> any Model {
        guard let className = json["class_name"]?.stringValue else {
            throw ModelConfigError("the model config has no \"class_name\"; expected {\"class_name\": \"Sequential\", \"config\": {\"layers\": […]}}")
        }
        let config = json["config"] ?? .object([])
        var builder = LayerBuilder(weightLimit: weightLimit.count <= maximumModelWeights ? weightLimit : .format)
        switch className {
        case "Sequential": return try buildSequential(config: config, builder: &builder, generator: &generator)
        case "Functional", "Model": return try buildFunctional(config: config, builder: &builder, generator: &generator)
        default:
            throw ModelConfigError("model class '\(className)' is not supported; use Sequential or Functional models")
        }
    }

    private static func buildSequential(config: JSONValue, builder: inout LayerBuilder,
                                        generator: inout SeededGenerator) throws -> Sequential {
        // Keras 2.2 wrote the layer list directly as the config.
        guard let layerList = config.arrayValue ?? config["layers"]?.arrayValue, !layerList.isEmpty else {
            throw ModelConfigError("the Sequential config has no \"layers\" list")
        }
        let modelName = config["name"]?.stringValue ?? "sequential"
        let modelInputShape = try inputShape(layers: layerList, modelConfig: config)
        var shape = modelInputShape
        var layers: [Layer] = []
        for (index, entry) in layerList.enumerated() {
            guard let layerClass = entry["class_name"]?.stringValue else {
                throw ModelConfigError("layer \(index) has no \"class_name\"")
            }
            if layerClass == "InputLayer" { continue }
            let layer = try builder.build(entry, className: layerClass, name: entry["config"]?["name"]?.stringValue,
                                          inputShapes: [shape], generator: &generator)
            layers.append(layer)
            shape = layer.outputShape
        }
        guard !layers.isEmpty else { throw ModelConfigError("the model has no layers besides its input") }
        let model = Sequential(name: modelName, inputShape: modelInputShape, layers: layers)
        model.frozenLayers = frozenLayers(builder: builder, modelConfig: config, layers: layers)
        return model
    }

    /// Builds one layer at a time, naming them as Keras does and bounding the model's size.
    struct LayerBuilder {
        let weightLimit: WeightLimit
        private var names = LayerNamer()
        private var weightCount = 0
        /// The layers built so far whose config says `"trainable": false`.
        private(set) var frozen: Set<String> = []

        init(weightLimit: WeightLimit = .format) { self.weightLimit = weightLimit }

        /// The layer `entry` describes (`{"class_name", "config"}`), taking inputs of `inputShapes`.
        mutating func build(_ entry: JSONValue, className: String, name: String?, inputShapes: [[Int]],
                            generator: inout SeededGenerator) throws -> Layer {
            var options = try LayerOptions(config: entry["config"] ?? .object([]), className: className,
                                       name: try names.claim(name, className: className))
            options.weightBudget = (weightLimit.count - weightCount, weightLimit.reason)
            let layer = try makeLayer(&options, inputShapes: inputShapes, generator: &generator)
            try options.rejectUnused()
            if options.config["trainable"]?.boolValue == false { frozen.insert(layer.name) }
            weightCount += layer.weights.reduce(0) { $0 + $1.value.count }
            guard weightCount <= weightLimit.count else {
                throw ModelConfigError("the model needs more than \(weightLimit.count) weights (at layer '\(layer.name)'), more than \(weightLimit.reason) allows; make it smaller")
            }
            guard layer.outputShape.reduce(1, *) <= maximumExampleSize else {
                throw ModelConfigError("\(layer.className) layer '\(layer.name)' outputs \(layer.outputShape) per example, more than \(maximumExampleSize) values; make it smaller")
            }
            return layer
        }
    }

    /// The layers to freeze: those whose config says `"trainable": false`, or every layer when the
    /// model's own config does (Keras's `model.trainable = False`).
    static func frozenLayers(builder: LayerBuilder, modelConfig: JSONValue, layers: [Layer]) -> Set<String> {
        modelConfig["trainable"]?.boolValue == false ? Set(layers.map(\.name)) : builder.frozen
    }

    /// One example's input shape, from the InputLayer, the first layer's `batch_input_shape`, or `build_input_shape`.
    static func inputShape(layers: [JSONValue], modelConfig: JSONValue) throws -> [Int] {
        let first = layers.first?["config"] ?? .object([])
        let candidates: [(String, JSONValue?, Bool)] = [
            ("batch_shape", first["batch_shape"], true),
            ("batch_input_shape", first["batch_input_shape"], true),
            ("input_shape", first["input_shape"], false),
            ("build_input_shape", modelConfig["build_input_shape"], true),
        ]
        for (key, value, hasBatchAxis) in candidates {
            guard let value, let items = value.arrayValue else { continue }
            let dimensions = hasBatchAxis ? Array(items.dropFirst()) : items
            let shape = dimensions.compactMap(\.intValue)
            guard shape.count == dimensions.count, !shape.isEmpty, shape.allSatisfy({ $0 > 0 && $0 <= 1 << 20 }),
                  shape.reduce(1, *) <= maximumExampleSize
            else {
                throw ModelConfigError("input \(key) \(value.serialized) must list positive sizes after the batch axis, e.g. [null, 28, 28, 1]")
            }
            return shape
        }
        throw ModelConfigError("the model has no input shape: start its layers with {\"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, 28, 28, 1]}}")
    }

    /// The most values one weight tensor may hold (1 GiB of floats), checked before it is allocated.
    public static let maximumWeightsPerTensor = 1 << 28
    /// The most weights a model may hold in all (4 GiB of floats).
    public static let maximumModelWeights = 1 << 30
    /// The most values one example may have at any layer's output (256 MiB of floats).
    public static let maximumExampleSize = 1 << 26

    /// Refuses a weight shape too large to allocate, before it is allocated.
    static func checkWeightShape(_ shape: [Int], layer: String) throws -> [Int] {
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= maximumWeightsPerTensor else {
                throw ModelConfigError("\(layer) would need a kernel of \(shape.map(String.init).joined(separator: " × ")) weights, more than \(maximumWeightsPerTensor); make it smaller")
            }
            count = product
        }
        return shape
    }

    private static func makeLayer(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        guard let type = LayerRegistry.type(named: options.className) else {
            throw ModelConfigError("layer class '\(options.className)' (layer '\(options.name)') is not supported; supported classes: \(supportedClasses.joined(separator: ", "))")
        }
        return try type.make(&options, inputShapes: inputShapes, generator: &generator)
    }

    /// The input as `[height, width, channels]`, or an error naming the layer.
    static func imageShape(_ inputShape: [Int], layer: String) throws -> [Int] {
        guard inputShape.count == 3 else {
            throw ModelConfigError("\(layer) gets input of shape \(inputShape); it needs images [height, width, channels] (channels_last)")
        }
        return inputShape
    }

    /// Refuses a window that does not fit the image under valid padding.
    static func checkWindow(_ image: [Int], window: (Int, Int), strides: (Int, Int), padding: Padding,
                                    layer: String, what: String) throws {
        guard WindowGeometry(inputHeight: image[0], inputWidth: image[1], channels: image[2],
                             windowHeight: window.0, windowWidth: window.1,
                             strideHeight: strides.0, strideWidth: strides.1, padding: padding) != nil
        else {
            throw ModelConfigError("\(layer): \(what) [\(window.0), \(window.1)] does not fit its \(image[0])×\(image[1]) input with padding \"valid\"; use a smaller window or padding \"same\"")
        }
    }
}

/// Makes Keras's default layer names (`dense`, `dense_1`, …) and refuses duplicates.
struct LayerNamer {
    private var used: Set<String> = []
    private var counters: [String: Int] = [:]

    mutating func claim(_ explicit: String?, className: String) throws -> String {
        if let explicit {
            guard !explicit.isEmpty, !explicit.contains("/"), !explicit.contains(".") else {
                throw ModelConfigError("layer name '\(explicit)' must be non-empty and contain no '/' or '.'")
            }
            guard used.insert(explicit).inserted else {
                throw ModelConfigError("two layers are named '\(explicit)'; layer names must be unique")
            }
            return explicit
        }
        let base = LayerNamer.snakeCase(className)
        while true {
            let count = counters[base, default: 0]
            counters[base] = count + 1
            let candidate = count == 0 ? base : "\(base)_\(count)"
            if used.insert(candidate).inserted { return candidate }
        }
    }

    /// Keras's `to_snake_case`: `Dense` → `dense`, `ReLU` → `re_lu`, `MaxPooling2D` → `max_pooling2d`.
    static func snakeCase(_ name: String) -> String {
        var result = name.replacingOccurrences(of: "\\W+", with: "", options: .regularExpression)
        result = result.replacingOccurrences(of: "(.)([A-Z][a-z]+)", with: "$1_$2", options: .regularExpression)
        result = result.replacingOccurrences(of: "([a-z])([A-Z])", with: "$1_$2", options: .regularExpression)
        return result.lowercased()
    }
}

/// Reads one layer's config options through a ``ConfigReader``, which consumes every key read, so that
/// a key nothing read is refused by ``rejectUnused()``; the checks below add the layer's name and the
/// allowed ranges to the reader's.
struct LayerOptions {
    let config: JSONValue
    let className: String
    let name: String
    private var reader: ConfigReader
    /// The weights the model may still allocate, and why (see ``ModelConfig/WeightLimit``).
    var weightBudget = (count: ModelConfig.maximumModelWeights, reason: "lrt's limit")

    /// - Throws: ``ModelConfigError`` when `config` is not a JSON object.
    init(config: JSONValue, className: String, name: String) throws {
        self.config = config
        self.className = className
        self.name = name
        do { reader = try ConfigReader(config, context: "\(className) layer '\(name)'") } catch {
            throw ModelConfigError("\(className) layer '\(name)': its config must be a JSON object")
        }
        // Read by the model (name, input shape) or checked by rejectUnused (trainable, dtype).
        for key in ["name", "trainable", "dtype", "batch_shape", "batch_input_shape", "input_shape"] { reader.forget(key) }
    }

    /// The full Keras name of the layer for error messages: `Add layer 'add'`.
    var layerDescription: String { reader.context }

    private mutating func value(_ key: String) -> JSONValue? {
        guard let value = reader.take(key), !value.isNull else { return nil }
        return value
    }

    mutating func integer(_ key: String, default fallback: Int?, range: ClosedRange<Int>) throws -> Int {
        guard let value = value(key) else {
            guard let fallback else { throw ModelConfigError("\(layerDescription) needs \"\(key)\"") }
            return fallback
        }
        guard let number = value.intValue, range.contains(number) else {
            throw ModelConfigError("\(layerDescription): \"\(key)\" must be an integer in \(range.lowerBound)...\(range.upperBound), got \(value.serialized)")
        }
        return number
    }

    mutating func number(_ key: String, default fallback: Double) throws -> Double {
        try optionalNumber(key) ?? fallback
    }

    mutating func optionalNumber(_ key: String) throws -> Double? {
        guard let value = value(key) else { return nil }
        guard let number = value.numberValue, number.isFinite else {
            throw ModelConfigError("\(layerDescription): \"\(key)\" must be a finite number, got \(value.serialized)")
        }
        return number
    }

    mutating func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = value(key) else { return fallback }
        guard let flag = value.boolValue else {
            throw ModelConfigError("\(layerDescription): \"\(key)\" must be true or false, got \(value.serialized)")
        }
        return flag
    }

    mutating func string(_ key: String, default fallback: String) throws -> String {
        guard let value = value(key) else { return fallback }
        guard let text = value.stringValue else {
            throw ModelConfigError("\(layerDescription): \"\(key)\" must be a string, got \(value.serialized)")
        }
        return text
    }

    /// The raw value of `key` (nil when absent or null), marked as used.
    mutating func raw(_ key: String) -> JSONValue? { value(key) }

    /// An integer or a pair of integers (`3` means `[3, 3]`), as Keras's `kernel_size`, `strides`, `pool_size`.
    mutating func pair(_ key: String, default fallback: (Int, Int)?, range: ClosedRange<Int>) throws -> (Int, Int) {
        guard let value = value(key) else {
            guard let fallback else { throw ModelConfigError("\(layerDescription) needs \"\(key)\"") }
            return fallback
        }
        let numbers = value.intValue.map { [$0, $0] } ?? value.arrayValue?.compactMap(\.intValue) ?? []
        guard numbers.count == 2, (value.arrayValue?.count ?? 2) == 2, numbers.allSatisfy(range.contains) else {
            throw ModelConfigError("\(layerDescription): \"\(key)\" must be an integer or a pair of integers in \(range.lowerBound)...\(range.upperBound), got \(value.serialized)")
        }
        return (numbers[0], numbers[1])
    }

    /// Keras's `padding`: "valid" (default) or "same", in any case.
    mutating func padding() throws -> Padding {
        let text = try string("padding", default: "valid")
        guard let padding = Padding(rawValue: text.lowercased()) else {
            throw ModelConfigError("\(layerDescription): padding \"\(text)\" is not supported; use \"valid\" or \"same\"")
        }
        return padding
    }

    /// Refuses any `data_format` but channels_last (null means Keras's default, channels_last).
    mutating func channelsLast() throws {
        let format = try string("data_format", default: "channels_last")
        guard format == "channels_last" else {
            throw ModelConfigError("\(layerDescription): data_format '\(format)' is not supported; lrt is channels_last (NHWC)")
        }
    }

    mutating func activation(_ key: String, default fallback: Activation?) throws -> Activation {
        guard let value = value(key) else {
            guard let fallback else { throw ModelConfigError("\(layerDescription) needs \"\(key)\"") }
            return fallback
        }
        guard let text = value.stringValue, let activation = Activation(kerasName: text) else {
            throw ModelConfigError("\(layerDescription): activation \(value.serialized) is not supported; use one of \(Activation.allCases.map(\.kerasName).joined(separator: ", "))")
        }
        return activation
    }

    mutating func initializer(_ key: String, default fallback: Initializer) throws -> Initializer {
        guard let value = value(key) else { return fallback }
        do { return try Initializer(keras: value) } catch let error as ModelConfigError {
            throw ModelConfigError("\(layerDescription): \(key): \(error.description)")
        }
    }

    /// Options that must be absent or null, because this version cannot honour them.
    mutating func requireNull(_ keys: [String]) throws {
        for key in keys {
            if let value = value(key) {
                throw ModelConfigError("\(layerDescription): \"\(key)\" \(value.serialized) is not supported; remove it or set it to null")
            }
        }
    }

    /// Refuses a kernel shape too large to allocate, or more than the model may still allocate,
    /// before it is allocated; counts it against ``weightBudget``.
    mutating func checkWeightShape(_ shape: [Int], layer: String) throws -> [Int] {
        let checked = try ModelConfig.checkWeightShape(shape, layer: layer)
        let count = checked.reduce(1, *)
        guard count <= weightBudget.count else {
            let gigabytes = String(format: "%.1f", Double(count) * 8 / 1e9)
            throw ModelConfigError("\(layer) would need a kernel of \(shape.map(String.init).joined(separator: " × ")) weights (\(gigabytes) GB with its gradient); with the layers before it, that is more than \(weightBudget.reason) allows; make the model smaller or raise the limit")
        }
        weightBudget.count -= count
        return checked
    }

    /// Options without effect here.
    mutating func ignore(_ keys: [String]) { keys.forEach { reader.forget($0) } }

    /// Refuses keys nobody read, and the config settings lrt does not support.
    func rejectUnused() throws {
        if let trainable = config["trainable"], !trainable.isNull, trainable.boolValue == nil {
            throw ModelConfigError("\(layerDescription): \"trainable\" must be true or false, got \(trainable.serialized)")
        }
        if let dtype = config["dtype"], !dtype.isNull {
            let dtypeName = dtype.stringValue ?? dtype["config"]?["name"]?.stringValue
            guard dtypeName == "float32" else {
                throw ModelConfigError("\(layerDescription): dtype \(dtype.serialized) is not supported; lrt computes in float32")
            }
        }
        if let unknown = reader.remainingKeys.first {
            throw ModelConfigError("\(layerDescription): option \"\(unknown)\" is not supported")
        }
    }
}
