/// A layer computing `activation(transform(input, kernel) + bias)`, as ``Dense`` and ``Conv2D`` do:
/// their parameters, the activation left out while logits are emitted, and the Keras config members
/// they share (read by ``LayerOptions/kernelLayerOptions()``, written by ``kernelLayerConfig(_:)``).
public protocol KernelLayer: SoftmaxEndingLayer {
    var activation: Activation { get }
    /// In Keras's layout for the layer.
    var kernel: Parameter { get }
    /// nil when `use_bias` is false.
    var bias: Parameter? { get }
    /// Recorded in the config so that Keras re-creates the layer as it was described.
    var kernelInitializer: Initializer { get }
    var biasInitializer: Initializer { get }
}

extension KernelLayer {
    public var parameters: [Parameter] { [kernel] + (bias.map { [$0] } ?? []) }
    public var endsInSoftmax: Bool { activation == .softmax }

    /// The activation `forward` applies: none in place of a softmax while ``emitsLogits``.
    var appliedActivation: Activation { emitsLogits && activation == .softmax ? .linear : activation }

    /// The layer's Keras config: `name`, `trainable`, `dtype`, then `members` (the layer's own), then the
    /// activation, bias and initializers, with regularizers and constraints null.
    func kernelLayerConfig(_ members: [(key: String, value: JSONValue)]) -> JSONValue {
        .object(baseLayerConfig(name: name) + members + [
            ("activation", .string(activation.kerasName)),
            ("use_bias", .bool(bias != nil)),
            ("kernel_initializer", kernelInitializer.config),
            ("bias_initializer", biasInitializer.config),
            ("kernel_regularizer", .null), ("bias_regularizer", .null), ("activity_regularizer", .null),
            ("kernel_constraint", .null), ("bias_constraint", .null),
        ])
    }
}

extension LayerOptions {
    /// The options `Dense` and `Conv2D` share: activation, bias, initializers; regularizers,
    /// constraints and quantization must be absent (null).
    mutating func kernelLayerOptions() throws
        -> (activation: Activation, useBias: Bool, kernelInitializer: Initializer, biasInitializer: Initializer) {
        let activation = try self.activation("activation", default: .linear)
        let useBias = try bool("use_bias", default: true)
        let kernelInitializer = try initializer("kernel_initializer", default: .glorotUniform)
        let biasInitializer = try initializer("bias_initializer", default: .zeros)
        try requireNull(["kernel_regularizer", "bias_regularizer", "activity_regularizer",
                         "kernel_constraint", "bias_constraint", "quantization_config", "lora_rank"])
        ignore(["lora_alpha"])
        return (activation, useBias, kernelInitializer, biasInitializer)
    }
}
