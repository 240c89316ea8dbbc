import XCTest
import LRTTensor
@testable import LRTLayers

/// The new layers inside a ``Functional`` model read from Keras's own JSON (``LayerReference/models``):
/// fan-out, a residual `Add`, a three-way `Concatenate` and a `Subtract` of two branches.
final class FunctionalLayerTests: XCTestCase {
    private var reference: KerasModelCase { LayerReference.models[0] }

    private func model(seed: UInt64 = 1) throws -> any Model {
        var generator = SeededGenerator(seed: seed)
        return try ModelConfig.build(text: reference.json, generator: &generator)
    }

    /// Keras's weights by path give Keras's prediction, 1e-5 relative.
    func testBranchingModelPredictsWhatKerasPredicts() throws {
        let model = try model()
        XCTAssert(model is Functional)
        XCTAssertEqual(model.weights.map(\.path), reference.weights.map(\.path), "Keras's weight order")
        let byPath = Dictionary(uniqueKeysWithValues: model.weights.map { ($0.path, $0) })
        for weight in reference.weights {
            let parameter = try XCTUnwrap(byPath[weight.path], weight.path)
            XCTAssertEqual(parameter.value.shape, weight.shape, weight.path)
            parameter.value = Tensor(shape: weight.shape, storage: weight.values)
        }
        LayerChecks.assertClose(model.infer(reference.input), Tensor(shape: reference.outputShape, storage: reference.output),
                                relative: 1e-5, "branches")
        var rebuiltGenerator = SeededGenerator(seed: 2)
        let rebuilt = try ModelConfig.build(json: model.config, generator: &rebuiltGenerator)
        XCTAssertEqual(rebuilt.config.serialized, model.config.serialized)
    }

    /// Every parameter's gradient through the graph against central differences of
    /// `L = Σ weights ⊙ model(input)`: the stem's gradient sums the residual path, the branch
    /// through the depthwise convolution, and the three concatenated branches.
    func testGradientsThroughFanOutResidualAndConcatenationMatchFiniteDifferences() throws {
        let model = try model()
        let input = reference.input
        var context = ForwardContext(training: true)
        let output = model.forward(input, context: &context)
        let weights = LayerChecks.random(output.shape, seed: 4)
        model.zeroGradients()
        model.backward(weights)
        let analytic = model.parameters.map(\.gradient)
        func objective() -> Double {
            zip(model.infer(input).storage, weights.storage).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        let step: Float = 1e-3
        for (parameter, gradient) in zip(model.parameters, analytic) {
            let numeric = (0..<parameter.value.count).map { index -> Double in
                let saved = parameter.value.storage[index]
                parameter.value.storage[index] = saved + step; let plus = objective()
                parameter.value.storage[index] = saved - step; let minus = objective()
                parameter.value.storage[index] = saved
                return (plus - minus) / (2 * Double(step))
            }
            LayerChecks.assertClose(gradient.storage, numeric, parameter.path, tolerance: 1e-2)
        }
    }

    /// Two backward passes without zeroing give twice one; `zeroGradients` starts over.
    func testGradientsAccumulateThroughTheGraph() throws {
        let model = try model()
        var context = ForwardContext(training: true)
        let weights = LayerChecks.random(model.forward(reference.input, context: &context).shape, seed: 5)
        model.zeroGradients()
        model.backward(weights)
        let once = model.parameters.map(\.gradient.storage)
        _ = model.forward(reference.input, context: &context)
        model.backward(weights)
        for (parameter, single) in zip(model.parameters, once) {
            XCTAssert(single.contains { $0 != 0 }, parameter.path)
            for (index, (twice, single)) in zip(parameter.gradient.storage, single).enumerated() {
                XCTAssertEqual(twice, 2 * single, accuracy: 1e-5 * max(1, abs(single)), "\(parameter.path)[\(index)]")
            }
        }
        model.zeroGradients()
        _ = model.forward(reference.input, context: &context)
        model.backward(weights)
        for (parameter, single) in zip(model.parameters, once) {
            for (index, (again, single)) in zip(parameter.gradient.storage, single).enumerated() {
                XCTAssertEqual(again, single, accuracy: 1e-6 * max(1, abs(single)), "\(parameter.path)[\(index)]")
            }
        }
    }
}
