import LRTTensor

/// One trainable weight of a model, named by its dotted path (`dense.kernel`).
///
/// The path is the parameter's name everywhere: in HDF5 files, optimizer state,
/// logs and error messages.
public final class Parameter {
    /// `<layer>.<weight>`, e.g. `dense.kernel`.
    public let path: String
    /// The Keras name of the layer that owns it, e.g. `dense`.
    public let layerName: String
    /// The weight's own name, e.g. `kernel`.
    public let weightName: String
    /// The current value.
    public var value: Tensor
    /// The gradient of the loss for the last mini-batch; same shape as ``value``.
    public var gradient: Tensor

    public init(layerName: String, weightName: String, value: Tensor) {
        self.path = "\(layerName).\(weightName)"
        self.layerName = layerName
        self.weightName = weightName
        self.value = value
        self.gradient = Tensor(shape: value.shape)
    }
}

/// A layer with a hand-written forward and backward pass.
///
/// `forward` caches what `backward` needs; `backward` sets the gradients of the
/// layer's parameters and returns the gradient with respect to its input.
public protocol Layer: AnyObject {
    /// The Keras layer name (`dense`, `dense_1`, …).
    var name: String { get }
    /// The Keras class name (`Dense`, `Flatten`, …).
    var className: String { get }
    /// The trainable weights in Keras's order (`kernel`, then `bias`).
    var parameters: [Parameter] { get }
    /// The output shape for one example (no batch axis).
    var outputShape: [Int] { get }
    /// The layer's Keras config (the `config` object of its `model_config` entry).
    var config: JSONValue { get }

    /// - Parameters:
    ///   - input: `[batch, …inputShape]`.
    ///   - training: whether this pass is followed by `backward` (layers may skip caching otherwise).
    /// - Returns: `[batch, …outputShape]`.
    func forward(_ input: Tensor, training: Bool) -> Tensor

    /// - Parameter outputGradient: `[batch, …outputShape]`, the loss gradient at this layer's output.
    /// - Returns: `[batch, …inputShape]`, the loss gradient at its input.
    func backward(_ outputGradient: Tensor) -> Tensor
}

/// A layer whose output ends in a softmax that training can leave out, so the
/// loss is computed from logits by the fused, stable softmax cross-entropy.
public protocol SoftmaxEndingLayer: Layer {
    /// True when the last step of `forward` is a softmax over the last axis.
    var endsInSoftmax: Bool { get }
    /// When true, `forward` stops before the softmax and returns logits.
    var emitsLogits: Bool { get set }
}
