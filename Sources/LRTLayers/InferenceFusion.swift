import Foundation
import LRTTensor

/// A layer that, in inference, can compute the layer after it in the same pass, so that its own output is never
/// stored: ``Conv2D`` takes in a following `MaxPooling2D()`. ``Sequential`` and ``Functional`` offer each such
/// layer the next one when the layer's output goes to that one alone; training always runs the layers one by one.
public protocol InferenceFusing: Layer {
    /// Inference of this layer and then `next` on its output, in one pass.
    /// - Parameters:
    ///   - input: `[batch, …inputShape]`.
    ///   - next: the layer that alone takes this layer's output.
    ///   - context: an inference context (a training one gets nil).
    /// - Returns: `[batch, …next.outputShape]`, or nil when this layer cannot take `next` in: the caller then runs both.
    func forward(_ input: Tensor, fusing next: Layer, context: inout ForwardContext) -> Tensor?
}

/// The process-wide switch of ``InferenceFusing``.
public enum InferenceFusion {
    /// The environment variable that turns fusion off (`LRT_FUSION=off`), to compare it with the layers one by one.
    public static let environmentVariable = "LRT_FUSION"
    /// Whether layers fuse in inference: unless `LRT_FUSION` is `off`.
    public static let isEnabled = ProcessInfo.processInfo.environment[environmentVariable]?.lowercased() != "off"

    /// In inference, `layer` and `next` in one pass when `layer` can take `next` in; nil otherwise.
    static func forward(_ layer: Layer, then next: Layer, _ input: Tensor, context: inout ForwardContext) -> Tensor? {
        guard !context.training, let fusing = layer as? InferenceFusing else { return nil }
        return fusing.forward(input, fusing: next, context: &context)
    }
}
