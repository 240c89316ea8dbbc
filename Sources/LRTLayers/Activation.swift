import Foundation
import LRTTensor

/// An elementwise (or, for softmax, row-wise) activation, by its Keras name.
public enum Activation: Equatable, Sendable {
    case linear
    case relu
    /// `1 / (1 + e^−x)`.
    case sigmoid
    case tanh
    /// `x` for positive `x`, else `e^x − 1` (Clevert et al. 2015; Keras's default alpha 1).
    case elu
    /// `x` for positive `x`, else `negativeSlope · x` (Maas et al. 2013). The Keras
    /// activation `"leaky_relu"` has slope 0.2; the `LeakyReLU` layer defaults to 0.3.
    case leakyRelu(negativeSlope: Float)
    case softmax

    /// One of each, with Keras's default parameters.
    public static let allCases: [Activation] = [
        .linear, .relu, .sigmoid, .tanh, .elu, .leakyRelu(negativeSlope: 0.2), .softmax,
    ]

    /// Parses a Keras activation name (`None`/null means linear).
    public init?(kerasName: String?) {
        guard let kerasName else { self = .linear; return }
        switch kerasName {
        case "linear": self = .linear
        case "relu": self = .relu
        case "sigmoid": self = .sigmoid
        case "tanh": self = .tanh
        case "elu": self = .elu
        case "leaky_relu": self = .leakyRelu(negativeSlope: 0.2)
        case "softmax": self = .softmax
        default: return nil
        }
    }

    /// The Keras name (a leaky ReLU's slope is not part of it).
    public var kerasName: String {
        switch self {
        case .linear: "linear"
        case .relu: "relu"
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        case .elu: "elu"
        case .leakyRelu: "leaky_relu"
        case .softmax: "softmax"
        }
    }

    /// Applies the activation in place.
    /// - Parameters:
    ///   - values: `[rows, width]` flattened.
    ///   - width: the length of the last axis (the softmax axis).
    public func apply(_ values: inout Tensor, width: Int) {
        values.withUnsafeMutableBufferPointer { apply($0, width: width) }
    }

    /// Applies the activation in place to `[rows, width]` values.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        switch self {
        case .linear: return
        case .relu:
            for index in values.indices {
                let value = values[index]
                values[index] = value > 0 ? value : 0
            }
        case .sigmoid:
            for index in values.indices { values[index] = 1 / (1 + expf(-values[index])) }
        case .tanh:
            for index in values.indices { values[index] = tanhf(values[index]) }
        case .elu:
            for index in values.indices where !(values[index] > 0) { values[index] = expm1f(values[index]) }
        case .leakyRelu(let slope):
            for index in values.indices {
                let value = values[index]
                values[index] = value > 0 ? value : value * slope
            }
        case .softmax:
            Activation.softmaxRows(values, width: width)
        }
    }

    /// Turns `gradient` (at the activation's output) into the gradient at its input, in place.
    /// - Parameters:
    ///   - gradient: `[rows, width]`, the loss gradient at the output.
    ///   - output: `[rows, width]`, what ``apply(_:width:)`` produced.
    public func backward(_ gradient: inout Tensor, output: Tensor, width: Int) {
        output.withUnsafeBufferPointer { outputs in
            gradient.withUnsafeMutableBufferPointer { gradients in
                backward(UnsafeBufferPointer(gradients), output: outputs, into: gradients, width: width)
            }
        }
    }

    /// The gradient at the activation's input from the gradient at its output,
    /// written from the output alone (every activation here can be).
    /// - Parameters:
    ///   - outputGradient: `[rows, width]`, the loss gradient at the output.
    ///   - output: `[rows, width]`, what ``apply(_:width:)`` produced.
    ///   - inputGradient: `[rows, width]`; may be `outputGradient` itself.
    public func backward(_ outputGradient: UnsafeBufferPointer<Float>, output: UnsafeBufferPointer<Float>,
                         into inputGradient: UnsafeMutableBufferPointer<Float>, width: Int) {
        precondition(outputGradient.count == output.count && inputGradient.count == output.count)
        switch self {
        case .linear:
            if UnsafePointer(inputGradient.baseAddress) != outputGradient.baseAddress {
                _ = inputGradient.update(fromContentsOf: outputGradient)
            }
        // Loads first, then a select: a conditional load would keep the loop from vectorizing.
        case .relu:
            for index in output.indices {
                let gradient = outputGradient[index], value = output[index]
                inputGradient[index] = value > 0 ? gradient : 0
            }
        case .sigmoid:
            for index in output.indices {
                inputGradient[index] = outputGradient[index] * output[index] * (1 - output[index])
            }
        case .tanh:
            for index in output.indices {
                inputGradient[index] = outputGradient[index] * (1 - output[index] * output[index])
            }
        case .elu:
            // For x ≤ 0, d/dx (e^x − 1) = e^x = output + 1.
            for index in output.indices {
                let gradient = outputGradient[index], value = output[index]
                inputGradient[index] = value > 0 ? gradient : gradient * (value + 1)
            }
        case .leakyRelu(let slope):
            for index in output.indices {
                let gradient = outputGradient[index], value = output[index]
                inputGradient[index] = value > 0 ? gradient : gradient * slope
            }
        case .softmax:
            // dx_i = y_i · (dy_i − Σ_j dy_j y_j), row by row.
            for start in stride(from: 0, to: output.count, by: width) {
                var dot: Float = 0
                for index in start..<start + width { dot += outputGradient[index] * output[index] }
                for index in start..<start + width {
                    inputGradient[index] = output[index] * (outputGradient[index] - dot)
                }
            }
        }
    }

    /// A numerically stable softmax of each row of `buffer`, in place.
    static func softmaxRows(_ buffer: UnsafeMutableBufferPointer<Float>, width: Int) {
        for start in stride(from: 0, to: buffer.count, by: width) {
            var maximum = -Float.infinity
            for index in start..<start + width { maximum = max(maximum, buffer[index]) }
            var total: Float = 0
            for index in start..<start + width {
                let exponential = expf(buffer[index] - maximum)
                buffer[index] = exponential
                total += exponential
            }
            let scale = 1 / total
            for index in start..<start + width { buffer[index] *= scale }
        }
    }
}
