import Foundation
import XCTest
import LRTTensor
@testable import LRTLayers

/// BatchNormalization given a ``BatchStatisticsReducer``, with the shards of a batch simulated on threads of
/// their own (each with its own layer, as each rank has): over the shards it computes what plain
/// BatchNormalization computes over the whole batch, forward and backward, and its backward agrees with
/// finite differences of the global objective.
final class SynchronizedBatchNormalizationTests: XCTestCase {
    /// An allreduce between `shards` threads: each ``sum(_:)`` waits until every shard has contributed
    /// (at most 30 s), then every shard gets the total.
    final class ThreadReducer: BatchStatisticsReducer, @unchecked Sendable {  // every field is guarded by `condition`
        let shards: Int
        private let condition = NSCondition()
        private var pending: [Double] = []
        private var arrived = 0
        private var round = 0
        private var total: [Double] = []
        private(set) var calls = 0

        init(shards: Int) { self.shards = shards }

        func sum(_ values: UnsafeMutableBufferPointer<Double>) {
            condition.lock()
            defer { condition.unlock() }
            calls += 1
            let myRound = round
            if arrived == 0 { pending = Array(values) } else {
                precondition(pending.count == values.count, "every shard sums buffers of the same length")
                for index in values.indices { pending[index] += values[index] }
            }
            arrived += 1
            if arrived == shards {
                (total, arrived, round) = (pending, 0, round + 1)
                condition.broadcast()
            } else {
                let deadline = Date().addingTimeInterval(30)
                while round == myRound { precondition(condition.wait(until: deadline), "a shard never called sum") }
            }
            for index in values.indices { values[index] = total[index] }
        }
    }

    /// One simulated rank: its layer, its rows of the batch and what it computed.
    final class Shard: @unchecked Sendable {  // each thread touches only its own shard
        let layer: BatchNormalization
        var input: Tensor
        var output = Tensor(shape: [0])
        var inputGradient = Tensor(shape: [0])
        let rows: Int
        init(layer: BatchNormalization, input: Tensor, rows: Int) { (self.layer, self.input, self.rows) = (layer, input, rows) }
    }

    static let features = 3
    static let exampleShape = [2, features]  // two positions per example, as after a convolution
    static let batch = 5

    /// A BatchNormalization with gamma and beta away from 1 and 0.
    func makeLayer() -> BatchNormalization {
        var generator = SeededGenerator(seed: 11)
        let shape = [Self.features]
        return BatchNormalization(
            name: "batch_normalization", inputShape: Self.exampleShape, momentum: 0.9,
            gamma: Initializer.randomUniform(minimum: 0.5, maximum: 1.5).make(shape: shape, generator: &generator),
            beta: Initializer.randomUniform(minimum: -0.5, maximum: 0.5).make(shape: shape, generator: &generator),
            movingMean: Tensor(shape: shape), movingVariance: Tensor(shape: shape, repeating: 1))
    }

    /// `[batch] + exampleShape` values, uniform in [low, high).
    func random(_ seed: UInt64, rows: Int = batch, low: Float = -1, high: Float = 1) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        var tensor = Tensor(shape: [rows] + Self.exampleShape)
        for index in 0..<tensor.count { tensor.storage[index] = generator.nextFloat(in: low, high) }
        return tensor
    }

    /// Rows `rows` of `tensor` (examples).
    func slice(_ tensor: Tensor, _ rows: Range<Int>) -> Tensor {
        let size = Self.exampleShape.reduce(1, *)
        var part = Tensor(shape: [rows.count] + Self.exampleShape)
        part.storage = Array(tensor.storage[rows.lowerBound * size..<rows.upperBound * size])
        return part
    }

    /// The shards of `input` (3 + 2 examples: uneven, so the weighting by shard size matters), each with a fresh layer.
    func makeShards(_ input: Tensor) -> [Shard] {
        [0..<3, 3..<Self.batch].map { Shard(layer: makeLayer(), input: slice(input, $0), rows: $0.count) }
    }

    /// Runs `body` for every shard on a thread of its own, all given `reducer`, and waits for them.
    func onThreads(_ shards: [Shard], reducer: ThreadReducer?, _ body: @escaping @Sendable (Shard, inout ForwardContext) -> Void) {
        let group = DispatchGroup()
        for shard in shards {
            group.enter()
            let thread = Thread {
                var context = ForwardContext(training: true)
                context.batchStatistics = reducer
                body(shard, &context)
                group.leave()
            }
            thread.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success, "the shards finished")
    }

    /// Forward of every shard, then backward with `weights`' rows over each shard's own size: the gradient of
    /// the mean loss over its own examples of `Σ weights ⊙ y`, as the training step backpropagates it.
    func runShards(_ shards: [Shard], weights: Tensor, reducer: ThreadReducer?, backward: Bool = true) {
        var start = 0
        var shardWeights: [Tensor] = []
        for shard in shards {
            var part = slice(weights, start..<start + shard.rows)
            for index in 0..<part.count { part.storage[index] /= Float(shard.rows) }
            shardWeights.append(part)
            start += shard.rows
        }
        let gradients = shardWeights
        onThreads(shards, reducer: reducer) { shard, context in
            shard.output = shard.layer.forward(shard.input, context: &context)
            guard backward else { return }
            shard.layer.gamma!.zeroGradient()
            shard.layer.beta!.zeroGradient()
            let index = shards.firstIndex { $0 === shard }!
            shard.inputGradient = shard.layer.backward(gradients[index])
        }
    }

    /// `Σ weights ⊙ y / batch` over the shards' outputs: the objective whose gradient the shards' backward computes.
    func objective(_ shards: [Shard], weights: Tensor) -> Double {
        let outputs = shards.flatMap(\.output.storage)
        return zip(outputs, weights.storage).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } / Double(Self.batch)
    }

    func assertClose(_ actual: [Float], _ expected: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
        for (index, (a, b)) in zip(actual, expected).enumerated() where !(abs(a - b) <= 1e-5) {
            XCTFail("\(what)[\(index)]: \(a), whole batch \(b)", file: file, line: line)
        }
    }

    /// Two shards (3 + 2 examples) synchronized equal one layer over all 5, within 1e-5: the outputs, the moving
    /// statistics, the input gradient (each shard's, in its own scale n/B, brought back to the batch's) and the
    /// gamma and beta gradients averaged weighted by shard size, as the data-parallel step averages them.
    func testTwoSynchronizedShardsEqualOneBatchForwardAndBackward() {
        let input = random(1, low: -2, high: 3), weights = random(2)
        let whole = makeLayer()
        var context = ForwardContext(training: true)
        let output = whole.forward(input, context: &context)
        var wholeWeights = weights
        for index in 0..<wholeWeights.count { wholeWeights.storage[index] /= Float(Self.batch) }
        let inputGradient = whole.backward(wholeWeights)

        let reducer = ThreadReducer(shards: 2)
        let shards = makeShards(input)
        runShards(shards, weights: weights, reducer: reducer)
        XCTAssertEqual(reducer.calls, 2 * 3, "two sums in forward, one in backward, per shard")
        assertClose(shards.flatMap(\.output.storage), output.storage, "output")
        let scaled = shards.flatMap { shard in shard.inputGradient.storage.map { $0 * Float(shard.rows) / Float(Self.batch) } }
        assertClose(scaled, inputGradient.storage, "input gradient")
        for path in [\BatchNormalization.gamma, \BatchNormalization.beta] {
            let averaged = (0..<Self.features).map { feature in
                shards.reduce(Float(0)) { $0 + $1.layer[keyPath: path]!.gradient.storage[feature] * Float($1.rows) / Float(Self.batch) }
            }
            assertClose(averaged, whole[keyPath: path]!.gradient.storage, whole[keyPath: path]!.path)
        }
        for shard in shards {
            assertClose(shard.layer.movingMean.value.storage, whole.movingMean.value.storage, "moving mean")
            assertClose(shard.layer.movingVariance.value.storage, whole.movingVariance.value.storage, "moving variance")
        }
        // The comparison can fail: without the reducer each shard normalizes by its own statistics.
        let alone = makeShards(input)
        runShards(alone, weights: weights, reducer: nil)
        let largest = zip(alone.flatMap(\.output.storage), output.storage).map { abs($0 - $1) }.max() ?? 0
        XCTAssertGreaterThan(largest, 1e-2, "per-shard statistics give other outputs")
    }

    /// The synchronized backward against central finite differences of the global objective `Σ w ⊙ y / B`, moving
    /// each input value of either shard, and gamma and beta of both shards' layers together (one parameter, as
    /// every rank holds the same).
    func testSynchronizedBackwardAgreesWithFiniteDifferences() {
        let input = random(3), weights = random(4)
        let shards = makeShards(input)
        let reducer = ThreadReducer(shards: 2)
        runShards(shards, weights: weights, reducer: reducer)
        let inputGradients = shards.map { shard in shard.inputGradient.storage.map { $0 * Float(shard.rows) / Float(Self.batch) } }
        let parameterGradients = [\BatchNormalization.gamma, \BatchNormalization.beta].map { path in
            (0..<Self.features).map { feature in
                shards.reduce(Float(0)) { $0 + $1.layer[keyPath: path]!.gradient.storage[feature] * Float($1.rows) / Float(Self.batch) }
            }
        }
        let step: Float = 1e-3
        func numeric(_ set: (Float) -> Void, around saved: Float) -> Double {
            set(saved + step)
            runShards(shards, weights: weights, reducer: reducer, backward: false)
            let plus = objective(shards, weights: weights)
            set(saved - step)
            runShards(shards, weights: weights, reducer: reducer, backward: false)
            let minus = objective(shards, weights: weights)
            set(saved)
            return (plus - minus) / (2 * Double(step))
        }
        for (number, shard) in shards.enumerated() {
            let expected = (0..<shard.input.count).map { index in
                numeric({ shard.input.storage[index] = $0 }, around: shard.input.storage[index])
            }
            for index in GradientTests.gradientMismatches(analytic: inputGradients[number], numeric: expected) {
                XCTFail("shard \(number) input[\(index)]: backward \(inputGradients[number][index]), finite difference \(expected[index])")
            }
        }
        for (number, path) in [\BatchNormalization.gamma, \BatchNormalization.beta].enumerated() {
            let expected = (0..<Self.features).map { feature in
                numeric({ value in for shard in shards { shard.layer[keyPath: path]!.value.storage[feature] = value } },
                        around: shards[0].layer[keyPath: path]!.value.storage[feature])
            }
            for index in GradientTests.gradientMismatches(analytic: parameterGradients[number], numeric: expected) {
                XCTFail("\(shards[0].layer[keyPath: path]!.path)[\(index)]: backward \(parameterGradients[number][index]), finite difference \(expected[index])")
            }
        }
    }
}
