import LRTTensor

/// `values[row] = activation(values[row] + bias)` for `[rows, width]` values, in one
/// pass for ReLU and linear (the common cases), two for the rest.
/// - Parameters:
///   - values: `[rows, width]`, in place.
///   - bias: `[width]`, or nil for none.
func addBiasAndActivate(_ values: UnsafeMutablePointer<Float>, rows: Int, width: Int,
                        bias: UnsafePointer<Float>?, activation: Activation) {
    switch (bias, activation) {
    case (let bias?, .relu):
        for row in 0..<rows {
            let rowValues = values + row * width
            for index in 0..<width {
                let value = rowValues[index] + bias[index]
                rowValues[index] = value > 0 ? value : 0
            }
        }
    case (let bias?, _):
        for row in 0..<rows {
            let rowValues = values + row * width
            for index in 0..<width { rowValues[index] += bias[index] }
        }
        activation.apply(UnsafeMutableBufferPointer(start: values, count: rows * width), width: width)
    case (nil, _):
        activation.apply(UnsafeMutableBufferPointer(start: values, count: rows * width), width: width)
    }
}

/// Calls `body` with a pointer to the elements of `tensor`, or with nil when there is no tensor.
func withOptionalPointer<Result>(to tensor: Tensor?, _ body: (UnsafePointer<Float>?) -> Result) -> Result {
    guard let tensor else { return body(nil) }
    return tensor.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// A Float option as a JSON number, by its shortest decimal form: 0.99, not 0.9900000095367432.
func jsonNumber(_ value: Float) -> JSONValue {
    .number(Double("\(value)") ?? Double(value))
}

/// `target[i] += source[i]` for `i < count`.
func addElements(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int) {
    for index in 0..<count { target[index] += source[index] }
}
