import Foundation
import LRTTensor

/// Weight initializers, by Keras class name, drawing from the run's seeded generator.
public enum Initializer: Equatable, Sendable {
    /// Uniform in ±√(6 / (fanIn + fanOut)) (Glorot & Bengio 2010), Keras's default kernel initializer.
    case glorotUniform
    /// Uniform in ±√(6 / fanIn) (He et al. 2015).
    case heUniform
    /// Normal with standard deviation √(2 / fanIn), truncated at two standard deviations of the
    /// untruncated normal and rescaled so that √(2 / fanIn) is the standard deviation after truncation,
    /// as Keras's `HeNormal` (He et al. 2015, "Delving Deep into Rectifiers"; the CIFAR ResNets' initializer).
    case heNormal
    /// Uniform in ±√(3 / fanIn) (LeCun 1998).
    case lecunUniform
    /// Uniform in [minimum, maximum).
    case randomUniform(minimum: Float, maximum: Float)
    case zeros
    case ones
    case constant(Float)

    /// Reads a Keras initializer: a name (`"glorot_uniform"`) or `{"class_name": …, "config": {…}}`.
    public init(keras value: JSONValue) throws {
        let className: String
        let config: JSONValue
        if let name = value.stringValue {
            className = name
            config = .object([])
        } else if let name = value["class_name"]?.stringValue {
            className = name
            config = value["config"] ?? .object([])
        } else {
            throw ModelConfigError("an initializer must be a name or {\"class_name\": …}, got \(value.serialized)")
        }
        func number(_ key: String, _ fallback: Float) -> Float { config[key]?.numberValue.map(Float.init) ?? fallback }
        switch className {
        case "GlorotUniform", "glorot_uniform": self = .glorotUniform
        case "HeUniform", "he_uniform": self = .heUniform
        case "HeNormal", "he_normal": self = .heNormal
        case "LecunUniform", "lecun_uniform": self = .lecunUniform
        case "RandomUniform", "random_uniform", "uniform":
            self = .randomUniform(minimum: number("minval", -0.05), maximum: number("maxval", 0.05))
        case "Zeros", "zeros": self = .zeros
        case "Ones", "ones": self = .ones
        case "Constant", "constant": self = .constant(number("value", 0))
        default:
            throw ModelConfigError("unsupported initializer '\(className)'; use GlorotUniform, HeUniform, HeNormal, LecunUniform, RandomUniform, Zeros, Ones or Constant")
        }
    }

    /// The Keras 3 serialized form.
    public var config: JSONValue {
        let (className, config): (String, [(key: String, value: JSONValue)]) = switch self {
        case .glorotUniform: ("GlorotUniform", [("seed", .null)])
        case .heUniform: ("HeUniform", [("seed", .null)])
        case .heNormal: ("HeNormal", [("seed", .null)])
        case .lecunUniform: ("LecunUniform", [("seed", .null)])
        case let .randomUniform(minimum, maximum):
            ("RandomUniform", [("minval", .number(Double(minimum))), ("maxval", .number(Double(maximum))), ("seed", .null)])
        case .zeros: ("Zeros", [])
        case .ones: ("Ones", [])
        case .constant(let value): ("Constant", [("value", .number(Double(value)))])
        }
        return .object([("module", .string("keras.initializers")), ("class_name", .string(className)),
                        ("config", .object(config)), ("registered_name", .null)])
    }

    /// A new tensor of `shape`; fans as Keras's `compute_fans`: for a kernel
    /// `[…receptive field, inputs, outputs]`, fan in = inputs · receptive field
    /// and fan out = outputs · receptive field (a vector's fans are its length).
    public func make(shape: [Int], generator: inout SeededGenerator) -> Tensor {
        let receptiveField = Float(shape.dropLast(2).reduce(1, *))
        let fanIn = Float(shape.count >= 2 ? shape[shape.count - 2] : shape.first ?? 1) * receptiveField
        let fanOut = Float(shape.last ?? 1) * receptiveField
        func uniform(_ limit: Float) -> Tensor { uniformBetween(-limit, limit) }
        func uniformBetween(_ low: Float, _ high: Float) -> Tensor {
            var tensor = Tensor(shape: shape)
            for index in 0..<tensor.count { tensor.storage[index] = generator.nextFloat(in: low, high) }
            return tensor
        }
        switch self {
        case .glorotUniform: return uniform((6 / (fanIn + fanOut)).squareRoot())
        case .heUniform: return uniform((6 / fanIn).squareRoot())
        case .heNormal: return truncatedNormal(standardDeviation: (2 / fanIn).squareRoot(), shape: shape, generator: &generator)
        case .lecunUniform: return uniform((3 / fanIn).squareRoot())
        case let .randomUniform(minimum, maximum): return uniformBetween(minimum, maximum)
        case .zeros: return Tensor(shape: shape)
        case .ones: return Tensor(shape: shape, repeating: 1)
        case .constant(let value): return Tensor(shape: shape, repeating: value)
        }
    }

    /// The standard deviation of a standard normal truncated to [-2, 2] (Keras's constant).
    static let truncationStandardDeviation = 0.87962566103423978

    /// Draws `shape` values from a normal of mean 0 truncated at ±2 of its own standard deviations,
    /// scaled so the truncated values have `standardDeviation` (Keras's `VarianceScaling` with
    /// `distribution="truncated_normal"`); Box–Muller on 53-bit uniforms, redrawing outside ±2.
    private func truncatedNormal(standardDeviation: Float, shape: [Int], generator: inout SeededGenerator) -> Tensor {
        let scale = Double(standardDeviation) / Initializer.truncationStandardDeviation
        var tensor = Tensor(shape: shape)
        for index in 0..<tensor.count {
            var normal: Double
            repeat {
                let radius = Double((generator.next() >> 11) + 1) * 0x1p-53  // (0, 1]
                let angle = Double(generator.next() >> 11) * 0x1p-53  // [0, 1)
                normal = (-2 * Foundation.log(radius)).squareRoot() * Foundation.cos(2 * Double.pi * angle)
            } while abs(normal) > 2
            tensor.storage[index] = Float(normal * scale)
        }
        return tensor
    }
}
