import LRTTensor

/// Flattens each example to one axis (Keras `Flatten`): `[batch, h, w, c]` → `[batch, h·w·c]`.
public final class Flatten: Layer {
    public let name: String
    public let className = "Flatten"
    public let inputShape: [Int]

    public init(name: String, inputShape: [Int]) {
        self.name = name
        self.inputShape = inputShape
    }

    public var parameters: [Parameter] { [] }
    public var outputShape: [Int] { [inputShape.reduce(1, *)] }
    public var config: JSONValue {
        .object([("name", .string(name)), ("trainable", .bool(true)), ("dtype", .string("float32")),
                 ("data_format", .string("channels_last"))])
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        input.reshaped([input.count / outputShape[0], outputShape[0]])
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        outputGradient.reshaped([outputGradient.count / outputShape[0]] + inputShape)
    }
}

/// An activation as its own layer: Keras `Activation(name)` and `ReLU()`.
public final class ActivationLayer: SoftmaxEndingLayer {
    public let name: String
    public let className: String
    public let activation: Activation
    public let outputShape: [Int]
    public var emitsLogits = false
    private var output = Tensor(shape: [0])

    /// - Parameters:
    ///   - className: `Activation` or `ReLU` (the Keras class it was read from).
    public init(name: String, className: String, activation: Activation, shape: [Int]) {
        self.name = name
        self.className = className
        self.activation = activation
        self.outputShape = shape
    }

    public var parameters: [Parameter] { [] }
    public var endsInSoftmax: Bool { activation == .softmax }
    private var appliedActivation: Activation { emitsLogits && activation == .softmax ? .linear : activation }
    private var width: Int { outputShape.last ?? 1 }

    public var config: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("name", .string(name)), ("trainable", .bool(true)), ("dtype", .string("float32"))]
        if className == "ReLU" {
            members += [("max_value", .null), ("negative_slope", .number(0)), ("threshold", .number(0))]
        } else {
            members.append(("activation", .string(activation.rawValue)))
        }
        return .object(members)
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        output = input
        appliedActivation.apply(&output, width: width)
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        var gradient = outputGradient
        appliedActivation.backward(&gradient, output: output, width: width)
        return gradient
    }
}
