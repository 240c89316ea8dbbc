import LRTTensor

/// A layer that can leave out the gradient at its input, which costs as much as
/// its kernel gradient and is wasted when no trainable layer precedes it.
public protocol InputGradientSkipping: Layer {
    /// When false, `backward` sets the parameter gradients only and returns an empty tensor.
    var computesInputGradient: Bool { get set }
}

/// A stack of layers applied in order (Keras `Sequential`).
public final class Sequential: Model {
    public let name: String
    public var className: String { "Sequential" }
    public let inputShape: [Int]
    public let layers: [Layer]
    public let parameters: [Parameter]
    public let weights: [Parameter]
    public let outputsProbabilities: Bool
    /// Made once: the optimizer asks for them at every step.
    public let parameterGroups: [(layerName: String, parameters: [Parameter])]
    /// Backpropagation stops at this layer: every layer before it is weightless.
    private let firstTrainableIndex: Int

    /// - Precondition: layer names are unique and shapes chain (``ModelConfig`` checks both).
    public init(name: String, inputShape: [Int], layers: [Layer]) {
        self.name = name
        self.inputShape = inputShape
        self.layers = layers
        self.parameters = layers.flatMap(\.parameters)
        self.weights = layers.flatMap(\.weights)
        self.parameterGroups = Self.parameterGroups(of: layers)
        firstTrainableIndex = layers.firstIndex { !$0.parameters.isEmpty } ?? layers.count
        if firstTrainableIndex < layers.count, let first = layers[firstTrainableIndex] as? InputGradientSkipping {
            first.computesInputGradient = false  // nobody needs the gradient at the input
        }
        if let last = layers.last as? SoftmaxEndingLayer, last.endsInSoftmax {
            last.emitsLogits = true
            outputsProbabilities = true
        } else {
            outputsProbabilities = false
        }
    }

    public var outputShape: [Int] { layers.last?.outputShape ?? inputShape }
    public var weightScope: String? { name }
    public var layerInputs: [[String]]? { nil }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        var activations = input
        for layer in layers { activations = layer.forward(activations, context: &context) }
        return activations
    }

    public func backward(_ logitsGradient: Tensor) {
        var gradient = logitsGradient
        for layer in layers[firstTrainableIndex...].reversed() {
            gradient = layer.backward(gradient)
        }
    }

    public var config: JSONValue {
        let inputLayer: JSONValue = .object([
            ("class_name", .string("InputLayer")), ("config", inputLayerConfig(name: "input_layer", shape: inputShape)),
        ])
        let layerConfigs = layers.map { layer -> JSONValue in
            .object([("class_name", .string(layer.className)), ("config", layer.config)])
        }
        // The shape of Keras 3's legacy `model_config` (no "module" keys, as `model.save("x.h5")` writes).
        return .object([
            ("class_name", .string("Sequential")),
            ("config", .object([
                ("name", .string(name)), ("trainable", .bool(true)), ("dtype", .string("float32")),
                ("layers", .array([inputLayer] + layerConfigs)),
                ("build_input_shape", .array([.null] + inputShape.map { .number(Double($0)) })),
            ])),
        ])
    }
}
