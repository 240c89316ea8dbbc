/// The inference kernels that ``CPUFeatures`` picks between: LRTTensor's baseline build and LRTTensorAVX2's copy of
/// the same source. A layer chooses one build when it is made and calls it through these protocols, so the choice is
/// written once.

/// ``PooledConvolution``'s fused convolution, bias, ReLU and 2×2 max pooling, in either build.
public protocol PooledConvolutionKernel: Sendable {
    /// See ``PooledConvolution/convolve(_:images:packed:rectifies:into:scratch:)``.
    func convolve(_ input: UnsafePointer<Float>, images: Int, packed: UnsafePointer<Float>, rectifies: Bool,
                  into output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>)
}

/// A 2×2 max pooling of stride 2 (Keras's `MaxPooling2D()` after the layer) taken into Winograd's output transform,
/// with the bias and activation before it: each 4×4 output tile gets the bias and the ReLU and is stored as its 2×2
/// maxima, saving the passes over the full output. The values are those of the separate passes: the same sums, then
/// the same maximum of the same four values. An odd last output row or column is dropped (`valid`).
public struct WinogradPooling {
    /// `[filters]`, added to every output; nil for none.
    public var bias: UnsafePointer<Float>?
    /// Whether negative outputs become 0 (ReLU) before the maximum; otherwise the activation is linear.
    public var rectifies: Bool

    /// - Parameters: see the properties.
    public init(bias: UnsafePointer<Float>?, rectifies: Bool) {
        self.bias = bias
        self.rectifies = rectifies
    }
}

/// ``WinogradConvolution``'s convolution, in either build.
public protocol WinogradKernel: Sendable {
    /// See ``WinogradConvolution/convolve(_:images:transformedKernel:into:scratch:pooling:)``.
    func convolve(_ input: UnsafePointer<Float>, images: Int, transformedKernel: UnsafePointer<Float>,
                  into output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, pooling: WinogradPooling?)
}
