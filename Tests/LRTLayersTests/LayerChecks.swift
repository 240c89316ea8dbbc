import XCTest
import LRTTensor
@testable import LRTLayers

/// Checks shared by the tests of the layers read through ``LayerRegistry`` (single- and multi-input).
enum LayerChecks {
    /// Builds `className` from `config` as ``ModelConfig`` does: through the registry, refusing unread options.
    static func make(_ className: String, config: JSONValue, inputShapes: [[Int]], seed: UInt64 = 1) throws -> Layer {
        guard let type = LayerRegistry.type(named: className) else { throw ModelConfigError("no registered layer reads \(className)") }
        var options = try LayerOptions(config: config, className: className,
                                   name: config["name"]?.stringValue ?? LayerNamer.snakeCase(className))
        var generator = SeededGenerator(seed: seed)
        let layer = try type.make(&options, inputShapes: inputShapes, generator: &generator)
        try options.rejectUnused()
        return layer
    }

    /// ``make(_:config:inputShapes:seed:)`` from config text.
    static func make(_ className: String, _ config: String, inputShapes: [[Int]]) throws -> Layer {
        try make(className, config: try JSONValue.parse(config), inputShapes: inputShapes)
    }

    /// Uniform values in ±1 of `shape`.
    static func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        var tensor = Tensor(shape: shape)
        for index in 0..<tensor.count { tensor.storage[index] = generator.nextFloat(in: -1, 1) }
        return tensor
    }

    /// Values `spacing` apart in random order: no two are within a finite-difference step of each
    /// other, so a maximum never changes hands during the check.
    static func distinct(_ shape: [Int], seed: UInt64, spacing: Float = 0.01) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        let count = shape.reduce(1, *)
        return Tensor(shape: shape, storage: generator.permutation(of: count).map { Float($0 - count / 2) * spacing })
    }

    /// A training forward of a single- or multi-input layer.
    static func forward(_ layer: Layer, _ inputs: [Tensor], training: Bool = true) -> Tensor {
        var context = training ? ForwardContext(training: true, generator: SeededGenerator(seed: 42)) : .inference
        if let merge = layer as? MergeLayer { return merge.forward(inputs, context: &context) }
        precondition(inputs.count == 1)
        return layer.forward(inputs[0], context: &context)
    }

    /// The backward of a single- or multi-input layer: one gradient per input.
    static func backward(_ layer: Layer, _ outputGradient: Tensor) -> [Tensor] {
        if let merge = layer as? MergeLayer { return merge.backward(outputGradient) }
        return [layer.backward(outputGradient)]
    }

    /// Every input gradient and every parameter gradient of `layer` against central finite
    /// differences of `L = Σ weights ⊙ layer(inputs)`, accumulated in Double.
    ///
    /// Per tensor, the numeric gradient must be non-zero (so a zero gradient cannot pass), the
    /// error's norm within `tolerance` of the numeric gradient's norm, and each element within
    /// `tolerance` of its numeric value plus a tenth of `tolerance` of the tensor's largest one.
    static func checkGradients(_ layer: Layer, inputs originalInputs: [Tensor], step: Float = 1e-3, tolerance: Double = 1e-2,
                               file: StaticString = #filePath, line: UInt = #line) {
        var inputs = originalInputs
        for parameter in layer.parameters { parameter.zeroGradient() }
        let output = forward(layer, inputs)
        let weights = random(output.shape, seed: 99)
        let inputGradients = backward(layer, weights)
        XCTAssertEqual(inputGradients.map(\.shape), inputs.map(\.shape), "\(layer.name): input gradient shapes", file: file, line: line)
        guard inputGradients.map(\.shape) == inputs.map(\.shape) else { return }
        let parameterGradients = layer.parameters.map(\.gradient)  // copied: the objective runs forward again

        func objective() -> Double {
            let result = forward(layer, inputs, training: false)
            return zip(result.storage, weights.storage).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        func numeric(_ count: Int, get: (Int) -> Float, set: (Int, Float) -> Void) -> [Double] {
            (0..<count).map { index in
                let saved = get(index)
                set(index, saved + step); let plus = objective()
                set(index, saved - step); let minus = objective()
                set(index, saved)
                return (plus - minus) / (2 * Double(step))
            }
        }
        for input in inputs.indices {
            let expected = numeric(inputs[input].count, get: { inputs[input].storage[$0] }, set: { inputs[input].storage[$0] = $1 })
            assertClose(inputGradients[input].storage, expected, "\(layer.className) '\(layer.name)' input \(input)",
                        tolerance: tolerance, file: file, line: line)
        }
        for (parameter, analytic) in zip(layer.parameters, parameterGradients) {
            XCTAssertEqual(analytic.shape, parameter.value.shape, parameter.path, file: file, line: line)
            let expected = numeric(parameter.value.count, get: { parameter.value.storage[$0] }, set: { parameter.value.storage[$0] = $1 })
            assertClose(analytic.storage, expected, parameter.path, tolerance: tolerance, file: file, line: line)
        }
    }

    /// `analytic` against `numeric`, as ``checkGradients(_:inputs:step:tolerance:file:line:)`` describes.
    static func assertClose(_ analytic: [Float], _ numeric: [Double], _ what: String, tolerance: Double,
                            file: StaticString = #filePath, line: UInt = #line) {
        let largest = numeric.map(abs).max() ?? 0
        XCTAssertGreaterThan(largest, 1e-3, "\(what): the numeric gradient is zero, so the check could not fail", file: file, line: line)
        var errorSquares = 0.0, normSquares = 0.0
        for (index, (value, expected)) in zip(analytic, numeric).enumerated() {
            errorSquares += (Double(value) - expected) * (Double(value) - expected)
            normSquares += expected * expected
            XCTAssertEqual(Double(value), expected, accuracy: tolerance * (abs(expected) + 0.1 * largest),
                           "\(what)[\(index)]", file: file, line: line)
        }
        XCTAssertLessThanOrEqual(errorSquares.squareRoot(), tolerance * normSquares.squareRoot(), "\(what): error norm", file: file, line: line)
    }

    /// Two training steps without zeroing: each parameter gradient doubles (backward adds), the
    /// input gradients stay the same (they are returned, not accumulated).
    /// The gradients start stale (a first step), so a first contribution added to them instead of written shows.
    static func checkAccumulates(_ layer: Layer, inputs: [Tensor], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(layer.parameters.isEmpty, file: file, line: line)
        _ = forward(layer, inputs)
        _ = backward(layer, random(layer.outputShape.isEmpty ? [1] : [inputs[0].shape[0]] + layer.outputShape, seed: 97))
        for parameter in layer.parameters { parameter.zeroGradient() }
        let weights = random(forward(layer, inputs).shape, seed: 98)
        let firstInputGradients = backward(layer, weights).map(\.storage)
        let first = layer.parameters.map(\.gradient.storage)
        _ = forward(layer, inputs)
        let secondInputGradients = backward(layer, weights).map(\.storage)
        for (parameter, once) in zip(layer.parameters, first) {
            XCTAssert(once.contains { $0 != 0 }, "\(parameter.path): a zero gradient shows nothing", file: file, line: line)
            for (index, (twice, once)) in zip(parameter.gradient.storage, once).enumerated() {
                XCTAssertEqual(twice, 2 * once, accuracy: 1e-5 * max(1, abs(once)), "\(parameter.path)[\(index)]", file: file, line: line)
            }
        }
        XCTAssertEqual(secondInputGradients, firstInputGradients, "input gradients are not accumulated", file: file, line: line)
    }

    /// `actual` equals `expected` within `relative · max(|expected|, 1)` per element.
    static func assertClose(_ actual: Tensor, _ expected: Tensor, relative: Float, _ what: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, "\(what): shape", file: file, line: line)
        guard actual.shape == expected.shape else { return }
        for index in 0..<expected.count {
            XCTAssertEqual(actual.storage[index], expected.storage[index], accuracy: relative * max(abs(expected.storage[index]), 1),
                           "\(what)[\(index)]", file: file, line: line)
        }
    }

    /// Building from `config` fails with a message holding every fragment.
    static func assertError(_ className: String, _ config: String, inputShapes: [[Int]], mentions fragments: [String],
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try make(className, config, inputShapes: inputShapes), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssert(error is ModelConfigError, "\(type(of: error))", file: file, line: line)
            for fragment in fragments { XCTAssert(message.contains(fragment), "'\(message)' lacks '\(fragment)'", file: file, line: line) }
        }
    }

    /// The layer's config builds the same layer again: same config, shapes and weight names.
    static func checkConfigRoundTrip(_ layer: Layer, inputShapes: [[Int]], file: StaticString = #filePath, line: UInt = #line) {
        do {
            let rebuilt = try make(layer.className, config: try JSONValue.parse(layer.config.serialized), inputShapes: inputShapes)
            XCTAssertEqual(rebuilt.config, layer.config, file: file, line: line)
            XCTAssertEqual(rebuilt.outputShape, layer.outputShape, file: file, line: line)
            XCTAssertEqual(rebuilt.weights.map(\.path), layer.weights.map(\.path), file: file, line: line)
            XCTAssertEqual(rebuilt.weights.map(\.value.shape), layer.weights.map(\.value.shape), file: file, line: line)
        } catch {
            XCTFail("\(layer.className) '\(layer.name)': \(error)", file: file, line: line)
        }
    }
}
