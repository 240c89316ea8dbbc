import Foundation
import LRTTensor

/// An elementwise (or, for softmax, row-wise) activation, by its Keras name.
public enum Activation: String, Sendable, CaseIterable {
    case linear
    case relu
    case softmax

    /// Parses a Keras activation name (`None`/null means linear).
    public init?(kerasName: String?) {
        guard let kerasName else { self = .linear; return }
        self.init(rawValue: kerasName)
    }

    /// Applies the activation in place.
    /// - Parameters:
    ///   - values: `[rows, width]` flattened.
    ///   - width: the length of the last axis (the softmax axis).
    public func apply(_ values: inout Tensor, width: Int) {
        switch self {
        case .linear: return
        case .relu:
            values.withUnsafeMutableBufferPointer { buffer in
                for index in buffer.indices where !(buffer[index] > 0) { buffer[index] = 0 }
            }
        case .softmax:
            values.withUnsafeMutableBufferPointer { buffer in
                Activation.softmaxRows(buffer, width: width)
            }
        }
    }

    /// Turns `gradient` (at the activation's output) into the gradient at its input, in place.
    /// - Parameters:
    ///   - gradient: `[rows, width]`, the loss gradient at the output.
    ///   - output: `[rows, width]`, what ``apply(_:width:)`` produced.
    public func backward(_ gradient: inout Tensor, output: Tensor, width: Int) {
        switch self {
        case .linear: return
        case .relu:
            output.withUnsafeBufferPointer { outputs in
                gradient.withUnsafeMutableBufferPointer { gradients in
                    for index in gradients.indices where !(outputs[index] > 0) { gradients[index] = 0 }
                }
            }
        case .softmax:
            // dx_i = y_i · (dy_i − Σ_j dy_j y_j), row by row.
            output.withUnsafeBufferPointer { outputs in
                gradient.withUnsafeMutableBufferPointer { gradients in
                    for start in stride(from: 0, to: gradients.count, by: width) {
                        var dot: Float = 0
                        for index in start..<start + width { dot += gradients[index] * outputs[index] }
                        for index in start..<start + width {
                            gradients[index] = outputs[index] * (gradients[index] - dot)
                        }
                    }
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
