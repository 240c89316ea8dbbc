import LRTTensor

/// A stack of layers applied in order (Keras `Sequential`).
///
/// When the last layer ends in a softmax, training runs the stack up to the
/// logits and uses the fused ``SoftmaxCrossEntropy``; ``predict(_:)`` applies
/// the softmax. Otherwise the output is taken as logits.
public final class Sequential {
    /// The model name (`mlp`); Keras uses it in weight paths (`mlp/dense/kernel`).
    public let name: String
    /// One example's input shape, without the batch axis (`[8, 8, 1]`).
    public let inputShape: [Int]
    public let layers: [Layer]
    /// Every trainable weight, in layer order, each named by its path.
    public let parameters: [Parameter]
    /// Every stored weight (trainable or not), in layer order: what files hold.
    public let weights: [Parameter]
    /// Whether ``predict(_:)`` applies a softmax that ``forward(_:context:)`` leaves out.
    public let outputsProbabilities: Bool
    /// Backpropagation stops at this layer: every layer before it is weightless.
    private let firstTrainableIndex: Int

    /// - Precondition: layer names are unique and shapes chain (``ModelConfig`` checks both).
    public init(name: String, inputShape: [Int], layers: [Layer]) {
        self.name = name
        self.inputShape = inputShape
        self.layers = layers
        self.parameters = layers.flatMap(\.parameters)
        self.weights = layers.flatMap(\.weights)
        firstTrainableIndex = layers.firstIndex { !$0.parameters.isEmpty } ?? layers.count
        if firstTrainableIndex < layers.count, let dense = layers[firstTrainableIndex] as? Dense {
            dense.computesInputGradient = false  // nobody needs the gradient at the input
        }
        if let last = layers.last as? SoftmaxEndingLayer, last.endsInSoftmax {
            last.emitsLogits = true
            outputsProbabilities = true
        } else {
            outputsProbabilities = false
        }
    }

    /// One example's output shape (`[classes]`).
    public var outputShape: [Int] { layers.last?.outputShape ?? inputShape }

    /// The layers that have parameters, with them: the paper's layer-wise rate gives each one multiplier.
    public var parameterGroups: [(layerName: String, parameters: [Parameter])] {
        layers.filter { !$0.parameters.isEmpty }.map { ($0.name, $0.parameters) }
    }

    /// The total number of trainable values.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// The parameter at `path`, or nil.
    public func parameter(at path: String) -> Parameter? { parameters.first { $0.path == path } }

    /// - Parameters:
    ///   - input: `[batch, …inputShape]`.
    ///   - context: training or inference, and the run's generator (advanced by layers that draw from it).
    /// - Returns: `[batch, …outputShape]` logits.
    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        var activations = input
        for layer in layers { activations = layer.forward(activations, context: &context) }
        return activations
    }

    /// Inference-mode logits: `[batch, …inputShape]` → `[batch, …outputShape]`.
    public func infer(_ input: Tensor) -> Tensor {
        var context = ForwardContext.inference
        return forward(input, context: &context)
    }

    /// Backpropagates the loss gradient at the logits, setting every parameter's gradient.
    /// - Parameter logitsGradient: `[batch, …outputShape]`.
    public func backward(_ logitsGradient: Tensor) {
        var gradient = logitsGradient
        for layer in layers[firstTrainableIndex...].reversed() {
            gradient = layer.backward(gradient)
        }
    }

    /// Class probabilities (or raw outputs when the model does not end in a softmax).
    /// - Parameter input: `[batch, …inputShape]`.
    /// - Returns: `[batch, …outputShape]`.
    public func predict(_ input: Tensor) -> Tensor {
        var output = infer(input)
        if outputsProbabilities { Activation.softmax.apply(&output, width: outputShape.last ?? 1) }
        return output
    }

    /// The Keras `model_config` of this model.
    public var config: JSONValue {
        let inputLayer: JSONValue = .object([
            ("class_name", .string("InputLayer")),
            ("config", .object([
                ("batch_shape", .array([.null] + inputShape.map { .number(Double($0)) })),
                ("dtype", .string("float32")), ("sparse", .bool(false)), ("ragged", .bool(false)),
                ("name", .string("input_layer")),
            ])),
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
