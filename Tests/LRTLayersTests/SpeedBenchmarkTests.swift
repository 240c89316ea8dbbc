import Foundation
import XCTest
import LRTTensor
@testable import LRTLayers

/// Images per second of the sample models, forward + backward + a plain SGD step,
/// and inference. Skipped unless `LRT_BENCHMARK` is set; build in release for real numbers:
/// `swift build -c release --build-tests && LRT_BENCHMARK=1 swift test -c release --skip-build --filter SpeedBenchmarkTests`.
final class SpeedBenchmarkTests: XCTestCase {
    private func model(_ file: String) throws -> any Model {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Samples/models/\(file)").standardized
        var generator = SeededGenerator(seed: 1)
        return try ModelConfig.build(text: try String(contentsOf: url, encoding: .utf8), generator: &generator)
    }

    private func measure(_ file: String, trainBatch: Int = 128, inferenceBatch: Int = 1000) throws {
        let model = try model(file)
        var generator = SeededGenerator(seed: 2)
        var images = Tensor(shape: [trainBatch] + model.inputShape)
        for index in 0..<images.count { images.storage[index] = generator.nextFloat(in: 0, 1) }
        let labels = (0..<trainBatch).map { Int32($0 % 10) }
        func step() {
            var context = ForwardContext(training: true, generator: generator)
            let logits = model.forward(images, context: &context)
            generator = context.generator
            let result = SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels[...])
            model.zeroGradients()
            model.backward(result.gradient)
            for parameter in model.parameters {
                parameter.gradient.withUnsafeBufferPointer { gradients in
                    parameter.value.withUnsafeMutableBufferPointer { values in
                        for index in values.indices { values[index] -= 0.01 * gradients[index] }
                    }
                }
            }
        }
        /// The process's CPU time (user + system), which other programs on the machine do not inflate.
        func processorSeconds() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
        /// Best of 5 of the mean wall time per call, and the mean CPU time per call of that run.
        func seconds(repeats: Int, _ body: () -> Void) -> (wall: Double, processor: Double) {
            var best = (wall: Double.infinity, processor: Double.infinity)
            for _ in 0..<5 {
                let start = DispatchTime.now().uptimeNanoseconds, startProcessor = processorSeconds()
                for _ in 0..<repeats { body() }
                let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(repeats)
                if wall < best.wall { best = (wall, (processorSeconds() - startProcessor) / Double(repeats)) }
            }
            return best
        }
        if ProcessInfo.processInfo.environment["LRT_BENCHMARK_INFERENCE_ONLY"] != nil {  // for profiling inference alone
            var test = Tensor(shape: [inferenceBatch] + model.inputShape)
            for index in 0..<test.count { test.storage[index] = generator.nextFloat(in: 0, 1) }
            let inference = seconds(repeats: 10) { _ = model.infer(test) }
            print(String(format: "%@: inference %.0f img/s", file, Double(inferenceBatch) / inference.wall))
            return
        }
        for _ in 0..<3 { step() }
        let train = seconds(repeats: 20, step)
        var test = Tensor(shape: [inferenceBatch] + model.inputShape)
        for index in 0..<test.count { test.storage[index] = generator.nextFloat(in: 0, 1) }
        _ = model.infer(test)
        let inference = seconds(repeats: 5) { _ = model.infer(test) }
        print(String(format: "%@: train %.0f img/s (%.2f ms/step of %d, %.2f ms CPU), inference %.0f img/s (batch %d, %.1f ms, %.1f ms CPU), BLAS %@",
                     file, Double(trainBatch) / train.wall, train.wall * 1000, trainBatch, train.processor * 1000,
                     Double(inferenceBatch) / inference.wall, inferenceBatch, inference.wall * 1000, inference.processor * 1000,
                     BLASRuntime.coreName))
        for layer in model.layers {
            var context = ForwardContext(training: true, generator: generator)
            var input = images
            for previous in model.layers { if previous === layer { break }; input = previous.forward(input, context: &context) }
            let forwardSeconds = seconds(repeats: 10) { var context = ForwardContext(training: true); _ = layer.forward(input, context: &context) }.wall
            let output = layer.forward(input, context: &context)
            let backwardSeconds = seconds(repeats: 10) {
                var context = ForwardContext(training: true)
                _ = layer.forward(input, context: &context)
                _ = layer.backward(output)
            }.wall - forwardSeconds
            print(String(format: "  %-24@ forward %.3f ms, backward %.3f ms", layer.name, forwardSeconds * 1000, backwardSeconds * 1000))
        }
    }

    func testSampleModelSpeeds() throws {
        let selection = ProcessInfo.processInfo.environment["LRT_BENCHMARK"]
        try XCTSkipUnless(selection != nil, "set LRT_BENCHMARK=1 (or a list of sample model files) to measure")
        let files = ["cnn-mnist.json", "mnist-mlp.json", "lenet-mnist.json", "cifar10-quick.json"]
        for file in files where selection == "1" || selection!.contains(file) { try measure(file) }
    }
}
