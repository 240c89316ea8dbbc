import LRTTensor

/// Gives each example a new shape with the same values in the same order (Keras `Reshape`):
/// `[batch, …inputShape]` → `[batch, …targetShape]`, without copying.
public final class Reshape: Layer, KerasLayer {
    static let kerasClassNames = ["Reshape"]

    public let name: String
    public let className = "Reshape"
    /// One example's input shape.
    public let inputShape: [Int]
    /// The `target_shape` as configured, perhaps with one -1.
    public let targetShape: [Int]
    /// `targetShape` with its -1 resolved.
    public let outputShape: [Int]

    /// - Parameters:
    ///   - name: the Keras layer name.
    ///   - inputShape: one example's shape.
    ///   - targetShape: the new shape; one entry may be -1, meaning whatever makes the sizes agree.
    /// - Precondition: the target holds as many values as the input (``make(_:inputShapes:generator:)`` checks it).
    public init(name: String, inputShape: [Int], targetShape: [Int]) {
        guard let outputShape = Reshape.resolve(targetShape, count: inputShape.reduce(1, *)) else {
            preconditionFailure("Reshape '\(name)': target_shape \(targetShape) does not fit input \(inputShape)")
        }
        self.name = name
        self.inputShape = inputShape
        self.targetShape = targetShape
        self.outputShape = outputShape
    }

    /// `targetShape` with its -1 (at most one) replaced so that it holds `count` values, or nil when it cannot.
    static func resolve(_ targetShape: [Int], count: Int) -> [Int]? {
        let unknown = targetShape.indices.filter { targetShape[$0] == -1 }
        guard unknown.count <= 1, targetShape.allSatisfy({ $0 > 0 || $0 == -1 }) else { return nil }
        let known = targetShape.filter { $0 != -1 }.reduce(1, *)
        guard let index = unknown.first else { return known == count ? targetShape : nil }
        guard count % known == 0, count / known > 0 else { return nil }
        var shape = targetShape
        shape[index] = count / known
        return shape
    }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let inputShape = try options.singleInput(inputShapes)
        let layer = options.layerDescription
        let target = try options.integers("target_shape", range: 1...ModelConfig.maximumExampleSize)
        guard target.filter({ $0 == -1 }).count <= 1 else {
            throw ModelConfigError("\(layer): target_shape \(target) may have only one -1")
        }
        let count = inputShape.reduce(1, *)
        guard resolve(target, count: count) != nil else {
            throw ModelConfigError("\(layer): target_shape \(target) cannot hold the \(count) values of its input \(inputShape) per example; make the sizes multiply to \(count)")
        }
        return Reshape(name: options.name, inputShape: inputShape, targetShape: target)
    }

    public var parameters: [Parameter] { [] }
    public var config: JSONValue { .object(baseLayerConfig(name: name) + [("target_shape", jsonIntegers(targetShape))]) }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let size = outputShape.reduce(1, *)
        precondition(input.count % size == 0, "Reshape '\(name)' expects \(inputShape) inputs per example")
        return input.reshaped([input.count / size] + outputShape)
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        outputGradient.reshaped([outputGradient.count / outputShape.reduce(1, *)] + inputShape)
    }
}
